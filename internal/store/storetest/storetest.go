// Package storetest is the conformance suite every store driver passes:
// call Run from the driver's tests with an [Opener].
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Opener makes a fresh, empty database for one test and returns a function
// that opens a handle on it. Each call opens another handle, as another
// process or node would have; the suite closes them.
type Opener func(t *testing.T) func() (store.Store, error)

// opener opens a fresh store for one test, and returns a function that
// opens another handle on it.
type opener func(t *testing.T) (store.Store, func() store.Store)

// Run runs the whole suite: secrets and versions, keys, the audit chain
// and incidents, the generation, rotation, identities, dumps and loads,
// and tokens.
func Run(t *testing.T, o Opener) {
	open := opener(func(t *testing.T) (store.Store, func() store.Store) {
		openDB := o(t)
		another := func() store.Store {
			t.Helper()
			st, err := openDB()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return another(), another
	})
	runSecrets(t, open)
	runAll(t, open.self, []subtest[opener]{
		{"States", runStates},
		{"Audit", runAudit},
		{"Generation", runGenerations},
		{"Rotation", runRotation},
		{"Identities", runIdentities},
		{"Dumps", runDumps},
		{"Pages", runPages},
		{"Tokens", func(t *testing.T, open opener) {
			RunTokens(t, func(t *testing.T) store.Tokens { return open.fresh(t) })
		}},
	})
}

// subtest is a test of the suite, by name, on an A.
type subtest[A any] struct {
	name string
	fn   func(t *testing.T, a A)
}

// runAll runs each of tests as a subtest, on what arg makes for it.
func runAll[A any](t *testing.T, arg func(*testing.T) A, tests []subtest[A]) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, arg(t)) })
	}
}

// fresh opens a fresh store, for a test that needs one handle.
func (o opener) fresh(t *testing.T) store.Store {
	st, _ := o(t)
	return st
}

// self is o, for a test that opens its own handles.
func (o opener) self(*testing.T) opener { return o }

func runSecrets(t *testing.T, open opener) {
	runAll(t, open.fresh, []subtest[store.Store]{
		{"PutGet", testPutGet},
		{"PutReturnsWhatIsStored", testPutReturnsWhatIsStored},
		{"Meta", testMeta},
		{"NotFound", testNotFound},
		{"CAS", testCAS},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ReadersDuringWrites", testReadersDuringWrites},
		{"DeleteUndelete", testDeleteUndelete},
		{"Destroy", testDestroy},
		{"Compromised", testCompromised},
		{"List", testList},
		{"PutManyAtomic", testPutManyAtomic},
		{"PutManyLarge", testPutManyLarge},
		{"Walk", testWalk},
		{"UpdateToken", testUpdateToken},
		{"CountByKey", testCountByKey},
		{"Keys", testKeys},
	})
}

// t0 is a fixed time with microsecond precision, which both drivers keep.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)

// sealed is a fake seal: the "token" names the secret, version and a tag,
// so tests can see which write produced a row.
func seal(name, tag string) func(int) (store.Sealed, error) {
	return func(v int) (store.Sealed, error) {
		return store.Sealed{Token: fmt.Sprintf("tok:%s:%d:%s", name, v, tag), KeyID: "key1", Binding: []byte{byte(v), 1, 2}}, nil
	}
}

