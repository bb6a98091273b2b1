package consoletest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// The incident verbs here follow `sa01-secrets incident open|report|close`
// on a store: the compromised version is marked, the incident saved with
// the policy's deadlines, each step audited. (Revoking services' tokens
// and generating a replacement are the server's; a replacement comes from
// Rotate or Put here.)

// Audit actions of incident response, as the CLI records them.
const (
	actionIncidentOpen   = "incident-open"
	actionIncidentReport = "incident-report"
	actionIncidentClose  = "incident-close"
)

// refresh marks the new-secret step done once a newer, servable version of
// the secret exists, at the time it was written.
func (b *Backend) refresh(ctx context.Context, inc *incident.Incident) (bool, error) {
	if s := inc.Step(incident.StepNewSecret); s == nil || !s.Done.IsZero() {
		return false, nil
	}
	vs, err := b.DB.History(ctx, inc.Secret)
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

// fresh returns an incident with its steps refreshed (and saved).
func (b *Backend) fresh(ctx context.Context, id string) (*incident.Incident, error) {
	inc, err := b.DB.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	changed, err := b.refresh(ctx, inc)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := b.DB.UpdateIncident(ctx, inc); err != nil {
			return nil, err
		}
	}
	return inc, nil
}

func (b *Backend) recordIncident(ctx context.Context, action string, inc *incident.Incident) error {
	return b.Record(ctx, audit.Event{Action: action, Secret: inc.Secret, Version: inc.Version, Outcome: audit.Success, Detail: "incident " + inc.ID})
}

// incidentFor reads incident id for who to do a (a refusal audited as
// auditAction on its secret), with its steps refreshed.
func (b *Backend) incidentFor(ctx context.Context, who console.Identity, id string, a console.Action, auditAction string) (*incident.Incident, error) {
	inc, err := b.DB.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, who, a, auditAction, inc.Secret); err != nil {
		return nil, err
	}
	if _, err := b.refresh(ctx, inc); err != nil {
		return nil, err
	}
	return inc, nil
}

// Incidents implements console.Incidents.
func (b *Backend) Incidents(ctx context.Context, who console.Identity, all bool) ([]*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentReport, "incident-status", ""); err != nil {
		return nil, err
	}
	incs, err := b.DB.ListIncidents(ctx, all)
	if err != nil {
		return nil, err
	}
	for i, inc := range incs {
		if incs[i], err = b.fresh(ctx, inc.ID); err != nil {
			return nil, err
		}
	}
	return incs, nil
}

// Incident implements console.Incidents.
func (b *Backend) Incident(ctx context.Context, who console.Identity, id string) (*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentReport, "incident-status", ""); err != nil {
		return nil, err
	}
	return b.fresh(ctx, id)
}

// OpenIncident implements console.Incidents.
func (b *Backend) OpenIncident(ctx context.Context, who console.Identity, name, reason string) (*incident.Incident, error) {
	if err := b.authorize(ctx, who, console.ActIncidentRespond, actionIncidentOpen, name); err != nil {
		return nil, err
	}
	sec, err := b.DB.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	if sec.Deleted() {
		return nil, store.ErrDeleted
	}
	if sec.CurrentVersion == 0 {
		return nil, fmt.Errorf("%s has no version to mark compromised: %w", name, store.ErrNotFound)
	}
	now := b.now().UTC()
	inc := incident.Open(incident.NewID(now), name, sec.CurrentVersion, reason, who.Name, now)
	if err := b.DB.MarkCompromised(ctx, name, sec.CurrentVersion, now); err != nil {
		return nil, err
	}
	inc.Log(now, "version %d of %s marked compromised: never served again (reason: %s)", sec.CurrentVersion, name, reason)
	inc.Log(now, "a new value is needed: rotate %s", name)
	if err := b.DB.CreateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return inc, b.recordIncident(ctx, actionIncidentOpen, inc)
}

// ReportIncident implements console.Incidents.
func (b *Backend) ReportIncident(ctx context.Context, who console.Identity, id, note string) (*incident.Report, error) {
	inc, err := b.incidentFor(ctx, who, id, console.ActIncidentReport, actionIncidentReport)
	if err != nil {
		return nil, err
	}
	if inc.Closed() {
		return nil, incident.ErrClosed
	}
	since := time.Time{}
	if vs, err := b.DB.History(ctx, inc.Secret); err == nil {
		for _, v := range vs {
			if v.Version == inc.Version {
				since = v.CreatedAt
			}
		}
	}
	es, err := b.DB.QueryAudit(ctx, audit.Query{Secret: inc.Secret, Since: since})
	if err != nil {
		return nil, err
	}
	at := b.now().UTC()
	inc.MarkDone(incident.StepAuditLogs, at)
	if !inc.Step(incident.StepNewSecret).Done.IsZero() {
		inc.MarkDone(incident.StepReport, at)
	}
	rep := incident.BuildReport(inc, es, since, at)
	inc.Log(at, "report written by %s: %d accesses since %s; %d identities still hold the old version",
		who.Name, len(rep.Accesses), since.UTC().Format(time.RFC3339), len(rep.StillHoldOld))
	if note != "" {
		inc.Log(at, "note by %s: %s", who.Name, note)
	}
	rep.Status = inc.Status(at)
	if err := b.DB.UpdateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return rep, b.recordIncident(ctx, actionIncidentReport, inc)
}

// CloseIncident implements console.Incidents.
func (b *Backend) CloseIncident(ctx context.Context, who console.Identity, id, review string) (*incident.Incident, error) {
	inc, err := b.incidentFor(ctx, who, id, console.ActIncidentRespond, actionIncidentClose)
	if err != nil {
		return nil, err
	}
	if err := inc.Close(review, b.now()); err != nil {
		return nil, err
	}
	if err := b.DB.UpdateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return inc, b.recordIncident(ctx, actionIncidentClose, inc)
}
