package targets

import (
	"context"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/redact"
)

// DefaultWatchInterval is how often a Watch reads its targets again.
const DefaultWatchInterval = 5 * time.Minute

// Snapshot is a Watch's last reading of the targets: counts and key IDs,
// never a value; errors have any connection-string password masked.
type Snapshot struct {
	Reports []Report
	// At is when the reading ended; zero until the first one has.
	At time.Time
	// Err says why the reading as a whole failed (no key loaded, ...).
	Err string
	// Every is the interval between readings.
	Every time.Duration
}

// Watch reads its targets in the background (Status) at start, then every
// Every and whenever Check asks, and keeps the last reading, so that a
// page can show the targets without reading them inside a request.
type Watch struct {
	Runner *Runner
	List   []Target
	Every  time.Duration // 0: DefaultWatchInterval

	mu   sync.Mutex
	last Snapshot
	once sync.Once
	kick chan struct{}
}

func (w *Watch) init() { w.once.Do(func() { w.kick = make(chan struct{}, 1) }) }

func (w *Watch) every() time.Duration {
	if w.Every > 0 {
		return w.Every
	}
	return DefaultWatchInterval
}

// Last returns the last reading (its At is zero before the first).
func (w *Watch) Last() Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.last
	s.Every = w.every()
	return s
}

// Check asks Run for a new reading as soon as the current one (if any)
// ends; it never waits.
func (w *Watch) Check() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run reads the targets at once, then every Every and on Check, until ctx
// ends.
func (w *Watch) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.every())
	defer t.Stop()
	for {
		w.Read(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// Read takes one reading now and keeps it; Run calls it. A page never
// does: it shows Last.
func (w *Watch) Read(ctx context.Context) {
	reps, err := w.Runner.Status(ctx, w.List)
	if ctx.Err() != nil {
		return
	}
	s := Snapshot{Reports: reps, At: w.Runner.now()}
	if err != nil {
		s.Err = redact.MaskText(err.Error())
	}
	for i := range s.Reports {
		if e := s.Reports[i].Error; e != "" {
			s.Reports[i].Error = redact.MaskText(e)
		}
	}
	w.mu.Lock()
	w.last = s
	w.mu.Unlock()
}
