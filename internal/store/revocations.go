package store

import "context"

// Revocations announces, to every node sharing the store, that something
// an authenticated caller relies on changed: a token revoked or deleted, an
// identity revoked, a credential revoked or cut short by a rotation. The
// token and identity caches of each node drop what they hold of the
// identity named, so that a revocation anywhere is effective everywhere
// at once rather than when the caches next poll the store.
//
// On PostgreSQL the announcement is a NOTIFY sent by a trigger in the
// transaction that makes the change (migration 00009), so a change rolled
// back announces nothing, and every change is announced whichever program
// makes it (a node, the CLI, psql). The embedded SQLite store serves one
// node, whose revocations invalidate its caches in process:
// WatchRevocations returns nil at once.
type Revocations interface {
	// WatchRevocations calls h's functions for every announcement until
	// ctx is done, reconnecting with backoff when its connection drops.
	// It returns nil when the store has nothing to watch.
	WatchRevocations(ctx context.Context, h RevocationHandler) error
}

// RevocationHandler receives announcements. Every function may be nil.
type RevocationHandler struct {
	// Revoked names the identity whose token, credential or self changed.
	Revoked func(identity string)
	// Resync says that announcements may have been missed (the listener
	// has just (re)connected): forget every cached record.
	Resync func()
	// Dropped reports that the listener's connection failed; it
	// reconnects after a backoff. The error never holds a credential.
	Dropped func(err error)
	// Listening reports a new listening connection by its server process
	// ID (tests end it to check the reconnect).
	Listening func(pid uint32)
}
