// Package respond runs the Secret Compromise Procedure over the store: it
// opens an incident (marks the version compromised, revokes the tokens of
// the services that read it, writes a generated replacement), keeps each
// step's clock up to date, produces the report and closes the incident,
// auditing each action. The incident record and its clock are package
// incident's; this package is the workflow around them.
package respond

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions of the procedure.
const (
	ActionOpen   = "incident-open"
	ActionReport = "incident-report"
	ActionClose  = "incident-close"
)

// readActions are the audit actions by which a service obtained a value:
// the services that performed them successfully hold the secret.
var readActions = map[string]bool{secrets.ActionRead: true, secrets.ActionExport: true, secrets.ActionRun: true}

// NotFoundError names an incident or a version that does not exist. It
// matches store.ErrNotFound.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What }
func (e *NotFoundError) Unwrap() error { return store.ErrNotFound }

// ErrClosed is returned by Close for an incident that is already closed.
var ErrClosed = incident.ErrClosed

// Responder runs the procedure. Actor names the operator in the incident's
// record; audit events take the caller from the context.
type Responder struct {
	Store    store.Store
	Secrets  *secrets.Service // writes the generated replacement
	Recorder audit.Recorder
	Now      func() time.Time
	Actor    string
}

// Opened is the outcome of Open (the JSON of `incident open`).
type Opened struct {
	ID                 string          `json:"id"`
	Secret             string          `json:"secret"`
	CompromisedVersion int             `json:"compromised_version"`
	NewVersion         int             `json:"new_version,omitempty"`
	NeedsPut           bool            `json:"needs_put"`
	RevokedServices    []string        `json:"revoked_services"`
	RevokedTokens      int             `json:"revoked_tokens"`
	Steps              []incident.Step `json:"steps"`
	// Warnings are the steps that could not be done, for the operator.
	Warnings []string `json:"-"`
}

// Open declares the current version of name compromised: it is never
// served again. With revoke, the tokens of every service that read the
// secret are revoked. For classes whose values can be generated, a new
// random value is written as the next version. The incident is stored
// with the policy's deadlines and audited; a failure to audit is an error
// after the incident is saved.
func (r *Responder) Open(ctx context.Context, name, reason string, revoke bool) (*Opened, error) {
	sec, err := r.Store.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	if sec.CurrentVersion == 0 {
		return nil, &NotFoundError{name + " has no version to mark compromised"}
	}
	now := r.Now().UTC()
	inc := incident.Open(incident.NewID(now), name, sec.CurrentVersion, reason, r.Actor, now)
	if err := r.Secrets.MarkCompromised(ctx, name, sec.CurrentVersion, "incident "+inc.ID); err != nil {
		return nil, err
	}
	inc.Log(now, "version %d of %s marked compromised: never served again (reason: %s)", sec.CurrentVersion, name, reason)
	out := &Opened{ID: inc.ID, Secret: name, CompromisedVersion: sec.CurrentVersion, RevokedServices: []string{}}
	if revoke {
		if err := r.revokeReaders(ctx, inc, out, now); err != nil {
			return nil, err
		}
	}
	if kind := secrets.GeneratedKind(sec.Class); kind != "" {
		what := map[string]string{secrets.GenerateKey: "a new Fernet key", secrets.GenerateToken: "a random token (32 bytes, URL-safe base64)"}[kind]
		val, _ := secrets.Generate(kind, 32)
		v, err := r.Secrets.Put(ctx, name, val, secrets.PutOptions{})
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("no replacement written: %v", err))
			inc.Log(r.Now(), "replacement NOT written: %v", err)
			out.NeedsPut = true
		} else {
			out.NewVersion = v.Version
			inc.MarkDone(incident.StepNewSecret, r.Now())
			inc.Log(r.Now(), "wrote %s as version %d", what, v.Version)
		}
	} else {
		out.NeedsPut = true
		inc.Log(now, "class %s cannot be generated: a new value is needed via put", sec.Class)
	}
	if err := r.Store.CreateIncident(ctx, inc); err != nil {
		return nil, err
	}
	out.Steps = inc.Steps
	return out, r.record(ctx, ActionOpen, inc)
}

// revokeReaders revokes the tokens of every service that read the secret.
// A running server forgets revoked tokens within its validation cache's TTL.
func (r *Responder) revokeReaders(ctx context.Context, inc *incident.Incident, out *Opened, now time.Time) error {
	es, err := r.Store.QueryAudit(ctx, audit.Query{Secret: inc.Secret})
	if err != nil {
		return err
	}
	for _, svc := range Readers(es) {
		accs, err := r.Store.RevokeServiceTokens(ctx, svc, now)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("tokens of %s not revoked: %v", svc, err))
			inc.Log(now, "tokens of service %s NOT revoked: %v", svc, err)
			continue
		}
		out.RevokedServices = append(out.RevokedServices, svc)
		out.RevokedTokens += len(accs)
		inc.Log(now, "revoked %d token(s) of service %s, which read the secret", len(accs), svc)
	}
	if len(out.RevokedServices) == 0 && len(out.Warnings) == 0 {
		inc.Log(now, "no service had read the secret: no token to revoke")
	}
	return nil
}

