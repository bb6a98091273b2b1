package store

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// Secret classes.
const (
	ClassEncryptionKey = "encryption-key"
	ClassAPIKey        = "api-key"
	ClassInternalToken = "internal-token"
	ClassDBCredential  = "db-credential"
	ClassConfig        = "config"
)

// Classes lists the valid classes.
var Classes = []string{ClassEncryptionKey, ClassAPIKey, ClassInternalToken, ClassDBCredential, ClassConfig}

// Secret is a named secret's metadata; its values are in its versions.
type Secret struct {
	ID             int64
	Name           string
	Class          string
	RotationPeriod time.Duration // 0: no scheduled rotation
	Description    string
	Owner          string
	EnvName        string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeletedAt      time.Time // zero unless soft-deleted
	CurrentVersion int       // the highest version number
	// StateMAC is the MAC of the secret's State, made by the secrets
	// package under a key the store never sees; nil when the secret was
	// never sealed (a store written before state MACs).
	StateMAC []byte
	// Compromised and Destroyed are the numbers of the secret's versions
	// marked compromised and destroyed, ascending, and TopVersion the
	// highest version number stored (CurrentVersion unless the row was
	// edited). Only Get, GetCurrent and WalkStates fill them.
	Compromised, Destroyed []int
	TopVersion             int
}

// State is what a secret's state MAC covers: everything a database writer
// could change to serve a value that should not be served (an older
// version, a deleted secret, a compromised version).
type State struct {
	Name           string
	CurrentVersion int
	Deleted        bool
	Compromised    []int // ascending
	Destroyed      []int // ascending
}

// State returns the state of s (Compromised and Destroyed as filled).
func (s Secret) State() State {
	return State{Name: s.Name, CurrentVersion: s.CurrentVersion, Deleted: s.Deleted(), Compromised: s.Compromised, Destroyed: s.Destroyed}
}

// StateSealer returns the state MAC of a secret's new state. It is called
// inside the transaction that changes the state; an error aborts it.
type StateSealer func(State) ([]byte, error)

// Deleted reports whether the secret is soft-deleted.
func (s Secret) Deleted() bool { return !s.DeletedAt.IsZero() }

// Version is one immutable value of a secret. Token is empty once the
// version is destroyed.
type Version struct {
	ID            int64 // row ID: the order of WalkVersions
	SecretID      int64 // the secret's row ID (set by Snapshot.Versions)
	Secret        string
	Version       int
	Token         string // Fernet token; its plaintext is exactly the value
	KeyID         string // the key that made Token
	Binding       []byte // HMAC over name, version, key ID and token
	CreatedAt     time.Time
	Actor         string
	DestroyedAt   time.Time
	CompromisedAt time.Time
}

// Destroyed reports whether the version's token was destroyed.
func (v Version) Destroyed() bool { return !v.DestroyedAt.IsZero() }

// Compromised reports whether the version is marked compromised.
func (v Version) Compromised() bool { return !v.CompromisedAt.IsZero() }

// Meta changes a secret's metadata on a write; nil fields are left as they
// are (or take their defaults when the secret is created: class config, no
// rotation period, empty strings).
type Meta struct {
	Class          *string
	RotationPeriod *time.Duration
	Description    *string
	Owner          *string
	EnvName        *string
}

// Sealed is the stored form of a value: made by the caller once the
// version number is known.
type Sealed struct {
	Token   string
	KeyID   string
	Binding []byte
}

// Write adds one version to a secret, creating the secret if needed.
type Write struct {
	Name  string
	Meta  Meta
	CAS   *int // write only if the current version is *CAS (0: only if the secret does not exist)
	Actor string
	Now   time.Time
	// Seal is called inside the write, once the new version number is
	// known, and returns the token, key ID and row binding to store. An
	// error aborts the write.
	Seal func(version int) (Sealed, error)
	// Audit, when set, makes the write's audit event part of its
	// transaction (Put only): the write and its event commit together or
	// not at all.
	Audit *audit.InTx
	// SealState, when set, makes the secret's new state MAC inside the
	// write. Nil leaves the MAC as it was: a state changed without it no
	// longer matches its MAC, and is refused by the secrets package.
	SealState StateSealer
}

// Change operations.
const (
	OpDelete     = "delete"
	OpUndelete   = "undelete"
	OpDestroy    = "destroy"
	OpCompromise = "compromise"
)

