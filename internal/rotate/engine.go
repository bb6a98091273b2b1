package rotate

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Source is what the engine needs of a store: a subset of [store.Store]
// and [store.Rotation]. Tests use an in-memory one.
type Source interface {
	VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error)
	SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error)
	CountByKey(ctx context.Context) (map[string]int64, error)
}

// Binder computes a row binding: a MAC under a key derived from key, over
// the secret name, version, key ID and token. The engine checks the old
// binding under the old key before it re-encrypts a row, so a moved or
// swapped token is never laundered into a fresh binding.
// secrets.Bind is the one the store's versions carry.
type Binder func(key *fernet.Key, name string, version int, keyID, token string) []byte

// Progress is reported after every batch.
type Progress struct {
	Total   int64 // versions under other keys when the run started
	Done    int64 // re-encrypted by this run
	Skipped int64 // changed by someone else between read and write
	Failed  int64 // could not be re-encrypted (see Result.Failures)
	Batches int
}

// Failure names a version the engine could not re-encrypt, and why; never
// a value.
type Failure struct {
	Name    string
	Version int
	KeyID   string
	Reason  string
}

// Result summarises a run.
type Result struct {
	Target   string           // the key everything was moved to
	Moved    map[string]int64 // re-encrypted, by the key they were under
	Skipped  int64
	Failures []Failure
	Elapsed  time.Duration
}

// Total returns the number of versions moved.
func (r *Result) Total() int64 {
	var n int64
	for _, v := range r.Moved {
		n += v
	}
	return n
}

// ErrUnknownKey is returned (wrapped in a *MissingKeysError) before
// anything is changed, when versions use keys that the ring lacks.
var ErrUnknownKey = errors.New("versions use keys that are not loaded")

// MissingKeysError lists key IDs the store uses that the ring lacks, with
// the number of versions under each.
type MissingKeysError struct {
	Missing map[string]int64
	Loaded  []string
}

