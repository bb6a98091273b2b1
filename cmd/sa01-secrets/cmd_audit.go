package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// auditCommands returns the verbs of this group.
func auditCommands(g *globals) []*cobra.Command {
	a := &cobra.Command{
		Use:   "audit",
		Short: "Query, follow and verify the audit trail",
		Long: `Every access to a secret is recorded in the store's hash-chained audit trail
(and, when configured, in SA01_AUDIT_FILE and on Kafka). See docs/audit.md.`,
		Example: `  sa01-secrets audit query --secret db/password --since 4h
  sa01-secrets audit query --failed --format json
  sa01-secrets audit tail -f
  sa01-secrets audit verify
  sa01-secrets audit verify --file /var/log/sa01/audit.jsonl`,
	}
	a.AddCommand(newAuditQueryCommand(g), newAuditTailCommand(g), newAuditVerifyCommand(g), newAuditPublishCommand(g))
	return []*cobra.Command{a, incidentCommand(g)}
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

// eventJSON is the flat object of `audit query --format json` and csv:
// every field present, names as in docs/audit.md.
type eventJSON struct {
	Seq       int64  `json:"seq"`
	Time      string `json:"time"`
	Service   string `json:"service"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Secret    string `json:"secret"`
	Version   int    `json:"version"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
	Source    string `json:"source"`
	Detail    string `json:"detail"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
}

var eventCSVHeader = []string{"seq", "time", "service", "actor", "action", "secret", "version", "outcome", "reason", "request_id", "source", "detail", "prev", "hash"}

func toEventJSON(e audit.Entry) eventJSON {
	return eventJSON{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Service: e.Service, Actor: e.Actor, Action: e.Action,
		Secret: e.Secret, Version: e.Version, Outcome: e.Outcome, Reason: e.Reason, RequestID: e.RequestID, Source: e.Source,
		Detail: e.Detail, Prev: e.Prev, Hash: e.Hash}
}

func (e eventJSON) record() []string {
	return []string{strconv.FormatInt(e.Seq, 10), e.Time, e.Service, e.Actor, e.Action, e.Secret, strconv.Itoa(e.Version),
		e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail, e.Prev, e.Hash}
}

// printEntries writes entries in format: table, json, csv or jsonl.
func printEntries(w io.Writer, es []audit.Entry, format string, header bool) error {
	switch format {
	case "json":
		out := make([]eventJSON, len(es))
		for i, e := range es {
			out[i] = toEventJSON(e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, e := range es {
			if err := enc.Encode(toEventJSON(e)); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		if header {
			_ = cw.Write(eventCSVHeader)
		}
		for _, e := range es {
			_ = cw.Write(csvSafe(toEventJSON(e).record()))
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if header {
			fmt.Fprintln(tw, "SEQ\tTIME\tSERVICE\tACTOR\tACTION\tSECRET\tVERSION\tOUTCOME\tREASON\tREQUEST\tSOURCE")
		}
		for _, e := range es {
			v := "-"
			if e.Version > 0 {
				v = strconv.Itoa(e.Version)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339Nano),
				dash(e.Service), dash(e.Actor), e.Action, dash(e.Secret), v, e.Outcome, dash(e.Reason), dash(e.RequestID), dash(e.Source))
		}
		return tw.Flush()
	}
	return usageError("", "--format: want table, json or csv")
}

// csvSafe keeps spreadsheet programs from running a cell as a formula.
func csvSafe(rec []string) []string {
	for i, s := range rec {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			rec[i] = "'" + s
		}
	}
	return rec
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newAuditQueryCommand(g *globals) *cobra.Command {
	var q audit.Query
	var since, until, format string
	cmd := &cobra.Command{
		Use:   "query",
		Short: "List audit events, oldest first",
		Long: `query lists the events that match every filter given, oldest first.
--since and --until take RFC 3339, a date, "now", or a duration before now
(30m, 4h, 7d, 2w). --format json prints an array of flat objects with the
field names of docs/audit.md; csv prints the same fields with a header.`,
		Example: `  sa01-secrets audit query --secret db/password --since 4h
  sa01-secrets audit query --service billing --failed --format csv
  sa01-secrets audit query --action incident-open --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			es, err := st.QueryAudit(cmd.Context(), q)
			if err != nil {
				return err
			}
			return printEntries(g.stdout, es, format, true)
		},
	}
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
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the last audit events, and with -f follow new ones",
		Example: `  sa01-secrets audit tail
  sa01-secrets audit tail -n 100 --format jsonl
  sa01-secrets audit tail -f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "table", "jsonl":
			default:
				return usageError("", "--format: want table or jsonl")
			}
			if n < 0 {
				return usageError("", "-n: want 0 or more")
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			var es []audit.Entry
			if n > 0 {
				if es, err = st.QueryAudit(ctx, audit.Query{Limit: n, Newest: true}); err != nil {
					return err
				}
			}
			if err := printEntries(g.stdout, es, format, format == "table"); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			head, err := st.AuditHead(ctx)
			if err != nil {
				return err
			}
			last := head.Seq
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
				es, err := st.AuditAfter(ctx, last, 1000)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				if len(es) == 0 {
					continue
				}
				if err := printEntries(g.stdout, es, format, false); err != nil {
					return err
				}
				last = es[len(es)-1].Seq
			}
		},
	}
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
	var file, format string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit chain and name the first tampered event",
		Long: `verify recomputes every hash of the store's audit chain, checks the links,
