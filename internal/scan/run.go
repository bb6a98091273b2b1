package scan

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// ReportOptions say how Scanner.Report writes its findings.
type ReportOptions struct {
	Format   string          // text, json or sarif
	Version  string          // the tool's version, named in sarif
	Workers  int             // goroutines scanning (0: one per CPU)
	Explain  io.Writer       // where each dropped candidate is explained; nil: nowhere
	Accepted *Baseline       // findings counted as accepted and not written; nil: none
	Record   *BaselineWriter // where every finding is added; nil: nowhere
}

// Tally is what Report found: the run's summary, the findings written
// and those the baseline accepted.
type Tally struct {
	Summary
	Found, Accepted int
}

// String is the one-line summary of a scan.
func (t Tally) String() string {
	s := fmt.Sprintf("%d findings in %s, %.1f MB", t.Found, t.What, float64(t.Bytes)/1e6)
	if t.Accepted > 0 {
		s += fmt.Sprintf("; %d accepted in the baseline", t.Accepted)
	}
	return s
}

// Report scans in and writes each finding to w in o.Format as it comes,
// so memory does not grow with them. A finding o.Accepted holds is
// counted, not written; every finding is added to o.Record.
func (s *Scanner) Report(ctx context.Context, in Inputs, w io.Writer, o ReportOptions) (Tally, error) {
	var t Tally
	out := bufio.NewWriterSize(w, 64<<10)
	var explain func(Explained)
	if o.Explain != nil {
		explain = func(e Explained) { WriteExplained(o.Explain, e) }
	}
	write := func(f Finding) error { return WriteText(out, f) }
	closeOut := func() error { return nil }
	switch o.Format {
	case "json":
		jw := NewJSONWriter(out)
		write, closeOut = jw.Write, jw.Close
	case "sarif":
		sw := NewSARIFWriter(out, s, o.Version)
		write, closeOut = sw.Write, sw.Close
	}
	sum, err := s.RunInputs(ctx, in, o.Workers, explain, func(f Finding) error {
		if o.Record != nil {
			if err := o.Record.Add(f); err != nil {
				return err
			}
		}
		if o.Accepted.Has(f) {
			t.Accepted++
			return nil
		}
		t.Found++
		return write(f)
	})
	t.Summary = sum
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return t, err
}
