package opa

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clock is a settable clock for the cache's TTL.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// numbered answers allow (or what status says) with decision IDs d1, d2, …
func numbered(t *testing.T, status *atomic.Int64) *fakeOPA {
	var f *fakeOPA
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if status != nil && status.Load() != 200 {
			w.WriteHeader(int(status.Load()))
			return
		}
		fmt.Fprintf(w, `{"result": true, "decision_id": "d%d"}`, f.calls.Load())
	})
	return f
}

func withClock(d *Decider) *clock {
	c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	d.now = c.now
	return c
}

func TestCacheHitAndExpiry(t *testing.T) {
	t.Parallel()
	f := numbered(t, nil)
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Second})
	clk := withClock(d)
	ctx := context.Background()
	want := func(in Input, id string, cached bool) {
		t.Helper()
		dec := d.Decide(ctx, in)
		if !dec.Allow || dec.DecisionID != id || dec.Cached != cached {
			t.Fatalf("Decide = %+v; want %s, cached %v", dec, id, cached)
		}
	}
	a := input("llm/a")
	want(a, "d1", false)
	a.Request = Request{ID: "req-2", Source: "10.0.0.8"} // not part of the key
	want(a, "d1", true)
	want(input("llm/b"), "d2", false)
	clk.add(999 * time.Millisecond)
	want(a, "d1", true)
	clk.add(time.Millisecond) // the TTL is over
	want(a, "d3", false)
	want(a, "d3", true)
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

// TestCacheKey: every field but the request's is part of the key.
func TestCacheKey(t *testing.T) {
	t.Parallel()
	f := numbered(t, nil)
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Hour})
	base := input("llm/a")
	variants := []func(*Input){
		func(in *Input) {},
		func(in *Input) { in.Identity.Name = "worker" },
		func(in *Input) { in.Identity.Kind = KindOperator },
		func(in *Input) { in.Identity.Role = "admin" },
		func(in *Input) { in.Action = "write" },
		func(in *Input) { in.Secret.Name = "llm/b" },
		func(in *Input) { in.Secret.Class = "config" },
		func(in *Input) { in.Secret.Owner = "other" },
		// fields that run into each other are still told apart
		func(in *Input) { in.Secret.Class, in.Secret.Owner = "api-keyp", "latform" },
	}
	for i, v := range variants {
		in := base
		v(&in)
		if dec := d.Decide(context.Background(), in); dec.Cached {
			t.Errorf("variant %d hit the cache: %+v", i, dec)
		}
	}
	if n := f.calls.Load(); n != int64(len(variants)) {
		t.Fatalf("%d calls, want %d", n, len(variants))
	}
}

// TestCacheKeepsNoFailure: a failure to get a decision is asked again.
func TestCacheKeepsNoFailure(t *testing.T) {
	t.Parallel()
	for _, status := range []int64{500, 503} {
		var st atomic.Int64
		st.Store(status)
		f := numbered(t, &st)
		d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Hour})
		if dec := d.Decide(context.Background(), input("x")); dec.Allow {
			t.Fatalf("status %d allowed", status)
		}
		st.Store(200)
		if dec := d.Decide(context.Background(), input("x")); !dec.Allow || dec.Cached {
			t.Fatalf("after status %d: %+v", status, dec)
		}
		if d.cache.len() != 1 {
			t.Fatalf("cache holds %d", d.cache.len())
		}
	}
}

// TestCacheOff: with a TTL of 0 every access is its own call.
func TestCacheOff(t *testing.T) {
	t.Parallel()
	f := numbered(t, nil)
	d := mustNew(t, Options{URL: f.URL})
	a, b := d.Decide(context.Background(), input("x")), d.Decide(context.Background(), input("x"))
	if a.DecisionID == b.DecisionID || a.Cached || b.Cached || f.calls.Load() != 2 || d.cache != nil {
		t.Fatalf("%+v %+v after %d calls", a, b, f.calls.Load())
	}
}

// TestCacheCollapses: identical accesses that miss together make one call
// and share its decision and decision_id.
func TestCacheCollapses(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, blocking(release, `{"result": true, "decision_id": "d1"}`))
	reg := prometheus.NewRegistry()
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Hour, Registerer: reg})
	const n = 16
	decs := make([]Decision, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { decs[i] = d.Decide(context.Background(), input("x")) })
	}
	waitFor(t, "15 accesses sharing the call", func() bool {
		return metricValue(t, reg, "sa01_opa_cache_lookups_total", "shared") == n-1
	})
	close(release)
	wg.Wait()
	made := 0
	for _, dec := range decs {
		if !dec.Allow || dec.DecisionID != "d1" {
			t.Fatalf("Decide = %+v", dec)
		}
		if !dec.Cached {
			made++
		}
	}
	if made != 1 || f.calls.Load() != 1 {
		t.Fatalf("%d decisions not cached, %d calls; want 1 and 1", made, f.calls.Load())
	}
}

// TestCacheLeaderGivesUp: the access that made the call gives up; the
// call goes on for those that share it.
func TestCacheLeaderGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, blocking(release, `{"result": true, "decision_id": "d1"}`))
	reg := prometheus.NewRegistry()
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Hour, Registerer: reg})
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan Decision)
	go func() { leader <- d.Decide(ctx, input("x")) }()
	waitFor(t, "the call", func() bool { return f.calls.Load() == 1 })
	shared := make(chan Decision)
	go func() { shared <- d.Decide(context.Background(), input("x")) }()
	waitFor(t, "an access sharing the call", func() bool {
		return metricValue(t, reg, "sa01_opa_cache_lookups_total", "shared") == 1
	})
	cancel()
	if dec := <-leader; dec.Allow || !dec.Unavailable() {
		t.Fatalf("leader after cancel: %+v", dec)
	}
	close(release)
	if dec := <-shared; !dec.Allow || dec.DecisionID != "d1" || !dec.Cached {
		t.Fatalf("shared: %+v", dec)
	}
}

// TestCacheBounded: the cache holds at most MaxCacheEntries, and drops the
// oldest first.
func TestCacheBounded(t *testing.T) {
	t.Parallel()
	f := numbered(t, nil)
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Hour, MaxCacheEntries: 3})
	for i := range 5 {
		d.Decide(context.Background(), input(fmt.Sprint("s", i)))
	}
	if n := d.cache.len(); n != 3 {
		t.Fatalf("cache holds %d, want 3", n)
	}
	if dec := d.Decide(context.Background(), input("s4")); !dec.Cached {
		t.Fatal("the newest entry was dropped")
	}
	if dec := d.Decide(context.Background(), input("s0")); dec.Cached {
		t.Fatal("the oldest entry was kept")
	}
	if n := d.cache.len(); n != 3 {
		t.Fatalf("cache holds %d, want 3", n)
	}
}

// TestCacheDropsExpired: expired entries leave on the next miss.
func TestCacheDropsExpired(t *testing.T) {
	t.Parallel()
	f := numbered(t, nil)
	d := mustNew(t, Options{URL: f.URL, CacheTTL: time.Second})
	clk := withClock(d)
	for i := range 4 {
		d.Decide(context.Background(), input(fmt.Sprint("s", i)))
	}
	clk.add(2 * time.Second)
	d.Decide(context.Background(), input("new"))
	if n := d.cache.len(); n != 1 {
		t.Fatalf("cache holds %d, want 1", n)
	}
}

// waitFor waits for cond, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
