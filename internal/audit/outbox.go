package audit

import "context"

// Outbox is the side of the store that ships the chain elsewhere: the
// audit table itself is the outbox, read in seq order, and a named cursor
// records how far a publisher got.
type Outbox interface {
	// AuditAfter returns up to limit entries with seq > after, in seq order.
	AuditAfter(ctx context.Context, after int64, limit int) ([]Entry, error)
	// AuditCursor returns the last seq the named publisher shipped, 0 if none.
	AuditCursor(ctx context.Context, name string) (int64, error)
	// SetAuditCursor records that the named publisher shipped up to seq.
	SetAuditCursor(ctx context.Context, name string, seq int64) error
}

// Notifier is told when new entries are committed, so a publisher need not
// wait for its next poll. Notify never blocks.
type Notifier interface {
	Notify()
}
