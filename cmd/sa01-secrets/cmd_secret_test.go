package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// cliEnv is a test environment: a key, and HOME in a temporary directory
// so the default store lives there.
type cliEnv map[string]string

// newCLIEnv is a fresh HOME with a key and the default store, made by
// init.
func newCLIEnv(t *testing.T) cliEnv {
	home := t.TempDir()
	e := cliEnv{"HOME": home, "SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode()}
	initStore(t, func(k string) string { return e[k] })
	return e
}

// inited runs init on e's store and returns e.
func (e cliEnv) inited(t *testing.T) cliEnv {
	t.Helper()
	initStore(t, func(k string) string { return e[k] })
	return e
}

func (e cliEnv) with(kv ...string) cliEnv {
	out := cliEnv{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

func (e cliEnv) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return e[k] })
	return result{code, out.String(), errb.String()}
}

func (e cliEnv) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := e.run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

func (e cliEnv) fails(t *testing.T, code int, stdin string, args ...string) result {
	t.Helper()
	r := e.run(t, stdin, args...)
	if r.code != code {
		t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "sa01-secrets: ") {
		t.Errorf("%v: stderr %q does not start with 'sa01-secrets: '", args, r.stderr)
	}
	return r
}

func TestPutGetCLI(t *testing.T) {
	e := newCLIEnv(t)
	if out := e.ok(t, "sk-1\n", "put", "llm/openai_api_key", "--class", "api-key", "--description", "OpenAI"); out != "llm/openai_api_key: version 1\n" {
		t.Errorf("put printed %q", out)
	}
	// the value is exact: the newline is kept
	if out := e.ok(t, "", "get", "llm/openai_api_key"); out != "sk-1\n" {
		t.Errorf("get = %q", out)
	}
	e.ok(t, "sk-2", "put", "llm/openai_api_key")
	var j map[string]any
	if err := json.Unmarshal([]byte(e.ok(t, "", "get", "llm/openai_api_key", "--version", "1", "--format", "json")), &j); err != nil {
		t.Fatal(err)
	}
	if j["value"] != "sk-1\n" || j["version"] != float64(1) || j["class"] != "api-key" || j["name"] != "llm/openai_api_key" {
		t.Errorf("get json = %v", j)
	}
	// the default store is under $HOME/.local/share, 0600 in a 0700 directory
	path := filepath.Join(e["HOME"], ".local", "share", "sa01-secrets", "secrets.db")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("default store %s: %v %v", path, fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("store directory mode %o", di.Mode().Perm())
	}
	// --from-file
	f := filepath.Join(t.TempDir(), "v")
	os.WriteFile(f, []byte("from-file"), 0o600)
	e.ok(t, "", "put", "x/file", "--from-file", f)
	if out := e.ok(t, "", "get", "x/file"); out != "from-file" {
		t.Errorf("get after --from-file = %q", out)
	}
}

func TestStoreLocation(t *testing.T) {
	e := newCLIEnv(t)
	xdg := t.TempDir()
	e.with("XDG_DATA_HOME", xdg).inited(t).ok(t, "v", "put", "a")
	if _, err := os.Stat(filepath.Join(xdg, "sa01-secrets", "secrets.db")); err != nil {
		t.Errorf("XDG_DATA_HOME store: %v", err)
	}
	p := filepath.Join(t.TempDir(), "deep", "s.db")
	e.with("SA01_SECRETS_DB_DSN", "sqlite://"+p).inited(t).ok(t, "v", "put", "a")
	if _, err := os.Stat(p); err != nil {
		t.Errorf("sqlite:// store: %v", err)
	}
	r := e.with("SA01_SECRETS_DB_DSN", "sqlite://rel/s.db").fails(t, ExitUsage, "", "list")
	if !strings.Contains(r.stderr, "absolute") {
		t.Errorf("relative sqlite path: %s", r.stderr)
	}
	e.with("SA01_SECRETS_DB_DSN", "mysql://x").fails(t, ExitUsage, "", "list")
}

func TestValueAsArgumentRefused(t *testing.T) {
	e := newCLIEnv(t)
	r := e.fails(t, ExitUsage, "", "put", "a", "hunter2")
	if !strings.Contains(r.stderr, "hint:") || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr %q", r.stderr)
	}
	e.fails(t, ExitNotFound, "", "get", "a")
}

