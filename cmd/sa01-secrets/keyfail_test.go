package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
)

// keyFailure checks a refused verb: its exit code, that its message holds
// every string of msg and its hint line every string of hint, and that
// the secret's value appears nowhere.
func keyFailure(t *testing.T, what string, r runResult, code int, value string, msg, hint []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	text, hintLine, _ := strings.Cut(r.stderr, "\nhint: ")
	if !strings.HasPrefix(text, "sa01-secrets: ") || strings.Count(text, "sa01-secrets: ") != 1 {
		t.Errorf("%s: stderr does not start with 'sa01-secrets: ' once: %q", what, r.stderr)
	}
	for _, s := range msg {
		if !strings.Contains(text, s) {
			t.Errorf("%s: message %q does not say %q", what, text, s)
		}
	}
	if hintLine == "" {
		t.Errorf("%s: no hint: %q", what, r.stderr)
	}
	for _, s := range hint {
		if !strings.Contains(hintLine, s) {
			t.Errorf("%s: hint %q does not say %q", what, hintLine, s)
		}
	}
	if strings.Contains(r.stdout+r.stderr, value) {
		t.Errorf("%s: the value is in the output", what)
	}
}

// clientEnv is the environment of a CLI that talks to the server at addr
// with the credential cred, and has no store or key of its own.
func clientEnv(home, addr, cred string) map[string]string {
	return map[string]string{"HOME": home, config.EnvSecretsAddr: addr, config.EnvCredentialFile: cred}
}

