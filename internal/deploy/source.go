package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// ConfigFetcher fetches the document a tool config's source_url points at
// (internal/remoteconfig implements it, with its timeout, size limit and
// address guard).
type ConfigFetcher interface {
	// Fetch returns the body at url, or an error that says why not, worded
	// for the tool's owner.
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// Remote configs (TOOLFORGE-COMPAT.md §3.4), improved on Toolforge:
//
//   - config create with a source_url fetches the remote config first and
//     stores it (not the posted one); a fetch that fails, or a remote config
//     that is not valid, stores nothing;
//   - a deployment of a stored config with a source_url fetches it again
//     first, stores it when it changed, and deploys it, in the transaction
//     that creates the deployment; a failure creates nothing;
//   - a plan fetches and plans the remote config without storing it.
//
// Fetches happen outside any store transaction.

// fetchSource returns the config that in's source_url points at, parsed,
// checked and with its credentials split (the ones that came with in are
// kept, so that the remote config may name them with ***), with the warnings
// to show; in itself when it has no source_url. A source_url naming a
// stored credential is fetched with it. Errors are EInvalid
// [*slipway.Error] values wrapping [slipway.ErrSourceURL].
func (s *Deployments) fetchSource(ctx context.Context, tool string, in splitConfig) (splitConfig, []string, error) {
	u := in.cfg.SourceURL
	if u == "" {
		return in, nil, nil
	}
	if s.cfg.ConfigFetcher == nil {
		return in, nil, sourceError(u, errors.New("this server does not fetch remote configs"))
	}
	fetchURL := u
	if slipway.HasStoredCredential(u) {
		c, ok, err := s.credentialFor(ctx, tool, u, in.creds)
		if err != nil {
			return in, nil, sourceError(u, err)
		}
		if !ok {
			return in, nil, sourceError(u, fmt.Errorf("tool %s has no credential stored for it: give the URL with its credential", tool))
		}
		fetchURL = withUserInfo(u, c)
	}
	body, err := s.cfg.ConfigFetcher.Fetch(ctx, fetchURL)
	if err != nil {
		return in, nil, sourceError(u, err)
	}
	res, err := toolconfig.Parse(body)
	if err != nil {
		return in, nil, sourceError(u, fmt.Errorf("the config there is not valid: %w", err))
	}
	if err := s.checkAllowed(res.Config); err != nil {
		return in, nil, sourceError(u, fmt.Errorf("the config there is not allowed: %w", err))
	}
	out, err := s.splitCredentials(ctx, tool, res.Config, in.creds)
	if err != nil {
		return in, nil, sourceError(u, fmt.Errorf("the config there is not valid: %w", err))
	}
	if err := toolconfig.CheckLimits(res.Config, s.cfg.Limits); err != nil {
		return in, nil, sourceError(u, fmt.Errorf("%w: %w", errOverLimits, toolconfig.Locate(err, body)))
	}
	warnings := make([]string, 0, len(res.Warnings)+1)
	for _, w := range res.Warnings {
		warnings = append(warnings, w+" (in "+u+")")
	}
	if out.cfg.SourceURL == "" {
		warnings = append(warnings, fmt.Sprintf("The config at %s has no source_url: it is stored as it is now, and later deployments will not fetch it again. Add source_url to it to keep it live.", u))
	}
	return out, warnings, nil
}

// prepare takes the credentials out of a config that comes in, and fetches
// the remote config its source_url points at (see fetchSource).
func (s *Deployments) prepare(ctx context.Context, tool string, cfg slipway.ToolConfig) (splitConfig, []string, error) {
	sp, err := s.splitCredentials(ctx, tool, cfg, nil)
	if err != nil {
		return sp, nil, err
	}
	return s.fetchSource(ctx, tool, sp)
}

// sourceError is the 400 answer to a failed fetch: Toolforge's text (with
// its typo corrected), with the cause. A parse error's problems keep the
// remote file's line and column.
func sourceError(u string, err error) error {
	detail := strings.ReplaceAll(err.Error(), "\n", "; ")
	if pe, ok := errors.AsType[*toolconfig.ParseError](err); ok && len(pe.Problems) > 0 {
		problems := make([]string, len(pe.Problems))
		for i, p := range pe.Problems {
			problems[i] = p.String()
		}
		what := "the config there is not valid"
		if errors.Is(err, errOverLimits) {
			what = errOverLimits.Error()
		}
		detail = what + ": " + strings.Join(problems, "; ")
	}
	return &slipway.Error{
		Code:    slipway.EInvalid,
		Message: fmt.Sprintf("Unable to retrieve config from source url %s: %s", u, detail),
		Err:     fmt.Errorf("%w %s: %w", slipway.ErrSourceURL, u, err),
	}
}

// refreshed is a stored config's remote version, fetched before the
// transaction that deploys it.
type refreshed struct {
	// base is the stored version the fetch started from; 0 when nothing
	// was fetched.
	base int
	sp   splitConfig
}

// refreshSource fetches the remote version of the tool's stored config
// when it has a source_url. It stores nothing; a missing config is left
// for the caller's transaction to report. A remote version that differs
// from the stored one will be stored as actor's: it may name local
// repositories only as actor may.
func (s *Deployments) refreshSource(ctx context.Context, tool string, actor slipway.Actor) (refreshed, error) {
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return refreshed{}, nil // the transaction reads it again and reports it
	} else if err != nil {
		return refreshed{}, fmt.Errorf("read config of %s: %w", tool, err)
	}
	stored, err := parseStored(sc.Raw)
	if err != nil || stored.SourceURL == "" {
		return refreshed{}, err
	}
	sp, warnings, err := s.fetchSource(ctx, tool, splitConfig{cfg: stored})
	if err != nil {
		return refreshed{}, err
	}
	if !bytes.Equal(sp.cfg.Raw, sc.Raw) {
		if err := s.checkLocalRepos(sp.cfg, actor); err != nil {
			return refreshed{}, err
		}
	}
	for _, w := range warnings {
		s.logger.InfoContext(ctx, "remote config warning", "tool", tool, "warning", w)
	}
	return refreshed{base: sc.Version, sp: sp}, nil
}

