package cli

import (
	"cmp"
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/server"
)

// proxyFlags are the front door's timeouts and size caps (edge.Limits).
type proxyFlags struct {
	readHeaderTimeout, idleTimeout, responseHeaderTimeout, stallTimeout string
	maxHeaderBytes, maxBody                                             string
}

// proxyFlagTypes are the help types of the proxy flags.
var proxyFlagTypes = map[string]string{
	"proxy-read-header-timeout": "DURATION", "proxy-idle-timeout": "DURATION", "proxy-response-header-timeout": "DURATION",
	"proxy-stall-timeout": "DURATION", "proxy-max-header-bytes": "SIZE", "proxy-max-body": "SIZE",
}

func (f *proxyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.readHeaderTimeout, "proxy-read-header-timeout", "", fmt.Sprintf("time a client of the proxy has to send a request's headers (default $SLIPWAY_PROXY_READ_HEADER_TIMEOUT or %s)", edge.DefaultReadHeaderTimeout))
	fl.StringVar(&f.idleTimeout, "proxy-idle-timeout", "", fmt.Sprintf("time the proxy keeps an idle keep-alive connection open (default $SLIPWAY_PROXY_IDLE_TIMEOUT or %s)", edge.DefaultIdleTimeout))
	fl.StringVar(&f.responseHeaderTimeout, "proxy-response-header-timeout", "", fmt.Sprintf("time an app has to start answering a request before the client gets 504; a started stream is never cut (default $SLIPWAY_PROXY_RESPONSE_HEADER_TIMEOUT or %s)", edge.DefaultResponseHeaderTimeout))
	fl.StringVar(&f.stallTimeout, "proxy-stall-timeout", "", fmt.Sprintf("time a client may take or send nothing while its request is read or its answer written before the proxy cuts it off; an event stream or WebSocket that waits for the app is not cut (default $SLIPWAY_PROXY_STALL_TIMEOUT or %s)", edge.DefaultStallTimeout))
	fl.StringVar(&f.maxHeaderBytes, "proxy-max-header-bytes", "", fmt.Sprintf("largest request header the proxy accepts, else 431 (default $SLIPWAY_PROXY_MAX_HEADER_BYTES or %s)", diskspace.FormatSize(edge.DefaultMaxHeaderBytes)))
	fl.StringVar(&f.maxBody, "proxy-max-body", "", fmt.Sprintf("largest request body the proxy passes to an app, else 413; 0 for no cap (default $SLIPWAY_PROXY_MAX_BODY or %s)", diskspace.FormatSize(edge.DefaultMaxBody)))
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *proxyFlags) apply(e *env, cfg *server.Config) error {
	l := &cfg.Proxy
	if err := parseDurations(e, "10s or 2m", []durationFlag{
		{"proxy-read-header-timeout", f.readHeaderTimeout, &l.ReadHeaderTimeout},
		{"proxy-idle-timeout", f.idleTimeout, &l.IdleTimeout},
		{"proxy-response-header-timeout", f.responseHeaderTimeout, &l.ResponseHeaderTimeout},
		{"proxy-stall-timeout", f.stallTimeout, &l.StallTimeout},
	}); err != nil {
		return err
	}
	if v := cmp.Or(f.maxHeaderBytes, e.getenv("SLIPWAY_PROXY_MAX_HEADER_BYTES")); v != "" {
		n, err := diskspace.ParseSize(v)
		if err == nil && (n < 1<<10 || n > math.MaxInt32) {
			err = fmt.Errorf("want from 1KiB to 2GiB, got %q", v)
		}
		if err != nil {
			return &usageError{fmt.Errorf("--proxy-max-header-bytes: %w", err)}
		}
		l.MaxHeaderBytes = int(n)
	}
	if v := cmp.Or(f.maxBody, e.getenv("SLIPWAY_PROXY_MAX_BODY")); v != "" {
		n, err := diskspace.ParseSize(v)
		if err != nil {
			return &usageError{fmt.Errorf("--proxy-max-body: %w", err)}
		}
		l.MaxBody = n
		if n == 0 {
			l.MaxBody = -1 // no cap
		}
	}
	return nil
}