// TestKeyNotLoadedCLI: a rotation's old key dropped from the ring before
// reencrypt moved its versions. Reading such a version exits 3 and names
// the secret, the version and the key it needs, with a hint saying where
// that key goes; on the local store and through a server that runs
// without the key alike.
func TestKeyNotLoadedCLI(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	cli := cliWith(env)
	const value = "sk-CANARY-not-loaded-7f3a"
	if r := cli(value, "put", "app/x"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	old, err := fernet.ParseKey(env[config.EnvFernetKey])
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "node.env")
	if err := os.WriteFile(envFile, []byte(config.EnvFernetKey+"="+old.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"key", "stage", "--env-file", envFile}, {"key", "promote", "--env-file", envFile}, {"key", "list", "--env-file", envFile}} {
		if r := cli("", args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	ring, err := rotate.ReadEnvRing(envFile)
	if err != nil {
		t.Fatal(err)
	}
	// The new key alone: app/x version 1 is still under the old one.
	env[config.EnvFernetKey] = ring.Primary().Encode()
	msg := []string{"app/x version 1", "key " + old.ID(), "not loaded"}
	r := cli("", "get", "app/x")
	keyFailure(t, "get on the local store", r, ExitInvalidToken, value, msg,
		[]string{"add the key with ID " + old.ID() + " to " + config.EnvFernetPreviousKeys})

	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	remote := cliWith(clientEnv(dir, s.addr, admin))
	// The server says so at start, before any read meets it.
	if log := s.stderr.String(); !strings.Contains(log, "1 versions use key "+old.ID()+", which is not loaded") || !strings.Contains(log, "key_not_loaded") {
		t.Errorf("serve did not warn of the key it lacks:\n%s", log)
	}
	for _, args := range [][]string{{"get", "app/x"}, {"get", "app/x", "--version", "1"}, {"export", "--format", "env"}} {
		r = remote("", args...)
		keyFailure(t, strings.Join(args, " ")+" through the server", r, ExitInvalidToken, value, append(msg, "key_not_loaded"),
			[]string{"the server", config.EnvFernetPreviousKeys, "restart"})
	}
	// Nothing changed: with both keys the version reads as it was.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	env[config.EnvFernetPreviousKeys] = old.Encode()
	if r := cli("", "get", "app/x"); r.code != 0 || r.stdout != value {
		t.Fatalf("get with both keys: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestKeyNotExpectedCLI: a key generated afresh loaded as the primary (the
// store's key kept among the previous keys, so reads work): writes are
// refused with exit 3, naming both keys by ID, with a hint saying which key
// to load; on the local store and through a server started so; nothing is
// written.
func TestKeyNotExpectedCLI(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	const value = "sk-CANARY-not-expected-91c2"
	if r := cliWith(env)(value, "put", "app/x"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	storeKey, err := fernet.ParseKey(env[config.EnvFernetKey])
	if err != nil {
		t.Fatal(err)
	}
	fresh := fernet.GenerateKey()
	wrong := maps.Clone(env)
	wrong[config.EnvFernetKey] = fresh.Encode()
	wrong[config.EnvFernetPreviousKeys] = storeKey.Encode()
	cli := cliWith(wrong)
	const newValue = "sk-CANARY-refused-0b7d"
	msg := []string{"writes refused", "key " + fresh.ID(), "expects key " + storeKey.ID()}
	for _, args := range [][]string{{"put", "app/x"}, {"put", "app/new"}, {"rotate", "app/x"}} {
		keyFailure(t, strings.Join(args, " ")+" on the local store", cli(newValue, args...), ExitInvalidToken, newValue, msg,
			[]string{"load key " + storeKey.ID() + " as " + config.EnvFernetKey, "key rotate"})
	}

	dotenvFile := filepath.Join(dir, "in.env")
	if err := os.WriteFile(dotenvFile, []byte("NEW="+newValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, wrong, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	remote := cliWith(clientEnv(dir, s.addr, admin))
	if log := s.stderr.String(); !strings.Contains(log, "writes refused: the loaded key "+fresh.ID()) || !strings.Contains(log, "key_not_expected") {
		t.Errorf("serve did not warn that writes will be refused:\n%s", log)
	}
	for _, args := range [][]string{{"put", "app/x"}, {"put", "app/new"}, {"rotate", "app/x"}, {"import", "--from-dotenv", dotenvFile, "--prefix", "app/"}} {
		keyFailure(t, strings.Join(args, " ")+" through the server", remote(newValue, args...), ExitInvalidToken, newValue,
			append(msg, "key_not_expected"), []string{"the server", "store's key", "restart"})
	}
	if r := remote("", "get", "app/x"); r.code != 0 || r.stdout != value {
		t.Fatalf("get through the server: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// Nothing was written: one version of app/x, no app/new, nothing imported.
	cli = cliWith(env)
	if r := cli("", "history", "app/x", "--format", "json"); r.code != 0 || strings.Count(r.stdout, `"version"`) != 1 {
		t.Fatalf("history after refused writes: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"app/new", "app/NEW"} {
		if r := cli("", "get", name); r.code != ExitNotFound {
			t.Fatalf("get %s: %d %s", name, r.code, r.stderr)
		}
	}
}

// TestWrongKeyHint: a store opened with keys none of which opens it. A key
// that is not the store's (generated afresh) is told to load the store's
// key as the primary, by ID; a rotation's new key alone, its old key
// dropped before any process opened the store with both, is told to add
// the old key to the previous keys. Both exit 3 and write nothing.
func TestWrongKeyHint(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	env["HOME"] = dir
	const value = "sk-CANARY-wrong-key-5d1e"
	if r := cliWith(env)(value, "put", "app/x"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	storeKey, err := fernet.ParseKey(env[config.EnvFernetKey])
	if err != nil {
		t.Fatal(err)
	}
	wrong := maps.Clone(env)
	wrong[config.EnvFernetKey] = fernet.GenerateKey().Encode()
	for _, args := range [][]string{{"get", "app/x"}, {"put", "app/x"}, {"list"}, {"verify"}} {
		keyFailure(t, strings.Join(args, " ")+" under a key generated afresh", cliWith(wrong)("other", args...), ExitInvalidToken, value,
			[]string{"the loaded keys do not open this store", "key " + storeKey.ID()}, []string{"this store's key is " + storeKey.ID() + ": load it as " + config.EnvFernetKey, "key rotate"})
	}

	envFile := filepath.Join(dir, "node.env")
	if err := os.WriteFile(envFile, []byte(config.EnvFernetKey+"="+storeKey.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"key", "stage", "--env-file", envFile}, {"key", "promote", "--env-file", envFile}} {
		if r := cliWith(env)("", args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	ring, err := rotate.ReadEnvRing(envFile)
	if err != nil {
		t.Fatal(err)
	}
	early := maps.Clone(env)
	early[config.EnvFernetKey] = ring.Primary().Encode()
	keyFailure(t, "get under the new key alone", cliWith(early)("", "get", "app/x"), ExitInvalidToken, value,
		[]string{"key " + storeKey.ID()}, []string{"add key " + storeKey.ID() + " to " + config.EnvFernetPreviousKeys})
	// Once the store was opened with both keys, a wrong key is told of the
	// active one only.
	both := maps.Clone(early)
	both[config.EnvFernetPreviousKeys] = storeKey.Encode()
	if r := cliWith(both)("", "key", "list"); r.code != 0 {
		t.Fatalf("key list with both keys: %d %s", r.code, r.stderr)
	}
	keyFailure(t, "get under a key generated afresh after the rotation", cliWith(wrong)("", "get", "app/x"), ExitInvalidToken, value,
		nil, []string{"this store's key is " + ring.Primary().ID() + ": load it as " + config.EnvFernetKey})

	if r := cliWith(env)("", "history", "app/x", "--format", "json"); r.code != 0 || strings.Count(r.stdout, `"version"`) != 1 {
		t.Fatalf("history: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestStatusEnvFile: status --env-file judges and opens the store with the
// keys of the file, with no key in the environment, as the other verbs'
// --env-file does.
func TestStatusEnvFile(t *testing.T) {
	e := newRotateFixture(t)
	e.put(1)
	cli := cliWith(maps.Clone(e.vars)) // no key in the environment
	for _, args := range [][]string{{"status", "--env-file", e.env}, {"key", "status", "--env-file", e.env}} {
		if r := cli("", args...); r.code != 0 || !strings.Contains(r.stdout, "compliant") {
			t.Errorf("%v: %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestRetiredKeyBackAsPrimary: a retired key put back in the env file as
// the primary, the active key among the previous keys. Reads work; writes
// are refused (key not expected) and the rotation verbs refuse the file,
// exit 3, changing neither the env file, the key table nor the audit key's
// wrappings (none is made under the retired key).
func TestRetiredKeyBackAsPrimary(t *testing.T) {
	e := newRotateFixture(t)
	e.put(1)
	e.mustRun("", "key", "rotate", "--env-file", e.env, "--quiet")
	e.mustRun("", "key", "retire", e.k1.ID(), "--env-file", e.env, "--force", "--reason", "test")
	e.mustRun("", "key", "list") // opened with the remaining key: the wrapping under the retired one goes
	wrappedUnder := func(id string) bool {
		t.Helper()
		db := e.openStore()
		defer db.Close()
		ws, err := db.AuditKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(ws, func(w audit.WrappedKey) bool { return w.KeyID == id })
	}
	if wrappedUnder(e.k1.ID()) {
		t.Fatal("the audit key is still wrapped under the retired key")
	}
	ring, err := rotate.ReadEnvRing(e.env)
	if err != nil {
		t.Fatal(err)
	}
	active := ring.Primary()
	back := config.EnvFernetKey + "=" + e.k1.Encode() + "\n" + config.EnvFernetPreviousKeys + "=" + active.Encode() + "\n"
	if err := os.WriteFile(e.env, []byte(back), 0o600); err != nil {
		t.Fatal(err)
	}
	keysBefore := e.mustRun("", "key", "list", "--format", "json")
	if got := e.mustRun("", "get", "app/secret_0"); got != e.values["app/secret_0"] {
		t.Fatalf("get: %q", got)
	}
	cli := func(args ...string) runResult {
		code, out, errs := e.run("new value", args...)
		return runResult{code, out, errs}
	}
	keyFailure(t, "put", cli("put", "app/secret_0"), ExitInvalidToken, "new value",
		[]string{"key " + e.k1.ID() + " is retired", "expects key " + active.ID()}, []string{"load key " + active.ID() + " as " + config.EnvFernetKey})
	for _, args := range [][]string{{"key", "rotate"}, {"key", "stage"}, {"key", "promote"}, {"reencrypt"}} {
		keyFailure(t, strings.Join(args, " "), cli(append(args, "--env-file", e.env)...), ExitInvalidToken, "new value",
			[]string{"primary key " + e.k1.ID() + " is retired"}, []string{"nothing was changed"})
	}
	if b, _ := os.ReadFile(e.env); string(b) != back {
		t.Errorf("the env file changed:\n%s", b)
	}
	if after := e.mustRun("", "key", "list", "--format", "json"); after != keysBefore {
		t.Errorf("the key table changed:\n%s\n%s", keysBefore, after)
	}
	if wrappedUnder(e.k1.ID()) {
		t.Errorf("the audit key is wrapped under the retired key %s again", e.k1.ID())
	}
}
