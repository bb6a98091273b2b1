package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// basicResult is one run of the CLI.
type basicResult struct {
	code           int
	stdout, stderr string
}

// basicRun runs the CLI with args, stdin and the environment env.
func basicRun(t *testing.T, env map[string]string, stdin string, args ...string) basicResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return basicResult{code, out.String(), errb.String()}
}

func (r basicResult) want(t *testing.T, code int) basicResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if code != ExitOK && !strings.HasPrefix(r.stderr, "sa01-secrets: ") {
		t.Fatalf("stderr does not start with 'sa01-secrets: ': %q", r.stderr)
	}
	return r
}

func TestGenerateKey(t *testing.T) {
	r := basicRun(t, nil, "", "generate", "key").want(t, ExitOK)
	line := strings.TrimSuffix(r.stdout, "\n")
	if strings.Contains(line, "\n") || len(line) != 44 {
		t.Fatalf("generate key printed %q", r.stdout)
	}
	k, err := fernet.ParseKey(line)
	if err != nil {
		t.Fatal(err)
	}
	if again := basicRun(t, nil, "", "generate", "key").stdout; again == r.stdout {
		t.Fatal("two generated keys are equal")
	}
	// Python's Fernet() takes it as is and decrypts what we encrypt with it.
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if exec.Command(py, "-c", "import cryptography.fernet").Run() != nil {
		t.Skip("python3 lacks the cryptography package")
	}
	tok := k.Encrypt([]byte("from go"))
	cmd := exec.Command(py, "-c", "import sys; from cryptography.fernet import Fernet; k, t = sys.stdin.read().split(); print(Fernet(k).decrypt(t.encode()).decode(), end='')")
	cmd.Stdin = strings.NewReader(r.stdout + string(tok) + "\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "from go" {
		t.Fatalf("python: %q, %v", out, err)
	}
}

func TestGenerateToken(t *testing.T) {
	alphabet := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for _, c := range []struct {
		args []string
		n    int
	}{{nil, 32}, {[]string{"--bytes", "16"}, 16}, {[]string{"--bytes=48"}, 48}, {[]string{"--bytes", "1024"}, 1024}} {
		r := basicRun(t, nil, "", append([]string{"generate", "token"}, c.args...)...).want(t, ExitOK)
		tok := strings.TrimSuffix(r.stdout, "\n")
		if len(tok) != base64.RawURLEncoding.EncodedLen(c.n) || !alphabet.MatchString(tok) {
			t.Errorf("%v: token %q (%d characters)", c.args, tok, len(tok))
		}
		if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != c.n {
			t.Errorf("%v: %d bytes, %v", c.args, len(raw), err)
		}
	}
	if a, b := basicRun(t, nil, "", "generate", "token"), basicRun(t, nil, "", "generate", "token"); a.stdout == b.stdout {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"0", "15", "1025", "-1", "abc"} {
		r := basicRun(t, nil, "", "generate", "token", "--bytes", bad).want(t, ExitUsage)
		if r.stdout != "" {
			t.Errorf("--bytes %s printed %q", bad, r.stdout)
		}
	}
}

func keyEnv(keys ...*fernet.Key) map[string]string {
	m := map[string]string{config.EnvFernetKey: keys[0].Encode()}
	var prev []string
	for _, k := range keys[1:] {
		prev = append(prev, k.Encode())
	}
	if len(prev) > 0 {
		m[config.EnvFernetPreviousKeys] = strings.Join(prev, ",")
	}
	return m
}

func TestEncryptDecrypt(t *testing.T) {
	k := fernet.GenerateKey()
	env := keyEnv(k)
	for _, msg := range []string{"", "x", "line one\nline two\n", strings.Repeat("\x00\xff", 5000)} {
		r := basicRun(t, env, msg, "encrypt").want(t, ExitOK)
		if !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
			t.Fatalf("encrypt output %q is not one line", r.stdout)
		}
		if got, err := k.Decrypt([]byte(r.stdout)); err != nil || string(got) != msg {
			t.Fatalf("token does not decrypt to the input: %v", err)
		}
		d := basicRun(t, env, r.stdout, "decrypt").want(t, ExitOK)
		if d.stdout != msg {
			t.Fatalf("decrypt = %q, want %q", d.stdout, msg)
		}
		// Surrounding whitespace is ignored.
		if d := basicRun(t, env, "\n  "+r.stdout+"\r\n", "decrypt").want(t, ExitOK); d.stdout != msg {
			t.Fatal("decrypt with surrounding whitespace")
		}
	}
}

