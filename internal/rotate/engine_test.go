package rotate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

func mustRing(t testing.TB, keys ...*fernet.Key) *fernet.Ring {
	t.Helper()
	r, err := fernet.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seed puts n versions: odd IDs under a, even under b.
func seed(src *memSource, n int, a, b *fernet.Key) {
	for i := 1; i <= n; i++ {
		k := a
		if i%2 == 0 {
			k = b
		}
		src.put(int64(i), fmt.Sprintf("s/%d", i), 1+i%3, k, []byte(fmt.Sprintf("value-%d", i)))
	}
}

func checkAllUnder(t *testing.T, src *memSource, n int, target *fernet.Key, ts map[int64]time.Time) {
	t.Helper()
	for i := 1; i <= n; i++ {
		r := src.get(int64(i))
		if r.KeyID != target.ID() {
			t.Fatalf("row %d under %s, want %s", i, r.KeyID, target.ID())
		}
		msg, err := target.Decrypt([]byte(r.Token))
		if err != nil || string(msg) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("row %d: decrypt %q, %v", i, msg, err)
		}
		if !bytesEqual(r.Binding, testBind(target, r.Secret, r.Version, target.ID(), r.Token)) {
			t.Fatalf("row %d: binding not recomputed under the new key", i)
		}
		if ts != nil {
			got, _ := target.ExtractTimestamp([]byte(r.Token))
			if !got.Equal(ts[int64(i)]) {
				t.Fatalf("row %d: timestamp %v, want the original %v", i, got, ts[int64(i)])
			}
		}
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func timestamps(t *testing.T, src *memSource, n int, ring *fernet.Ring) map[int64]time.Time {
	m := map[int64]time.Time{}
	for i := 1; i <= n; i++ {
		r := src.get(int64(i))
		ts, err := ring.Key(r.KeyID).ExtractTimestamp([]byte(r.Token))
		if err != nil {
			t.Fatal(err)
		}
		m[int64(i)] = ts
	}
	return m
}

func TestEngineMovesEverythingKeepingTimestamps(t *testing.T) {
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	const n = 257
	// Old timestamps: encrypt at a fixed time in the past.
	past := time.Unix(1_600_000_000, 0)
	for i := 1; i <= n; i++ {
		k := k1
		if i%2 == 0 {
			k = k2
		}
		tok := string(k.EncryptAt([]byte(fmt.Sprintf("value-%d", i)), past.Add(time.Duration(i)*time.Second)))
		src.rows[int64(i)] = &store.Version{ID: int64(i), Secret: fmt.Sprintf("s/%d", i), Version: 1, KeyID: k.ID(), Token: tok,
			Binding: testBind(k, fmt.Sprintf("s/%d", i), 1, k.ID(), tok)}
	}
	ring := mustRing(t, k3, k1, k2)
	ts := timestamps(t, src, n, ring)
	var last Progress
	e := &Engine{Source: src, Ring: ring, Bind: testBind, NewBinder: func() Binder { return secrets.NewBinder() }, BatchSize: 10, Workers: 3, Progress: func(p Progress) { last = p }}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkAllUnder(t, src, n, k3, ts)
	if res.Moved[k1.ID()] != 129 || res.Moved[k2.ID()] != 128 || res.Total() != n {
		t.Errorf("Moved = %v", res.Moved)
	}
	if last.Total != n || last.Done != n || last.Batches != 26 {
		t.Errorf("last progress %+v", last)
	}
	// A second run has nothing to do.
	calls := src.swapCalls
	res, err = e.Run(context.Background())
	if err != nil || res.Total() != 0 || src.swapCalls != calls {
		t.Errorf("second run: %v, moved %d, swap calls %d -> %d", err, res.Total(), calls, src.swapCalls)
	}
}

func TestEngineRefusesUnknownKeysChangingNothing(t *testing.T) {
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	seed(src, 20, k1, k2)
	e := &Engine{Source: src, Ring: mustRing(t, k3, k1), Bind: testBind}
	_, err := e.Run(context.Background())
	var mk *MissingKeysError
	if !errors.As(err, &mk) || !errors.Is(err, ErrUnknownKey) || mk.Missing[k2.ID()] != 10 {
		t.Fatalf("Run = %v, want MissingKeysError for %s", err, k2.ID())
	}
	if src.swapCalls != 0 {
		t.Error("rows were changed")
	}
}

func TestEngineReportsBadRowsAndMovesTheRest(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	seed(src, 10, k1, k1)
	// Row 3 holds row 4's token: its binding no longer holds.
	src.rows[3].Token = src.rows[4].Token
	// Row 5's token is corrupted, with a binding that matches the corrupt token.
	bad := []byte(src.rows[5].Token)
	bad[20] ^= 1
	src.rows[5].Token, src.rows[5].Binding = string(bad), testBind(k1, "s/5", src.rows[5].Version, k1.ID(), string(bad))
	e := &Engine{Source: src, Ring: mustRing(t, k2, k1), Bind: testBind, BatchSize: 4}
	res, err := e.Run(context.Background())
	if !errors.Is(err, ErrFailures) {
		t.Fatalf("Run = %v, want ErrFailures", err)
	}
	if len(res.Failures) != 2 || res.Failures[0].Name != "s/3" || res.Failures[1].Name != "s/5" {
		t.Fatalf("failures %+v", res.Failures)
	}
	if src.get(3).KeyID != k1.ID() || src.get(5).KeyID != k1.ID() {
		t.Error("a bad row was re-encrypted")
	}
	if res.Total() != 8 {
		t.Errorf("moved %d, want 8", res.Total())
	}
}

// Two engines over one store at once: every row ends under the target, each
// swap is applied once, and the skipped counts add up.
func TestEngineTwoAtOnce(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	const n = 2000
	seed(src, n, k1, k1)
	ring := mustRing(t, k2, k1)
	ts := timestamps(t, src, n, ring)
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &Engine{Source: src, Ring: ring, Bind: testBind, BatchSize: 7 + 5*i}
			results[i], errs[i] = e.Run(context.Background())
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	checkAllUnder(t, src, n, k2, ts)
	if got := results[0].Total() + results[1].Total(); got != n {
		t.Errorf("moved %d + %d = %d, want %d", results[0].Total(), results[1].Total(), got, n)
	}
}

// A run stopped between batches (the context ends, as a kill would stop
// it) is resumed by the next run, which moves only what is left.
func TestEngineResumes(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	const n = 100
	seed(src, n, k1, k1)
	ring := mustRing(t, k2, k1)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	src.beforeSwap = func() {
		calls++
		if calls == 4 {
			cancel()
		}
	}
	// One writer: the hook counts calls.
	e := &Engine{Source: src, Ring: ring, Bind: testBind, BatchSize: 10, Writers: 1}
	res, err := e.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	first := res.Total()
	if first == 0 || first == n {
		t.Fatalf("first run moved %d; want a partial run", first)
	}
	src.beforeSwap = nil
	res, err = e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if first+res.Total() != n {
		t.Errorf("moved %d then %d, want %d in all", first, res.Total(), n)
	}
	checkAllUnder(t, src, n, k2, nil)
}

// Rows that change between read and write (another node moved them) are
// skipped, not overwritten.
func TestEngineCASSkipsChangedRows(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	src := newMemSource()
	seed(src, 10, k1, k1)
	ring := mustRing(t, k2, k1)
	other := &Engine{Source: src, Ring: ring, Bind: testBind}
	src.beforeSwap = func() {
		src.beforeSwap = nil
		if _, err := other.Run(context.Background()); err != nil {
			t.Error(err)
		}
	}
	e := &Engine{Source: src, Ring: ring, Bind: testBind, BatchSize: 100, Writers: 1}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Total() != 0 || res.Skipped != 10 {
		t.Errorf("moved %d skipped %d; want 0 and 10", res.Total(), res.Skipped)
	}
	checkAllUnder(t, src, 10, k2, nil)
}

func TestLifecycleTransitions(t *testing.T) {
	allowed := map[[2]State]bool{
		{Pending, Active}: true, {Pending, Retired}: true, {Pending, Compromised}: true,
		{Active, DecryptOnly}: true, {Active, Compromised}: true,
		{DecryptOnly, Retired}: true, {DecryptOnly, Compromised}: true,
		{Compromised, Retired}: true,
	}
	for _, from := range States {
		for _, to := range States {
			want := allowed[[2]State{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
			err := CheckTransition("abc", from, to)
			var te *TransitionError
			if want != (err == nil) || (!want && !errors.As(err, &te)) {
				t.Errorf("CheckTransition(%s, %s) = %v", from, to, err)
			}
		}
	}
	for _, s := range States {
		p, err := ParseState(string(s))
		if err != nil || p != s {
			t.Errorf("ParseState(%s) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseState("destroyed"); err == nil {
		t.Error("ParseState accepted an unknown state")
	}
	if !Active.CanEncrypt() || Pending.CanEncrypt() || DecryptOnly.CanEncrypt() {
		t.Error("only the active key encrypts")
	}
	if Retired.CanDecrypt() || !DecryptOnly.CanDecrypt() || !Pending.CanDecrypt() {
		t.Error("CanDecrypt wrong")
	}
}
