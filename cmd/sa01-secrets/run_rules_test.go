package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
)

// plantLegacy stores a version with an env name straight into the store,
// as a write made before the env-name rules could.
func plantLegacy(t *testing.T, srv *servertest.Server, name, env, value string) {
	t.Helper()
	if err := srv.Plant(name, env, value); err != nil {
		t.Fatal(err)
	}
}

// TestRunWriterCannotRunCodeInReaders: a service allowed only to write
// llm/* stored llm/zz_helper with env BASH_ENV, and the next run of bash
// for the gateway executed it with the gateway's secrets in its
// environment. The write is refused now, naming the variable, and a
// secret stored so before the rule is skipped by run with a warning
// naming it.
func TestRunWriterCannotRunCodeInReaders(t *testing.T) {
	srv, err := servertest.Start("services:\n  gateway: {read: [\"llm/*\"]}\n  writer: {write: [\"llm/*\"]}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY"}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	t.Setenv("SA01_SECRETS_ADDR", srv.URL)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "writer"))
	for _, env := range []string{"BASH_ENV", "LD_PRELOAD", "https_proxy"} {
		var out, errb lockedBuffer
		code := run(context.Background(), []string{"put", "--env", env, "llm/zz_helper"}, strings.NewReader("echo pwned > "+marker+"\n"), &out, &errb, os.Getenv)
		if code == 0 || !strings.Contains(errb.String(), env) {
			t.Errorf("put --env %s: code %d, stderr %q: want a refusal naming it", env, code, errb.String())
		}
	}
	plantLegacy(t, srv, "llm/zz_helper", "BASH_ENV", "echo pwned > "+marker)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "gateway"))
	res := runCLI(t, "run", "--service", "gateway", "--", "bash", "-c", `echo "key=$OPENAI_API_KEY bash_env=$BASH_ENV"`)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("BASH_ENV from a writer ran in the reader")
	}
	if res.code != 0 || strings.TrimSpace(res.stdout) != "key=sk-openai-RUNCANARY bash_env=" {
		t.Fatalf("code %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "llm/zz_helper") || !strings.Contains(res.stderr, "BASH_ENV") || strings.Contains(res.stderr, "pwned") {
		t.Fatalf("no warning naming the skipped secret and variable, or one with its value: %s", res.stderr)
	}
	// export --service writes what run injects: not the planted variable
	res = runCLI(t, "export", "--service", "gateway", "--format", "dotenv")
	if res.code != 0 || !strings.Contains(res.stdout, "OPENAI_API_KEY=") || strings.Contains(res.stdout, "BASH_ENV") || !strings.Contains(res.stderr, "llm/zz_helper") {
		t.Fatalf("export --service: %d %q %s", res.code, res.stdout, res.stderr)
	}
}

