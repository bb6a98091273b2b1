package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// auditCommands returns the verbs of this group.
func auditCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		cli.Group("audit", "Query, follow and verify the audit trail",
			newAuditQueryCommand(g), newAuditTailCommand(g), newAuditVerifyCommand(g), newAuditHeadCommand(g), newAuditPublishCommand(g)),
		incidentCommand(g),
	}
}

// withTrail runs fn on the server's audit trail (viaServer) when
// SA01_SECRETS_ADDR is set, else on the local store's.
func withTrail(cmd *cobra.Command, g *globals, fn func(ctx context.Context, t audit.Trail) error) error {
	served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error { return fn(ctx, b) })
	if !served {
		err = func() error {
			ctx := cmd.Context()
			st, err := openStore(ctx, g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			return fn(ctx, open.Trail(ctx, st, func() (*fernet.Ring, error) { return requireKeys(g) }))
		}()
	}
	if ae := (*audit.AnchorError)(nil); errors.As(err, &ae) {
		return usageError(ae.Hint, "%v", ae.Err)
	}
	return err
}

func newAuditQueryCommand(g *globals) *cobra.Command {
	var q audit.Query
	var since, until, format string
	cmd := verb("query", "List audit events, oldest first", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if q.Limit < 0 {
			return usageError("", "--limit: want 0 (no limit) or more")
		}
		now := time.Now()
		var err error
		if q.Since, err = audit.ParseTimeFlag("since", since, now); err != nil {
			return err
		}
		if q.Until, err = audit.ParseTimeFlag("until", until, now); err != nil {
			return err
		}
		return withTrail(cmd, g, func(ctx context.Context, t audit.Trail) error {
			es, err := t.QueryAudit(ctx, q)
			if err != nil {
				return err
			}
			return audit.WriteEntries(g.stdout, es, format, true)
		})
	})
	f := cmd.Flags()
	f.StringVar(&q.Secret, "secret", "", "only events about this secret")
	f.StringVar(&q.Service, "service", "", "only events by this service")
	f.StringVar(&q.Action, "action", "", "only this action (read, write, incident-open, ...)")
	f.StringVar(&since, "since", "", "only events at or after this time")
	f.StringVar(&until, "until", "", "only events before this time")
	f.BoolVar(&q.Failed, "failed", false, "only failures")
	f.IntVar(&q.Limit, "limit", 0, "at most this many events (0: all)")
	return withFormat(cmd, &format, "table", "json", "csv")
}

func newAuditTailCommand(g *globals) *cobra.Command {
	var n int
	var follow bool
	var format string
	var every time.Duration
	cmd := verb("tail", "Print the last audit events, and with -f follow new ones", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if n < 0 {
			return usageError("", "-n: want 0 or more")
		}
		return withTrail(cmd, g, func(ctx context.Context, t audit.Trail) error {
			if _, local := t.(audit.Local); !local {
				if n > server.MaxAuditPage {
					return usageError("", "-n: at most %d through the server", server.MaxAuditPage)
				}
				every = max(every, 2*time.Second) // each poll is a request
			}
			return audit.WriteTail(ctx, g.stdout, t, n, format, follow, every)
		})
	})
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "how many of the last events to print")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	cmd.Flags().DurationVar(&every, "interval", 500*time.Millisecond, "how often -f looks for new events")
	_ = cmd.Flags().MarkHidden("interval")
	return withFormat(cmd, &format, "table", "jsonl")
}

func newAuditVerifyCommand(g *globals) *cobra.Command {
	var file, format, anchor string
	cmd := verb("verify", "Check the audit chain and name the first tampered event", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return withTrail(cmd, g, func(ctx context.Context, t audit.Trail) error {
			res, source, err := audit.Verify(ctx, t, file, g.stdin, anchor)
			if err != nil {
				return err
			}
			return writeVerdict(g, format, res.Verdict(source), func(w io.Writer) { res.WriteText(w, file != "") }, res.OK(), "")
		})
	})
	cmd.Flags().StringVar(&file, "file", "", "verify this JSON-lines audit file (- for stdin) instead of the store")
	cmd.Flags().StringVar(&anchor, "anchor", "", "a head the chain must still reach: SEQ:HASH from audit head, or an audit file")
	return withFormat(cmd, &format, "text", "json")
}

func newAuditHeadCommand(g *globals) *cobra.Command {
	return verb("head", "Print the head of the audit chain (SEQ:MAC) to keep as an anchor", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return withTrail(cmd, g, func(ctx context.Context, t audit.Trail) error {
			h, err := t.AuthenticHead(ctx)
			if err == nil {
				fmt.Fprintln(g.stdout, h.Anchor())
			}
			return err
		})
	})
}