func put(t *testing.T, st store.Store, name, tag string) store.Version {
	t.Helper()
	_, v, err := st.Put(context.Background(), store.Write{Name: name, Actor: "alice", Now: t0, Seal: seal(name, tag)})
	if err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func testPutGet(t *testing.T, st store.Store) {
	ctx := context.Background()
	var sawVersions []int
	s, v, err := st.Put(ctx, store.Write{Name: "a/b", Actor: "alice", Now: t0, Seal: func(n int) (store.Sealed, error) {
		sawVersions = append(sawVersions, n)
		return seal("a/b", "x")(n)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || s.CurrentVersion != 1 || !slices.Equal(sawVersions, []int{1}) {
		t.Fatalf("first put: version %d, current %d, sealed %v; want 1", v.Version, s.CurrentVersion, sawVersions)
	}
	put(t, st, "a/b", "y")
	gs, gv, err := st.Get(ctx, "a/b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if gv.Version != 2 || gv.Token != "tok:a/b:2:y" || gv.KeyID != "key1" || !slices.Equal(gv.Binding, []byte{2, 1, 2}) {
		t.Errorf("Get current = %+v", gv)
	}
	if gv.Actor != "alice" || !gv.CreatedAt.Equal(t0) || gv.Secret != "a/b" {
		t.Errorf("Get current metadata = actor %q created %v secret %q", gv.Actor, gv.CreatedAt, gv.Secret)
	}
	if gs.Name != "a/b" || gs.CurrentVersion != 2 || gs.Class != store.ClassConfig || !gs.CreatedAt.Equal(t0) {
		t.Errorf("Get secret = %+v", gs)
	}
	_, v1, err := st.Get(ctx, "a/b", 1)
	if err != nil || v1.Token != "tok:a/b:1:x" {
		t.Errorf("Get v1 = %+v, %v", v1, err)
	}
	hist, err := st.History(ctx, "a/b")
	if err != nil || len(hist) != 2 || hist[0].Version != 1 || hist[1].Version != 2 || hist[0].Token != "" {
		t.Errorf("History = %+v, %v", hist, err)
	}
}

// testPutReturnsWhatIsStored: the secret and version Put returns are what
// a later read returns, times included, even when the write's time has
// more precision than the store keeps (microseconds). SQLite's Put once
// returned the nanoseconds it was given and stored microseconds.
func testPutReturnsWhatIsStored(t *testing.T, st store.Store) {
	ctx := context.Background()
	now := t0.Add(789 * time.Nanosecond)
	for _, name := range []string{"p/new", "p/new"} { // a new secret, then a new version
		s, v, err := st.Put(ctx, store.Write{Name: name, Actor: "alice", Now: now, Seal: seal(name, "x")})
		if err != nil {
			t.Fatal(err)
		}
		gs, gv, err := st.Get(ctx, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !v.CreatedAt.Equal(gv.CreatedAt) || !s.UpdatedAt.Equal(gs.UpdatedAt) || !s.CreatedAt.Equal(gs.CreatedAt) {
			t.Errorf("Put returned created %v, updated %v (secret created %v); Get returns %v, %v (%v)",
				v.CreatedAt, s.UpdatedAt, s.CreatedAt, gv.CreatedAt, gs.UpdatedAt, gs.CreatedAt)
		}
	}
}

func testMeta(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := store.Meta{Class: ptr(store.ClassAPIKey), RotationPeriod: ptr(90 * 24 * time.Hour), Description: ptr("d"), Owner: ptr("team"), EnvName: ptr("X_KEY")}
	if _, _, err := st.Put(ctx, store.Write{Name: "m", Meta: m, Now: t0, Seal: seal("m", "1")}); err != nil {
		t.Fatal(err)
	}
	s, err := st.Secret(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Secret{ID: s.ID, Name: "m", Class: store.ClassAPIKey, RotationPeriod: 90 * 24 * time.Hour, Description: "d", Owner: "team",
		EnvName: "X_KEY", CreatedAt: t0, UpdatedAt: t0, CurrentVersion: 1}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Secret = %+v\nwant     %+v", s, want)
	}
	// nil fields keep their values; set fields change.
	later := t0.Add(time.Hour)
	if _, _, err := st.Put(ctx, store.Write{Name: "m", Meta: store.Meta{Owner: ptr("other")}, Now: later, Seal: seal("m", "2")}); err != nil {
		t.Fatal(err)
	}
	s, _ = st.Secret(ctx, "m")
	want.Owner, want.UpdatedAt, want.CurrentVersion = "other", later, 2
	if !reflect.DeepEqual(s, want) {
		t.Errorf("after update Secret = %+v\nwant                  %+v", s, want)
	}
}

func testNotFound(t *testing.T, st store.Store) {
	ctx := context.Background()
	if _, _, err := st.Get(ctx, "nope", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}
	put(t, st, "x", "1")
	if _, _, err := st.Get(ctx, "x", 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get missing version: %v, want ErrNotFound", err)
	}
	if _, err := st.Secret(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Secret missing: %v", err)
	}
	if _, err := st.History(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("History missing: %v", err)
	}
	for name, err := range map[string]error{
		"Delete":          st.Delete(ctx, "nope", t0),
		"Undelete":        st.Undelete(ctx, "nope", t0),
		"Destroy":         st.Destroy(ctx, "x", 9, t0),
		"MarkCompromised": st.MarkCompromised(ctx, "nope", 1, t0),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s missing: %v, want ErrNotFound", name, err)
		}
	}
}

func testCAS(t *testing.T, st store.Store) {
	ctx := context.Background()
	w := func(cas int, tag string) error {
		_, _, err := st.Put(ctx, store.Write{Name: "c", CAS: ptr(cas), Now: t0, Seal: seal("c", tag)})
		return err
	}
	if err := w(1, "a"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CAS 1 on a new secret: %v, want ErrConflict", err)
	}
	if _, err := st.Secret(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed CAS created the secret: %v", err)
	}
	if err := w(0, "a"); err != nil {
		t.Fatalf("CAS 0 on a new secret: %v", err)
	}
	if err := w(0, "b"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CAS 0 on an existing secret: %v, want ErrConflict", err)
	}
	if err := w(1, "c"); err != nil {
		t.Fatalf("CAS 1 at version 1: %v", err)
	}
	if err := w(1, "d"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale CAS: %v, want ErrConflict", err)
	}
	_, v, _ := st.Get(ctx, "c", 0)
	if v.Version != 2 || v.Token != "tok:c:2:c" {
		t.Fatalf("after CAS writes: %+v", v)
	}
}

func testConcurrentWriters(t *testing.T, st store.Store) {
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				_, _, err := st.Put(context.Background(), store.Write{Name: "hot", Now: t0, Seal: seal("hot", fmt.Sprintf("%d-%d", i, j))})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	hist, err := st.History(context.Background(), "hot")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != writers*each {
		t.Fatalf("%d versions after %d writes: updates were lost", len(hist), writers*each)
	}
	for i, v := range hist {
		if v.Version != i+1 {
			t.Fatalf("version %d at position %d: numbering has gaps", v.Version, i)
		}
	}
	// every write is present exactly once
	seen := map[string]bool{}
	err = st.WalkVersions(context.Background(), 50, func(vs []store.Version) error {
		for _, v := range vs {
			seen[v.Token[len(fmt.Sprintf("tok:hot:%d:", v.Version)):]] = true
		}
		return nil
	})
	if err != nil || len(seen) != writers*each {
		t.Fatalf("distinct writes stored: %d, want %d (%v)", len(seen), writers*each, err)
	}
}

func testConcurrentCAS(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "counter", "0")
	const writers, each = 4, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; {
				s, err := st.Secret(ctx, "counter")
				if err != nil {
					t.Error(err)
					return
				}
				_, _, err = st.Put(ctx, store.Write{Name: "counter", CAS: ptr(s.CurrentVersion), Now: t0, Seal: seal("counter", fmt.Sprint(i))})
				switch {
				case errors.Is(err, store.ErrConflict):
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					t.Error(err)
					return
				default:
					j++
				}
			}
		}()
	}
	wg.Wait()
	s, err := st.Secret(ctx, "counter")
	if err != nil || s.CurrentVersion != 1+writers*each {
		t.Fatalf("counter at %d (%v), want %d", s.CurrentVersion, err, 1+writers*each)
	}
	t.Logf("%d CAS conflicts retried", conflicts)
}

func testReadersDuringWrites(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "r", "0")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	var reads int
	var mu sync.Mutex
	var started sync.WaitGroup // each reader has read once: writes overlap reads
	for range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, v, err := st.Get(ctx, "r", 0)
				mu.Lock()
				reads++
				if err != nil && readErr == nil {
					readErr = err
				}
				if err == nil && v.Token == "" && readErr == nil {
					readErr = errors.New("empty token read")
				}
				mu.Unlock()
				if first {
					started.Done()
					first = false
				}
			}
		}()
	}
	started.Wait()
	for i := range 40 {
		put(t, st, "r", fmt.Sprint(i))
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("read during writes: %v", readErr)
	}
	if reads == 0 {
		t.Fatal("no reads ran")
	}
}

