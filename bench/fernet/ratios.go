//go:build ignore

// ratios reads `go test -bench` output of internal/fernet's BenchmarkEncrypt
// and BenchmarkDecrypt on stdin and prints, per operation and size, the
// fastest and the median ns/op of each implementation over the runs, our
// speedup over fernet-go and our time relative to the raw bound, as a
// Markdown table. On a shared machine the fastest run is the better estimate
// of the uncontended cost (other load only ever adds time); the median shows
// how noisy the runs were. It compares cpu-ns/op (CPU time per operation)
// by default, ns/op (wall clock) with -wall.
//
//	go run bench/fernet/ratios.go [-wall] < bench/fernet/results.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
)

var (
	line = regexp.MustCompile(`^Benchmark(\w+)/impl=(\w+)/size=(\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op.*?(\d+) allocs/op`)
	cpu  = regexp.MustCompile(`([\d.]+) cpu-ns/op`)
)

type key struct{ op, impl, size string }

func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func minimum(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func main() {
	useCPU := len(os.Args) < 2 || os.Args[1] != "-wall"
	unit := "cpu-ns/op"
	if !useCPU {
		unit = "ns/op"
	}
	ns := map[key][]float64{}
	allocs := map[key]int{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		k := key{m[1], m[2], m[3]}
		v, _ := strconv.ParseFloat(m[4], 64)
		if c := cpu.FindStringSubmatch(sc.Text()); c != nil && useCPU {
			v, _ = strconv.ParseFloat(c[1], 64)
		}
		a, _ := strconv.Atoi(m[5])
		ns[k] = append(ns[k], v)
		allocs[k] = max(allocs[k], a)
	}
	if len(ns) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Printf("| op | size | ours %[1]s | ours-append %[1]s | fernet-go %[1]s | bound %[1]s | ours allocs/op | ours vs fernet-go | ours / bound | ours-append / bound | (median) ours vs fernet-go | (median) ours / bound | (median) ours-append / bound | runs |\n", unit)
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, op := range []string{"Encrypt", "Decrypt"} {
		for _, size := range []string{"32B", "1KiB", "64KiB"} {
			o, a, g, b := ns[key{op, "ours", size}], ns[key{op, "oursappend", size}], ns[key{op, "fernetgo", size}], ns[key{op, "bound", size}]
			if len(o) == 0 || len(a) == 0 || len(g) == 0 || len(b) == 0 {
				continue
			}
			fo, fa, fg, fb := minimum(o), minimum(a), minimum(g), minimum(b)
			mo, ma, mg, mb := median(o), median(a), median(g), median(b)
			fmt.Printf("| %s | %s | %.0f | %.0f | %.0f | %.0f | %d | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | %d |\n",
				op, size, fo, fa, fg, fb, allocs[key{op, "ours", size}], fg/fo, fo/fb, fa/fb, mg/mo, mo/mb, ma/mb, len(o))
		}
	}
	fmt.Println()
	fmt.Printf("%s and the unmarked ratios: fastest of the runs; (median): median of the runs.\n", unit)
}
