package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// SourceRef names a ref in a repository, the input of ref resolution.
type SourceRef struct {
	Repository string
	Ref        string
}

// PlanInput is everything [Plan] looks at. Gathering it (resolving refs,
// looking up builds, reading live state) is I/O and happens before.
type PlanInput struct {
	// DeploymentID is stamped on every step.
	DeploymentID string
	Config       slipway.ToolConfig
	// Live is what runs now, by component name.
	Live map[string]slipway.LiveRun
	// Commits maps every source ref of Config to its resolved commit.
	Commits map[SourceRef]string
	// Built holds the build keys for which a finished artifact exists.
	Built map[string]bool
	// Corrupt holds the build keys whose cached artifact failed its digest
	// check: they are built again.
	Corrupt map[string]bool
	// BuilderVersion is part of every build key.
	BuilderVersion string
	ForceBuild     bool
	ForceRun       bool
	// Pinned holds, by component name, the build key a rollback must run
	// (its commit is in Commits): the key is not computed, and the build
	// is reused, never made; one that is gone fails the plan.
	Pinned map[string]string
	// PinnedBy says why builds are pinned, for the reasons ("rollback"
	// when empty).
	PinnedBy string
	// Unhealthy says, by component name, why a live continuous or
	// scheduled component does not run as recorded (crash looping, not
	// running, not scheduled): such a component is applied again even
	// when nothing else changed.
	Unhealthy map[string]string
	// Env holds the fingerprints of the tool's envvars now, by name
	// ([slipway.ToolEnv]); each live component's EnvFingerprints are what
	// it got.
	Env map[string]string
}

