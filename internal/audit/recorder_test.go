package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var okEvent = Event{Action: "read", Secret: "db/pass", Outcome: Success}

func TestBoundedFailingSinkRefuses(t *testing.T) {
	var logged []error
	var mu sync.Mutex
	inner := RecorderFunc(func(context.Context, Event) error { return errors.New("disk full at /var/lib/x") })
	b := NewBounded(inner, time.Second, func(err error) { mu.Lock(); logged = append(logged, err); mu.Unlock() })
	err := b.Record(context.Background(), okEvent)
	if !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("got %v, want ErrNotRecorded", err)
	}
	if strings.Contains(err.Error(), "disk full") {
		t.Fatalf("the caller was told the sink's details: %v", err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0].Error(), "disk full") {
		t.Fatalf("the operator was not told: %v", logged)
	}
}

// refusedAtBound records an event through b, whose sink does not answer,
// and checks that it is refused once bound has passed, and not much later.
func refusedAtBound(t *testing.T, b *Bounded, bound time.Duration) {
	t.Helper()
	start := time.Now()
	err := b.Record(context.Background(), okEvent)
	took := time.Since(start)
	if !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("got %v, want ErrNotRecorded", err)
	}
	if took < bound || took > bound+2*time.Second {
		t.Fatalf("returned after %s, want about %s", took, bound)
	}
}

func TestBoundedHangingSinkReturnsWithinBound(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	inner := RecorderFunc(func(context.Context, Event) error { <-release; return nil }) // ignores its context
	const bound = 100 * time.Millisecond
	b := NewBounded(inner, bound, nil)
	refusedAtBound(t, b, bound)
}

// hangingWriter is a BatchWriter whose writes never finish and ignore
// their context, like a store stuck on a lock.
type hangingWriter struct{ release chan struct{} }

func (w hangingWriter) WriteBatch(context.Context, []Event) error { <-w.release; return nil }

// Bounded calls a Batcher (and a Tee of Batchers) on the caller's
// goroutine; a writer that hangs must still not hold the caller beyond the
// bound, and a Tee with a sink that ignores its context must still go
// through the goroutine that bounds it.
func TestBoundedOverBatcherWithHangingWriter(t *testing.T) {
	const bound = 100 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	ignoring := RecorderFunc(func(context.Context, Event) error { <-release; return nil })
	for _, tc := range []struct {
		name   string
		r      func() (Recorder, func())
		direct bool
	}{
		{"batcher", func() (Recorder, func()) {
			b := NewBatcher(hangingWriter{release}, BatcherOptions{})
			return b, func() { go b.Close() }
		}, true},
		{"tee of batchers", func() (Recorder, func()) {
			b1 := NewBatcher(hangingWriter{release}, BatcherOptions{})
			b2 := NewBatcher(&Memory{}, BatcherOptions{})
			return Tee{b2, b1}, func() { go b1.Close(); b2.Close() }
		}, true},
		{"tee with a sink ignoring its context", func() (Recorder, func()) {
			b := NewBatcher(&Memory{}, BatcherOptions{})
			return Tee{b, ignoring}, func() { b.Close() }
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, stop := tc.r()
			defer stop()
			var logged []error
			var mu sync.Mutex
			b := NewBounded(r, bound, func(err error) { mu.Lock(); logged = append(logged, err); mu.Unlock() })
			if b.direct != tc.direct {
				t.Fatalf("direct = %v, want %v", b.direct, tc.direct)
			}
			refusedAtBound(t, b, bound)
			mu.Lock()
			defer mu.Unlock()
			if len(logged) != 1 || !strings.Contains(logged[0].Error(), "did not answer") {
				t.Fatalf("the operator was told %v", logged)
			}
		})
	}
}

