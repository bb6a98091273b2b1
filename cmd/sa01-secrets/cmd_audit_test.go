package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// auditEnv is a local store in a temporary directory, with a key.
type auditEnv struct {
	t    *testing.T
	dir  string
	db   string
	vars map[string]string
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	dir := t.TempDir()
	e := &auditEnv{t: t, dir: dir, db: filepath.Join(dir, "store", "secrets.db"), vars: map[string]string{}}
	e.vars["SA01_SECRETS_DB_DSN"] = "sqlite://" + e.db
	e.vars["SA01_CRYPTO_FERNET_KEY"] = fernet.GenerateKey().Encode()
	e.vars["HOME"] = dir
	initStore(t, e.getenv)
	return e
}

func (e *auditEnv) getenv(k string) string { return e.vars[k] }

// run runs the CLI with stdin and returns exit code, stdout and stderr.
func (e *auditEnv) run(stdin string, args ...string) (int, string, string) {
	return e.runCtx(context.Background(), stdin, args...)
}

func (e *auditEnv) runCtx(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb, e.getenv)
	return code, out.String(), errb.String()
}

func (e *auditEnv) must(stdin string, args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (e *auditEnv) query(args ...string) []map[string]any {
	e.t.Helper()
	out := e.must("", append([]string{"audit", "query", "--format", "json"}, args...)...)
	var evs []map[string]any
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		e.t.Fatalf("query json: %v\n%s", err, out)
	}
	return evs
}

// sqlExec changes the store behind the CLI's back, as an intruder would.
func (e *auditEnv) sqlExec(q string, args ...any) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		e.t.Fatal(err)
	}
}

