package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// newNotifyCmd is `notify`: the tool's outbound notifications.
func newNotifyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Tell a webhook or an email address when deployments start, succeed, fail, roll back, or ask",
		Long: `Outbound notifications of the tool's events: deployment.started,
deployment.succeeded, deployment.failed, deployment.rolled_back,
question.pending and question.answered (--events; default all).

  slipway notify add-webhook URL [--events E,…]   a signed JSON POST (secret shown once)
  slipway notify add-email ADDRESS [--events E,…]  an email through the server's SMTP server
  slipway notify list                             the subscriptions
  slipway notify remove ID                        stop one (its delivery log stays)
  slipway notify deliveries [--subscription ID]   what was sent, and what came back
  slipway notify show DELIVERY                    one delivery with each attempt
  slipway notify redeliver DELIVERY               send it again, now

A webhook receives X-Slipway-Event, X-Slipway-Delivery, X-Slipway-Timestamp
(Unix seconds) and X-Slipway-Signature-256: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>" under the secret>; refuse an old timestamp to refuse
replays. A failed attempt (not 2xx, a redirect, 10 s without an answer) is
tried again with a doubling wait, 6 attempts in all.`,
	}
	cmd.AddCommand(newNotifyAddCmd(e, "webhook", "add-webhook URL", "Notify a URL with signed JSON POSTs"),
		newNotifyAddCmd(e, "email", "add-email ADDRESS", "Notify an email address"),
		newNotifyListCmd(e), newNotifyRemoveCmd(e), newNotifyDeliveriesCmd(e), newNotifyShowCmd(e), newNotifyRedeliverCmd(e))
	return cmd
}

func newNotifyAddCmd(e *env, kind, use, short string) *cobra.Command {
	var events []string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.NotifySubscribe(cmd.Context(), tool, kind, a[0], events)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			sub, secret, err := env.NotifySubscribed()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "✅ Subscription %s: %s %s, %s\n", sub.Id, sub.Kind, sub.Target, eventList(sub.Events))
			if secret != "" {
				fmt.Fprintf(e.stdout, "Secret: %s\nThe secret is shown this once: the receiver checks X-Slipway-Signature-256 with it.\n", secret)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&events, "events", nil, "the events to send, comma-separated (default all)")
	return cmd
}

func eventList[T ~string](events []T) string {
	if len(events) == 0 {
		return "every event"
	}
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

func newNotifyListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tool's notification subscriptions",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.NotifyList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			ss, err := env.NotifySubscriptions()
			if err != nil {
				return err
			}
			return printSubscriptions(e.stdout, ss)
		},
	}
}

func printSubscriptions(w io.Writer, ss []apiclient.NotifySubscription) error {
	if len(ss) == 0 {
		fmt.Fprintln(w, "No notification subscriptions. Add one with: slipway notify add-webhook URL")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tkind\ttarget\tevents\tcreated")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Id, s.Kind, s.Target, eventList(s.Events), s.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func newNotifyRemoveCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Stop notifying a subscription (its delivery log stays)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.NotifyUnsubscribe(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
}

func newNotifyDeliveriesCmd(e *env) *cobra.Command {
	var subscription string
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "List the tool's newest 100 notification deliveries",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.NotifyDeliveries(cmd.Context(), tool, subscription)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			ds, err := env.NotifyDeliveries()
			if err != nil {
				return err
			}
			if len(ds) == 0 {
				fmt.Fprintln(e.stdout, "No deliveries yet.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "created\tdelivery\tsubscription\tevent\tsubject\tstate\tattempts\tlast status\tlast error")
			for _, d := range ds {
				status := ""
				if d.LastStatus != nil {
					status = fmt.Sprint(*d.LastStatus)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", d.CreatedAt.UTC().Format(time.RFC3339), d.Id, d.SubscriptionId,
					d.Event, d.Subject, d.State, d.Attempts, d.MaxAttempts, status, deref(d.LastError))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&subscription, "subscription", "", "only this subscription's")
	return cmd
}

func newNotifyShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show DELIVERY",
		Short: "Show a delivery and each attempt's answer",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.NotifyDelivery(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			return e.printDelivery(env)
		},
	}
}

func newNotifyRedeliverCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "redeliver DELIVERY",
		Short: "Send a delivery again, now, as one more attempt",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			start := time.Now()
			env, err := c.NotifyRedeliver(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			d, err := env.NotifyDelivery()
			if err != nil {
				return err
			}
			mark := "✅"
			if d.State != "delivered" {
				mark = "❌"
			}
			fmt.Fprintf(e.stdout, "%s Redelivered %s: %s (%s)\n", mark, d.Id, d.State, time.Since(start).Round(time.Millisecond))
			return e.printDelivery(env)
		},
	}
}

func (e *env) printDelivery(env apiclient.Envelope) error {
	if e.flags.json {
		return printEnvelope(e.stdout, env, false)
	}
	d, err := env.NotifyDelivery()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Delivery:     %s\nSubscription: %s\nEvent:        %s (%s)\nCreated:      %s\nState:        %s, %d of %d attempts\n",
		d.Id, d.SubscriptionId, d.Event, d.Subject, d.CreatedAt.UTC().Format(time.RFC3339), d.State, d.Attempts, d.MaxAttempts)
	if d.AttemptLog == nil || len(*d.AttemptLog) == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "attempt\tat\tstatus\ttook\terror\tresponse")
	for _, a := range *d.AttemptLog {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%dms\t%s\t%s\n", a.N, a.At.UTC().Format(time.RFC3339), a.StatusCode, a.DurationMs,
			deref(a.Error), strings.ReplaceAll(deref(a.Response), "\n", " "))
	}
	return tw.Flush()
}