func newAuditPublishCommand(g *globals) *cobra.Command {
	return verb("publish", "Ship the audit trail to Kafka until interrupted", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if len(cfg.AuditKafka) == 0 {
			return usageError("set "+config.EnvAuditKafka+"=host:9092", "%s is not set", config.EnvAuditKafka)
		}
		ctx := cmd.Context()
		st, err := openStore(ctx, g, false)
		if err != nil {
			return err
		}
		defer st.Close()
		p := kafka.New(st, cfg.AuditKafka, cfg.AuditKafkaTopic, kafka.Options{Logger: g.log()})
		stop := p.Start(ctx, nil)
		<-ctx.Done()
		standby := p.StandingBy()
		stop()
		if standby {
			fmt.Fprintf(g.stderr, "sa01-secrets: another process ships the audit trail to %s; this one stood by\n", cfg.AuditKafkaTopic)
			return nil
		}
		fmt.Fprintf(g.stderr, "sa01-secrets: shipped up to seq %d to %s\n", p.Shipped(), cfg.AuditKafkaTopic)
		return nil
	})
}

func incidentCommand(g *globals) *cobra.Command {
	return cli.Group("incident", "Respond to a compromised secret on the policy's clock",
		newIncidentOpenCommand(g), newIncidentStatusCommand(g), newIncidentReportCommand(g), newIncidentCloseCommand(g))
}

// withIncidents runs fn on the server when SA01_SECRETS_ADDR is set,
// else with the incident responder over the local store (onBackend).
func withIncidents(cmd *cobra.Command, g *globals, fn func(ctx context.Context, d respond.Desk) error) error {
	return onBackend(cmd, g, func(b *remote.Backend) respond.Desk { return b }, respond.FromLocal, fn)
}

func newIncidentOpenCommand(g *globals) *cobra.Command {
	var reason, format string
	var revoke bool
	cmd := verb("open NAME --reason R", "Declare a secret compromised: stop serving it, replace it, start the clock", oneName("incident open"), func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(reason) == "" {
			return usageError("say why, e.g. --reason \"leaked in a ticket\"", "--reason is required")
		}
		if err := checkFormat(format, "text", "json"); err != nil {
			return err
		}
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			out, err := d.OpenIncident(ctx, args[0], reason, revoke)
			if err != nil {
				return err
			}
			if err := writeReport(g, format, out, func(w io.Writer) { fmt.Fprintln(w, scan.PrintableName(out.ID)) }); err != nil {
				return err
			}
			out.WriteNotes(g.stderr, args[0])
			return nil
		})
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why the secret is compromised (required)")
	cmd.Flags().BoolVar(&revoke, "revoke-tokens", false, "revoke the tokens of every service that read the secret")
	cmd.Flags().StringVar(&format, "format", "text", "text (the ID) or json")
	return cmd
}

func newIncidentStatusCommand(g *globals) *cobra.Command {
	var format string
	var all bool
	cmd := verb("status [ID]", "Show each deadline of the procedure: met, due (time left) or missed", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string) error {
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			out, err := d.IncidentStatus(ctx, strings.Join(args, ""), all)
			if err != nil {
				return err
			}
			missed := slices.ContainsFunc(out, func(so respond.Status) bool { return so.Missed })
			return writeVerdict(g, format, out, func(w io.Writer) { respond.WriteTable(w, out, time.Now()) }, !missed,
				"a deadline of the compromise procedure was missed")
		})
	})
	cmd.Flags().BoolVar(&all, "all", false, "without ID: closed incidents too")
	return withFormat(cmd, &format, "table", "json")
}

func newIncidentReportCommand(g *globals) *cobra.Command {
	var format, since string
	cmd := verb("report ID", "Write the incident report; marks the access-log audit done", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		from, err := audit.ParseTimeFlag("since", since, time.Now())
		if err != nil {
			return err
		}
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			rep, err := d.IncidentReport(ctx, args[0], from)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(g.stdout, rep)
			}
			return rep.WriteMarkdown(g.stdout)
		})
	})
	cmd.Flags().StringVar(&since, "since", "", "start of the access window (default: when the compromised version was written)")
	return withFormat(cmd, &format, "md", "json")
}

func newIncidentCloseCommand(g *globals) *cobra.Command {
	var review string
	cmd := verb("close ID --review NOTE", "Close an incident with the review of procedures", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(review) == "" {
			return usageError("summarise the review, e.g. --review \"added a pre-commit scan\"", "--review is required")
		}
		id := scan.PrintableName(args[0])
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			missed, err := d.CloseIncident(ctx, args[0], review)
			if errors.Is(err, incident.ErrClosed) || errors.Is(err, client.ErrConflict) {
				return withCode(ExitConflict, fmt.Errorf("incident %s is already closed", id), "")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "closed %s\n", id)
			if missed {
				fmt.Fprintln(g.stderr, "sa01-secrets: warning: some deadlines of this incident were missed; see 'sa01-secrets incident status "+id+"'")
			}
			return nil
		})
	})
	cmd.Flags().StringVar(&review, "review", "", "what the review of procedures concluded (required)")
	return cmd
}
