package identity

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// Audit actions of identity management, the server's and the CLI's alike.
const (
	ActionAdd    = "identity-add"
	ActionList   = "identity-list"
	ActionRotate = "identity-rotate"
	ActionRevoke = "identity-revoke"
)

// AddedEvent is the audit event of a new identity: never its credential.
func AddedEvent(is Issued) audit.Event {
	d := "identity " + is.Identity.Name + " (" + string(is.Identity.Kind)
	if is.Identity.Role != "" {
		d += ", role " + string(is.Identity.Role)
	}
	return audit.Event{Action: ActionAdd, Outcome: audit.Success, Detail: d + "), credential " + is.Record.ID}
}

// RotatedEvent is the audit event of a rotation: the new credential's ID,
// never the credential.
func RotatedEvent(name string, is Issued, grace time.Duration) audit.Event {
	return audit.Event{Action: ActionRotate, Outcome: audit.Success,
		Detail: "identity " + name + ", credential " + is.Record.ID + ", previous ones valid for " + grace.String()}
}

// RevokedEvent is the audit event of a revocation.
func RevokedEvent(name string) audit.Event {
	return audit.Event{Action: ActionRevoke, Outcome: audit.Success, Detail: "identity " + name + ", every credential and token"}
}

// Audited manages identities beside the store (the CLI without a server),
// recording every change with Rec under the caller of the context. A
// change the audit cannot record does not stand: a new identity is
// revoked, a new credential is never returned; the error is
// audit.ErrNotRecorded.
type Audited struct {
	*Manager
	Rec audit.Recorder
}

func (a Audited) record(ctx context.Context, ev audit.Event) error {
	if err := a.Rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return audit.ErrNotRecorded
	}
	return nil
}

// Init is [Manager.Init], audited.
func (a Audited) Init(ctx context.Context) (Issued, error) {
	is, err := a.Manager.Init(ctx)
	if err != nil {
		return is, err
	}
	if err := a.record(ctx, AddedEvent(is)); err != nil {
		_, _ = a.Manager.Revoke(ctx, is.Identity.Name)
		return Issued{}, err
	}
	return is, nil
}

// Add is [Manager.Add], audited.
func (a Audited) Add(ctx context.Context, name string, o AddOptions) (Issued, error) {
	is, err := a.Manager.Add(ctx, name, o)
	if err != nil {
		return is, err
	}
	if err := a.record(ctx, AddedEvent(is)); err != nil {
		_, _ = a.Manager.Revoke(ctx, name) // an unaudited identity must not live
		return Issued{}, err
	}
	return is, nil
}

// Rotate is [Manager.Rotate], audited.
func (a Audited) Rotate(ctx context.Context, name string, grace time.Duration) (Issued, error) {
	is, err := a.Manager.Rotate(ctx, name, grace)
	if err != nil {
		return is, err
	}
	if err := a.record(ctx, RotatedEvent(name, is, grace)); err != nil {
		return Issued{}, err // the new credential is never shown: unusable
	}
	return is, nil
}

// Revoke is [Manager.Revoke], audited.
func (a Audited) Revoke(ctx context.Context, name string) (int, error) {
	n, err := a.Manager.Revoke(ctx, name)
	if err != nil {
		return n, err
	}
	return n, a.record(ctx, RevokedEvent(name))
}

// Listed records that the identities were listed.
func (a Audited) Listed(ctx context.Context) error {
	return a.record(ctx, audit.Event{Action: ActionList, Outcome: audit.Success})
}
