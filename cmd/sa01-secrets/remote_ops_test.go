package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// operatorServer is a serve over a store with the secret
// llm/openai_api_key, the operators alice (auditor) and rita (responder)
// beside admin, and the services of serveEnv; cli runs the CLI on a
// clean client host (its own HOME, no store) with SA01_SECRETS_ADDR set
// and the credential of as.
type operatorServer struct {
	t        *testing.T
	dir      string // the server's
	home     string // the client's
	addr     string
	creds    map[string]string
	extra    map[string]string // more of the client's environment
	defStore string            // where a default local store would be made on the client
}

func newOperatorServer(t *testing.T) *operatorServer {
	t.Helper()
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	o := &operatorServer{t: t, dir: dir, home: t.TempDir(), creds: map[string]string{"admin": admin}}
	o.defStore = filepath.Join(o.home, ".local", "share", "sa01-secrets", "secrets.db")
	local := func(stdin string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] }); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errb.String())
		}
	}
	for name, role := range map[string]string{"alice": "auditor", "rita": "responder"} {
		f := filepath.Join(dir, name+".credential")
		local("", "identity", "add", name, "--operator", "--role", role, "--credential-file", f)
		o.creds[name] = f
	}
	for _, s := range []string{"gateway", "worker"} {
		o.creds[s] = filepath.Join(dir, s+".credential")
	}
	local("sk-openai-CANARY-1", "put", "llm/openai_api_key")
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	t.Cleanup(func() { _ = s.stop() })
	o.addr = s.addr
	return o
}

