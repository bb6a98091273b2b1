package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// benchInput is a synthetic gateway log, or the file named by
// SA01_BENCH_FILE.
func benchInput(b *testing.B) []byte {
	if f := os.Getenv("SA01_BENCH_FILE"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	var sb strings.Builder
	for i := 0; sb.Len() < 8<<20; i++ {
		fmt.Fprintf(&sb, "2026-11-27T00:00:00.003Z INFO  http request_id=%s trace_id=%s method=POST path=/v1/chat/completions status=200 idempotency_key=3f2c1a9e-8b7d-4c6e-9f01-2a3b4c5d6e7f model=gpt-4o prompt_tokens=%d\n",
			rnd(hexSet, 32, uint64(i)), rnd(hexSet, 32, uint64(i+1)), i)
	}
	return []byte(sb.String())
}

func BenchmarkFind(b *testing.B) {
	data := benchInput(b)
	s := New(nil)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.Find(data, nil)
	}
}

func BenchmarkRun(b *testing.B) {
	data := benchInput(b)
	s := New(nil)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, err := s.Run(context.Background(), 0, func(send func(Unit) bool) error {
			return Chunks(strings.NewReader(string(data)), "log", 0, send)
		}, nil, func(Finding) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMask1000Known(b *testing.B) {
	data := benchInput(b)
	var vals []KnownValue
	for i := range 1000 {
		vals = append(vals, KnownValue{Name: fmt.Sprint(i), Version: 1, Value: []byte(rnd(alnumSet, 32, uint64(i)))})
	}
	m := NewMasker(New(NewKnownSet(vals)))
	b.SetBytes(int64(len(data)))
	var out []byte
	for b.Loop() {
		out = m.Mask(out[:0], data)
	}
}

func BenchmarkMaskStream1000Known(b *testing.B) {
	data := benchInput(b)
	var vals []KnownValue
	for i := range 1000 {
		vals = append(vals, KnownValue{Name: fmt.Sprint(i), Version: 1, Value: []byte(rnd(alnumSet, 32, uint64(i)))})
	}
	m := NewMasker(New(NewKnownSet(vals)))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := m.Stream(bytes.NewReader(data), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewKnownSet1000(b *testing.B) {
	var vals []KnownValue
	for i := range 1000 {
		vals = append(vals, KnownValue{Name: fmt.Sprint(i), Version: 1, Value: []byte(rnd(alnumSet, 24+i%40, uint64(i)) + "+/&")})
	}
	for b.Loop() {
		NewKnownSet(vals)
	}
}