func testDeleteUndelete(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "d", "1")
	if err := st.Delete(ctx, "d", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "d", t0); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("second Delete: %v, want ErrDeleted", err)
	}
	if _, _, err := st.Get(ctx, "d", 0); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("Get deleted: %v, want ErrDeleted", err)
	}
	if _, _, err := st.Put(ctx, store.Write{Name: "d", Now: t0, Seal: seal("d", "2")}); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("Put on deleted: %v, want ErrDeleted", err)
	}
	if l, _ := st.List(ctx, store.ListOptions{}); len(l) != 0 {
		t.Errorf("List shows a deleted secret: %v", l)
	}
	if l, _ := st.List(ctx, store.ListOptions{IncludeDeleted: true}); len(l) != 1 || !l[0].Deleted() {
		t.Errorf("List IncludeDeleted: %+v", l)
	}
	if err := st.Undelete(ctx, "d", t0); err != nil {
		t.Fatal(err)
	}
	if _, v, err := st.Get(ctx, "d", 0); err != nil || v.Token != "tok:d:1:1" {
		t.Errorf("Get after undelete: %+v, %v", v, err)
	}
	if err := st.Undelete(ctx, "d", t0); err != nil {
		t.Errorf("Undelete of a live secret: %v", err)
	}
}

func testDestroy(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "x", "1")
	put(t, st, "x", "2")
	if err := st.Destroy(ctx, "x", 1, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, "x", 1); !errors.Is(err, store.ErrDestroyed) {
		t.Errorf("Get destroyed: %v, want ErrDestroyed", err)
	}
	if _, v, err := st.Get(ctx, "x", 0); err != nil || v.Version != 2 {
		t.Errorf("current after destroying v1: %+v, %v", v, err)
	}
	hist, _ := st.History(ctx, "x")
	if len(hist) != 2 || !hist[0].Destroyed() || hist[1].Destroyed() {
		t.Errorf("History after destroy: %+v", hist)
	}
	var walked []int
	st.WalkVersions(ctx, 10, func(vs []store.Version) error {
		for _, v := range vs {
			walked = append(walked, v.Version)
			if v.Token == "tok:x:1:1" {
				t.Error("destroyed token still stored")
			}
		}
		return nil
	})
	if !slices.Equal(walked, []int{2}) {
		t.Errorf("walk after destroy saw versions %v, want [2]", walked)
	}
	if err := st.Destroy(ctx, "x", 1, t0); err != nil {
		t.Errorf("destroying twice: %v", err)
	}
}

