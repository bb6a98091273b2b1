//go:build ignore

// ratios reads `go test -bench` output of internal/fernet's BenchmarkEncrypt
// and BenchmarkDecrypt on stdin, as bench/fernet/run.sh writes it (rounds
// that each run every implementation once), and prints, per operation and
// size, the fastest time of each implementation, our speedup over fernet-go,
// our time relative to the raw bound, and the ceiling: fernet-go's time over
// the bound's returning a fresh result (impl=boundalloc), the most any
// implementation on the standard library that returns a fresh result can
// gain over fernet-go, as a Markdown table.
//
// The ratios are paired: each is taken within a round, between figures
// measured seconds apart, and the table gives the median over the rounds
// and the worst round. Ratios of fastest runs taken minutes apart would
// carry the drift of a shared machine's speed into the comparison. It
// compares cpu-ns/op (CPU time per operation) by default, ns/op (wall
// clock) with -wall.
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
	fmt.Printf("| op | size | ours %[1]s | ours-append %[1]s | fernet-go %[1]s | bound %[1]s | bound+alloc %[1]s | ours allocs/op | ours vs fernet-go | ceiling: fernet-go / (bound+alloc) | ours / bound | ours-append / bound | rounds |\n", unit)
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, op := range []string{"Encrypt", "Decrypt"} {
		for _, size := range []string{"32B", "1KiB", "64KiB"} {
			o, a, g, b := ns[key{op, "ours", size}], ns[key{op, "oursappend", size}], ns[key{op, "fernetgo", size}], ns[key{op, "bound", size}]
			n := min(len(o), len(a), len(g), len(b))
			if n == 0 {
				continue
			}
			speedup, vsBound, appendVsBound := make([]float64, n), make([]float64, n), make([]float64, n)
			for i := range n {
				speedup[i], vsBound[i], appendVsBound[i] = g[i]/o[i], o[i]/b[i], a[i]/b[i]
			}
			alloc, ceiling := "–", "–"
			if al := ns[key{op, "boundalloc", size}]; len(al) >= n {
				c := make([]float64, n)
				for i := range n {
					c[i] = g[i] / al[i]
				}
				alloc, ceiling = fmt.Sprintf("%.0f", minimum(al)), spread(c, maximum)
			}
			fmt.Printf("| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %d | %s | %s | %s | %s | %d |\n",
				op, size, minimum(o), minimum(a), minimum(g), minimum(b), alloc, allocs[key{op, "ours", size}],
				spread(speedup, minimum), ceiling, spread(vsBound, maximum), spread(appendVsBound, maximum), n)
		}
	}
	fmt.Println()
	fmt.Printf("%s: fastest round. Ratios: median of the rounds' ratios, then the worst round in parentheses\n", unit)
	fmt.Println("(for the ceiling, the highest round: the most that round allowed).")
}

// spread formats the median of paired ratios and the worst of them.
func spread(xs []float64, worst func([]float64) float64) string {
	w := worst(xs)
	return fmt.Sprintf("%.2fx (%.2fx)", median(append([]float64(nil), xs...)), w)
}

func maximum(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
