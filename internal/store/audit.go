package store

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
)

// Audit keeps the audit chain: its events in seq order, its checkpoints,
// and the cursors of the publishers that ship it elsewhere (the table is
// their outbox).
type Audit interface {
	audit.Appender // AppendAudit: one transaction under the chain's lock
	audit.Guarding // Guards: true; AppendAudit reads the generation for a guarded event
	audit.Outbox   // AuditAfter, AuditCursor, SetAuditCursor, LockPublisher
	audit.KeyStore // AuditKeys, AddAuditKey, DeleteAuditKey: the wrapped audit key

	// QueryAudit returns the entries q selects, oldest first.
	QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error)
	// WalkAudit calls fn with batches of at most batch entries in seq
	// order, in bounded memory. An error from fn stops the walk.
	WalkAudit(ctx context.Context, batch int, fn func([]audit.Entry) error) error
	// AuditCheckpoints returns every checkpoint, oldest first.
	AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error)
	// AuditHead returns the chain's head (audit.EmptyHead when empty).
	AuditHead(ctx context.Context) (audit.Head, error)
}

// Incidents keeps incident records.
type Incidents interface {
	// CreateIncident stores a new incident. ErrConflict if the ID exists.
	CreateIncident(ctx context.Context, inc *incident.Incident) error
	// UpdateIncident replaces a stored incident. ErrNotFound.
	UpdateIncident(ctx context.Context, inc *incident.Incident) error
	// Incident returns one incident. ErrNotFound.
	Incident(ctx context.Context, id string) (*incident.Incident, error)
	// ListIncidents returns incidents, newest first; open ones only unless all.
	ListIncidents(ctx context.Context, all bool) ([]*incident.Incident, error)
}
