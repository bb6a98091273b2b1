package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportWritesCountsAndAccepts: Report writes each finding in the
// format asked, records every finding in the baseline being written, and
// counts the ones an accepted baseline holds without writing them.
func TestReportWritesCountsAndAccepts(t *testing.T) {
	ctx := context.Background()
	input := "token = ghp_" + rnd(alnumSet, 36, 4) + "\nother = ghp_" + rnd(alnumSet, 36, 5) + "\n"
	fk, err := NewFingerprintKey([]byte("scan-key-report-0123456789abcdef0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil).WithFingerprintKey(fk)
	dir := t.TempDir()
	bw, err := CreateBaseline(filepath.Join(dir, "baseline.json"), fk)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tally, err := s.Report(ctx, Inputs{Stdin: strings.NewReader(input)}, &out, ReportOptions{Format: "json", Record: bw})
	if err != nil {
		t.Fatal(err)
	}
	var fs []map[string]any
	if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
		t.Fatalf("json output %q: %v", out.String(), err)
	}
	if tally.Found != 2 || len(fs) != 2 || tally.Accepted != 0 || bw.Count() != 2 {
		t.Fatalf("found %d, wrote %d, accepted %d, recorded %d; want 2, 2, 0, 2", tally.Found, len(fs), tally.Accepted, bw.Count())
	}
	if err := bw.Commit(); err != nil {
		t.Fatal(err)
	}
	bl, err := ReadBaseline(filepath.Join(dir, "baseline.json"), fk)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	tally, err = s.Report(ctx, Inputs{Stdin: strings.NewReader(input)}, &out, ReportOptions{Format: "text", Accepted: bl})
	if err != nil {
		t.Fatal(err)
	}
	if tally.Found != 0 || tally.Accepted != 2 || out.Len() != 0 {
		t.Fatalf("with the baseline: found %d, accepted %d, wrote %q", tally.Found, tally.Accepted, out.String())
	}
	if got := tally.String(); !strings.HasPrefix(got, "0 findings in ") || !strings.HasSuffix(got, "; 2 accepted in the baseline") {
		t.Errorf("summary = %q", got)
	}
}

// TestJobVerdicts: a Job that finds secrets ends with ErrFound and writes
// its baseline, one that reads nothing with a Failure, and a baseline
// that cannot be written stops it before the scanner is built.
func TestJobVerdicts(t *testing.T) {
	ctx := context.Background()
	fk, err := NewFingerprintKey([]byte("scan-key-job-0123456789abcdef0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	s := func() (*Scanner, error) { return New(nil), nil }
	dir := t.TempDir()
	bl := filepath.Join(dir, "baseline.json")
	var out, log bytes.Buffer
	j := Job{Inputs: Inputs{Stdin: strings.NewReader("token = ghp_" + rnd(alnumSet, 36, 7) + "\n")}, WriteBaseline: bl, Key: fk}
	if err := j.Run(ctx, s, &out, &log, "> "); !errors.Is(err, ErrFound) {
		t.Fatalf("a scan that finds a token: %v, want ErrFound", err)
	}
	if !strings.Contains(log.String(), "> wrote 1 findings to the baseline") {
		t.Errorf("log: %q", log.String())
	}
	var f *Failure
	j = Job{Inputs: Inputs{Stdin: strings.NewReader("")}}
	if err := j.Run(ctx, s, &out, &log, ""); !errors.As(err, &f) || f.Remedy == "" {
		t.Errorf("an empty input: %v, want a Failure with a remedy", err)
	}
	built := false
	j = Job{Inputs: Inputs{Stdin: strings.NewReader("x")}, WriteBaseline: filepath.Join(dir, "no", "such", "dir.json"), Key: fk}
	err = j.Run(ctx, func() (*Scanner, error) { built = true; return New(nil), nil }, &out, &log, "")
	if err == nil || built {
		t.Errorf("an unwritable baseline: err %v, scanner built %v", err, built)
	}
}