func (e *MissingKeysError) Error() string {
	ids := make([]string, 0, len(e.Missing))
	for id := range e.Missing {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	s := "the keys do not match the data:"
	for _, id := range ids {
		s += fmt.Sprintf(" %d versions use key %s, which is not loaded;", e.Missing[id], id)
	}
	return s[:len(s)-1]
}

func (e *MissingKeysError) Unwrap() error { return ErrUnknownKey }

// ErrFailures is returned by Run when some versions could not be
// re-encrypted; the rest were, and Result.Failures names them.
var ErrFailures = errors.New("some versions could not be re-encrypted")

// Engine re-encrypts every version not under the ring's primary to the
// primary, with Fernet's rotate semantics: the plaintext and the token's
// original timestamp are kept; the key ID and the row binding are new.
//
// It reads the store in batches in ID order, does the crypto on every core,
// and writes each batch in one transaction with compare-and-swap on the old
// token. It holds no state of its own: a run killed at any point is resumed
// by running again (rows already moved are no longer "not under the
// primary"), and two engines on two nodes at once are safe (one swap of
// each row wins; the other is skipped).
type Engine struct {
	Source Source
	Ring   *fernet.Ring // primary: the target; the others decrypt
	Bind   Binder       // secrets.Bind; nil: rows carry no binding
	// NewBinder, if set, replaces Bind with one binder per worker (see
	// secrets.NewBinder).
	NewBinder func() Binder
	BatchSize int // default 1000
	Workers   int // crypto goroutines; default GOMAXPROCS
	Writers   int // goroutines writing batches; default 2
	// Progress, if set, is called after every batch, one call at a time.
	Progress func(Progress)

	bmu     sync.Mutex
	binders map[int]Binder
}

// Check returns a *MissingKeysError when the store holds versions under
// keys the ring lacks, and the counts by key otherwise.
func (e *Engine) Check(ctx context.Context) (map[string]int64, error) {
	counts, err := e.Source.CountByKey(ctx)
	if err != nil {
		return nil, err
	}
	missing := map[string]int64{}
	for id, n := range counts {
		if n > 0 && e.Ring.Key(id) == nil {
			missing[id] = n
		}
	}
	if len(missing) > 0 {
		var loaded []string
		for _, k := range e.Ring.Keys() {
			loaded = append(loaded, k.ID())
		}
		return counts, &MissingKeysError{Missing: missing, Loaded: loaded}
	}
	return counts, nil
}

// binder returns worker w's binder, made once per run.
func (e *Engine) binder(w int) Binder {
	e.bmu.Lock()
	defer e.bmu.Unlock()
	if e.binders == nil {
		e.binders = map[int]Binder{}
	}
	b, ok := e.binders[w]
	if !ok {
		b = e.NewBinder()
		e.binders[w] = b
	}
	return b
}

type batchOut struct {
	swaps    []store.TokenSwap
	from     []string // old key ID of each swap
	failures []Failure
	n        int
}

// Run re-encrypts until no version is left under another key that this run
// has not seen. It refuses to start (changing nothing) when versions use
// keys the ring lacks. It returns ErrFailures when some versions could not
// be decrypted or their binding did not hold; every other version is
// moved.
func (e *Engine) Run(ctx context.Context) (*Result, error) {
	start := time.Now()
	target := e.Ring.Primary()
	res := &Result{Target: target.ID(), Moved: map[string]int64{}}
	counts, err := e.Check(ctx)
	if err != nil {
		return res, err
	}
	var prog Progress
	for id, n := range counts {
		if id != target.ID() {
			prog.Total += n
		}
	}
	if prog.Total == 0 {
		res.Elapsed = time.Since(start)
		if e.Progress != nil {
			e.Progress(prog)
		}
		return res, nil
	}
	size := e.BatchSize
	if size <= 0 {
		size = 1000
	}
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reads := make(chan []store.Version, 2)
	outs := make(chan batchOut, 2)
	errc := make(chan error, 2)

	// Stage 1: read batches in ID order.
	go func() {
		defer close(reads)
		var after int64
		for {
			rows, err := e.Source.VersionsNotUnder(ctx, target.ID(), after, size)
			if err != nil {
				errc <- err
				return
			}
			if len(rows) == 0 {
				return
			}
			after = rows[len(rows)-1].ID
			select {
			case reads <- rows:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stage 2: the crypto of each batch, split over the workers.
	go func() {
		defer close(outs)
		for rows := range reads {
			out := e.rewrap(rows, target, workers)
			select {
			case outs <- out:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stage 3: write each batch in one transaction, on Writers goroutines
	// (batches are disjoint, and each swap is compare-and-swap, so their
	// order does not matter).
	var mu sync.Mutex
	var werr error
	var wg sync.WaitGroup
	writers := e.Writers
	if writers <= 0 {
		writers = 2
	}
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for out := range outs {
				var applied []bool
				if len(out.swaps) > 0 {
					var err error
					applied, err = e.Source.SwapTokens(ctx, out.swaps)
					if err == nil && len(applied) != len(out.swaps) {
						err = fmt.Errorf("rotate: store answered %d results for %d swaps", len(applied), len(out.swaps))
					}
					if err != nil {
						mu.Lock()
						if werr == nil {
							werr = err
						}
						mu.Unlock()
						cancel()
						return
					}
				}
				mu.Lock()
				for i, ok := range applied {
					if ok {
						res.Moved[out.from[i]]++
						prog.Done++
					} else {
						prog.Skipped++
						res.Skipped++
					}
				}
				res.Failures = append(res.Failures, out.failures...)
				prog.Failed += int64(len(out.failures))
				prog.Batches++
				if e.Progress != nil {
					e.Progress(prog)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if werr != nil {
		return res, werr
	}
	select {
	case err := <-errc:
		return res, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	if len(res.Failures) > 0 {
		return res, ErrFailures
	}
	return res, nil
}

// rewrap does the crypto of one batch on up to workers goroutines. The
// output keeps the input's order.
func (e *Engine) rewrap(rows []store.Version, target *fernet.Key, workers int) batchOut {
	type slot struct {
		swap store.TokenSwap
		fail *Failure
	}
	slots := make([]slot, len(rows))
	if workers > len(rows) {
		workers = len(rows)
	}
	chunk := (len(rows) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			bind := e.Bind
			if e.NewBinder != nil {
				bind = e.binder(w)
			}
			for i := lo; i < hi; i++ {
				sw, f := e.rewrapOne(&rows[i], target, bind)
				if f != nil {
					slots[i].fail = f
				} else {
					slots[i].swap = sw
				}
			}
		}(lo, hi)
	}
	wg.Wait()
	out := batchOut{n: len(rows)}
	for i, s := range slots {
		if s.fail != nil {
			out.failures = append(out.failures, *s.fail)
			continue
		}
		out.swaps = append(out.swaps, s.swap)
		out.from = append(out.from, rows[i].KeyID)
	}
	return out
}

func (e *Engine) rewrapOne(r *store.Version, target *fernet.Key, bind Binder) (store.TokenSwap, *Failure) {
	fail := func(reason string) (store.TokenSwap, *Failure) {
		return store.TokenSwap{}, &Failure{Name: r.Secret, Version: r.Version, KeyID: r.KeyID, Reason: reason}
	}
	old := e.Ring.Key(r.KeyID)
	if old == nil {
		return fail("key " + r.KeyID + " is not loaded")
	}
	if bind != nil {
		want := bind(old, r.Secret, r.Version, r.KeyID, r.Token)
		if !hmac.Equal(want, r.Binding) {
			return fail("row binding does not hold: the token was moved or altered")
		}
	}
	tok := []byte(r.Token)
	msg, err := old.Decrypt(tok) // authenticates the whole token, timestamp included
	if err != nil {
		return fail("does not decrypt under key " + r.KeyID)
	}
	ts, ok := tokenTime(tok)
	if !ok {
		return fail("does not decrypt under key " + r.KeyID)
	}
	nt := string(target.EncryptAt(msg, ts))
	clear(msg)
	sw := store.TokenSwap{ID: r.ID, Old: r.Token, New: store.Sealed{Token: nt, KeyID: target.ID()}}
	if bind != nil {
		sw.New.Binding = bind(target, r.Secret, r.Version, target.ID(), nt)
	}
	return sw, nil
}