func TestAuditQueryTailAndFormats(t *testing.T) {
	e := newAuditEnv(t)
	e.must("v1", "put", "app/a")
	e.must("v2", "put", "app/b")
	e.must("", "get", "app/a")
	if code, _, _ := e.run("", "get", "app/missing"); code != ExitNotFound {
		t.Fatalf("get missing: exit %d", code)
	}

	all := e.query()
	if len(all) < 4 {
		t.Fatalf("%d events, want at least 4", len(all))
	}
	for _, k := range []string{"seq", "time", "service", "actor", "action", "secret", "version", "outcome", "reason", "request_id", "source", "detail", "prev", "hash"} {
		if _, ok := all[0][k]; !ok {
			t.Errorf("json event lacks %q", k)
		}
	}
	reads := e.query("--secret", "app/a", "--action", "read")
	if len(reads) != 1 || reads[0]["outcome"] != "success" || reads[0]["source"] != "local" || reads[0]["actor"] == "" {
		t.Fatalf("reads of app/a: %v", reads)
	}
	failed := e.query("--failed")
	if len(failed) != 1 || failed[0]["secret"] != "app/missing" || failed[0]["reason"] == "" {
		t.Fatalf("failed: %v", failed)
	}
	if got := e.query("--since", "1h", "--secret", "app/b"); len(got) != 1 {
		t.Fatalf("--since 1h: %v", got)
	}
	if got := e.query("--until", "2000-01-01"); len(got) != 0 {
		t.Fatalf("--until 2000: %v", got)
	}
	if got := e.query("--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Fatalf("--since in the future: %v", got)
	}
	if code, _, errs := e.run("", "audit", "query", "--since", "yesterday"); code != ExitUsage || !strings.Contains(errs, "--since") {
		t.Fatalf("bad --since: exit %d %s", code, errs)
	}
	if code, _, _ := e.run("", "audit", "query", "--format", "xml"); code != ExitUsage {
		t.Fatalf("bad --format: exit %d", code)
	}

	rows, err := csv.NewReader(strings.NewReader(e.must("", "audit", "query", "--format", "csv"))).ReadAll()
	if err != nil || len(rows) != len(all)+1 || rows[0][0] != "seq" || rows[0][5] != "secret" {
		t.Fatalf("csv: %v %v", rows, err)
	}
	table := e.must("", "audit", "query", "--secret", "app/a")
	if !strings.HasPrefix(table, "SEQ") || !strings.Contains(table, "app/a") {
		t.Fatalf("table:\n%s", table)
	}

	tail := e.must("", "audit", "tail", "-n", "2", "--format", "jsonl")
	lines := strings.Split(strings.TrimSpace(tail), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"app/missing"`) {
		t.Fatalf("tail -n 2:\n%s", tail)
	}

	// tail -f prints events recorded after it started, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() {
		_, out, _ := e.runCtx(ctx, "", "audit", "tail", "-n", "0", "-f", "--interval", "20ms", "--format", "jsonl")
		done <- out
	}()
	time.Sleep(200 * time.Millisecond)
	e.must("", "get", "app/b")
	deadline := time.Now().Add(10 * time.Second)
	for len(e.query("--secret", "app/b", "--action", "read")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	out := <-done
	if !strings.Contains(out, `"action":"read"`) || !strings.Contains(out, `"secret":"app/b"`) {
		t.Fatalf("tail -f printed:\n%s", out)
	}
}

func TestAuditVerifyNamesTampering(t *testing.T) {
	e := newAuditEnv(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		e.must("v", "put", "app/"+n)
	}
	out := e.must("", "audit", "verify")
	if !strings.Contains(out, "intact: 6 events") { // init's, the seal of states, and four writes
		t.Fatalf("verify: %s", out)
	}

	e.sqlExec(`UPDATE audit_events SET outcome = 'failure' WHERE seq = 3`)
	code, out, _ := e.run("", "audit", "verify")
	if code != ExitCheckFailed || !strings.Contains(out, "edited at seq 3") {
		t.Fatalf("edited: exit %d\n%s", code, out)
	}
	e.sqlExec(`UPDATE audit_events SET outcome = 'success' WHERE seq = 3`)
	e.must("", "audit", "verify")

	e.sqlExec(`DELETE FROM audit_events WHERE seq = 4`)
	code, out, _ = e.run("", "audit", "verify", "--format", "json")
	var res struct {
		OK      bool
		Problem audit.Problem
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != ExitCheckFailed || res.OK || res.Problem.Kind != audit.Deleted || res.Problem.Seq != 4 {
		t.Fatalf("deleted: exit %d %+v %v\n%s", code, res, err, out)
	}
}

func TestAuditVerifyFindsTruncatedTail(t *testing.T) {
	e := newAuditEnv(t)
	for _, n := range []string{"a", "b", "c"} {
		e.must("v", "put", "app/"+n)
	}
	// Each process checkpoints its first batch: removing the last event
	// leaves the chain shorter than its last checkpoint.
	e.sqlExec(`DELETE FROM audit_events WHERE seq = 5`) // init's is seq 1, the seal of states seq 2
	code, out, _ := e.run("", "audit", "verify")
	if code != ExitCheckFailed || !strings.Contains(out, "truncated at seq 5") {
		t.Fatalf("truncated: exit %d\n%s", code, out)
	}
	// A forged checkpoint (the intruder lacks the audit key) is named.
	e.sqlExec(`UPDATE audit_checkpoints SET mac = ?`, strings.Repeat("0", 64))
	code, out, _ = e.run("", "audit", "verify")
	if code != ExitCheckFailed || !strings.Contains(out, "forged") {
		t.Fatalf("forged checkpoint: exit %d\n%s", code, out)
	}
}

func TestAuditFileSinkAndVerifyFile(t *testing.T) {
	e := newAuditEnv(t)
	file := filepath.Join(e.dir, "audit.jsonl")
	e.vars["SA01_SECRETS_AUDIT_FILE"] = file
	e.must("v", "put", "app/a")
	e.must("", "get", "app/a")
	e.must("", "get", "app/a")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 4 { // the seal of states, the put, two gets
		t.Fatalf("%d lines in the audit file, want 4:\n%s", n, data)
	}
	if out := e.must("", "audit", "verify", "--file", file); !strings.Contains(out, "intact: 4 events") {
		t.Fatalf("verify --file: %s", out)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode %o", st.Mode().Perm())
	}
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(file, []byte(lines[0]+lines[2]), 0o600)
	code, out, _ := e.run("", "audit", "verify", "--file", file)
	if code != ExitCheckFailed || !strings.Contains(out, "deleted at seq 2") || !strings.Contains(out, "position 2") {
		t.Fatalf("verify --file of a file with a line removed: exit %d\n%s", code, out)
	}
	if code, _, _ := e.run("", "audit", "verify", "--file", filepath.Join(e.dir, "nope")); code != ExitUsage {
		t.Fatalf("missing file: exit %d", code)
	}
}

// TestAuditHangingSinkRefusesAccess points SA01_AUDIT_FILE at a FIFO whose
// buffer is full: the file sink never answers, and a read is refused within
// the bound with exit 7 instead of hanging.
func TestAuditHangingSinkRefusesAccess(t *testing.T) {
	// The production bound: this test is of the bound itself (not parallel:
	// it changes what every CLI call in the process uses while it runs).
	auditBound = audit.DefaultTimeout
	defer func() { auditBound = testAuditBound }()
	e := newAuditEnv(t)
	e.must("v", "put", "app/a")
	fifo := filepath.Join(e.dir, "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Fill the pipe with raw non-blocking writes (the os package would wait).
	fd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	for {
		if _, err := syscall.Write(fd, make([]byte, 4096)); err != nil {
			break // EAGAIN: the pipe is full
		}
	}
	e.vars["SA01_SECRETS_AUDIT_FILE"] = fifo
	start := time.Now()
	code, out, errs := e.run("", "get", "app/a")
	took := time.Since(start)
	if code != ExitUnavailable {
		t.Fatalf("get with a hanging sink: exit %d\n%s%s", code, out, errs)
	}
	if out != "" {
		t.Fatalf("the value was served although its event was not recorded: %q", out)
	}
	if took > audit.DefaultTimeout+5*time.Second {
		t.Fatalf("took %s", took)
	}
	if !strings.Contains(errs, "could not be recorded") {
		t.Fatalf("stderr: %s", errs)
	}
}

// readAs reads name through the service as a service with a token, the way
// the server does, on the CLI's store.
func (e *auditEnv) readAs(service, name string) error {
	e.t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	ring := mustRing(e.t, e.vars["SA01_CRYPTO_FERNET_KEY"])
	mk, err := audit.LoadKey(ctx, db, ring, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	svc := secrets.New(db, ring, audit.NewBounded(&chainRecorder{audit.NewChain(db, mk)}, 0, nil), time.Now)
	ctx = audit.WithCaller(ctx, audit.Caller{Service: service, Actor: "acc-" + service, Source: "127.0.0.1:40000", RequestID: "req-" + service})
	_, err = svc.Get(ctx, name, 0)
	return err
}

// chainRecorder records one event per batch.
type chainRecorder struct{ c *audit.Chain }

func (r *chainRecorder) Record(ctx context.Context, ev audit.Event) error {
	return r.c.WriteBatch(ctx, []audit.Event{ev})
}

func mustRing(t *testing.T, s string) *fernet.Ring {
	k, err := fernet.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := fernet.NewRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIncidentLifecycle(t *testing.T) {
	e := newAuditEnv(t)
	e.must("tok-v1", "put", "svc/token", "--class", "internal-token")
	for _, s := range []string{"api", "worker"} {
		if err := e.readAs(s, "svc/token"); err != nil {
			t.Fatal(err)
		}
	}
	// api and batch hold tokens; only api read the secret.
	accs := map[string]string{}
	func() {
		db, err := sqlite.Open(context.Background(), e.db)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m := token.NewManager(db, token.Options{})
		for _, s := range []string{"api", "batch"} {
			_, rec, err := m.Issue(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			accs[s] = rec.Accessor
		}
	}()
	out := e.must("", "incident", "open", "svc/token", "--reason", "pasted in chat", "--revoke-tokens", "--format", "json")
	var opened respond.Opened
	if err := json.Unmarshal([]byte(out), &opened); err != nil || !strings.HasPrefix(opened.ID, "INC-") {
		t.Fatalf("open: %v\n%s", err, out)
	}
	if opened.CompromisedVersion != 1 || opened.NewVersion != 2 || opened.NeedsPut || opened.RevokedTokens != 1 ||
		strings.Join(opened.RevokedServices, ",") != "api,worker" {
		t.Fatalf("open: %+v", opened)
	}
	func() {
		db, err := sqlite.Open(context.Background(), e.db)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for s, want := range map[string]bool{"api": true, "batch": false} {
			rec, err := db.TokenByAccessor(context.Background(), accs[s])
			if err != nil || rec.RevokedAt.IsZero() != !want {
				t.Fatalf("token of %s: revoked at %v (%v), want revoked %v", s, rec.RevokedAt, err, want)
			}
		}
	}()
	// The compromised version is never served again; the new one is.
	if code, _, _ := e.run("", "get", "svc/token", "--version", "1"); code == 0 {
		t.Fatal("the compromised version was served")
	}
	if v := e.must("", "get", "svc/token"); v == "" || strings.Contains(v, "tok-v1") {
		t.Fatalf("current value %q", v)
	}
	// The worker picks up the new version; the api does not.
	if err := e.readAs("worker", "svc/token"); err != nil {
		t.Fatal(err)
	}
	if got := e.query("--action", "incident-open"); len(got) != 1 || !strings.Contains(got[0]["detail"].(string), opened.ID) {
		t.Fatalf("incident-open events: %v", got)
	}

	out = e.must("", "incident", "status", opened.ID, "--format", "json")
	var st []respond.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		t.Fatalf("status: %v\n%s", err, out)
	}
	states := map[string]string{}
	for _, s := range st[0].Steps {
		states[s.Name] = s.State
	}
	if states["revoke"] != "met" || states["new-secret"] != "met" || states["audit-logs"] != "due" || states["review"] != "due" {
		t.Fatalf("states after open: %v", states)
	}

	report := e.must("", "incident", "report", opened.ID)
	for _, want := range []string{"# Incident " + opened.ID, "| api |", "| worker |", "Still holding version 1 or older: api.", "pasted in chat"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	out = e.must("", "incident", "status", opened.ID, "--format", "json")
	json.Unmarshal([]byte(out), &st)
	for _, s := range st[0].Steps {
		if (s.Name == "audit-logs" || s.Name == "report") && s.State != "met" {
			t.Fatalf("after the report, %s is %s", s.Name, s.State)
		}
	}
	if got := e.query("--action", "incident-report"); len(got) != 1 {
		t.Fatalf("incident-report events: %v", got)
	}
	var rep incident.Report
	if err := json.Unmarshal([]byte(e.must("", "incident", "report", opened.ID, "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.StillHoldOld) != 1 || rep.StillHoldOld[0] != "api" || len(rep.Accesses) < 4 {
		t.Fatalf("json report: %+v", rep)
	}

	if code, _, _ := e.run("", "incident", "close", opened.ID); code != ExitUsage {
		t.Fatalf("close without --review: exit %d", code)
	}
	e.must("", "incident", "close", opened.ID, "--review", "moved tokens to the vault")
	if code, _, _ := e.run("", "incident", "close", opened.ID, "--review", "again"); code != ExitConflict {
		t.Fatalf("second close: exit %d", code)
	}
	if got := e.query("--action", "incident-close"); len(got) != 1 {
		t.Fatalf("incident-close events: %v", got)
	}
	if out := e.must("", "incident", "status"); !strings.Contains(out, "no open incidents") {
		t.Fatalf("status after close:\n%s", out)
	}
	if code, _, _ := e.run("", "incident", "status", "INC-20990101-000000"); code != ExitNotFound {
		t.Fatalf("unknown incident: exit %d", code)
	}
}

func TestIncidentNeedsPutAndMissedDeadline(t *testing.T) {
	e := newAuditEnv(t)
	e.must("key-v1", "put", "llm/key", "--class", "api-key")
	code, out, errs := e.run("", "incident", "open", "llm/key", "--reason", "leaked")
	if code != 0 || !strings.HasPrefix(out, "INC-") || !strings.Contains(errs, "sa01-secrets put llm/key") {
		t.Fatalf("open: exit %d\n%s%s", code, out, errs)
	}
	id := strings.TrimSpace(out)
	if code, out, _ := e.run("", "incident", "status", id); code != 0 || !strings.Contains(out, "due, 0h59m left") && !strings.Contains(out, "due, 1h00m left") {
		t.Fatalf("fresh status: exit %d\n%s", code, out)
	}
	// Two hours later without a new version: the 1-hour step is missed.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := db.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	inc.OpenedAt = inc.OpenedAt.Add(-2 * time.Hour)
	for i := range inc.Steps {
		inc.Steps[i].Due = inc.Steps[i].Due.Add(-2 * time.Hour)
	}
	if err := db.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, _ = e.run("", "incident", "status", id)
	if code != ExitCheckFailed || !strings.Contains(out, "MISSED, overdue by 1h") {
		t.Fatalf("status 2h in: exit %d\n%s", code, out)
	}
	// A put now marks the step done, late.
	e.must("key-v2", "put", "llm/key")
	code, out, _ = e.run("", "incident", "status", id, "--format", "json")
	if code != ExitCheckFailed || !strings.Contains(out, `"state": "missed"`) {
		t.Fatalf("status after a late put: exit %d\n%s", code, out)
	}
	if code, _, _ := e.run("", "incident", "open", "llm/nope", "--reason", "x"); code != ExitNotFound {
		t.Fatalf("open unknown secret: exit %d", code)
	}
	if code, _, _ := e.run("", "incident", "open", "llm/key"); code != ExitUsage {
		t.Fatalf("open without reason: exit %d", code)
	}
}
