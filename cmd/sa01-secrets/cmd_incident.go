package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions of the incident verbs.
const (
	actionIncidentOpen   = "incident-open"
	actionIncidentReport = "incident-report"
	actionIncidentClose  = "incident-close"
)

func incidentCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "incident",
		Short: "Respond to a compromised secret on the policy's clock",
		Long: `incident follows the Secret Compromise Procedure: revoke at once, a new
secret within 1 hour, access logs audited within 4 hours, the report within
24 hours, the review within 1 week. See docs/audit.md.`,
		Example: `  sa01-secrets incident open db/password --reason "pasted in a public channel" --revoke-tokens
  sa01-secrets incident status
  sa01-secrets incident report INC-20260102-a1b2c3 > report.md
  sa01-secrets incident close INC-20260102-a1b2c3 --review "added a pre-commit scan"`,
	}
	c.AddCommand(newIncidentOpenCommand(g), newIncidentStatusCommand(g), newIncidentReportCommand(g), newIncidentCloseCommand(g))
	return c
}

// incidentEnv is what the incident verbs work on.
type incidentEnv struct {
	ctx  context.Context // carries the local operator as caller
	st   store.Store
	svc  *secrets.Service
	rec  audit.Recorder
	now  func() time.Time
	ring *fernet.Ring
}

func withIncidentEnv(cmd *cobra.Command, g *globals, fn func(e *incidentEnv) error) error {
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
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		return err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	e := &incidentEnv{ctx: ctx, st: st, rec: rec, now: time.Now, ring: cfg.Keys,
		svc: secrets.New(st, cfg.Keys, rec, time.Now)}
	return fn(e)
}

// record audits an incident action; a failure refuses the rest of the verb.
func (e *incidentEnv) record(action string, inc *incident.Incident, outcome, reason string) error {
	ev := audit.Event{Action: action, Secret: inc.Secret, Version: inc.Version, Outcome: outcome, Reason: reason, Detail: "incident " + inc.ID}
	if err := e.rec.Record(e.ctx, audit.Stamp(e.ctx, ev)); err != nil {
		return withCode(ExitUnavailable, fmt.Errorf("%w", audit.ErrNotRecorded), "check the store and SA01_AUDIT_FILE; the incident itself is saved")
	}
	return nil
}

// getIncident reads one incident, with a clear not-found error.
func (e *incidentEnv) getIncident(id string) (*incident.Incident, error) {
	inc, err := e.st.Incident(e.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, withCode(ExitNotFound, fmt.Errorf("no incident %s", id), "list open incidents with 'sa01-secrets incident status'")
	}
	return inc, err
}

// refresh marks the new-secret step done once a newer version of the
// secret exists, at the time that version was written.
func (e *incidentEnv) refresh(inc *incident.Incident) (bool, error) {
	if s := inc.Step(incident.StepNewSecret); s == nil || !s.Done.IsZero() {
		return false, nil
	}
	vs, err := e.st.History(e.ctx, inc.Secret)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, v := range vs {
		if v.Version > inc.Version && !v.Compromised() && !v.Destroyed() {
			inc.MarkDone(incident.StepNewSecret, v.CreatedAt)
			inc.Log(v.CreatedAt, "version %d of %s written", v.Version, inc.Secret)
			return true, nil
		}
	}
	return false, nil
}

// generatable returns a new random value for the classes whose values we
// can make ourselves, or "" for those that need a value from elsewhere.
func generatable(class string) (sensitive.String, string) {
	switch class {
	case store.ClassInternalToken:
		t, _ := generateToken(32)
		return sensitive.New(t), "a random token (32 bytes, URL-safe base64)"
	case store.ClassEncryptionKey:
		return sensitive.New(fernet.GenerateKey().Encode()), "a new Fernet key"
	}
	return sensitive.String{}, ""
}

// revokeServiceTokens revokes every token of service in the store and
// returns how many. It is the one place incident response touches tokens.
// A running server forgets revoked tokens within its validation cache's TTL.
func revokeServiceTokens(ctx context.Context, st store.Store, service string, at time.Time) (int, error) {
	accs, err := st.RevokeServiceTokens(ctx, service, at)
	return len(accs), err
}

