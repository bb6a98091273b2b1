package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// TestHostileLoginLeavesTheAuditFileUsable: an unauthenticated login with
// a 70 KB identity name, and a 1 MB body of 0xFF bytes, used to leave a
// line in the audit file that no later command and no restart could read.
func TestHostileLoginLeavesTheAuditFileUsable(t *testing.T) {
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.jsonl")
	env, _ := serveEnv(t, dir)
	env["SA01_SECRETS_AUDIT_FILE"], env["HOME"] = auditFile, dir
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	long := strings.Repeat("A", 70<<10)
	if code, _ := getJSON(t, http.DefaultClient, "POST", s.addr+"/v1/auth/login", credOf(t, dir, "gateway"), `{"identity":"`+long+`"}`); code != 403 {
		t.Fatalf("login naming a long identity: %d", code)
	}
	req, _ := http.NewRequest("POST", s.addr+"/v1/auth/login", bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20-1)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(bytes.Repeat([]byte{0xff}, 100)))
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if len(line) > 8<<10 {
			t.Fatalf("line %d of the audit file is %d bytes", i+1, len(line))
		}
	}
	if r := cli("v", "put", "app/after"); r.code != 0 {
		t.Fatalf("a command after the hostile requests: %d %s", r.code, r.stderr)
	}
	if r := cli("", "audit", "verify", "--file", auditFile); r.code != 0 {
		t.Fatalf("verify --file after the hostile requests: %d %s%s", r.code, r.stdout, r.stderr)
	}
	s2 := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	if err := s2.stop(); err != nil {
		t.Fatalf("a restart after the hostile requests: %v", err)
	}
}

// TestHostileRequestsAreRefusedBeforeTheHandlers: a form-encoded body (a
// browser page can post one without a preflight) and, on a loopback
// listener, a Host that is not loopback (DNS rebinding) are refused.
func TestHostileRequestsAreRefusedBeforeTheHandlers(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	env["HOME"] = dir
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	req, _ := http.NewRequest("POST", s.addr+"/v1/auth/login", strings.NewReader("service=gateway"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+credOf(t, dir, "gateway"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("a form-encoded login: %d", res.StatusCode)
	}
	req, _ = http.NewRequest("GET", s.addr+"/v1/sys/health", nil)
	req.Host = "rebound.example:8200"
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("a foreign Host on a loopback listener: %d", res.StatusCode)
	}
	if code, _ := getJSON(t, http.DefaultClient, "GET", s.addr+"/v1/sys/health", "", ""); code != 200 {
		t.Fatalf("health from localhost: %d", code)
	}
}

// TestAuditQueryEscapesControlCharacters: a field holding an escape
// sequence and a newline (a service name sent to login) used to reach the
// terminal raw, forging an "admin read" line.
func TestAuditQueryEscapesControlCharacters(t *testing.T) {
	e := newAuditEnv(t)
	e.must("v", "put", "app/a")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadKey(ctx, db, mustRing(t, e.vars["SA01_CRYPTO_FERNET_KEY"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := "x\n99  2026-01-01T00:00:00Z  admin  acc  read  db/root  1  success\x1b[2K\x1b]0;t\x07"
	err = audit.NewChain(db, key).WriteBatch(ctx, []audit.Event{{Service: forged, Action: "login", Outcome: audit.Failure, Reason: "invalid token"}})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "csv"} {
		out := e.must("", "audit", "query", "--format", format)
		if strings.ContainsAny(out, "\x1b\x07") || strings.Count(out, "\n") != 5 { // a header, init's event, the seal of states, the put, the forged one
			t.Fatalf("--format %s printed control characters or extra lines:\n%q", format, out)
		}
	}
}