func TestBadInputCLI(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "v1", "put", "ok")
	big := strings.Repeat("x", secrets.MaxValueSize+1)
	cases := []struct {
		name, stdin string
		args        []string
		code        int
	}{
		{"bad name", "v", []string{"put", "a b"}, ExitUsage},
		{"bad name get", "", []string{"get", "../x"}, ExitUsage},
		{"empty value", "", []string{"put", "ok"}, ExitUsage},
		{"oversize value", big, []string{"put", "ok"}, ExitUsage},
		{"bad class", "v", []string{"put", "ok", "--class", "nope"}, ExitUsage},
		{"bad format", "", []string{"get", "ok", "--format", "xml"}, ExitUsage},
		{"bad period", "v", []string{"put", "ok", "--rotation-period", "soon"}, ExitUsage},
		{"missing name", "", []string{"get"}, ExitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.fails(t, tc.code, tc.stdin, tc.args...)
			if len(tc.stdin) > 1 && strings.Contains(r.stderr, tc.stdin) {
				t.Error("stderr repeats the value")
			}
		})
	}
	if out := e.ok(t, "", "history", "ok", "--format", "json"); strings.Count(out, `"version"`) != 1 {
		t.Errorf("bad input changed the store: %s", out)
	}
}

func TestNoKeyCLI(t *testing.T) {
	e := newCLIEnv(t).with("SA01_CRYPTO_FERNET_KEY", "")
	r := e.fails(t, ExitUsage, "v", "put", "a")
	if !strings.Contains(r.stderr, "generate key") {
		t.Errorf("no hint to generate a key: %s", r.stderr)
	}
}

func TestListHistoryCLI(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "SECRET-A", "put", "app/a", "--class", "encryption-key")
	e.ok(t, "SECRET-B", "put", "app/b")
	e.ok(t, "SECRET-B2", "put", "app/b")
	e.ok(t, "SECRET-C", "put", "db/c")
	table := e.ok(t, "", "list")
	for _, want := range []string{"NAME", "app/a", "encryption-key", "app/b", "db/c"} {
		if !strings.Contains(table, want) {
			t.Errorf("list table lacks %q:\n%s", want, table)
		}
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.ok(t, "", "list", "--prefix", "app/", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["name"] != "app/a" || list[0]["rotation_period"] != "90d" || list[0]["rotation_due"] == nil || list[1]["version"] != float64(2) {
		t.Errorf("list json = %v", list)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(e.ok(t, "", "history", "app/b", "--format", "json")), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0]["version"] != float64(1) || hist[1]["version"] != float64(2) || hist[1]["current"] != true {
		t.Errorf("history json = %v", hist)
	}
	all := table + e.ok(t, "", "list", "--format", "json") + e.ok(t, "", "history", "app/b")
	if strings.Contains(all, "SECRET-") {
		t.Error("list or history printed a value")
	}
}

func TestLifecycleCLI(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "one", "put", "x")
	e.ok(t, "two", "put", "x")
	r := e.fails(t, ExitConflict, "three", "put", "x", "--cas", "1")
	if !strings.Contains(r.stderr, "version 2") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("conflict message: %s", r.stderr)
	}
	e.ok(t, "three", "put", "x", "--cas", "2")
	e.fails(t, ExitConflict, "v", "put", "x", "--cas", "0")
	e.ok(t, "new", "put", "y", "--cas", "0")
	e.ok(t, "", "rollback", "x", "--to", "1")
	if out := e.ok(t, "", "get", "x"); out != "one" {
		t.Errorf("after rollback: %q", out)
	}
	e.ok(t, "", "delete", "x")
	r = e.fails(t, ExitNotFound, "", "get", "x")
	if !strings.Contains(r.stderr, "undelete") {
		t.Errorf("deleted hint: %s", r.stderr)
	}
	e.ok(t, "", "undelete", "x")
	e.ok(t, "", "destroy", "x", "--version", "2")
	e.fails(t, ExitNotFound, "", "get", "x", "--version", "2")
	e.fails(t, ExitNotFound, "", "get", "nope")
	e.fails(t, ExitNotFound, "", "destroy", "x", "--version", "9")
	e.fails(t, ExitUsage, "", "destroy", "x")
	e.fails(t, ExitUsage, "", "rollback", "x")
	if out := e.ok(t, "", "get", "x", "--version", "3"); out != "three" {
		t.Errorf("v3 = %q", out)
	}
}

