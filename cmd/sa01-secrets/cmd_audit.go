package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/server"
)

// tailSource is what audit tail reads: the store, or the server.
type tailSource interface {
	audit.Tail
	QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// auditCommands returns the verbs of this group.
func auditCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		group("audit", "Query, follow and verify the audit trail",
			newAuditQueryCommand(g), newAuditTailCommand(g), newAuditVerifyCommand(g), newAuditHeadCommand(g), newAuditPublishCommand(g)),
		incidentCommand(g),
	}
}

// parseTimeFlag parses --since/--until.
func parseTimeFlag(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := audit.ParseTime(v, now)
	if err != nil {
		return time.Time{}, usageError("for example --"+flag+" 4h, --"+flag+" 2026-01-02 or --"+flag+" 2026-01-02T15:04:05Z", "--%s: %v", flag, err)
	}
	return t, nil
}

func newAuditQueryCommand(g *globals) *cobra.Command {
	var q audit.Query
	var since, until, format string
	cmd := verb("query", "List audit events, oldest first", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		switch format {
		case "table", "json", "csv":
		default:
			return usageError("", "--format: want table, json or csv")
		}
		if q.Limit < 0 {
			return usageError("", "--limit: want 0 (no limit) or more")
		}
		now := time.Now()
		var err error
		if q.Since, err = parseTimeFlag("since", since, now); err != nil {
			return err
		}
		if q.Until, err = parseTimeFlag("until", until, now); err != nil {
			return err
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			es, err := b.QueryAudit(ctx, q)
			if err != nil {
				return err
			}
			return audit.WriteEntries(g.stdout, es, format, true)
		}); served {
			return err
		}
		st, err := openStore(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer st.Close()
		es, err := st.QueryAudit(cmd.Context(), q)
		if err != nil {
			return err
		}
		return audit.WriteEntries(g.stdout, es, format, true)
	})
	f := cmd.Flags()
	f.StringVar(&q.Secret, "secret", "", "only events about this secret")
	f.StringVar(&q.Service, "service", "", "only events by this service")
	f.StringVar(&q.Action, "action", "", "only this action (read, write, incident-open, ...)")
	f.StringVar(&since, "since", "", "only events at or after this time")
	f.StringVar(&until, "until", "", "only events before this time")
	f.BoolVar(&q.Failed, "failed", false, "only failures")
	f.IntVar(&q.Limit, "limit", 0, "at most this many events (0: all)")
	f.StringVar(&format, "format", "table", "table, json or csv")
	return cmd
}

func newAuditTailCommand(g *globals) *cobra.Command {
	var n int
	var follow bool
	var format string
	var every time.Duration
	cmd := verb("tail", "Print the last audit events, and with -f follow new ones", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		switch format {
		case "table", "jsonl":
		default:
			return usageError("", "--format: want table or jsonl")
		}
		if n < 0 {
			return usageError("", "-n: want 0 or more")
		}
		tail := func(ctx context.Context, st tailSource, every time.Duration) error {
			var es []audit.Entry
			var err error
			if n > 0 {
				if es, err = st.QueryAudit(ctx, audit.Query{Limit: n, Newest: true}); err != nil {
					return err
				}
			}
			if err := audit.WriteEntries(g.stdout, es, format, format == "table"); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			return audit.Follow(ctx, st, every, func(es []audit.Entry) error {
				return audit.WriteEntries(g.stdout, es, format, false)
			})
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			if n > server.MaxAuditPage {
				return usageError("", "-n: at most %d through the server", server.MaxAuditPage)
			}
			return tail(ctx, b, max(every, 2*time.Second)) // each poll is a request
		}); served {
			return err
		}
		ctx := cmd.Context()
		st, err := openStore(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		return tail(ctx, st, every)
	})
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "how many of the last events to print")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	cmd.Flags().StringVar(&format, "format", "table", "table or jsonl")
	cmd.Flags().DurationVar(&every, "interval", 500*time.Millisecond, "how often -f looks for new events")
	_ = cmd.Flags().MarkHidden("interval")
	return cmd
}