func TestDecryptPreviousKeys(t *testing.T) {
	cur, old, older := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	env := keyEnv(cur, old, older)
	for _, k := range []*fernet.Key{cur, old, older} {
		tok := k.Encrypt([]byte("value of " + k.ID()))
		if r := basicRun(t, env, string(tok), "decrypt").want(t, ExitOK); r.stdout != "value of "+k.ID() {
			t.Fatalf("decrypt with %s: %q", k.ID(), r.stdout)
		}
	}
	// encrypt uses the primary only.
	tok := basicRun(t, env, "new", "encrypt").want(t, ExitOK).stdout
	if _, err := cur.Decrypt([]byte(tok)); err != nil {
		t.Fatal("encrypt did not use the primary key")
	}
	if _, err := old.Decrypt([]byte(tok)); err == nil {
		t.Fatal("encrypt used a previous key")
	}
}

// TestDecryptTTL: within --ttl the plaintext comes out exactly; past it
// (or beyond the 60 s clock skew) nothing comes out but the error.
func TestDecryptTTL(t *testing.T) {
	k := fernet.GenerateKey()
	env := keyEnv(k)
	at := func(msg string, d time.Duration) string { return string(k.EncryptAt([]byte(msg), time.Now().Add(d))) }
	accept := func(tok, want string, args ...string) {
		t.Helper()
		if r := basicRun(t, env, tok, append([]string{"decrypt"}, args...)...).want(t, ExitOK); r.stdout != want {
			t.Errorf("decrypt %v = %q, want %q", args, r.stdout, want)
		}
	}
	refuse := func(tok, plain string, args ...string) {
		t.Helper()
		r := basicRun(t, env, tok, append([]string{"decrypt"}, args...)...).want(t, ExitInvalidToken)
		if r.stdout != "" || !strings.Contains(r.stderr, "invalid token") || strings.Contains(r.stderr, plain) {
			t.Errorf("decrypt %v refused: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
	}
	old := at("old-plaintext", -2*time.Hour)
	future := at("future-plaintext", 5*time.Minute)
	accept(at("fresh-plaintext", 0), "fresh-plaintext", "--ttl", "60")
	refuse(old, "old-plaintext", "--ttl", "3600")
	accept(old, "old-plaintext", "--ttl", "10800")
	accept(old, "old-plaintext") // no --ttl: no time checks
	accept(future, "future-plaintext")
	refuse(future, "future-plaintext", "--ttl", "3600") // beyond the 60 s skew
	// --ttl 0 is a real limit: a token from two seconds ago is refused.
	refuse(at("x-2s", -2*time.Second), "x-2s", "--ttl", "0")
	accept(at("x+30s", 30*time.Second), "x+30s", "--ttl", "0")
	accept(old, "old-plaintext", "--ttl", "9223372037") // beyond a Duration: no overflow
	for _, bad := range []string{"-1", "soon"} {
		if r := basicRun(t, env, old, "decrypt", "--ttl", bad).want(t, ExitUsage); r.stdout != "" {
			t.Errorf("--ttl %s printed %q", bad, r.stdout)
		}
	}
}

func TestDecryptFailures(t *testing.T) {
	k, other := fernet.GenerateKey(), fernet.GenerateKey()
	env := keyEnv(k)
	tok := string(other.Encrypt([]byte("not yours")))
	r := basicRun(t, env, tok, "decrypt").want(t, ExitInvalidToken)
	if r.stdout != "" || strings.Contains(r.stderr, tok) || !strings.Contains(r.stderr, "hint: loaded keys: "+k.ID()) {
		t.Fatalf("wrong key: stdout %q stderr %q", r.stdout, r.stderr)
	}
	for _, bad := range []string{"garbage", tok[:len(tok)-4], strings.ToUpper(tok)} {
		basicRun(t, env, bad, "decrypt").want(t, ExitInvalidToken)
	}
	for _, empty := range []string{"", " \n\t"} {
		r := basicRun(t, env, empty, "decrypt").want(t, ExitUsage)
		if !strings.Contains(r.stderr, "stdin: empty") {
			t.Fatalf("empty stdin: %q", r.stderr)
		}
	}
}

func TestMissingAndMalformedKey(t *testing.T) {
	for _, verb := range []string{"encrypt", "decrypt"} {
		r := basicRun(t, nil, "x", verb).want(t, ExitUsage)
		if !strings.Contains(r.stderr, config.EnvFernetKey+": not set") || !strings.Contains(r.stderr, "hint: generate one with 'sa01-secrets generate key'") {
			t.Fatalf("%s without a key: %q", verb, r.stderr)
		}
	}
	good := fernet.GenerateKey().Encode()
	for _, c := range []struct {
		env    map[string]string
		name   string
		secret string
	}{
		{map[string]string{config.EnvFernetKey: good[:40]}, config.EnvFernetKey, good[:40]},
		{map[string]string{config.EnvFernetKey: strings.TrimRight(good, "=")}, config.EnvFernetKey, strings.TrimRight(good, "=")},
		{map[string]string{config.EnvFernetKey: good, config.EnvFernetPreviousKeys: "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/=="}, config.EnvFernetPreviousKeys, "Zm9vYmFyYmF6cXV4"},
		{map[string]string{config.EnvFernetKey: good, config.EnvFernetPreviousKeys: good}, config.EnvFernetPreviousKeys, good},
	} {
		for _, verb := range []string{"encrypt", "decrypt", "config"} {
			r := basicRun(t, c.env, "gAAAAA", verb).want(t, ExitUsage)
			if !strings.Contains(r.stderr, c.name) || strings.Contains(r.stderr, c.secret) || strings.Contains(r.stderr+r.stdout, good) {
				t.Fatalf("%s with a bad %s: stderr %q", verb, c.name, r.stderr)
			}
		}
	}
}

func TestKeyFromFile(t *testing.T) {
	k := fernet.GenerateKey()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(k.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvFernetKey + "_FILE": p}
	tok := basicRun(t, env, "via file", "encrypt").want(t, ExitOK).stdout
	if r := basicRun(t, env, tok, "decrypt").want(t, ExitOK); r.stdout != "via file" {
		t.Fatalf("decrypt = %q", r.stdout)
	}
	env[config.EnvFernetKey] = k.Encode()
	r := basicRun(t, env, "x", "encrypt").want(t, ExitUsage)
	if !strings.Contains(r.stderr, "both") || strings.Contains(r.stderr, k.Encode()) {
		t.Fatalf("both set: %q", r.stderr)
	}
}

func TestConfigVerb(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	env := keyEnv(k1, k2)
	env[config.EnvDBDSN] = "postgresql://user:hunter2@host:5432/db"
	env[config.EnvSecretsToken] = "sa01s-token-value"
	// the platform's own variables are not ours: config neither reads nor lists them
	env["SA01_REDIS_URL"] = "redis://:redispw@host:6379/0"
	env["SA01_AUTH_INTERNAL_TOKEN"] = "internal-token-value"
	env["SA01_DB_DSN"] = "postgresql://gateway:gatewaypw@db:5432/gateway"
	r := basicRun(t, env, "", "config").want(t, ExitOK)
	for _, want := range []string{"key " + k1.ID(), "key " + k2.ID(), "postgresql://user:****@host:5432/db", "(set)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config output lacks %q:\n%s", want, r.stdout)
		}
	}
	j := basicRun(t, env, "", "config", "--format", "json").want(t, ExitOK)
	var settings []config.Setting
	if err := json.Unmarshal([]byte(j.stdout), &settings); err != nil || len(settings) == 0 {
		t.Fatalf("config --format json: %v\n%s", err, j.stdout)
	}
	for _, out := range []string{r.stdout, j.stdout} {
		for _, secret := range []string{k1.Encode(), k2.Encode(), "hunter2", "redispw", "internal-token-value", "sa01s-token-value", "gatewaypw"} {
			if strings.Contains(out, secret) {
				t.Fatalf("config prints a secret:\n%s", out)
			}
		}
		for _, platform := range config.PlatformVars {
			if strings.Contains(out, platform+" ") || strings.Contains(out, `"`+platform+`"`) {
				t.Fatalf("config lists the platform's %s:\n%s", platform, out)
			}
		}
	}
	basicRun(t, env, "", "config", "--format", "yaml").want(t, ExitUsage)
	basicRun(t, map[string]string{config.EnvLogLevel: "loud"}, "", "config").want(t, ExitUsage)
}

