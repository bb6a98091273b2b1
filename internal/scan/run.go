package scan

import (
	"bufio"
	"context"
	"errors"
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

// Job is one scan as the scan verb runs it: the inputs, how the report is
// written, and the baseline files.
type Job struct {
	Inputs
	ReportOptions
	Baseline      string          // ignore the findings accepted in this file
	WriteBaseline string          // record every finding in this file as accepted
	Key           *FingerprintKey // the baselines' fingerprint key; nil: none
}

// ErrFound is the verdict of a scan that found secrets: its report lists
// them.
var ErrFound = errors.New("scan: secrets found")

// Failure is a scan that failed, or that ran but whose result cannot be
// trusted as a clean one, with what to do about it.
type Failure struct {
	Err    error
	Remedy string // "" when nothing useful can be said
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Run reads the baseline, has scanner build the scanner (after the
// baseline files are checked, so a bad one fails before the secrets are
// loaded), writes the report to out and the baseline file, and a summary
// line to log (each line prefixed with prefix). Its errors: scanner's as
// they are, a *BaselineError or ErrNotRepository for a bad input, a
// *Failure for a scan that failed or is incomplete, ErrFound when it
// found secrets.
func (j Job) Run(ctx context.Context, scanner func() (*Scanner, error), out, log io.Writer, prefix string) error {
	var err error
	if j.Baseline != "" {
		if j.Accepted, err = ReadBaseline(j.Baseline, j.Key); err != nil {
			return baselineFailure(err, "write one with --write-baseline FILE")
		}
	}
	if j.WriteBaseline != "" {
		if j.Record, err = CreateBaseline(j.WriteBaseline, j.Key); err != nil {
			return baselineFailure(err, "")
		}
		defer j.Record.Abort()
	}
	s, err := scanner()
	if err != nil {
		return err
	}
	t, err := s.WithFingerprintKey(j.Key).Report(ctx, j.Inputs, out, j.ReportOptions)
	if errors.Is(err, ErrNotRepository) {
		return err
	} else if err != nil {
		return &Failure{Err: err}
	}
	if j.Record != nil {
		if err := j.Record.Commit(); err != nil {
			return &Failure{Err: err}
		}
		fmt.Fprintf(log, "%swrote %d findings to the baseline %s\n", prefix, j.Record.Count(), PrintableName(j.WriteBaseline))
	}
	fmt.Fprintf(log, "%s%s\n", prefix, t)
	switch {
	case t.Incomplete() != nil:
		return &Failure{t.Incomplete(), "findings above are from what could be read"}
	case t.Nothing && t.Found == 0:
		return &Failure{errors.New("nothing was scanned"), "check the paths, the repository or the input; an empty input is not a clean result"}
	case t.Found > 0:
		return ErrFound
	}
	return nil
}

// baselineFailure is a baseline that cannot be read or written: a
// *BaselineError as it is, else a *Failure with remedy.
func baselineFailure(err error, remedy string) error {
	var be *BaselineError
	if errors.As(err, &be) {
		return err
	}
	return &Failure{err, remedy}
}
