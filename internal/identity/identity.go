// Package identity owns who may call sa01-secrets: identities, their
// credentials, and the one role permission table (roles.go).
//
// An identity is a service (gateway, worker, ...), whose access the YAML
// policy grants, or an operator (a person) with a role: admin, auditor or
// responder. Each has its own credentials: "sa01c_" followed by 43
// characters of URL-safe base64 (32 random bytes). The store keeps only
// SHA-256 of a credential (it is high-entropy: no KDF is needed) beside a
// non-secret ID ("cred_" and 16 hex digits); a credential is shown once,
// when it is made, and compared in constant time.
//
// A credential lives DefaultLifetime (180 days, the policy's period for
// internal tokens) unless told otherwise. Rotation issues a new credential
// and lets the previous ones live for a grace period, so that a rolling
// restart loses nothing. Revocation marks the identity, every credential
// and every service token of it revoked, in one store transaction: every
// node validates tokens against the store, so every node refuses them, at
// once where the store announces revocations (PostgreSQL's NOTIFY, see
// store.Revocations) and otherwise within the caches' two seconds.
//
// docs/identities.md describes the model and the role table.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// CredentialPrefix starts every credential; the scanner knows it.
const CredentialPrefix = "sa01c_"

// Defaults.
const (
	// DefaultLifetime is how long a new credential lives.
	DefaultLifetime = 180 * 24 * time.Hour
	// DueWindow: a credential expiring within it is due for rotation.
	DueWindow = 14 * 24 * time.Hour
	// DefaultGrace is how long a rotated credential keeps working.
	DefaultGrace = 24 * time.Hour
	// MaxLifetime bounds a credential's lifetime (and a rotation's grace).
	MaxLifetime = 2 * 365 * 24 * time.Hour
	// DefaultCacheTTL bounds how long Lookup trusts an identity it read,
	// unless a revocation announced by the store (store.Revocations)
	// drops it sooner.
	DefaultCacheTTL = 2 * time.Second
)

// Kind is what an identity is.
type Kind string

// Kinds.
const (
	Service  Kind = "service"
	Operator Kind = "operator"
)

// Role is an operator's role.
type Role string

// Roles (roles.go holds what each may do).
const (
	Admin     Role = "admin"     // everything
	Auditor   Role = "auditor"   // audit and reports, names and metadata; never a value
	Responder Role = "responder" // incidents and the rotation of a secret under incident; never a value
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Admin, Auditor, Responder:
		return r, nil
	}
	return "", fmt.Errorf("%w: role %q: want admin, auditor or responder", ErrInvalid, s)
}

// Identity is a caller.
type Identity struct {
	Name      string
	Kind      Kind
	Role      Role // an operator's; "" for a service
	CreatedAt time.Time
	RevokedAt time.Time // zero while not revoked
}

// Revoked reports whether the identity is revoked.
func (id Identity) Revoked() bool { return !id.RevokedAt.IsZero() }

// Actor is how audit events name the identity and its kind:
// "service:gateway", "operator:alice".
func (id Identity) Actor() string { return string(id.Kind) + ":" + id.Name }

// LocalActor names the operating-system user of local use, without a
// server, in audit events: "local:alice".
func LocalActor(osUser string) string {
	if osUser == "" {
		osUser = "unknown"
	}
	return "local:" + osUser
}

// OSActor is LocalActor of the operating-system user running the process.
func OSActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return LocalActor(name)
}

// AsLocalOperator returns ctx with the operating-system user as the caller
// of its audit events (OSActor), for local use without a server.
func AsLocalOperator(ctx context.Context) context.Context {
	return audit.WithCaller(ctx, audit.Caller{Actor: OSActor(), Source: "local"})
}

// Credential is what the store keeps of a credential: never the
// credential itself.
type Credential struct {
	ID        string   // non-secret, "cred_" + 16 hex digits
	Identity  string   // the identity's name
	Hash      [32]byte // SHA-256 of the credential
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while not revoked
}

// Live reports whether the credential is neither revoked nor expired at now.
func (c Credential) Live(now time.Time) bool {
	return c.RevokedAt.IsZero() && now.Before(c.ExpiresAt)
}