func TestVersionAndUsage(t *testing.T) {
	r := basicRun(t, nil, "", "version").want(t, ExitOK)
	if !regexp.MustCompile(`^sa01-secrets \S+ \(revision \S+, go\S+\)\n$`).MatchString(r.stdout) {
		t.Fatalf("version = %q", r.stdout)
	}
	if f := basicRun(t, nil, "", "--version").want(t, ExitOK); f.stdout != r.stdout {
		t.Fatalf("--version = %q, version = %q", f.stdout, r.stdout)
	}
	basicRun(t, nil, "", "version", "extra").want(t, ExitUsage)
	basicRun(t, nil, "", "no-such-verb").want(t, ExitUsage)
	basicRun(t, nil, "", "encrypt", "--no-such-flag").want(t, ExitUsage)
	basicRun(t, nil, "", "encrypt", "the-secret-in-argv").want(t, ExitUsage)
	for _, verb := range [][]string{{"generate"}, {"encrypt"}, {"decrypt"}, {"config"}} {
		h := basicRun(t, nil, "", append(verb, "--help")...).want(t, ExitOK)
		if !strings.Contains(h.stdout, "Examples:") {
			t.Errorf("%v --help has no examples", verb)
		}
	}
}

// The production binary has no way to turn audit off: the benchmarks'
// flag exists only in a build with the sa01bench tag (serve_bench.go).
func TestServeHasNoAuditOffFlag(t *testing.T) {
	r := basicRun(t, nil, "", "serve", "--benchmark-without-audit").want(t, ExitUsage)
	if !strings.Contains(r.stderr, "unknown flag") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

// A word that names no verb of a group is a usage error (exit 2) with the
// closest verb as the hint, never the group's help and exit 0; the group
// alone still prints its help.
func TestUnknownVerbOfGroup(t *testing.T) {
	for _, c := range []struct {
		args []string
		hint string
	}{
		{[]string{"generate", "tokn"}, "'sa01-secrets generate token'"},
		{[]string{"key", "lst"}, "'sa01-secrets key list'"},
		{[]string{"identity", "ad"}, "'sa01-secrets identity add'"},
		{[]string{"audit", "zzz"}, "sa01-secrets audit --help"},
		{[]string{"gett", "x"}, "'sa01-secrets get'"},
	} {
		r := basicRun(t, nil, "", c.args...).want(t, ExitUsage)
		if !strings.Contains(r.stderr, "unknown command") || !strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, c.hint) {
			t.Errorf("%v: stderr %q, want 'unknown command' and a hint with %q", c.args, r.stderr, c.hint)
		}
		if strings.Count(r.stderr, "\n") != 2 || r.stdout != "" {
			t.Errorf("%v: want one error line and one hint, no help: stdout %q, stderr %q", c.args, r.stdout, r.stderr)
		}
	}
	if r := basicRun(t, nil, "", "key").want(t, ExitOK); !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("key alone: %q", r.stdout)
	}
}

