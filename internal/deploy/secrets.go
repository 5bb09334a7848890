package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// Credentials in repository URLs (and source_urls) never reach a record:
//
//   - a config that comes in (config create, a plan of a posted config, a
//     source_url fetched) has each URL with user info split: the config keeps
//     https://***@host/path, the credential is kept sealed in the store's
//     repo_credentials table, keyed by the tool and that URL, in the
//     transaction that stores the config;
//   - https://***@host/path coming in names the credential already stored
//     (config show → edit → config create keeps it); a URL with a new
//     credential replaces it; credentials no URL of the stored config names
//     any more are deleted with it;
//   - deployments, steps, builds, live records, logs, events and every
//     answer carry the redacted URL only; the git adapter finds the
//     credential itself when it talks to the remote, by the tool of the
//     operation's [slipway.SourceScope] (or, for a plan of a config that is
//     not stored, among the scope's pending credentials).

// CredentialSealer seals and opens the credentials of a tool's URLs with
// the server's key (internal/auth implements it).
type CredentialSealer interface {
	SealCredential(tool, url string, c slipway.Credential) (string, error)
	OpenCredential(tool, url, sealed string) (slipway.Credential, error)
}

// splitConfig is a config with the credentials taken out of its URLs.
type splitConfig struct {
	cfg slipway.ToolConfig
	// creds are the credentials that came with the config (and with the
	// remote config it points at), by redacted URL: to be stored with it,
	// or used as pending credentials by a plan.
	creds map[string]slipway.Credential
}

// splitCredentials returns cfg with every URL's user info replaced by
// [slipway.CredentialMarker] and the credentials that came in it. A URL
// that already carries the marker must name a credential that came with
// the config (in known, or elsewhere in cfg) or that the tool has stored;
// else it is an EInvalid error naming the field. Two different credentials
// for one URL are an error too.
func (s *Deployments) splitCredentials(ctx context.Context, tool string, cfg slipway.ToolConfig, known map[string]slipway.Credential) (splitConfig, error) {
	out := splitConfig{creds: maps.Clone(known)}
	if out.creds == nil {
		out.creds = map[string]slipway.Credential{}
	}
	if len(cfg.Raw) == 0 {
		out.cfg = cfg
		return out, nil
	}
	var problems []string
	stored := map[string]string{} // redacted URL → the first field that names it with the marker
	came := map[string]bool{}     // URLs whose credential came with cfg itself
	redacted, err := toolconfig.RewriteURLs(cfg, func(path, v string) (string, error) {
		sp, err := slipway.SplitURLCredential(v)
		switch {
		case err != nil:
			return v, err
		case sp.HasCredential:
			if prev, ok := out.creds[sp.Redacted]; ok && came[sp.Redacted] && prev != sp.Credential {
				problems = append(problems, fmt.Sprintf("%s: %s is given with two different credentials in this config; give one", path, sp.Redacted))
			}
			out.creds[sp.Redacted], came[sp.Redacted] = sp.Credential, true
		case sp.Stored:
			if _, ok := stored[sp.Redacted]; !ok {
				stored[sp.Redacted] = path
			}
		}
		return sp.Redacted, nil
	})
	if err != nil {
		return out, err
	}
	for _, u := range slices.Sorted(maps.Keys(stored)) {
		if _, ok := out.creds[u]; ok {
			continue
		}
		_, err := s.store.RepoCredentialGet(ctx, tool, u)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, fmt.Sprintf("%s: %s names the credential stored for this URL (***), but tool %s has none: give the URL with its credential (%s)",
				stored[u], u, tool, strings.Replace(u, slipway.CredentialMarker+"@", "user:password@", 1)))
		case err != nil:
			return out, fmt.Errorf("read credentials of %s: %w", tool, err)
		}
	}
	if len(problems) > 0 {
		return out, &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(problems, "\n")}
	}
	out.cfg = redacted
	return out, nil
}