func testCompromised(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "k", "1")
	put(t, st, "k", "2")
	if err := st.MarkCompromised(ctx, "k", 2, t0); err != nil {
		t.Fatal(err)
	}
	_, v, err := st.Get(ctx, "k", 0)
	if !errors.Is(err, store.ErrCompromised) {
		t.Fatalf("Get compromised: %v, want ErrCompromised", err)
	}
	if v.Token != "" {
		t.Error("Get returned the token of a compromised version")
	}
	if _, _, err := st.Get(ctx, "k", 2); !errors.Is(err, store.ErrCompromised) {
		t.Errorf("Get compromised by number: %v", err)
	}
	if _, v, err := st.Get(ctx, "k", 1); err != nil || v.Version != 1 {
		t.Errorf("older version: %+v %v", v, err)
	}
	hist, _ := st.History(ctx, "k")
	if !hist[1].Compromised() || !hist[1].CompromisedAt.Equal(t0) || hist[0].Compromised() {
		t.Errorf("History: %+v", hist)
	}
}

func testList(t *testing.T, st store.Store) {
	ctx := context.Background()
	for _, n := range []string{"app/b", "app/a", "apple", "APP/c", "db/x", "app/sub/z"} {
		put(t, st, n, "1")
	}
	names := func(p string) []string {
		l, err := st.List(ctx, store.ListOptions{Prefix: p})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range l {
			out = append(out, s.Name)
		}
		return out
	}
	if got, want := names("app/"), []string{"app/a", "app/b", "app/sub/z"}; !slices.Equal(got, want) {
		t.Errorf("List app/ = %v, want %v", got, want)
	}
	if got, want := names("app"), []string{"app/a", "app/b", "app/sub/z", "apple"}; !slices.Equal(got, want) {
		t.Errorf("List app = %v, want %v", got, want)
	}
	if got, want := names(""), []string{"APP/c", "app/a", "app/b", "app/sub/z", "apple", "db/x"}; !slices.Equal(got, want) {
		t.Errorf("List all = %v, want %v", got, want)
	}
	if got := names("zzz"); len(got) != 0 {
		t.Errorf("List zzz = %v", got)
	}
}

