package server

import (
	"errors"
	"path/filepath"
	"runtime/debug"
	"strings"
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

// A malformed listen address says so, not that it is not loopback (which
// sent the operator after TLS); a missing TLS file gives the reason.
func TestListenNamesTheBadInput(t *testing.T) {
	_, _, err := Listen(ListenOptions{Addr: "nonsense"})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, `"nonsense": want HOST:PORT`) || strings.Contains(ue.Msg+ue.Hint, "loopback") || strings.Contains(ue.Hint, "TLS") {
		t.Errorf("Listen(nonsense): %v", err)
	}
	missing := filepath.Join(t.TempDir(), "server.crt")
	_, _, err = Listen(ListenOptions{Addr: "127.0.0.1:0", TLSCert: missing, TLSKey: missing})
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, missing) || !strings.Contains(ue.Msg, "no such file") {
		t.Errorf("Listen with a missing TLS file: %v", err)
	}
}