// encrypt given the value, login given a credential and mask given a
// secret as an argument refuse it without printing it back (cobra's
// "unknown command" error quoted it).
func TestSecretArgumentRefusedUnechoed(t *testing.T) {
	env := map[string]string{config.EnvFernetKey: fernet.GenerateKey().Encode(), config.EnvSecretsAddr: "http://127.0.0.1:1"}
	for _, c := range []struct{ verb, value, hint string }{
		{"encrypt", "sk-CANARY-argv-5e1d", "| sa01-secrets encrypt"},
		{"login", "sa01c_CANARYargv0000000000000000000000000000000", "--credential-file"},
		{"mask", "sk-CANARY-argv-77ab", "| sa01-secrets mask"},
	} {
		r := basicRun(t, env, "", c.verb, c.value).want(t, ExitUsage)
		if strings.Contains(r.stderr+r.stdout, c.value) || !strings.Contains(r.stderr, c.verb+" takes no argument") || !strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, c.hint) {
			t.Errorf("%s VALUE: stdout %q, stderr %q", c.verb, r.stdout, r.stderr)
		}
	}
}

// A number flag given something else says what it wants, not Go's
// strconv error.
func TestNumberFlagSaysWhatItWants(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"decrypt", "--ttl", "1h"}, `invalid argument "1h" for "--ttl" flag: want a whole number`},
		{[]string{"generate", "token", "--bytes", "99999999999999999999999"}, `for "--bytes" flag: out of range`},
	} {
		r := basicRun(t, nil, "", c.args...).want(t, ExitUsage)
		if !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "strconv") {
			t.Errorf("%v: stderr %q, want %q", c.args, r.stderr, c.want)
		}
	}
}
