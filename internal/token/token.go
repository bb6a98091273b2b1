// Package token issues and checks service tokens.
//
// A service token is "sa01s_" followed by 43 characters of URL-safe base64
// (32 random bytes). The prefix lets scanners recognise a leaked token. The
// store keeps only SHA-256 of the token, next to a non-secret accessor
// ("acc_" and 16 hex digits) that names the token in audit events and in
// revocation.
//
// A token lives TTL (default 1 h) from issue or from its last renewal, and
// never past MaxTTL (default 24 h) from issue: then its holder logs in again.
// Expired and revoked tokens are refused. Every comparison of a token, or of
// its hash, is in constant time.
//
// # Validation cache
//
// [Manager.Validate] caches validated token records in memory for CacheTTL
// (default 2 s), keyed by hash. A revocation or renewal on this process takes
// effect at once. A revocation on another process sharing the store takes
// effect here when that store announces it (PostgreSQL: NOTIFY, see
// store.Revocations, and the server's WatchRevocations calls ForgetService),
// and at the latest within CacheTTL, the fallback; expiry is checked on every call against the
// cached record, and a cached record that looks expired is read again from
// the store before the token is refused, so a renewal elsewhere is honoured.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// Prefix starts every service token.
const Prefix = "sa01s_"

// bodyLen is the length of the random part: 32 bytes in unpadded base64.
const bodyLen = 43

// Defaults.
const (
	DefaultTTL      = time.Hour
	DefaultMaxTTL   = 24 * time.Hour
	DefaultCacheTTL = 2 * time.Second
	maxCacheEntries = 100_000
)

// Errors. None of them carries a token.
var (
	ErrMalformed = errors.New("token: malformed token")
	ErrInvalid   = errors.New("token: invalid token")
	ErrExpired   = errors.New("token: expired token")
	ErrRevoked   = errors.New("token: revoked token")
	ErrNotFound  = errors.New("token: not found")
	ErrNoService = errors.New("token: a service name is required")
)

// Record is what the store keeps about a token: never the token itself.
type Record struct {
	Accessor  string    // non-secret ID, "acc_" + 16 hex digits
	Hash      [32]byte  // SHA-256 of the token
	Service   string    // the service the token acts as
	IssuedAt  time.Time // UTC
	ExpiresAt time.Time // UTC; moved forward by renewal
	MaxExpiry time.Time // UTC; ExpiresAt never passes it
	RevokedAt time.Time // UTC; zero while not revoked
}

// Live reports whether the record is neither revoked nor expired at now.
func (r Record) Live(now time.Time) bool {
	return r.RevokedAt.IsZero() && now.Before(r.ExpiresAt)
}

// Renewable reports whether a renewal at now would extend the token.
func (r Record) Renewable(now time.Time) bool {
	return r.Live(now) && r.ExpiresAt.Before(r.MaxExpiry)
}

// Store keeps token records. Implementations are the store drivers and
// [MemStore].
type Store interface {
	// CreateToken stores a new record; Accessor and Hash are unique.
	CreateToken(ctx context.Context, r Record) error
	// TokenByHash returns the record with that hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash [32]byte) (Record, error)
	// TokenByAccessor returns the record with that accessor, or ErrNotFound.
	TokenByAccessor(ctx context.Context, accessor string) (Record, error)
	// RenewToken sets ExpiresAt of a record that is not revoked, or returns
	// ErrNotFound.
	RenewToken(ctx context.Context, accessor string, expiresAt time.Time) error
	// RevokeToken marks one record revoked at, or returns ErrNotFound. A
	// record already revoked keeps its first revocation time.
	RevokeToken(ctx context.Context, accessor string, at time.Time) error
	// RevokeServiceTokens marks every unrevoked record of service revoked
	// and returns their accessors.
	RevokeServiceTokens(ctx context.Context, service string, at time.Time) ([]string, error)
	// CountLiveTokens counts records neither revoked nor expired at now.
	CountLiveTokens(ctx context.Context, now time.Time) (int, error)
	// PurgeTokens deletes records that expired or were revoked before t.
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
}