// Plan compares the desired config with what is live and returns the steps
// that converge one to the other, each with the reason it was chosen.
//
// The steps come in a stable order: builds in config order, then runs in
// dependency order (ties in config order), then prunes by name. Steps with
// nothing to do are included, already in state [slipway.StepUnchanged], so
// that a plan explains every component. Needs reference only steps of the
// same plan.
//
// Plan is pure: the same input always gives the same steps. It returns an
// EInvalid error naming the cycle when wait_for has one, and an error when
// a source ref has no resolved commit in the input.
func Plan(in PlanInput) ([]slipway.Step, error) {
	cfg := in.Config
	names := cfg.Names()
	steps := make([]slipway.Step, 0, 2*len(names)+len(in.Live))

	// Builds: one step per component that builds from source.
	buildKeys := make(map[string]string, len(names)) // component → key of its own build
	commits := make(map[string]string, len(names))
	for _, name := range names {
		c := cfg.Components[name]
		src := c.Build.Source
		switch {
		case src != nil:
		case c.Build.Image != "":
			buildKeys[name] = slipway.ImageKey(c.Build.Image)
			continue
		default:
			continue
		}
		commit, ok := in.Commits[SourceRef{src.Repository, src.Ref}]
		if !ok {
			return nil, fmt.Errorf("plan %s: ref %q of %s is not resolved", name, src.Ref, src.Repository)
		}
		settings := slipway.SourceBuildSettings(*src)
		if in.ForceBuild {
			settings = append(settings, "forced-by="+in.DeploymentID)
		}
		key := slipway.BuildKey(src.Repository, commit, in.BuilderVersion, settings...)
		pinned, isPinned := in.Pinned[name]
		if isPinned {
			if !in.Built[pinned] {
				return nil, fmt.Errorf("plan %s: build %s of commit %s, which the %s deploys again, is gone (pruned)", name, pinned, short(commit), cmp.Or(in.PinnedBy, "rollback"))
			}
			key = pinned
		}
		buildKeys[name] = key
		commits[name] = commit
		st := slipway.Step{
			DeploymentID: in.DeploymentID,
			Key:          slipway.StepKey(slipway.StepBuild, name),
			Kind:         slipway.StepBuild,
			Component:    name,
			BuildKey:     key,
			Commit:       commit,
			State:        slipway.StepPending,
			Action:       slipway.ActionBuild,
		}
		live, isLive := in.Live[name]
		switch {
		case isPinned:
			why := cmp.Or(in.PinnedBy, "rollback")
			st.Action, st.State = slipway.ActionReuse, slipway.StepUnchanged
			st.Reason = "reusing build of commit " + short(commit) + " (" + why + ")"
			st.Detail = "reused " + short(commit) + " (" + why + ")"
		case in.ForceBuild:
			st.Reason = "forced (--force-build), commit " + short(commit)
		case in.Built[key]:
			st.Action, st.State = slipway.ActionReuse, slipway.StepUnchanged
			st.Reason = "reusing build of commit " + short(commit) + " (unchanged)"
			st.Detail = "reused " + short(commit) + " (unchanged)"
		case in.Corrupt[key]:
			st.Reason = "rebuilding commit " + short(commit) + ": the cached build failed its digest check"
		case isLive && live.Commit != "" && live.Commit != commit:
			st.Reason = "commit " + short(live.Commit) + "→" + short(commit)
		case isLive && live.Commit == commit:
			st.Reason = "commit " + short(commit) + " not built with these settings yet"
		default:
			st.Reason = "first build of commit " + short(commit)
		}
		steps = append(steps, st)
	}

	order, err := runOrder(cfg, names)
	if err != nil {
		return nil, err
	}
	runKeys := make([]string, 0, len(order))
	for _, name := range order {
		c := cfg.Components[name]
		from := c.BuildFrom()
		key := buildKeys[from]
		st := slipway.Step{
			DeploymentID: in.DeploymentID,
			Key:          slipway.StepKey(slipway.StepRun, name),
			Kind:         slipway.StepRun,
			Component:    name,
			BuildKey:     key,
			Commit:       commits[from],
			SpecHash:     c.SpecHash(),
			State:        slipway.StepPending,
			Action:       slipway.ActionApply,
		}
		if cfg.Components[from].Build.Source != nil {
			st.Needs = append(st.Needs, slipway.StepKey(slipway.StepBuild, from))
		}
		for _, w := range c.WaitFor {
			st.Needs = append(st.Needs, slipway.StepKey(slipway.StepRun, w))
		}
		if c.Type == slipway.OneOff {
			st.Action = slipway.ActionRunJob
		}
		live, isLive := in.Live[name]
		switch {
		case !isLive:
			st.Reason = "not running yet"
			if c.Type == slipway.OneOff {
				st.Reason = "never run"
			}
		case in.ForceRun:
			st.Reason = "forced (--force-run)"
		case live.BuildKey != key && live.Commit != "" && live.Commit != st.Commit:
			st.Reason = "new build: commit " + short(live.Commit) + "→" + short(st.Commit)
		case live.BuildKey != key:
			st.Reason = "new build of commit " + short(st.Commit)
		case live.SpecHash != st.SpecHash:
			st.Reason = "run settings changed"
		case in.Unhealthy[name] != "" && c.Type != slipway.OneOff:
			st.Reason = "not healthy: " + in.Unhealthy[name]
		default:
			st.Action, st.State = slipway.ActionNone, slipway.StepUnchanged
			st.Reason = "unchanged"
			st.Detail = "unchanged"
			envReason(&st, c.Type, envChanges(live.EnvFingerprints, in.Env))
		}
		if c.Gate != nil {
			gate := gateStep(in.DeploymentID, c, st)
			st.Needs = append(st.Needs, gate.Key)
			steps = append(steps, gate)
		}
		steps = append(steps, st)
		runKeys = append(runKeys, st.Key)
	}

	// Prunes: live components that are no longer configured, removed once
	// every configured component has converged.
	var gone []string
	for name := range in.Live {
		if _, ok := cfg.Components[name]; !ok {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		steps = append(steps, slipway.Step{
			DeploymentID: in.DeploymentID,
			Key:          slipway.StepKey(slipway.StepPrune, name),
			Kind:         slipway.StepPrune,
			Component:    name,
			Needs:        slices.Clip(runKeys),
			State:        slipway.StepPending,
			Action:       slipway.ActionRemove,
			Reason:       "not in config",
		})
	}
	return steps, nil
}

// gateStep returns the step that asks c's gate before its run step run
// changes anything: it waits for what the run waits for (the components
// of wait_for; not the build, which changes nothing live and may go on
// while people read the question). An unchanged component is not asked
// about.
func gateStep(deploymentID string, c slipway.Component, run slipway.Step) slipway.Step {
	st := slipway.Step{
		DeploymentID: deploymentID,
		Key:          slipway.StepKey(slipway.StepGate, c.Name),
		Kind:         slipway.StepGate,
		Component:    c.Name,
		Action:       slipway.ActionAsk,
		State:        slipway.StepPending,
		Reason:       "asks before " + string(run.Action) + " of " + c.Name + ": " + firstLine(c.Gate.Question),
	}
	for _, n := range run.Needs {
		if strings.HasPrefix(n, string(slipway.StepRun)+":") {
			st.Needs = append(st.Needs, n)
		}
	}
	if run.State == slipway.StepUnchanged {
		st.Action, st.State = slipway.ActionNone, slipway.StepUnchanged
		st.Reason, st.Detail = "not asked: "+c.Name+" is unchanged", "not asked"
	}
	return st
}

// firstLine returns the first non-empty line of markdown text, cut to 80
// characters.
func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if r := []rune(line); len(r) > 80 {
				return string(r[:79]) + "…"
			}
			return line
		}
	}
	return ""
}

