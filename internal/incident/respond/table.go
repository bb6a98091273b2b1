package respond

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/incident"
)

// WriteTable writes the statuses as `incident status` shows them: each
// incident's steps with their deadline and state, at now.
func WriteTable(w io.Writer, out []Status, now time.Time) {
	if len(out) == 0 {
		fmt.Fprintln(w, "no open incidents")
		return
	}
	for i, so := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		state := "open"
		if so.Closed {
			state = "closed"
		}
		fmt.Fprintf(w, "%s  %s version %d  opened %s  %s\n", so.ID, so.Secret, so.Version, so.OpenedAt.UTC().Format(time.RFC3339), state)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tDUE\tDONE\tSTATE")
		for _, s := range so.Steps {
			done := "-"
			if !s.Done.IsZero() {
				done = s.Done.UTC().Format(time.RFC3339)
			}
			st := s.State
			switch {
			case s.State == incident.Due:
				st = fmt.Sprintf("due, %s left", fmtLeft(s.Due.Sub(now)))
			case s.State == incident.Missed && s.Done.IsZero():
				st = fmt.Sprintf("MISSED, overdue by %s", fmtLeft(now.Sub(s.Due)))
			case s.State == incident.Missed:
				st = fmt.Sprintf("MISSED, done %s late", fmtLeft(s.Done.Sub(s.Due)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Title, s.Due.UTC().Format(time.RFC3339), done, st)
		}
		tw.Flush()
	}
}

// fmtLeft prints a duration to the minute: 3h05m, 6d23h.
func fmtLeft(d time.Duration) string {
	d = d.Round(time.Minute)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
}