// Errors. None carries a credential.
var (
	// ErrInvalid: a bad name, kind, role or duration.
	ErrInvalid = errors.New("identity: invalid")
	// ErrExists: an identity of that name exists (revoked ones too: names
	// are never reused, so that the audit trail stays unambiguous).
	ErrExists = errors.New("identity: already exists")
	// ErrNotFound: no such identity or credential.
	ErrNotFound = errors.New("identity: not found")
	// ErrBadCredential: malformed or unknown credential.
	ErrBadCredential = errors.New("identity: invalid credential")
	// ErrExpired: the credential expired.
	ErrExpired = errors.New("identity: expired credential")
	// ErrRevoked: the credential or its identity is revoked.
	ErrRevoked = errors.New("identity: revoked")
	// ErrInitialized: Init on a store that has identities.
	ErrInitialized = errors.New("identity: the store has identities already")
)

// FirstOperator is the operator Init creates.
const FirstOperator = "admin"

// Store keeps identities and credential records. Implementations are the
// store drivers (table identities and credentials).
type Store interface {
	// CreateIdentity stores a new identity with its first credential, in
	// one transaction; ErrExists when the name is taken.
	CreateIdentity(ctx context.Context, id Identity, c Credential) error
	// IdentityByName returns the identity, or ErrNotFound.
	IdentityByName(ctx context.Context, name string) (Identity, error)
	// ListIdentities returns every identity, revoked ones too, by name.
	ListIdentities(ctx context.Context) ([]Identity, error)
	// AddCredential stores c for its live identity and, in the same
	// transaction, makes every other unrevoked credential of the identity
	// expire no later than others; ErrNotFound when the identity does
	// not exist or is revoked.
	AddCredential(ctx context.Context, c Credential, others time.Time) error
	// CredentialByHash returns the record with that hash, or ErrNotFound.
	CredentialByHash(ctx context.Context, hash [32]byte) (Credential, error)
	// ListCredentials returns the credential records of identity (every
	// identity's when it is ""), by identity and creation.
	ListCredentials(ctx context.Context, identity string) ([]Credential, error)
	// RevokeIdentity marks the identity, every credential of it and every
	// service token of it (token records whose service is name) revoked
	// at at, in one transaction, and returns how many tokens it revoked;
	// ErrNotFound when there is no such identity. An identity revoked
	// before keeps its first revocation time.
	RevokeIdentity(ctx context.Context, name string, at time.Time) (int, error)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckName checks an identity name: the grammar of a policy service name
// (lowercase letters, digits, '.', '_', '-', starting with a letter or a
// digit, at most 64).
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: identity name %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64", ErrInvalid, truncate(name))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 70 {
		return s[:70] + "..."
	}
	return s
}

// HashCredential returns SHA-256 of a credential.
func HashCredential(cred string) [32]byte { return sha256.Sum256([]byte(cred)) }

// ParseCredential checks the form of a credential, not its validity.
func ParseCredential(cred string) error {
	if !token.ParseRandom(cred, CredentialPrefix) {
		return ErrBadCredential
	}
	return nil
}

// Options configure a Manager.
type Options struct {
	Lifetime time.Duration // of new credentials; 0: DefaultLifetime
	CacheTTL time.Duration // of Lookup's cache; 0: DefaultCacheTTL
	Now      func() time.Time
}

// Manager applies the rules over a Store. It is safe for concurrent use.
type Manager struct {
	st       Store
	lifetime time.Duration
	cttl     time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cachedIdentity
}

type cachedIdentity struct {
	id      Identity
	checked time.Time
}

