package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// drivers runs fn once per store driver: SQLite always, PostgreSQL when
// SA01_TEST_DB_DSN is set.
func drivers(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) store.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "secrets.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) store.Store { return pgtest.Open(t) })
	})
}

// memRecorder keeps events; fail makes Record fail.
type memRecorder struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (r *memRecorder) Record(_ context.Context, ev audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("sink down")
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *memRecorder) last() audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return audit.Event{}
	}
	return r.events[len(r.events)-1]
}

var clock = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func ring(t *testing.T, keys ...*fernet.Key) *fernet.Ring {
	t.Helper()
	r, err := fernet.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ctxAs(actor string) context.Context {
	return audit.WithCaller(context.Background(), audit.Caller{Actor: actor, Source: "local"})
}

func mustPut(t *testing.T, s *secrets.Service, name, value string) store.Version {
	t.Helper()
	v, err := s.Put(ctxAs("alice"), name, sensitive.New(value), secrets.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
	return v
}

func TestPutGet(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		k := fernet.GenerateKey()
		rec := &memRecorder{}
		s := secrets.New(st, ring(t, k), rec, clock)
		ctx := ctxAs("alice")
		control := "\x00\x01\x02\u00e9\nx" // text, with control characters
		for i, val := range []string{"sk-first", "second value\n", control} {
			v := mustPut(t, s, "llm/openai_api_key", val)
			if v.Version != i+1 || v.KeyID != k.ID() || v.Token != "" {
				t.Fatalf("Put #%d returned %+v", i+1, v)
			}
		}
		got, err := s.Get(ctx, "llm/openai_api_key", 0)
		if err != nil || got.Value.Reveal() != control || got.Version.Version != 3 {
			t.Fatalf("Get current = %q v%d, %v", got.Value.Reveal(), got.Version.Version, err)
		}
		if ev := rec.last(); ev.Action != "read" || ev.Outcome != audit.Success || ev.Secret != "llm/openai_api_key" || ev.Version != 3 || ev.Actor != "alice" || ev.Source != "local" {
			t.Errorf("read event = %+v", ev)
		}
		got, err = s.Get(ctx, "llm/openai_api_key", 1)
		if err != nil || got.Value.Reveal() != "sk-first" {
			t.Fatalf("Get v1 = %q, %v", got.Value.Reveal(), err)
		}
		// the stored token is a plain Fernet token of exactly the value:
		// what Python's Fernet(key).decrypt(token) reads
		_, raw, err := st.Get(context.Background(), "llm/openai_api_key", 2)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := k.Decrypt([]byte(raw.Token))
		if err != nil || string(pt) != "second value\n" {
			t.Fatalf("Fernet decrypt of the stored token = %q, %v", pt, err)
		}
		if !secrets.CheckBinding(k, "llm/openai_api_key", 2, k.ID(), raw.Token, raw.Binding) {
			t.Error("stored binding does not check")
		}
		// the key is recorded (by ID) in the keys table
		if info, err := st.Key(context.Background(), k.ID()); err != nil || info.State != store.KeyActive {
			t.Errorf("key record = %+v, %v", info, err)
		}
	})
}

func TestNoValueInAuditEvents(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	rec := &memRecorder{}
	s := secrets.New(st, ring(t, fernet.GenerateKey()), rec, clock)
	const canary = "CANARY-value-9f8e7d"
	ctx := ctxAs("bob")
	mustPut(t, s, "a/b", canary)
	s.Get(ctx, "a/b", 0)
	s.Get(ctx, "a/missing", 0)
	s.List(ctx, "", false)
	s.History(ctx, "a/b")
	s.Rollback(ctx, "a/b", 1, nil)
	s.Export(ctx, "a/")
	s.Verify(ctx)
	s.Put(ctx, "bad name!", sensitive.New(canary), secrets.PutOptions{})
	s.Put(ctx, canary+" oops", sensitive.New("v"), secrets.PutOptions{})
	b, _ := json.Marshal(rec.events)
	if bytes.Contains(b, []byte(canary)) {
		t.Fatalf("an audit event holds the value: %s", b)
	}
	actions := map[string]bool{}
	for _, ev := range rec.events {
		actions[ev.Action+"/"+ev.Outcome] = true
		if ev.Time.IsZero() || ev.Actor == "" {
			t.Errorf("unstamped event %+v", ev)
		}
	}
	for _, want := range []string{"write/success", "read/success", "read/failure", "list/success", "rollback/success", "export/success", "verify/success", "write/failure"} {
		if !actions[want] {
			t.Errorf("no %s event among %v", want, actions)
		}
	}
}

