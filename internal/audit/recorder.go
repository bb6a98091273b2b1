package audit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds how long an access waits for its event to be
// recorded before it is refused.
const DefaultTimeout = time.Second

// Validate checks that an event can be recorded: it names an action and its
// outcome is Success or Failure.
func Validate(ev Event) error {
	if ev.Action == "" {
		return errors.New("audit: event has no action")
	}
	if ev.Outcome != Success && ev.Outcome != Failure {
		return errors.New("audit: event outcome must be success or failure")
	}
	return nil
}

// RecorderFunc adapts a function to a Recorder.
type RecorderFunc func(ctx context.Context, ev Event) error

// Record implements Recorder.
func (f RecorderFunc) Record(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Bounded makes a recorder fail closed within a bound: Record returns
// ErrNotRecorded when the inner recorder fails, or does not answer within
// the timeout, whether or not it honours its context. The inner error is
// handed to OnError (for the operator's log) and never to the caller, so a
// refused access learns why without details.
type Bounded struct {
	r       Recorder
	timeout time.Duration
	direct  bool // r returns once its context is done: no goroutine needed
	sem     chan struct{}
	onError func(error)
}

// contextBound is implemented by the recorders of this package that are
// known to return as soon as their context is done (they wait only in
// selects on it), so that Bounded can call them on the caller's goroutine.
type contextBound interface {
	boundedByContext() bool
}

// maxStuck bounds the goroutines that may wait on a sink that ignores its
// context; past it, events are refused at once.
const maxStuck = 1 << 16

// NewBounded wraps r. A timeout of 0 means DefaultTimeout. onError, when not
// nil, receives every failure of r (it must not block).
func NewBounded(r Recorder, timeout time.Duration, onError func(error)) *Bounded {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cb, ok := r.(contextBound)
	return &Bounded{r: r, timeout: timeout, direct: ok && cb.boundedByContext(), sem: make(chan struct{}, maxStuck), onError: onError}
}

// Record implements Recorder.
func (b *Bounded) Record(ctx context.Context, ev Event) error {
	ev = Stamp(ctx, ev)
	if err := Validate(ev); err != nil {
		return notRecorded(err.Error())
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if b.direct {
		// The inner recorder returns once ctx is done, so it is called
		// here: a goroutine and a channel per event cost more than the
		// rest of Record at high rates.
		err := b.r.Record(ctx, ev)
		if err == nil || errors.Is(err, ErrStale) {
			return err
		}
		if ctx.Err() != nil {
			return b.timedOut(parent)
		}
		b.report(err)
		return notRecorded("the audit sink failed")
	}
	select {
	case b.sem <- struct{}{}:
	default:
		b.report(errors.New("audit: too many events waiting on a sink that does not answer"))
		return notRecorded("the audit sink is not answering")
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-b.sem }()
		done <- b.r.Record(ctx, ev)
	}()
	select {
	case err := <-done:
		if errors.Is(err, ErrStale) {
			return err
		}
		if err != nil {
			b.report(err)
			return notRecorded("the audit sink failed")
		}
		return nil
	case <-ctx.Done():
		return b.timedOut(parent)
	}
}

// Guards implements Guarding: stale guarded events pass through Bounded
// as ErrStale, not as failures of the sink.
func (b *Bounded) Guards() bool { return Guards(b.r) }

// timedOut says why Record gave up waiting: the caller's own context ended
// (a client that went away; not the sink's fault, so not reported), or the
// sink did not answer within the bound.
func (b *Bounded) timedOut(parent context.Context) error {
	if parent.Err() != nil {
		return notRecorded("the access was canceled before its event was recorded")
	}
	b.report(fmt.Errorf("audit: sink did not answer within %s", b.timeout))
	return notRecorded(fmt.Sprintf("the audit sink did not answer within %s", b.timeout))
}

func (b *Bounded) report(err error) {
	if b.onError != nil {
		b.onError(err)
	}
}

// notRecorded says why an event was not recorded; it is ErrNotRecorded.
type notRecorded string

func (e notRecorded) Error() string { return string(e) }
func (e notRecorded) Unwrap() error { return ErrNotRecorded }

// errNoGuards refuses a guarded event (Event.Guard) given to a recorder that
// would record it without checking its guard.
var errNoGuards = errors.New("audit: guarded event given to a recorder that does not honour guards")

// Tee records each event to every recorder at once and succeeds only when
// all of them do.
type Tee []Recorder

// boundedByContext reports whether every recorder of t returns once its
// context is done; Tee itself waits for all of them.
func (t Tee) boundedByContext() bool {
	for _, r := range t {
		cb, ok := r.(contextBound)
		if !ok || !cb.boundedByContext() {
			return false
		}
	}
	return len(t) > 0
}

// Guards implements Guarding: a Tee guards when its first sink does.
func (t Tee) Guards() bool { return len(t) > 0 && Guards(t[0]) }

// Record implements Recorder. The first sink (the store's chain) records
// the event first, and the others (the audit file) only once it has: they
// never keep an event the first refused or found stale (Event.Guard, which
// only the first can check), and each copy carries the head the first
// committed (File.NotifyHead). Its latency is the first sink's plus the
// slowest other's.
//
// When another sink refuses an event the first has recorded, the access
// is refused, and the first records the refusal too (FailedCopy): its
// trail never says success for an access that was refused. A sink that
// reports itself broken (Err) before the event is tried makes the first
// record the refusal alone.
func (t Tee) Record(ctx context.Context, ev Event) error {
	if len(t) == 0 {
		return errors.New("audit: no sink")
	}
	if ev.Guard != 0 && !t.Guards() {
		return errNoGuards
	}
	for _, r := range t[1:] {
		if b, ok := r.(interface{ Err() error }); ok {
			if err := b.Err(); err != nil {
				ev.Guard = 0
				return errors.Join(err, t[0].Record(ctx, FailedCopy(ev)))
			}
		}
	}
	if err := t[0].Record(ctx, ev); err != nil || len(t) == 1 {
		return err
	}
	ev.Guard = 0
	rest := t[1:]
	errs := make([]error, len(rest))
	var wg sync.WaitGroup
	for i, r := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Record(ctx, ev)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// The first sink said success; say it was refused. A fresh
		// context: the caller's may be the one that ran out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
		defer cancel()
		return errors.Join(err, t[0].Record(rctx, FailedCopy(ev)))
	}
	return nil
}

