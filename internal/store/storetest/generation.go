package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runGenerations checks the store generation that the server's read cache
// relies on: every change moves it, whichever node makes it; reads do not;
// and a guarded audit event commits only while its generation holds.
func runGenerations(t *testing.T, open opener) {
	runAll(t, open.self, []subtest[opener]{
		{"MovesOnEveryChange", testGenerationMoves},
		{"GuardedAppend", testGuardedAppend},
		{"MixedWritersNoDeadlock", testMixedWriters},
	})
}

// testMixedWriters runs every kind of write at once from two nodes on a
// few secrets: each must succeed or fail only for its own reason (a
// deletion, a destroyed version), never for a lock (a deadlock on
// PostgreSQL, where writers also take the generation's row lock).
func testMixedWriters(t *testing.T, open opener) {
	st, other := open(t)
	nodes := []store.Store{st, other()}
	ctx := context.Background()
	names := []string{"mix/a", "mix/b", "mix/c"}
	for _, n := range names {
		if _, _, err := st.Put(ctx, store.Write{Name: n, Now: t0, Seal: sealed(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := nodes[w%2]
			for i := range 60 {
				n := names[(w+i)%len(names)]
				var err error
				switch (w + i) % 7 {
				case 6: // created by whichever writer comes first
					_, _, err = node.Put(ctx, store.Write{Name: fmt.Sprint("mix/new-", i/7), Now: t0, Seal: sealed("n")})
				case 0:
					_, _, err = node.Put(ctx, store.Write{Name: n, Now: t0, Seal: sealed(fmt.Sprint(n, w, i))})
				case 1:
					err = node.PutMany(ctx, []store.Write{{Name: names[0], Now: t0, Seal: sealed("m0")}, {Name: names[2], Now: t0, Seal: sealed("m2")}})
				case 2:
					err = node.Delete(ctx, n, t0)
				case 3:
					err = node.Undelete(ctx, n, t0)
				case 4:
					err = node.MarkCompromised(ctx, n, 1, t0)
				case 5:
					if _, v, gerr := node.Get(ctx, n, 0); gerr == nil {
						_, err = node.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: "u", KeyID: "k", Binding: []byte{9}})
					}
				}
				if err != nil && !errors.Is(err, store.ErrDeleted) && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("writer %d, op %d on %s: %v", w, i, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func sealed(tok string) func(int) (store.Sealed, error) {
	return func(int) (store.Sealed, error) { return store.Sealed{Token: tok, KeyID: "k", Binding: []byte{1}}, nil }
}

func generation(t *testing.T, st store.Store) uint64 {
	t.Helper()
	_, _, gen, err := st.GetCurrent(context.Background(), "gen/stable")
	if err != nil {
		t.Fatal(err)
	}
	if gen == 0 {
		t.Fatal("GetCurrent returned generation 0")
	}
	return gen
}

func testGenerationMoves(t *testing.T, open opener) {
	st, other := open(t)
	node2 := other()
	ctx := context.Background()
	for _, name := range []string{"gen/stable", "gen/a", "gen/b"} {
		if _, _, err := st.Put(ctx, store.Write{Name: name, Now: t0, Seal: sealed(name + "-1")}); err != nil {
			t.Fatal(err)
		}
	}
	changes := []struct {
		name string
		do   func() error
	}{
		{"put", func() error {
			_, _, err := node2.Put(ctx, store.Write{Name: "gen/a", Now: t0, Seal: sealed("a-2")})
			return err
		}},
		{"put many", func() error {
			return node2.PutMany(ctx, []store.Write{{Name: "gen/c", Now: t0, Seal: sealed("c-1")}})
		}},
		{"mark compromised", func() error { return node2.MarkCompromised(ctx, "gen/a", 1, t0) }},
		{"destroy", func() error { return node2.Destroy(ctx, "gen/a", 1, t0) }},
		{"delete", func() error { return node2.Delete(ctx, "gen/c", t0) }},
		{"undelete", func() error { return node2.Undelete(ctx, "gen/c", t0) }},
		{"update token", func() error {
			_, v, err := node2.Get(ctx, "gen/b", 0)
			if err != nil {
				return err
			}
			ok, err := node2.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: "b-1'", KeyID: "k2", Binding: []byte{2}})
			if err == nil && !ok {
				err = errors.New("not updated")
			}
			return err
		}},
		{"swap tokens (re-encryption)", func() error {
			_, v, err := node2.Get(ctx, "gen/b", 0)
			if err != nil {
				return err
			}
			_, err = node2.SwapTokens(ctx, []store.TokenSwap{{ID: v.ID, Old: v.Token, New: store.Sealed{Token: "b-1''", KeyID: "k3", Binding: []byte{3}}}})
			return err
		}},
	}
	for _, c := range changes {
		before := generation(t, st)
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if after := generation(t, st); after <= before {
			t.Errorf("%s on another node: generation %d → %d, want it to move", c.name, before, after)
		}
	}

	// Reads and the audit trail leave it alone.
	before := generation(t, st)
	_, v, gen, err := st.GetCurrent(ctx, "gen/a")
	if err != nil || gen != before || v.Version != 2 || v.Token != "a-2" {
		t.Errorf("GetCurrent = version %d token %q at generation %d (%v); want version 2 at %d", v.Version, v.Token, gen, err, before)
	}
	st.Get(ctx, "gen/a", 2)
	st.History(ctx, "gen/a")
	st.List(ctx, store.ListOptions{})
	if _, err := st.AppendAudit(ctx, []audit.Event{{Action: "read", Outcome: audit.Success, Time: t0}}, linkPlain); err != nil {
		t.Fatal(err)
	}
	if after := generation(t, st); after != before {
		t.Errorf("reads and audit moved the generation: %d → %d", before, after)
	}

	// GetCurrent refuses what Get(name, 0) refuses.
	if _, _, _, err := st.GetCurrent(ctx, "gen/nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCurrent of a missing secret: %v", err)
	}
	if err := st.MarkCompromised(ctx, "gen/a", 2, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.GetCurrent(ctx, "gen/a"); !errors.Is(err, store.ErrCompromised) {
		t.Errorf("GetCurrent of a compromised version: %v", err)
	}
	if err := st.Delete(ctx, "gen/b", t0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.GetCurrent(ctx, "gen/b"); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("GetCurrent of a deleted secret: %v", err)
	}
}

func linkPlain(head audit.Head, evs []audit.Event) ([]audit.Entry, []audit.Checkpoint, error) {
	es, err := audit.Link(head, evs)
	return es, nil, err
}

// testGuardedAppend: a batch with guarded events commits those whose
// generation is the store's and leaves out the others, whose callers get
// audit.ErrStale; the chain stays whole.
func testGuardedAppend(t *testing.T, open opener) {
	st, other := open(t)
	node2 := other()
	ctx := context.Background()
	if _, _, err := st.Put(ctx, store.Write{Name: "gen/stable", Now: t0, Seal: sealed("s-1")}); err != nil {
		t.Fatal(err)
	}
	gen := generation(t, st)
	if !st.Guards() {
		t.Fatal("the store does not say it honours guards")
	}
	chain := audit.NewChain(st, nil)
	ev := func(detail string, guard uint64) audit.Event {
		return audit.Event{Action: "read", Secret: "gen/stable", Outcome: audit.Success, Detail: detail, Guard: guard, Time: t0}
	}
	write := func(evs ...audit.Event) []int {
		t.Helper()
		err := chain.WriteBatch(ctx, evs)
		var se *audit.StaleError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &se) && errors.Is(err, audit.ErrStale):
			return se.Events
		}
		t.Fatal(err)
		return nil
	}
	if stale := write(ev("plain", 0), ev("current", gen), ev("old", gen-1), ev("current 2", gen)); !slices.Equal(stale, []int{2}) {
		t.Fatalf("stale events %v, want [2]", stale)
	}
	if _, _, err := node2.Put(ctx, store.Write{Name: "gen/stable", Now: t0, Seal: sealed("s-2")}); err != nil {
		t.Fatal(err)
	}
	if stale := write(ev("was current", gen), ev("was current 2", gen)); !slices.Equal(stale, []int{0, 1}) {
		t.Fatalf("after a write on another node: stale events %v, want [0 1]", stale)
	}
	gen2 := generation(t, st)
	if gen2 <= gen {
		t.Fatalf("generation %d after %d", gen2, gen)
	}
	if stale := write(ev("new", gen2)); stale != nil {
		t.Fatalf("stale %v, want none", stale)
	}
	es, err := st.AuditAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Detail)
	}
	if want := []string{"plain", "current", "current 2", "new"}; !slices.Equal(got, want) {
		t.Errorf("stored events %q, want %q", got, want)
	}
	if r := audit.VerifyEntries(es, nil, nil); !r.OK() {
		t.Errorf("chain does not verify: %v", r.Problem)
	}
}
