package rotate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

type recorder struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recorder) Record(_ context.Context, ev audit.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
	return nil
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, e := range r.evs {
		s = append(s, e.Action+":"+e.Outcome)
	}
	return s
}

// fixture is a store with n versions under k1 (the active key) and an env
// file that holds k1.
type fixture struct {
	t    *testing.T
	st   *memStore
	k1   *fernet.Key
	env  string
	orig string
	n    int
	rec  *recorder
	now  time.Time
}

func newFixture(t *testing.T, n int) *fixture {
	f := &fixture{t: t, st: newMemStore(), k1: fernet.GenerateKey(), n: n, rec: &recorder{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	seed(f.st.memSource, n, f.k1, f.k1)
	f.st.keys[f.k1.ID()] = store.KeyInfo{ID: f.k1.ID(), State: store.KeyActive, CreatedAt: f.now, ActivatedAt: f.now}
	f.orig = "# sa01\nSA01_DB_DSN=sqlite:///tmp/x.db\nSA01_CRYPTO_FERNET_KEY=" + f.k1.Encode() + "\n"
	f.env = filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(f.env, []byte(f.orig), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) rotator() *Rotator {
	return &Rotator{Store: f.st, Bind: testBind, Recorder: f.rec, BatchSize: 7, Now: func() time.Time { return f.now }}
}

func (f *fixture) ring() *fernet.Ring {
	f.t.Helper()
	ef, err := dotenv.Read(f.env)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := EnvRing(ef)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// checkAllDecrypt asserts every version decrypts under the env file's ring
// with its binding holding.
func (f *fixture) checkAllDecrypt() {
	f.t.Helper()
	ring := f.ring()
	for i := 1; i <= f.n; i++ {
		r := f.st.get(int64(i))
		k := ring.Key(r.KeyID)
		if k == nil {
			f.t.Fatalf("version %d under %s, not in the env file", i, r.KeyID)
		}
		msg, err := k.Decrypt([]byte(r.Token))
		if err != nil || string(msg) != fmt.Sprintf("value-%d", i) {
			f.t.Fatalf("version %d does not decrypt", i)
		}
		if !bytesEqual(r.Binding, testBind(k, r.Secret, r.Version, r.KeyID, r.Token)) {
			f.t.Fatalf("version %d: binding fails", i)
		}
	}
}

func (f *fixture) unchanged() {
	f.t.Helper()
	b, _ := os.ReadFile(f.env)
	if string(b) != f.orig {
		f.t.Error("the env file changed")
	}
	if _, err := os.Stat(f.env + ".bak"); err == nil {
		f.t.Error("a .bak was written")
	}
	if f.st.swapCalls != 0 {
		f.t.Error("versions were re-encrypted")
	}
}

func TestRotateOneNode(t *testing.T) {
	f := newFixture(t, 50)
	rep, err := f.rotator().Rotate(context.Background(), f.env)
	if err != nil {
		t.Fatal(err)
	}
	ring := f.ring()
	ks := ring.Keys()
	if len(ks) != 2 || ks[0].ID() != rep.NewKey || ks[1].ID() != f.k1.ID() || rep.OldKey != f.k1.ID() {
		t.Fatalf("env ring %s, report new %s old %s", keyIDsOf(ks), rep.NewKey, rep.OldKey)
	}
	if rep.Moved[f.k1.ID()] != 50 || rep.Resumed {
		t.Errorf("report %+v", rep)
	}
	checkAllUnder(t, f.st.memSource, 50, ks[0], nil)
	f.checkAllDecrypt()
	nk, old := f.st.keys[rep.NewKey], f.st.keys[f.k1.ID()]
	if nk.State != store.KeyActive || old.State != store.KeyDecryptOnly || !old.RetainUntil.Equal(f.now.Add(RetentionPeriod)) || !rep.RetainUntil.Equal(old.RetainUntil) {
		t.Errorf("key table: new %+v old %+v", nk, old)
	}
	// Other lines kept; the .bak is the staged file, which also reads every version.
	b, _ := os.ReadFile(f.env)
	if !strings.HasPrefix(string(b), "# sa01\nSA01_DB_DSN=sqlite:///tmp/x.db\n") {
		t.Errorf("env file lost its other lines: %q", b)
	}
	bak, err := dotenv.Read(f.env + ".bak")
	if err != nil {
		t.Fatal(err)
	}
	br, _ := EnvRing(bak)
	if br.Primary().ID() != f.k1.ID() || br.Key(rep.NewKey) == nil {
		t.Errorf(".bak ring %s", keyIDsOf(br.Keys()))
	}
	if strings.Contains(fmt.Sprintf("%+v", f.rec.evs), rep.Key.Encode()) {
		t.Error("an audit event holds the key")
	}
	if got := f.rec.actions(); len(got) != 1 || got[0] != "key-rotate:success" {
		t.Errorf("audit %v", got)
	}
	// A second rotation moves everything again, and the old key goes second.
	rep2, err := f.rotator().Rotate(context.Background(), f.env)
	if err != nil {
		t.Fatal(err)
	}
	if ks := f.ring().Keys(); len(ks) != 3 || ks[0].ID() != rep2.NewKey || ks[1].ID() != rep.NewKey || ks[2].ID() != f.k1.ID() {
		t.Errorf("after a second rotation: %s", keyIDsOf(ks))
	}
	f.checkAllDecrypt()
}

// A rotation stopped after each durable step, or in the middle of the
// re-encryption, finishes when run again, with every version readable
// under the env file on disk at every point.
func TestRotateResumes(t *testing.T) {
	for _, stop := range []string{"staged", "mid-reencrypt", "reencrypted", "promoted-env", "promoted-store"} {
		t.Run(stop, func(t *testing.T) {
			f := newFixture(t, 60)
			ctx, cancel := context.WithCancel(context.Background())
			r := f.rotator()
			r.Step = func(s string) {
				if s == stop {
					cancel()
				}
			}
			if stop == "mid-reencrypt" {
				r.Writers = 1 // the hook counts calls
				calls := 0
				f.st.beforeSwap = func() {
					if calls++; calls == 3 {
						cancel()
					}
				}
			}
			_, err := r.Rotate(ctx, f.env)
			// Stopped after the store's promotion, only an empty sweep is
			// left, and it may finish.
			if !errors.Is(err, context.Canceled) && !(stop == "promoted-store" && err == nil) {
				t.Fatalf("first run: %v", err)
			}
			f.st.beforeSwap = nil
			f.checkAllDecrypt()
			staged := f.ring()
			rep, err := f.rotator().Rotate(context.Background(), f.env)
			if err != nil {
				t.Fatal(err)
			}
			if stop != "promoted-store" {
				if !rep.Resumed {
					t.Error("the rerun did not take up the staged key")
				}
				var pending string
				for _, k := range staged.Keys() {
					if k.ID() != f.k1.ID() {
						pending = k.ID()
					}
				}
				if rep.NewKey != pending {
					t.Errorf("rerun promoted %s, want the staged %s", rep.NewKey, pending)
				}
			}
			f.checkAllDecrypt()
			ks := f.ring().Keys()
			checkAllUnder(t, f.st.memSource, 60, ks[0], nil)
			if f.st.keys[ks[0].ID()].State != store.KeyActive {
				t.Errorf("the env file's primary is %s in the store", f.st.keys[ks[0].ID()].State)
			}
			active := 0
			for _, k := range f.st.keys {
				if k.State == store.KeyActive {
					active++
				}
			}
			if active != 1 {
				t.Errorf("%d active keys", active)
			}
		})
	}
}

func TestRotateBadInputChangesNothing(t *testing.T) {
	t.Run("missing env file", func(t *testing.T) {
		f := newFixture(t, 5)
		_, err := f.rotator().Rotate(context.Background(), f.env+".missing")
		var ee *dotenv.FileError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(f.env + ".missing.lock"); err == nil {
			t.Error("a lock file was created beside a missing env file")
		}
		f.unchanged()
	})
	t.Run("env file without the key", func(t *testing.T) {
		f := newFixture(t, 5)
		f.orig = "SA01_DB_DSN=sqlite:///tmp/x.db\n"
		os.WriteFile(f.env, []byte(f.orig), 0o600)
		_, err := f.rotator().Rotate(context.Background(), f.env)
		if !errors.Is(err, ErrNoKeyInFile) {
			t.Fatalf("got %v", err)
		}
		f.unchanged()
	})
	t.Run("key that does not match the data", func(t *testing.T) {
		f := newFixture(t, 5)
		other := fernet.GenerateKey()
		f.orig = "SA01_CRYPTO_FERNET_KEY=" + other.Encode() + "\n"
		os.WriteFile(f.env, []byte(f.orig), 0o600)
		_, err := f.rotator().Rotate(context.Background(), f.env)
		var km *KeyMismatchError
		if !errors.As(err, &km) || !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "5 versions use key "+f.k1.ID()) {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), other.Encode()) {
			t.Fatal("the error shows a key")
		}
		f.unchanged()
		if len(f.st.keys) != 1 {
			t.Error("keys were registered")
		}
	})
	t.Run("store's active key not in the file", func(t *testing.T) {
		f := newFixture(t, 0)
		f.n = 0
		other := fernet.GenerateKey()
		f.orig = "SA01_CRYPTO_FERNET_KEY=" + other.Encode() + "\n"
		os.WriteFile(f.env, []byte(f.orig), 0o600)
		_, err := f.rotator().Rotate(context.Background(), f.env)
		var km *KeyMismatchError
		if !errors.As(err, &km) || !strings.Contains(err.Error(), "active key "+f.k1.ID()) {
			t.Fatalf("got %v", err)
		}
		f.unchanged()
	})
	t.Run("two rotations at once: env file lock", func(t *testing.T) {
		f := newFixture(t, 5)
		l, err := LockFile(context.Background(), f.env+".lock", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		_, err = f.rotator().Rotate(context.Background(), f.env)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another rotation is running") {
			t.Fatalf("got %v", err)
		}
		f.unchanged()
		if got := f.rec.actions(); len(got) != 1 || got[0] != "key-rotate:failure" {
			t.Errorf("audit %v", got)
		}
	})
	t.Run("two rotations at once: store lock", func(t *testing.T) {
		f := newFixture(t, 5)
		unlock, _ := f.st.LockRotation(context.Background())
		defer unlock()
		_, err := f.rotator().Rotate(context.Background(), f.env)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("got %v", err)
		}
		f.unchanged()
	})
	t.Run("the second waits with Wait", func(t *testing.T) {
		f := newFixture(t, 5)
		unlock, _ := f.st.LockRotation(context.Background())
		go func() { time.Sleep(300 * time.Millisecond); unlock() }()
		r := f.rotator()
		r.Wait = time.Minute
		if _, err := r.Rotate(context.Background(), f.env); err != nil {
			t.Fatal(err)
		}
		f.checkAllDecrypt()
	})
}

// The staged procedure on two nodes sharing one store.
func TestStagedRotationTwoNodes(t *testing.T) {
	f := newFixture(t, 40)
	envB := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(envB, []byte(f.orig), 0o600)
	ctx := context.Background()
	r := f.rotator()

	st, err := r.Stage(ctx, f.env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.st.keys[st.Key].State != store.KeyPending {
		t.Fatalf("staged key is %s", f.st.keys[st.Key].State)
	}
	if ks := f.ring().Keys(); ks[0].ID() != f.k1.ID() || ks[1].ID() != st.Key {
		t.Fatalf("env A ring %s", keyIDsOf(ks))
	}
	// Staging again without a key reports the staged one.
	again, err := r.Stage(ctx, f.env, nil)
	if err != nil || !again.Already || again.Key != st.Key {
		t.Fatalf("second stage: %+v %v", again, err)
	}
	// Node B stages the same key.
	stB, err := r.Stage(ctx, envB, st.New)
	if err != nil || stB.Key != st.Key {
		t.Fatalf("stage on B: %+v %v", stB, err)
	}
	// reencrypt before promote has nothing to do: the primary is still k1.
	if res, err := r.Reencrypt(ctx, ReencryptOptions{EnvPath: f.env}); err != nil || res.Total() != 0 {
		t.Fatalf("reencrypt before promote: %v", err)
	}
	// A ring whose primary is the pending key is refused: promote first.
	_, err = r.Reencrypt(ctx, ReencryptOptions{Ring: mustRing(t, st.New, f.k1)})
	var ke *KeyStateError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "key promote") || f.st.swapCalls != 0 {
		t.Fatalf("reencrypt to a pending key: %v", err)
	}
	// Promote on A records it in the store.
	p, err := r.Promote(ctx, f.env)
	if err != nil || p.NewKey != st.Key || p.OldKey != f.k1.ID() || p.Already {
		t.Fatalf("promote A: %+v %v", p, err)
	}
	if f.st.keys[st.Key].State != store.KeyActive || f.st.keys[f.k1.ID()].State != store.KeyDecryptOnly {
		t.Fatal("store not promoted")
	}
	// B, still on the old file, may not re-encrypt backwards.
	_, err = r.Reencrypt(ctx, ReencryptOptions{EnvPath: envB})
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "out of date") {
		t.Fatalf("reencrypt from a stale node: %v", err)
	}
	pB, err := r.Promote(ctx, envB)
	if err != nil || !pB.Already || pB.NewKey != st.Key {
		t.Fatalf("promote B: %+v %v", pB, err)
	}
	if f.st.swapCalls != 0 {
		t.Fatal("promote re-encrypted")
	}
	res, err := r.Reencrypt(ctx, ReencryptOptions{EnvPath: envB})
	if err != nil || res.Total() != 40 {
		t.Fatalf("reencrypt: %v, moved %d", err, res.Total())
	}
	f.checkAllDecrypt()
	// Retire: refused within the 30 days, allowed after.
	_, err = r.Retire(ctx, f.k1.ID(), f.env, false, "")
	if !errors.As(err, &ke) || !ke.Forceable || !strings.Contains(err.Error(), "retained until") {
		t.Fatalf("retire in retention: %v", err)
	}
	f.now = f.now.Add(RetentionPeriod + time.Hour)
	rr, err := r.Retire(ctx, f.k1.ID(), f.env, false, "")
	if err != nil || !rr.RemovedFromEnv {
		t.Fatalf("retire: %+v %v", rr, err)
	}
	if f.st.keys[f.k1.ID()].State != store.KeyRetired || f.ring().Key(f.k1.ID()) != nil {
		t.Fatal("not retired")
	}
	rB, err := r.Retire(ctx, f.k1.ID(), envB, false, "")
	if err != nil || !rB.Already || !rB.RemovedFromEnv {
		t.Fatalf("retire on B: %+v %v", rB, err)
	}
	f.checkAllDecrypt()
	want := []string{"key-stage:success", "key-stage:success", "key-stage:success", "reencrypt:success", "reencrypt:failure", "key-promote:success",
		"reencrypt:failure", "key-promote:success", "reencrypt:success", "key-retire:failure", "key-retire:success", "key-retire:success"}
	if got := f.rec.actions(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit:\n%v\nwant\n%v", got, want)
	}
}