func (o *operatorServer) cli(as string, args ...string) runResult {
	o.t.Helper()
	env := map[string]string{"HOME": o.home, "SA01_SECRETS_ADDR": o.addr, "SA01_SECRETS_CREDENTIAL_FILE": o.creds[as]}
	for k, v := range o.extra {
		env[k] = v
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return runResult{code, out.String(), errb.String()}
}

// noLocalStore fails when the client host has a store.
func (o *operatorServer) noLocalStore() {
	o.t.Helper()
	if _, err := os.Stat(o.defStore); !os.IsNotExist(err) {
		o.t.Fatalf("a local store was made at %s", o.defStore)
	}
}

// TestIncidentOpenActsOnTheServer: with SA01_SECRETS_ADDR set, incident
// open marks the server's version compromised (the server stops serving
// it) as the responder, and no local store is made or used (issue 13,
// finding 3); status, report and close go to the same incident.
func TestIncidentOpenActsOnTheServer(t *testing.T) {
	o := newOperatorServer(t)
	if r := o.cli("gateway", "get", "llm/openai_api_key"); r.code != 0 || r.stdout != "sk-openai-CANARY-1" {
		t.Fatalf("gateway reads before: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r := o.cli("rita", "incident", "open", "llm/openai_api_key", "--reason", "leaked in a ticket", "--format", "json")
	if r.code != 0 {
		t.Fatalf("incident open: %d %s", r.code, r.stderr)
	}
	var opened struct {
		ID      string `json:"id"`
		Version int    `json:"compromised_version"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &opened); err != nil || opened.Version != 1 || !strings.HasPrefix(opened.ID, "INC-") {
		t.Fatalf("opened %q: %v", r.stdout, err)
	}
	if r := o.cli("gateway", "get", "llm/openai_api_key"); r.code == 0 || strings.Contains(r.stdout, "CANARY") {
		t.Fatalf("the server still serves the compromised version: %d %q", r.code, r.stdout)
	}
	if r := o.cli("alice", "incident", "status", opened.ID); r.code != 0 || !strings.Contains(r.stdout, opened.ID) || !strings.Contains(r.stdout, "llm/openai_api_key version 1") {
		t.Fatalf("incident status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("alice", "incident", "report", opened.ID); r.code != 0 || !strings.Contains(r.stdout, "gateway") {
		t.Fatalf("incident report: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("alice", "incident", "close", opened.ID, "--review", "x"); r.code != ExitDenied {
		t.Fatalf("an auditor closed: %d %s", r.code, r.stderr)
	}
	if r := o.cli("gateway", "incident", "open", "llm/openai_api_key", "--reason", "x"); r.code != ExitDenied {
		t.Fatalf("a service opened an incident: %d %s", r.code, r.stderr)
	}
	if r := o.cli("rita", "incident", "close", opened.ID, "--review", "added a pre-commit scan"); r.code != 0 || !strings.Contains(r.stdout, "closed "+opened.ID) {
		t.Fatalf("close: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("rita", "incident", "close", opened.ID, "--review", "again"); r.code != ExitConflict {
		t.Fatalf("second close: %d %s", r.code, r.stderr)
	}
	if r := o.cli("rita", "incident", "status", "INC-20990101-000000"); r.code != ExitNotFound {
		t.Fatalf("no such incident: %d %s", r.code, r.stderr)
	}
	r = o.cli("alice", "audit", "query", "--action", "incident-open", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"actor": "operator:rita"`) {
		t.Fatalf("the incident is not in the server's audit as rita: %d %s %s", r.code, r.stdout, r.stderr)
	}
	o.noLocalStore()
}

// TestAuditThroughTheServer: with SA01_SECRETS_ADDR set, audit query
// --since 1h on a clean host returns the server's events, not an empty
// local table, and leaves no store behind (issue 13, finding 3); an
// auditor may query the audit but gets 403 on a value; a service
// credential cannot read the audit; tail, head and verify work too.
func TestAuditThroughTheServer(t *testing.T) {
	o := newOperatorServer(t)
	if r := o.cli("gateway", "get", "llm/openai_api_key"); r.code != 0 {
		t.Fatalf("gateway reads: %d %s", r.code, r.stderr)
	}
	r := o.cli("alice", "audit", "query", "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, "llm/openai_api_key") || !strings.Contains(r.stdout, "gateway") {
		t.Fatalf("audit query: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	o.noLocalStore()
	if r := o.cli("alice", "get", "llm/openai_api_key"); r.code != ExitDenied || strings.Contains(r.stdout, "CANARY") {
		t.Fatalf("an auditor read a value: %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"audit", "query"}, {"audit", "tail"}, {"audit", "head"}, {"audit", "verify"}, {"status"}, {"key", "list"}, {"verify"}, {"incident", "status"}} {
		if r := o.cli("gateway", args...); r.code != ExitDenied {
			t.Errorf("a service: %v: %d %s %s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := o.cli("alice", "audit", "tail", "-n", "3", "--format", "jsonl"); r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("audit tail: %d %q %s", r.code, r.stdout, r.stderr)
	}
	head := o.cli("alice", "audit", "head")
	if head.code != 0 || !strings.Contains(head.stdout, ":") {
		t.Fatalf("audit head: %d %s %s", head.code, head.stdout, head.stderr)
	}
	if r := o.cli("alice", "audit", "verify", "--anchor", strings.TrimSpace(head.stdout)); r.code != 0 || !strings.Contains(r.stdout, "audit chain intact") || !strings.Contains(r.stdout, "anchor reached") {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("alice", "verify"); r.code != 0 {
		t.Fatalf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("alice", "key", "list"); r.code != 0 || !strings.Contains(r.stdout, "primary") {
		t.Fatalf("key list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("rita", "status"); r.code != 0 || !strings.Contains(r.stdout, "compliant") {
		t.Fatalf("status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := o.cli("rita", "audit", "query"); r.code != ExitDenied {
		t.Fatalf("a responder read the audit: %d %s", r.code, r.stderr)
	}
	o.noLocalStore()
}

// TestKeyFileVerbsRefuseThroughTheServer: the verbs that work on the key
// file beside the store refuse at once with SA01_SECRETS_ADDR set, and no
// verb opens a local store instead of the server.
func TestKeyFileVerbsRefuseThroughTheServer(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"HOME": home, "SA01_SECRETS_ADDR": "http://127.0.0.1:1", "SA01_SECRETS_AUDIT_KAFKA": "127.0.0.1:1"}
	for _, args := range [][]string{
		{"key", "rotate"}, {"key", "stage"}, {"key", "promote"}, {"key", "retire", "abc"}, {"reencrypt"},
		{"reencrypt", "--targets"}, {"targets", "status"}, {"audit", "publish"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		if code != ExitUsage || !strings.Contains(errb.String(), "runs beside the store, not through the server") {
			t.Errorf("%v: %d %s", args, code, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); !os.IsNotExist(err) {
		t.Fatal("a local store was made")
	}
}

// TestStatusNamesAnUnfinishedRotation: status does not say compliant while
// versions still sit on a decrypt-only key; it says so and names
// reencrypt.
func TestStatusNamesAnUnfinishedRotation(t *testing.T) {
	e := newRotateFixture(t)
	e.put(2)
	e.mustRun("", "key", "stage", "--env-file", e.env)
	e.mustRun("", "key", "promote", "--env-file", e.env)
	code, out, errs := e.run("", "status")
	if strings.Contains(out, "compliant:") || !strings.Contains(out, "decrypt-only, still used by 2 version(s); run 'sa01-secrets reencrypt'") {
		t.Fatalf("status after promote: %d\n%s%s", code, out, errs)
	}
	e.mustRun("", "reencrypt", "--env-file", e.env, "--quiet")
	if code, out, _ := e.run("", "status"); code != 0 || !strings.Contains(out, "compliant:") || strings.Contains(out, "reencrypt") {
		t.Fatalf("status after reencrypt: %d\n%s", code, out)
	}
}

// TestAuditTailFollowsTheServer: audit tail -f through the server prints
// the server's new events; a poll that reads anyone else's events is
// recorded, and the polls do not feed it events of their own.
func TestAuditTailFollowsTheServer(t *testing.T) {
	o := newOperatorServer(t)
	env := map[string]string{"HOME": o.home, "SA01_SECRETS_ADDR": o.addr, "SA01_SECRETS_CREDENTIAL_FILE": o.creds["alice"]}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out syncBuffer
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"audit", "tail", "-n", "0", "-f", "--format", "jsonl"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	}()
	time.Sleep(500 * time.Millisecond)
	if r := o.cli("gateway", "get", "llm/openai_api_key"); r.code != 0 {
		t.Fatalf("get: %d %s", r.code, r.stderr)
	}
	if code := <-done; code != 0 {
		t.Fatalf("tail -f: %d %s", code, errb.String())
	}
	got := out.String()
	if !strings.Contains(got, `"service":"gateway","actor":"service:gateway","action":"read","secret":"llm/openai_api_key"`) {
		t.Fatalf("the gateway's read is not followed:\n%s", got)
	}
	// Two audit reads: the start (audit-tail) and the poll that read the
	// gateway's events (audit-query); the polls that returned only these
	// two are not recorded, so the follow does not feed on itself.
	if n := strings.Count(got, `"action":"audit-`); n != 2 || !strings.Contains(got, `"actor":"operator:alice","action":"audit-query"`) {
		t.Fatalf("want the start and the poll that read the gateway's events recorded, no more (%d audit events):\n%s", n, got)
	}
	o.noLocalStore()
}

// TestAuditThroughTheServerEscapes: a hostile name a request put into the
// server's audit trail prints escaped through the server, as locally.
func TestAuditThroughTheServerEscapes(t *testing.T) {
	o := newOperatorServer(t)
	tok := o.cli("gateway", "login")
	if tok.code != 0 {
		t.Fatalf("login: %d %s", tok.code, tok.stderr)
	}
	code, _ := getJSON(t, http.DefaultClient, "GET", o.addr+"/v1/secrets/db/x%1b%5D0%3Bt%07%0a99%20forged", strings.TrimSpace(tok.stdout), "")
	if code != 403 {
		t.Fatalf("hostile read: %d", code)
	}
	for _, format := range []string{"table", "csv"} {
		r := o.cli("alice", "audit", "query", "--failed", "--format", format)
		if r.code != 0 || strings.ContainsAny(r.stdout, "\x1b\x07") || !strings.Contains(r.stdout, "forged") || strings.Contains(r.stdout, "\n99 forged") {
			t.Fatalf("--format %s: %d %q %s", format, r.code, r.stdout, r.stderr)
		}
	}
}

// TestIncidentOpenLeavesALocalStoreAlone reproduces issue 13, finding 3
// on a host that has a store of its own: with SA01_SECRETS_ADDR set,
// incident open acts on the server, and the local store's version of the
// same name stays served and unmarked.
func TestIncidentOpenLeavesALocalStoreAlone(t *testing.T) {
	o := newOperatorServer(t)
	key := fernet.GenerateKey().Encode()
	localEnv := map[string]string{"HOME": o.home, "SA01_CRYPTO_FERNET_KEY": key}
	initStore(t, func(k string) string { return localEnv[k] })
	local := func(stdin string, args ...string) runResult {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return localEnv[k] })
		return runResult{code, out.String(), errb.String()}
	}
	if r := local("local-value", "put", "llm/openai_api_key"); r.code != 0 {
		t.Fatalf("local put: %d %s", r.code, r.stderr)
	}
	o.extra = map[string]string{"SA01_CRYPTO_FERNET_KEY": key} // the operator's host has the local store's key
	if r := o.cli("rita", "incident", "open", "llm/openai_api_key", "--reason", "leaked"); r.code != 0 {
		t.Fatalf("incident open: %d %s", r.code, r.stderr)
	}
	if r := o.cli("gateway", "get", "llm/openai_api_key"); r.code == 0 || strings.Contains(r.stdout, "CANARY") {
		t.Fatalf("the server still serves the compromised version: %d %q", r.code, r.stdout)
	}
	if r := local("", "get", "llm/openai_api_key"); r.code != 0 || r.stdout != "local-value" {
		t.Fatalf("the local store was touched: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := local("", "incident", "status"); r.code != 0 || !strings.Contains(r.stdout, "no open incidents") {
		t.Fatalf("an incident was opened in the local store: %d %s", r.code, r.stdout)
	}
}
