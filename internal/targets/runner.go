package targets

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// Item is one value read from a target: a hash field, a key, or a row
// (Key is the row's key as text).
type Item struct {
	Key   string
	Value []byte
}

// Swap replaces Old with New at Key, only if Key still holds Old. From is
// the key ID Old is under.
type Swap struct {
	Key      string
	Old, New []byte
	From     string
}

// Conn is an open target.
type Conn interface {
	// Scan calls fn with successive batches of at most n items until every
	// item present for the whole scan has been passed at least once. fn
	// may keep the slice.
	Scan(ctx context.Context, n int, fn func([]Item) error) error
	// Swap applies every swap whose key still holds its Old value, as one
	// atomic step, and reports which it applied.
	Swap(ctx context.Context, swaps []Swap) ([]bool, error)
	Close() error
}

// Resolver returns the value of a secret in the store: a target's
// connection string.
type Resolver func(ctx context.Context, secret string) (sensitive.String, error)

// Runner reads and re-encrypts targets.
type Runner struct {
	Ring    *fernet.Ring
	Resolve Resolver
	// Open connects to a target; nil: Connect (Redis and PostgreSQL).
	Open      func(ctx context.Context, t Target, conn sensitive.String) (Conn, error)
	BatchSize int // items per scan batch and per compare-and-swap (default 1000)
	Workers   int // crypto workers (default GOMAXPROCS)
	Writers   int // concurrent compare-and-swap batches (default 2)
	// Progress, if set, is called after every batch a re-encryption writes.
	Progress func(Progress)
	Now      func() time.Time
}

// Progress is a re-encryption's progress through one target.
type Progress struct {
	Target  string
	Scanned int64
	Moved   int64
	Skipped int64
}

// Report is a target's status. It holds counts and key IDs, never a value.
type Report struct {
	Target   string           `json:"target"`
	Kind     string           `json:"kind"`
	Location string           `json:"location"`
	Total    int64            `json:"values"`
	Tokens   map[string]int64 `json:"tokens_by_key_id"`
	// Plaintext counts values that are not Fernet tokens at all.
	Plaintext int64 `json:"plaintext"`
	// Unreadable counts well-formed tokens no loaded key opens.
	Unreadable       int64      `json:"unreadable"`
	Oldest           *time.Time `json:"oldest_token,omitempty"`
	OldestAgeSeconds int64      `json:"oldest_token_age_seconds,omitempty"`
	// Error says why the target could not be read (then the counts are
	// those read before it failed).
	Error string `json:"error,omitempty"`
}

// OK reports whether the target was read whole with neither plaintext nor
// unreadable tokens in it.
func (r *Report) OK() bool { return r.Error == "" && r.Plaintext == 0 && r.Unreadable == 0 }

// Result is a re-encryption's outcome for one target.
type Result struct {
	Target string `json:"target"`
	// Moved counts the tokens moved to the primary, by the key ID they
	// were under.
	Moved   map[string]int64 `json:"moved_by_key_id"`
	ToKey   string           `json:"target_key_id"`
	Scanned int64            `json:"scanned"`
	// Skipped counts tokens the application changed between the read and
	// the compare-and-swap: left as the application wrote them.
	Skipped    int64   `json:"skipped_changed_meanwhile"`
	Plaintext  int64   `json:"plaintext"`
	Unreadable int64   `json:"unreadable"`
	Seconds    float64 `json:"seconds"`
	Error      string  `json:"error,omitempty"`
}

// MovedTotal is the number of tokens moved.
func (r *Result) MovedTotal() int64 {
	var n int64
	for _, v := range r.Moved {
		n += v
	}
	return n
}

// ErrNoRing is returned when no key is loaded.
var ErrNoRing = errors.New("no Fernet key loaded (SA01_CRYPTO_FERNET_KEY)")

func (r *Runner) batch() int {
	if r.BatchSize > 0 {
		return r.BatchSize
	}
	return 1000
}