// verifyOutput is the JSON form of `audit verify`.
type verifyOutput struct {
	OK     bool   `json:"ok"`
	Source string `json:"source"`
	audit.Result
	HeadSeq int64 `json:"head_seq"`
}

func newAuditVerifyCommand(g *globals) *cobra.Command {
	var file, format, anchor string
	cmd := verb("verify", "Check the audit chain and name the first tampered event", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if format != "text" && format != "json" {
			return usageError("", "--format: want text or json")
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			if file != "" {
				return usageError("run it on the store's node without "+config.EnvSecretsAddr, "audit verify --file needs the audit key, beside the store")
			}
			if anchor != "" {
				if _, err := audit.ParseAnchor(anchor); err != nil {
					return usageError("give the head as SEQ:HASH (audit head prints it)", "--anchor: through the server, only SEQ:HASH")
				}
			}
			res, err := b.VerifyAudit(ctx, anchor)
			if err != nil {
				return err
			}
			return writeVerify(g, format, "server", false, res)
		}); served {
			return err
		}
		ctx := cmd.Context()
		st, err := openStore(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		key, err := auditKey(ctx, g, st)
		if err != nil {
			return err
		}
		var head *audit.Head
		if anchor != "" {
			h, err := audit.ReadAnchor(anchor, key)
			if err != nil {
				return usageError("", "%v", err)
			}
			head = &h
		}
		var res audit.Result
		source := "store"
		if file != "" {
			source = file
			var r io.Reader
			if file == "-" {
				r = g.stdin
			} else {
				f, err := os.Open(file)
				if err != nil {
					return withCode(ExitNotFound, fmt.Errorf("--file: %w", err), "")
				}
				defer f.Close()
				r = f
			}
			if res, err = audit.VerifyFile(r, key); err != nil {
				return fmt.Errorf("reading %s: %w", file, err)
			}
		} else if res, err = audit.VerifyStore(ctx, st, []audit.MACKey{*key}, head); err != nil {
			return err
		}
		return writeVerify(g, format, source, file != "", res)
	})
	cmd.Flags().StringVar(&file, "file", "", "verify this JSON-lines audit file (- for stdin) instead of the store")
	cmd.Flags().StringVar(&anchor, "anchor", "", "a head the chain must still reach: SEQ:HASH from audit head, or an audit file")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

// writeVerify renders audit verify's result (source: store, server or
// the file) and fails the check when the chain is broken.
func writeVerify(g *globals, format, source string, isFile bool, res audit.Result) error {
	if format == "json" {
		if err := writeJSON(g.stdout, verifyOutput{OK: res.OK(), Source: source, Result: res, HeadSeq: res.Head.Seq}); err != nil {
			return err
		}
	} else if res.OK() {
		fmt.Fprintf(g.stdout, "audit chain intact: %d events, head %s, %d checkpoints matched", res.Events, res.Head, res.Checkpoints)
		if res.Unauthenticated > 0 {
			fmt.Fprintf(g.stdout, " (%d not authenticated: no key loaded for them)", res.Unauthenticated)
		}
		if res.Anchored {
			fmt.Fprint(g.stdout, ", anchor reached")
		} else if !isFile {
			fmt.Fprint(g.stdout, "; no --anchor: a removed tail would not show")
		}
		fmt.Fprintln(g.stdout)
	} else {
		fmt.Fprintf(g.stdout, "audit chain BROKEN: %s\n%d events verified before it\n", res.Problem.Error(), res.Events)
	}
	if !res.OK() {
		return checkFailed{}
	}
	return nil
}

func newAuditHeadCommand(g *globals) *cobra.Command {
	return verb("head", "Print the head of the audit chain (SEQ:MAC) to keep as an anchor", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			h, err := b.AuthenticHead(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, h.Anchor())
			return nil
		}); served {
			return err
		}
		ctx := cmd.Context()
		st, err := openStore(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		key, err := auditKey(ctx, g, st)
		if err != nil {
			return err
		}
		h, err := audit.AuthenticHead(ctx, st, key)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, h.Anchor())
		return nil
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
		st, err := openStore(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		p, stop, err := startAuditPublisher(ctx, g, st, nil)
		if err != nil {
			return withCode(ExitUnavailable, err, "")
		}
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
