package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// readCache keeps current versions as the store returned them (the Fernet
// token and its row binding, never a plaintext) with the store generation
// they were read at. An entry is only a guess: a read it serves records its
// audit event guarded by that generation (audit.Event.Guard), and is
// served only if the store's generation is still the same inside the
// transaction that commits the event. So a cached read returns exactly
// what a read of the store at that commit would have returned, whoever
// changed the store in between: this server, another node, or the CLI on
// the same file.
type readCache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry

	hits, misses, stale atomic.Int64
}

type cacheEntry struct {
	sec store.Secret
	ver store.Version
	gen uint64
}

// maxCacheEntries bounds the cache; past it, the cache starts again empty.
const maxCacheEntries = 10_000

func (c *readCache) get(name string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[name]
	c.mu.RUnlock()
	return e, ok
}

// put caches a row read at generation gen, unless a row read later (at a
// higher generation) is already there: a slow read must not replace it
// with one bound to fail at commit.
func (c *readCache) put(name string, sec store.Secret, ver store.Version, gen uint64) {
	ver.Binding = append([]byte(nil), ver.Binding...)
	c.mu.Lock()
	if e, ok := c.entries[name]; ok && e.gen > gen {
		c.mu.Unlock()
		return
	}
	if len(c.entries) >= maxCacheEntries {
		clear(c.entries)
	}
	c.entries[name] = cacheEntry{sec: sec, ver: ver, gen: gen}
	c.mu.Unlock()
}

func (c *readCache) drop(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.mu.Unlock()
}

// dropAll empties the cache: the generation moved, so every entry is as
// stale as the one found out.
func (c *readCache) dropAll() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// CacheStats counts reads of current versions since CacheReads: served
// from the cache, read from the store, and cached entries found stale at
// commit (each then read from the store).
type CacheStats struct {
	Hits, Misses, Stale int64
}

// CacheReads turns on the read cache for current versions (Get with
// version 0) and reports whether it is on. It needs a recorder that checks
// guarded events against the store's generation (audit.Guards: the
// store's chain, first in its Tee). Call it before the service is in use.
func (s *Service) CacheReads() bool {
	if !audit.Guards(s.rec) || s.ring == nil {
		return false
	}
	s.cache = &readCache{entries: map[string]cacheEntry{}}
	return true
}

// CacheStats returns the read cache's counters (all zero when it is off).
func (s *Service) CacheStats() CacheStats {
	if s.cache == nil {
		return CacheStats{}
	}
	return CacheStats{Hits: s.cache.hits.Load(), Misses: s.cache.misses.Load(), Stale: s.cache.stale.Load()}
}

// getCached serves a current version from the cache. ok is false when it
// cannot (no entry, or the entry was stale at commit): the caller then
// reads the store, as without a cache. When ok, the read's audit event has
// been recorded (or recording failed, and err says so).
func (s *Service) getCached(ctx context.Context, name string) (val Value, ok bool, err error) {
	e, hit := s.cache.get(name)
	if !hit {
		return Value{}, false, nil
	}
	pt, err := s.open(e.ver)
	if err != nil {
		// The read through the store reports it, and audits it, exactly.
		s.cache.drop(name)
		return Value{}, false, nil
	}
	ev := audit.Event{Action: ActionRead, Secret: name, Version: e.ver.Version, Outcome: audit.Success, Guard: e.gen}
	if err := s.record(ctx, ev); err != nil {
		clear(pt)
		if errors.Is(err, audit.ErrStale) {
			s.cache.stale.Add(1)
			s.cache.dropAll()
			return Value{}, false, nil
		}
		return Value{}, true, err
	}
	s.cache.hits.Add(1)
	v := e.ver
	v.Token, v.Binding = "", nil
	return Value{Secret: e.sec, Version: v, Value: sensitive.FromBytes(pt)}, true, nil
}

// getCurrent reads a current version from the store with the generation
// of the snapshot it was read in.
func (s *Service) getCurrent(ctx context.Context, name string) (store.Secret, store.Version, uint64, error) {
	s.cache.misses.Add(1)
	sec, v, gen, err := s.st.GetCurrent(ctx, name)
	if err == nil && gen == 0 {
		err = fmt.Errorf("secrets: the store returned no generation for %s", name)
	}
	return sec, v, gen, err
}
