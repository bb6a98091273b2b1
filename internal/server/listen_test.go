package server

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	before := gcPercent()
	restore := TuneGC(func(string) (string, bool) { return "", false })
	if got := gcPercent(); got != GCPercent {
		t.Fatalf("GC percent while serving without GOGC = %d, want %d", got, GCPercent)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Fatalf("GC percent after serving = %d, want %d again", got, before)
	}
	restore = TuneGC(func(k string) (string, bool) { return "50", k == "GOGC" })
	if got := gcPercent(); got != before {
		t.Fatalf("GOGC set, but the GC percent changed to %d", got)
	}
	restore()
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8200": true, "127.1.2.3:1": true, "[::1]:8200": true, "localhost:8200": true,
		":8200": false, "0.0.0.0:8200": false, "10.0.0.1:8200": false, "example.com:8200": false, "junk": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
