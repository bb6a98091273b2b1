package store

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// Pages are the paged reads of the operators' console: a page of secrets
// by name (keyset on the unique index of names), the folders under a
// prefix, a secret's newest access by action, and a page of audit events
// before a sequence number. Each reads one page, never a whole table.
type Pages interface {
	// SecretPage returns up to q.Limit secrets after q.After, by name.
	SecretPage(ctx context.Context, q SecretPageQuery) (SecretPage, error)
	// SecretFolders returns the next path segments under prefix that
	// hold secrets ("openai" for llm/openai/key under "llm/"), sorted, at
	// most limit of them.
	SecretFolders(ctx context.Context, prefix string, deleted bool, limit int) ([]string, error)
	// LastAccess returns the newest successful event on the secret name
	// whose action is one of actions; ok is false when there is none.
	LastAccess(ctx context.Context, name string, actions []string) (e audit.Entry, ok bool, err error)
	// AuditPage returns a page of the events q selects, newest first.
	AuditPage(ctx context.Context, q AuditPageQuery) (AuditPage, error)
}

// SecretPageQuery selects a page of secrets.
type SecretPageQuery struct {
	// Prefix is the folder ("llm/"; "" for the top). Without Search,
	// only its own secrets (no further '/' after it) are listed.
	Prefix string
	// Search, when set, selects the names under Prefix, at every level,
	// that contain it, case-insensitively.
	Search string
	After  string // the last name of the previous page ("": the first)
	Limit  int    // rows of the page (at least 1)
	// Deleted includes soft-deleted secrets.
	Deleted bool
}

// SecretPage is one page of secrets.
type SecretPage struct {
	Secrets []Secret
	Next    string // the After of the next page; "" when this is the last
}

// AuditPageQuery selects a page of audit events. Zero fields match
// everything.
type AuditPageQuery struct {
	Secret  string
	Service string // the identity the event names
	Action  string
	Outcome string    // audit.Success or audit.Failure
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Before  int64     // only events with a smaller seq (0: from the newest)
	Limit   int       // events of the page (at least 1)
	// Window bounds how many events (by seq) a page examines when no
	// index serves its filters (neither Secret nor Service is set, and
	// another filter is): 0 is DefaultAuditWindow.
	Window int64
}

// DefaultAuditWindow is AuditPageQuery.Window's default.
const DefaultAuditWindow = 50_000

// AuditPage is one page of audit events.
type AuditPage struct {
	Events []audit.Entry // newest first
	Next   int64         // the Before of the next (older) page; 0 when this is the last
	// LookedTo, when not 0, says the page examined events down to this
	// seq only (the window ran out before the page filled): Next goes on
	// below.
	LookedTo int64
}
