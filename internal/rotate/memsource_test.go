package rotate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"sync"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// memSource is an in-memory Source for the engine's tests.
type memSource struct {
	mu   sync.Mutex
	rows map[int64]*Row
	// beforeSwap, if set, runs inside SwapTokens before it applies.
	beforeSwap func()
	swapCalls  int
}

func newMemSource() *memSource { return &memSource{rows: map[int64]*Row{}} }

func testBind(key *fernet.Key, name string, version int, keyID string, token []byte) []byte {
	sk := key.Subkey("row-binding/v1")
	m := hmac.New(sha256.New, sk[:])
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(version))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(v[:])
	m.Write([]byte(keyID))
	m.Write([]byte{0})
	m.Write(token)
	return m.Sum(nil)
}

func (s *memSource) put(id int64, name string, version int, key *fernet.Key, msg []byte) {
	tok := key.Encrypt(msg)
	s.mu.Lock()
	s.rows[id] = &Row{ID: id, Name: name, Version: version, KeyID: key.ID(), Token: tok, Binding: testBind(key, name, version, key.ID(), tok)}
	s.mu.Unlock()
}

func (s *memSource) get(id int64) Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := *s.rows[id]
	return r
}

func (s *memSource) RowsNotUnder(_ context.Context, keyID string, after int64, limit int) ([]Row, error) {
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
	out := make([]Row, len(ids))
	for i, id := range ids {
		out[i] = *s.rows[id]
	}
	return out, nil
}

func (s *memSource) SwapTokens(_ context.Context, swaps []Swap) ([]bool, error) {
	if s.beforeSwap != nil {
		s.beforeSwap()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.swapCalls++
	ok := make([]bool, len(swaps))
	for i, sw := range swaps {
		r, found := s.rows[sw.ID]
		if !found || !bytes.Equal(r.Token, sw.Old) {
			continue
		}
		r.Token, r.KeyID, r.Binding = sw.NewToken, sw.NewKeyID, sw.NewBinding
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
