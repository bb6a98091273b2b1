package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// TestFreshKeyOnExistingStoreRefusedCLI: on a store made under key A, the
// CLI and serve started with a freshly generated key refuse every write,
// naming A: alone (the audit key does not open) and with A beside it as a
// previous key (the write itself is refused); the store keeps one active
// key; with A loaded again it works.
func TestFreshKeyOnExistingStoreRefusedCLI(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	cli := cliWith(env)
	if r := cli("v1", "put", "app/x"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	keyA := env["SA01_CRYPTO_FERNET_KEY"]
	a, err := fernet.ParseKey(keyA)
	if err != nil {
		t.Fatal(err)
	}
	delete(env, "SA01_CRYPTO_FERNET_KEY")
	if r := cli("v2", "put", "app/x"); r.code == 0 || !strings.Contains(hintOf(r.stderr), "a store in use needs the key it was made with") {
		t.Fatalf("put with no key on an existing store: exit %d\n%s", r.code, r.stderr)
	}
	env["SA01_CRYPTO_FERNET_KEY"] = fernet.GenerateKey().Encode()
	if r := cli("v2", "put", "app/x"); r.code != ExitInvalidToken || !strings.Contains(r.stderr, a.ID()) {
		t.Fatalf("put under a fresh key alone: exit %d\n%s", r.code, r.stderr)
	}
	env["SA01_CRYPTO_FERNET_PREVIOUS_KEYS"] = keyA
	dotenvFile := filepath.Join(dir, "in.env")
	if err := os.WriteFile(dotenvFile, []byte("A=alpha\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"v2", []string{"put", "app/x"}},
		{"", []string{"rollback", "app/x", "--to", "1"}},
		{"", []string{"import", "--from-dotenv", dotenvFile}},
	} {
		r := cli(c.stdin, c.args...)
		if r.code != ExitInvalidToken || !strings.Contains(r.stderr, a.ID()) || !strings.Contains(hintOf(r.stderr), a.ID()) {
			t.Fatalf("%v under a fresh key: exit %d\n%s", c.args, r.code, r.stderr)
		}
	}

	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	if r := cli("v2", "put", "app/x"); r.code != ExitInvalidToken || !strings.Contains(r.stderr, a.ID()) {
		t.Fatalf("put through a server with a fresh key: exit %d\n%s", r.code, r.stderr)
	}
	_ = s.stop()
	delete(env, "SA01_SECRETS_ADDR")
	env["SA01_CRYPTO_FERNET_KEY"] = keyA
	delete(env, "SA01_CRYPTO_FERNET_PREVIOUS_KEYS")
	r := cli("", "key", "list", "--format", "json")
	if r.code != 0 || strings.Count(r.stdout, `"active"`) != 1 {
		t.Fatalf("key list after the refusals: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "get", "app/x"); r.code != 0 || !strings.HasPrefix(r.stdout, "v1") {
		t.Fatalf("get under the store's key: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestEnvFileForEveryVerb: --env-file gives the keys to get, put, verify
// and serve as it does to the rotation verbs, with no key in the
// environment; every verb that may read keys accepts it.
func TestEnvFileForEveryVerb(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	keys := filepath.Join(dir, ".env")
	if err := os.WriteFile(keys, []byte("SA01_DB_DSN=postgres://platform/db\nSA01_CRYPTO_FERNET_KEY="+env["SA01_CRYPTO_FERNET_KEY"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(env, "SA01_CRYPTO_FERNET_KEY")
	cli := cliWith(env)
	if r := cli("v1", "put", "app/x"); r.code == 0 {
		t.Fatal("put with no key anywhere worked")
	}
	if r := cli("v1", "put", "--env-file", keys, "app/x"); r.code != 0 {
		t.Fatalf("put --env-file: %d %s", r.code, r.stderr)
	}
	if r := cli("", "get", "app/x", "--env-file", keys); r.code != 0 || !strings.HasPrefix(r.stdout, "v1") {
		t.Fatalf("get --env-file: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "verify", "--env-file", keys); r.code != 0 {
		t.Fatalf("verify --env-file: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "get", "app/x", "--env-file", filepath.Join(dir, "missing.env")); r.code != ExitUsage {
		t.Fatalf("get --env-file of a missing file: %d %s", r.code, r.stderr)
	}

	// serve with the keys from the file
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	g := &globals{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr, getenv: func(k string) string { return env[k] }, envFile: keys}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(ctx, g, serveOptions{Listen: "127.0.0.1:0", Ready: func(a string) { ready <- a }})
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-errc }) }
	defer stop()
	select {
	case s.addr = <-ready:
	case err := <-errc:
		t.Fatalf("serve with --env-file: %v\n%s", err, s.stderr)
	}
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	if r := cli("v2", "put", "app/x"); r.code != 0 {
		t.Fatalf("put through serve --env-file: %d %s", r.code, r.stderr)
	}

	// every verb accepts it: the rotation verbs with their own, the rest from the root
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Flags().Lookup("env-file") == nil && c.InheritedFlags().Lookup("env-file") == nil {
			t.Errorf("%s: no --env-file", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(&globals{getenv: func(string) string { return "" }}))
}

// TestKeyStageHintNamesPrintKey: the hint after key stage names a flag that
// gets the key to the other nodes: --print-key when the key was never
// printed, the key file when one was given.
func TestKeyStageHintNamesPrintKey(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	env["HOME"] = dir
	keys := filepath.Join(dir, ".env")
	if err := os.WriteFile(keys, []byte("SA01_CRYPTO_FERNET_KEY="+env["SA01_CRYPTO_FERNET_KEY"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := cliWith(env)
	r := cli("", "key", "stage", "--env-file", keys)
	if r.code != 0 || !strings.Contains(hintOf(r.stderr), "key stage --print-key") || r.stdout != "" {
		t.Fatalf("key stage: %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = cli("", "key", "stage", "--env-file", keys, "--print-key")
	k, err := fernet.ParseKey(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil || !strings.Contains(hintOf(r.stderr), "save the printed key") {
		t.Fatalf("key stage --print-key: %d %v\n%s", r.code, err, r.stderr)
	}
	kf := filepath.Join(dir, "staged.key")
	if err := os.WriteFile(kf, []byte(k.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli("", "key", "stage", "--env-file", keys, "--key-file", kf); r.code != 0 || !strings.Contains(hintOf(r.stderr), "--key-file "+kf) {
		t.Fatalf("key stage --key-file: %d\n%s", r.code, r.stderr)
	}
}

// TestRunNamesCompromisedSecret: run through the server that fails on a
// compromised secret names it and exits as locally (6).
func TestRunNamesCompromisedSecret(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	env["HOME"] = dir
	cli := cliWith(env)
	if r := cli("sk-CANARY", "put", "llm/openai_api_key", "--class", "api-key"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli("", "incident", "open", "llm/openai_api_key", "--reason", "leaked"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = filepath.Join(dir, "gateway.credential")
	r := cli("", "run", "--service", "gateway", "--", "true")
	if r.code != ExitDenied || !strings.Contains(r.stderr, "llm/openai_api_key") || !strings.Contains(r.stderr, "compromised") {
		t.Fatalf("run on a compromised secret: exit %d\n%s", r.code, r.stderr)
	}
}

// TestErrorsNameTheInput: the mistakes a new user makes first (a typo in a
// secret's name, a version that is not there, a lost check-and-set, the
// wrong service's credential for run, --only matching nothing, a missing
// TLS file, an identity name taken or unknown) give an error that names
// what was asked, through a server as on the local store, with the same
// exit code and a hint that fits.
func TestErrorsNameTheInput(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	cli := cliWith(env)
	if r := cli("sk-CANARY-named-1", "put", "llm/openai_api_key"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	remote := cliWith(clientEnv(dir, s.addr, admin))
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		name  string
	}{
		{"", []string{"get", "llm/openai_api_kye"}, ExitNotFound, "llm/openai_api_kye"},
		{"", []string{"get", "llm/openai_api_key", "--version", "9"}, ExitNotFound, "llm/openai_api_key version 9"},
		{"", []string{"history", "llm/nope"}, ExitNotFound, "llm/nope"},
		{"", []string{"delete", "llm/nope"}, ExitNotFound, "llm/nope"},
		{"", []string{"destroy", "llm/nope", "--version", "1"}, ExitNotFound, "llm/nope"},
		{"", []string{"rollback", "llm/openai_api_key", "--to", "5"}, ExitNotFound, "llm/openai_api_key version 5"},
		{"v2", []string{"put", "llm/openai_api_key", "--cas", "7"}, ExitConflict, "llm/openai_api_key"},
	} {
		r := remote(c.stdin, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.name) || strings.Count(r.stderr, "sa01-secrets: ") != 1 {
			t.Errorf("%v through the server: exit %d (want %d), stderr %q does not name %q once", c.args, r.code, c.code, r.stderr, c.name)
		}
		if l := cli(c.stdin, c.args...); l.code != c.code || !strings.Contains(l.stderr, c.name) {
			t.Errorf("%v on the local store: exit %d (want %d), stderr %q", c.args, l.code, c.code, l.stderr)
		}
	}

	// run --service NAME with another identity's credential.
	gw := filepath.Join(dir, "gateway.credential")
	r := cliWith(clientEnv(dir, s.addr, gw))("", "run", "--service", "worker", "--", "true")
	if r.code != ExitDenied || !strings.Contains(r.stderr, "hint: the credential in "+gw+" is not worker's") || strings.Contains(r.stderr, "policy") {
		t.Errorf("run --service worker with the gateway's credential: exit %d, stderr %q", r.code, r.stderr)
	}
	// --only that matches none of the granted secrets says so, not that
	// the policy grants nothing.
	r = cliWith(clientEnv(dir, s.addr, gw))("", "run", "--service", "gateway", "--only", "nomatch/*", "--", "true")
	if r.code != 0 || !strings.Contains(r.stderr, "--only matches none") || strings.Contains(r.stderr, "grants the service no secret") {
		t.Errorf("run --only nomatch/*: exit %d, stderr %q", r.code, r.stderr)
	}

	// serve with a TLS file that is not there names it.
	missing := filepath.Join(dir, "server.crt")
	r = cli("", "serve", "--listen", "127.0.0.1:0", "--tls-cert", missing, "--tls-key", missing)
	if r.code != ExitUsage || !strings.Contains(r.stderr, missing) {
		t.Errorf("serve --tls-cert %s: exit %d, stderr %q", missing, r.code, r.stderr)
	}

	// Identities: a name taken, unknown, or not a name at all.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"identity", "add", "gateway", "--service"}, ExitConflict, "already exists: gateway"},
		{[]string{"identity", "revoke", "nobody"}, ExitNotFound, "not found: nobody"},
		{[]string{"identity", "rotate", "nobody"}, ExitNotFound, "not found: nobody"},
		{[]string{"identity", "revoke", "bad\x1b[31mname"}, ExitNotFound, "not a valid identity name"},
	} {
		r := cli("", c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "\x1b") {
			t.Errorf("%q: exit %d (want %d), stderr %q, want %q", c.args, r.code, c.code, r.stderr, c.want)
		}
	}
}

// TestCredentialFileInANewDirectory: 'init --credential-file
// ~/.config/sa01/admin.credential' on a machine with no ~/.config/sa01
// made the store and admin, then lost admin's credential (exit 8). The
// directory is now made (0700); a path that cannot be a file is refused
// before anything is created.
func TestCredentialFileInANewDirectory(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	env := map[string]string{config.EnvFernetKey: fernet.GenerateKey().Encode(), config.EnvDBDSN: "sqlite://" + db, "HOME": dir}
	cli := cliWith(env)

	asDir := filepath.Join(dir, "taken")
	if err := os.Mkdir(asDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := cli("", "init", "--credential-file", asDir); r.code != ExitUsage || !strings.Contains(r.stderr, asDir) || !strings.Contains(r.stderr, "hint: ") {
		t.Fatalf("init --credential-file DIR: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a refused init left a store behind: %v", err)
	}

	admin := filepath.Join(dir, "home", ".config", "sa01", "admin.credential")
	if r := cli("", "init", "--credential-file", admin); r.code != 0 {
		t.Fatalf("init --credential-file in a new directory: exit %d\n%s", r.code, r.stderr)
	}
	gw := filepath.Join(dir, "etc", "sa01", "gateway.credential")
	if r := cli("", "identity", "add", "gateway", "--service", "--credential-file", gw); r.code != 0 {
		t.Fatalf("identity add --credential-file in a new directory: exit %d\n%s", r.code, r.stderr)
	}
	for _, f := range []string{admin, gw} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
		if d, err := os.Stat(filepath.Dir(f)); err != nil || d.Mode().Perm() != 0o700 {
			t.Fatalf("%s: directory %v %v", f, d, err)
		}
		b, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(b), "sa01c_") {
			t.Fatalf("%s holds no credential", f)
		}
	}

	// A new identity's credential never overwrites an existing file (here
	// admin's, the only admin); nothing is created. A rotation replaces its
	// own identity's file.
	before, _ := os.ReadFile(admin)
	if r := cli("", "identity", "add", "worker", "--service", "--credential-file", admin); r.code != ExitUsage || !strings.Contains(r.stderr, admin+": exists") {
		t.Fatalf("identity add over admin's file: exit %d\n%s", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(admin); string(after) != string(before) {
		t.Fatal("identity add overwrote admin's credential file")
	}
	if r := cli("", "identity", "rotate", "worker"); r.code != ExitNotFound {
		t.Fatalf("a refused add created the identity: exit %d\n%s", r.code, r.stderr)
	}
	if r := cli("", "identity", "rotate", "gateway", "--grace", "0", "--credential-file", gw); r.code != 0 {
		t.Fatalf("identity rotate over its own file: exit %d\n%s", r.code, r.stderr)
	}
}

// TestMissingInputFile: a file the user names that does not exist is a
// usage mistake (exit 2) in every verb that reads one, with a message
// naming the file and the flag or variable that gave it. The exception is
// scan's own inputs: a PATH or --docker-image that cannot be read is a
// partial scan, exit 8 (docs/scanner.md, "Exit codes").
func TestMissingInputFile(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	m := filepath.Join(dir, "missing")
	value := filepath.Join(dir, "value")
	if err := os.WriteFile(value, []byte("a-value-long-enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cliWith(env)("", "put", "app/x", "--from-file", value); r.code != 0 {
		t.Fatal(r.stderr)
	}
	remote := map[string]string{"SA01_SECRETS_ADDR": "http://127.0.0.1:1", "SA01_SECRETS_CREDENTIAL_FILE": m}
	for _, c := range []struct {
		args []string
		env  map[string]string
		code int
		name string // the flag or variable the message (or its hint) names
	}{
		{[]string{"audit", "verify", "--file", m}, nil, ExitUsage, "--file"},
		{[]string{"audit", "verify", "--anchor", m}, nil, ExitUsage, "--anchor"},
		{[]string{"backup", "--verify", m}, nil, ExitUsage, "--verify"},
		{[]string{"restore", "--input", m}, nil, ExitUsage, "--input"},
		{[]string{"migrate", "--to-file", m}, nil, ExitUsage, "--to-file"},
		{[]string{"import", "--from-dotenv", m}, nil, ExitUsage, "--from-dotenv"},
		{[]string{"put", "app/y", "--from-file", m}, nil, ExitUsage, "--from-file"},
		{[]string{"rotate", "app/x", "--from-file", m}, nil, ExitUsage, "--from-file"},
		{[]string{"key", "stage", "--env-file", filepath.Join(dir, "k.env"), "--key-file", m}, nil, ExitUsage, "--key-file"},
		{[]string{"reencrypt", "--old-key-file", m}, nil, ExitUsage, "--old-key-file"},
		{[]string{"key", "rotate", "--env-file", m}, nil, ExitUsage, "--env-file"},
		{[]string{"key", "status", "--env-file", m}, nil, ExitUsage, "--env-file"},
		{[]string{"list", "--env-file", m}, nil, ExitUsage, "--env-file"},
		{[]string{"targets", "status"}, map[string]string{"SA01_SECRETS_TARGETS_FILE": m}, ExitUsage, "SA01_SECRETS_TARGETS_FILE"},
		{[]string{"policy", "export-rego"}, map[string]string{"SA01_SECRETS_POLICY_FILE": m}, ExitUsage, "SA01_SECRETS_POLICY_FILE"},
		{[]string{"serve", "--listen", "127.0.0.1:0"}, map[string]string{"SA01_SECRETS_POLICY_FILE": m}, ExitUsage, "SA01_SECRETS_POLICY_FILE"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", m, "--tls-key", m}, nil, ExitUsage, "--tls-cert"},
		{[]string{"scan", "--baseline", m, value}, map[string]string{"SA01_SECRETS_SCAN_KEY": "0123456789abcdef0123456789abcdef"}, ExitUsage, "baseline"},
		{[]string{"scan", "--git", m}, nil, ExitUsage, "--git"},
		{[]string{"scan", m}, nil, ExitError, "scan"},
		{[]string{"scan", "--docker-image", m}, nil, ExitError, "scan"},
		{[]string{"login", "--credential-file", m}, map[string]string{"SA01_SECRETS_ADDR": "http://127.0.0.1:1"}, ExitUsage, "--credential-file"},
		{[]string{"get", "app/x"}, remote, ExitUsage, "SA01_SECRETS_CREDENTIAL_FILE"},
		{[]string{"run", "--service", "gateway", "--", "true"}, remote, ExitUsage, "SA01_SECRETS_CREDENTIAL_FILE"},
	} {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range c.env {
				e[k] = v
			}
			r := cliWith(e)("", c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, m) || !strings.Contains(r.stderr, c.name) {
				t.Fatalf("%v: exit %d, want %d and a message naming %s and %s:\n%s", c.args, r.code, c.code, m, c.name, r.stderr)
			}
		})
	}
}
