package audit

import (
	"context"
	"sync"
)

// Memory is a chain kept in memory: a BatchWriter for tests and for
// commands that print what they would record.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
	cps     []Checkpoint
	Linker  Linker
}

// WriteBatch implements BatchWriter.
func (m *Memory) WriteBatch(_ context.Context, evs []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	head := EmptyHead
	if n := len(m.entries); n > 0 {
		head = m.entries[n-1].Head()
	}
	es, cps, err := m.Linker.Link(head, evs)
	if err != nil {
		return err
	}
	m.entries = append(m.entries, es...)
	m.cps = append(m.cps, cps...)
	return nil
}

// Record implements Recorder, one event per batch.
func (m *Memory) Record(ctx context.Context, ev Event) error {
	ev = Stamp(ctx, ev)
	if err := Validate(ev); err != nil {
		return err
	}
	return m.WriteBatch(ctx, []Event{ev})
}

// Entries returns a copy of the chain.
func (m *Memory) Entries() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Entry(nil), m.entries...)
}

// Checkpoints returns a copy of the checkpoints.
func (m *Memory) Checkpoints() []Checkpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Checkpoint(nil), m.cps...)
}
