package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// cliWith runs the CLI with env, as a user's shell would.
func cliWith(env map[string]string) func(stdin string, args ...string) runResult {
	return func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
}

// TestLifecycleVerbsThroughServer: with SA01_SECRETS_ADDR set, history,
// rollback, destroy, delete, list --deleted, undelete and import run on the
// server under the caller's identity (admin may, the gateway service may
// not), and leave no local store behind.
func TestLifecycleVerbsThroughServer(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	home := filepath.Join(dir, "home")
	env["HOME"] = home
	cli := cliWith(env)
	for _, v := range []string{"one", "two"} {
		if r := cli(v, "put", "app/x"); r.code != 0 {
			t.Fatalf("put: %d %s", r.code, r.stderr)
		}
	}
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	dsn := env["SA01_SECRETS_DB_DSN"]
	delete(env, "SA01_SECRETS_DB_DSN") // the verbs must not need the store
	defer func() { env["SA01_SECRETS_DB_DSN"] = dsn }()

	want := func(r runResult, code int, what string) runResult {
		t.Helper()
		if r.code != code {
			t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
		}
		return r
	}
	want(cli("", "history", "app/x"), 0, "history")
	if r := want(cli("", "rollback", "app/x", "--to", "1", "--cas", "2"), 0, "rollback"); !strings.Contains(r.stdout, "version 3") {
		t.Fatalf("rollback printed %q", r.stdout)
	}
	if r := want(cli("", "get", "app/x"), 0, "get"); r.stdout != "one" && r.stdout != "one\n" {
		t.Fatalf("after rollback: %q", r.stdout)
	}
	want(cli("", "rollback", "app/x", "--to", "1", "--cas", "2"), ExitConflict, "rollback with a stale --cas")
	want(cli("", "destroy", "app/x", "--version", "2"), 0, "destroy")
	want(cli("", "get", "app/x", "--version", "2"), ExitNotFound, "get a destroyed version")
	if r := want(cli("", "history", "app/x", "--format", "json"), 0, "history json"); !strings.Contains(r.stdout, "destroyed_at") {
		t.Fatalf("history does not show the destroyed version: %s", r.stdout)
	}
	want(cli("", "delete", "app/x"), 0, "delete")
	if r := want(cli("", "list", "--deleted"), 0, "list --deleted"); !strings.Contains(r.stdout, "app/x (deleted)") {
		t.Fatalf("list --deleted: %s", r.stdout)
	}
	if r := want(cli("", "list"), 0, "list"); strings.Contains(r.stdout, "app/x") {
		t.Fatalf("list shows a deleted secret: %s", r.stdout)
	}
	want(cli("", "undelete", "app/x"), 0, "undelete")
	dotenvFile := filepath.Join(dir, "in.env")
	if err := os.WriteFile(dotenvFile, []byte("A=alpha\nB=beta\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := want(cli("", "import", "--from-dotenv", dotenvFile, "--prefix", "imp/"), 0, "import"); !strings.Contains(r.stdout, "imported 2") {
		t.Fatalf("import printed %q", r.stdout)
	}
	if r := want(cli("", "get", "imp/B"), 0, "get an imported secret"); !strings.HasPrefix(r.stdout, "beta") {
		t.Fatalf("imported value: %q", r.stdout)
	}

	// the gateway service may read llm/* only: every lifecycle verb is refused
	env["SA01_SECRETS_CREDENTIAL_FILE"] = filepath.Join(dir, "gateway.credential")
	for _, args := range [][]string{
		{"rollback", "app/x", "--to", "1"}, {"destroy", "app/x", "--version", "1"}, {"undelete", "app/x"},
		{"import", "--from-dotenv", dotenvFile, "--prefix", "imp/"},
	} {
		want(cli("", args...), ExitDenied, strings.Join(args, " ")+" by the gateway")
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "sa01-secrets", "secrets.db")); err == nil {
		t.Fatal("a verb through the server made a local store")
	}
}

