package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runStates runs the state MAC suite: the state every change seals, the
// state reads return, the walk of states, the sealing of unsealed
// secrets, and the changes that commit their audit event.
func runStates(t *testing.T, open opener) {
	runAll(t, open.fresh, []subtest[store.Store]{
		{"SealedState", testSealedState},
		{"WalkStates", testWalkStates},
		{"SealUnsealed", testSealUnsealed},
		{"ChangeCommitsItsEvent", testChangeCommitsItsEvent},
	})
}

// fakeMAC stands for a state MAC: a hash of the state, so that tests see
// which state each MAC was made over.
func fakeMAC(s store.State) ([]byte, error) {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%v|%v|%v", s.Name, s.CurrentVersion, s.Deleted, s.Compromised, s.Destroyed))
	return h[:], nil
}

func sameState(t *testing.T, what string, sec store.Secret) {
	t.Helper()
	want, _ := fakeMAC(sec.State())
	if !slices.Equal(sec.StateMAC, want) {
		t.Errorf("%s: the state MAC is not of the state read %+v", what, sec.State())
	}
}

func testSealedState(t *testing.T, st store.Store) {
	ctx := context.Background()
	for i := range 4 {
		if _, _, err := st.Put(ctx, store.Write{Name: "s", Now: t0, Seal: seal("s", fmt.Sprint(i)), SealState: fakeMAC}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []store.Change{
		{Op: store.OpCompromise, Name: "s", Version: 2, Now: t0, SealState: fakeMAC},
		{Op: store.OpCompromise, Name: "s", Version: 4, Now: t0, SealState: fakeMAC},
		{Op: store.OpDestroy, Name: "s", Version: 1, Now: t0, SealState: fakeMAC},
	} {
		if err := st.Change(ctx, c); err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
	}
	sec, _, err := st.Get(ctx, "s", 3)
	if err != nil {
		t.Fatal(err)
	}
	if sec.CurrentVersion != 4 || sec.Deleted() || !slices.Equal(sec.Compromised, []int{2, 4}) || !slices.Equal(sec.Destroyed, []int{1}) {
		t.Fatalf("Get state = %+v", sec.State())
	}
	sameState(t, "Get", sec)
	// a put seals the new state, the marks kept
	if _, _, err := st.Put(ctx, store.Write{Name: "s", Now: t0, Seal: seal("s", "5"), SealState: fakeMAC}); err != nil {
		t.Fatal(err)
	}
	if gen, ok := st.(store.Generations); ok {
		sec, _, _, err := gen.GetCurrent(ctx, "s")
		if err != nil || sec.CurrentVersion != 5 || !slices.Equal(sec.Compromised, []int{2, 4}) {
			t.Fatalf("GetCurrent = %+v %v", sec.State(), err)
		}
		sameState(t, "GetCurrent", sec)
	}
	if err := st.Change(ctx, store.Change{Op: store.OpDelete, Name: "s", Now: t0, SealState: fakeMAC}); err != nil {
		t.Fatal(err)
	}
	var got store.Secret
	if err := st.WalkStates(ctx, 10, func(b []store.Secret) error { got = b[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	if !got.Deleted() {
		t.Fatalf("walked state %+v, want deleted", got.State())
	}
	sameState(t, "after delete", got)
	// a change without a sealer leaves the MAC as it was: it no longer
	// matches the state
	if err := st.Undelete(ctx, "s", t0); err != nil {
		t.Fatal(err)
	}
	sec, _, err = st.Get(ctx, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := fakeMAC(sec.State()); slices.Equal(sec.StateMAC, want) || !slices.Equal(sec.StateMAC, got.StateMAC) {
		t.Errorf("an unsealed undelete changed the state MAC")
	}
	// an import seals each secret's final state
	ws := []store.Write{
		{Name: "i/a", Now: t0, Seal: seal("i/a", "1"), SealState: fakeMAC},
		{Name: "i/a", Now: t0, Seal: seal("i/a", "2"), SealState: fakeMAC},
		{Name: "i/b", Now: t0, Seal: seal("i/b", "1"), SealState: fakeMAC},
	}
	if err := st.PutMany(ctx, ws); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"i/a", "i/b"} {
		sec, _, err := st.Get(ctx, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, "PutMany "+n, sec)
	}
}

func testWalkStates(t *testing.T, st store.Store) {
	ctx := context.Background()
	for i := range 7 {
		put(t, st, fmt.Sprintf("w/%d", i), "x")
	}
	if err := st.MarkCompromised(ctx, "w/3", 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "w/5", t0); err != nil {
		t.Fatal(err)
	}
	var names []string
	batches := 0
	err := st.WalkStates(ctx, 3, func(b []store.Secret) error {
		batches++
		for _, s := range b {
			names = append(names, s.Name)
			if (s.Name == "w/3") != slices.Equal(s.Compromised, []int{1}) || (s.Name == "w/5") != s.Deleted() || s.Destroyed != nil {
				t.Errorf("walked %+v", s.State())
			}
		}
		return nil
	})
	if err != nil || len(names) != 7 || batches != 3 || names[0] != "w/0" || names[6] != "w/6" {
		t.Fatalf("walk: %v in %d batches, %v", names, batches, err)
	}
	stop := errors.New("stop")
	if err := st.WalkStates(ctx, 3, func([]store.Secret) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("walk stopped by fn: %v", err)
	}
}

func testSealUnsealed(t *testing.T, st store.Store) {
	ctx := context.Background()
	if ok, err := st.StatesSealed(ctx); err != nil || ok {
		t.Fatalf("a new store: sealed %v, %v", ok, err)
	}
	put(t, st, "u/a", "1") // no sealer: no MAC
	put(t, st, "u/a", "2")
	put(t, st, "u/b", "1")
	if _, _, err := st.Put(ctx, store.Write{Name: "u/c", Now: t0, Seal: seal("u/c", "1"), SealState: fakeMAC}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkCompromised(ctx, "u/b", 1, t0); err != nil {
		t.Fatal(err)
	}
	var sealedStates []string
	n, err := st.SealUnsealed(ctx, func(s store.State) ([]byte, error) {
		sealedStates = append(sealedStates, fmt.Sprintf("%s@%d%v", s.Name, s.CurrentVersion, s.Compromised))
		return fakeMAC(s)
	}, nil)
	if err != nil || n != 2 || !slices.Equal(sealedStates, []string{"u/a@2[]", "u/b@1[1]"}) {
		t.Fatalf("SealUnsealed = %d, %v; sealed %v", n, err, sealedStates)
	}
	if ok, err := st.StatesSealed(ctx); err != nil || !ok {
		t.Fatalf("after sealing: sealed %v, %v", ok, err)
	}
	if err := st.WalkStates(ctx, 10, func(b []store.Secret) error {
		for _, s := range b {
			sameState(t, s.Name, s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// nothing left: still marked, nothing sealed
	if n, err := st.SealUnsealed(ctx, fakeMAC, nil); err != nil || n != 0 {
		t.Fatalf("second SealUnsealed = %d, %v", n, err)
	}
	// a sealer's error aborts it all
	put(t, st, "u/d", "1")
	put(t, st, "u/e", "1")
	bad := errors.New("no key")
	calls := 0
	if _, err := st.SealUnsealed(ctx, func(s store.State) ([]byte, error) {
		if calls++; calls == 2 {
			return nil, bad
		}
		return fakeMAC(s)
	}, nil); !errors.Is(err, bad) {
		t.Fatalf("SealUnsealed with a failing sealer: %v", err)
	}
	if sec, err := st.Secret(ctx, "u/d"); err != nil || sec.StateMAC != nil {
		t.Errorf("a failed sealing kept a MAC: %v", err)
	}
}

func testChangeCommitsItsEvent(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "c/a", "1")
	put(t, st, "c/a", "2")
	key := &audit.MACKey{ID: "k1", Key: [32]byte{7}}
	l := &audit.Linker{Key: key, Every: 8}
	var committed int
	tx := func(action string, fail bool) *audit.InTx {
		return &audit.InTx{
			Event: func(v int) audit.Event {
				return audit.Event{Action: action, Secret: "c/a", Version: v, Outcome: audit.Success, Time: auditT0}
			},
			Link: l.Link,
			Copy: func(context.Context, audit.Event) error {
				if fail {
					return errors.New("disk full")
				}
				return nil
			},
			Committed: func(audit.Head) { committed++ },
		}
	}
	changes := []store.Change{
		{Op: store.OpCompromise, Name: "c/a", Version: 2, Now: t0, SealState: fakeMAC, Audit: tx("compromise", false)},
		{Op: store.OpDestroy, Name: "c/a", Version: 1, Now: t0, SealState: fakeMAC, Audit: tx("destroy", false)},
		{Op: store.OpDelete, Name: "c/a", Now: t0, SealState: fakeMAC, Audit: tx("delete", false)},
		{Op: store.OpUndelete, Name: "c/a", Now: t0, SealState: fakeMAC, Audit: tx("undelete", false)},
	}
	for _, c := range changes {
		if err := st.Change(ctx, c); err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
	}
	es, err := st.AuditAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%s@%d", e.Action, e.Version))
	}
	if want := []string{"compromise@2", "destroy@1", "delete@0", "undelete@0"}; !slices.Equal(got, want) || committed != 4 {
		t.Fatalf("events %v (committed %d), want %v", got, committed, want)
	}
	// a change whose copy fails is not made, and leaves no event
	if err := st.Change(ctx, store.Change{Op: store.OpDelete, Name: "c/a", Now: t0, SealState: fakeMAC, Audit: tx("delete", true)}); err == nil {
		t.Fatal("a delete whose audit copy failed was made")
	}
	if sec, err := st.Secret(ctx, "c/a"); err != nil || sec.Deleted() {
		t.Fatalf("after a refused delete: deleted %v, %v", sec.Deleted(), err)
	}
	// a change that fails records nothing in its transaction
	if err := st.Change(ctx, store.Change{Op: store.OpDestroy, Name: "c/a", Version: 9, Now: t0, Audit: tx("destroy", false)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("destroy of a missing version: %v", err)
	}
	if es2, _ := st.AuditAfter(ctx, 0, 100); len(es2) != 4 {
		t.Fatalf("refused changes left events: %d", len(es2))
	}
	if r := verifyStore(t, st, []audit.MACKey{*key}); !r.OK() || r.Events != 4 {
		t.Fatalf("verify: %+v %v", r, r.Problem)
	}
}
