package store

import (
	"context"
	"errors"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// ErrNotEmpty: a load was asked of a store that already holds records.
var ErrNotEmpty = errors.New("store: not empty")

// Dumps reads a whole store as it was at one instant, and loads a whole
// store into an empty one, keeping every row ID, sequence number and hash
// as it was: what backup, restore and migrate need (docs/backup.md).
type Dumps interface {
	// Snapshot opens a consistent read of the whole store: one read
	// transaction (SQLite's WAL snapshot; PostgreSQL's REPEATABLE READ),
	// taken while other readers and writers go on. Close ends it.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Load opens one write transaction into a store that holds no
	// secret, version, key, token, identity, credential, incident or audit event (else
	// ErrNotEmpty). Nothing is visible until Commit; Rollback (or a
	// failed Commit) leaves the store empty.
	Load(ctx context.Context) (Loader, error)
}

// Snapshot reads every table of a store, each in its row order, in
// bounded memory: each call streams its rows to fn, which must not keep
// the slice it is given. An error from fn stops the read and is returned.
type Snapshot interface {
	Keys(ctx context.Context, fn func([]KeyInfo) error) error
	// Secrets: deleted ones included, in ID order.
	Secrets(ctx context.Context, fn func([]Secret) error) error
	// Versions: destroyed and compromised ones included, in ID order,
	// with SecretID set.
	Versions(ctx context.Context, fn func([]Version) error) error
	Tokens(ctx context.Context, fn func([]token.Record) error) error
	// Identities: revoked ones included, in name order.
	Identities(ctx context.Context, fn func([]identity.Identity) error) error
	// Credentials: hashes as stored, revoked and expired ones included.
	Credentials(ctx context.Context, fn func([]identity.Credential) error) error
	Incidents(ctx context.Context, fn func([]*incident.Incident) error) error
	// AuditKeys: the audit key as stored, wrapped under each Fernet key;
	// never the key itself.
	AuditKeys(ctx context.Context, fn func([]AuditKey) error) error
	AuditCheckpoints(ctx context.Context, fn func([]audit.Checkpoint) error) error
	AuditEvents(ctx context.Context, fn func([]audit.Entry) error) error
	AuditCursors(ctx context.Context, fn func([]AuditCursor) error) error
	Close() error
}

// AuditKey is one row of the audit key's wrappings: the audit key
// wrapped under the Fernet key KeyID, and when that wrapping was made.
type AuditKey struct {
	audit.WrappedKey
	CreatedAt time.Time
}

// AuditCursor is how far one publisher shipped the audit chain.
type AuditCursor struct {
	Name string
	Seq  int64
}

// Loader writes rows as they are: IDs, version numbers, sequence numbers
// and hashes kept. Versions need their secrets first, as the snapshot
// gives them.
type Loader interface {
	Keys(ctx context.Context, ks []KeyInfo) error
	Secrets(ctx context.Context, ss []Secret) error
	Versions(ctx context.Context, vs []Version) error
	Tokens(ctx context.Context, ts []token.Record) error
	Identities(ctx context.Context, ids []identity.Identity) error
	// Credentials need their identities first, as the snapshot gives them.
	Credentials(ctx context.Context, cs []identity.Credential) error
	Incidents(ctx context.Context, is []*incident.Incident) error
	AuditKeys(ctx context.Context, ks []AuditKey) error
	AuditCheckpoints(ctx context.Context, cps []audit.Checkpoint) error
	AuditEvents(ctx context.Context, es []audit.Entry) error
	AuditCursors(ctx context.Context, cs []AuditCursor) error
	// Commit makes the load visible, moving the store's ID sequences past
	// the rows loaded.
	Commit(ctx context.Context) error
	Rollback() error
}
