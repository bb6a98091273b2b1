package token

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests and for processes that keep
// nothing. It is safe for concurrent use.
type MemStore struct {
	mu     sync.Mutex
	byHash map[[32]byte]*Record
	byAcc  map[string]*Record
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{byHash: map[[32]byte]*Record{}, byAcc: map[string]*Record{}}
}

// CreateToken implements Store.
func (s *MemStore) CreateToken(_ context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byHash[r.Hash]; ok {
		return errors.New("token: duplicate hash")
	}
	if _, ok := s.byAcc[r.Accessor]; ok {
		return errors.New("token: duplicate accessor")
	}
	c := r
	s.byHash[r.Hash] = &c
	s.byAcc[r.Accessor] = &c
	return nil
}

// TokenByHash implements Store.
func (s *MemStore) TokenByHash(_ context.Context, h [32]byte) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byHash[h]; ok {
		return *r, nil
	}
	return Record{}, ErrNotFound
}

// TokenByAccessor implements Store.
func (s *MemStore) TokenByAccessor(_ context.Context, acc string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byAcc[acc]; ok {
		return *r, nil
	}
	return Record{}, ErrNotFound
}

// RenewToken implements Store.
func (s *MemStore) RenewToken(_ context.Context, acc string, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byAcc[acc]
	if !ok || !r.RevokedAt.IsZero() {
		return ErrNotFound
	}
	r.ExpiresAt = exp
	return nil
}

// RevokeToken implements Store.
func (s *MemStore) RevokeToken(_ context.Context, acc string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byAcc[acc]
	if !ok {
		return ErrNotFound
	}
	if r.RevokedAt.IsZero() {
		r.RevokedAt = at
	}
	return nil
}

// RevokeServiceTokens implements Store.
func (s *MemStore) RevokeServiceTokens(_ context.Context, svc string, at time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.byAcc {
		if r.Service == svc && r.RevokedAt.IsZero() {
			r.RevokedAt = at
			out = append(out, r.Accessor)
		}
	}
	return out, nil
}

// CountLiveTokens implements Store.
func (s *MemStore) CountLiveTokens(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.byAcc {
		if r.Live(now) {
			n++
		}
	}
	return n, nil
}

// PurgeTokens implements Store.
func (s *MemStore) PurgeTokens(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for acc, r := range s.byAcc {
		if r.ExpiresAt.Before(before) || (!r.RevokedAt.IsZero() && r.RevokedAt.Before(before)) {
			delete(s.byAcc, acc)
			delete(s.byHash, r.Hash)
			n++
		}
	}
	return n, nil
}
