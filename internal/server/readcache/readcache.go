// Package readcache puts a short-lived cache of current versions in front
// of a store.Store, for the server's read path.
//
// It caches what the store returns for Get(name, 0): the secret's record
// and its current version as stored, a Fernet token with its row binding.
// It never holds a plaintext: the secrets service still checks the binding
// and decrypts on every read, and still audits every read.
//
// Writes made through the cache (put, delete, destroy, compromise, token
// re-encryption) drop the entries they touch at once. Writes made by
// another process on the same store (another server node, or the CLI on the
// same SQLite file) are seen once an entry is older than the TTL: a new
// version, a deletion or a version marked compromised elsewhere can be
// served here for up to TTL after it happened. A TTL of 0 turns the cache
// off.
package readcache

import (
	"context"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Store is a store.Store with a read cache.
type Store struct {
	store.Store
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]entry
	gen     uint64 // bumped by every invalidation, so a racing fill is dropped
}

type entry struct {
	sec store.Secret
	ver store.Version
	at  time.Time
}

const maxEntries = 10_000

// New wraps st. now may be nil (time.Now).
func New(st store.Store, ttl time.Duration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{Store: st, ttl: ttl, now: now, entries: map[string]entry{}}
}

// Get implements store.Secrets: current versions come from the cache while
// fresh; explicit versions and errors are never cached.
func (c *Store) Get(ctx context.Context, name string, version int) (store.Secret, store.Version, error) {
	if version != 0 || c.ttl <= 0 {
		return c.Store.Get(ctx, name, version)
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[name]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < c.ttl {
		v := e.ver
		v.Binding = append([]byte(nil), e.ver.Binding...) // callers may clear it
		return e.sec, v, nil
	}
	sec, ver, err := c.Store.Get(ctx, name, 0)
	if err != nil {
		return sec, ver, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.entries) >= maxEntries {
			clear(c.entries)
		}
		kept := ver
		kept.Binding = append([]byte(nil), ver.Binding...)
		c.entries[name] = entry{sec: sec, ver: kept, at: now}
	}
	c.mu.Unlock()
	return sec, ver, nil
}

func (c *Store) forget(names ...string) {
	c.mu.Lock()
	c.gen++
	if names == nil {
		clear(c.entries)
	}
	for _, n := range names {
		delete(c.entries, n)
	}
	c.mu.Unlock()
}

// Put implements store.Secrets.
func (c *Store) Put(ctx context.Context, w store.Write) (store.Secret, store.Version, error) {
	defer c.forget(w.Name)
	return c.Store.Put(ctx, w)
}

// PutMany implements store.Secrets.
func (c *Store) PutMany(ctx context.Context, ws []store.Write) error {
	defer c.forget()
	return c.Store.PutMany(ctx, ws)
}

// Delete implements store.Secrets.
func (c *Store) Delete(ctx context.Context, name string, now time.Time) error {
	defer c.forget(name)
	return c.Store.Delete(ctx, name, now)
}

// Undelete implements store.Secrets.
func (c *Store) Undelete(ctx context.Context, name string, now time.Time) error {
	defer c.forget(name)
	return c.Store.Undelete(ctx, name, now)
}

// Destroy implements store.Secrets.
func (c *Store) Destroy(ctx context.Context, name string, version int, now time.Time) error {
	defer c.forget(name)
	return c.Store.Destroy(ctx, name, version, now)
}

// MarkCompromised implements store.Secrets.
func (c *Store) MarkCompromised(ctx context.Context, name string, version int, now time.Time) error {
	defer c.forget(name)
	return c.Store.MarkCompromised(ctx, name, version, now)
}

// UpdateToken implements store.Versions.
func (c *Store) UpdateToken(ctx context.Context, id int64, old string, s store.Sealed) (bool, error) {
	defer c.forget()
	return c.Store.UpdateToken(ctx, id, old, s)
}
