package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// notText is a value that is not UTF-8 text, as printf 'ab\377\376cd'
// writes it.
const notText = "ab\xff\xfecd"

// localValuesEnv is a local store, initialised, and a cli over it.
func localValuesEnv(t *testing.T) (map[string]string, func(stdin string, args ...string) runResult) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(),
		"SA01_SECRETS_DB_DSN":    "sqlite://" + filepath.Join(dir, "s.db"),
		"HOME":                   dir,
	}
	initStore(t, func(k string) string { return env[k] })
	return env, func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
}

// wantRefused checks a refusal: exit code 2, the secret named, a hint,
// never the value.
func wantRefused(t *testing.T, what string, r runResult, name, hint string) {
	t.Helper()
	if r.code != ExitUsage || !strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, hint) || r.stdout != "" {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d naming %s with a hint (%s)", what, r.code, r.stdout, r.stderr, ExitUsage, name, hint)
	}
	if strings.Contains(r.stderr, "ab\xff") || strings.Contains(r.stderr, "CANARY") {
		t.Errorf("%s: the error holds the value: %q", what, r.stderr)
	}
}

// TestLocalPutRefusesValueNotText: a local put stored a value that is
// not UTF-8 text, which every reader through the server then changed.
// put and import refuse it now, naming the secret, with a hint to
// encode it, and store nothing.
func TestLocalPutRefusesValueNotText(t *testing.T) {
	_, cli := localValuesEnv(t)
	wantRefused(t, "put", cli(notText, "put", "demo/bin"), "demo/bin", "base64")
	if r := cli("", "get", "demo/bin"); r.code != ExitNotFound {
		t.Fatalf("a refused put stored something: %d %q %s", r.code, r.stdout, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "in.env")
	if err := os.WriteFile(file, []byte("OK=fine\nBIN=\""+notText+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli("", "import", "--from-dotenv", file, "--prefix", "app/")
	wantRefused(t, "import", r, "app/BIN", "base64")
	if !strings.Contains(r.stderr, "line 2") {
		t.Errorf("import: the line is not named: %s", r.stderr)
	}
	if r := cli("", "get", "app/OK"); r.code != ExitNotFound {
		t.Fatalf("a refused import stored something: %d %s", r.code, r.stderr)
	}
}

// plantLocal stores value as a new version of name in the local store of
// env, as a put of an older version did.
func plantLocal(t *testing.T, env map[string]string, name, value string) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), strings.TrimPrefix(env["SA01_SECRETS_DB_DSN"], "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, err := fernet.ParseKey(env["SA01_CRYPTO_FERNET_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "legacy", Source: "local"})
	_, _, err = db.Put(ctx, store.Write{Name: name, Actor: "legacy", Now: time.Now(),
		Seal: func(v int) (store.Sealed, error) {
			tok := string(k.Encrypt([]byte(value)))
			return store.Sealed{Token: tok, KeyID: k.ID(), Binding: secrets.Bind(k, name, v, k.ID(), tok)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLocalReadsOfValueNotText: a version stored as other bytes by an
// older version comes back byte for byte from a local get; get and
// export --format json, which would write U+FFFD, refuse it by name.
func TestLocalReadsOfValueNotText(t *testing.T) {
	env, cli := localValuesEnv(t)
	plantLocal(t, env, "demo/bin", notText)
	if r := cli("", "get", "demo/bin"); r.code != 0 || r.stdout != notText {
		t.Fatalf("local get: %d %q %s; want the stored bytes", r.code, r.stdout, r.stderr)
	}
	wantRefused(t, "get --format json", cli("", "get", "demo/bin", "--format", "json"), "demo/bin", "byte for byte")
	wantRefused(t, "export --format json", cli("", "export", "--prefix", "demo/", "--format", "json"), "demo/bin", "byte for byte")
}

// TestExportRefusesNULAsRunDoes: run refused a value holding a NUL byte,
// but export --format dotenv|env wrote it raw into the file. Both refuse
// it now, naming the secret and its variable, and write no file.
func TestExportRefusesNULAsRunDoes(t *testing.T) {
	_, cli := localValuesEnv(t)
	if r := cli("sk-CANARY\x00tail", "put", "app/nul"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	for _, format := range []string{"dotenv", "env"} {
		out := filepath.Join(t.TempDir(), "out."+format)
		r := cli("", "export", "--prefix", "app/", "--format", format, "--output", out)
		wantRefused(t, "export --format "+format, r, "app/nul (NUL)", "NUL")
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("export --format %s wrote its file: %v", format, err)
		}
	}
	if r := cli("", "export", "--prefix", "app/", "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, `"sk-CANARY\u0000tail"`) {
		t.Fatalf("export --format json: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestRemoteValuesAreText: through the server, put sent a value that is
// not UTF-8 text as JSON with U+FFFD in place of its bytes, and a value
// stored so came back changed from get, run and export --service. put
// refuses it now before sending, and the reads refuse it by name with
// the way to read it byte for byte.
func TestRemoteValuesAreText(t *testing.T) {
	srv, err := servertest.Start("services:\n  gateway: {read: [\"llm/*\"], write: [\"llm/*\"]}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv("SA01_SECRETS_ADDR", srv.URL)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "gateway"))
	var out, errb lockedBuffer
	code := run(context.Background(), []string{"put", "llm/bin"}, strings.NewReader(notText), &out, &errb, os.Getenv)
	wantRefused(t, "put through the server", runResult{code, out.String(), errb.String()}, "llm/bin", "base64")
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "test", Source: "local"})
	if _, err := srv.Secrets.Get(ctx, "llm/bin", 0); err == nil {
		t.Fatal("a refused put was stored")
	}
	if err := srv.Plant("llm/bin", "", "sk-CANARY\xff\xfe"); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "get through the server", runCLI(t, "get", "llm/bin"), "llm/bin", "byte for byte")
	wantRefused(t, "export --service", runCLI(t, "export", "--service", "gateway", "--format", "dotenv"), "llm/bin", "byte for byte")
	wantRefused(t, "run", runCLI(t, "run", "--service", "gateway", "--", "true"), "llm/bin", "byte for byte")
}
