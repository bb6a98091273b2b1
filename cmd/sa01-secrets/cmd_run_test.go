package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/inject"
	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
)

const runPolicy = `services:
  gateway: {read: ["llm/*", "db/gateway/*"], list: ["**"]}
  worker: {read: ["db/other/*"]}
`

// credentialFile writes an identity's credential to a 0600 file.
func credentialFile(t *testing.T, srv *servertest.Server, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".credential")
	if err := os.WriteFile(p, []byte(srv.Credentials[name]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runServer starts a server and points the process environment at it, as
// the child's environment is the process's own: the launcher holds the
// gateway's credential.
func runServer(t *testing.T) *servertest.Server {
	t.Helper()
	srv, err := servertest.Start(runPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(map[string]string{
		"llm/openai_api_key":  "sk-openai-RUNCANARY",
		"db/gateway/password": "pw-gateway-RUNCANARY",
		"db/other/password":   "pw-other-RUNCANARY",
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SA01_SECRETS_ADDR", srv.URL)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "gateway"))
	t.Setenv("SA01_CRYPTO_FERNET_KEY", fernet.GenerateKey().Encode())
	t.Setenv("SA01_SECRETS_DB_DSN", "postgres://u:dsnpassword@127.0.0.1/db")
	t.Setenv("OPENAI_API_KEY", "inherited-value")
	t.Setenv("KEEP_ME", "kept")
	return srv
}

type runResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) runResult {
	t.Helper()
	var out, errb lockedBuffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, os.Getenv)
	return runResult{code, out.String(), errb.String()}
}

// waitFile waits for a file to hold a line, for at most a minute.
func waitFile(t *testing.T, path string, lines int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if got := strings.Split(strings.TrimSpace(string(b)), "\n"); len(b) > 0 && len(got) >= lines && strings.HasSuffix(string(b), "\n") {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no %d lines", path, lines)
	return nil
}

// TestRunChildEnvironment reads the child's /proc/PID/environ and
// /proc/PID/cmdline.
func TestRunChildEnvironment(t *testing.T) {
	runServer(t)
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	resc := make(chan runResult, 1)
	go func() {
		resc <- runCLI(t, "run", "--service", "gateway", "--", "sh", "-c", `echo $$ > "$0"; exec sleep 120`, pidfile)
	}()
	pid, err := strconv.Atoi(waitFile(t, pidfile, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	// The shell writes its pid, then execs sleep: read the environment only
	// once the exec is done, since /proc/PID/environ is empty or partial
	// mid-exec. The shell's own cmdline holds "sleep" too (in its script):
	// the exec is done when sleep is argv[0].
	var environ, cmdline []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cmdline, _ = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.HasPrefix(string(cmdline), "sleep\x00") {
			environ, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			if len(environ) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never became the sleep with an environment (cmdline %q)", pid, cmdline)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	res := <-resc

	env := map[string]string{}
	for _, kv := range strings.Split(string(environ), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if env["OPENAI_API_KEY"] != "sk-openai-RUNCANARY" {
		t.Errorf("OPENAI_API_KEY = %q: the secret must override the inherited value", env["OPENAI_API_KEY"])
	}
	if env["PASSWORD"] != "pw-gateway-RUNCANARY" {
		t.Errorf("PASSWORD = %q", env["PASSWORD"])
	}
	if env["KEEP_ME"] != "kept" {
		t.Error("inherited variable dropped")
	}
	if t.Failed() {
		names := slices.Sorted(maps.Keys(env))
		t.Logf("pid %d, cmdline %q, environment's names %v; run: exit %d, stderr %s", pid, cmdline, names, res.code, res.stderr)
	}
	for k := range env {
		if inject.Withheld(k) {
			t.Errorf("child environment has %s", k)
		}
	}
	for _, never := range []string{os.Getenv("SA01_CRYPTO_FERNET_KEY"), "dsnpassword", "pw-other-RUNCANARY", "sa01s_", "sa01c_", os.Getenv("SA01_SECRETS_CREDENTIAL_FILE")} {
		if strings.Contains(string(environ), never) {
			t.Errorf("child environment holds %.10s...", never)
		}
	}
	for _, never := range []string{"RUNCANARY", "sa01c_"} {
		if strings.Contains(string(cmdline), never) {
			t.Errorf("child cmdline holds %s", never)
		}
	}
	if !strings.Contains(string(cmdline), "sleep") {
		t.Errorf("cmdline %q: not the child", cmdline)
	}
	if res.code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d (stderr %s)", res.code, 128+int(syscall.SIGTERM), res.stderr)
	}
	if strings.Contains(res.stderr, "RUNCANARY") {
		t.Error("stderr holds a value")
	}
}

func TestRunPristineAndOnly(t *testing.T) {
	runServer(t)
	res := runCLI(t, "run", "--service", "gateway", "--pristine", "--only", "llm/*", "--", "env")
	if res.code != 0 {
		t.Fatalf("code %d: %s", res.code, res.stderr)
	}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		k, _, _ := strings.Cut(line, "=")
		keys = append(keys, k)
	}
	if got := strings.Join(keys, ","); got != "PATH,HOME,OPENAI_API_KEY" && got != "HOME,PATH,OPENAI_API_KEY" {
		t.Fatalf("pristine environment: %s", got)
	}
}

func TestRunExitCodeAndErrors(t *testing.T) {
	runServer(t)
	if res := runCLI(t, "run", "--service", "gateway", "--", "sh", "-c", "exit 7"); res.code != 7 || res.stderr != "" {
		t.Fatalf("code %d, stderr %q", res.code, res.stderr)
	}
	if res := runCLI(t, "run", "--service", "gateway", "--", "true"); res.code != 0 {
		t.Fatalf("code %d", res.code)
	}
	if res := runCLI(t, "run", "--service", "intruder", "--", "true"); res.code != ExitDenied || !strings.Contains(res.stderr, "hint:") {
		t.Fatalf("unknown service: code %d, %s", res.code, res.stderr)
	}
	if res := runCLI(t, "run", "--", "true"); res.code != ExitUsage {
		t.Fatalf("no --service: code %d", res.code)
	}
	if res := runCLI(t, "run", "--service", "gateway", "true"); res.code != ExitUsage {
		t.Fatalf("no --: code %d", res.code)
	}
	if res := runCLI(t, "run", "--service", "gateway", "--only", "a//b", "--", "true"); res.code != ExitUsage {
		t.Fatalf("bad glob: code %d", res.code)
	}
	if res := runCLI(t, "run", "--service", "gateway", "--", "no-such-command-sa01"); res.code != 127 {
		t.Fatalf("missing command: code %d", res.code)
	}
	// the platform's internal token logs in as nobody: it is not ours
	t.Setenv("SA01_AUTH_INTERNAL_TOKEN", "platform-internal-token")
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", "")
	if res := runCLI(t, "run", "--service", "gateway", "--", "true"); res.code != ExitDenied || strings.Contains(res.stderr, "platform-internal-token") {
		t.Fatalf("the platform's internal token: code %d, %s", res.code, res.stderr)
	}
}

func TestRunTokenRevokedAfter(t *testing.T) {
	srv := runServer(t)
	if res := runCLI(t, "run", "--service", "gateway", "--", "true"); res.code != 0 {
		t.Fatal(res.stderr)
	}
	if n, _ := srv.Tokens.Live(context.Background()); n != 0 {
		t.Fatalf("%d live tokens after run", n)
	}
}

func TestRunWatchRestarts(t *testing.T) {
	srv := runServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	resc := make(chan runResult, 1)
	go func() {
		resc <- runCLI(t, "run", "--service", "gateway", "--watch", "--watch-interval", "1s", "--only", "llm/*", "--",
			"sh", "-c", `echo "$$ $OPENAI_API_KEY" >> "$0"; exec sleep 120`, out)
	}()
	waitFile(t, out, 1)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY-v2"}); err != nil {
		t.Fatal(err)
	}
	lines := waitFile(t, out, 2)
	pid, _ := strconv.Atoi(strings.Fields(lines[1])[0])
	_ = syscall.Kill(pid, syscall.SIGTERM)
	res := <-resc
	if !strings.HasSuffix(lines[0], " sk-openai-RUNCANARY") || !strings.HasSuffix(lines[1], " sk-openai-RUNCANARY-v2") {
		t.Fatalf("lines %q", lines)
	}
	if res.code != 143 {
		t.Fatalf("code %d: %s", res.code, res.stderr)
	}
}

// TestRunForwardsSignals: a signal to run reaches the command, and run
// exits with the command's code.
func TestRunForwardsSignals(t *testing.T) {
	runServer(t)
	dir := t.TempDir()
	pidfile, got := filepath.Join(dir, "pid"), filepath.Join(dir, "got")
	resc := make(chan runResult, 1)
	go func() {
		resc <- runCLI(t, "run", "--service", "gateway", "--", "sh", "-c",
			`trap 'echo usr1 > "$1"; exit 3' USR1; echo $$ > "$0"; while :; do sleep 0.05; done`, pidfile, got)
	}()
	waitFile(t, pidfile, 1)
	// run registered its signal handler before starting the command
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	res := <-resc
	if res.code != 3 {
		t.Fatalf("code %d: %s", res.code, res.stderr)
	}
	if b, _ := os.ReadFile(got); strings.TrimSpace(string(b)) != "usr1" {
		t.Fatalf("the command did not get SIGUSR1: %q", b)
	}
}

// TestRunLocalStore: without SA01_SECRETS_ADDR, run reads the local store
// under SA01_POLICY_FILE.
func TestRunLocalStore(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("services:\n  worker: {read: [\"llm/openai_api_key\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(),
		"SA01_SECRETS_DB_DSN":    "sqlite://" + filepath.Join(dir, "s.db"),
		"HOME":                   dir,
	}
	initStore(t, func(k string) string { return env[k] })
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	for name, v := range map[string]string{"llm/openai_api_key": "sk-LOCALCANARY", "llm/other": "other-LOCALCANARY"} {
		if r := cli(v, "put", name); r.code != 0 {
			t.Fatalf("put: %s", r.stderr)
		}
	}
	if r := cli("", "run", "--service", "worker", "--", "true"); r.code != ExitUsage || !strings.Contains(r.stderr, "SA01_SECRETS_POLICY_FILE") {
		t.Fatalf("no policy: %d %s", r.code, r.stderr)
	}
	env["SA01_SECRETS_POLICY_FILE"] = pol
	r := cli("", "run", "--service", "worker", "--pristine", "--", "env")
	if r.code != 0 || !strings.Contains(r.stdout, "OPENAI_API_KEY=sk-LOCALCANARY\n") || strings.Contains(r.stdout, "other-LOCALCANARY") {
		t.Fatalf("local run: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "run", "--service", "gateway", "--", "true"); r.code != ExitDenied {
		t.Fatalf("service not in the policy: %d %s", r.code, r.stderr)
	}
	// The run itself is audited, with the service and the command's base
	// name, and the reads it made under the service.
	r = cli("", "audit", "query", "--service", "worker", "--format", "json")
	var evs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &evs); r.code != 0 || err != nil {
		t.Fatalf("audit query: %d %v %s", r.code, err, r.stderr)
	}
	var runs, reads int
	for _, ev := range evs {
		switch ev["action"] {
		case "run":
			runs++
			if d, _ := ev["detail"].(string); d != "1 secrets injected into env" || ev["outcome"] != "success" {
				t.Errorf("run event: %v", ev)
			}
		case "read":
			reads++
		}
	}
	if runs != 1 || reads != 1 {
		t.Errorf("worker's events: %d run, %d read; want 1 and 1: %v", runs, reads, evs)
	}
	if strings.Contains(r.stdout, "LOCALCANARY") {
		t.Error("an audit event holds a value")
	}
	r = cli("", "export", "--service", "worker", "--format", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" || strings.Contains(r.stdout, "other-LOCALCANARY") || !strings.Contains(r.stdout, "sk-LOCALCANARY") {
		t.Fatalf("export --service: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestRunClaimsOnlyItsOwnIdentity: a launcher holding one service's
// credential cannot run another service: the server refuses the login
// (403, audited), where the shared internal token of old logged in as
// anyone, admin included.
func TestRunClaimsOnlyItsOwnIdentity(t *testing.T) {
	srv := runServer(t)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "worker"))
	res := runCLI(t, "run", "--service", "gateway", "--", "sh", "-c", "echo $OPENAI_API_KEY")
	if res.code != ExitDenied || strings.Contains(res.stdout, "RUNCANARY") {
		t.Fatalf("worker's credential ran gateway: code %d, %s %s", res.code, res.stdout, res.stderr)
	}
	for _, claim := range []string{"admin", "gateway"} {
		if res := runCLI(t, "login", "--identity", claim); res.code != ExitDenied || strings.Contains(res.stdout, "sa01s_") {
			t.Fatalf("worker logged in as %s: code %d, %s", claim, res.code, res.stdout)
		}
	}
	res = runCLI(t, "login")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "sa01s_") {
		t.Fatalf("login as itself: code %d, %s", res.code, res.stderr)
	}
}

// TestRunInjectsThePlatformsVariables: the platform's own variable names
// are the gateway's to receive. Before, sa01-secrets took SA01_DB_DSN and
// SA01_AUTH_INTERNAL_TOKEN for its own settings and run refused to inject
// them ("env name is not allowed").
func TestRunInjectsThePlatformsVariables(t *testing.T) {
	srv := runServer(t)
	if err := srv.Seed(map[string]string{"db/gateway/dsn": "postgresql://gw:pw-DSN-RUNCANARY@db:5432/gw", "llm/internal_token": "itok-RUNCANARY"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetEnv("db/gateway/dsn", "SA01_DB_DSN"); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetEnv("llm/internal_token", "SA01_AUTH_INTERNAL_TOKEN"); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "run", "--service", "gateway", "--", "sh", "-c", `echo "$SA01_DB_DSN|$SA01_AUTH_INTERNAL_TOKEN"`)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "postgresql://gw:pw-DSN-RUNCANARY@db:5432/gw|itok-RUNCANARY" {
		t.Fatalf("code %d: %q %s", res.code, res.stdout, res.stderr)
	}
}