// A batch that fails is refused to the caller of a directly called
// Batcher, and the cause goes only to the operator.
func TestBoundedOverBatcherFailingWriter(t *testing.T) {
	w := &slowWriter{fail: true}
	bt := NewBatcher(w, BatcherOptions{})
	defer bt.Close()
	var logged []error
	b := NewBounded(bt, time.Second, func(err error) { logged = append(logged, err) })
	err := b.Record(context.Background(), okEvent)
	if !errors.Is(err, ErrNotRecorded) || strings.Contains(err.Error(), "commit failed") {
		t.Fatalf("got %v, want ErrNotRecorded without the cause", err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0].Error(), "commit failed") {
		t.Fatalf("the operator was told %v", logged)
	}
}

func TestBoundedDefaultTimeoutAndValidation(t *testing.T) {
	b := NewBounded(Discard{}, 0, nil)
	if b.timeout != DefaultTimeout {
		t.Fatalf("default timeout %s", b.timeout)
	}
	if err := b.Record(context.Background(), Event{Action: "read"}); !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("an event without outcome was accepted: %v", err)
	}
	if err := b.Record(context.Background(), okEvent); err != nil {
		t.Fatal(err)
	}
}

func TestTeeFailsIfAnySinkFails(t *testing.T) {
	var m Memory
	bad := RecorderFunc(func(context.Context, Event) error { return errors.New("down") })
	if err := (Tee{&m, bad}).Record(context.Background(), okEvent); err == nil {
		t.Fatal("a failing sink went unnoticed")
	}
	if err := (Tee{&m, Discard{}}).Record(context.Background(), okEvent); err != nil {
		t.Fatal(err)
	}
	// The first sink holds the refused access twice (recorded, then
	// refused because the copy failed) and the second access once.
	es := m.Entries()
	if len(es) != 3 || es[0].Outcome != Success || es[1].Outcome != Failure || es[1].Reason != ReasonCopyFailed ||
		es[1].Action != okEvent.Action || es[2].Outcome != Success {
		t.Fatalf("memory sink has %+v", es)
	}
}

// brokenSink is a copy that reports itself broken, as File does after a
// failed write.
type brokenSink struct{ calls int }

func (b *brokenSink) Record(context.Context, Event) error { b.calls++; return errors.New("down") }
func (b *brokenSink) Err() error                          { return errors.New("broken") }

// TestTeeRecordsTheRefusalOfABrokenCopy: while the file sink is broken,
// every access is refused and the store's chain says so (it used to say
// success for each one until restart).
func TestTeeRecordsTheRefusalOfABrokenCopy(t *testing.T) {
	var m Memory
	b := &brokenSink{}
	for range 3 {
		if err := (Tee{&m, b}).Record(context.Background(), okEvent); err == nil {
			t.Fatal("an access went through a broken copy")
		}
	}
	for _, e := range m.Entries() {
		if e.Outcome != Failure || e.Reason != ReasonCopyFailed {
			t.Fatalf("the chain recorded %+v for a refused access", e)
		}
	}
	if n := len(m.Entries()); n != 3 || b.calls != 0 {
		t.Fatalf("%d events, broken sink called %d times", n, b.calls)
	}
}

// slowWriter records batch sizes and takes a while per batch, like a commit.
type slowWriter struct {
	Memory
	mu      sync.Mutex
	batches []int
	delay   time.Duration
	fail    bool
}

func (w *slowWriter) WriteBatch(ctx context.Context, evs []Event) error {
	time.Sleep(w.delay)
	w.mu.Lock()
	w.batches = append(w.batches, len(evs))
	fail := w.fail
	w.mu.Unlock()
	if fail {
		return errors.New("commit failed")
	}
	return w.Memory.WriteBatch(ctx, evs)
}