// TestRunPlatformKeyAndReaderMapping: on the local store, platform_key:
// true gives that service the store's Fernet keys, audited without them,
// and its env mapping brings in a variable no writer may set; another
// service gets neither.
func TestRunPlatformKeyAndReaderMapping(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(`services:
  gateway:
    read: ["llm/*", "net/proxy"]
    env: {HTTPS_PROXY: net/proxy}
    platform_key: true
  worker: {read: ["llm/*", "net/proxy"]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	key, prev := fernet.GenerateKey(), fernet.GenerateKey()
	env := map[string]string{
		"SA01_CRYPTO_FERNET_KEY":           key.Encode(),
		"SA01_CRYPTO_FERNET_PREVIOUS_KEYS": prev.Encode(),
		"SA01_SECRETS_DB_DSN":              "sqlite://" + filepath.Join(dir, "s.db"),
		"SA01_SECRETS_POLICY_FILE":         pol,
		"HOME":                             dir,
	}
	initStore(t, func(k string) string { return env[k] })
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	for name, v := range map[string]string{"llm/openai_api_key": "sk-LOCALCANARY", "net/proxy": "http://proxy.internal:3128"} {
		if r := cli(v, "put", name); r.code != 0 {
			t.Fatalf("put: %s", r.stderr)
		}
	}
	r := cli("", "run", "--service", "gateway", "--pristine", "--", "env")
	for _, want := range []string{"OPENAI_API_KEY=sk-LOCALCANARY\n", "HTTPS_PROXY=http://proxy.internal:3128\n",
		"SA01_CRYPTO_FERNET_KEY=" + key.Encode() + "\n", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + prev.Encode() + "\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("gateway: no %q in %q (%d %s)", strings.SplitN(want, "=", 2)[0], r.stdout, r.code, r.stderr)
		}
	}
	r = cli("", "run", "--service", "worker", "--pristine", "--", "env")
	if r.code != 0 || !strings.Contains(r.stdout, "OPENAI_API_KEY=sk-LOCALCANARY\n") || !strings.Contains(r.stdout, "PROXY=http://proxy.internal:3128\n") ||
		strings.Contains(r.stdout, "SA01_CRYPTO_FERNET") || strings.Contains(r.stdout, key.Encode()) || strings.Contains(r.stdout, "HTTPS_PROXY") {
		t.Errorf("worker: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = cli("", "audit", "query", "--format", "json")
	var evs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &evs); r.code != 0 || err != nil {
		t.Fatalf("audit query: %d %v %s", r.code, err, r.stderr)
	}
	byService := map[string]int{}
	for _, ev := range evs {
		if ev["action"] == secrets.ActionPlatformKey {
			s, _ := ev["service"].(string)
			byService[s]++
		}
	}
	if byService["gateway"] != 1 || len(byService) != 1 {
		t.Errorf("platform-key events by service: %v", byService)
	}
	if strings.Contains(r.stdout, key.Encode()) || strings.Contains(r.stdout, prev.Encode()) {
		t.Error("the audit trail holds a key")
	}
}

// TestRunUserStartsTheCommandAsAnotherUser: run --user nobody starts the
// command as nobody, which cannot read the launcher's 0600 credential.
func TestRunUserStartsTheCommandAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	runServer(t)
	cred := os.Getenv("SA01_SECRETS_CREDENTIAL_FILE")
	res := runCLI(t, "run", "--service", "gateway", "--user", "nobody", "--", "sh", "-c",
		`id -u; echo "home=$HOME key=$OPENAI_API_KEY"; cat "$0" 2>/dev/null && echo CREDENTIAL-READ; exit 0`, cred)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "65534\nhome=/nonexistent key=sk-openai-RUNCANARY\n") ||
		strings.Contains(res.stdout, "CREDENTIAL-READ") || strings.Contains(res.stdout, "sa01c_") {
		t.Fatalf("code %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, "run", "--service", "gateway", "--user", "no-such-user-sa01", "--", "true"); res.code != ExitUsage {
		t.Fatalf("unknown user: code %d %s", res.code, res.stderr)
	}
}

// unprivilegedDir is a directory nobody can read: the built binary's, and
// one for a credential file owned by nobody.
func unprivilegedDir(t *testing.T, bin string) string {
	t.Helper()
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "sa01-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRunChildCannotReadLaunchersCredential: the launcher runs as an
// unprivileged user (nobody) with its token and credential file in its
// environment; the command it starts, the same user, reads
// /proc/$PPID/environ and opens /proc/$PPID/mem. Before, the environ
// printed the token (and a login with the shared credential it held
// succeeded as admin); the launcher is not dumpable now, so neither opens.
func TestRunChildCannotReadLaunchersCredential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the launcher as nobody")
	}
	srv := runServer(t)
	bin := builtBinary(t)
	dir := unprivilegedDir(t, bin)
	cred := filepath.Join(dir, "gateway.credential")
	if err := os.WriteFile(cred, []byte(srv.Credentials["gateway"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cred, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	login := runCLI(t, "login")
	tok := strings.TrimSpace(login.stdout)
	if login.code != 0 || !strings.HasPrefix(tok, "sa01s_") {
		t.Fatalf("login: %d %s", login.code, login.stderr)
	}
	launch := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "SA01_SECRETS_ADDR=" + srv.URL,
			"SA01_SECRETS_CREDENTIAL_FILE=" + cred, "SA01_SECRETS_TOKEN=" + tok}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if err != nil {
			code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
		return out.String(), errb.String(), code
	}
	out, stderr, code := launch("run", "--service", "gateway", "--", "sh", "-c",
		`echo "uid=$(id -u) key=$OPENAI_API_KEY"; echo ENVIRON; tr '\0' '\n' < /proc/$PPID/environ; echo MEM; (exec 3< /proc/$PPID/mem && echo MEM-OPENED); echo END`)
	if code != 0 || !strings.HasPrefix(out, "uid=65534 key=sk-openai-RUNCANARY\n") || !strings.HasSuffix(out, "END\n") {
		t.Fatalf("code %d, stdout %q, stderr %s", code, out, stderr)
	}
	for _, never := range []string{tok, "sa01s_", "sa01c_", "SA01_SECRETS_CREDENTIAL_FILE", "SA01_SECRETS_TOKEN", "MEM-OPENED"} {
		if strings.Contains(out, never) {
			t.Errorf("the command read %.14s... from its launcher: %q", never, out)
		}
	}
	// and the unprivileged launcher cannot start the command as another user
	if _, stderr, code := launch("run", "--service", "gateway", "--user", "root", "--", "true"); code != ExitUsage || !strings.Contains(stderr, "root") {
		t.Errorf("--user as nobody: code %d, %s", code, stderr)
	}
}

// procStat returns the state and process group of pid, "" when it is gone.
func procStat(pid int) (state string, pgrp int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	pgrp, _ = strconv.Atoi(f[2])
	return f[0], pgrp
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	s, _ := procStat(pid)
	return s != "" && s != "Z"
}

// TestRunWatchRestartEndsTheGroup: on a restart, a grandchild (sh -c
// 'sleep 300' started by the command) kept running with the old value
// beside the new instance. The whole process group ends now.
func TestRunWatchRestartEndsTheGroup(t *testing.T) {
	srv := runServer(t)
	dir := t.TempDir()
	out, kids := filepath.Join(dir, "out"), filepath.Join(dir, "kids")
	resc := make(chan runResult, 1)
	go func() {
		resc <- runCLI(t, "run", "--service", "gateway", "--watch", "--watch-interval", "1s", "--only", "llm/*", "--",
			"sh", "-c", `sh -c 'sleep 300' & echo $! >> "$1"; echo "$$ $OPENAI_API_KEY" >> "$0"; wait`, out, kids)
	}()
	waitFile(t, out, 1)
	first, _ := strconv.Atoi(waitFile(t, kids, 1)[0])
	if !alive(first) {
		t.Fatal("the grandchild did not start")
	}
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY-v2"}); err != nil {
		t.Fatal(err)
	}
	lines := waitFile(t, out, 2)
	second, _ := strconv.Atoi(waitFile(t, kids, 2)[1])
	deadline := time.Now().Add(5 * time.Second)
	for alive(first) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	gone := !alive(first)
	pid, _ := strconv.Atoi(strings.Fields(lines[1])[0])
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if !gone {
		_ = syscall.Kill(first, syscall.SIGKILL)
		t.Fatalf("the first instance's grandchild %d outlived the restart", first)
	}
	res := <-resc
	if !strings.HasSuffix(lines[1], " sk-openai-RUNCANARY-v2") || res.code != 143 {
		t.Fatalf("lines %q, code %d: %s", lines, res.code, res.stderr)
	}
	_ = second
}

// TestRunWatchSignalOnceKeepsWatching: the launcher runs as a job of its
// own (its own process group, as a shell starts it); a Ctrl-C to that job
// reached the command twice (once from the terminal, once forwarded), and
// after a SIGINT the command handled, the watch stopped: no later rotation
// restarted it. Now the command has a process group of its own, gets each
// signal once, and a rotation after it still restarts the command.
func TestRunWatchSignalOnceKeepsWatching(t *testing.T) {
	srv := runServer(t)
	bin := builtBinary(t)
	dir := t.TempDir()
	out, got := filepath.Join(dir, "out"), filepath.Join(dir, "got")
	cmd := exec.Command(bin, "run", "--service", "gateway", "--watch", "--watch-interval", "1s", "--only", "llm/*", "--",
		"sh", "-c", `trap 'echo int >> "$1"' INT; echo "$$ $OPENAI_API_KEY" >> "$0"; while :; do sleep 0.1; done`, out, got)
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	first := waitFile(t, out, 1)
	pid, _ := strconv.Atoi(strings.Fields(first[0])[0])
	if _, pg := procStat(pid); pg == cmd.Process.Pid {
		t.Errorf("the command is in its launcher's process group %d: a Ctrl-C reaches it twice", pg)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // the terminal's Ctrl-C to the job
		t.Fatal(err)
	}
	waitFile(t, got, 1)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY-v2"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var lines []string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(out)
		if lines = strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lines) < 2 || !strings.HasSuffix(lines[1], " sk-openai-RUNCANARY-v2") {
		t.Fatalf("no restart after a handled SIGINT: %q; stderr %s", lines, stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // a second delivery would have landed
	if b, _ := os.ReadFile(got); strings.Count(string(b), "int") != 1 {
		t.Errorf("the command got SIGINT %d times", strings.Count(string(b), "int"))
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the launcher did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit code %d, want 143: %s", code, stderr.String())
	}
}

// TestRunWatchSignalDuringRestart: a signal that arrives while a restart
// waits for the old instance to stop went to the new instance, right after
// its start and before it could handle it. Now it goes to the instance
// being stopped, and a SIGINT cancels the restart: run ends when that
// instance exits, and no new one starts.
func TestRunWatchSignalDuringRestart(t *testing.T) {
	srv := runServer(t)
	bin := builtBinary(t)
	dir := t.TempDir()
	out, got := filepath.Join(dir, "out"), filepath.Join(dir, "got")
	// On SIGTERM the command takes two seconds to stop.
	script := `trap 'echo int >> "$1"' INT; trap 'echo term >> "$1"; stop=1' TERM; echo "$$ $OPENAI_API_KEY" >> "$0"
n=0; while :; do sleep 0.1; if [ -n "$stop" ]; then n=$((n+1)); [ $n -ge 20 ] && exit 0; fi; done`
	cmd := exec.Command(bin, "run", "--service", "gateway", "--watch", "--watch-interval", "1s", "--only", "llm/*", "--",
		"sh", "-c", script, out, got)
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	waitFile(t, out, 1)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY-v2"}); err != nil {
		t.Fatal(err)
	}
	waitFile(t, got, 1) // the restart's SIGTERM reached the command
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the launcher did not end after a SIGINT during the restart")
	}
	b, _ := os.ReadFile(got)
	if string(b) != "term\nint\n" {
		t.Errorf("the stopping instance got %q, want term then int", b)
	}
	if lines := waitFile(t, out, 1); len(lines) != 1 {
		t.Errorf("a new instance started after the SIGINT: %q", lines)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want the stopped instance's 0: %s", code, stderr.String())
	}
}

// memEvents keeps the server's own events (logins, denials).
type memEvents struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (m *memEvents) Record(_ context.Context, ev audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evs = append(m.evs, ev)
	return nil
}

// TestRunThroughServerPlatformKeyAndMapping: through a server, the
// gateway (platform_key: true, env: {HTTPS_PROXY: net/proxy}) gets the
// store's keys and its mapped proxy; the worker gets neither, and asking
// the server for the keys with its token is refused.
func TestRunThroughServerPlatformKeyAndMapping(t *testing.T) {
	rec := &memEvents{}
	srv, err := servertest.Start(`services:
  gateway: {read: ["llm/*", "net/proxy"], env: {HTTPS_PROXY: net/proxy}, platform_key: true}
  worker: {read: ["llm/*", "net/proxy"]}
`, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-openai-RUNCANARY", "net/proxy": "http://proxy.internal:3128"}); err != nil {
		t.Fatal(err)
	}
	key := srv.Secrets.Ring().Primary().Encode()
	t.Setenv("SA01_SECRETS_ADDR", srv.URL)
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "gateway"))
	res := runCLI(t, "run", "--service", "gateway", "--pristine", "--", "env")
	for _, want := range []string{"OPENAI_API_KEY=sk-openai-RUNCANARY\n", "HTTPS_PROXY=http://proxy.internal:3128\n", "SA01_CRYPTO_FERNET_KEY=" + key + "\n", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS=\n"} {
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("gateway: no %q: %d %q %s", strings.SplitN(want, "=", 2)[0], res.code, res.stdout, res.stderr)
		}
	}
	t.Setenv("SA01_SECRETS_CREDENTIAL_FILE", credentialFile(t, srv, "worker"))
	res = runCLI(t, "run", "--service", "worker", "--pristine", "--", "env")
	if res.code != 0 || !strings.Contains(res.stdout, "PROXY=http://proxy.internal:3128\n") || strings.Contains(res.stdout, "HTTPS_PROXY") ||
		strings.Contains(res.stdout, "SA01_CRYPTO_FERNET") || strings.Contains(res.stdout, key) {
		t.Errorf("worker: %d %q %s", res.code, res.stdout, res.stderr)
	}
	login := runCLI(t, "login")
	req, _ := http.NewRequest("GET", srv.URL+"/v1/platform-keys", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(login.stdout))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), key) {
		t.Fatalf("worker asking for the keys: %d %s", resp.StatusCode, body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var refused, given int
	for _, ev := range rec.evs {
		if ev.Action != secrets.ActionPlatformKey {
			continue
		}
		if strings.Contains(ev.Detail, key) || strings.Contains(ev.Reason, key) {
			t.Error("an audit event holds the key")
		}
		switch {
		case ev.Outcome == audit.Failure && ev.Service == "worker":
			refused++
		case ev.Outcome == audit.Success && ev.Service == "gateway":
			given++
		default:
			t.Errorf("platform-key event %+v", ev)
		}
	}
	if refused != 1 || given != 1 {
		t.Errorf("platform-key events: %d refused for worker, %d given to gateway; want 1 and 1", refused, given)
	}
}

// TestRunOnATerminal: with stdin a terminal (a pty that script(1) makes),
// the command's process group is made the terminal's foreground group: it
// reads the terminal without being stopped (SIGTTIN), and a Ctrl-C typed
// there reaches it once.
func TestRunOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1) to make a terminal")
	}
	runServer(t)
	bin := builtBinary(t)
	inner := bin + ` run --service gateway -- sh -c 'trap "echo int; exit 3" INT; read x; echo "got=$x key=$OPENAI_API_KEY"; while :; do sleep 0.1; done'`
	cmd := exec.Command("script", "-qec", inner, "/dev/null")
	cmd.Env = os.Environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	wait := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), s); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q on the terminal: %q", s, out.String())
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // let run start the command before the line is typed
	io.WriteString(stdin, "hello\n")
	wait("got=hello key=sk-openai-RUNCANARY")
	io.WriteString(stdin, "\x03")
	wait("int")
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not exit after the command did: %q", out.String())
	}
	if c := strings.Count(out.String(), "int\r\n"); c != 1 || cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("%d ints, exit %d: %q", c, cmd.ProcessState.ExitCode(), out.String())
	}
}