func testPutManyAtomic(t *testing.T, st store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	ws := []store.Write{
		{Name: "m/1", Now: t0, Seal: seal("m/1", "a")},
		{Name: "m/2", Now: t0, Seal: func(int) (store.Sealed, error) { return store.Sealed{}, boom }},
	}
	if err := st.PutMany(ctx, ws); !errors.Is(err, boom) {
		t.Fatalf("PutMany: %v, want boom", err)
	}
	if l, _ := st.List(ctx, store.ListOptions{IncludeDeleted: true}); len(l) != 0 {
		t.Fatalf("a failed PutMany left %d secrets", len(l))
	}
	ws = nil
	for i := range 50 {
		n := fmt.Sprintf("m/%02d", i)
		ws = append(ws, store.Write{Name: n, Now: t0, Seal: seal(n, "a")})
	}
	ws = append(ws, store.Write{Name: "m/00", Now: t0, Seal: seal("m/00", "b")})
	if err := st.PutMany(ctx, ws); err != nil {
		t.Fatal(err)
	}
	l, _ := st.List(ctx, store.ListOptions{})
	if len(l) != 50 {
		t.Fatalf("PutMany stored %d secrets, want 50", len(l))
	}
	if _, v, _ := st.Get(ctx, "m/00", 0); v.Version != 2 || v.Token != "tok:m/00:2:b" {
		t.Errorf("repeated name in one PutMany: %+v", v)
	}
}

func testWalk(t *testing.T, st store.Store) {
	ctx := context.Background()
	for i := range 25 {
		put(t, st, fmt.Sprintf("w/%d", i%5), fmt.Sprint(i))
	}
	var batches, total int
	var last int64
	seen := map[string]bool{}
	err := st.WalkVersions(ctx, 7, func(vs []store.Version) error {
		batches++
		if len(vs) > 7 {
			t.Errorf("batch of %d, want at most 7", len(vs))
		}
		for _, v := range vs {
			if v.ID <= last {
				t.Errorf("IDs out of order: %d after %d", v.ID, last)
			}
			last = v.ID
			total++
			key := fmt.Sprintf("%s#%d", v.Secret, v.Version)
			if seen[key] {
				t.Errorf("%s walked twice", key)
			}
			seen[key] = true
			if v.Token == "" || len(v.Binding) == 0 || v.KeyID == "" {
				t.Errorf("walked version missing data: %+v", v)
			}
		}
		return nil
	})
	if err != nil || total != 25 || batches != 4 {
		t.Fatalf("walk: %d versions in %d batches (%v), want 25 in 4", total, batches, err)
	}
	stop := errors.New("stop")
	calls := 0
	err = st.WalkVersions(ctx, 10, func([]store.Version) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("walk with fn error: %v after %d calls", err, calls)
	}
}

func testUpdateToken(t *testing.T, st store.Store) {
	ctx := context.Background()
	v := put(t, st, "u", "old")
	nw := store.Sealed{Token: "tok:new", KeyID: "key2", Binding: []byte{9}}
	ok, err := st.UpdateToken(ctx, v.ID, "tok:u:1:wrong", nw)
	if err != nil || ok {
		t.Fatalf("UpdateToken with a stale token applied=%v err=%v", ok, err)
	}
	ok, err = st.UpdateToken(ctx, v.ID, v.Token, nw)
	if err != nil || !ok {
		t.Fatalf("UpdateToken applied=%v err=%v", ok, err)
	}
	_, got, _ := st.Get(ctx, "u", 1)
	if got.Token != "tok:new" || got.KeyID != "key2" || !slices.Equal(got.Binding, []byte{9}) {
		t.Errorf("after UpdateToken: %+v", got)
	}
	ok, _ = st.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: "tok:other", KeyID: "key3", Binding: []byte{1}})
	if ok {
		t.Error("second UpdateToken from the same old token applied")
	}
	// two racing updaters: exactly one wins
	v2 := put(t, st, "u2", "old")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.UpdateToken(ctx, v2.ID, v2.Token, store.Sealed{Token: fmt.Sprint("tok:race", i), KeyID: "k", Binding: []byte{1}})
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d racing UpdateTokens applied, want 1", wins)
	}
}

func testCountByKey(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "a", "1")
	put(t, st, "a", "2")
	v := put(t, st, "b", "1")
	st.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: "t", KeyID: "key2", Binding: []byte{1}})
	put(t, st, "c", "1")
	st.Destroy(ctx, "c", 1, t0)
	got, err := st.CountByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["key1"] != 2 || got["key2"] != 1 {
		t.Errorf("CountByKey = %v, want key1:2 key2:1", got)
	}
}