func TestRetireRefusals(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	r := f.rotator()
	_, err := r.Retire(ctx, f.k1.ID(), "", true, "because")
	var ke *KeyStateError
	if !errors.As(err, &ke) || ke.Forceable || !strings.Contains(err.Error(), "active key") {
		t.Fatalf("retire active: %v", err)
	}
	if _, err := r.Retire(ctx, "000000000000", "", false, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retire unknown: %v", err)
	}
	// Rotate with the old key's versions left behind (a stale writer): the
	// old key is still in use.
	if _, err := r.Rotate(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	f.st.put(1000, "late", 1, f.k1, []byte("late"))
	f.now = f.now.Add(RetentionPeriod + time.Hour)
	_, err = r.Retire(ctx, f.k1.ID(), f.env, false, "")
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "1 versions still use it") {
		t.Fatalf("retire in use: %v", err)
	}
	if _, err := r.Retire(ctx, f.k1.ID(), f.env, true, ""); err == nil {
		t.Fatal("--force without a reason accepted")
	}
	if f.st.keys[f.k1.ID()].State != store.KeyDecryptOnly || f.ring().Key(f.k1.ID()) == nil {
		t.Fatal("a refused retire changed something")
	}
	rep, err := r.Retire(ctx, f.k1.ID(), f.env, true, "incident 42")
	if err != nil || !rep.Forced || rep.Versions != 1 {
		t.Fatalf("forced retire: %+v %v", rep, err)
	}
	if k := f.st.keys[f.k1.ID()]; k.State != store.KeyRetired || !strings.Contains(k.Note, "incident 42") {
		t.Errorf("key %+v", k)
	}
	last := f.rec.evs[len(f.rec.evs)-1]
	if last.Action != ActionKeyRetire || !strings.Contains(last.Detail, "forced: incident 42") {
		t.Errorf("audit %+v", last)
	}
}