// Options configure a Manager. Zero fields take the defaults.
type Options struct {
	TTL      time.Duration
	MaxTTL   time.Duration
	CacheTTL time.Duration // a negative value turns the cache off
	Now      func() time.Time
}

// Manager issues, validates, renews and revokes tokens. It is safe for
// concurrent use.
type Manager struct {
	store  Store
	ttl    time.Duration
	maxTTL time.Duration
	cttl   time.Duration
	now    func() time.Time

	mu    sync.RWMutex
	cache map[[32]byte]cached
}

type cached struct {
	rec     Record
	checked time.Time
}

// NewManager returns a Manager over s.
func NewManager(s Store, o Options) *Manager {
	m := &Manager{store: s, ttl: o.TTL, maxTTL: o.MaxTTL, cttl: o.CacheTTL, now: o.Now, cache: map[[32]byte]cached{}}
	if m.ttl <= 0 {
		m.ttl = DefaultTTL
	}
	if m.maxTTL <= 0 {
		m.maxTTL = DefaultMaxTTL
	}
	if m.ttl > m.maxTTL {
		m.ttl = m.maxTTL
	}
	if m.cttl == 0 {
		m.cttl = DefaultCacheTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// TTL returns the lifetime of a new or renewed token.
func (m *Manager) TTL() time.Duration { return m.ttl }

// MaxTTL returns the longest a token lives from issue.
func (m *Manager) MaxTTL() time.Duration { return m.maxTTL }

// Hash returns SHA-256 of a token.
func Hash(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// Parse checks the form of a token: the prefix and 43 characters of
// URL-safe base64. It does not say whether the token is valid.
func Parse(tok string) error {
	if !ParseRandom(tok, Prefix) {
		return ErrMalformed
	}
	return nil
}

// Equal compares two secrets in constant time, whatever their lengths.
func Equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// ParseRandom checks that s is prefix and 43 characters of URL-safe
// base64, the form prefix + [Random](32) makes.
func ParseRandom(s, prefix string) bool {
	if len(s) != len(prefix)+bodyLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Issue creates a token for service and returns it with its record. The
// token is returned once, here; the store keeps only its hash.
func (m *Manager) Issue(ctx context.Context, service string) (sensitive.String, Record, error) {
	if service == "" {
		return sensitive.String{}, Record{}, ErrNoService
	}
	tok := Prefix + Random(32)
	var acc [8]byte
	_, _ = rand.Read(acc[:])
	now := m.now().UTC()
	r := Record{
		Accessor:  "acc_" + hex.EncodeToString(acc[:]),
		Hash:      Hash(tok),
		Service:   service,
		IssuedAt:  now,
		ExpiresAt: now.Add(m.ttl),
		MaxExpiry: now.Add(m.maxTTL),
	}
	if err := m.store.CreateToken(ctx, r); err != nil {
		return sensitive.String{}, Record{}, err
	}
	return sensitive.New(tok), r, nil
}

// Validate returns the record of a live token. It fails with ErrMalformed,
// ErrInvalid (unknown), ErrExpired or ErrRevoked, or a store error.
func (m *Manager) Validate(ctx context.Context, tok string) (Record, error) {
	if err := Parse(tok); err != nil {
		return Record{}, err
	}
	h := Hash(tok)
	now := m.now()
	if m.cttl > 0 {
		m.mu.RLock()
		c, ok := m.cache[h]
		m.mu.RUnlock()
		if ok && now.Sub(c.checked) < m.cttl && now.Before(c.rec.ExpiresAt) {
			return c.rec, nil
		}
	}
	r, err := m.store.TokenByHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Record{}, ErrInvalid
	}
	if err != nil {
		return Record{}, err
	}
	if subtle.ConstantTimeCompare(r.Hash[:], h[:]) != 1 {
		return Record{}, ErrInvalid
	}
	if err := check(r, now); err != nil {
		m.forget(h)
		return r, err
	}
	m.remember(r, now)
	return r, nil
}

func check(r Record, now time.Time) error {
	switch {
	case !r.RevokedAt.IsZero():
		return ErrRevoked
	case !now.Before(r.ExpiresAt):
		return ErrExpired
	}
	return nil
}

func (m *Manager) remember(r Record, now time.Time) {
	if m.cttl <= 0 {
		return
	}
	m.mu.Lock()
	if len(m.cache) >= maxCacheEntries {
		clear(m.cache) // a burst of distinct tokens: start again
	}
	m.cache[r.Hash] = cached{rec: r, checked: now}
	m.mu.Unlock()
}

func (m *Manager) forget(h [32]byte) {
	m.mu.Lock()
	delete(m.cache, h)
	m.mu.Unlock()
}

func (m *Manager) forgetAccessors(accs []string) {
	set := make(map[string]bool, len(accs))
	for _, a := range accs {
		set[a] = true
	}
	m.mu.Lock()
	for h, c := range m.cache {
		if set[c.rec.Accessor] {
			delete(m.cache, h)
		}
	}
	m.mu.Unlock()
}

// Renew extends a live token by TTL from now, never past its max TTL, and
// returns the new record. A token at its max TTL is returned unchanged.
func (m *Manager) Renew(ctx context.Context, tok string) (Record, error) {
	m.forgetToken(tok) // read the store: never renew on a stale record
	r, err := m.Validate(ctx, tok)
	if err != nil {
		return r, err
	}
	now := m.now().UTC()
	exp := now.Add(m.ttl)
	if exp.After(r.MaxExpiry) {
		exp = r.MaxExpiry
	}
	if !exp.After(r.ExpiresAt) {
		return r, nil
	}
	if err := m.store.RenewToken(ctx, r.Accessor, exp); err != nil {
		if errors.Is(err, ErrNotFound) {
			return r, ErrRevoked
		}
		return r, err
	}
	r.ExpiresAt = exp
	m.remember(r, m.now())
	return r, nil
}

func (m *Manager) forgetToken(tok string) {
	if Parse(tok) == nil {
		m.forget(Hash(tok))
	}
}

// Revoke revokes a live token and returns its record.
func (m *Manager) Revoke(ctx context.Context, tok string) (Record, error) {
	r, err := m.Validate(ctx, tok)
	if err != nil {
		return r, err
	}
	m.forget(r.Hash)
	if err := m.store.RevokeToken(ctx, r.Accessor, m.now().UTC()); err != nil {
		return r, err
	}
	r.RevokedAt = m.now().UTC()
	return r, nil
}

// RevokeAccessor revokes the token with that accessor.
func (m *Manager) RevokeAccessor(ctx context.Context, accessor string) error {
	m.forgetAccessors([]string{accessor})
	err := m.store.RevokeToken(ctx, accessor, m.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// RevokeService revokes every token of service and returns how many were
// live or expired but unrevoked.
func (m *Manager) RevokeService(ctx context.Context, service string) (int, error) {
	accs, err := m.store.RevokeServiceTokens(ctx, service, m.now().UTC())
	m.forgetAccessors(accs)
	// also drop cached records of the service whose accessors the store did
	// not return (already revoked elsewhere)
	m.ForgetService(service)
	return len(accs), err
}

// ForgetService drops every cached record of service, so that the next
// use of its tokens reads the store (after the store revoked them).
func (m *Manager) ForgetService(service string) {
	m.mu.Lock()
	for h, c := range m.cache {
		if c.rec.Service == service {
			delete(m.cache, h)
		}
	}
	m.mu.Unlock()
}

// ForgetAll drops every cached record: the next use of each token reads
// the store. A node calls it when it may have missed a revocation made
// elsewhere (store.Revocations).
func (m *Manager) ForgetAll() {
	m.mu.Lock()
	clear(m.cache)
	m.mu.Unlock()
}

// Live counts live tokens.
func (m *Manager) Live(ctx context.Context) (int, error) {
	return m.store.CountLiveTokens(ctx, m.now().UTC())
}

// Purge deletes records that expired or were revoked more than keep ago.
func (m *Manager) Purge(ctx context.Context, keep time.Duration) (int, error) {
	return m.store.PurgeTokens(ctx, m.now().UTC().Add(-keep))
}