// credentialURLs returns the URLs of cfg that name a credential.
func credentialURLs(cfg slipway.ToolConfig) []string {
	var urls []string
	for _, u := range toolconfig.URLs(cfg) {
		if slipway.HasStoredCredential(u) && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return urls
}

// putCredentialsTx stores, in tx, the credentials that came with cfg for
// the URLs cfg names, and, when prune is set, deletes the tool's
// credentials that cfg does not name.
func (s *Deployments) putCredentialsTx(ctx context.Context, tx store.Tx, tool string, sp splitConfig, prune bool) error {
	urls := credentialURLs(sp.cfg)
	for _, u := range urls {
		c, ok := sp.creds[u]
		if !ok {
			continue // the stored one stays
		}
		if s.cfg.Credentials == nil {
			return slipway.Errorf(slipway.EInvalid, "%s: this server does not keep credentials for repositories", u)
		}
		sealed, err := s.cfg.Credentials.SealCredential(tool, u, c)
		if err != nil {
			return err
		}
		if err := tx.RepoCredentialPut(ctx, store.RepoCredential{Tool: tool, URL: u, Sealed: sealed, UpdatedAt: s.now()}); err != nil {
			return err
		}
	}
	if prune {
		if _, err := tx.RepoCredentialPrune(ctx, tool, urls); err != nil {
			return err
		}
	}
	return nil
}

// credentialFor returns the credential of tool's url (a redacted one):
// from pending, else the stored one. ok is false when there is none.
func (s *Deployments) credentialFor(ctx context.Context, tool, u string, pending map[string]slipway.Credential) (slipway.Credential, bool, error) {
	if c, ok := pending[u]; ok {
		return c, true, nil
	}
	row, err := s.store.RepoCredentialGet(ctx, tool, u)
	if errors.Is(err, store.ErrNotFound) {
		return slipway.Credential{}, false, nil
	} else if err != nil {
		return slipway.Credential{}, false, fmt.Errorf("read credential of %s: %w", tool, err)
	}
	if s.cfg.Credentials == nil {
		return slipway.Credential{}, false, errors.New("this server does not keep credentials")
	}
	c, err := s.cfg.Credentials.OpenCredential(tool, u, row.Sealed)
	if err != nil {
		return slipway.Credential{}, false, err
	}
	return c, true, nil
}

// withUserInfo returns the redacted URL u with c as its user info: what
// the config fetcher is given (it takes the user info out again and sends
// it as basic authentication).
func withUserInfo(u string, c slipway.Credential) string {
	p, err := url.Parse(slipway.StripUserInfo(u))
	if err != nil {
		return u
	}
	p.User = url.UserPassword(c.Username, c.Password)
	return p.String()
}

// checkLocalRepos refuses local repositories that actor may not name: the
// admin may name any (when the server allows local repositories at all);
// anybody else only those inside the directories of --local-repo-dirs. It
// is EForbidden, naming each field and the setting.
func (s *Deployments) checkLocalRepos(cfg slipway.ToolConfig, actor slipway.Actor) error {
	if actor.Admin || !s.cfg.AllowLocalRepos {
		return nil // without local repositories, checkAllowed refuses them for everybody
	}
	var problems []string
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil {
			continue
		}
		if _, local := localrepo.Path(src.Repository); !local {
			continue
		}
		err := localrepo.Check(src.Repository, s.cfg.LocalRepoDirs)
		if err == nil {
			continue
		}
		where := "the server's --local-repo-dirs names none"
		if len(s.cfg.LocalRepoDirs) > 0 {
			where = "the server's --local-repo-dirs names " + strings.Join(s.cfg.LocalRepoDirs, ", ") + ", and " + err.Error()
		}
		problems = append(problems, fmt.Sprintf("components.%s.build.repository: local repositories need the admin token, or a directory that tools may build from: %s", name, where))
	}
	if len(problems) > 0 {
		return &slipway.Error{Code: slipway.EForbidden, Message: strings.Join(problems, "\n")}
	}
	return nil
}