// The policy's script form: old and new key given; the new key is recorded
// active and everything moves to it.
func TestReencryptOldNewKeys(t *testing.T) {
	f := newFixture(t, 30)
	k2 := fernet.GenerateKey()
	ring := mustRing(t, k2, f.k1)
	res, err := f.rotator().Reencrypt(context.Background(), ReencryptOptions{Ring: ring, PromoteTarget: true})
	if err != nil || res.Total() != 30 {
		t.Fatalf("%v, moved %d", err, res.Total())
	}
	checkAllUnder(t, f.st.memSource, 30, k2, nil)
	if f.st.keys[k2.ID()].State != store.KeyActive || f.st.keys[f.k1.ID()].State != store.KeyDecryptOnly {
		t.Error("key table not updated")
	}
	// Swapped arguments: the old key may not become the primary again.
	_, err = f.rotator().Reencrypt(context.Background(), ReencryptOptions{Ring: mustRing(t, f.k1, k2), PromoteTarget: true})
	var ke *KeyStateError
	if !errors.As(err, &ke) {
		t.Fatalf("swapped keys: %v", err)
	}
	// A wrong old key: nothing changes.
	k3 := fernet.GenerateKey()
	calls := f.st.swapCalls
	_, err = f.rotator().Reencrypt(context.Background(), ReencryptOptions{Ring: mustRing(t, k3, fernet.GenerateKey()), PromoteTarget: true})
	if !errors.Is(err, ErrUnknownKey) || f.st.swapCalls != calls || f.st.keys[k3.ID()].State != "" {
		t.Fatalf("wrong old key: %v", err)
	}
}

func TestRegisterPreviousKeys(t *testing.T) {
	f := newFixture(t, 3)
	k0 := fernet.GenerateKey()
	f.orig = "SA01_CRYPTO_FERNET_KEY=" + f.k1.Encode() + "\n" + config.EnvFernetPreviousKeys + "=" + k0.Encode() + "\n"
	os.WriteFile(f.env, []byte(f.orig), 0o600)
	rep, err := f.rotator().Rotate(context.Background(), f.env)
	if err != nil {
		t.Fatal(err)
	}
	if k := f.st.keys[k0.ID()]; k.State != store.KeyDecryptOnly || !k.RetainUntil.Equal(f.now.Add(RetentionPeriod)) {
		t.Errorf("previous key registered as %+v", k)
	}
	if ks := f.ring().Keys(); len(ks) != 3 || ks[0].ID() != rep.NewKey || ks[1].ID() != f.k1.ID() || ks[2].ID() != k0.ID() {
		t.Errorf("ring %s", keyIDsOf(ks))
	}
}
