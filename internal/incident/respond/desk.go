package respond

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/scan"
)

// Desk is where the incident verbs act: the local store ([Local]) or a
// server (remote.Backend), in the same shapes.
type Desk interface {
	// OpenIncident is [Responder.Open].
	OpenIncident(ctx context.Context, name, reason string, revoke bool) (*Opened, error)
	// IncidentStatus is [Responder.Status] at the present time.
	IncidentStatus(ctx context.Context, id string, all bool) ([]Status, error)
	// IncidentReport is [Responder.Report].
	IncidentReport(ctx context.Context, id string, since time.Time) (*incident.Report, error)
	// CloseIncident is [Responder.Close], and says whether a deadline of
	// the incident was missed.
	CloseIncident(ctx context.Context, id, review string) (missed bool, err error)
}

// Local is the Desk of the local store: the responder works on it
// directly.
type Local struct{ *Responder }

var _ Desk = Local{}

// OpenIncident is [Responder.Open].
func (l Local) OpenIncident(ctx context.Context, name, reason string, revoke bool) (*Opened, error) {
	return l.Open(ctx, name, reason, revoke)
}

// IncidentStatus is [Responder.Status] at Now.
func (l Local) IncidentStatus(ctx context.Context, id string, all bool) ([]Status, error) {
	return l.Status(ctx, id, all, l.Now())
}

// IncidentReport is [Responder.Report].
func (l Local) IncidentReport(ctx context.Context, id string, since time.Time) (*incident.Report, error) {
	return l.Report(ctx, id, since)
}

// CloseIncident is [Responder.Close].
func (l Local) CloseIncident(ctx context.Context, id, review string) (bool, error) {
	inc, err := l.Close(ctx, id, review)
	if err != nil {
		return false, err
	}
	return inc.AnyMissed(l.Now()), nil
}

// WriteNotes writes to w, for the operator, the steps Open could not do
// and what is left to do about the secret name: deploy the replacement,
// or put a new value.
func (o *Opened) WriteNotes(w io.Writer, name string) {
	for _, warn := range o.Warnings {
		fmt.Fprintf(w, "sa01-secrets: warning: %s\n", scan.Printable(warn))
	}
	fmt.Fprintf(w, "sa01-secrets: %s version %d is compromised and no longer served\n", scan.PrintableName(name), o.CompromisedVersion)
	if o.NeedsPut {
		fmt.Fprintf(w, "hint: a new value is needed within 1 hour: sa01-secrets put %s < new-value\n", scan.PrintableName(name))
	} else {
		fmt.Fprintf(w, "sa01-secrets: version %d holds a new random value; deploy it within 1 hour\n", o.NewVersion)
	}
}
