package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// TestPutPromptsOnATerminal runs put under script(1), which gives it a
// terminal: put prompts on it, does not echo the value, and stores it.
func TestPutPromptsOnATerminal(t *testing.T) {
	scriptPath, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed")
	}
	bin := builtBinary(t)
	dir := t.TempDir()
	env := append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME=", "SA01_SECRETS_DB_DSN=", "SA01_CRYPTO_FERNET_KEY="+fernet.GenerateKey().Encode())
	initCmd := exec.Command(bin, "init", "--credential-file", filepath.Join(dir, "admin.credential"))
	initCmd.Env = env
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v: %s", err, out)
	}
	cmd := exec.Command(scriptPath, "-qec", bin+" put pty/x", "/dev/null")
	cmd.Env = env
	pr, pw, _ := os.Pipe()
	cmd.Stdin = pr
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	// wait for the prompt before typing, as a person would
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "not echoed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	pw.WriteString("typed-secret-value\n")
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("put under a terminal: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "value for pty/x (not echoed): ") || !strings.Contains(out.String(), "pty/x: version 1") {
		t.Errorf("terminal output %q", out.String())
	}
	if strings.Contains(out.String(), "typed-secret-value") {
		t.Error("the value was echoed on the terminal")
	}
	get := exec.Command(bin, "get", "pty/x")
	get.Env = env
	got, err := get.Output()
	if err != nil || string(got) != "typed-secret-value" {
		t.Errorf("get = %q, %v", got, err)
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
