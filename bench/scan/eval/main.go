// Command eval compares a scanner's JSON report with the generator's truth
// file: recall per kind of planted secret, and false positives (findings on
// lines where nothing was planted). It reads sa01-secrets' JSON format
// (-format sa01) or gitleaks' (-format gitleaks).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
)

type planted struct {
	Line   int    `json:"line"`
	Kind   string `json:"kind"`
	Secret string `json:"secret"`
}

type finding struct {
	Line      int    `json:"line"`
	Rule      string `json:"rule"`
	StartLine int    `json:"StartLine"`
	RuleID    string `json:"RuleID"`
}

func main() {
	truthFile := flag.String("truth", "truth.jsonl", "truth file")
	report := flag.String("report", "", "JSON report")
	format := flag.String("format", "sa01", "sa01 or gitleaks")
	name := flag.String("name", "", "name of the tool, for the output")
	fpOut := flag.Int("show-fp", 0, "print this many false positives (line and rule)")
	masked := flag.String("masked", "", "instead of a report, check that this masked log holds no planted secret")
	flag.Parse()
	if *masked != "" {
		checkMasked(*truthFile, *masked, *name)
		return
	}

	tf, err := os.ReadFile(*truthFile)
	if err != nil {
		log.Fatal(err)
	}
	truth := map[int]string{}
	perKind := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(tf)), "\n") {
		var p planted
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			log.Fatal(err)
		}
		truth[p.Line] = p.Kind
		perKind[p.Kind]++
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
	found := map[int]bool{}
	fp := 0
	fpRules := map[string]int{}
	shown := 0
	for _, f := range fs {
		line, rule := f.Line, f.Rule
		if *format == "gitleaks" {
			line, rule = f.StartLine, f.RuleID
		}
		if _, ok := truth[line]; ok {
			found[line] = true
			continue
		}
		fp++
		fpRules[rule]++
		if shown < *fpOut {
			fmt.Fprintf(os.Stderr, "fp: line %d rule %s\n", line, rule)
			shown++
		}
	}
	hit := map[string]int{}
	for line, kind := range truth {
		if found[line] {
			hit[kind]++
		}
	}
	var kinds []string
	for k := range perKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	total, totalHit := 0, 0
	ruleTotal, ruleHit := 0, 0
	var parts []string
	for _, k := range kinds {
		total += perKind[k]
		totalHit += hit[k]
		if !strings.HasPrefix(k, "known-") {
			ruleTotal += perKind[k]
			ruleHit += hit[k]
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", k, hit[k], perKind[k]))
	}
	var fpParts []string
	for r, n := range fpRules {
		fpParts = append(fpParts, fmt.Sprintf("%s:%d", r, n))
	}
	sort.Strings(fpParts)
	fmt.Printf("%s: recall (rule kinds) %d/%d = %.1f%%; recall (all, incl. known values) %d/%d = %.1f%%; false positives %d [%s]\n",
		*name, ruleHit, ruleTotal, 100*float64(ruleHit)/float64(ruleTotal), totalHit, total, 100*float64(totalHit)/float64(total), fp, strings.Join(fpParts, " "))
	fmt.Printf("%s: per kind: %s\n", *name, strings.Join(parts, ", "))
}

// checkMasked counts the planted secrets still present on their line of the
// masked log.
func checkMasked(truthFile, masked, name string) {
	tf, err := os.ReadFile(truthFile)
	if err != nil {
		log.Fatal(err)
	}
	mb, err := os.ReadFile(masked)
	if err != nil {
		log.Fatal(err)
	}
	lines := strings.Split(string(mb), "\n")
	leaks := map[string]int{}
	total, left := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(tf)), "\n") {
		var p planted
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			log.Fatal(err)
		}
		total++
		if p.Line-1 < len(lines) && strings.Contains(lines[p.Line-1], p.Secret) {
			left++
			leaks[p.Kind]++
		}
	}
	fmt.Printf("%s: masked %d/%d planted secrets (%.1f%%); left in clear: %v\n", name, total-left, total, 100*float64(total-left)/float64(total), leaks)
}