func testKeys(t *testing.T, st store.Store) {
	ctx := context.Background()
	k := store.KeyInfo{ID: "aaaaaaaaaaaa", State: store.KeyActive, CreatedAt: t0, ActivatedAt: t0}
	ins, err := st.EnsureKey(ctx, k)
	if err != nil || !ins {
		t.Fatalf("EnsureKey new: %v %v", ins, err)
	}
	k2 := k
	k2.State = store.KeyPending
	if ins, err := st.EnsureKey(ctx, k2); err != nil || ins {
		t.Fatalf("EnsureKey existing: %v %v", ins, err)
	}
	got, err := st.Key(ctx, k.ID)
	if err != nil || got != k {
		t.Fatalf("Key = %+v, %v\nwant %+v", got, err, k)
	}
	k.State, k.DeactivatedAt, k.RetainUntil, k.Note = store.KeyDecryptOnly, t0.Add(time.Hour), t0.Add(30*24*time.Hour), "rotated"
	if err := st.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Key(ctx, k.ID); got != k {
		t.Fatalf("after PutKey: %+v\nwant %+v", got, k)
	}
	if err := st.PutKey(ctx, store.KeyInfo{ID: "bbbbbbbbbbbb", State: "bogus", CreatedAt: t0}); err == nil {
		t.Error("PutKey accepted an unknown state")
	}
	st.PutKey(ctx, store.KeyInfo{ID: "cccccccccccc", State: store.KeyPending, CreatedAt: t0.Add(time.Minute)})
	list, err := st.ListKeys(ctx)
	if err != nil || len(list) != 2 || list[0].ID != k.ID || list[1].ID != "cccccccccccc" {
		t.Fatalf("ListKeys = %+v, %v", list, err)
	}
	if _, err := st.Key(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Key missing: %v", err)
	}
}

func testPutManyLarge(t *testing.T, st store.Store) {
	ctx := context.Background()
	put(t, st, "big/0000", "pre")
	if err := st.Delete(ctx, "big/0000", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Undelete(ctx, "big/0000", t0); err != nil {
		t.Fatal(err)
	}
	const names, rounds = 1500, 3
	var ws []store.Write
	for r := range rounds {
		for i := range names {
			n := fmt.Sprintf("big/%04d", i)
			ws = append(ws, store.Write{Name: n, Meta: store.Meta{Class: ptr(store.ClassAPIKey)}, Actor: "imp", Now: t0, Seal: seal(n, fmt.Sprint(r))})
		}
	}
	if err := st.PutMany(ctx, ws); err != nil {
		t.Fatal(err)
	}
	l, err := st.List(ctx, store.ListOptions{Prefix: "big/"})
	if err != nil || len(l) != names {
		t.Fatalf("List: %d secrets, %v", len(l), err)
	}
	for _, s := range l {
		want := rounds
		if s.Name == "big/0000" {
			want = rounds + 1
		}
		if s.CurrentVersion != want || s.Class != store.ClassAPIKey {
			t.Fatalf("%s at version %d class %s, want %d api-key", s.Name, s.CurrentVersion, s.Class, want)
		}
	}
	_, v, err := st.Get(ctx, "big/0777", 0)
	if err != nil || v.Token != "tok:big/0777:3:2" || v.Actor != "imp" {
		t.Fatalf("Get big/0777 = %+v, %v", v, err)
	}
	_, v, _ = st.Get(ctx, "big/0000", 2)
	if v.Token != "tok:big/0000:2:0" {
		t.Fatalf("big/0000 v2 = %+v", v)
	}
	// CAS and deleted checks hold inside PutMany, and a failure stores nothing
	stale := 1
	err = st.PutMany(ctx, []store.Write{
		{Name: "big/new", Now: t0, Seal: seal("big/new", "x")},
		{Name: "big/0001", CAS: &stale, Now: t0, Seal: seal("big/0001", "x")},
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutMany with a stale CAS: %v", err)
	}
	if _, err := st.Secret(ctx, "big/new"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed PutMany left big/new: %v", err)
	}
	st.Delete(ctx, "big/0002", t0)
	if err := st.PutMany(ctx, []store.Write{{Name: "big/0002", Now: t0, Seal: seal("big/0002", "x")}}); !errors.Is(err, store.ErrDeleted) {
		t.Fatalf("PutMany onto a deleted secret: %v", err)
	}
	cur := 3
	if err := st.PutMany(ctx, []store.Write{{Name: "big/0003", CAS: &cur, Now: t0, Seal: seal("big/0003", "y")}}); err != nil {
		t.Fatalf("PutMany with a matching CAS: %v", err)
	}
}
