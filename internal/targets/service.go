package targets

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/redact"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// FromService reads each connection string as the current version of the
// named secret through svc: an audited read, by caller when it is not nil
// (else by the caller ctx already carries).
func FromService(svc *secrets.Service, caller *audit.Caller) Resolver {
	return func(ctx context.Context, name string) (sensitive.String, error) {
		if caller != nil {
			ctx = audit.WithCaller(ctx, *caller)
		}
		v, err := svc.Get(ctx, name, 0)
		if err != nil {
			return sensitive.String{}, err
		}
		return v.Value, nil
	}
}

// AllOK reports whether every target was read and holds neither plaintext
// nor unreadable tokens.
func AllOK(reps []Report) bool {
	for _, r := range reps {
		if !r.OK() {
			return false
		}
	}
	return true
}

// WatchFile starts, when file is not "", the background check of the
// targets file names (a Watch: at once, then every `every`) and returns
// its Last; nil when file is "". A file that cannot be read is logged and
// is the check's error, masked, from then on.
func WatchFile(ctx context.Context, file string, resolve Resolver, ring *fernet.Ring, every time.Duration, log *slog.Logger) func() Snapshot {
	if file == "" {
		return nil
	}
	f, err := Load(file)
	if err != nil {
		log.Warn("the console cannot check the targets", "error", err)
		s := Snapshot{At: time.Now(), Err: redact.MaskText(err.Error()), Every: every}
		return func() Snapshot { return s }
	}
	w := &Watch{Runner: &Runner{Ring: ring, Resolve: resolve}, List: f.Targets, Every: every}
	go w.Run(ctx)
	return w.Last
}

// ProgressLine returns a Runner.Progress that draws a re-encryption's
// progress through a target on w: a line redrawn in place on a terminal,
// otherwise a line at most once a second.
func ProgressLine(w io.Writer) func(Progress) {
	tty := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	var last time.Time
	return func(pr Progress) {
		line := fmt.Sprintf("reencrypt: target %s: %d scanned, %d moved, %d skipped", pr.Target, pr.Scanned, pr.Moved, pr.Skipped)
		if tty {
			fmt.Fprintf(w, "\r%s", line)
			return
		}
		if now := time.Now(); now.Sub(last) >= time.Second {
			last = now
			fmt.Fprintln(w, line)
		}
	}
}