func TestBatcherGroupsConcurrentEventsInOrder(t *testing.T) {
	w := &slowWriter{delay: 5 * time.Millisecond}
	b := NewBatcher(w, BatcherOptions{})
	const clients, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := okEvent
				ev.Version = c*1000 + i
				if err := b.Record(context.Background(), ev); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b.Close()
	es := w.Entries()
	if len(es) != clients*each {
		t.Fatalf("%d events stored, want %d", len(es), clients*each)
	}
	if r := VerifyEntries(es, nil, nil); !r.OK() {
		t.Fatal(r.Problem)
	}
	// Each client's events appear in the order it recorded them.
	last := map[int]int{}
	for _, e := range es {
		c, i := e.Version/1000, e.Version%1000
		if p, ok := last[c]; ok && i <= p {
			t.Fatalf("client %d: event %d stored after %d", c, i, p)
		}
		last[c] = i
	}
	if len(w.batches) >= clients*each {
		t.Fatalf("no batching: %d batches for %d events", len(w.batches), clients*each)
	}
	if n, e := b.Stats(); n != int64(len(w.batches)) || e != clients*each {
		t.Fatalf("Stats() = %d batches, %d events; want %d, %d", n, e, len(w.batches), clients*each)
	}
}

func TestBatcherReportsBatchFailureToEveryCaller(t *testing.T) {
	w := &slowWriter{fail: true}
	b := NewBatcher(w, BatcherOptions{})
	defer b.Close()
	var wg sync.WaitGroup
	var failed sync.Map
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Record(context.Background(), okEvent); err != nil {
				failed.Store(i, true)
			}
		}()
	}
	wg.Wait()
	n := 0
	failed.Range(func(any, any) bool { n++; return true })
	if n != 8 {
		t.Fatalf("%d of 8 callers saw the failure", n)
	}
}