func TestReadFailsClosed(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	rec := &memRecorder{}
	s := secrets.New(st, ring(t, fernet.GenerateKey()), rec, clock)
	mustPut(t, s, "a", "value")
	rec.fail = true
	got, err := s.Get(ctxAs("x"), "a", 0)
	if !errors.Is(err, audit.ErrNotRecorded) {
		t.Fatalf("Get with a failing recorder: %v, want ErrNotRecorded", err)
	}
	if got.Value.Reveal() != "" {
		t.Fatal("value returned although its read was not recorded")
	}
	if vals, err := s.Export(ctxAs("x"), ""); !errors.Is(err, audit.ErrNotRecorded) || vals != nil {
		t.Fatalf("Export with a failing recorder: %v, %d values", err, len(vals))
	}
}

func TestWrongKey(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		a, b := fernet.GenerateKey(), fernet.GenerateKey()
		mustPut(t, secrets.New(st, ring(t, a), nil, clock), "db/dsn", "postgres://u:pw@h/db")
		_, err := secrets.New(st, ring(t, b), nil, clock).Get(ctxAs("x"), "db/dsn", 0)
		var kn *secrets.KeyNotLoadedError
		if !errors.As(err, &kn) || !errors.Is(err, fernet.ErrInvalidToken) {
			t.Fatalf("Get under the wrong key: %v", err)
		}
		if kn.KeyID != a.ID() || len(kn.Loaded) != 1 || kn.Loaded[0] != b.ID() {
			t.Errorf("error = %+v; want needs %s, loaded %s", kn, a.ID(), b.ID())
		}
		msg := err.Error()
		if !strings.Contains(msg, a.ID()) || !strings.Contains(msg, b.ID()) || strings.Contains(msg, "pw@") {
			t.Errorf("message %q", msg)
		}
		// with the old key as a previous key it reads again
		if v, err := secrets.New(st, ring(t, b, a), nil, clock).Get(ctxAs("x"), "db/dsn", 0); err != nil || v.Value.Reveal() != "postgres://u:pw@h/db" {
			t.Errorf("Get with the previous key loaded: %v", err)
		}
	})
}

func TestTamperedRows(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		k := fernet.GenerateKey()
		s := secrets.New(st, ring(t, k), nil, clock)
		ctx := context.Background()
		mustPut(t, s, "a", "value-a")
		mustPut(t, s, "b", "value-b")
		mustPut(t, s, "c", "value-c")
		_, va, _ := st.Get(ctx, "a", 0)
		_, vb, _ := st.Get(ctx, "b", 0)
		_, vc, _ := st.Get(ctx, "c", 0)
		// a good read first, so that the checks below also run with the
		// service's binding key already derived
		if got, err := s.Get(ctxAs("x"), "b", 0); err != nil || got.Value.Reveal() != "value-b" {
			t.Fatalf("Get(b) before tampering: %v", err)
		}
		// swap: b's token and binding copied onto a's row
		if ok, err := st.UpdateToken(ctx, va.ID, va.Token, store.Sealed{Token: vb.Token, KeyID: vb.KeyID, Binding: vb.Binding}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		// corruption with a binding that matches (as if made with the key)
		bad := []byte(vc.Token)
		if bad[len(bad)/2] == 'A' {
			bad[len(bad)/2] = 'B'
		} else {
			bad[len(bad)/2] = 'A'
		}
		if ok, err := st.UpdateToken(ctx, vc.ID, vc.Token, store.Sealed{Token: string(bad), KeyID: k.ID(), Binding: secrets.Bind(k, "c", 1, k.ID(), string(bad))}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		for name, reason := range map[string]string{"a": secrets.ReasonBinding, "c": secrets.ReasonCorrupted} {
			_, err := s.Get(ctxAs("x"), name, 0)
			var ie *secrets.IntegrityError
			if !errors.As(err, &ie) || ie.Name != name || ie.Version != 1 || ie.Reason != reason || !errors.Is(err, fernet.ErrInvalidToken) {
				t.Errorf("Get(%s): %v; want IntegrityError %q", name, err, reason)
			}
			if strings.Contains(err.Error(), "value-") {
				t.Errorf("error reveals a value: %v", err)
			}
		}
		rep, err := s.Verify(ctxAs("x"))
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK || rep.Versions != 3 || rep.Failed != 2 || rep.Passed != 1 || len(rep.Failures) != 2 {
			t.Fatalf("report %+v", rep)
		}
		if f := rep.Failures[0]; f.Name != "a" || f.Version != 1 || f.Reason != secrets.ReasonBinding {
			t.Errorf("failure 0 = %+v", f)
		}
		if f := rep.Failures[1]; f.Name != "c" || f.Version != 1 || f.Reason != secrets.ReasonCorrupted {
			t.Errorf("failure 1 = %+v", f)
		}
	})
}

