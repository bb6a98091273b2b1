package audit

import "time"

// StoreRecorder is the recorder of accesses through a store: the store's
// hash chain, then (when set) a JSON-lines file, each behind group commit,
// all under a Bounded, so that a sink that fails or does not answer within
// the bound refuses the access instead of hanging it.
type StoreRecorder struct {
	*Bounded
	chain *Chain
}

// NewStoreRecorder returns the recorder over st's chain (checkpoints
// authenticated with key; nil: unauthenticated) and file (nil: none).
// timeout 0 means DefaultTimeout; onError is told of each failure.
func NewStoreRecorder(st Appender, key *MACKey, file *File, timeout time.Duration, onError func(error)) *StoreRecorder {
	chain := NewChain(st, key)
	// The chain comes first: it alone can check a guarded event (the
	// server's read cache), and the Tee gives one to the others only once
	// the chain has recorded it.
	sinks := Tee{NewBatcher(chain, BatcherOptions{})}
	if file != nil {
		sinks = append(sinks, NewBatcher(file, BatcherOptions{}))
	}
	return &StoreRecorder{Bounded: NewBounded(sinks, timeout, onError), chain: chain}
}

// AddNotifier tells n after every commit of the chain (the Kafka
// publisher wakes on it).
func (r *StoreRecorder) AddNotifier(n Notifier) { r.chain.AddNotifier(n) }