// ReasonCopyFailed is the reason of the event FailedCopy makes.
const ReasonCopyFailed = "audit copy failed"

// FailedCopy is the event that records ev as refused because a copy of
// the audit trail (the file) could not take it: same action, subject and
// caller, outcome failure.
func FailedCopy(ev Event) Event {
	ev.Outcome, ev.Reason, ev.Guard = Failure, ReasonCopyFailed, 0
	ev.Time = time.Time{}
	return ev
}

// BatchWriter appends a batch of events durably and in order, as one
// unit: it returns nil only when every event of the batch is stored.
type BatchWriter interface {
	WriteBatch(ctx context.Context, evs []Event) error
}

// Batcher is a group-commit recorder: events recorded concurrently are
// written together in one batch (one transaction, one fsync), in the order
// they arrived, and each Record returns once its batch is durable. While a
// batch is being written the next one gathers, so throughput grows with
// concurrency instead of being bound by the latency of one commit.
type Batcher struct {
	w       BatchWriter
	guards  bool // w honours Event.Guard
	max     int
	timeout time.Duration
	reqs    chan *batchReq
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once

	batches, events atomic.Int64 // written, for Stats
}

// Stats returns how many batches the batcher has written and how many
// events they held: events/batches is the mean batch, the number of reads
// that share one commit.
func (b *Batcher) Stats() (batches, events int64) { return b.batches.Load(), b.events.Load() }

type batchReq struct {
	ev   Event
	done chan error
}

// BatcherOptions tune a Batcher; zero values pick the defaults.
type BatcherOptions struct {
	MaxBatch     int           // events per batch, default 1024
	Queue        int           // events waiting for the next batch, default 8192
	WriteTimeout time.Duration // bound on one batch write, default 10 s
}

// NewBatcher starts a batcher over w. Close stops it.
func NewBatcher(w BatchWriter, o BatcherOptions) *Batcher {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.Queue <= 0 {
		o.Queue = 8192
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	b := &Batcher{w: w, guards: Guards(w), max: o.MaxBatch, timeout: o.WriteTimeout,
		reqs: make(chan *batchReq, o.Queue), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// ErrClosed is returned by a recorder that has been closed.
var ErrClosed = errors.New("audit: recorder closed")

// Record implements Recorder: it returns when the event's batch is durable,
// when the batch failed, or when ctx ends (the event may then still be
// written, which records an access that was refused: the safe side).
func (b *Batcher) Record(ctx context.Context, ev Event) error {
	ev = Stamp(ctx, ev)
	if err := Validate(ev); err != nil {
		return err
	}
	if ev.Guard != 0 && !b.guards {
		return errNoGuards
	}
	r := &batchReq{ev: Normalize(ev), done: make(chan error, 1)}
	select {
	case <-b.quit:
		return ErrClosed
	default:
	}
	select {
	case b.reqs <- r:
	case <-b.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-b.done:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err reports the failure of the writer, when it reports one (File.Err):
// a Tee then refuses an event at once, and records the refusal.
func (b *Batcher) Err() error {
	if e, ok := b.w.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

// Guards implements Guarding: a batcher honours guards when its writer does.
func (b *Batcher) Guards() bool { return b.guards }

// boundedByContext: Record waits only in selects on its context, so it
// returns once the context is done, whatever the writer does.
func (b *Batcher) boundedByContext() bool { return true }

func (b *Batcher) loop() {
	defer close(b.done)
	batch := make([]*batchReq, 0, b.max)
	evs := make([]Event, 0, b.max)
	for {
		batch, evs = batch[:0], evs[:0]
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		case <-b.quit:
			// Drain what was queued before Close, then stop.
			for {
				select {
				case r := <-b.reqs:
					batch = append(batch, r)
					if len(batch) < b.max {
						continue
					}
				default:
				}
				if len(batch) == 0 {
					return
				}
				b.write(batch, evs)
				batch, evs = batch[:0], evs[:0]
			}
		}
		// Let the goroutines that are about to record run before the
		// batch is cut: on a busy machine the writer would otherwise take
		// CPU from them and commit one or two events at a time. This is a
		// yield, not a timer: with nothing else runnable it returns at once.
		runtime.Gosched()
	fill:
		for len(batch) < b.max {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.write(batch, evs)
	}
}

func (b *Batcher) write(batch []*batchReq, evs []Event) {
	for _, r := range batch {
		evs = append(evs, r.ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	err := b.w.WriteBatch(ctx, evs)
	cancel()
	b.batches.Add(1)
	b.events.Add(int64(len(evs)))
	var stale *StaleError
	if errors.As(err, &stale) {
		// The batch was recorded but for these guarded events.
		errs := make([]error, len(batch))
		for _, i := range stale.Events {
			errs[i] = ErrStale
		}
		for i, r := range batch {
			r.done <- errs[i]
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

// Close writes what is queued and stops the batcher. Later Records fail
// with ErrClosed.
func (b *Batcher) Close() error {
	b.once.Do(func() { close(b.quit) })
	<-b.done
	return nil
}
