package backup

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// chainStore is a store of which only the audit chain is read.
type chainStore struct {
	store.Store
	es  []audit.Entry
	cps []audit.Checkpoint
}

func (c *chainStore) AuditAfter(_ context.Context, after int64, limit int) ([]audit.Entry, error) {
	var out []audit.Entry
	for _, e := range c.es {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *chainStore) WalkAudit(ctx context.Context, batch int, fn func([]audit.Entry) error) error {
	var after int64
	for {
		es, _ := c.AuditAfter(ctx, after, batch)
		if len(es) == 0 {
			return nil
		}
		if err := fn(es); err != nil {
			return err
		}
		after = es[len(es)-1].Seq
	}
}

func (c *chainStore) AuditCheckpoints(context.Context) ([]audit.Checkpoint, error) { return c.cps, nil }

// TestChainTee: the chain verified as a walk reads it, then read on,
// gives what audit.VerifyStore gives on the store as it ends, whether the
// walk read it all, part or none of it, the chain is intact or not, and
// when a checkpoint came meanwhile.
func TestChainTee(t *testing.T) {
	key := audit.MACKeys(ring(t, k2))[0]
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	lk := &audit.Linker{Key: &key, Every: 4, Now: func() time.Time { return t0 }}
	link := func(c *chainStore, n int) {
		head := audit.EmptyHead
		if len(c.es) > 0 {
			head = c.es[len(c.es)-1].Head()
		}
		var evs []audit.Event
		for i := range n {
			evs = append(evs, audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Action: "read", Secret: "app/db", Outcome: audit.Success})
		}
		es, cps, err := lk.Link(head, evs)
		if err != nil {
			t.Fatal(err)
		}
		c.es, c.cps = append(c.es, es...), append(c.cps, cps...)
	}
	for _, tc := range []struct {
		name       string
		walk       int   // entries the walk reads before it stops (-1: no walk)
		tamper     int   // index of an entry edited in place, or -1
		checkpoint int64 // the seq of a checkpoint written after the walk, or 0
	}{
		{"intact", 1000, -1, 0},
		{"no walk", -1, -1, 0},
		{"part walked", 5, -1, 0},
		{"edited, walked", 1000, 6, 0},
		{"edited after the walk", 4, 6, 0},
		{"a checkpoint of a new entry meanwhile", 1000, -1, 12},
		{"a checkpoint of a walked entry meanwhile", 1000, -1, 7},
		{"a checkpoint meanwhile, edited", 1000, 6, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &chainStore{}
			link(c, 10)
			if tc.tamper >= 0 {
				c.es[tc.tamper].Detail = "edited"
			}
			tee, err := newChainTee(ctx, c, key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.walk >= 0 {
				read := 0
				stop := context.Canceled
				_ = tee.WalkAudit(ctx, 3, func(es []audit.Entry) error {
					if read += len(es); read >= tc.walk {
						return stop
					}
					return nil
				})
			}
			link(c, 2) // what verify records
			if tc.checkpoint > 0 {
				c.cps = append(c.cps, lk.Checkpoint(c.es[tc.checkpoint-1].Head()))
			}
			got, err := tee.finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want, err := audit.VerifyStore(ctx, c, []audit.MACKey{key}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v (%v), want %+v (%v)", got, got.Problem, want, want.Problem)
			}
			if want.OK() != (tc.tamper < 0) {
				t.Fatalf("chain OK %v with tamper %d", want.OK(), tc.tamper)
			}
		})
	}
}
