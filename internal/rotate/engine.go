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
)

// Row is one stored version as the re-encryption engine sees it.
type Row struct {
	ID      int64 // the store's row identity, ascending: the walk's cursor
	Name    string
	Version int
	KeyID   string
	Token   []byte
	Binding []byte
}

// Swap replaces one row's ciphertext: only if the row still holds Old
// (compare-and-swap), so two engines at once, or a destroy meanwhile, never
// lose or resurrect anything.
type Swap struct {
	ID         int64
	Name       string
	Version    int
	Old        []byte
	NewKeyID   string
	NewToken   []byte
	NewBinding []byte
}

// Source is what the engine needs of a store. The store's drivers provide
// it; tests use an in-memory one.
type Source interface {
	// RowsNotUnder returns up to limit rows whose key ID is not keyID and
	// whose ID is greater than after, in ascending ID order.
	RowsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]Row, error)
	// SwapTokens applies every swap whose row still holds its Old token, in
	// one transaction, and reports for each swap whether it was applied.
	SwapTokens(ctx context.Context, swaps []Swap) ([]bool, error)
	// CountByKey returns the number of versions under each key ID.
	CountByKey(ctx context.Context) (map[string]int64, error)
}

// Binder computes a row binding: a MAC under a key derived from key, over
// the secret name, version, key ID and token. The engine checks the old
// binding under the old key before it re-encrypts a row, so a moved or
// swapped token is never laundered into a fresh binding.
type Binder func(key *fernet.Key, name string, version int, keyID string, token []byte) []byte

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
	Source    Source
	Ring      *fernet.Ring // primary: the target; the others decrypt
	Bind      Binder       // nil: the store has no row bindings
	BatchSize int          // default 1000
	Workers   int          // default GOMAXPROCS
	// Progress, if set, is called after every batch, from one goroutine.
	Progress func(Progress)
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

type batchOut struct {
	swaps    []Swap
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
	reads := make(chan []Row, 2)
	outs := make(chan batchOut, 2)
	errc := make(chan error, 2)

	// Stage 1: read batches in ID order.
	go func() {
		defer close(reads)
		var after int64
		for {
			rows, err := e.Source.RowsNotUnder(ctx, target.ID(), after, size)
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
	// Stage 3: write each batch in one transaction, in order.
	for out := range outs {
		if len(out.swaps) > 0 {
			applied, err := e.Source.SwapTokens(ctx, out.swaps)
			if err != nil {
				cancel()
				return res, err
			}
			if len(applied) != len(out.swaps) {
				cancel()
				return res, fmt.Errorf("rotate: store answered %d results for %d swaps", len(applied), len(out.swaps))
			}
			for i, ok := range applied {
				if ok {
					res.Moved[out.from[i]]++
					prog.Done++
				} else {
					prog.Skipped++
					res.Skipped++
				}
			}
		}
		res.Failures = append(res.Failures, out.failures...)
		prog.Failed += int64(len(out.failures))
		prog.Batches++
		if e.Progress != nil {
			e.Progress(prog)
		}
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
func (e *Engine) rewrap(rows []Row, target *fernet.Key, workers int) batchOut {
	type slot struct {
		swap Swap
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
			for i := lo; i < hi; i++ {
				sw, f := e.rewrapOne(&rows[i], target)
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

func (e *Engine) rewrapOne(r *Row, target *fernet.Key) (Swap, *Failure) {
	fail := func(reason string) (Swap, *Failure) {
		return Swap{}, &Failure{Name: r.Name, Version: r.Version, KeyID: r.KeyID, Reason: reason}
	}
	old := e.Ring.Key(r.KeyID)
	if old == nil {
		return fail("key " + r.KeyID + " is not loaded")
	}
	if e.Bind != nil {
		want := e.Bind(old, r.Name, r.Version, r.KeyID, r.Token)
		if !hmac.Equal(want, r.Binding) {
			return fail("row binding does not hold: the token was moved or altered")
		}
	}
	ts, err := old.ExtractTimestamp(r.Token)
	if err != nil {
		return fail("does not decrypt under key " + r.KeyID)
	}
	msg, err := old.Decrypt(r.Token)
	if err != nil {
		return fail("does not decrypt under key " + r.KeyID)
	}
	tok := target.EncryptAt(msg, ts)
	clear(msg)
	sw := Swap{ID: r.ID, Name: r.Name, Version: r.Version, Old: r.Token, NewKeyID: target.ID(), NewToken: tok}
	if e.Bind != nil {
		sw.NewBinding = e.Bind(target, r.Name, r.Version, target.ID(), tok)
	}
	return sw, nil
}
