// Package envvars keeps a tool's environment variables (Toolforge's
// envvars): the API operations (list, show, create or overwrite, delete,
// quota), with their rules, and the environment every process of the tool
// gets.
//
// Values are secrets. The store holds them only sealed with the server's
// key ([auth.Sealer]: AES-256-GCM bound to the tool and the name); they are
// opened to answer the tool's own credentials and the admin (the API's
// route access decides who asks), and to start the tool's processes. What a
// process got is recorded as fingerprints (HMACs under the server's key),
// never as values.
package envvars

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Config holds the settings of [New].
type Config struct {
	// Quota is how many envvars a tool may have; default
	// [slipway.DefaultEnvVarQuota]. TOOL_DEPLOY_TOKEN, which Slipway
	// writes, counts as used but is never refused.
	Quota int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Vars serves the envvars of every tool.
type Vars struct {
	st     store.Store
	sealer *auth.Sealer
	quota  int
	now    func() time.Time
}

// New returns the envvars over st, sealed with sealer.
func New(st store.Store, sealer *auth.Sealer, cfg Config) *Vars {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Vars{st: st, sealer: sealer, quota: cmp.Or(cfg.Quota, slipway.DefaultEnvVarQuota), now: now}
}

// List returns the tool's envvars with their values, by name.
func (v *Vars) List(ctx context.Context, tool string) ([]slipway.EnvVar, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	rows, err := v.st.EnvVarList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("list envvars of %s: %w", tool, err)
	}
	out := make([]slipway.EnvVar, 0, len(rows))
	for _, r := range rows {
		value, err := v.sealer.OpenEnvVar(tool, r.Name, r.Sealed)
		if err != nil {
			return nil, fmt.Errorf("list envvars of %s: %w", tool, err)
		}
		out = append(out, slipway.EnvVar{Name: r.Name, Value: value})
	}
	return out, nil
}

// Get returns one of the tool's envvars; EInvalid for a name that breaks
// the name rule, ENotFound when the tool has no such envvar.
func (v *Vars) Get(ctx context.Context, tool, name string) (slipway.EnvVar, error) {
	if err := validate(tool, name); err != nil {
		return slipway.EnvVar{}, err
	}
	r, err := v.st.EnvVarGet(ctx, tool, name)
	if err != nil {
		return slipway.EnvVar{}, notFound(tool, name, err)
	}
	value, err := v.sealer.OpenEnvVar(tool, name, r.Sealed)
	if err != nil {
		return slipway.EnvVar{}, fmt.Errorf("get envvar: %w", err)
	}
	return slipway.EnvVar{Name: name, Value: value}, nil
}

// Put creates the tool's envvar name or overwrites it with value, and says
// whether it created it. EInvalid for a bad or reserved name or a bad
// value ([slipway.ValidateEnvVar]); EConflict when a new envvar would pass
// the tool's quota, or all of them together [slipway.MaxEnvVarTotalBytes].
// Nothing is stored then.
func (v *Vars) Put(ctx context.Context, tool, name, value string) (slipway.EnvVar, bool, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.EnvVar{}, false, err
	}
	if err := slipway.ValidateEnvVar(name, value); err != nil {
		return slipway.EnvVar{}, false, err
	}
	created := false
	err := v.st.InTx(ctx, func(tx store.Tx) error {
		rows, err := tx.EnvVarList(ctx, tool)
		if err != nil {
			return err
		}
		total := len(name) + len(value)
		created = true
		for _, r := range rows {
			if r.Name == name {
				created = false
				continue
			}
			n, err := v.sealer.SealedEnvVarSize(r.Sealed)
			if err != nil {
				return fmt.Errorf("envvar %s: %w", r.Name, err)
			}
			total += len(r.Name) + n
		}
		if created && len(rows) >= v.quota {
			return slipway.Errorf(slipway.EConflict,
				"Tool %s already has %d envvars, its quota is %d: delete one first (slipway envvars delete NAME), or overwrite an existing one.",
				tool, len(rows), v.quota)
		}
		if total > slipway.MaxEnvVarTotalBytes {
			return slipway.Errorf(slipway.EConflict,
				"With %s, the envvars of tool %s would take %d bytes together (names and values); the limit is %d bytes, so that they fit in one process's environment.",
				name, tool, total, slipway.MaxEnvVarTotalBytes)
		}
		return tx.EnvVarPut(ctx, store.EnvVar{
			Tool: tool, Name: name, Sealed: v.sealer.SealEnvVar(tool, name, value), UpdatedAt: v.now().UTC(),
		})
	})
	if err != nil {
		return slipway.EnvVar{}, false, wrap("set envvar "+name, tool, err)
	}
	return slipway.EnvVar{Name: name, Value: value}, created, nil
}

