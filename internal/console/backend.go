package console

import (
	"context"
	"errors"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Backend is everything the console needs of sa01-secrets. Package
// storebackend implements it over sa01-secrets' own packages (the store's
// paged reads, the identities, identity.Decide and the API's gate, the
// secrets service, the audit chain, the rotation status, incident
// response), and serve mounts the console over it; consoletest wraps it on
// a SQLite store for the tests.
//
// Every method that acts for an operator takes the operator (who) and a
// context carrying the audit.Caller the console stamped (the identity's
// name as Service, the session's accessor as Actor, the request's ID and
// source). The backend, not the console, decides: it authorizes each
// action by who's role, answers a refusal with an error wrapping ErrDenied
// whether or not the secret exists, audits refusals, and records every
// access in the audit trail before it returns a value. Can only shapes the
// pages.
type Backend interface {
	Auth
	Secrets
	Access
	Audit
	Keys
	Incidents
}

// Auth signs operators in and records what the console does itself.
type Auth interface {
	// Authenticate returns the identity a credential belongs to, service or
	// operator (the console refuses services). An unknown, expired or
	// revoked credential is ErrBadCredential; the credential never appears
	// in an error.
	Authenticate(ctx context.Context, credential sensitive.String) (Identity, error)
	// Identify returns who as it stands now (its role may have changed),
	// or ErrBadCredential once the identity or the credential it signed in
	// with is revoked or expired. The console asks on every request, so a
	// revocation ends every session at once.
	Identify(ctx context.Context, who Identity) (Identity, error)
	// Can reports whether who may perform a on the secret name ("" for an
	// action on no secret). It shapes pages (no Reveal button for an
	// auditor) and records nothing; the methods below decide again.
	Can(ctx context.Context, who Identity, a Action, name string) bool
	// Record records an event of the console itself (sign-in, sign-out, an
	// audit download), stamped from ctx. An error means it was not
	// recorded, and what it describes must not happen.
	Record(ctx context.Context, ev audit.Event) error
}

// Secrets serves secrets: metadata, audited reveals, and writes with
// check-and-set.
type Secrets interface {
	// ListSecrets returns one page of the secrets who may list, by name,
	// with the folders under q.Prefix, without values. It is paged in the
	// store (keyset by name), never by reading every secret.
	ListSecrets(ctx context.Context, who Identity, q SecretQuery) (SecretPage, error)
	// Secret returns one secret (deleted or not) with its versions and who
	// read and revealed it last; no value.
	Secret(ctx context.Context, who Identity, name string) (SecretDetail, error)
	// Reveal decrypts version (0: the current one) for who and records it
	// as a `reveal` by who before it returns; how says where the value
	// goes (on screen, or to the clipboard).
	Reveal(ctx context.Context, who Identity, name string, version int, how RevealHow) (Revealed, error)
	// Diff compares value with the current version without showing
	// either: see [MaskedDiff]. The backend decrypts the current version
	// to compare, and records that as a `diff` by who.
	Diff(ctx context.Context, who Identity, name string, value sensitive.String) (Diff, error)
	// Put writes value as a new version; o.CAS is required (0: the secret
	// must not exist). store.ErrConflict when another version was written.
	Put(ctx context.Context, who Identity, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error)
	// Rollback writes the value of version to as a new version, if the
	// current version is still cas.
	Rollback(ctx context.Context, who Identity, name string, to, cas int) (store.Version, error)
	// Delete soft-deletes a secret; Undelete restores it.
	Delete(ctx context.Context, who Identity, name string) error
	Undelete(ctx context.Context, who Identity, name string) error
	// Rotate writes a new version for a secret being replaced (a responder
	// may rotate a secret with an open incident or a compromised current
	// version): value, or a generated one when value is empty and the
	// class is one sa01-secrets generates (encryption-key,
	// internal-token). The current version must still be cas.
	Rotate(ctx context.Context, who Identity, name string, value sensitive.String, cas int) (store.Version, error)
}

// Access answers who may do what, from the YAML policy, OPA and the roles.
type Access interface {
	// Readers returns every identity that may read the secret's value,
	// and the rule that lets it.
	Readers(ctx context.Context, who Identity, name string) ([]Reader, error)
	// Explain decides identity × action × secret as an access would be
	// decided, without performing it, and says which rule decided.
	Explain(ctx context.Context, who Identity, q AccessQuery) (Decision, error)
	// Identities lists the known identities, for the simulator.
	Identities(ctx context.Context, who Identity) ([]Identity, error)
}

// Audit reads the audit trail.
type Audit interface {
	// QueryAudit returns one page of the events q selects, newest first,
	// paged in the store by sequence number.
	QueryAudit(ctx context.Context, who Identity, q AuditQuery) (AuditPage, error)
	// ChainState says how far the chain is verified and how far each sink
	// has shipped it. It never verifies more than a bounded number of
	// events per call: a long chain is verified over several calls.
	ChainState(ctx context.Context, who Identity) (ChainState, error)
}

// Keys reports the key ring and what is due for rotation.
type Keys interface {
	Keys(ctx context.Context, who Identity) (KeyReport, error)
}

// Incidents runs the policy's Secret Compromise Procedure.
type Incidents interface {
	// Incidents returns incidents, newest first: open ones, or all.
	Incidents(ctx context.Context, who Identity, all bool) ([]*incident.Incident, error)
	// Incident returns one incident (incident.ErrNotFound or
	// store.ErrNotFound when there is none).
	Incident(ctx context.Context, who Identity, id string) (*incident.Incident, error)
	// OpenIncident declares the current version of the secret name
	// compromised (never served again) and starts the clock.
	OpenIncident(ctx context.Context, who Identity, name, reason string) (*incident.Incident, error)
	// ReportIncident builds the incident report from the audit trail,
	// marks the audit step (and the report step once the new secret is
	// in place) done, and adds note, when not empty, to the timeline.
	ReportIncident(ctx context.Context, who Identity, id, note string) (*incident.Report, error)
	// CloseIncident closes the incident with the review of procedures.
	// incident.ErrClosed when it is closed already.
	CloseIncident(ctx context.Context, who Identity, id, review string) (*incident.Incident, error)
}

// Identity kinds.
const (
	KindService  = "service"
	KindOperator = "operator"
)

// Operator roles (docs/identities.md).
const (
	RoleAdmin     = "admin"     // everything
	RoleAuditor   = "auditor"   // audit and reports, no values
	RoleResponder = "responder" // incidents, rotation of a compromised secret
)

// Identity is a caller: a service or an operator with a role.
type Identity struct {
	Name string
	Kind string // KindService or KindOperator
	Role string // an operator's role; "" for a service
	// Credential is the non-secret ID of the credential it signed in
	// with, so that Identify can tell when that credential is revoked.
	Credential string
}

// Operator reports whether the identity is a person.
func (id Identity) Operator() bool { return id.Kind == KindOperator }

// Action is what the console asks Can about.
type Action string

// Actions. They follow the role table of docs/identities.md.
const (
	ActList            Action = "list"             // names, metadata, history: every operator
	ActReveal          Action = "reveal"           // a value, on screen or to the clipboard: admin
	ActWrite           Action = "write"            // put, rollback, delete, undelete: admin
	ActRotate          Action = "rotate"           // admin; a responder for a secret with an open incident or a compromised version
	ActIncidentRespond Action = "incident-respond" // open and close incidents: admin, responder
	ActIncidentReport  Action = "incident-report"  // see incidents, write the report: every operator
	ActAudit           Action = "audit"            // read and download the audit trail: every operator
	ActKeys            Action = "keys"             // the key ring and rotation status: every operator
	ActExplain         Action = "explain"          // who can read, the simulator: every operator
)

// Errors a backend returns (wrapped); the console maps them, and those of
// store, secrets, audit and incident, to pages in errors.go.
var (
	// ErrBadCredential: an unknown, expired or revoked credential.
	ErrBadCredential = errors.New("console: invalid credential")
	// ErrDenied: who may not do it, whether or not the secret exists.
	ErrDenied = errors.New("console: permission denied")
	// ErrUnavailable: what the page needs cannot be read now (the store,
	// OPA).
	ErrUnavailable = errors.New("console: unavailable")
)

// SecretQuery selects a page of secrets.
type SecretQuery struct {
	Prefix  string // the folder shown ("llm/"; "" for the top): its own secrets, and its subfolders
	Search  string // instead: names containing this, case-insensitively, at every level under Prefix
	After   string // the last name of the previous page ("": the first page)
	Limit   int    // at most this many rows (0: DefaultPageSize)
	Deleted bool   // soft-deleted secrets too
}

// DefaultPageSize is the rows of a page when a query sets no limit.
const DefaultPageSize = 50

// MaxPageSize bounds any page.
const MaxPageSize = 500

// SecretPage is one page of secrets.
type SecretPage struct {
	Rows []SecretRow
	// Folders are the next path segments under the prefix that hold
	// secrets ("openai" for llm/openai/key under llm/), sorted, at most
	// MaxFolders; empty when searching.
	Folders []string
	// Next is the After of the next page, "" when this is the last.
	Next string
}

// MaxFolders bounds SecretPage.Folders.
const MaxFolders = 200

// SecretRow is a secret's metadata as a row of the list: never a value.
type SecretRow struct {
	Secret      store.Secret
	RotationDue time.Time  // zero: no scheduled rotation
	LastRead    LastAccess // zero: never read
}

// Overdue reports whether the secret's rotation is due before now.
func (r SecretRow) Overdue(now time.Time) bool {
	return !r.RotationDue.IsZero() && r.RotationDue.Before(now)
}

// LastAccess is one past access: by whom and when.
type LastAccess struct {
	Identity string // the identity (service or operator), or the actor of local use
	Time     time.Time
	Action   string
	Version  int
}

// Never reports whether there was no such access.
func (a LastAccess) Never() bool { return a.Time.IsZero() }

// SecretDetail is a secret's page, without its value.
type SecretDetail struct {
	Row          SecretRow
	Versions     []store.Version // oldest first; tokens cleared
	LastRevealed LastAccess
	// Incidents are the secret's open incidents.
	Incidents []*incident.Incident
}

// Current returns the current version's record, or the zero Version.
func (d SecretDetail) Current() store.Version {
	for _, v := range d.Versions {
		if v.Version == d.Row.Secret.CurrentVersion {
			return v
		}
	}
	return store.Version{}
}

// RevealHow says where a revealed value goes; it is recorded in the
// reveal's audit event.
type RevealHow string

// Where a value goes.
const (
	RevealScreen    RevealHow = "screen"
	RevealClipboard RevealHow = "clipboard"
)

// Revealed is a decrypted version.
type Revealed struct {
	Version store.Version
	Value   sensitive.String
}

// Reader is an identity that may read a secret's value, and why.
type Reader struct {
	Identity Identity
	Rule     string // the rule that grants it, as Decision.Rule
}

// AccessQuery is one question to the simulator.
type AccessQuery struct {
	Identity string // an identity's name
	Action   string // read, list or write (as the YAML policy), or an operator action of the role table
	Secret   string
}

// Decision is the answer to an AccessQuery.
type Decision struct {
	Allowed     bool
	Unavailable bool   // refused because OPA did not answer in time
	DecidedBy   string // "policy", "opa", "role" or "none"
	Rule        string // one line: the rule, or why none applies
	Identity    Identity
}

// AuditQuery selects audit events. Zero fields match everything.
type AuditQuery struct {
	Secret   string
	Identity string
	Action   string
	Outcome  string    // audit.Success, audit.Failure or ""
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Before   int64     // only events with a smaller sequence number (0: from the newest)
	Limit    int       // 0: DefaultPageSize
}

// AuditPage is one page of events.
type AuditPage struct {
	Events []audit.Entry // newest first
	Next   int64         // Before of the next (older) page; 0 when this is the last
	// LookedTo, when not 0, says that the page examined the events down
	// to this one only (filters no index serves are searched a bounded
	// window at a time), and may hold fewer events than it could: Next
	// goes on below.
	LookedTo int64
}

// ChainState is the audit chain's state for the badge.
type ChainState struct {
	Head       int64 // the newest event's sequence number
	Verified   int64 // events verified in order from the first: "verified up to event N"
	VerifiedAt time.Time
	Problem    *audit.Problem // the first sign of tampering, if any
	// LastCheckpoint is the newest checkpoint, if any, and whether its MAC
	// verified under a loaded key.
	LastCheckpoint *audit.Checkpoint
	Authenticated  bool
	Sinks          []SinkState
}

// SinkState is how far a sink has the chain.
type SinkState struct {
	Name    string // "file /var/log/sa01/audit.jsonl", "kafka sa01.audit"
	Shipped int64  // the last event it holds (its publisher's cursor)
	Lag     int64  // events of the chain it does not hold yet
	Err     string // why it is not taking events, if it is not
}

// KeyReport is the key ring and what is due.
type KeyReport struct {
	Status *rotate.StatusReport
	// Retire says, per key ID, why the key may not be retired yet; a key
	// that may be retired now has "" (and one already retired has no
	// entry).
	Retire map[string]string
	// UnderPrimary and Live count live versions: under the primary key,
	// and in all. Re-encryption is done when they are equal.
	UnderPrimary, Live int64
	// Targets are the places outside the store that hold tokens under
	// the keys (the platform's Redis hash, its PostgreSQL tables), as a
	// background check last read them at TargetsCheckedAt (zero: not
	// read yet; then again every TargetsEvery). TargetsErr says why that
	// check failed as a whole. TargetTokens counts, per key ID, the tokens
	// all targets hold under it. TargetsConfigured is false until targets
	// are configured.
	Targets           []Target
	TargetsConfigured bool
	TargetsCheckedAt  time.Time
	TargetsEvery      time.Duration
	TargetsErr        string
	TargetTokens      map[string]int64
	// Credentials are identities' credentials due for rotation (expiring
	// within CredentialsWindow) or expired.
	Credentials       []CredentialDue
	CredentialsWindow time.Duration
}

// Target is a place outside the store holding tokens under the keys. It
// holds names, counts and a value-free location, never a value or a
// connection string.
type Target struct {
	Name     string
	Kind     string // "redis-hash", "redis-keys", "postgres"
	Location string // value-free: the hash, key pattern or table.column
	// Tokens counts the tokens under each key ID.
	Tokens       map[string]int64
	UnderOldKeys int64 // tokens still under a key other than the primary
	// Plaintext counts values that are not tokens; Unreadable, tokens no
	// loaded key opens.
	Plaintext, Unreadable int64
	CheckedAt             time.Time
	Err                   string // why it could not be read (masked), if it could not
}

// CredentialDue is a credential that is due or expired.
type CredentialDue struct {
	Identity   string
	Credential string // its non-secret ID
	ExpiresAt  time.Time
}
