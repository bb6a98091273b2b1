package rotate

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/targets"
	"golang.org/x/term"
)

// ProgressBar draws re-encryption progress on stderr: a bar redrawn in place
// on a terminal, otherwise a plain line at most every second and at the end.
type ProgressBar struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  time.Time
	phase string
}

func NewProgressBar(w io.Writer) *ProgressBar {
	p := &ProgressBar{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// Update draws pr; it is a Rotator.Progress.
func (p *ProgressBar) Update(phase string, pr Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := pr.Done+pr.Skipped+pr.Failed >= pr.Total
	if pr.Total == 0 {
		return
	}
	now := time.Now()
	if p.tty {
		const width = 30
		frac := float64(pr.Done+pr.Skipped+pr.Failed) / float64(pr.Total)
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d versions %3.0f%%", phase, strings.Repeat("#", n), strings.Repeat(".", width-n),
			pr.Done+pr.Skipped+pr.Failed, pr.Total, 100*frac)
		if end {
			fmt.Fprintln(p.w)
		}
		return
	}
	if !end && now.Sub(p.last) < time.Second && phase == p.phase {
		return
	}
	p.last, p.phase = now, phase
	fmt.Fprintf(p.w, "%s: %d/%d versions (%d%%), %d skipped, %d failed\n", phase, pr.Done+pr.Skipped+pr.Failed, pr.Total,
		100*(pr.Done+pr.Skipped+pr.Failed)/pr.Total, pr.Skipped, pr.Failed)
}

// SortedKeys returns the keys of m, sorted.
func SortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

// WriteKeyTable writes the key table of `key list`: each key's state,
// whether it is loaded, how many versions use it and its dates.
func (rep *StatusReport) WriteKeyTable(w io.Writer, haveRing bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSTATE\tLOADED\tVERSIONS\tCREATED\tACTIVATED\tDEACTIVATED\tRETAIN UNTIL\tRETIRED")
	for _, k := range rep.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, k.loaded(haveRing), k.Versions, day(k.Created),
			dayp(k.Activated), dayp(k.Deactivated), dayp(k.RetainUntil), dayp(k.Retired))
	}
	return tw.Flush()
}

// loaded is how the key is loaded: primary, previous, no, or "-" when no
// keys were loaded to judge.
func (k KeyStatus) loaded(haveRing bool) string {
	switch {
	case !haveRing:
		return "-"
	case k.Primary:
		return "primary"
	case k.Loaded:
		return "previous"
	}
	return "no"
}

// WriteText writes the report as `status` shows it: the key table, the
// secrets due, and the verdict. haveRing says whether keys were loaded to
// judge (without, the LOADED column is "-").
func (rep *StatusReport) WriteText(w io.Writer, haveRing bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSTATE\tLOADED\tVERSIONS\tAGE\tROTATE BY\tRETAIN UNTIL\tSTATUS")
	for _, k := range rep.Keys {
		st := "ok"
		if k.Overdue {
			st = "OVERDUE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%dd\t%s\t%s\t%s\n", k.ID, k.State, k.loaded(haveRing), k.Versions, k.AgeDays, dayp(k.RotateBy), dayp(k.RetainUntil), st)
	}
	tw.Flush()
	if len(rep.Secrets) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SECRET\tCLASS\tVERSION\tPERIOD\tROTATE BY\tSTATUS")
		for _, s := range rep.Secrets {
			st := "ok"
			if s.Overdue {
				st = "OVERDUE"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%dd\t%s\t%s\n", s.Name, s.Class, s.Version, s.PeriodDay, day(s.DueAt), st)
		}
		tw.Flush()
	}
	if len(rep.Credentials) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IDENTITY\tCREDENTIAL\tEXPIRES\tSTATUS")
		for _, c := range rep.Credentials {
			st := "due"
			if c.Expired {
				st = "EXPIRED"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Identity, c.Credential, day(c.ExpiresAt), st)
		}
		tw.Flush()
	}
	if len(rep.Targets) > 0 {
		fmt.Fprintln(w)
		targets.WriteTable(w, rep.Targets, "")
	}
	fmt.Fprintln(w)
	if len(rep.Pending) > 0 {
		fmt.Fprintf(w, "rotation unfinished: %d key(s) still hold versions (not overdue while within retention)\n", len(rep.Pending))
		for _, p := range rep.Pending {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if rep.Compliant && len(rep.Pending) > 0 {
		fmt.Fprintln(w, "within the rotation schedule, but not done: re-encrypt before the retention ends")
		return
	}
	if rep.Compliant {
		fmt.Fprintln(w, "compliant: every key and secret is within its rotation period")
		return
	}
	fmt.Fprintf(w, "overdue: %d finding(s)\n", len(rep.Overdue))
	for _, o := range rep.Overdue {
		fmt.Fprintf(w, "  %s\n", o)
	}
}

func dayp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return day(*t)
}

// ResultJSON is the JSON form of a Result (`reencrypt --format json`).
type ResultJSON struct {
	Target   string           `json:"target_key_id"`
	Moved    map[string]int64 `json:"moved_by_key_id"`
	Skipped  int64            `json:"skipped"`
	Failures []Failure        `json:"failures"`
	Seconds  float64          `json:"seconds"`
}

// JSON returns the JSON form of r.
func (r *Result) JSON() ResultJSON {
	f := r.Failures
	if f == nil {
		f = []Failure{}
	}
	return ResultJSON{Target: r.Target, Moved: r.Moved, Skipped: r.Skipped, Failures: f, Seconds: r.Elapsed.Seconds()}
}

// WriteText writes r as `reencrypt` shows it: versions moved from each key,
// then the totals.
func (r *Result) WriteText(w io.Writer) {
	for _, id := range SortedKeys(r.Moved) {
		fmt.Fprintf(w, "re-encrypted %d versions from key %s to key %s\n", r.Moved[id], id, r.Target)
	}
	fmt.Fprintf(w, "total: %d versions re-encrypted, %d skipped (changed meanwhile), %d failed, in %s\n",
		r.Total(), r.Skipped, len(r.Failures), r.Elapsed.Round(time.Millisecond))
}
