package audit

import (
	"context"
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

// WriteBatch implements BatchWriter.
func (c *Chain) WriteBatch(ctx context.Context, evs []Event) error {
	if _, err := c.st.AppendAudit(ctx, evs, c.linker.Link); err != nil {
		return err
	}
	for _, n := range c.notify {
		n.Notify()
	}
	return nil
}

// AddNotifier adds a notifier told after every commit. Call it before the
// chain is in use.
func (c *Chain) AddNotifier(n Notifier) { c.notify = append(c.notify, n) }