// NewManager returns a Manager over st.
func NewManager(st Store, o Options) *Manager {
	m := &Manager{st: st, lifetime: o.Lifetime, cttl: o.CacheTTL, now: o.Now, cache: map[string]cachedIdentity{}}
	if m.lifetime <= 0 {
		m.lifetime = DefaultLifetime
	}
	if m.cttl <= 0 {
		m.cttl = DefaultCacheTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Issued is a new credential: shown once, here.
type Issued struct {
	Identity   Identity
	Credential sensitive.String
	Record     Credential
}

// AddOptions describe a new identity.
type AddOptions struct {
	Kind     Kind
	Role     Role          // operators only
	Lifetime time.Duration // of its credential; 0: the manager's
}

func (m *Manager) newCredential(name string, lifetime time.Duration) (sensitive.String, Credential, error) {
	if lifetime == 0 {
		lifetime = m.lifetime
	}
	if lifetime < 0 || lifetime > MaxLifetime {
		return sensitive.String{}, Credential{}, fmt.Errorf("%w: credential lifetime: want a positive duration of at most %v", ErrInvalid, MaxLifetime)
	}
	cred := CredentialPrefix + token.Random(32)
	var id [8]byte
	_, _ = rand.Read(id[:])
	now := m.now().UTC()
	return sensitive.New(cred), Credential{
		ID:        "cred_" + hex.EncodeToString(id[:]),
		Identity:  name,
		Hash:      HashCredential(cred),
		CreatedAt: now,
		ExpiresAt: now.Add(lifetime),
	}, nil
}

// Add creates an identity with its first credential.
func (m *Manager) Add(ctx context.Context, name string, o AddOptions) (Issued, error) {
	if err := CheckName(name); err != nil {
		return Issued{}, err
	}
	switch o.Kind {
	case Service:
		if o.Role != "" {
			return Issued{}, fmt.Errorf("%w: a service has no role; its access is the policy's", ErrInvalid)
		}
	case Operator:
		if _, err := ParseRole(string(o.Role)); err != nil {
			return Issued{}, err
		}
	default:
		return Issued{}, fmt.Errorf("%w: kind %q: want service or operator", ErrInvalid, o.Kind)
	}
	cred, rec, err := m.newCredential(name, o.Lifetime)
	if err != nil {
		return Issued{}, err
	}
	id := Identity{Name: name, Kind: o.Kind, Role: o.Role, CreatedAt: rec.CreatedAt}
	if err := m.st.CreateIdentity(ctx, id, rec); err != nil {
		return Issued{}, named(err, name)
	}
	return Issued{Identity: id, Credential: cred, Record: rec}, nil
}

// Init creates the first operator, admin (role admin), on a store that has
// no identity, and returns its credential; ErrInitialized otherwise.
func (m *Manager) Init(ctx context.Context) (Issued, error) {
	ids, err := m.st.ListIdentities(ctx)
	if err != nil {
		return Issued{}, err
	}
	if len(ids) > 0 {
		return Issued{}, ErrInitialized
	}
	is, err := m.Add(ctx, FirstOperator, AddOptions{Kind: Operator, Role: Admin})
	if errors.Is(err, ErrExists) {
		return Issued{}, ErrInitialized // another init won the race
	}
	return is, err
}

// Rotate issues a new credential for name; the previous ones keep working
// for grace (0: they stop now), and no longer than they would have.
func (m *Manager) Rotate(ctx context.Context, name string, grace time.Duration) (Issued, error) {
	if grace < 0 || grace > MaxLifetime {
		return Issued{}, fmt.Errorf("%w: grace: want a duration from 0 to %v", ErrInvalid, MaxLifetime)
	}
	id, err := m.st.IdentityByName(ctx, name)
	if err != nil {
		return Issued{}, named(err, name)
	}
	if id.Revoked() {
		return Issued{}, named(ErrRevoked, name)
	}
	cred, rec, err := m.newCredential(name, 0)
	if err != nil {
		return Issued{}, err
	}
	if err := m.st.AddCredential(ctx, rec, rec.CreatedAt.Add(grace)); err != nil {
		return Issued{}, err
	}
	return Issued{Identity: id, Credential: cred, Record: rec}, nil
}

// Revoke revokes the identity, its credentials and its tokens, and returns
// how many tokens it revoked.
func (m *Manager) Revoke(ctx context.Context, name string) (int, error) {
	n, err := m.st.RevokeIdentity(ctx, name, m.now().UTC())
	m.mu.Lock()
	delete(m.cache, name)
	m.mu.Unlock()
	return n, named(err, name)
}

// named adds the identity's name to a bare ErrExists, ErrNotFound or
// ErrRevoked, so that the verbs' errors name their input; a name that is
// not a valid one is not echoed (it may be long or hold control bytes).
func named(err error, name string) error {
	switch err {
	case ErrExists, ErrNotFound, ErrRevoked:
		if CheckName(name) != nil {
			return fmt.Errorf("%w: the name is not a valid identity name", err)
		}
		return fmt.Errorf("%w: %s", err, name)
	}
	return err
}

// List returns every identity.
func (m *Manager) List(ctx context.Context) ([]Identity, error) { return m.st.ListIdentities(ctx) }

// Credentials returns the credential records of name ("" for all).
func (m *Manager) Credentials(ctx context.Context, name string) ([]Credential, error) {
	return m.st.ListCredentials(ctx, name)
}

// Due returns the credentials of live identities that are expired, or
// unrevoked and expiring within window of now, oldest expiry first. A
// credential superseded by a rotation is not due.
func (m *Manager) Due(ctx context.Context, window time.Duration) ([]Credential, error) {
	ids, err := m.st.ListIdentities(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, id := range ids {
		live[id.Name] = !id.Revoked()
	}
	creds, err := m.st.ListCredentials(ctx, "")
	if err != nil {
		return nil, err
	}
	// newest credential of each identity: only it can be due
	newest := map[string]Credential{}
	for _, c := range creds {
		n, seen := newest[c.Identity]
		if !c.RevokedAt.IsZero() || !live[c.Identity] {
			continue
		}
		if !seen || c.CreatedAt.After(n.CreatedAt) || c.CreatedAt.Equal(n.CreatedAt) && c.ExpiresAt.After(n.ExpiresAt) {
			newest[c.Identity] = c
		}
	}
	now := m.now()
	var out []Credential
	for _, c := range newest {
		if c.ExpiresAt.Before(now.Add(window)) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Credential) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Identity, b.Identity)
	})
	return out, nil
}

