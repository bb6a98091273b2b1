package scan

import (
	"bytes"
	"context"
	"encoding/json"
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