// Readers returns the services that obtained the secret's value (read,
// export or run, successfully), sorted.
func Readers(es []audit.Entry) []string {
	set := map[string]bool{}
	for _, e := range es {
		if e.Outcome == audit.Success && e.Service != "" && readActions[e.Action] {
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

// record audits an incident action; a failure is an unavailable fault.
func (r *Responder) record(ctx context.Context, action string, inc *incident.Incident) error {
	ev := audit.Event{Action: action, Secret: inc.Secret, Version: inc.Version, Outcome: audit.Success, Detail: "incident " + inc.ID}
	if err := r.Recorder.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return fault.New(fault.Unavailable, fmt.Errorf("%w", audit.ErrNotRecorded), "check the store and SA01_SECRETS_AUDIT_FILE; the incident itself is saved")
	}
	return nil
}

// get reads one incident; a missing one is a not-found fault.
func (r *Responder) get(ctx context.Context, id string) (*incident.Incident, error) {
	inc, err := r.Store.Incident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault.New(fault.NotFound, &NotFoundError{"no incident " + id}, "list open incidents with 'sa01-secrets incident status'")
	}
	return inc, err
}

// refresh marks the new-secret step done once a newer version of the
// secret exists, at the time that version was written.
func (r *Responder) refresh(ctx context.Context, inc *incident.Incident) (bool, error) {
	if s := inc.Step(incident.StepNewSecret); s == nil || !s.Done.IsZero() {
		return false, nil
	}
	vs, err := r.Store.History(ctx, inc.Secret)
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

// Status is one incident's state (the JSON of `incident status`).
type Status struct {
	ID       string       `json:"id"`
	Secret   string       `json:"secret"`
	Version  int          `json:"version"`
	OpenedAt time.Time    `json:"opened_at"`
	Closed   bool         `json:"closed"`
	Steps    []StepStatus `json:"steps"`
	Missed   bool         `json:"missed"`
}

// StepStatus is one step of a Status.
type StepStatus struct {
	Name        string    `json:"name"`
	Title       string    `json:"title"`
	Due         time.Time `json:"due"`
	Done        time.Time `json:"done,omitzero"`
	State       string    `json:"state"`
	SecondsLeft int64     `json:"seconds_left"` // negative: overdue
}

// Status returns the state of the incident id, or with id "" of every
// open incident (all: closed ones too), at now, after bringing each
// incident's clock up to date with the store.
func (r *Responder) Status(ctx context.Context, id string, all bool, now time.Time) ([]Status, error) {
	incs, err := r.Current(ctx, id, all)
	if err != nil {
		return nil, err
	}
	out := []Status{}
	for _, inc := range incs {
		so := Status{ID: inc.ID, Secret: inc.Secret, Version: inc.Version, OpenedAt: inc.OpenedAt, Closed: inc.Closed()}
		for _, s := range inc.Status(now) {
			so.Steps = append(so.Steps, StepStatus{Name: s.Name, Title: s.Title, Due: s.Due, Done: s.Done, State: s.State,
				SecondsLeft: int64(s.Due.Sub(now) / time.Second)})
			so.Missed = so.Missed || s.State == incident.Missed
		}
		out = append(out, so)
	}
	return out, nil
}

// Current returns the incident id, or with id "" every open incident
// (all: closed ones too, newest first), each with its clock brought up to
// date with the store (and saved when a step was found done).
func (r *Responder) Current(ctx context.Context, id string, all bool) ([]*incident.Incident, error) {
	var incs []*incident.Incident
	if id != "" {
		inc, err := r.get(ctx, id)
		if err != nil {
			return nil, err
		}
		incs = []*incident.Incident{inc}
	} else {
		var err error
		if incs, err = r.Store.ListIncidents(ctx, all); err != nil {
			return nil, err
		}
	}
	for _, inc := range incs {
		changed, err := r.refresh(ctx, inc)
		if err != nil {
			return nil, err
		}
		if changed {
			if err := r.Store.UpdateIncident(ctx, inc); err != nil {
				return nil, err
			}
		}
	}
	return incs, nil
}

// Report produces the incident report over the accesses since from (zero:
// since the compromised version was written), which marks the access-log
// step done, and the report step too once the new secret exists.
func (r *Responder) Report(ctx context.Context, id string, from time.Time) (*incident.Report, error) {
	return r.ReportNote(ctx, id, from, "")
}

// ReportNote is Report, adding note, when not empty, to the incident's
// timeline as written by Actor.
func (r *Responder) ReportNote(ctx context.Context, id string, from time.Time, note string) (*incident.Report, error) {
	inc, err := r.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if from.IsZero() {
		from = r.versionWritten(ctx, inc)
	}
	if _, err := r.refresh(ctx, inc); err != nil {
		return nil, err
	}
	es, err := r.Store.QueryAudit(ctx, audit.Query{Secret: inc.Secret, Since: from})
	if err != nil {
		return nil, err
	}
	at := r.Now()
	inc.MarkDone(incident.StepAuditLogs, at)
	if !inc.Step(incident.StepNewSecret).Done.IsZero() {
		inc.MarkDone(incident.StepReport, at)
	}
	rep := incident.BuildReport(inc, es, from, at)
	inc.Log(at, "report produced: %d accesses since %s; %d service(s) still hold the old version",
		len(rep.Accesses), from.UTC().Format(time.RFC3339), len(rep.StillHoldOld))
	if note != "" {
		inc.Log(at, "note by %s: %s", r.Actor, note)
	}
	rep.Status = inc.Status(at)
	if err := r.Store.UpdateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return rep, r.record(ctx, ActionReport, inc)
}

// versionWritten returns when the compromised version was written, or the
// zero time (all events) when the store no longer knows.
func (r *Responder) versionWritten(ctx context.Context, inc *incident.Incident) time.Time {
	vs, err := r.Store.History(ctx, inc.Secret)
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

// Close closes the incident id with the review note. ErrClosed when it is
// already closed.
func (r *Responder) Close(ctx context.Context, id, review string) (*incident.Incident, error) {
	inc, err := r.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.refresh(ctx, inc); err != nil {
		return nil, err
	}
	if err := inc.Close(review, r.Now()); err != nil {
		return nil, err
	}
	if err := r.Store.UpdateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return inc, r.record(ctx, ActionClose, inc)
}