func TestBatcherClosed(t *testing.T) {
	b := NewBatcher(&Memory{}, BatcherOptions{})
	b.Close()
	if err := b.Record(context.Background(), okEvent); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

func TestFileSinkChainsAndResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFile(path, nil, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteBatch(context.Background(), testEvents(3)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	f, err = OpenFile(path, nil, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if f.Head().Seq != 3 {
		t.Fatalf("resumed at %v", f.Head())
	}
	if err := f.WriteBatch(context.Background(), testEvents(2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, _ := os.ReadFile(path)
	r, err := VerifyFile(bytes.NewReader(data), testKey)
	if err != nil || !r.OK() || r.Events != 5 {
		t.Fatalf("verify: %+v %v %v", r, r.Problem, err)
	}
	// Field names of the line format.
	first := strings.SplitN(string(data), "\n", 2)[0]
	for _, k := range []string{`"seq":1`, `"prev":"` + ZeroHash, `"hash":`, `"time":"2026-01-02T03:04:05.123456789Z"`, `"service":"svc"`, `"actor":`, `"action":"read"`, `"secret":"db/pass-0"`, `"version":1`, `"outcome":"success"`, `"request_id":"r0"`, `"source":"127.0.0.1"`} {
		if !strings.Contains(first, k) {
			t.Errorf("line lacks %s: %s", k, first)
		}
	}
	// Swapping two lines is named.
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	lines[1], lines[2] = lines[2], lines[1]
	r, _ = VerifyFile(strings.NewReader(strings.Join(lines, "\n")), testKey)
	if r.OK() || r.Problem.Kind != Reordered || r.Problem.Position != 2 {
		t.Fatalf("swapped lines: %+v", r.Problem)
	}
	// Editing a value in place is named, by line.
	edited := strings.Replace(string(data), `"secret":"db/pass-1"`, `"secret":"db/pass-2"`, 1)
	r, _ = VerifyFile(strings.NewReader(edited), testKey)
	if r.OK() || r.Problem.Kind != Edited || r.Problem.Seq != 2 || r.Problem.Position != 2 {
		t.Fatalf("edited line: %+v", r.Problem)
	}
	// Garbage in a line is named.
	r, _ = VerifyFile(strings.NewReader(lines[0]+"\nnot json\n"), testKey)
	if r.OK() || r.Problem.Kind != Edited || r.Problem.Position != 2 {
		t.Fatalf("garbage line: %+v", r.Problem)
	}
}

func TestFileSinkRefusesWideModeAndTornTail(t *testing.T) {
	dir := t.TempDir()
	wide := filepath.Join(dir, "wide.jsonl")
	os.WriteFile(wide, nil, 0o644)
	os.Chmod(wide, 0o644)
	if _, err := OpenFile(wide, nil, testKey); err == nil {
		t.Fatal("a world-readable audit file was accepted")
	}
	torn := filepath.Join(dir, "torn.jsonl")
	os.WriteFile(torn, []byte(`{"seq":1,"prev":"`), 0o600)
	if _, err := OpenFile(torn, nil, testKey); err == nil {
		t.Fatal("a torn last line was accepted")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("EPIPE") }

func TestFileSinkFailsClosedAfterWriteError(t *testing.T) {
	f, _ := OpenFile("-", failWriter{}, testKey)
	if err := f.WriteBatch(context.Background(), testEvents(1)); err == nil {
		t.Fatal("write error ignored")
	}
	if err := f.WriteBatch(context.Background(), testEvents(1)); err == nil {
		t.Fatal("a broken sink accepted an event")
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2026-01-02T03:04:05.5+02:00", time.Date(2026, 1, 2, 1, 4, 5, 5e8, time.UTC)},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"4h", now.Add(-4 * time.Hour)},
		{"30m", now.Add(-30 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"2w", now.Add(-14 * 24 * time.Hour)},
		{"1h30m ago", now.Add(-90 * time.Minute)},
		{"now", now},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-4h", "4x", "d"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestQueryMatch(t *testing.T) {
	es := chain(t, 6)
	es[2].Outcome, es[2].Reason = Failure, "denied"
	q := Query{Secret: "db/pass-2", Failed: true}
	var got []int64
	for _, e := range es {
		if q.Match(e) {
			got = append(got, e.Seq)
		}
	}
	if len(got) != 1 || got[0] != 3 {
		t.Fatalf("matched %v", got)
	}
	q = Query{Since: es[1].Time, Until: es[4].Time}
	got = got[:0]
	for _, e := range es {
		if q.Match(e) {
			got = append(got, e.Seq)
		}
	}
	if len(got) != 3 || got[0] != 2 {
		t.Fatalf("time window matched %v", got)
	}
}

type notifyCount struct{ n int }

func (c *notifyCount) Notify() { c.n++ }

func TestChainWritesThroughAppenderAndNotifies(t *testing.T) {
	var m Memory
	var n notifyCount
	key := &MACKey{ID: "k", Key: [32]byte{3}}
	c := NewChain(memAppender{&m}, key, &n)
	if err := c.WriteBatch(context.Background(), testEvents(3)); err != nil {
		t.Fatal(err)
	}
	if n.n != 1 || len(m.Entries()) != 3 {
		t.Fatalf("notified %d times, %d entries", n.n, len(m.Entries()))
	}
	cps := m.Checkpoints()
	if len(cps) != 1 || cps[0].Seq != 3 || cps[0].KeyID != "k" {
		t.Fatalf("first batch of a process checkpoints: %+v", cps)
	}
	if r := VerifyEntries(m.Entries(), cps, []MACKey{*key}); !r.OK() || r.Checkpoints != 1 {
		t.Fatalf("%+v", r)
	}
}

// memAppender makes a Memory an Appender, as a store driver is.
type memAppender struct{ m *Memory }

func (a memAppender) AppendAudit(_ context.Context, evs []Event, link LinkFunc) ([]Entry, error) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	head := EmptyHead
	if n := len(a.m.entries); n > 0 {
		head = a.m.entries[n-1].Head()
	}
	es, cps, err := link(head, evs)
	if err != nil {
		return nil, err
	}
	a.m.entries = append(a.m.entries, es...)
	a.m.cps = append(a.m.cps, cps...)
	return es, nil
}

// genAppender is a memAppender over a store whose generation is gen.
type genAppender struct {
	memAppender
	gen uint64
}

func (a genAppender) Guards() bool { return true }

func (a genAppender) AppendAudit(ctx context.Context, evs []Event, link LinkFunc) ([]Entry, error) {
	return a.memAppender.AppendAudit(ctx, evs, func(h Head, evs []Event) ([]Entry, []Checkpoint, error) {
		h.Generation = a.gen
		return link(h, evs)
	})
}

// TestGuardsThroughTheStack: guarded events pass Bounded, a Tee of one and
// a Batcher to the chain; the stale ones come back as ErrStale to their own
// callers only, are not stored, and are not reported as sink failures.
func TestGuardsThroughTheStack(t *testing.T) {
	var m Memory
	chain := NewChain(genAppender{memAppender{&m}, 7}, nil)
	b := NewBatcher(&gatedWriter{w: chain, gate: make(chan struct{})}, BatcherOptions{})
	defer b.Close()
	var reported []error
	var mu sync.Mutex
	rec := NewBounded(Tee{b}, time.Second, func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() })
	if !Guards(rec) {
		t.Fatal("Bounded(Tee{Batcher(Chain(guarding store))}) does not guard")
	}
	if Guards(NewBatcher(NewChain(memAppender{&Memory{}}, nil), BatcherOptions{})) || Guards(&Memory{}) || Guards(Discard{}) {
		t.Error("a recorder over a store without a generation guards")
	}
	if err := (Tee{&Memory{}, b}).Record(context.Background(), Event{Action: "read", Outcome: Success, Guard: 7}); err == nil {
		t.Error("a Tee whose first sink cannot check guards took a guarded event")
	}

	// A first event holds the writer, so that the next four (plain,
	// current, stale, current) queue and make one batch.
	gw := b.w.(*gatedWriter)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := rec.Record(context.Background(), Event{Action: "read", Outcome: Success, Detail: "_"}); err != nil {
			t.Error(err)
		}
	}()
	for gw.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	guards := []uint64{0, 7, 6, 7}
	errs := make([]error, len(guards))
	for i, g := range guards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rec.Record(context.Background(), Event{Action: "read", Outcome: Success, Detail: string(rune('a' + i)), Guard: g})
		}()
	}
	for len(b.reqs) < len(guards) {
		time.Sleep(time.Millisecond)
	}
	close(gw.gate)
	wg.Wait()
	for i, err := range errs {
		if stale := guards[i] == 6; stale != errors.Is(err, ErrStale) || !stale && err != nil {
			t.Errorf("event %d (guard %d): %v", i, guards[i], err)
		}
	}
	var got string
	for _, e := range m.Entries() {
		got += e.Detail
		if e.Guard != 0 {
			t.Errorf("entry %d keeps its guard", e.Seq)
		}
	}
	sorted := []byte(got) // the four raced to the queue
	slices.Sort(sorted)
	if string(sorted) != "_abd" {
		t.Errorf("stored %q, want _ then a, b and d", got)
	}
	if gw.batches != 2 {
		t.Errorf("%d batches, want 2 (the 4 events in one)", gw.batches)
	}
	if len(reported) != 0 {
		t.Errorf("a stale event was reported as a sink failure: %v", reported)
	}
}

// gatedWriter holds the first batch until gate is closed.
type gatedWriter struct {
	w       BatchWriter
	gate    chan struct{}
	waiting atomic.Int32
	batches int
}

func (g *gatedWriter) Guards() bool { return Guards(g.w) }

func (g *gatedWriter) WriteBatch(ctx context.Context, evs []Event) error {
	g.waiting.Add(1)
	<-g.gate
	g.batches++
	return g.w.WriteBatch(ctx, evs)
}

// TestBoundedCallerCanceled: a caller that gives up (a client that went
// away) is refused, and that is not reported as a sink that did not answer;
// a sink that does not answer still is.
func TestBoundedCallerCanceled(t *testing.T) {
	release := make(chan struct{})
	var batchers []*Batcher
	defer func() {
		close(release) // first, so that the batchers can stop
		for _, b := range batchers {
			b.Close()
		}
	}()
	for _, direct := range []bool{true, false} {
		var inner Recorder = RecorderFunc(func(context.Context, Event) error { <-release; return nil })
		if direct {
			b := NewBatcher(hangingWriter{release}, BatcherOptions{})
			batchers = append(batchers, b)
			inner = b
		}
		var reported []error
		var mu sync.Mutex
		b := NewBounded(inner, 5*time.Second, func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() })
		if b.direct != direct {
			t.Fatalf("direct = %v", b.direct)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		err := b.Record(ctx, okEvent)
		if !errors.Is(err, ErrNotRecorded) || !strings.Contains(err.Error(), "canceled") {
			t.Errorf("direct %v: %v, want a refusal that says the access was canceled", direct, err)
		}
		mu.Lock()
		if len(reported) != 0 {
			t.Errorf("direct %v: a caller's cancel was reported as a sink failure: %v", direct, reported)
		}
		mu.Unlock()
		short := NewBounded(inner, 30*time.Millisecond, func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() })
		if err := short.Record(context.Background(), okEvent); !errors.Is(err, ErrNotRecorded) {
			t.Fatal(err)
		}
		mu.Lock()
		if len(reported) != 1 || !strings.Contains(reported[0].Error(), "did not answer") {
			t.Errorf("direct %v: a sink past its bound reported as %v", direct, reported)
		}
		mu.Unlock()
	}
}

// TestTeeGuardedGoesToTheOthersOnlyWhenRecorded: behind a guarding first
// sink, the other sinks of a Tee (a file) get a guarded event only once the
// first has recorded it, and never a stale one.
func TestTeeGuardedGoesToTheOthersOnlyWhenRecorded(t *testing.T) {
	var chainMem, file Memory
	chain := NewBatcher(NewChain(genAppender{memAppender{&chainMem}, 7}, nil), BatcherOptions{})
	defer chain.Close()
	tee := Tee{chain, &file}
	if !Guards(tee) {
		t.Fatal("a Tee behind a guarding sink does not guard")
	}
	ctx := context.Background()
	if err := tee.Record(ctx, Event{Action: "read", Outcome: Success, Detail: "stale", Guard: 6}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale event: %v", err)
	}
	if err := tee.Record(ctx, Event{Action: "read", Outcome: Success, Detail: "current", Guard: 7}); err != nil {
		t.Fatal(err)
	}
	if err := tee.Record(ctx, Event{Action: "read", Outcome: Success, Detail: "plain"}); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Memory{"chain": &chainMem, "file": &file} {
		var got []string
		for _, e := range m.Entries() {
			got = append(got, e.Detail)
			if e.Guard != 0 {
				t.Errorf("%s keeps a guard", name)
			}
		}
		if !slices.Equal(got, []string{"current", "plain"}) {
			t.Errorf("%s holds %q, want current and plain", name, got)
		}
	}
}

// TestFileSinkSeveralWriters: two processes appending to one audit file (a
// server and the CLI with the same SA01_SECRETS_AUDIT_FILE), here two sinks opened
// on it, keep one chain that verifies, whatever the interleaving.
func TestFileSinkSeveralWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var sinks [2]*File
	for i := range sinks {
		f, err := OpenFile(path, nil, testKey)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sinks[i] = f
	}
	ctx := context.Background()
	// in turn: each write follows one by the other sink
	for i := range 6 {
		if err := sinks[i%2].WriteBatch(ctx, testEvents(1+i%3)); err != nil {
			t.Fatal(err)
		}
	}
	// and at once
	var wg sync.WaitGroup
	for _, f := range sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := f.WriteBatch(ctx, testEvents(2)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyFile(bytes.NewReader(data), testKey)
	if err != nil || !r.OK() || r.Events != 12+200 {
		t.Fatalf("verify: %d events, %v %v", r.Events, r.Problem, err)
	}

	// A writer that left half a line behind (killed mid-write) stops the
	// others from chaining after it, rather than letting them fork.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":213,"prev":"`)
	f.Close()
	if err := sinks[0].WriteBatch(ctx, testEvents(1)); err == nil || sinks[0].Err() == nil {
		t.Fatalf("appended after a torn line: %v", err)
	}
}

// testKey keys the chains of the tests.
var testKey = &MACKey{ID: "ak-test", Key: [32]byte{9, 8, 7}}
