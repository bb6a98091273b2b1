package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// testAuditBound is the audit bound of these tests: -race on a machine
// shared with other work can take more than the production second to
// commit an event, and an access refused for that is not what a test
// means to check. The one test of the bound itself sets it back.
const testAuditBound = 30 * time.Second

// TestMain raises the audit bound, and removes the binary builtBinary built.
func TestMain(m *testing.M) {
	auditBound = testAuditBound
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// builtBinary builds the binary once for the tests that run it as a
// process (skipped with -short).
func builtBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "sa01-bin-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "sa01-secrets")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// TestMaskExitsOnSignal: mask on a quiet pipe, sent SIGTERM or SIGINT,
// writes what it holds (masked, an incomplete last line included) and
// exits, instead of waiting for the end of its input.
func TestMaskExitsOnSignal(t *testing.T) {
	bin := builtBinary(t)
	dir := t.TempDir()
	pw := testValue("mask-signal")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(bin, "mask", "--no-known")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir)
		pr, pwr, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = pr
		var out lockedBuffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		pwr.WriteString("first password=" + pw + "\nsecond, no newline yet token=" + pw)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "first") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%v: mask exited with %v", sig, err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("%v: mask did not exit while its input stayed open", sig)
		}
		pwr.Close()
		if got, want := out.String(), "first password=****\nsecond, no newline yet token=****"; got != want {
			t.Errorf("%v: output %q, want %q", sig, got, want)
		}
	}
}
