// Command eval scores a scanner's JSON report against the truth file
// bench/scan/gen wrote: precision and recall per shape and per kind, and
// false positives per 10 MB, with internal/scan/corpus's Evaluate. It reads
// sa01-secrets' JSON (-format sa01) or gitleaks' (-format gitleaks); for
// a mixed log, -runs maps lines to shapes. With -masked it checks a
// masked copy of the input instead: how many planted secrets are left.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/scan/corpus"
)

type finding struct {
	// sa01-secrets
	Path      string `json:"path"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndColumn int    `json:"end_column"`
	Rule      string `json:"rule"`
	// gitleaks
	File        string
	StartLine   int
	EndLine     int
	StartColumn int
	EndColumnGL int `json:"EndColumn"`
	RuleID      string
}

func main() {
	truthFile := flag.String("truth", "", "truth file (gen)")
	report := flag.String("report", "", "JSON report")
	format := flag.String("format", "sa01", "sa01 or gitleaks")
	runsFile := flag.String("runs", "", "runs file of a mixed log (gen -mixed)")
	name := flag.String("name", "", "name of the tool, for the output")
	bytes := flag.Float64("bytes", 0, "bytes scanned, for false positives per 10 MB")
	masked := flag.String("masked", "", "check this masked copy of a mixed log instead of a report")
	examples := flag.Int("examples", 0, "print this many false positives and misses")
	flag.Parse()
	planted := readJSONL[corpus.Planted](*truthFile)
	if *masked != "" {
		checkMasked(planted, *masked, *name)
		return
	}
	var runs []corpus.Run
	if *runsFile != "" {
		runs = readJSONL[corpus.Run](*runsFile)
	}
	shapeOf := func(path string, line int) string {
		if runs == nil {
			b := filepath.Base(path)
			return strings.TrimSuffix(b, filepath.Ext(b))
		}
		i := sort.Search(len(runs), func(i int) bool { return runs[i].To >= line })
		if i < len(runs) && runs[i].From <= line {
			return runs[i].Shape
		}
		return "?"
	}
	rb, err := os.ReadFile(*report)
	if err != nil {
		log.Fatal(err)
	}
	var fs []finding
	if len(strings.TrimSpace(string(rb))) > 0 {
		if err := json.Unmarshal(rb, &fs); err != nil {
			log.Fatal(err)
		}
	}
	var found []corpus.Finding
	for _, f := range fs {
		if *format == "gitleaks" {
			// gitleaks' StartColumn is one past the first byte's 1-based
			// column; EndColumn is just past the last byte.
			found = append(found, corpus.Finding{Shape: shapeOf(f.File, f.StartLine), Line: f.StartLine, EndLine: f.EndLine,
				Col: max(1, f.StartColumn-1), EndCol: f.EndColumnGL, Rule: f.RuleID})
			continue
		}
		found = append(found, corpus.Finding{Shape: shapeOf(f.Path, f.Line), Line: f.Line, Col: f.Column, EndCol: f.EndColumn, Rule: f.Rule})
	}
	sc := corpus.Evaluate(planted, found)
	sc.Table(os.Stdout, *name, *bytes/1e6)
	if *examples > 0 {
		n := 0
		for _, c := range sc.ByShape {
			for _, f := range c.FalseExamples {
				if n < *examples {
					fmt.Fprintf(os.Stderr, "false: %s line %d col %d rule %s\n", f.Shape, f.Line, f.Col, f.Rule)
					n++
				}
			}
		}
		n = 0
		for _, c := range sc.ByKind {
			for _, p := range c.MissedExamples {
				if n < *examples {
					fmt.Fprintf(os.Stderr, "missed: %s %s line %d\n", p.Shape, p.Kind, p.Line)
					n++
				}
			}
		}
	}
}

// readJSONL reads a file of one JSON value per line.
func readJSONL[T any](name string) []T {
	f, err := os.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			log.Fatal(err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	return out
}

// checkMasked counts the planted secrets of a mixed log still present on
// their line of the masked copy (masking keeps the line count).
func checkMasked(planted []corpus.Planted, masked, name string) {
	f, err := os.Open(masked)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	byLine := map[int][]corpus.Planted{}
	for _, p := range planted {
		byLine[p.Line] = append(byLine[p.Line], p)
	}
	left := map[string]int{}
	total, leaked := len(planted), 0
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		l, err := r.ReadString('\n')
		for _, p := range byLine[line] {
			first := strings.SplitN(p.Secret, "\n", 2)[0]
			if strings.Contains(l, first) {
				leaked++
				left[p.Kind]++
			}
		}
		if err != nil {
			break
		}
	}
	fmt.Printf("%s: masked %d/%d planted secrets (%.2f%%); left in clear: %v\n", name, total-leaked, total, 100*float64(total-leaked)/float64(total), left)
}