func TestVerifyKeys(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		old, cur, gone := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
		ctx := ctxAs("x")
		for i := range 3 {
			mustPut(t, secrets.New(st, ring(t, old), nil, clock), fmt.Sprintf("o/%d", i), "v")
		}
		// cur becomes the store's active key; old and gone are retained
		now := clock()
		for id, state := range map[string]string{old.ID(): store.KeyDecryptOnly, cur.ID(): store.KeyActive, gone.ID(): store.KeyDecryptOnly} {
			if err := st.PutKey(context.Background(), store.KeyInfo{ID: id, State: state, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		// (each ring holds old too: the store's audit key, which state
		// MACs are made under, is wrapped under old)
		mustPut(t, secrets.New(st, ring(t, cur, old), nil, clock), "c/1", "v")
		mustPut(t, secrets.New(st, ring(t, gone, old), nil, clock), "g/1", "v")

		rep, err := secrets.New(st, ring(t, cur, old, gone), nil, clock).Verify(ctx)
		if err != nil || !rep.OK || rep.Versions != 5 || rep.Passed != 5 {
			t.Fatalf("all keys loaded: %+v %v", rep, err)
		}
		counts := map[string]int64{}
		for _, k := range rep.Keys {
			counts[k.KeyID] = k.Versions
		}
		if counts[old.ID()] != 3 || counts[cur.ID()] != 1 || counts[gone.ID()] != 1 {
			t.Errorf("per-key counts %v", counts)
		}

		// the old key past its retention
		info, _ := st.Key(context.Background(), old.ID())
		info.State, info.RetainUntil = store.KeyDecryptOnly, clock().Add(-time.Hour)
		st.PutKey(context.Background(), info)
		rep, _ = secrets.New(st, ring(t, cur, old), nil, clock).Verify(ctx)
		if rep.OK {
			t.Fatal("report OK with a key not loaded and a key past retention")
		}
		for _, k := range rep.Keys {
			switch k.KeyID {
			case old.ID():
				if !k.PastRetention || k.State != store.KeyDecryptOnly || !k.Loaded {
					t.Errorf("old key %+v", k)
				}
			case gone.ID():
				if k.Loaded {
					t.Errorf("gone key reported loaded")
				}
			}
		}
		if rep.Failed != 1 || rep.Failures[0].Name != "g/1" || !strings.Contains(rep.Failures[0].Reason, gone.ID()) {
			t.Errorf("failures %+v", rep.Failures)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	s := secrets.New(st, ring(t, fernet.GenerateKey()), nil, clock)
	mustPut(t, s, "ok", "v1")
	ctx := ctxAs("x")
	big := strings.Repeat("x", secrets.MaxValueSize+1)
	cases := []struct {
		name, secret, value string
		o                   secrets.PutOptions
	}{
		{"empty name", "", "v", secrets.PutOptions{}},
		{"space", "a b", "v", secrets.PutOptions{}},
		{"leading slash", "/a", "v", secrets.PutOptions{}},
		{"trailing slash", "a/", "v", secrets.PutOptions{}},
		{"double slash", "a//b", "v", secrets.PutOptions{}},
		{"dot dot", "a/../b", "v", secrets.PutOptions{}},
		{"dash start", "-a", "v", secrets.PutOptions{}},
		{"too long", strings.Repeat("a", secrets.MaxNameLen+1), "v", secrets.PutOptions{}},
		{"unicode", "clé", "v", secrets.PutOptions{}},
		{"empty value", "ok", "", secrets.PutOptions{}},
		{"oversize value", "ok", big, secrets.PutOptions{}},
		{"bad class", "ok", "v", secrets.PutOptions{Class: "password"}},
		{"bad env", "ok", "v", secrets.PutOptions{Env: "1X"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(ctx, tc.secret, sensitive.New(tc.value), tc.o)
			if !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("Put: %v, want ErrInvalid", err)
			}
			if tc.value != "" && strings.Contains(err.Error(), tc.value) && len(tc.value) > 1 {
				t.Errorf("error repeats the value")
			}
			list, _ := st.List(context.Background(), store.ListOptions{IncludeDeleted: true})
			if len(list) != 1 || list[0].CurrentVersion != 1 {
				t.Fatalf("store changed: %+v", list)
			}
		})
	}
	if err := secrets.ValidateName("llm/openai_api_key"); err != nil {
		t.Error(err)
	}
	if err := secrets.ValidateName(strings.Repeat("a", secrets.MaxNameLen)); err != nil {
		t.Error(err)
	}
	if _, err := s.Put(ctx, "ok", sensitive.New(strings.Repeat("x", secrets.MaxValueSize)), secrets.PutOptions{}); err != nil {
		t.Errorf("value of exactly the limit: %v", err)
	}
}

func TestNoKeys(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	s := secrets.New(st, nil, nil, clock)
	if _, err := s.Put(ctxAs("x"), "a", sensitive.New("v"), secrets.PutOptions{}); !errors.Is(err, secrets.ErrNoKeys) {
		t.Errorf("Put without keys: %v", err)
	}
	if _, err := s.List(ctxAs("x"), "", false); err != nil {
		t.Errorf("List without keys: %v", err)
	}
}

func TestRotationDefaults(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	s := secrets.New(st, ring(t, fernet.GenerateKey()), nil, clock)
	ctx := ctxAs("x")
	day := 24 * time.Hour
	custom := 30 * day
	steps := []struct {
		name string
		o    secrets.PutOptions
		want time.Duration
	}{
		{"enc", secrets.PutOptions{Class: store.ClassEncryptionKey}, 90 * day},
		{"tok", secrets.PutOptions{Class: store.ClassInternalToken}, 180 * day},
		{"api", secrets.PutOptions{Class: store.ClassAPIKey}, 0},
		{"cfg", secrets.PutOptions{}, 0},
		{"api", secrets.PutOptions{RotationPeriod: &custom}, custom},
		{"api", secrets.PutOptions{Class: store.ClassAPIKey}, custom}, // same class keeps the period
		{"api", secrets.PutOptions{Class: store.ClassInternalToken}, 180 * day},
	}
	for _, st2 := range steps {
		if _, err := s.Put(ctx, st2.name, sensitive.New("v"), st2.o); err != nil {
			t.Fatal(err)
		}
		sec, _ := st.Secret(context.Background(), st2.name)
		if sec.RotationPeriod != st2.want {
			t.Errorf("%s after %+v: period %v, want %v", st2.name, st2.o, sec.RotationPeriod, st2.want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		rec := &memRecorder{}
		s := secrets.New(st, ring(t, fernet.GenerateKey()), rec, clock)
		ctx := ctxAs("x")
		mustPut(t, s, "x", "one")
		mustPut(t, s, "x", "two")
		v, err := s.Rollback(ctx, "x", 1, nil)
		if err != nil || v.Version != 3 {
			t.Fatalf("Rollback: %+v %v", v, err)
		}
		if got, _ := s.Get(ctx, "x", 0); got.Value.Reveal() != "one" {
			t.Errorf("after rollback: %q", got.Value.Reveal())
		}
		if ev := rec.last(); ev.Action != "read" {
			t.Errorf("event %+v", ev)
		}
		two := 2
		if _, err := s.Rollback(ctx, "x", 2, &two); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Rollback with a stale CAS: %v", err)
		}
		if err := s.Destroy(ctx, "x", 2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rollback(ctx, "x", 2, nil); !errors.Is(err, store.ErrDestroyed) {
			t.Errorf("Rollback to a destroyed version: %v", err)
		}
		if err := s.Delete(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "x", 0); !errors.Is(err, store.ErrDeleted) {
			t.Errorf("Get deleted: %v", err)
		}
		if ev := rec.last(); ev.Action != "read" || ev.Outcome != audit.Failure || ev.Reason != "deleted" {
			t.Errorf("failed read event %+v", ev)
		}
		if err := s.Undelete(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkCompromised(context.Background(), "x", 3, clock()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "x", 0); !errors.Is(err, store.ErrCompromised) {
			t.Errorf("Get compromised: %v", err)
		}
		_, hist, err := s.History(ctx, "x")
		if err != nil || len(hist) != 3 || !hist[1].Destroyed() || !hist[2].Compromised() {
			t.Errorf("History %+v %v", hist, err)
		}
	})
}

func TestImportExport(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		s := secrets.New(st, ring(t, fernet.GenerateKey()), nil, clock)
		ctx := ctxAs("x")
		src := "# comment\nexport OPENAI_API_KEY=sk-1 # trailing\nDB_DSN='postgres://u:p@h/db'\nPEM=\"-----BEGIN-----\nabc\n-----END-----\"\nlower_case=x\n"
		f, err := dotenv.Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		entries, err := f.Entries()
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Import(ctx, entries, secrets.ImportOptions{Prefix: "app/"})
		if err != nil || n != 4 {
			t.Fatalf("Import: %d %v", n, err)
		}
		vals, err := s.Export(ctx, "app/")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range vals {
			got[v.Secret.Name] = v.Value.Reveal()
		}
		want := map[string]string{"app/OPENAI_API_KEY": "sk-1", "app/DB_DSN": "postgres://u:p@h/db", "app/PEM": "-----BEGIN-----\nabc\n-----END-----", "app/lower_case": "x"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("export = %v\nwant %v", got, want)
		}
		// one bad entry: nothing imported
		bad := []secrets.Entry{{Name: "GOOD", Value: sensitive.New("v")}, {Name: "EMPTY", Value: sensitive.New(""), Line: 2}}
		if _, err := s.Import(ctx, bad, secrets.ImportOptions{Prefix: "b/"}); !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("Import with an empty value: %v", err)
		}
		if l, _ := st.List(context.Background(), store.ListOptions{Prefix: "b/"}); len(l) != 0 {
			t.Fatalf("partial import: %v", l)
		}
	})
}

// TestNoPlaintextSQLite reads the raw bytes of the SQLite files and checks
// no stored value appears in them.
func TestNoPlaintextSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := secrets.New(st, ring(t, fernet.GenerateKey()), nil, clock)
	values := plaintextCanaries()
	for i, v := range values {
		mustPut(t, s, fmt.Sprintf("p/%d", i), v)
	}
	entries := []secrets.Entry{{Name: "IMPORTED", Value: sensitive.New(values[0] + "-imported")}}
	if _, err := s.Import(ctxAs("x"), entries, secrets.ImportOptions{Prefix: "p/"}); err != nil {
		t.Fatal(err)
	}
	// check while open (the WAL holds the writes) and after close
	checkFiles := func() {
		files, _ := filepath.Glob(path + "*")
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if !bytes.Contains(all, []byte("p/0")) {
			t.Fatal("the names are not in the files: the check reads the wrong bytes")
		}
		for _, v := range append(values, values[0]+"-imported") {
			if bytes.Contains(all, []byte(v)) {
				t.Fatalf("a value appears in plaintext in the store files")
			}
		}
	}
	checkFiles()
	st.Close()
	checkFiles()
}

func plaintextCanaries() []string {
	return []string{"sk-PLAINTEXT-CANARY-0123456789abcdef", "postgres://svc:CanaryPassw0rd@db:5432/x", "-----BEGIN PRIVATE KEY-----canary"}
}

// TestNoPlaintextPostgres reads every row of the PostgreSQL tables as text
// and checks no stored value appears.
func TestNoPlaintextPostgres(t *testing.T) {
	db := pgtest.Open(t)
	s := secrets.New(db, ring(t, fernet.GenerateKey()), nil, clock)
	values := plaintextCanaries()
	for i, v := range values {
		mustPut(t, s, fmt.Sprintf("p/%d", i), v)
	}
	ctx := context.Background()
	var dump strings.Builder
	for _, table := range []string{"secrets", "versions", "keys"} {
		rows, err := db.Pool().Query(ctx, "SELECT t::text FROM "+table+" t")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			dump.WriteString(s)
		}
		rows.Close()
	}
	if !strings.Contains(dump.String(), "p/0") {
		t.Fatal("the dump does not hold the names: it reads the wrong rows")
	}
	for _, v := range values {
		if strings.Contains(dump.String(), v) {
			t.Fatal("a value appears in plaintext in the database rows")
		}
	}
}