// Authenticate returns the live identity a credential belongs to, and the
// credential's record. It fails with ErrBadCredential (malformed or
// unknown), ErrExpired, ErrRevoked, or a store error; never with the
// credential in it.
func (m *Manager) Authenticate(ctx context.Context, cred sensitive.String) (Identity, Credential, error) {
	raw := cred.Reveal()
	if err := ParseCredential(raw); err != nil {
		return Identity{}, Credential{}, err
	}
	h := HashCredential(raw)
	c, err := m.st.CredentialByHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, Credential{}, ErrBadCredential
	}
	if err != nil {
		return Identity{}, Credential{}, err
	}
	if subtle.ConstantTimeCompare(c.Hash[:], h[:]) != 1 {
		return Identity{}, Credential{}, ErrBadCredential
	}
	id, err := m.st.IdentityByName(ctx, c.Identity)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, c, ErrBadCredential
	}
	if err != nil {
		return Identity{}, c, err
	}
	switch {
	case id.Revoked() || !c.RevokedAt.IsZero():
		return id, c, ErrRevoked
	case !m.now().Before(c.ExpiresAt):
		return id, c, ErrExpired
	}
	m.remember(id)
	return id, c, nil
}

// Lookup returns the identity name as the store has it, trusting a record
// read less than the cache's TTL ago (two seconds unless set) and not
// dropped by Forget since. Revocation is checked by the caller (a
// revoked identity's tokens are revoked with it).
func (m *Manager) Lookup(ctx context.Context, name string) (Identity, error) {
	now := m.now()
	m.mu.Lock()
	c, ok := m.cache[name]
	m.mu.Unlock()
	if ok && now.Sub(c.checked) >= 0 && now.Sub(c.checked) < m.cttl {
		return c.id, nil
	}
	id, err := m.st.IdentityByName(ctx, name)
	if err != nil {
		return id, err
	}
	m.remember(id)
	return id, nil
}

// Current reads the identity from the store, past the cache.
func (m *Manager) Current(ctx context.Context, name string) (Identity, error) {
	id, err := m.st.IdentityByName(ctx, name)
	if err == nil {
		m.remember(id)
	}
	return id, err
}

// Forget drops the cached record of name: the next Lookup reads the
// store. A node calls it when the store announces a revocation made
// elsewhere (store.Revocations).
func (m *Manager) Forget(name string) {
	m.mu.Lock()
	delete(m.cache, name)
	m.mu.Unlock()
}

// ForgetAll drops every cached record.
func (m *Manager) ForgetAll() {
	m.mu.Lock()
	clear(m.cache)
	m.mu.Unlock()
}

func (m *Manager) remember(id Identity) {
	m.mu.Lock()
	if len(m.cache) >= 10_000 {
		clear(m.cache)
	}
	m.cache[id.Name] = cachedIdentity{id: id, checked: m.now()}
	m.mu.Unlock()
}
