package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

func sealed(tok string) func(int) (store.Sealed, error) {
	return func(int) (store.Sealed, error) { return store.Sealed{Token: tok, KeyID: "k", Binding: []byte{1}}, nil }
}

// rawGeneration reads the generation through a connection of its own, as
// another process would.
func rawGeneration(t *testing.T, raw *sql.DB) uint64 {
	t.Helper()
	var n uint64
	if err := raw.QueryRow(`SELECT n FROM store_generation WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGenerationMovesOnEveryChange: every way a secret or a version can
// change moves the generation, including SQL run on the file by another
// program, and reads do not.
func TestGenerationMovesOnEveryChange(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	if _, _, err := db.Put(ctx, store.Write{Name: "a", Now: storeNow, Seal: sealed("t1")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Put(ctx, store.Write{Name: "b", Now: storeNow, Seal: sealed("b1")}); err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		name string
		do   func() error
	}{
		{"put", func() error {
			_, _, err := db.Put(ctx, store.Write{Name: "a", Now: storeNow, Seal: sealed("t2")})
			return err
		}},
		{"put many", func() error {
			return db.PutMany(ctx, []store.Write{{Name: "c", Now: storeNow, Seal: sealed("c1")}})
		}},
		{"mark compromised", func() error { return db.MarkCompromised(ctx, "a", 1, storeNow) }},
		{"destroy", func() error { return db.Destroy(ctx, "a", 1, storeNow) }},
		{"delete", func() error { return db.Delete(ctx, "c", storeNow) }},
		{"undelete", func() error { return db.Undelete(ctx, "c", storeNow) }},
		{"update token", func() error {
			_, v, err := db.Get(ctx, "b", 0)
			if err != nil {
				return err
			}
			ok, err := db.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: "b1'", KeyID: "k2", Binding: []byte{2}})
			if err == nil && !ok {
				err = errors.New("not updated")
			}
			return err
		}},
		{"swap tokens (re-encryption)", func() error {
			_, v, err := db.Get(ctx, "b", 0)
			if err != nil {
				return err
			}
			_, err = db.SwapTokens(ctx, []store.TokenSwap{{ID: v.ID, Old: v.Token, New: store.Sealed{Token: "b1''", KeyID: "k3", Binding: []byte{3}}}})
			return err
		}},
		{"SQL from another program", func() error {
			_, err := raw.Exec(`UPDATE versions SET token = 'forged' WHERE secret_id = (SELECT id FROM secrets WHERE name = 'b')`)
			return err
		}},
		{"row deleted by another program", func() error {
			_, err := raw.Exec(`DELETE FROM versions WHERE secret_id = (SELECT id FROM secrets WHERE name = 'c')`)
			return err
		}},
	}
	for _, c := range changes {
		before := rawGeneration(t, raw)
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if after := rawGeneration(t, raw); after <= before {
			t.Errorf("%s: generation %d → %d, want it to move", c.name, before, after)
		}
	}

	// Reads, and the audit trail, leave it alone.
	before := rawGeneration(t, raw)
	_, v, gen, err := db.GetCurrent(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if gen != before || v.Version != 2 || v.Token != "t2" {
		t.Errorf("GetCurrent = version %d token %q at generation %d; want version 2 at %d", v.Version, v.Token, gen, before)
	}
	db.Get(ctx, "a", 2)
	db.History(ctx, "a")
	db.List(ctx, store.ListOptions{})
	if _, err := db.AppendAudit(ctx, []audit.Event{{Action: "read", Outcome: audit.Success}}, linkPlain); err != nil {
		t.Fatal(err)
	}
	if after := rawGeneration(t, raw); after != before {
		t.Errorf("reads and audit moved the generation: %d → %d", before, after)
	}

	// GetCurrent answers like Get(name, 0) when the version may not be served.
	for name, want := range map[string]error{"nope": store.ErrNotFound} {
		if _, _, _, err := db.GetCurrent(ctx, name); !errors.Is(err, want) {
			t.Errorf("GetCurrent(%s): %v, want %v", name, err, want)
		}
	}
	if err := db.MarkCompromised(ctx, "a", 2, storeNow); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.GetCurrent(ctx, "a"); !errors.Is(err, store.ErrCompromised) {
		t.Errorf("GetCurrent of a compromised version: %v", err)
	}
}

func linkPlain(head audit.Head, evs []audit.Event) ([]audit.Entry, []audit.Checkpoint, error) {
	es, err := audit.Link(head, evs)
	return es, nil, err
}

// TestGuardedAppend: a batch with guarded events commits those whose
// generation is the store's and leaves out the others, whose callers get
// audit.ErrStale; the chain stays whole.
func TestGuardedAppend(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Put(ctx, store.Write{Name: "a", Now: storeNow, Seal: sealed("t1")}); err != nil {
		t.Fatal(err)
	}
	_, _, gen, err := db.GetCurrent(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	chain := audit.NewChain(db, nil)
	if !chain.Guards() {
		t.Fatal("the SQLite chain does not honour guards")
	}
	ev := func(detail string, guard uint64) audit.Event {
		return audit.Event{Action: "read", Secret: "a", Outcome: audit.Success, Detail: detail, Guard: guard}
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
	if _, _, err := db.Put(ctx, store.Write{Name: "a", Now: storeNow, Seal: sealed("t2")}); err != nil {
		t.Fatal(err)
	}
	if stale := write(ev("was current", gen), ev("was current 2", gen)); !slices.Equal(stale, []int{0, 1}) {
		t.Fatalf("after a write: stale events %v, want [0 1]", stale)
	}
	_, _, gen2, err := db.GetCurrent(ctx, "a")
	if err != nil || gen2 <= gen {
		t.Fatalf("generation %d after %d: %v", gen2, gen, err)
	}
	if stale := write(ev("new", gen2)); stale != nil {
		t.Fatalf("stale %v, want none", stale)
	}

	es, err := db.AuditAfter(ctx, 0, 100)
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
