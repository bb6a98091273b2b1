//go:build ignore

// ratios reads `go test -bench` output of internal/fernet's BenchmarkEncrypt
// and BenchmarkDecrypt on stdin and prints, per operation and size, the
// median ns/op of each implementation, our speedup over fernet-go and our
// time relative to the raw bound, as a Markdown table.
//
//	go run bench/fernet/ratios.go < bench/fernet/results.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
)

var line = regexp.MustCompile(`^Benchmark(\w+)/impl=(\w+)/size=(\w+)-\d+\s+\d+\s+([\d.]+) ns/op.*?(\d+) allocs/op`)

type key struct{ op, impl, size string }

func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func main() {
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
		a, _ := strconv.Atoi(m[5])
		ns[k] = append(ns[k], v)
		allocs[k] = max(allocs[k], a)
	}
	if len(ns) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Println("| op | size | ours ns/op | fernet-go ns/op | bound ns/op | ours allocs/op | speedup vs fernet-go | ours / bound | runs |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, op := range []string{"Encrypt", "Decrypt"} {
		for _, size := range []string{"32B", "1KiB", "64KiB"} {
			o, g, b := ns[key{op, "ours", size}], ns[key{op, "fernetgo", size}], ns[key{op, "bound", size}]
			if len(o) == 0 || len(g) == 0 || len(b) == 0 {
				continue
			}
			mo, mg, mb := median(o), median(g), median(b)
			fmt.Printf("| %s | %s | %.0f | %.0f | %.0f | %d | %.2fx | %.2fx | %d |\n",
				op, size, mo, mg, mb, allocs[key{op, "ours", size}], mg/mo, mo/mb, len(o))
		}
	}
}
