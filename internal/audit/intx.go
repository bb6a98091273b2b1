package audit

import (
	"context"
	"time"
)

// InTx records a write's event inside the write's own store transaction,
// so that no write commits without its event and no event says success
// for a write that did not commit. The store, holding the chain's lock in
// the write's transaction, calls Event with the new version, links the
// event with Link, stores it, calls Copy with the entry before it commits
// (an error from either aborts the write), and Committed after.
type InTx struct {
	// Event returns the write's event once its version is known.
	Event func(version int) Event
	// Link chains the event after the head (the store chain's Linker).
	Link LinkFunc
	// Copy gives the event to the copies that must hold it before the
	// write is visible (the audit file). Nil: none.
	Copy func(ctx context.Context, ev Event) error
	// Committed is told the chain's new head after the commit (the
	// file's anchor, the Kafka publisher's wake-up). Nil: nobody.
	Committed func(h Head)
}

// TxRecorder is implemented by recorders whose first sink is the store's
// chain (Sinks): they can record a write's event in its transaction.
type TxRecorder interface {
	// InTx returns the InTx that records ev's successor events; nil when
	// the recorder cannot (a Memory, a Discard).
	InTx(ctx context.Context, ev func(version int) Event) *InTx
}

// Sinks is the recorder of a process: the store's chain and its copies
// (the audit file), under Bounded. Record is Bounded(Tee{chain, copies...}).
// InTx lets a write commit its event in its own transaction.
type Sinks struct {
	*Bounded
	chain  *Chain
	copies Tee
}

// NewSinks returns the recorder over chain (through a Batcher) and the
// copies (each through its own Batcher), under the bound timeout (0:
// DefaultTimeout), with onError told every sink failure.
func NewSinks(chain *Chain, copies []BatchWriter, timeout time.Duration, onError func(error)) *Sinks {
	tee := Tee{NewBatcher(chain, BatcherOptions{})}
	var cs Tee
	for _, c := range copies {
		b := NewBatcher(c, BatcherOptions{})
		tee = append(tee, b)
		cs = append(cs, b)
	}
	return &Sinks{Bounded: NewBounded(tee, timeout, onError), chain: chain, copies: cs}
}

// Chain returns the store's chain.
func (s *Sinks) Chain() *Chain { return s.chain }

// InTx implements TxRecorder.
func (s *Sinks) InTx(ctx context.Context, event func(version int) Event) *InTx {
	caller := ctx
	t := &InTx{
		Event: func(version int) Event { return Normalize(Stamp(caller, event(version))) },
		Link:  s.chain.linker.Link,
		Committed: func(h Head) {
			for _, fn := range s.chain.onHead {
				fn(h)
			}
			for _, n := range s.chain.notify {
				n.Notify()
			}
		},
	}
	if len(s.copies) > 0 {
		t.Copy = func(ctx context.Context, ev Event) error {
			for _, c := range s.copies {
				if b, ok := c.(interface{ Err() error }); ok && b.Err() != nil {
					return notRecorded("an audit copy has failed")
				}
			}
			ctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			if err := s.copies.Record(ctx, ev); err != nil {
				s.report(err)
				if ctx.Err() != nil {
					return notRecorded("an audit copy did not answer within " + s.timeout.String())
				}
				return notRecorded("an audit copy failed")
			}
			return nil
		}
	}
	return t
}

// Ping reports whether the copies can take events.
func (s *Sinks) Ping() error {
	for _, c := range s.copies {
		if b, ok := c.(interface{ Err() error }); ok {
			if err := b.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
