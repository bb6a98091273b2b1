package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runRotation runs the conformance tests of store.Rotation.
func runRotation(t *testing.T, open opener) {
	runAll(t, open.self, []subtest[opener]{
		{"VersionsNotUnder", testVersionsNotUnder},
		{"SwapTokens", testSwapTokens},
		{"SwapTokensConcurrent", testSwapTokensConcurrent},
		{"PromoteKey", testPromoteKey},
		{"LockRotation", testLockRotation},
	})
}

// putUnder writes one version of name under keyID.
func putUnder(t *testing.T, st store.Store, name, keyID string) store.Version {
	t.Helper()
	_, v, err := st.Put(context.Background(), store.Write{Name: name, Now: t0, Seal: func(v int) (store.Sealed, error) {
		return store.Sealed{Token: "tok:" + name + ":" + keyID, KeyID: keyID, Binding: []byte("b:" + keyID)}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testVersionsNotUnder(t *testing.T, open opener) {
	st := open.fresh(t)
	ctx := context.Background()
	var ids []int64
	for i, k := range []string{"old", "new", "old", "older", "new", "old"} {
		ids = append(ids, putUnder(t, st, "s/"+string(rune('a'+i)), k).ID)
	}
	if err := st.Destroy(ctx, "s/c", 1, t0); err != nil {
		t.Fatal(err)
	}
	got, err := st.VersionsNotUnder(ctx, "new", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[3] {
		t.Fatalf("first page: %+v", got)
	}
	if got[0].Secret != "s/a" || got[0].Version != 1 || got[0].KeyID != "old" || got[0].Token != "tok:s/a:old" || string(got[0].Binding) != "b:old" {
		t.Errorf("row fields: %+v", got[0])
	}
	got, err = st.VersionsNotUnder(ctx, "new", got[1].ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != ids[5] {
		t.Fatalf("second page (the destroyed version skipped): %+v", got)
	}
	if got, _ := st.VersionsNotUnder(ctx, "new", ids[5], 10); len(got) != 0 {
		t.Errorf("past the end: %+v", got)
	}
}

func testSwapTokens(t *testing.T, open opener) {
	st := open.fresh(t)
	ctx := context.Background()
	a := putUnder(t, st, "s/a", "old")
	b := putUnder(t, st, "s/b", "old")
	c := putUnder(t, st, "s/c", "old")
	if err := st.Destroy(ctx, "s/c", 1, t0); err != nil {
		t.Fatal(err)
	}
	swaps := []store.TokenSwap{
		{ID: a.ID, Old: "tok:s/a:old", New: store.Sealed{Token: "tok:s/a:new", KeyID: "new", Binding: []byte("b:new")}},
		{ID: b.ID, Old: "not what it holds", New: store.Sealed{Token: "tok:s/b:new", KeyID: "new", Binding: []byte("b:new")}},
		{ID: c.ID, Old: "tok:s/c:old", New: store.Sealed{Token: "tok:s/c:new", KeyID: "new", Binding: []byte("b:new")}},
	}
	applied, err := st.SwapTokens(ctx, swaps)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 3 || !applied[0] || applied[1] || applied[2] {
		t.Fatalf("applied %v, want [true false false]", applied)
	}
	_, v, err := st.Get(ctx, "s/a", 1)
	if err != nil || v.Token != "tok:s/a:new" || v.KeyID != "new" || string(v.Binding) != "b:new" {
		t.Errorf("s/a after the swap: %+v %v", v, err)
	}
	if _, v, _ := st.Get(ctx, "s/b", 1); v.Token != "tok:s/b:old" {
		t.Errorf("s/b changed though its token did not match: %+v", v)
	}
	if _, _, err := st.Get(ctx, "s/c", 1); !errors.Is(err, store.ErrDestroyed) {
		t.Errorf("the destroyed version came back: %v", err)
	}
	counts, _ := st.CountByKey(ctx)
	if counts["new"] != 1 || counts["old"] != 1 {
		t.Errorf("counts %v", counts)
	}
	if applied, err := st.SwapTokens(ctx, nil); err != nil || len(applied) != 0 {
		t.Errorf("empty batch: %v %v", applied, err)
	}
}

// Two handles swap the same rows at once: each row is applied exactly once.
func testSwapTokensConcurrent(t *testing.T, open opener) {
	st, other := open(t)
	ctx := context.Background()
	var swaps []store.TokenSwap
	for i := range 50 {
		name := "s/" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		v := putUnder(t, st, name, "old")
		swaps = append(swaps, store.TokenSwap{ID: v.ID, Old: v.Token, New: store.Sealed{Token: v.Token + ":new", KeyID: "new", Binding: []byte("b")}})
	}
	handles := []store.Store{st, other()}
	results := make([][]bool, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, h := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := 0; lo < len(swaps); lo += 10 {
				r, err := h.SwapTokens(ctx, swaps[lo:lo+10])
				if err != nil {
					errs[i] = err
					return
				}
				results[i] = append(results[i], r...)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range swaps {
		if results[0][i] == results[1][i] {
			t.Fatalf("swap %d applied by both or neither: %v %v", i, results[0][i], results[1][i])
		}
	}
	if counts, _ := st.CountByKey(ctx); counts["new"] != 50 {
		t.Errorf("counts %v", counts)
	}
}

func testPromoteKey(t *testing.T, open opener) {
	st := open.fresh(t)
	ctx := context.Background()
	now := t0.Add(time.Hour)
	until := now.Add(30 * 24 * time.Hour)
	for _, k := range []store.KeyInfo{
		{ID: "k1", State: store.KeyActive, CreatedAt: t0, ActivatedAt: t0},
		{ID: "k2", State: store.KeyPending, CreatedAt: t0},
		{ID: "k0", State: store.KeyDecryptOnly, CreatedAt: t0, DeactivatedAt: t0, RetainUntil: t0.Add(time.Hour)},
	} {
		if err := st.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PromoteKey(ctx, "k2", now, until); err != nil {
		t.Fatal(err)
	}
	k1, _ := st.Key(ctx, "k1")
	k2, _ := st.Key(ctx, "k2")
	k0, _ := st.Key(ctx, "k0")
	if k2.State != store.KeyActive || !k2.ActivatedAt.Equal(now) || !k2.RetainUntil.IsZero() {
		t.Errorf("k2 %+v", k2)
	}
	if k1.State != store.KeyDecryptOnly || !k1.DeactivatedAt.Equal(now) || !k1.RetainUntil.Equal(until) || !k1.ActivatedAt.Equal(t0) {
		t.Errorf("k1 %+v", k1)
	}
	if k0.State != store.KeyDecryptOnly || !k0.RetainUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("k0 changed: %+v", k0)
	}
	// Promoting the active key again changes nothing.
	if err := st.PromoteKey(ctx, "k2", now.Add(time.Hour), until.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.Key(ctx, "k2"); !k.ActivatedAt.Equal(now) {
		t.Errorf("re-promotion moved activated_at: %+v", k)
	}
	if err := st.PromoteKey(ctx, "nope", now, until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

func testLockRotation(t *testing.T, open opener) {
	st, other := open(t)
	ctx := context.Background()
	o := other()
	unlock, err := st.LockRotation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.LockRotation(ctx); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second handle: %v, want ErrLocked", err)
	}
	if _, err := st.LockRotation(ctx); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("same handle again: %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u2, err := o.LockRotation(ctx)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if err := u2(); err != nil {
		t.Fatal(err)
	}
}