// envReason decides what changed envvars do to an otherwise unchanged run
// step. Every continuous and scheduled component gets every envvar, so a
// change restarts it ("environment variables changed: API_KEY") — except
// when only TOOL_DEPLOY_TOKEN changed: a refreshed deploy token restarts
// nothing by surprise, and running processes keep the old value until they
// restart for another reason, as a Toolforge pod does until it is
// recreated. A one-off is never run again for envvars; its reason says so.
func envReason(st *slipway.Step, typ slipway.ComponentType, changes []envChange) {
	if len(changes) == 0 {
		return
	}
	words := make([]string, len(changes))
	tokenOnly := true
	for i, c := range changes {
		words[i] = c.String()
		tokenOnly = tokenOnly && c.name == slipway.DeployTokenEnvVar
	}
	list := strings.Join(words, ", ")
	switch {
	case typ == slipway.OneOff:
		st.Reason = "unchanged (environment variables changed: " + list + "; a one-off is not run again for that, --force-run runs it)"
	case tokenOnly:
		st.Reason = "unchanged (" + slipway.DeployTokenEnvVar + " changed, which restarts nothing: running processes keep the value they started with until they restart; --force-run restarts them)"
	default:
		st.Action, st.State, st.Detail = slipway.ActionApply, slipway.StepPending, ""
		st.Reason = "environment variables changed: " + list
	}
}

// envChange is one envvar that differs from what a component got.
type envChange struct {
	name string
	note string // "", "new" or "deleted"
}

func (c envChange) String() string {
	if c.note == "" {
		return c.name
	}
	return c.name + " (" + c.note + ")"
}

// envChanges returns the envvars that differ between what a component got
// (recorded, by name → fingerprint) and what the tool has now, by name:
// another value, new or deleted. Nothing when recorded is nil (not
// recorded: the component was applied before Slipway recorded envvars).
func envChanges(recorded, now map[string]string) []envChange {
	if recorded == nil {
		return nil
	}
	var out []envChange
	for name, fp := range now {
		switch old, ok := recorded[name]; {
		case !ok:
			out = append(out, envChange{name, "new"})
		case old != fp:
			out = append(out, envChange{name: name})
		}
	}
	for name := range recorded {
		if _, ok := now[name]; !ok {
			out = append(out, envChange{name, "deleted"})
		}
	}
	slices.SortFunc(out, func(a, b envChange) int { return strings.Compare(a.name, b.name) })
	return out
}

// runOrder returns the component names in wait_for dependency order (Kahn's
// algorithm, ties in config order), or an EInvalid error naming a cycle.
func runOrder(cfg slipway.ToolConfig, names []string) ([]string, error) {
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	indegree := make([]int, len(names))
	dependants := make([][]int, len(names))
	for i, n := range names {
		for _, w := range cfg.Components[n].WaitFor {
			j, ok := index[w]
			if !ok {
				return nil, slipway.Errorf(slipway.EInvalid, "components.%s.wait_for: unknown component %q", n, w)
			}
			indegree[i]++
			dependants[j] = append(dependants[j], i)
		}
	}
	// A FIFO of ready nodes keeps ties in config order for the initial set;
	// nodes released later keep the order in which they were released.
	queue := make([]int, 0, len(names))
	for i := range names {
		if indegree[i] == 0 {
			queue = append(queue, i)
		}
	}
	order := make([]string, 0, len(names))
	for head := 0; head < len(queue); head++ {
		i := queue[head]
		order = append(order, names[i])
		for _, d := range dependants[i] {
			indegree[d]--
			if indegree[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if len(order) < len(names) {
		return nil, slipway.Errorf(slipway.EInvalid, "wait_for cycle: %s", findCycle(cfg, names, indegree))
	}
	return order, nil
}

// findCycle returns one cycle among the nodes left with a positive
// indegree, starting at its smallest name: "a → b → c → a".
func findCycle(cfg slipway.ToolConfig, names []string, indegree []int) string {
	left := make(map[string]bool)
	for i, n := range names {
		if indegree[i] > 0 {
			left[n] = true
		}
	}
	starts := make([]string, 0, len(left))
	for n := range left {
		starts = append(starts, n)
	}
	slices.Sort(starts)
	for _, start := range starts {
		// Walk wait_for edges inside the remaining set until a node repeats.
		path := []string{start}
		seen := map[string]int{start: 0}
		cur := start
		for {
			next := ""
			for _, w := range cfg.Components[cur].WaitFor {
				if left[w] {
					next = w
					break
				}
			}
			if next == "" {
				break
			}
			if at, ok := seen[next]; ok {
				cycle := append(slices.Clone(path[at:]), next)
				return strings.Join(rotateToSmallest(cycle), " → ")
			}
			seen[next] = len(path)
			path = append(path, next)
			cur = next
		}
	}
	return strings.Join(starts, ", ")
}

// rotateToSmallest rotates a closed cycle [a b c a] so it starts at its
// smallest name.
func rotateToSmallest(cycle []string) []string {
	open := cycle[:len(cycle)-1]
	m := 0
	for i, n := range open {
		if n < open[m] {
			m = i
		}
	}
	out := append(slices.Clone(open[m:]), open[:m]...)
	return append(out, out[0])
}

func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}
