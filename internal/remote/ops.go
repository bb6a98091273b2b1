package remote

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// errAnswer is a server answer that is not the JSON expected.
var errAnswer = errors.New("the server's answer is not the JSON expected")

func decode(raw json.RawMessage, err error, v any) error {
	if err != nil {
		return err
	}
	if json.Unmarshal(raw, v) != nil {
		return errAnswer
	}
	return nil
}

func entryOf(e client.AuditEvent) audit.Entry {
	return audit.Entry{Seq: e.Seq, Prev: e.Prev, Hash: e.Hash, Event: audit.Event{Time: e.Time, Service: e.Service, Actor: e.Actor,
		Action: e.Action, Secret: e.Secret, Version: e.Version, Outcome: e.Outcome, Reason: e.Reason, RequestID: e.RequestID,
		Source: e.Source, Detail: e.Detail, DecisionID: e.DecisionID}}
}

func entriesOf(es []client.AuditEvent) []audit.Entry {
	out := make([]audit.Entry, len(es))
	for i, e := range es {
		out[i] = entryOf(e)
	}
	return out
}

// QueryAudit returns the server's audit events q selects, as the store's
// QueryAudit does (audit query, audit tail).
func (b *Backend) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	es, err := b.c.AuditEvents(ctx, client.AuditQuery{Secret: q.Secret, Service: q.Service, Action: q.Action, Since: q.Since,
		Until: q.Until, Failed: q.Failed, AfterSeq: q.AfterSeq, Limit: q.Limit, Newest: q.Newest})
	if err != nil {
		return nil, err
	}
	return entriesOf(es), nil
}

// AuditHead returns the seq of the chain's last event, for audit.Follow
// (audit tail -f): the follow starts after it.
func (b *Backend) AuditHead(ctx context.Context) (audit.Head, error) {
	es, err := b.c.AuditEvents(ctx, client.AuditQuery{Newest: true, Limit: 1})
	if err != nil || len(es) == 0 {
		return audit.EmptyHead, err
	}
	return audit.Head{Seq: es[0].Seq, Hash: es[0].Hash}, nil
}

// AuditAfter returns the events after seq, for audit.Follow.
func (b *Backend) AuditAfter(ctx context.Context, seq int64, _ int) ([]audit.Entry, error) {
	es, err := b.c.AuditFollow(ctx, client.AuditQuery{}, seq)
	if err != nil {
		return nil, err
	}
	return entriesOf(es), nil
}

var _ audit.Trail = (*Backend)(nil)

// AuthenticHead returns the head of the server's chain, its last MAC
// checked by the server under the audit key (audit head).
func (b *Backend) AuthenticHead(ctx context.Context) (audit.Head, error) {
	h, err := b.c.AuditHead(ctx)
	return audit.Head{Seq: h.Seq, Hash: h.Hash}, err
}

// VerifyAudit has the server verify its chain (audit verify); anchor
// "" for none.
// The server takes an anchor as SEQ:HASH only: it cannot read a file of
// this machine.
func (b *Backend) VerifyAudit(ctx context.Context, anchor string) (audit.Result, error) {
	if _, err := audit.ParseAnchor(anchor); anchor != "" && err != nil {
		return audit.Result{}, &audit.AnchorError{Err: errors.New("--anchor: through the server, only SEQ:HASH"),
			Hint: "give the head as SEQ:HASH (audit head prints it)"}
	}
	v, err := b.c.AuditVerify(ctx, anchor)
	if err != nil {
		return audit.Result{}, err
	}
	res := audit.Result{Events: v.Events, Head: audit.Head{Seq: v.HeadSeq, Hash: v.HeadHash}, Checkpoints: v.Checkpoints,
		Unauthenticated: v.Unauthenticated, Keyed: v.Keyed, Anchored: v.Anchored}
	if v.Problem != nil {
		res.Problem = &audit.Problem{Kind: v.Problem.Kind, Seq: v.Problem.Seq, Position: v.Problem.Position, Detail: v.Problem.Detail}
	} else if !v.OK {
		res.Problem = &audit.Problem{Kind: "unknown", Detail: "the server says the chain does not verify"}
	}
	return res, nil
}

// OpenIncident opens an incident on the server (incident open).
func (b *Backend) OpenIncident(ctx context.Context, name, reason string, revoke bool) (*respond.Opened, error) {
	var out struct {
		respond.Opened
		Warnings []string `json:"warnings"`
	}
	raw, err := b.c.OpenIncident(ctx, name, reason, revoke)
	if err := decode(raw, err, &out); err != nil {
		return nil, err
	}
	out.Opened.Warnings = out.Warnings
	return &out.Opened, nil
}

// IncidentStatus returns the state of the incident id, or of every open
// incident (all: closed ones too) (incident status).
func (b *Backend) IncidentStatus(ctx context.Context, id string, all bool) ([]respond.Status, error) {
	var out struct {
		Incidents []respond.Status `json:"incidents"`
	}
	raw, err := b.c.Incidents(ctx, id, all)
	if err := decode(raw, err, &out); err != nil {
		return nil, err
	}
	if out.Incidents == nil {
		out.Incidents = []respond.Status{}
	}
	return out.Incidents, nil
}

// IncidentReport produces the incident report on the server (incident
// report).
func (b *Backend) IncidentReport(ctx context.Context, id string, since time.Time) (*incident.Report, error) {
	var rep incident.Report
	raw, err := b.c.IncidentReport(ctx, id, since)
	if err := decode(raw, err, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// CloseIncident closes the incident on the server (incident close).
func (b *Backend) CloseIncident(ctx context.Context, id, review string) (missed bool, err error) {
	return b.c.CloseIncident(ctx, id, review)
}

// Status returns the server's schedule check (status).
func (b *Backend) Status(ctx context.Context) (*rotate.StatusReport, error) {
	var rep rotate.StatusReport
	raw, err := b.c.Status(ctx)
	if err := decode(raw, err, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Keys returns the server's key table (key list).
func (b *Backend) Keys(ctx context.Context) (*rotate.StatusReport, error) {
	var rep rotate.StatusReport
	raw, err := b.c.Keys(ctx)
	if err := decode(raw, err, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Verify has the server verify every stored version (verify).
func (b *Backend) Verify(ctx context.Context) (*secrets.Report, error) {
	var rep secrets.Report
	raw, err := b.c.Verify(ctx)
	if err := decode(raw, err, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
