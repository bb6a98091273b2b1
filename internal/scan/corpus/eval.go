package corpus

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Finding is a scanner's finding, reduced to where it is: Line, Col to
// EndLine, EndCol (1-based, EndCol just after the last byte; EndLine 0
// means Line). Shape says which shape's text it is in.
type Finding struct {
	Shape                      string
	Line, Col, EndLine, EndCol int
	Rule                       string
}

// Count is planted and found secrets, or findings and true findings.
type Count struct {
	Planted, Found int // secrets planted, and found by some finding
	Findings, Tru  int // findings, and findings on a planted secret
	FalseByRule    map[string]int
	MissedExamples []Planted
	FalseExamples  []Finding
}

// Recall is Found / Planted (1 when nothing was planted).
func (c *Count) Recall() float64 {
	if c.Planted == 0 {
		return 1
	}
	return float64(c.Found) / float64(c.Planted)
}

// Precision is Tru / Findings (1 when nothing was reported).
func (c *Count) Precision() float64 {
	if c.Findings == 0 {
		return 1
	}
	return float64(c.Tru) / float64(c.Findings)
}

// False is the number of false positives.
func (c *Count) False() int { return c.Findings - c.Tru }

// Score is the quality of one scanner's findings on a corpus.
type Score struct {
	All     Count
	ByShape map[string]*Count
	ByKind  map[string]*Count // Planted and Found only
}

// Evaluate scores findings against the planted secrets: a finding is true
// when it overlaps a planted secret, and a planted secret is found when a
// finding overlaps it. Findings and secrets are matched within a shape
// (for a directory corpus, a file).
func Evaluate(planted []Planted, findings []Finding) *Score {
	sc := &Score{ByShape: map[string]*Count{}, ByKind: map[string]*Count{}}
	get := func(m map[string]*Count, k string) *Count {
		c := m[k]
		if c == nil {
			c = &Count{FalseByRule: map[string]int{}}
			m[k] = c
		}
		return c
	}
	sc.All.FalseByRule = map[string]int{}
	// Index the planted secrets by shape and line.
	type key struct {
		shape string
		line  int
	}
	byLine := map[key][]int{}
	for i, p := range planted {
		for l := p.Line; l <= p.EndLine; l++ {
			byLine[key{p.Shape, l}] = append(byLine[key{p.Shape, l}], i)
		}
	}
	found := make([]bool, len(planted))
	for _, f := range findings {
		end := f.EndLine
		if end == 0 {
			end = f.Line
		}
		hit := false
		for l := f.Line; l <= end; l++ {
			for _, i := range byLine[key{f.Shape, l}] {
				p := planted[i]
				ps, pe := 1, 1<<30
				if l == p.Line {
					ps = p.Col
				}
				if l == p.EndLine {
					pe = p.EndCol
				}
				fs, fe := 1, 1<<30
				if l == f.Line {
					fs = f.Col
				}
				if l == end {
					fe = f.EndCol
				}
				if fs < pe && fe > ps {
					found[i] = true
					hit = true
				}
			}
		}
		for _, c := range []*Count{&sc.All, get(sc.ByShape, f.Shape)} {
			c.Findings++
			if hit {
				c.Tru++
			} else {
				c.FalseByRule[f.Rule]++
				if len(c.FalseExamples) < 20 {
					c.FalseExamples = append(c.FalseExamples, f)
				}
			}
		}
	}
	for i, p := range planted {
		for _, c := range []*Count{&sc.All, get(sc.ByShape, p.Shape), get(sc.ByKind, p.Kind)} {
			c.Planted++
			if found[i] {
				c.Found++
			} else if len(c.MissedExamples) < 20 {
				c.MissedExamples = append(c.MissedExamples, p)
			}
		}
	}
	return sc
}

// Table writes the score as Markdown tables: per shape (precision,
// recall, false positives) and per kind (recall).
func (s *Score) Table(w io.Writer, name string, megabytes float64) {
	fmt.Fprintf(w, "%s: %d findings, %d false (%.2f per 10 MB of %.1f MB); recall %d/%d = %.2f%%; precision %.4f\n\n",
		name, s.All.Findings, s.All.False(), float64(s.All.False())*10/max(megabytes, 1e-9), megabytes,
		s.All.Found, s.All.Planted, 100*s.All.Recall(), s.All.Precision())
	fmt.Fprintln(w, "| shape | planted | found | recall | findings | false | precision |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, k := range sortedKeys(s.ByShape) {
		c := s.ByShape[k]
		fmt.Fprintf(w, "| %s | %d | %d | %.1f%% | %d | %d | %.4f |\n", k, c.Planted, c.Found, 100*c.Recall(), c.Findings, c.False(), c.Precision())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| kind | planted | found | recall |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, k := range sortedKeys(s.ByKind) {
		c := s.ByKind[k]
		fmt.Fprintf(w, "| %s | %d | %d | %.1f%% |\n", k, c.Planted, c.Found, 100*c.Recall())
	}
	if len(s.All.FalseByRule) > 0 {
		var parts []string
		for _, r := range sortedKeys(s.All.FalseByRule) {
			parts = append(parts, fmt.Sprintf("%s %d", r, s.All.FalseByRule[r]))
		}
		fmt.Fprintf(w, "\nfalse positives by rule: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
