// Package opatest runs a real OPA server for tests: the opa binary on a
// free loopback port, with the test's own Rego modules and decision
// logging on, so that every answer carries a decision_id.
//
// The binary is found on PATH or in $(go env GOPATH)/bin (.ci/run installs
// it there with go install github.com/open-policy-agent/opa@v1.22.3). Where
// none can be had, a test that needs it is skipped, saying so; with CI set,
// it fails instead.
package opatest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the OPA release .ci/run installs.
const Version = "v1.22.3"

// Binary returns the path of an opa binary, or "" when there is none.
func Binary() string {
	if p, err := exec.LookPath("opa"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		gopath = filepath.Join(home, "go")
	}
	// GOPATH may be a list: the first entry holds bin.
	p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "opa")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// Server is an OPA server started for one test.
type Server struct {
	// URL is the base URL, as http://127.0.0.1:PORT.
	URL string

	t    testing.TB
	bin  string
	addr string
	dir  string // the Rego modules
	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
	log  string // OPA's output, appended across restarts
}

// Start starts OPA with modules (file name → Rego source) and stops it when
// the test ends. It skips the test when no opa binary can be had.
func Start(t testing.TB, modules map[string]string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "no opa binary on PATH or in $(go env GOPATH)/bin: install it with go install github.com/open-policy-agent/opa@" + Version
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	names := make([]string, 0, len(modules))
	for name, src := range modules {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	s := &Server{t: t, bin: bin, dir: dir, log: filepath.Join(t.TempDir(), "opa.log")}
	var err error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before OPA binds it
		s.addr = freeAddr(t)
		s.URL = "http://" + s.addr
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("opa did not start: %v\n%s", err, s.Log())
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr returns OPA's host:port.
func (s *Server) Addr() string { return s.addr }

// Log returns what OPA wrote: its log and, with decision logging to the
// console, one JSON line per decision.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Stop stops OPA and waits for it to exit. It may be called again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.cmd = nil
}

// Restart starts OPA again on the same address, with the same modules.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for attempt := 0; attempt < 20; attempt++ { // the port is released when the old process is gone
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("opa did not start again: %v\n%s", err, s.Log())
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "run", "--server",
		"--addr", s.addr,
		"--set", "decision_logs.console=true", // answers carry decision_id
		"--log-format", "json",
		s.dir)
	out, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			return fmt.Errorf("opa exited: %s", cmd.ProcessState)
		default:
		}
		if healthy(s.URL) {
			s.cmd, s.exit = cmd, exit
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exit
	return fmt.Errorf("opa not healthy at %s within 30s", s.addr)
}

func healthy(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// CheckStrict runs opa check --strict on a Rego module and fails the test
// with OPA's complaint. It skips as Start does.
func CheckStrict(t testing.TB, module string) {
	t.Helper()
	bin := Binary()
	if bin == "" {
		Start(t, nil) // skips, or fails under CI, saying why
	}
	f := filepath.Join(t.TempDir(), "module.rego")
	if err := os.WriteFile(f, []byte(module), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "--strict", f).CombinedOutput(); err != nil {
		t.Fatalf("opa check --strict: %v\n%s\n%s", err, out, module)
	}
}