func (r *Runner) workers() int {
	if r.Workers > 0 {
		return r.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (r *Runner) writers() int {
	if r.Writers > 0 {
		return r.Writers
	}
	return 2
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// connect resolves the target's connection string and opens it.
func (r *Runner) connect(ctx context.Context, t Target) (Conn, error) {
	if r.Resolve == nil {
		return nil, fmt.Errorf("target %s: no way to read the secret %s", t.Name, t.Secret)
	}
	cs, err := r.Resolve(ctx, t.Secret)
	if err != nil {
		return nil, fmt.Errorf("target %s: reading its connection string from the secret %s: %w", t.Name, t.Secret, err)
	}
	open := r.Open
	if open == nil {
		open = Connect
	}
	c, err := open(ctx, t, cs)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	return c, nil
}

// verdict is what one value is.
type verdict struct {
	key   *fernet.Key // the key that opens it; nil: plaintext or unreadable
	plain bool        // not a Fernet token at all
	ts    time.Time   // the token's (authenticated) time
	swap  []byte      // the token re-encrypted under the primary, when asked and needed
}

// judge classifies v; with rewrap, a token under an older key is
// re-encrypted to the primary keeping its timestamp, as MultiFernet.rotate.
func judge(ring *fernet.Ring, v []byte, rewrap bool) verdict {
	ts, ok := fernet.Inspect(v)
	if !ok {
		return verdict{plain: true}
	}
	msg, k, err := ring.DecryptWithKey(v)
	if err != nil {
		return verdict{}
	}
	out := verdict{key: k, ts: ts}
	if rewrap && k != ring.Primary() {
		out.swap = ring.Primary().EncryptAt(msg, ts)
	}
	clear(msg)
	return out
}

// judgeAll classifies items over the workers.
func (r *Runner) judgeAll(items []Item, rewrap bool) []verdict {
	out := make([]verdict, len(items))
	w := r.workers()
	if w > len(items)/64 {
		w = max(1, len(items)/64)
	}
	var wg sync.WaitGroup
	per := (len(items) + w - 1) / w
	for lo := 0; lo < len(items); lo += per {
		hi := min(lo+per, len(items))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = judge(r.Ring, items[i].Value, rewrap)
			}
		}()
	}
	wg.Wait()
	return out
}

// Status reads every target and counts its values. A target that cannot be
// read gets an Error in its report; the others are still read.
func (r *Runner) Status(ctx context.Context, ts []Target) ([]Report, error) {
	if r.Ring == nil {
		return nil, ErrNoRing
	}
	out := make([]Report, 0, len(ts))
	for _, t := range ts {
		rep := r.status(ctx, t)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		out = append(out, rep)
	}
	return out, nil
}

func (r *Runner) status(ctx context.Context, t Target) Report {
	rep := Report{Target: t.Name, Kind: t.Kind, Location: t.Where, Tokens: map[string]int64{}}
	c, err := r.connect(ctx, t)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer c.Close()
	var oldest time.Time
	err = c.Scan(ctx, r.batch(), func(items []Item) error {
		for _, v := range r.judgeAll(items, false) {
			rep.Total++
			switch {
			case v.plain:
				rep.Plaintext++
			case v.key == nil:
				rep.Unreadable++
			default:
				rep.Tokens[v.key.ID()]++
				if oldest.IsZero() || v.ts.Before(oldest) {
					oldest = v.ts
				}
			}
		}
		return nil
	})
	if err != nil {
		rep.Error = fmt.Sprintf("target %s: reading: %v", t.Name, err)
	}
	if !oldest.IsZero() {
		rep.Oldest = &oldest
		rep.OldestAgeSeconds = int64(r.now().Sub(oldest) / time.Second)
	}
	return rep
}

// Reencrypt moves every token under an older key to the ring's primary in
// each target, in turn. Plaintext and unreadable values are counted and
// left. It stops at the first target that fails, with the results so far.
// Run again after any interruption: only what is left moves.
func (r *Runner) Reencrypt(ctx context.Context, ts []Target) ([]Result, error) {
	if r.Ring == nil {
		return nil, ErrNoRing
	}
	var out []Result
	for _, t := range ts {
		res, err := r.reencrypt(ctx, t)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

type work struct {
	swaps   []Swap
	scanned int
}

// reencrypt runs a three-stage pipeline: the scan reads batch n+1 while
// batch n is re-encrypted over the workers and batch n-1 is swapped.
func (r *Runner) reencrypt(ctx context.Context, t Target) (Result, error) {
	start := time.Now()
	res := Result{Target: t.Name, Moved: map[string]int64{}, ToKey: r.Ring.Primary().ID()}
	fail := func(err error) (Result, error) {
		res.Error = err.Error()
		res.Seconds = time.Since(start).Seconds()
		return res, err
	}
	c, err := r.connect(ctx, t)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	scanned := make(chan []Item, 2)
	toSwap := make(chan work, 2)
	var scanErr, cryptErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(scanned)
		scanErr = c.Scan(ctx, r.batch(), func(items []Item) error {
			select {
			case scanned <- items:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var mu sync.Mutex // guards res's counts between the crypto and swap stages
	go func() {
		defer wg.Done()
		defer close(toSwap)
		for items := range scanned {
			verdicts := r.judgeAll(items, true)
			w := work{scanned: len(items)}
			mu.Lock()
			for i, v := range verdicts {
				switch {
				case v.plain:
					res.Plaintext++
				case v.key == nil:
					res.Unreadable++
				case v.swap != nil:
					w.swaps = append(w.swaps, Swap{Key: items[i].Key, Old: items[i].Value, New: v.swap, From: v.key.ID()})
				}
			}
			mu.Unlock()
			select {
			case toSwap <- w:
			case <-ctx.Done():
				cryptErr = ctx.Err()
				return
			}
		}
	}()

	// Writers: batches hold disjoint keys, so two swaps at once never
	// race each other; PostgreSQL uses a core per writer.
	var swapErr error
	var sw sync.WaitGroup
	for range r.writers() {
		sw.Add(1)
		go func() {
			defer sw.Done()
			for w := range toSwap {
				mu.Lock()
				failed := swapErr != nil
				mu.Unlock()
				if failed {
					continue // drain
				}
				var applied []bool
				if len(w.swaps) > 0 {
					var err error
					if applied, err = c.Swap(ctx, w.swaps); err != nil {
						mu.Lock()
						if swapErr == nil {
							swapErr = err
						}
						mu.Unlock()
						cancel()
						continue
					}
				}
				mu.Lock()
				res.Scanned += int64(w.scanned)
				for i, ok := range applied {
					if ok {
						res.Moved[w.swaps[i].From]++
					} else {
						res.Skipped++
					}
				}
				if r.Progress != nil {
					r.Progress(Progress{Target: t.Name, Scanned: res.Scanned, Moved: res.MovedTotal(), Skipped: res.Skipped})
				}
				mu.Unlock()
			}
		}()
	}
	sw.Wait()
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if err := parent.Err(); err != nil {
		return fail(err)
	}
	// The first real cause: a swap or scan error cancels the others.
	for _, e := range []error{swapErr, scanErr, cryptErr, ctx.Err()} {
		if e != nil && !errors.Is(e, context.Canceled) {
			return fail(fmt.Errorf("target %s: %w", t.Name, e))
		}
	}
	for _, e := range []error{swapErr, scanErr, cryptErr} {
		if e != nil {
			return fail(e)
		}
	}
	return res, nil
}
