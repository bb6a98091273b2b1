package storebackend

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// The console's incidents are the Secret Compromise Procedure of package
// respond, as `sa01-secrets incident` runs it: open marks the version
// compromised, revokes the tokens of the services that read it and writes
// a generated replacement where the class allows; the report and the
// close are its own. The console only authorizes and renders.

// responder runs the procedure for who.
func (b *Backend) responder(who console.Identity) *respond.Responder {
	return &respond.Responder{Store: b.st, Secrets: b.service, Recorder: b.o.Recorder, Now: b.now, Actor: who.Name}
}

// Incidents implements console.Incidents.
func (b *Backend) Incidents(ctx context.Context, who console.Identity, all bool) ([]*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentReport, "incident-status", ""); err != nil {
		return nil, err
	}
	return b.responder(who).Current(ctx, "", all)
}

// Incident implements console.Incidents.
func (b *Backend) Incident(ctx context.Context, who console.Identity, id string) (*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentReport, "incident-status", ""); err != nil {
		return nil, err
	}
	incs, err := b.responder(who).Current(ctx, id, false)
	if err != nil {
		return nil, err
	}
	return incs[0], nil
}

// incident reads incident id for who to do a (a refusal audited as
// auditAction on its secret).
func (b *Backend) incidentFor(ctx context.Context, who console.Identity, id string, a console.Action, auditAction string) (*incident.Incident, error) {
	inc, err := b.st.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, who, a, auditAction, inc.Secret); err != nil {
		return nil, err
	}
	return inc, nil
}

// OpenIncident implements console.Incidents with respond.Responder.Open,
// revoking the readers' tokens ("revoke now").
func (b *Backend) OpenIncident(ctx context.Context, who console.Identity, name, reason string) (*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentRespond, respond.ActionOpen, name); err != nil {
		return nil, err
	}
	sec, err := b.st.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	if sec.Deleted() {
		return nil, store.ErrDeleted
	}
	r := b.responder(who)
	op, err := r.Open(ctx, name, reason, true)
	if err != nil {
		return nil, err
	}
	incs, err := r.Current(ctx, op.ID, false)
	if err != nil {
		return nil, err
	}
	return incs[0], nil
}

// ReportIncident implements console.Incidents with
// respond.Responder.ReportNote.
func (b *Backend) ReportIncident(ctx context.Context, who console.Identity, id, note string) (*incident.Report, error) {
	inc, err := b.incidentFor(ctx, who, id, console.ActIncidentReport, respond.ActionReport)
	if err != nil {
		return nil, err
	}
	if inc.Closed() {
		return nil, incident.ErrClosed
	}
	return b.responder(who).ReportNote(ctx, id, time.Time{}, note)
}

// CloseIncident implements console.Incidents with respond.Responder.Close.
func (b *Backend) CloseIncident(ctx context.Context, who console.Identity, id, review string) (*incident.Incident, error) {
	if _, err := b.incidentFor(ctx, who, id, console.ActIncidentRespond, respond.ActionClose); err != nil {
		return nil, err
	}
	return b.responder(who).Close(ctx, id, review)
}