// Delete deletes one of the tool's envvars and returns it with its last
// value; EInvalid for a name that breaks the name rule, ENotFound when the
// tool has no such envvar. A tool may delete TOOL_DEPLOY_TOKEN: its deploy
// token keeps working but can no longer be shown.
func (v *Vars) Delete(ctx context.Context, tool, name string) (slipway.EnvVar, error) {
	if err := validate(tool, name); err != nil {
		return slipway.EnvVar{}, err
	}
	var out slipway.EnvVar
	err := v.st.InTx(ctx, func(tx store.Tx) error {
		r, err := tx.EnvVarGet(ctx, tool, name)
		if err != nil {
			return notFound(tool, name, err)
		}
		value, err := v.sealer.OpenEnvVar(tool, name, r.Sealed)
		if err != nil {
			return err
		}
		out = slipway.EnvVar{Name: name, Value: value}
		return tx.EnvVarDelete(ctx, tool, name)
	})
	if err != nil {
		return slipway.EnvVar{}, wrap("delete envvar "+name, tool, err)
	}
	return out, nil
}

// Quota returns how many envvars the tool may have and has.
func (v *Vars) Quota(ctx context.Context, tool string) (slipway.EnvVarQuota, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.EnvVarQuota{}, err
	}
	rows, err := v.st.EnvVarList(ctx, tool)
	if err != nil {
		return slipway.EnvVarQuota{}, fmt.Errorf("envvar quota of %s: %w", tool, err)
	}
	return slipway.EnvVarQuota{Quota: v.quota, Used: len(rows)}, nil
}

// Environ returns the environment every process of the tool gets: all its
// envvars, with their fingerprints. An envvar that cannot be opened (a
// wrong key) is an error naming it, never a silent omission: a process
// must not start without its secrets.
func (v *Vars) Environ(ctx context.Context, tool string) (slipway.ToolEnv, error) {
	rows, err := v.st.EnvVarList(ctx, tool)
	if err != nil {
		return slipway.ToolEnv{}, fmt.Errorf("envvars of %s: %w", tool, err)
	}
	env := slipway.ToolEnv{Values: make(map[string]string, len(rows)), Fingerprints: make(map[string]string, len(rows))}
	for _, r := range rows {
		value, err := v.sealer.OpenEnvVar(tool, r.Name, r.Sealed)
		if err != nil {
			return slipway.ToolEnv{}, err
		}
		env.Values[r.Name] = value
		env.Fingerprints[r.Name] = v.sealer.Fingerprint(tool, r.Name, value)
	}
	return env, nil
}

// validate checks the tool and the envvar name (the name rule only: a
// reserved name may still be read or deleted).
func validate(tool, name string) error {
	if err := slipway.ValidateToolName(tool); err != nil {
		return err
	}
	return slipway.ValidateEnvVarName(name)
}

// notFound turns the store's ErrNotFound into the API's 404.
func notFound(tool, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &slipway.Error{Code: slipway.ENotFound, Message: fmt.Sprintf("Envvar %s not found for tool %s", name, tool), Err: err}
	}
	return err
}

// wrap adds context to errors that are not already application errors.
func wrap(op, tool string, err error) error {
	if _, ok := errors.AsType[*slipway.Error](err); ok {
		return err
	}
	return fmt.Errorf("%s of %s: %w", op, tool, err)
}
