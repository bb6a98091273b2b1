package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

// gatewayWriter plays the gateway: it loads its keys with the Python
// helper (fernet_from_env) from the env file, writes Fernet tokens into
// the hash over a bare RESP connection, and prints the last value it
// wrote to each field when it is told to stop (a line on stdin).
const gatewayWriter = `
import json, os, random, socket, sys, threading
from sa01_secrets import fernet_from_env

def load(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env

mode, envfile, host, port, db, hash_, n = sys.argv[1:8]
n = int(n)
f = fernet_from_env(load(envfile))
s = socket.create_connection((host, int(port)))
r = s.makefile("rb")

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    line = r.readline()
    if line[:1] == b"-":
        raise SystemExit("redis: " + line.decode())
    return line

cmd("SELECT", db)
if mode == "seed":
    for i in range(0, n, 500):
        args = ["HSET", hash_]
        for j in range(i, min(i + 500, n)):
            args += ["provider:p%d" % j, f.encrypt(b"v0-%d" % j)]
        cmd(*args)
    cmd("HSET", hash_, "internal_token", f.encrypt(b"internal-token-0"))
    sys.exit(0)

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
latest, seq = {}, 0
print("ready", flush=True)
while not stop.is_set():
    seq += 1
    field = "provider:p%d" % random.randrange(n)
    val = "v%d-%s" % (seq, field)
    cmd("HSET", hash_, field, f.encrypt(val.encode()))
    latest[field] = val
json.dump({"writes": seq, "latest": latest}, sys.stdout)
`

func pythonHelper(t *testing.T) (string, string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil && exec.Command(py, "-c", "import cryptography").Run() != nil {
		err = fmt.Errorf("python3 has no cryptography")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the gateway test needs python3 with cryptography: %v", err)
		}
		t.Skip(err)
	}
	_, here, _, _ := runtime.Caller(0)
	return py, filepath.Join(filepath.Dir(here), "..", "..", "python")
}