// TestFreshKeyOnExistingStoreRefused: on a store with an active key, a
// write under a key the store does not expect (generated afresh, or
// recorded pending, retired or compromised) is refused before anything is
// written, naming the keys the store expects; a retained (decrypt-only)
// key still writes, and a new store takes its first key.
func TestFreshKeyOnExistingStoreRefused(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		a, fresh := fernet.GenerateKey(), fernet.GenerateKey()
		mustPut(t, secrets.New(st, ring(t, a), nil, clock), "db/dsn", "v1")
		s := secrets.New(st, ring(t, fresh, a), nil, clock)
		ctx := ctxAs("alice")
		writes := map[string]func() error{
			"put":      func() error { _, err := s.Put(ctx, "db/dsn", sensitive.New("v2"), secrets.PutOptions{}); return err },
			"rollback": func() error { _, err := s.Rollback(ctx, "db/dsn", 1, nil); return err },
			"import": func() error {
				_, err := s.Import(ctx, []secrets.Entry{{Name: "new/one", Value: sensitive.New("x")}}, secrets.ImportOptions{})
				return err
			},
		}
		for what, write := range writes {
			err := write()
			var ke *secrets.KeyNotExpectedError
			if !errors.As(err, &ke) || !errors.Is(err, secrets.ErrKeyNotExpected) || ke.KeyID != fresh.ID() ||
				len(ke.Expected) != 1 || ke.Expected[0] != a.ID() || !strings.Contains(err.Error(), a.ID()) {
				t.Fatalf("%s under a fresh key: %v", what, err)
			}
		}
		keys, err := st.ListKeys(context.Background())
		if err != nil || len(keys) != 1 || keys[0].ID != a.ID() {
			t.Fatalf("keys after the refusals: %+v %v", keys, err)
		}
		if sec, err := st.Secret(context.Background(), "db/dsn"); err != nil || sec.CurrentVersion != 1 {
			t.Fatalf("a refused write wrote: %+v %v", sec, err)
		}
		// the old key, now retained, still writes; a key the store records otherwise does not
		now := clock()
		b := fernet.GenerateKey()
		if err := st.PutKey(context.Background(), store.KeyInfo{ID: a.ID(), State: store.KeyDecryptOnly, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutKey(context.Background(), store.KeyInfo{ID: b.ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now}); err != nil {
			t.Fatal(err)
		}
		mustPut(t, secrets.New(st, ring(t, a, b), nil, clock), "db/dsn", "v2")
		mustPut(t, secrets.New(st, ring(t, b, a), nil, clock), "db/dsn", "v3")
		for _, state := range []string{store.KeyPending, store.KeyRetired, store.KeyCompromised} {
			k := fernet.GenerateKey()
			if err := st.PutKey(context.Background(), store.KeyInfo{ID: k.ID(), State: state, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			_, err := secrets.New(st, ring(t, k, b), nil, clock).Put(ctx, "db/dsn", sensitive.New("v"), secrets.PutOptions{})
			if !errors.Is(err, secrets.ErrKeyNotExpected) || !strings.Contains(err.Error(), state) {
				t.Fatalf("put under a %s key: %v", state, err)
			}
		}
	})
}