// configForDeployTx returns, in tx, the config version to deploy: the
// stored one, or r's remote version, stored first (as actor's, with its
// credentials) when it differs. A config stored meanwhile (its own fetch is
// newer than r) wins over r.
func (s *Deployments) configForDeployTx(ctx context.Context, tx store.Tx, tool string, r refreshed, actor slipway.Actor, now time.Time) (store.StoredConfig, error) {
	sc, err := tx.ConfigGetLatest(ctx, tool)
	if err != nil {
		return sc, notFound(err, "No configuration found for tool: %s", tool)
	}
	if r.base == 0 || sc.Version != r.base {
		return sc, nil
	}
	if bytes.Equal(sc.Raw, r.sp.cfg.Raw) {
		// The same config: a credential the remote file changed is kept.
		return sc, s.putCredentialsTx(ctx, tx, tool, r.sp, false)
	}
	v, err := tx.ConfigCreateBy(ctx, tool, r.sp.cfg.Raw, actor, now)
	if err != nil {
		return sc, fmt.Errorf("store the remote config: %w", err)
	}
	if err := s.putCredentialsTx(ctx, tx, tool, r.sp, true); err != nil {
		return sc, err
	}
	return store.StoredConfig{Tool: tool, Version: v, Raw: r.sp.cfg.Raw, CreatedBy: actor.Name, CreatedByAdmin: actor.Admin}, nil
}

// planSource returns what a plan of in (stored as version, or 0) plans:
// in's remote version when it has a source_url, and the version number,
// 0 when the remote version is not what is stored.
func (s *Deployments) planSource(ctx context.Context, tool string, in splitConfig, version int) (splitConfig, int, error) {
	remote, _, err := s.fetchSource(ctx, tool, in)
	if err != nil {
		return in, version, err
	}
	if !bytes.Equal(remote.cfg.Raw, in.cfg.Raw) {
		version = 0
	}
	return remote, version, nil
}
