package audit

import "context"

// Outbox is the side of the store that ships the chain elsewhere: the
// audit table itself is the outbox, read in seq order, and a named cursor
// records how far a publisher got. Publishers of one cursor take turns
// under its lock: each node running serve with Kafka configured starts a
// publisher, and two shipping one cursor at once would send every event
// twice.
type Outbox interface {
	// AuditAfter returns up to limit entries with seq > after, in seq order.
	AuditAfter(ctx context.Context, after int64, limit int) ([]Entry, error)
	// AuditCursor returns the last seq the named publisher shipped, 0 if none.
	AuditCursor(ctx context.Context, name string) (int64, error)
	// SetAuditCursor records that the named publisher shipped up to seq.
	SetAuditCursor(ctx context.Context, name string, seq int64) error
	// LockPublisher takes the lock of the named cursor's publisher
	// without waiting. ok is false when another process (or another
	// publisher of this one) holds it. unlock releases it; a process
	// that dies releases it too.
	LockPublisher(ctx context.Context, name string) (unlock func() error, ok bool, err error)
}

// Notifier is told when new entries are committed, so a publisher need not
// wait for its next poll. Notify never blocks.
type Notifier interface {
	Notify()
}
