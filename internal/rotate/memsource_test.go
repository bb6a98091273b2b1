package rotate

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// memSource is an in-memory Source for the engine's tests.
type memSource struct {
	mu   sync.Mutex
	rows map[int64]*store.Version
	// beforeSwap, if set, runs inside SwapTokens before it applies.
	beforeSwap func()
	swapCalls  int
}

func newMemSource() *memSource { return &memSource{rows: map[int64]*store.Version{}} }

var testBind = secrets.Bind

func (s *memSource) put(id int64, name string, version int, key *fernet.Key, msg []byte) {
	tok := string(key.Encrypt(msg))
	s.mu.Lock()
	s.rows[id] = &store.Version{ID: id, Secret: name, Version: version, KeyID: key.ID(), Token: tok, Binding: testBind(key, name, version, key.ID(), tok)}
	s.mu.Unlock()
}

func (s *memSource) get(id int64) store.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := *s.rows[id]
	return r
}

func (s *memSource) VersionsNotUnder(_ context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for id, r := range s.rows {
		if id > after && r.KeyID != keyID {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]store.Version, len(ids))
	for i, id := range ids {
		out[i] = *s.rows[id]
	}
	return out, nil
}

func (s *memSource) SwapTokens(_ context.Context, swaps []store.TokenSwap) ([]bool, error) {
	if s.beforeSwap != nil {
		s.beforeSwap()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.swapCalls++
	ok := make([]bool, len(swaps))
	for i, sw := range swaps {
		r, found := s.rows[sw.ID]
		if !found || r.Token != sw.Old || r.Destroyed() {
			continue
		}
		r.Token, r.KeyID, r.Binding = sw.New.Token, sw.New.KeyID, sw.New.Binding
		ok[i] = true
	}
	return ok, nil
}

func (s *memSource) CountByKey(context.Context) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int64{}
	for _, r := range s.rows {
		m[r.KeyID]++
	}
	return m, nil
}

// memStore adds the key table and the rotation lock to memSource: enough
// of a store for the Rotator's tests. Every method fails once ctx ends, as
// a killed process would stop.
type memStore struct {
	*memSource
	keys   map[string]store.KeyInfo
	locked bool
}

func newMemStore() *memStore {
	return &memStore{memSource: newMemSource(), keys: map[string]store.KeyInfo{}}
}

func (m *memStore) PutKey(ctx context.Context, k store.KeyInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

func (m *memStore) EnsureKey(ctx context.Context, k store.KeyInfo) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return false, nil
	}
	m.keys[k.ID] = k
	return true, nil
}

func (m *memStore) Key(ctx context.Context, id string) (store.KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return k, store.ErrNotFound
	}
	return k, nil
}

func (m *memStore) ListKeys(ctx context.Context) ([]store.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.KeyInfo
	for _, k := range m.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) PromoteKey(ctx context.Context, id string, now, retainUntil time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return store.ErrNotFound
	}
	for oid, o := range m.keys {
		if oid != id && o.State == store.KeyActive {
			o.State, o.DeactivatedAt, o.RetainUntil = store.KeyDecryptOnly, now, retainUntil
			m.keys[oid] = o
		}
	}
	if k.State != store.KeyActive {
		k.State, k.ActivatedAt, k.RetainUntil = store.KeyActive, now, time.Time{}
	}
	m.keys[id] = k
	return nil
}

func (m *memStore) LockRotation(ctx context.Context) (func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, store.ErrLocked
	}
	m.locked = true
	return func() error {
		m.mu.Lock()
		m.locked = false
		m.mu.Unlock()
		return nil
	}, nil
}

func (m *memStore) VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m.memSource.VersionsNotUnder(ctx, keyID, after, limit)
}

func (m *memStore) SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m.memSource.SwapTokens(ctx, swaps)
}
