package targets

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// TestWatch: Run reads at once and again on Check, keeping the last
// reading with its time; an error that quotes a connection string keeps
// no password.
func TestWatch(t *testing.T) {
	var opens atomic.Int64
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	w := &Watch{Every: time.Hour, List: []Target{{Name: "db", Kind: KindPostgres, Secret: "platform/pg"}},
		Runner: &Runner{Ring: ring(t, fernet.GenerateKey()), Now: func() time.Time { return at },
			Resolve: resolver(map[string]string{"platform/pg": "postgres://u:pw-CANARY@db/x"}),
			Open: func(_ context.Context, _ Target, cs sensitive.String) (Conn, error) {
				opens.Add(1)
				return nil, errors.New("cannot reach " + cs.Reveal())
			}}}
	if s := w.Last(); !s.At.IsZero() || s.Every != time.Hour {
		t.Fatalf("before Run: %+v", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	wait := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); opens.Load() < n || w.Last().At.IsZero(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no reading %d", n)
			}
		}
	}
	wait(1)
	s := w.Last()
	if !s.At.Equal(at) || len(s.Reports) != 1 || !strings.Contains(s.Reports[0].Error, "cannot reach postgres://u:****@db/x") || strings.Contains(s.Reports[0].Error, "pw-CANARY") {
		t.Fatalf("reading: %+v", s)
	}
	w.Check()
	wait(2)
}