// The gateway's hash, end to end: Python writes tokens under the old key;
// the key rotates (staged, then promoted); the gateway, restarted on the
// promoted env file, keeps writing while reencrypt --targets runs; then
// every field decrypts with the new key alone, the gateway's latest values
// are the ones kept, and key retire of the old key was refused before and
// is allowed after.
func TestGatewayPlay(t *testing.T) {
	py, pypath := pythonHelper(t)
	url, rc, prefix := targetstest.Redis(t)
	ctx := context.Background()
	e := newRotateFixture(t)
	hash := prefix + "gateway:secrets"
	tf := filepath.Join(e.dir, "targets.yaml")
	if err := os.WriteFile(tf, []byte(fmt.Sprintf("targets:\n  gateway-redis:\n    redis: {url_secret: platform/redis_url, hash: %q}\n", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars[config.EnvTargetsFile] = tf
	e.mustRun(url, "put", "platform/redis_url")
	const n = 20000
	python := func(args ...string) *exec.Cmd {
		c := exec.Command(py, append([]string{"-c", gatewayWriter}, args...)...)
		c.Env = append(os.Environ(), "PYTHONPATH="+pypath)
		c.Stderr = os.Stderr
		return c
	}
	redisArgs := []string{e.env, "127.0.0.1", "6379", fmt.Sprint(targetstest.RedisDB), hash, fmt.Sprint(n)}
	if os.Getenv("SA01_TEST_REDIS_URL") != "" {
		t.Skip("the gateway test talks to 127.0.0.1:6379 itself")
	}
	seed := python(append([]string{"seed"}, redisArgs...)...)
	seed.Stderr = nil
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	old := e.k1.ID()
	out := e.mustRun("", "targets", "status", "--format", "json")
	if !strings.Contains(out, fmt.Sprintf("%q: %d", old, n+1)) {
		t.Fatalf("targets status before the rotation:\n%s", out)
	}

	// The staged rotation: stage, (restart), promote.
	e.mustRun("", "key", "stage", "--env-file", e.env)
	e.mustRun("", "key", "promote", "--env-file", e.env)
	e.mustRun("", "reencrypt", "--env-file", e.env) // the store's own versions
	ef, _ := dotenv.Read(e.env)
	ring, _ := rotate.EnvRing(ef)
	newKey := ring.Primary()

	// Before: refused, naming the target and the count. (The store's key
	// table is moved past the retention period so that only the target
	// holds the retire back.)
	st := e.openStore()
	info, err := st.Key(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	info.RetainUntil = time.Now().Add(-time.Hour)
	if err := st.PutKey(ctx, info); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, _, errs := e.run("", "key", "retire", old, "--env-file", e.env)
	if code != ExitConflict || !strings.Contains(errs, fmt.Sprintf("target gateway-redis holds %d tokens under it", n+1)) {
		t.Fatalf("retire before: exit %d\n%s", code, errs)
	}
	if code, out, _ := e.run("", "status"); code != ExitCheckFailed || !strings.Contains(out, "target gateway-redis: 20001 tokens under key "+old+" after its retention") {
		t.Fatalf("status before: exit %d\n%s", code, out)
	}

	// The gateway, restarted on the promoted file, keeps writing.
	w := python(append([]string{"write"}, redisArgs...)...)
	stdin, _ := w.StdinPipe()
	stdout, _ := w.StdoutPipe()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(stdout)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("writer: %q %v", line, err)
	}
	time.Sleep(200 * time.Millisecond)
	code, out, errs = e.run("", "reencrypt", "--targets", "--batch-size", "25", "--format", "json")
	fmt.Fprintln(stdin)
	var wrote struct {
		Writes int               `json:"writes"`
		Latest map[string]string `json:"latest"`
	}
	if err := json.NewDecoder(br).Decode(&wrote); err != nil {
		t.Fatalf("writer output: %v", err)
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("reencrypt --targets: exit %d\n%s%s", code, out, errs)
	}
	var res rotate.TargetsResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	r := res.Results[0]
	t.Logf("gateway wrote %d values meanwhile; reencrypt moved %d, skipped %d (changed meanwhile)", wrote.Writes, r.MovedTotal(), r.Skipped)
	if wrote.Writes < 100 {
		t.Fatalf("the writer made only %d writes during the re-encryption: no overlap to test", wrote.Writes)
	}
	if r.MovedTotal()+r.Skipped > n+1 || r.MovedTotal() < n/2 {
		t.Fatalf("result %+v", r)
	}

	// Every field opens under the new key alone, with the gateway's latest
	// value (or the seeded one where it did not write).
	newOnly, _ := fernet.NewRing(newKey)
	all, err := rc.HGetAll(ctx, hash).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n+1 {
		t.Fatalf("%d fields; want %d", len(all), n+1)
	}
	for field, tok := range all {
		v, err := newOnly.Decrypt([]byte(tok))
		if err != nil {
			t.Fatalf("%s does not decrypt with the new key alone", field)
		}
		want := wrote.Latest[field]
		switch {
		case want != "":
		case field == "internal_token":
			want = "internal-token-0"
		default:
			want = "v0-" + strings.TrimPrefix(field, "provider:p")
		}
		if string(v) != want {
			t.Fatalf("%s = %q; want %q (the gateway's latest)", field, v, want)
		}
	}

	// After: allowed, and status is clean for the target.
	code, out, errs = e.run("", "key", "retire", old, "--env-file", e.env)
	if code != 0 {
		t.Fatalf("retire after: exit %d\n%s%s", code, out, errs)
	}
	st = e.openStore()
	defer st.Close()
	if k, _ := st.Key(ctx, old); k.State != store.KeyRetired {
		t.Fatalf("key %+v", k)
	}
	if code, out, _ := e.run("", "targets", "status"); code != 0 || !strings.Contains(out, newKey.ID()+"*=20001") {
		t.Fatalf("targets status after: exit %d\n%s", code, out)
	}
}

// targets status, verify --targets and import --from-target as a user
// meets them: counts, exit codes, no value printed, clear errors.
func TestTargetsVerbs(t *testing.T) {
	url, rc, prefix := targetstest.Redis(t)
	ctx := context.Background()
	e := newRotateFixture(t)
	code, _, errs := e.run("", "targets", "status")
	if code != ExitUsage || !strings.Contains(errs, "SA01_SECRETS_TARGETS_FILE is not set") {
		t.Fatalf("no file: exit %d %s", code, errs)
	}
	tf := filepath.Join(e.dir, "targets.yaml")
	e.vars[config.EnvTargetsFile] = tf
	os.WriteFile(tf, []byte("targets:\n  gw:\n    redis: {url: 'redis://:hunter2@x/0', hash: h}\n"), 0o600)
	code, _, errs = e.run("", "targets", "status")
	if code != ExitUsage || !strings.Contains(errs, "targets.yaml:3: target gw: unknown key \"url\"") || strings.Contains(errs, "hunter2") {
		t.Fatalf("bad file: exit %d %s", code, errs)
	}
	hash := prefix + "gateway:secrets"
	os.WriteFile(tf, []byte(fmt.Sprintf("targets:\n  gw:\n    redis: {url_secret: platform/redis_url, hash: %q}\n", hash)), 0o600)
	code, out, errs := e.run("", "targets", "status")
	if code != ExitCheckFailed || !strings.Contains(out, "UNREADABLE TARGET") || !strings.Contains(out, "platform/redis_url") {
		t.Fatalf("missing secret: exit %d\n%s%s", code, out, errs)
	}
	e.mustRun(url, "put", "platform/redis_url")
	rc.HSet(ctx, hash, "provider:openai", e.k1.Encrypt([]byte("sk-openai-secret")), "internal_token", e.k1.Encrypt([]byte("tok-secret-1")))
	out = e.mustRun("", "targets", "status")
	if !strings.Contains(out, e.k1.ID()+"*=2") {
		t.Fatalf("status:\n%s", out)
	}
	e.mustRun("", "verify", "--targets")
	code, _, errs = e.run("", "import", "--from-target", "nope", "--prefix", "llm/")
	if code != ExitNotFound || !strings.Contains(errs, `no target "nope" (targets: gw)`) {
		t.Fatalf("import unknown: exit %d %s", code, errs)
	}
	e.mustRun("", "import", "--from-target", "gw", "--prefix", "llm/")
	if got := e.mustRun("", "get", "llm/provider/openai"); got != "sk-openai-secret" {
		t.Fatalf("imported value %q", got)
	}
	rc.HSet(ctx, hash, "plain", "sk-live-plaintext-key")
	code, out, errs = e.run("", "targets", "status", "--format", "json")
	if code != ExitCheckFailed || !strings.Contains(out, `"plaintext": 1`) {
		t.Fatalf("plaintext: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := e.run("", "verify", "--targets"); code != ExitCheckFailed {
		t.Fatalf("verify --targets with plaintext: exit %d", code)
	}
	code, _, errs = e.run("", "import", "--from-target", "gw", "--prefix", "llm2/")
	if code != ExitCheckFailed || !strings.Contains(errs, "1 values are not Fernet tokens") {
		t.Fatalf("import with plaintext: exit %d %s", code, errs)
	}
	for _, o := range []string{out, errs} {
		for _, v := range []string{"sk-live-plaintext-key", "sk-openai-secret", "tok-secret-1", "redis://"} {
			if strings.Contains(o, v) {
				t.Fatalf("a value was printed: %s", o)
			}
		}
	}
	code, _, errs = e.run("", "reencrypt", "--targets", "--target", "gw")
	if code != ExitUsage {
		t.Fatalf("--targets --target: exit %d %s", code, errs)
	}
}

// targets status has help of its own, not the rotation status's, and
// reencrypt's examples show --targets.
func TestTargetsHelp(t *testing.T) {
	root := newRootCommand(&globals{getenv: func(string) string { return "" }})
	c, _, err := root.Find([]string{"targets", "status"})
	if err != nil || !strings.HasPrefix(c.Long, "status reads every target of the targets file") || !strings.Contains(c.Example, "targets status --format json") {
		t.Fatalf("targets status help: %v\n%s\n%s", err, c.Long, c.Example)
	}
	c, _, err = root.Find([]string{"reencrypt"})
	if err != nil || !strings.Contains(c.Example, "reencrypt --targets") {
		t.Fatalf("reencrypt examples: %v\n%s", err, c.Example)
	}
}