the sequence numbers and the checkpoints (authenticated with a subkey of the
loaded Fernet keys), and names the first event that was edited, deleted,
inserted or reordered, or a tail truncated before the last checkpoint. With
--file it checks a JSON-lines audit file (SA01_AUDIT_FILE) instead, naming
lines. It exits 0 when the chain is intact and 1 when it is not.`,
		Example: `  sa01-secrets audit verify
  sa01-secrets audit verify --file /var/log/sa01/audit.jsonl
  sa01-secrets audit verify --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			var res audit.Result
			var source string
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
				var err error
				if res, err = audit.VerifyFile(r); err != nil {
					return fmt.Errorf("reading %s: %w", file, err)
				}
			} else {
				cfg, err := g.config()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				st, err := openStore(ctx, g)
				if err != nil {
					return err
				}
				defer st.Close()
				source = "store"
				if res, err = verifyStore(ctx, st, audit.MACKeys(cfg.Keys)); err != nil {
					return err
				}
			}
			if format == "json" {
				if err := writeIndentedJSON(g.stdout, verifyOutput{OK: res.OK(), Source: source, Result: res, HeadSeq: res.Head.Seq}); err != nil {
					return err
				}
			} else if res.OK() {
				fmt.Fprintf(g.stdout, "audit chain intact: %d events, head %s, %d checkpoints matched", res.Events, res.Head, res.Checkpoints)
				if res.Unauthenticated > 0 {
					fmt.Fprintf(g.stdout, " (%d not authenticated: no key loaded for them)", res.Unauthenticated)
				}
				fmt.Fprintln(g.stdout)
			} else {
				fmt.Fprintf(g.stdout, "audit chain BROKEN: %s\n%d events verified before it\n", res.Problem.Error(), res.Events)
			}
			if !res.OK() {
				return checkFailed{}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "verify this JSON-lines audit file (- for stdin) instead of the store")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// verifyStore verifies the store's chain in bounded memory.
func verifyStore(ctx context.Context, as store.Audit, keys []audit.MACKey) (audit.Result, error) {
	cps, err := as.AuditCheckpoints(ctx)
	if err != nil {
		return audit.Result{}, err
	}
	v := audit.NewVerifier(cps, keys)
	stop := errors.New("stop")
	err = as.WalkAudit(ctx, 5000, func(es []audit.Entry) error {
		for _, e := range es {
			if !v.Add(e) {
				return stop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return audit.Result{}, err
	}
	return v.Finish(), nil
}

func newAuditPublishCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "publish",
		Short: "Ship the audit trail to Kafka until interrupted",
		Long: `publish runs the Kafka publisher in the foreground: it ships the store's audit
events, in order, to SA01_AUDIT_KAFKA_TOPIC on SA01_KAFKA_BOOTSTRAP_SERVERS,
resuming from where it (or a server) last got. Use it when no server runs,
or to catch up a topic. One process ships a topic at a time: beside a server
that ships it, publish stands by and takes over when the server stops.`,
		Example: `  SA01_KAFKA_BOOTSTRAP_SERVERS=kafka:9092 sa01-secrets audit publish`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if len(cfg.KafkaBootstrap) == 0 {
				return usageError("set "+config.EnvKafkaBootstrap+"=host:9092", "%s is not set", config.EnvKafkaBootstrap)
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
		},
	}
}