// TestExitCodesAgreeLocalAndServer: the same failure exits with the same
// code on the local store and through the server: a compromised version
// (6), a destroyed one (4), an invalid input (2); and rotate of a class it
// generates works through the server as it does locally.
func TestExitCodesAgreeLocalAndServer(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	cli := cliWith(env)
	for _, c := range []struct{ name, class, value string }{
		{"llm/openai_api_key", "api-key", "sk-CANARY"},
		{"db/gateway/fernet_key", "encryption-key", fernet.GenerateKey().Encode()},
		{"platform/internal_token", "internal-token", "tok-CANARY-0123456789abcdef"},
		{"app/y", "config", "v1"},
	} {
		if r := cli(c.value, "put", c.name, "--class", c.class); r.code != 0 {
			t.Fatalf("put %s: %d %s", c.name, r.code, r.stderr)
		}
	}
	if r := cli("v2", "put", "app/y"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli("", "destroy", "app/y", "--version", "1"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli("", "incident", "open", "llm/openai_api_key", "--reason", "leaked in a ticket"); r.code != 0 {
		t.Fatalf("incident open: %d %s", r.code, r.stderr)
	}
	cases := []struct {
		args  []string
		stdin string
		code  int
	}{
		{[]string{"get", "llm/openai_api_key"}, "", ExitDenied},
		{[]string{"get", "app/y", "--version", "1"}, "", ExitNotFound},
		{[]string{"put", "app/y"}, "", ExitUsage},
		{[]string{"put", "app/y", "--class", "nope"}, "v", ExitUsage},
		{[]string{"rollback", "app/y", "--to", "9"}, "", ExitNotFound},
	}
	local := map[string]runResult{}
	for _, c := range cases {
		r := cli(c.stdin, c.args...)
		if r.code != c.code {
			t.Fatalf("local %v: exit %d, want %d: %s", c.args, r.code, c.code, r.stderr)
		}
		local[strings.Join(c.args, " ")] = r
	}
	// rotate of the generated classes, locally
	for _, name := range []string{"db/gateway/fernet_key", "platform/internal_token"} {
		if r := cli("", "rotate", name); r.code != 0 || !strings.Contains(r.stdout, "generated") {
			t.Fatalf("local rotate %s: %d %s %s", name, r.code, r.stdout, r.stderr)
		}
	}

	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	for _, c := range cases {
		r := cli(c.stdin, c.args...)
		l := local[strings.Join(c.args, " ")]
		if r.code != c.code {
			t.Errorf("through the server %v: exit %d, want %d as locally\nlocal: %s\nserver: %s", c.args, r.code, c.code, l.stderr, r.stderr)
		}
		if c.code == ExitDenied && (!strings.Contains(r.stderr, "compromised") || hintOf(r.stderr) != hintOf(l.stderr) ||
			!strings.Contains(l.stderr, "llm/openai_api_key version 1") || !strings.Contains(r.stderr, "llm/openai_api_key version 1")) {
			t.Errorf("compromised through the server says %q, locally %q", r.stderr, l.stderr)
		}
	}
	for _, name := range []string{"db/gateway/fernet_key", "platform/internal_token"} {
		r := cli("", "rotate", name)
		if r.code != 0 || !strings.Contains(r.stdout, "version 3 generated") {
			t.Fatalf("rotate %s through the server: %d %s %s", name, r.code, r.stdout, r.stderr)
		}
	}
	if r := cli("", "get", "db/gateway/fernet_key"); r.code != 0 {
		t.Fatalf("get the rotated key: %d %s", r.code, r.stderr)
	} else if _, err := fernet.ParseKey(strings.TrimSpace(r.stdout)); err != nil {
		t.Fatalf("the rotated value is not a Fernet key: %v", err)
	}
}

// hintOf returns the hint line of a CLI error output.
func hintOf(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "hint: ") {
			return l
		}
	}
	return ""
}
