package audit

import (
	"context"
	"time"
)

// headStore reads the head of the store's chain: the health check of the
// store's sink.
type headStore interface {
	AuditHead(ctx context.Context) (Head, error)
}

// StoreAppender is the store as the recorder of its accesses uses it.
type StoreAppender interface {
	Appender
	headStore
}

// StoreRecorder is the recorder of accesses through a store: the store's
// keyed chain, then (when set) a JSON-lines file, each behind group
// commit, all under a Bounded (Sinks), so that a sink that fails or does
// not answer within the bound refuses the access instead of hanging it. A
// write records its event in its own transaction (Sinks.InTx), the file
// holding it before the commit.
type StoreRecorder struct {
	*Sinks
	store headStore
	file  *File
}

// NewStoreRecorder returns the recorder over st's chain, keyed with key
// (nil: unauthenticated), and file (nil: none). The file is told each new
// head of the chain, so its lines carry it as an anchor. timeout 0 means
// DefaultTimeout; onError is told of each failure.
func NewStoreRecorder(st StoreAppender, key *MACKey, file *File, timeout time.Duration, onError func(error)) *StoreRecorder {
	chain := NewChain(st, key)
	// The chain comes first: it alone can check a guarded event (the
	// server's read cache), and the file gets each event only once the
	// chain has recorded it.
	var copies []BatchWriter
	if file != nil {
		chain.OnCommit(file.NotifyHead)
		copies = append(copies, file)
	}
	return &StoreRecorder{Sinks: NewSinks(chain, copies, timeout, onError), store: st, file: file}
}

// File returns the file sink, or nil when there is none.
func (r *StoreRecorder) File() *File { return r.file }

// AddNotifier tells n after every commit of the chain (the Kafka
// publisher wakes on it).
func (r *StoreRecorder) AddNotifier(n Notifier) { r.chain.AddNotifier(n) }

// Checks returns the health check of each sink: "audit" (the store's
// chain can be read) and, with a file, "audit_file" (the file sink has not
// failed; while it has, every access is refused).
func (r *StoreRecorder) Checks() map[string]func(context.Context) error {
	c := map[string]func(context.Context) error{
		"audit": func(ctx context.Context) error {
			_, err := r.store.AuditHead(ctx)
			return err
		},
	}
	if r.file != nil {
		c["audit_file"] = func(context.Context) error { return r.file.Err() }
	}
	return c
}