func TestWrongKeyCLI(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "v", "put", "a")
	other := fernet.GenerateKey()
	old, _ := fernet.ParseKey(e["SA01_CRYPTO_FERNET_KEY"])
	r := e.with("SA01_CRYPTO_FERNET_KEY", other.Encode()).fails(t, ExitInvalidToken, "", "get", "a")
	// A key that is not the store's: load the store's key in its place.
	if !strings.Contains(r.stderr, old.ID()) || !strings.Contains(r.stderr, other.ID()) || !strings.Contains(r.stderr, "load it as SA01_CRYPTO_FERNET_KEY") {
		t.Errorf("wrong key message: %s", r.stderr)
	}
	if out := e.with("SA01_CRYPTO_FERNET_KEY", other.Encode(), "SA01_CRYPTO_FERNET_PREVIOUS_KEYS", e["SA01_CRYPTO_FERNET_KEY"]).ok(t, "", "get", "a"); out != "v" {
		t.Errorf("with the previous key: %q", out)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	e := newCLIEnv(t).with("SA01_SECRETS_DB_DSN", "postgres://svc:hunter2@127.0.0.1:1/db?connect_timeout=2")
	r := e.fails(t, ExitUnavailable, "", "list")
	if strings.Contains(r.stderr, "hunter2") || !strings.Contains(r.stderr, "postgres://svc:****@127.0.0.1:1/db") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestStoreNotWritable(t *testing.T) {
	e := newCLIEnv(t)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	r := e.with("SA01_SECRETS_DB_DSN", "sqlite://"+file+"/secrets.db").fails(t, ExitUnavailable, "v", "put", "a")
	if !strings.Contains(r.stderr, "not writable") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestNewerStoreRefused(t *testing.T) {
	e := newCLIEnv(t)
	p := filepath.Join(t.TempDir(), "s.db")
	e = e.with("SA01_SECRETS_DB_DSN", "sqlite://"+p).inited(t)
	e.ok(t, "v", "put", "a")
	db, err := sqlite.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// simulate a newer binary's migration
	markNewer(t, p)
	r := e.fails(t, ExitUnavailable, "", "get", "a")
	if !strings.Contains(r.stderr, "newer") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestImportExportCLI(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte("# app\nOPENAI_API_KEY=sk-abc\nexport DB_DSN='postgres://u:p@h/db'\nMULTI=\"a\\nb\"\n"), 0o600)
	if out := e.ok(t, "", "import", "--from-dotenv", env, "--prefix", "app/"); out != "imported 3 secrets\n" {
		t.Errorf("import printed %q", out)
	}
	if out := e.ok(t, "", "get", "app/MULTI"); out != "a\nb" {
		t.Errorf("MULTI = %q", out)
	}
	dotenv := e.ok(t, "", "export", "--prefix", "app/", "--format", "dotenv")
	want := "DB_DSN=\"postgres://u:p@h/db\"\nMULTI=\"a\\nb\"\nOPENAI_API_KEY=\"sk-abc\"\n"
	if dotenv != want {
		t.Errorf("export dotenv =\n%s\nwant\n%s", dotenv, want)
	}
	if out := e.ok(t, "", "export", "--prefix", "app/", "--format", "env"); !strings.Contains(out, "export DB_DSN='postgres://u:p@h/db'\n") {
		t.Errorf("export env = %s", out)
	}
	var j map[string]string
	json.Unmarshal([]byte(e.ok(t, "", "export", "--format", "json")), &j)
	if j["app/OPENAI_API_KEY"] != "sk-abc" || len(j) != 3 {
		t.Errorf("export json = %v", j)
	}
	out := filepath.Join(dir, "out.env")
	os.WriteFile(out, []byte("old"), 0o644)
	e.ok(t, "", "export", "--prefix", "app/", "--format", "dotenv", "--output", out)
	fi, _ := os.Stat(out)
	b, _ := os.ReadFile(out)
	if fi.Mode().Perm() != 0o600 || string(b) != want {
		t.Errorf("--output: mode %o, content %q", fi.Mode().Perm(), b)
	}
	// a broken file imports nothing and names the line
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("A=1\nB\n"), 0o600)
	r := e.fails(t, ExitUsage, "", "import", "--from-dotenv", bad, "--prefix", "bad/")
	if !strings.Contains(r.stderr, "line 2") {
		t.Errorf("stderr %q", r.stderr)
	}
	if l := e.ok(t, "", "list", "--prefix", "bad/", "--format", "json"); strings.TrimSpace(l) != "[]" {
		t.Errorf("partial import: %s", l)
	}
	e.fails(t, ExitUsage, "", "export")
}

// TestExportDotenvRunsNothing: a value holding command substitutions and
// variables, exported as dotenv and sourced by a shell, runs nothing and
// arrives exactly.
func TestExportDotenvRunsNothing(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	e := newCLIEnv(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	value := "`touch " + marker + "`$(touch " + marker + ")$HOME"
	e.ok(t, value, "put", "app/token")
	out := filepath.Join(dir, "app.env")
	e.ok(t, "", "export", "--prefix", "app/", "--format", "dotenv", "--output", out)
	got, err := exec.Command(sh, "-c", ". "+out+"; printf %s \"$TOKEN\"").Output()
	if err != nil {
		t.Fatalf("sourcing the export: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("sourcing the exported file ran a command")
	}
	if string(got) != value {
		t.Fatalf("sourced value %q, want %q", got, value)
	}
}

// TestExportPrefixLeavesNoName: a prefix that is a secret's whole name
// leaves it no variable name; export refuses rather than write "=value".
func TestExportPrefixLeavesNoName(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "v", "put", "app/x")
	for _, format := range []string{"dotenv", "env"} {
		r := e.fails(t, ExitUsage, "", "export", "--prefix", "app/x", "--format", format)
		if r.stdout != "" || !strings.Contains(r.stderr, "leaves no variable name") {
			t.Errorf("%s: stdout %q, stderr %q", format, r.stdout, r.stderr)
		}
	}
	if out := e.ok(t, "", "export", "--prefix", "app/", "--format", "dotenv"); out != "X=\"v\"\n" {
		t.Errorf("export = %q", out)
	}
}

func TestVerifyCLI(t *testing.T) {
	e := newCLIEnv(t)
	p := filepath.Join(t.TempDir(), "s.db")
	e = e.with("SA01_SECRETS_DB_DSN", "sqlite://"+p).inited(t)
	e.ok(t, "VALUE-1", "put", "a")
	e.ok(t, "VALUE-2", "put", "b")
	out := e.ok(t, "", "verify")
	if !strings.Contains(out, "passed: 2") || !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
	// swap b's token onto a
	db, err := sqlite.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	_, va, _ := db.Get(context.Background(), "a", 0)
	_, vb, _ := db.Get(context.Background(), "b", 0)
	db.UpdateToken(context.Background(), va.ID, va.Token, store.Sealed{Token: vb.Token, KeyID: vb.KeyID, Binding: vb.Binding})
	db.Close()
	r := e.run(t, "", "verify", "--format", "json")
	if r.code != ExitCheckFailed {
		t.Fatalf("verify of a tampered store: exit %d\n%s", r.code, r.stderr)
	}
	var rep secrets.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Failed != 1 || rep.Failures[0].Name != "a" || rep.Failures[0].Version != 1 || len(rep.Keys) != 1 || rep.Keys[0].Versions != 2 {
		t.Errorf("report %+v", rep)
	}
	if strings.Contains(r.stdout+r.stderr, "VALUE-") {
		t.Error("verify printed a value")
	}
	r = e.fails(t, ExitInvalidToken, "", "get", "a")
	if !strings.Contains(r.stderr, "secret a version 1") || !strings.Contains(r.stderr, "row binding") {
		t.Errorf("swapped token message: %s", r.stderr)
	}
	// without the store's key, verify is refused: the audit key, which
	// its event needs, opens under the store's keys only
	e2 := e.with("SA01_CRYPTO_FERNET_KEY", fernet.GenerateKey().Encode())
	if r := e2.run(t, "", "verify"); r.code != ExitInvalidToken || !strings.Contains(r.stderr, "audit key") {
		t.Errorf("verify without the key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
