package audit

import (
	"context"
	"time"
)

// Tail is the store's side of Follow.
type Tail interface {
	// AuditHead returns the chain's head.
	AuditHead(ctx context.Context) (Head, error)
	// AuditAfter returns at most limit entries after seq, in seq order.
	AuditAfter(ctx context.Context, seq int64, limit int) ([]Entry, error)
}

// Follow calls fn with each batch of events appended to the chain after
// its head at the call, looking every interval, until ctx ends (then it
// returns nil) or fn or the store fails.
func Follow(ctx context.Context, st Tail, every time.Duration, fn func([]Entry) error) error {
	head, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	last := head.Seq
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		es, err := st.AuditAfter(ctx, last, 1000)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(es) == 0 {
			continue
		}
		if err := fn(es); err != nil {
			return err
		}
		last = es[len(es)-1].Seq
	}
}
