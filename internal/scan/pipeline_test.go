package scan

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// secretLines is n lines that each hold one finding.
func secretLines(n int, seed uint64) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "api_key = \"%s\"\n", rnd(alnumSet, 32, seed+uint64(i)))
	}
	return []byte(b.String())
}

// fileJob is a job read in the worker (as a walked file is) and scanned in
// parts units, each from data; before each part it calls before.
func fileJob(path string, parts int, data []byte, before func(part int)) Unit {
	return Unit{Path: path, load: func(emit func(Unit) bool) fileCounts {
		for i := range parts {
			if before != nil {
				before(i)
			}
			if !emit(Unit{Path: path, Data: data, FirstLine: 1 + i*strings.Count(string(data), "\n")}) {
				break
			}
		}
		return fileCounts{files: 1}
	}}
}

// TestRunStreamsAFilesFindings: the findings of a file reach the sink as
// each of its units is scanned, not once the whole file is: 2M findings in
// one file took 1.37 GB when they were gathered first.
func TestRunStreamsAFilesFindings(t *testing.T) {
	t.Parallel()
	data := secretLines(50, 800)
	sunk := make(chan struct{})
	var once atomic.Bool
	timeout := time.After(20 * time.Second)
	var stuck atomic.Bool
	st, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		send(fileJob("big.txt", 3, data, func(part int) {
			if part == 2 { // the last part waits for the first findings
				select {
				case <-sunk:
				case <-timeout:
					stuck.Store(true)
				}
			}
		}))
		return nil
	}, nil, func(f Finding) error {
		if once.CompareAndSwap(false, true) {
			close(sunk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stuck.Load() {
		t.Fatal("no finding reached the sink before the file was scanned to its end")
	}
	if st.Units != 1 || st.Files != 1 || st.Bytes != int64(3*len(data)) {
		t.Errorf("stats %+v", st)
	}
}

// TestRunBoundsFindingsAhead: a file scanned while an earlier one is still
// being read holds at most maxAhead findings (and one unit's) before it
// waits for its turn; everything still reaches the sink, in order.
func TestRunBoundsFindingsAhead(t *testing.T) {
	data := secretLines(1000, 900)
	parts := 3*maxAhead/1000 + 5
	release := make(chan struct{})
	var held atomic.Int64
	waited := make(chan struct{}, 1)
	aheadHook = func(seq, n int) {
		held.Store(int64(n))
		select {
		case waited <- struct{}{}:
		default:
		}
	}
	defer func() { aheadHook = nil }()
	go func() {
		select {
		case <-waited:
		case <-time.After(20 * time.Second):
		}
		close(release)
	}()
	var order []string
	_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		send(fileJob("first.txt", 1, data, func(int) { <-release }))
		send(fileJob("second.txt", parts, data, nil))
		return nil
	}, nil, func(f Finding) error {
		if len(order) == 0 || order[len(order)-1] != f.Path {
			order = append(order, f.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := held.Load(); h == 0 || h > maxAhead+1000 {
		t.Fatalf("the second file held %d findings while waiting (want 1..%d)", h, maxAhead+1000)
	}
	if strings.Join(order, " ") != "first.txt second.txt" {
		t.Fatalf("order %v", order)
	}
}