// readers returns the services that read the secret successfully, sorted.
func readers(es []audit.Entry) []string {
	set := map[string]bool{}
	for _, e := range es {
		if e.Outcome == audit.Success && e.Service != "" && (e.Action == "read" || e.Action == "export" || e.Action == "run") {
			set[e.Service] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// openOutput is the JSON form of `incident open`.
type openOutput struct {
	ID                 string          `json:"id"`
	Secret             string          `json:"secret"`
	CompromisedVersion int             `json:"compromised_version"`
	NewVersion         int             `json:"new_version,omitempty"`
	NeedsPut           bool            `json:"needs_put"`
	RevokedServices    []string        `json:"revoked_services"`
	RevokedTokens      int             `json:"revoked_tokens"`
	Steps              []incident.Step `json:"steps"`
}

func newIncidentOpenCommand(g *globals) *cobra.Command {
	var reason, format string
	var revoke bool
	cmd := &cobra.Command{
		Use:   "open NAME --reason R",
		Short: "Declare a secret compromised: stop serving it, replace it, start the clock",
		Long: `open marks the secret's current version compromised, so it is never served
again; with --revoke-tokens it revokes the tokens of every service that read
the secret; for internal tokens and encryption keys it writes a new random
value as the next version (other classes need a new value via put, for a
database password after changing it in the database). It records the
incident with the policy's deadlines and prints its ID.`,
		Example: `  sa01-secrets incident open db/password --reason "found in a public gist"
  sa01-secrets incident open svc/internal-token --reason "laptop stolen" --revoke-tokens --format json`,
		Args: oneName("incident open"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.TrimSpace(reason) == "" {
				return usageError("say why, e.g. --reason \"leaked in a ticket\"", "--reason is required")
			}
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			return withIncidentEnv(cmd, g, func(e *incidentEnv) error {
				sec, err := e.st.Secret(e.ctx, name)
				if err != nil {
					return err
				}
				if sec.CurrentVersion == 0 {
					return withCode(ExitNotFound, fmt.Errorf("%s has no version to mark compromised", name), "")
				}
				now := e.now().UTC()
				inc := incident.Open(incident.NewID(now), name, sec.CurrentVersion, reason, osUser(), now)
				if err := e.st.MarkCompromised(e.ctx, name, sec.CurrentVersion, now); err != nil {
					return err
				}
				inc.Log(now, "version %d of %s marked compromised: never served again (reason: %s)", sec.CurrentVersion, name, reason)
				out := openOutput{ID: inc.ID, Secret: name, CompromisedVersion: sec.CurrentVersion, RevokedServices: []string{}}
				var warnings []string

				if revoke {
					es, err := e.st.QueryAudit(e.ctx, audit.Query{Secret: name})
					if err != nil {
						return err
					}
					for _, svc := range readers(es) {
						n, err := revokeServiceTokens(e.ctx, e.st, svc, now)
						if err != nil {
							warnings = append(warnings, fmt.Sprintf("tokens of %s not revoked: %v", svc, err))
							inc.Log(now, "tokens of service %s NOT revoked: %v", svc, err)
							continue
						}
						out.RevokedServices = append(out.RevokedServices, svc)
						out.RevokedTokens += n
						inc.Log(now, "revoked %d token(s) of service %s, which read the secret", n, svc)
					}
					if len(out.RevokedServices) == 0 && len(warnings) == 0 {
						inc.Log(now, "no service had read the secret: no token to revoke")
					}
				}

				if val, what := generatable(sec.Class); what != "" {
					v, err := e.svc.Put(e.ctx, name, val, secrets.PutOptions{})
					if err != nil {
						warnings = append(warnings, fmt.Sprintf("no replacement written: %v", err))
						inc.Log(e.now(), "replacement NOT written: %v", err)
						out.NeedsPut = true
					} else {
						out.NewVersion = v.Version
						inc.MarkDone(incident.StepNewSecret, e.now())
						inc.Log(e.now(), "wrote %s as version %d", what, v.Version)
					}
				} else {
					out.NeedsPut = true
					inc.Log(now, "class %s cannot be generated: a new value is needed via put", sec.Class)
				}

				if err := e.st.CreateIncident(e.ctx, inc); err != nil {
					return err
				}
				out.Steps = inc.Steps
				if err := e.record(actionIncidentOpen, inc, audit.Success, ""); err != nil {
					return err
				}
				if format == "json" {
					if err := writeIndentedJSON(g.stdout, out); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(g.stdout, inc.ID)
				}
				for _, w := range warnings {
					fmt.Fprintf(g.stderr, "sa01-secrets: warning: %s\n", w)
				}
				fmt.Fprintf(g.stderr, "sa01-secrets: %s version %d is compromised and no longer served\n", name, sec.CurrentVersion)
				if out.NeedsPut {
					fmt.Fprintf(g.stderr, "hint: a new value is needed within 1 hour: sa01-secrets put %s < new-value\n", name)
				} else {
					fmt.Fprintf(g.stderr, "sa01-secrets: version %d holds a new random value; deploy it within 1 hour\n", out.NewVersion)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the secret is compromised (required)")
	cmd.Flags().BoolVar(&revoke, "revoke-tokens", false, "revoke the tokens of every service that read the secret")
	cmd.Flags().StringVar(&format, "format", "text", "text (the ID) or json")
	return cmd
}

// statusOutput is one incident in `incident status --format json`.
type statusOutput struct {
	ID       string       `json:"id"`
	Secret   string       `json:"secret"`
	Version  int          `json:"version"`
	OpenedAt time.Time    `json:"opened_at"`
	Closed   bool         `json:"closed"`
	Steps    []stepOutput `json:"steps"`
	Missed   bool         `json:"missed"`
	inc      *incident.Incident
}

type stepOutput struct {
	Name        string    `json:"name"`
	Title       string    `json:"title"`
	Due         time.Time `json:"due"`
	Done        time.Time `json:"done,omitzero"`
	State       string    `json:"state"`
	SecondsLeft int64     `json:"seconds_left"` // negative: overdue
}

func newIncidentStatusCommand(g *globals) *cobra.Command {
	var format string
	var all bool
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show each deadline of the procedure: met, due (time left) or missed",
		Long: `status shows the steps of one incident, or of every open incident: met (done
by its deadline), due (with the time left) or missed (done late, or overdue).
It exits 1 when a deadline was missed, 0 otherwise.`,
		Example: `  sa01-secrets incident status
  sa01-secrets incident status INC-20260102-a1b2c3 --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError("", "--format: want table or json")
			}
			return withIncidentEnv(cmd, g, func(e *incidentEnv) error {
				var incs []*incident.Incident
				if len(args) == 1 {
					inc, err := e.getIncident(args[0])
					if err != nil {
						return err
					}
					incs = []*incident.Incident{inc}
				} else {
					var err error
					if incs, err = e.st.ListIncidents(e.ctx, all); err != nil {
						return err
					}
				}
				now := e.now()
				missed := false
				out := []statusOutput{}
				for _, inc := range incs {
					changed, err := e.refresh(inc)
					if err != nil {
						return err
					}
					if changed {
						if err := e.st.UpdateIncident(e.ctx, inc); err != nil {
							return err
						}
					}
					so := statusOutput{ID: inc.ID, Secret: inc.Secret, Version: inc.Version, OpenedAt: inc.OpenedAt, Closed: inc.Closed(), inc: inc}
					for _, s := range inc.Status(now) {
						so.Steps = append(so.Steps, stepOutput{Name: s.Name, Title: s.Title, Due: s.Due, Done: s.Done, State: s.State,
							SecondsLeft: int64(s.Due.Sub(now) / time.Second)})
						if s.State == incident.Missed {
							so.Missed = true
						}
					}
					missed = missed || so.Missed
					out = append(out, so)
				}
				if format == "json" {
					if err := writeIndentedJSON(g.stdout, out); err != nil {
						return err
					}
				} else {
					writeStatusTable(g.stdout, out, now)
				}
				if missed {
					return checkFailed{"a deadline of the compromise procedure was missed"}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().BoolVar(&all, "all", false, "without ID: closed incidents too")
	return cmd
}

func writeStatusTable(w io.Writer, out []statusOutput, now time.Time) {
	if len(out) == 0 {
		fmt.Fprintln(w, "no open incidents")
		return
	}
	for i, so := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		state := "open"
		if so.Closed {
			state = "closed"
		}
		fmt.Fprintf(w, "%s  %s version %d  opened %s  %s\n", so.ID, so.Secret, so.Version, so.OpenedAt.UTC().Format(time.RFC3339), state)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tDUE\tDONE\tSTATE")
		for _, s := range so.Steps {
			done := "-"
			if !s.Done.IsZero() {
				done = s.Done.UTC().Format(time.RFC3339)
			}
			st := s.State
			switch {
			case s.State == incident.Due:
				st = fmt.Sprintf("due, %s left", fmtLeft(s.Due.Sub(now)))
			case s.State == incident.Missed && s.Done.IsZero():
				st = fmt.Sprintf("MISSED, overdue by %s", fmtLeft(now.Sub(s.Due)))
			case s.State == incident.Missed:
				st = fmt.Sprintf("MISSED, done %s late", fmtLeft(s.Done.Sub(s.Due)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Title, s.Due.UTC().Format(time.RFC3339), done, st)
		}
		tw.Flush()
	}
}

// fmtLeft prints a duration to the minute: 3h05m, 6d23h.
func fmtLeft(d time.Duration) string {
	d = d.Round(time.Minute)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
}

func newIncidentReportCommand(g *globals) *cobra.Command {
	var format, since string
	cmd := &cobra.Command{
		Use:   "report ID",
		Short: "Write the incident report; marks the access-log audit done",
		Long: `report writes the incident report: the timeline of actions, every access to the
compromised secret in the window (default: since the compromised version was
written) by service, time and outcome, and the services that still hold the
old version (they read it and have not read a newer one). Producing it marks
the 4-hour step (access logs audited) done, and the 24-hour step (report)
too once the new secret exists.`,
		Example: `  sa01-secrets incident report INC-20260102-a1b2c3 > report.md
  sa01-secrets incident report INC-20260102-a1b2c3 --since 30d --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "json" {
				return usageError("", "--format: want md or json")
			}
			now := time.Now()
			from, err := parseTimeFlag("since", since, now)
			if err != nil {
				return err
			}
			return withIncidentEnv(cmd, g, func(e *incidentEnv) error {
				inc, err := e.getIncident(args[0])
				if err != nil {
					return err
				}
				if from.IsZero() {
					from = e.versionWritten(inc)
				}
				if _, err := e.refresh(inc); err != nil {
					return err
				}
				es, err := e.st.QueryAudit(e.ctx, audit.Query{Secret: inc.Secret, Since: from})
				if err != nil {
					return err
				}
				at := e.now()
				inc.MarkDone(incident.StepAuditLogs, at)
				if !inc.Step(incident.StepNewSecret).Done.IsZero() {
					inc.MarkDone(incident.StepReport, at)
				}
				rep := incident.BuildReport(inc, es, from, at)
				inc.Log(at, "report produced: %d accesses since %s; %d service(s) still hold the old version",
					len(rep.Accesses), from.UTC().Format(time.RFC3339), len(rep.StillHoldOld))
				rep.Status = inc.Status(at)
				if err := e.st.UpdateIncident(e.ctx, inc); err != nil {
					return err
				}
				if err := e.record(actionIncidentReport, inc, audit.Success, ""); err != nil {
					return err
				}
				if format == "json" {
					return writeIndentedJSON(g.stdout, rep)
				}
				return rep.WriteMarkdown(g.stdout)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	cmd.Flags().StringVar(&since, "since", "", "start of the access window (default: when the compromised version was written)")
	return cmd
}

// versionWritten returns when the compromised version was written, or the
// zero time (all events) when the store no longer knows.
func (e *incidentEnv) versionWritten(inc *incident.Incident) time.Time {
	vs, err := e.st.History(e.ctx, inc.Secret)
	if err != nil {
		return time.Time{}
	}
	for _, v := range vs {
		if v.Version == inc.Version {
			return v.CreatedAt
		}
	}
	return time.Time{}
}

func newIncidentCloseCommand(g *globals) *cobra.Command {
	var review string
	cmd := &cobra.Command{
		Use:     "close ID --review NOTE",
		Short:   "Close an incident with the review of procedures",
		Example: `  sa01-secrets incident close INC-20260102-a1b2c3 --review "rotated; added secret scanning to CI"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(review) == "" {
				return usageError("summarise the review, e.g. --review \"added a pre-commit scan\"", "--review is required")
			}
			return withIncidentEnv(cmd, g, func(e *incidentEnv) error {
				inc, err := e.getIncident(args[0])
				if err != nil {
					return err
				}
				if _, err := e.refresh(inc); err != nil {
					return err
				}
				if err := inc.Close(review, e.now()); err != nil {
					return withCode(ExitConflict, fmt.Errorf("incident %s is already closed", inc.ID), "")
				}
				if err := e.st.UpdateIncident(e.ctx, inc); err != nil {
					return err
				}
				if err := e.record(actionIncidentClose, inc, audit.Success, ""); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "closed %s\n", inc.ID)
				if inc.AnyMissed(e.now()) {
					fmt.Fprintln(g.stderr, "sa01-secrets: warning: some deadlines of this incident were missed; see 'sa01-secrets incident status "+inc.ID+"'")
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&review, "review", "", "what the review of procedures concluded (required)")
	return cmd
}
