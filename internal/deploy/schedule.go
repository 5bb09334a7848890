package deploy

import "slipway.dev/slipway/internal/slipway"

// Settle is a pending step that can no longer run, and why.
type Settle struct {
	Key    string
	State  slipway.StepState // skipped, or cancelled
	Reason string
}

// Decision is what the scheduling rule decides for a deployment's steps.
type Decision struct {
	// Settle lists the pending steps to mark skipped (a need failed) or
	// cancelled (the deployment is being cancelled, with the gates that
	// wait), in plan order.
	Settle []Settle
	// Due lists the pending steps whose needs are all satisfied: they may
	// start now. Steps already running are not listed again.
	Due []string
	// Final is true when every step is final once Settle is applied.
	Final bool
}

// Schedule applies the scheduling rule to a deployment's steps: a step
// starts when every step it needs is satisfied (done or unchanged); a step
// whose need ended otherwise (failed, timed out, skipped, cancelled) is
// skipped with the reason, transitively; when the deployment is being
// cancelled, every pending step is cancelled instead, and every gate
// waiting for an answer. Independent branches
// are unaffected by a failure. Schedule is pure and does not change steps.
func Schedule(steps []slipway.Step, cancelling bool) Decision {
	state := make(map[string]slipway.StepState, len(steps))
	for _, st := range steps {
		state[st.Key] = st.State
	}
	var dec Decision
	// Plans list every step after the steps it needs, so one pass settles
	// them all; repeat only for step lists in another order.
	for changed := true; changed; {
		changed = false
		for _, st := range steps {
			// A gate waiting for an answer is settled only by a cancel
			// (or by its answer or deadline, outside this rule).
			if cur := state[st.Key]; cur != slipway.StepPending && (cur != slipway.StepWaiting || !cancelling) {
				continue
			}
			s := Settle{Key: st.Key}
			if cancelling {
				s.State, s.Reason = slipway.StepCancelled, "The deployment was cancelled"
			} else {
				for _, n := range st.Needs {
					if ns, ok := state[n]; ok && ns.Final() && !ns.Satisfied() {
						s.State, s.Reason = slipway.StepSkipped, "skipped: "+n+" "+string(ns)
						break
					}
				}
			}
			if s.State != "" {
				state[st.Key] = s.State
				dec.Settle = append(dec.Settle, s)
				changed = true
			}
		}
	}
	dec.Final = true
	for _, st := range steps {
		cur := state[st.Key]
		if !cur.Final() {
			dec.Final = false
		}
		if cur != slipway.StepPending {
			continue
		}
		ready := true
		for _, n := range st.Needs {
			if ns, ok := state[n]; !ok || !ns.Satisfied() {
				ready = false
				break
			}
		}
		if ready {
			dec.Due = append(dec.Due, st.Key)
		}
	}
	return dec
}