// Change is one change of a secret's state other than a new version:
// soft-delete, undelete, destroy a version, mark a version compromised.
type Change struct {
	Op      string // OpDelete, OpUndelete, OpDestroy, OpCompromise
	Name    string
	Version int // OpDestroy, OpCompromise: the version changed
	Now     time.Time
	// SealState, as Write's: the new state's MAC, made in the change's
	// transaction.
	SealState StateSealer
	// Audit, when set, commits the change's audit event in the change's
	// transaction, under the chain's lock: no change without its event,
	// and no event for a change that did not commit. A change that
	// changes nothing (undelete of a live secret, a version destroyed or
	// marked already) still records its event.
	Audit *audit.InTx
}

// ListOptions selects secrets.
type ListOptions struct {
	Prefix         string // names starting with Prefix
	IncludeDeleted bool
}

// Secrets stores secrets and their versions.
type Secrets interface {
	// Put adds a version (see [Write]) and returns it. ErrConflict when
	// CAS does not match, ErrDeleted when the secret is soft-deleted.
	// Concurrent Puts to one secret are serialised: none is lost.
	Put(ctx context.Context, w Write) (Secret, Version, error)
	// PutMany applies every write in one transaction: all or nothing.
	PutMany(ctx context.Context, ws []Write) error
	// Secret returns a secret's metadata, deleted or not. ErrNotFound.
	Secret(ctx context.Context, name string) (Secret, error)
	// Get returns a secret and one version (0: the current one) that may be
	// served. ErrNotFound, ErrDeleted, ErrDestroyed, ErrCompromised.
	Get(ctx context.Context, name string, version int) (Secret, Version, error)
	// List returns secrets ordered by name.
	List(ctx context.Context, opts ListOptions) ([]Secret, error)
	// History returns every version of a secret, oldest first, without
	// tokens or bindings. ErrNotFound.
	History(ctx context.Context, name string) ([]Version, error)
	// Delete soft-deletes a secret. ErrNotFound, ErrDeleted.
	Delete(ctx context.Context, name string, now time.Time) error
	// Undelete restores a soft-deleted secret. ErrNotFound; nil if it was
	// not deleted.
	Undelete(ctx context.Context, name string, now time.Time) error
	// Destroy erases one version's token and binding for good.
	// ErrNotFound; nil if already destroyed.
	Destroy(ctx context.Context, name string, version int, now time.Time) error
	// MarkCompromised marks a version so that it is never served again.
	// ErrNotFound.
	MarkCompromised(ctx context.Context, name string, version int, now time.Time) error
	// Change applies c in one transaction, with its state MAC and audit
	// event when c carries them. Delete, Undelete, Destroy and
	// MarkCompromised are Change without either. Errors as theirs.
	Change(ctx context.Context, c Change) error
	// WalkStates calls fn with batches of at most batch secrets, deleted
	// ones included, Compromised and Destroyed filled, in ID order, in
	// bounded memory. fn must not keep the slice.
	WalkStates(ctx context.Context, batch int, fn func([]Secret) error) error
	// SealUnsealed gives every secret whose state MAC is nil the MAC
	// seal returns and marks the store's states sealed, in one
	// transaction with a's event (given how many it sealed) when a is
	// set, and returns how many it sealed.
	SealUnsealed(ctx context.Context, seal StateSealer, a *audit.InTx) (int, error)
	// StatesSealed reports whether SealUnsealed has marked the store's
	// states sealed.
	StatesSealed(ctx context.Context) (bool, error)
}

// Generations reads the store's generation: a number that every change to
// a secret or a version moves, whoever makes it (triggers move it). The
// store's audit appends read it inside their transaction for a guarded
// event ([Audit]), so that a cached current version can be proven current
// at the commit of the read's audit event (docs/server.md, "Read path and
// its cache").
type Generations interface {
	// GetCurrent is Get(name, 0), plus the generation of the snapshot the
	// version was read in.
	GetCurrent(ctx context.Context, name string) (Secret, Version, uint64, error)
}

// ApplyTo sets the fields of s that m sets.
func (m Meta) ApplyTo(s *Secret) {
	if m.Class != nil {
		s.Class = *m.Class
	}
	if m.RotationPeriod != nil {
		s.RotationPeriod = *m.RotationPeriod
	}
	if m.Description != nil {
		s.Description = *m.Description
	}
	if m.Owner != nil {
		s.Owner = *m.Owner
	}
	if m.EnvName != nil {
		s.EnvName = *m.EnvName
	}
}
