package scan

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/scan/corpus"
)

// qualityCorpus is the text of every shape for a seed, with its planted
// secrets.
type qualityCorpus struct {
	text    map[string][]byte // by shape
	planted []corpus.Planted
	bytes   int
}

func genQualityCorpus(t testing.TB, seed uint64, size int64) *qualityCorpus {
	t.Helper()
	q := &qualityCorpus{text: map[string][]byte{}}
	for _, s := range corpus.Shapes() {
		var b bytes.Buffer
		if err := s.Write(&b, corpus.Options{Seed: seed, Size: size, SecretEvery: 12}, func(p corpus.Planted) {
			q.planted = append(q.planted, p)
		}); err != nil {
			t.Fatal(err)
		}
		q.text[s.Name] = b.Bytes()
		q.bytes += b.Len()
	}
	return q
}

// scanCorpus runs the scanner on each shape's text as `scan` runs on a
// file of that shape (source code as code).
func scanCorpus(t testing.TB, s *Scanner, q *qualityCorpus) []corpus.Finding {
	t.Helper()
	var out []corpus.Finding
	for _, sh := range corpus.Shapes() {
		name := sh.Name + sh.Ext
		_, err := s.Run(context.Background(), 2, func(send func(Unit) bool) error {
			return chunks(bytes.NewReader(q.text[sh.Name]), name, 0, IsCodePath(name), send)
		}, nil, func(f Finding) error {
			out = append(out, corpus.Finding{Shape: sh.Name, Line: f.Line, Col: f.Column, EndCol: f.EndColumn, Rule: f.Rule})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Floors of the quality test: the scanner's precision and recall on the
// corpus generated with the tuning seed, per shape and per kind. The
// benchmark (bench/scan) measures the same on the held-out seed and on
// larger corpora; BENCHMARKS.md has both.
const (
	floorRecallShape    = 0.99
	floorRecallKind     = 0.98
	floorPrecisionShape = 0.99
	floorRecallAll      = 0.995
)

// TestQualityOnCorpus fails when the scanner's recall or precision on the
// generated corpus drops below its floor, for any shape or kind.
func TestQualityOnCorpus(t *testing.T) {
	t.Parallel()
	// Not smaller under -short: at 64 KiB a shape, the rarer kinds (a GCP
	// service account, a Kubernetes Secret's data) are planted too few
	// times to measure, and the whole takes well under a second.
	q := genQualityCorpus(t, corpus.TuneSeed, 256<<10)
	sc := corpus.Evaluate(q.planted, scanCorpus(t, New(nil), q))
	var tbl strings.Builder
	sc.Table(&tbl, "sa01 (tuning seed)", float64(q.bytes)/1e6)
	if testing.Verbose() || os.Getenv("SA01_QUALITY_TABLE") != "" {
		t.Log("\n" + tbl.String())
	}
	line := func(shape string, n int) string {
		l := bytes.Split(q.text[shape], []byte("\n"))[n-1]
		return string(l[:min(len(l), 300)])
	}
	missed := func(ps []corpus.Planted) (out []string) {
		for _, p := range first(ps, 3) {
			out = append(out, p.Kind+": "+line(p.Shape, p.Line))
		}
		return out
	}
	for shape, c := range sc.ByShape {
		if c.Recall() < floorRecallShape {
			t.Errorf("shape %s: recall %.4f (%d/%d) below %.2f; missed e.g. %q", shape, c.Recall(), c.Found, c.Planted, floorRecallShape, missed(c.MissedExamples))
		}
		if c.Precision() < floorPrecisionShape {
			var fps []string
			for _, f := range first(c.FalseExamples, 3) {
				fps = append(fps, f.Rule+": "+line(f.Shape, f.Line))
			}
			t.Errorf("shape %s: precision %.4f (%d false of %d) below %.2f; e.g. %q", shape, c.Precision(), c.False(), c.Findings, floorPrecisionShape, fps)
		}
	}
	for kind, c := range sc.ByKind {
		if c.Recall() < floorRecallKind {
			t.Errorf("kind %s: recall %.4f (%d/%d) below %.2f; missed e.g. %q", kind, c.Recall(), c.Found, c.Planted, floorRecallKind, missed(c.MissedExamples))
		}
	}
	if sc.All.Recall() < floorRecallAll {
		t.Errorf("recall %.4f below %.3f", sc.All.Recall(), floorRecallAll)
	}
	for _, k := range corpus.Kinds() {
		if sc.ByKind[k] == nil || sc.ByKind[k].Planted < 5 {
			t.Errorf("kind %s: too few planted to measure", k)
		}
	}
	// A shape with nothing planted would pass its recall floor unmeasured.
	for _, sh := range corpus.Shapes() {
		if c := sc.ByShape[sh.Name]; c == nil || c.Planted < 10 {
			t.Errorf("shape %s: too few planted to measure", sh.Name)
		}
	}
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }
