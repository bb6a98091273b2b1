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
	cursors map[string]int64
	Linker  *Linker // nil: no checkpoints

	publishers map[string]bool // cursors whose publisher holds the lock

}

// WriteBatch implements BatchWriter.
func (m *Memory) WriteBatch(_ context.Context, evs []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	head := EmptyHead
	if n := len(m.entries); n > 0 {
		head = m.entries[n-1].Head()
	}
	l := m.Linker
	if l == nil {
		l = &Linker{}
	}
	es, cps, err := l.Link(head, evs)
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

// AuditAfter implements Outbox.
func (m *Memory) AuditAfter(_ context.Context, after int64, limit int) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, e := range m.entries {
		if e.Seq > after && (limit <= 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

// AuditCursor implements Outbox.
func (m *Memory) AuditCursor(_ context.Context, name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[name], nil
}

// SetAuditCursor implements Outbox.
func (m *Memory) SetAuditCursor(_ context.Context, name string, seq int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cursors == nil {
		m.cursors = map[string]int64{}
	}
	m.cursors[name] = seq
	return nil
}

// LockPublisher implements Outbox within the process.
func (m *Memory) LockPublisher(_ context.Context, name string) (func() error, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.publishers[name] {
		return nil, false, nil
	}
	if m.publishers == nil {
		m.publishers = map[string]bool{}
	}
	m.publishers[name] = true
	var once sync.Once
	return func() error {
		once.Do(func() {
			m.mu.Lock()
			delete(m.publishers, name)
			m.mu.Unlock()
		})
		return nil
	}, true, nil
}
