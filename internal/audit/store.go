package audit

import (
	"context"
	"fmt"
	"time"
)

// LinkFunc chains a batch after the head of a chain and returns the entries
// and the checkpoints to store with them. (*Linker).Link is one.
type LinkFunc func(head Head, evs []Event) ([]Entry, []Checkpoint, error)

// Appender is the store's side of the chain: AppendAudit takes the chain's
// lock (serialising appends across every process using the store), reads
// the head, calls link, stores the entries and checkpoints, and commits, all
// in one transaction. It returns the stored entries.
type Appender interface {
	AppendAudit(ctx context.Context, evs []Event, link LinkFunc) ([]Entry, error)
}

// Chain is the store sink: a BatchWriter that appends batches to the
// store's chain, checkpointing as its Linker says. Wrap it in a Batcher.
type Chain struct {
	st     Appender
	linker *Linker
	notify []Notifier
	onHead []func(Head)
}

// Checkpoint policy of the store's chain.
const (
	CheckpointEvery  = 1024
	CheckpointMaxAge = time.Minute
)

// NewChain returns the store sink over st. Checkpoints are authenticated
// with key (nil: unauthenticated). Each notifier is told after every commit.
func NewChain(st Appender, key *MACKey, notify ...Notifier) *Chain {
	return &Chain{st: st, linker: &Linker{Key: key, Every: CheckpointEvery, MaxAge: CheckpointMaxAge}, notify: notify}
}

// WriteBatch implements BatchWriter. Guarded events (Event.Guard) whose
// generation is not the store's at commit are left out of the batch, and
// reported in a *StaleError; the others are committed.
func (c *Chain) WriteBatch(ctx context.Context, evs []Event) error {
	link := c.linker.Link
	var stale []int
	if hasGuard(evs) {
		link = func(head Head, evs []Event) ([]Entry, []Checkpoint, error) {
			stale = stale[:0] // a store may call link again on a retried transaction
			kept := make([]Event, 0, len(evs))
			for i, ev := range evs {
				if ev.Guard != 0 && ev.Guard != head.Generation {
					stale = append(stale, i)
					continue
				}
				kept = append(kept, ev)
			}
			return c.linker.Link(head, kept)
		}
	}
	es, err := c.st.AppendAudit(ctx, evs, link)
	if err != nil {
		return err
	}
	if len(es) > 0 {
		for _, fn := range c.onHead {
			fn(es[len(es)-1].Head())
		}
	}
	for _, n := range c.notify {
		n.Notify()
	}
	if len(stale) > 0 {
		return &StaleError{Events: stale}
	}
	return nil
}

// Guards implements Guarding: the chain checks guards when its store
// reads the generation with the head (the store implements Guarding).
func (c *Chain) Guards() bool { return Guards(c.st) }

func hasGuard(evs []Event) bool {
	for _, ev := range evs {
		if ev.Guard != 0 {
			return true
		}
	}
	return false
}

// StaleError is returned by a BatchWriter whose batch was committed except
// for the guarded events it lists (indexes into the batch), which were
// stale and not recorded.
type StaleError struct {
	Events []int
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("audit: %d guarded event(s) stale; the rest of the batch was recorded", len(e.Events))
}

// Unwrap makes errors.Is(err, ErrStale) hold.
func (e *StaleError) Unwrap() error { return ErrStale }

// OnCommit adds a function told the chain's head after every commit (the
// audit file's NotifyHead, which copies it where a database writer cannot
// reach). It must not block. Call it before the chain is in use.
func (c *Chain) OnCommit(fn func(Head)) { c.onHead = append(c.onHead, fn) }

// AddNotifier adds a notifier told after every commit. Call it before the
// chain is in use.
func (c *Chain) AddNotifier(n Notifier) { c.notify = append(c.notify, n) }
