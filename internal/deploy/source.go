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

// fetchSource returns the config that cfg's source_url points at, parsed
// and checked, with the warnings to show; cfg itself when it has no
// source_url. Errors are EInvalid [*slipway.Error] values wrapping
// [slipway.ErrSourceURL].
func (s *Service) fetchSource(ctx context.Context, cfg slipway.ToolConfig) (slipway.ToolConfig, []string, error) {
	u := cfg.SourceURL
	if u == "" {
		return cfg, nil, nil
	}
	if s.cfg.ConfigFetcher == nil {
		return cfg, nil, sourceError(u, errors.New("this server does not fetch remote configs"))
	}
	body, err := s.cfg.ConfigFetcher.Fetch(ctx, u)
	if err != nil {
		return cfg, nil, sourceError(u, err)
	}
	res, err := toolconfig.Parse(body)
	if err != nil {
		return cfg, nil, sourceError(u, fmt.Errorf("the config there is not valid: %w", err))
	}
	if err := s.checkAllowed(res.Config); err != nil {
		return cfg, nil, sourceError(u, fmt.Errorf("the config there is not allowed: %w", err))
	}
	if err := toolconfig.CheckLimits(res.Config, s.cfg.Limits); err != nil {
		return cfg, nil, sourceError(u, fmt.Errorf("%w: %w", errOverLimits, toolconfig.Locate(err, body)))
	}
	warnings := make([]string, 0, len(res.Warnings)+1)
	for _, w := range res.Warnings {
		warnings = append(warnings, w+" (in "+u+")")
	}
	if res.Config.SourceURL == "" {
		warnings = append(warnings, fmt.Sprintf("The config at %s has no source_url: it is stored as it is now, and later deployments will not fetch it again. Add source_url to it to keep it live.", u))
	}
	return res.Config, warnings, nil
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
	cfg  slipway.ToolConfig
}

// refreshSource fetches the remote version of the tool's stored config
// when it has a source_url. It stores nothing; a missing config is left
// for the caller's transaction to report.
func (s *Service) refreshSource(ctx context.Context, tool string) (refreshed, error) {
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
	cfg, warnings, err := s.fetchSource(ctx, stored)
	if err != nil {
		return refreshed{}, err
	}
	for _, w := range warnings {
		s.logger.InfoContext(ctx, "remote config warning", "tool", tool, "warning", w)
	}
	return refreshed{base: sc.Version, cfg: cfg}, nil
}

// configForDeployTx returns, in tx, the config version to deploy: the
// stored one, or r's remote version, stored first when it differs. A
// config stored meanwhile (its own fetch is newer than r) wins over r.
func (s *Service) configForDeployTx(ctx context.Context, tx store.Tx, tool string, r refreshed, now time.Time) (store.StoredConfig, error) {
	sc, err := tx.ConfigGetLatest(ctx, tool)
	if err != nil {
		return sc, notFound(err, "No configuration found for tool: %s", tool)
	}
	if r.base == 0 || sc.Version != r.base || bytes.Equal(sc.Raw, r.cfg.Raw) {
		return sc, nil
	}
	v, err := tx.ConfigCreate(ctx, tool, r.cfg.Raw, now)
	if err != nil {
		return sc, fmt.Errorf("store the remote config: %w", err)
	}
	return store.StoredConfig{Tool: tool, Version: v, Raw: r.cfg.Raw}, nil
}

// planSource returns what a plan of cfg (stored as version, or 0) plans:
// cfg's remote version when it has a source_url, and the version number,
// 0 when the remote version is not what is stored.
func (s *Service) planSource(ctx context.Context, cfg slipway.ToolConfig, version int) (slipway.ToolConfig, int, error) {
	remote, _, err := s.fetchSource(ctx, cfg)
	if err != nil {
		return cfg, version, err
	}
	if !bytes.Equal(remote.Raw, cfg.Raw) {
		version = 0
	}
	return remote, version, nil
}
