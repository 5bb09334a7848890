package cli

import (
	"cmp"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
)

// notifyFlags are the server's outbound notification settings.
type notifyFlags struct {
	publicURL, smtpAddr, smtpFrom, smtpAuthFile, allowPrivate, retryBase string
}

func (f *notifyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.publicURL, "public-url", "", "the server's URL as people reach it, for the web UI links notifications carry (default $SLIPWAY_PUBLIC_URL, else the API's listening address)")
	fl.StringVar(&f.smtpAddr, "smtp-addr", "", "host:port of the SMTP server email notifications go through; STARTTLS when it offers it (default $SLIPWAY_SMTP_ADDR; without one, email notifications are refused)")
	fl.StringVar(&f.smtpFrom, "smtp-from", "", "sender address of email notifications (default $SLIPWAY_SMTP_FROM or slipway@<the host of --public-url>)")
	fl.StringVar(&f.smtpAuthFile, "smtp-auth-file", "", "file holding USER:PASSWORD for the SMTP server (PLAIN, only over TLS or to a loopback server) (default $SLIPWAY_SMTP_AUTH_FILE or none)")
	fl.StringVar(&f.allowPrivate, "allow-private-notification-urls", "", "let notification webhooks go to loopback, private and link-local addresses; =false to refuse (default $SLIPWAY_ALLOW_PRIVATE_NOTIFICATION_URLS or false)")
	fl.Lookup("allow-private-notification-urls").NoOptDefVal = "true"
	fl.StringVar(&f.retryBase, "notify-retry-base", "", "wait before a failed notification's second attempt, doubled after each of its 6 (default $SLIPWAY_NOTIFY_RETRY_BASE or 30s)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *notifyFlags) apply(e *env, cfg *server.Config) error {
	if v := cmp.Or(f.publicURL, e.getenv("SLIPWAY_PUBLIC_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return &usageError{fmt.Errorf("--public-url: want an http or https URL such as https://deploy.example.org, got %q", v)}
		}
		cfg.PublicURL = strings.TrimRight(u.String(), "/")
	}
	if v := cmp.Or(f.smtpAddr, e.getenv("SLIPWAY_SMTP_ADDR")); v != "" {
		if host, port, err := net.SplitHostPort(v); err != nil || host == "" || port == "" {
			return &usageError{fmt.Errorf("--smtp-addr: want host:port such as mail.example.org:587, got %q", v)}
		}
		cfg.SMTP.Addr = v
		from := cmp.Or(f.smtpFrom, e.getenv("SLIPWAY_SMTP_FROM"))
		if from == "" {
			host := "localhost"
			if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
				host = u.Hostname()
			}
			from = "slipway@" + host
		}
		if a, err := mail.ParseAddress(from); err != nil || a.Name != "" || a.Address != from {
			return &usageError{fmt.Errorf("--smtp-from: want one bare address such as slipway@example.org, got %q", from)}
		}
		cfg.SMTP.From = from
		if file := cmp.Or(f.smtpAuthFile, e.getenv("SLIPWAY_SMTP_AUTH_FILE")); file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return &usageError{fmt.Errorf("--smtp-auth-file: %w", err)}
			}
			user, pass, ok := strings.Cut(strings.TrimRight(string(b), "\r\n"), ":")
			if !ok || user == "" || strings.ContainsAny(user+pass, "\r\n") {
				return &usageError{fmt.Errorf("--smtp-auth-file: %s: want one line USER:PASSWORD", file)}
			}
			cfg.SMTP.Username, cfg.SMTP.Password = user, pass
		}
	} else if cmp.Or(f.smtpFrom, f.smtpAuthFile) != "" {
		return &usageError{fmt.Errorf("--smtp-from and --smtp-auth-file need --smtp-addr")}
	}
	if v := cmp.Or(f.allowPrivate, e.getenv("SLIPWAY_ALLOW_PRIVATE_NOTIFICATION_URLS")); v != "" {
		p, err := strconv.ParseBool(v)
		if err != nil {
			return &usageError{fmt.Errorf("--allow-private-notification-urls: want true or false, got %q", v)}
		}
		cfg.AllowPrivateNotifyURLs = p
	}
	return parseDurations(e, "30s or 1m", []durationFlag{{"notify-retry-base", f.retryBase, &cfg.NotifyRetryBase}})
}
