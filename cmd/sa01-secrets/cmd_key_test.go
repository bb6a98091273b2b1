package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// rotateFixture is a SQLite store and an env file, for the rotation verbs.
type rotateFixture struct {
	t      *testing.T
	dir    string
	db     string
	env    string
	k1     *fernet.Key
	vars   map[string]string
	values map[string]string
}

func newRotateFixture(t *testing.T) *rotateFixture {
	t.Helper()
	dir := t.TempDir()
	e := &rotateFixture{t: t, dir: dir, db: filepath.Join(dir, "secrets.db"), env: filepath.Join(dir, ".env"), k1: fernet.GenerateKey(), values: map[string]string{}}
	e.vars = map[string]string{config.EnvDBDSN: "sqlite://" + e.db, "HOME": dir}
	content := "# platform settings\nSA01_AUTH_REQUIRED=true\nSA01_CRYPTO_FERNET_KEY=" + e.k1.Encode() + "\n"
	if err := os.WriteFile(e.env, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	initStore(t, e.getenv)
	return e
}

// getenv answers from the env file's keys (as the services load it), then
// from vars.
func (e *rotateFixture) getenv(name string) string {
	if name == config.EnvFernetKey || name == config.EnvFernetPreviousKeys {
		ef, err := dotenv.Read(e.env)
		if err != nil {
			return ""
		}
		v, _ := ef.Lookup(name)
		return v
	}
	return e.vars[name]
}

func (e *rotateFixture) run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, e.getenv)
	return code, out.String(), errb.String()
}

func (e *rotateFixture) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (e *rotateFixture) put(n int) {
	for i := range n {
		name := fmt.Sprintf("app/secret_%d", i)
		val := fmt.Sprintf("value %d %s", i, strings.Repeat("x", i%50))
		e.mustRun(val, "put", name)
		e.values[name] = val
	}
}

// checkAll reads every secret back with the env file's keys.
func (e *rotateFixture) checkAll() {
	e.t.Helper()
	for name, want := range e.values {
		if got := e.mustRun("", "get", name); got != want {
			e.t.Fatalf("get %s = %q, want %q", name, got, want)
		}
	}
	e.mustRun("", "verify")
}

func (e *rotateFixture) envBytes() string {
	b, _ := os.ReadFile(e.env)
	return string(b)
}

func (e *rotateFixture) openStore() *sqlite.DB {
	e.t.Helper()
	db, err := sqlite.Open(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

func TestKeyRotateCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.put(30)
	code, out, errs := e.run("", "key", "rotate", "--env-file", e.env, "--batch-size", "7")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	ef, err := dotenv.Read(e.env)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := rotate.EnvRing(ef)
	ks := ring.Keys()
	if len(ks) != 2 || ks[1].ID() != e.k1.ID() {
		t.Fatalf("env ring after rotate: %d keys", len(ks))
	}
	for _, want := range []string{"new primary key:  " + ks[0].ID(), "30 versions from key " + e.k1.ID(), "decrypt-only until"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, k := range ks {
		if strings.Contains(out+errs, k.Encode()) {
			t.Fatal("a key was printed without --print-key")
		}
	}
	if !strings.Contains(errs, "reencrypt: 30/30 versions") {
		t.Errorf("no plain progress line on a non-terminal:\n%s", errs)
	}
	if !strings.HasPrefix(e.envBytes(), "# platform settings\nSA01_AUTH_REQUIRED=true\n") {
		t.Errorf("the env file lost its other lines:\n%s", e.envBytes())
	}
	e.checkAll()

	// key list: the new key holds all 30 versions, the old none.
	list := e.mustRun("", "key", "list", "--format", "json")
	var keys []rotate.KeyStatus
	if err := json.Unmarshal([]byte(list), &keys); err != nil {
		t.Fatal(err)
	}
	states := map[string]rotate.KeyStatus{}
	for _, k := range keys {
		states[k.ID] = k
	}
	if k := states[ks[0].ID()]; k.State != "active" || k.Versions != 30 || !k.Primary {
		t.Errorf("new key in key list: %+v", k)
	}
	if k := states[e.k1.ID()]; k.State != "decrypt-only" || k.Versions != 0 || k.RetainUntil == nil {
		t.Errorf("old key in key list: %+v", k)
	}
	text := e.mustRun("", "key", "list")
	if !strings.Contains(text, e.k1.ID()) || !strings.Contains(text, "decrypt-only") {
		t.Errorf("key list:\n%s", text)
	}

	// --print-key prints exactly the new key; --quiet prints no progress.
	code, out, errs = e.run("", "key", "rotate", "--env-file", e.env, "--print-key", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ef, _ = dotenv.Read(e.env)
	ring, _ = rotate.EnvRing(ef)
	if !strings.Contains(out, ring.Primary().Encode()+"\n") {
		t.Error("--print-key did not print the new key")
	}
	if strings.Contains(errs, "reencrypt:") {
		t.Errorf("--quiet printed progress: %s", errs)
	}
	e.checkAll()
}

func TestKeyRotateBadInputCLI(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *rotateFixture) []string
		code  int
		msg   string
	}{
		{"missing env file", func(e *rotateFixture) []string {
			return []string{"key", "rotate", "--env-file", filepath.Join(e.dir, "nope.env")}
		}, ExitUsage, "nope.env: does not exist"},
		{"env file is a directory", func(e *rotateFixture) []string {
			return []string{"key", "rotate", "--env-file", e.dir}
		}, ExitUsage, "is not a regular file"},
		{"env file without the key", func(e *rotateFixture) []string {
			p := filepath.Join(e.dir, "nokey.env")
			os.WriteFile(p, []byte("SA01_AUTH_REQUIRED=true\n"), 0o600)
			return []string{"key", "rotate", "--env-file", p}
		}, ExitUsage, "SA01_CRYPTO_FERNET_KEY is not set in it"},
		{"key that does not match the data", func(e *rotateFixture) []string {
			p := filepath.Join(e.dir, "other.env")
			os.WriteFile(p, []byte("SA01_CRYPTO_FERNET_KEY="+fernet.GenerateKey().Encode()+"\n"), 0o600)
			return []string{"key", "rotate", "--env-file", p}
		}, ExitInvalidToken, "the audit key is wrapped under key " + "%K1%"}, // refused before any version is read: the store's audit key opens only under K1
		{"retire the active key", func(e *rotateFixture) []string {
			return []string{"key", "retire", e.k1.ID(), "--force", "--reason", "test"}
		}, ExitUsage, "is the active key"},
		{"retire an unknown key", func(e *rotateFixture) []string {
			return []string{"key", "retire", "000000000000"}
		}, ExitNotFound, "not found"},
		{"force without reason", func(e *rotateFixture) []string {
			return []string{"key", "retire", e.k1.ID(), "--force"}
		}, ExitUsage, "--force needs --reason"},
		{"two rotations at once", func(e *rotateFixture) []string {
			l, err := rotate.LockFile(context.Background(), e.env+".lock", 0)
			if err != nil {
				e.t.Fatal(err)
			}
			e.t.Cleanup(func() { l.Release() })
			return []string{"key", "rotate", "--env-file", e.env}
		}, ExitConflict, "another rotation is running"},
		{"two rotations at once (store)", func(e *rotateFixture) []string {
			db := e.openStore()
			unlock, err := db.LockRotation(context.Background())
			if err != nil {
				e.t.Fatal(err)
			}
			e.t.Cleanup(func() { unlock(); db.Close() })
			return []string{"key", "rotate", "--env-file", e.env}
		}, ExitConflict, "another rotation is running: the store is locked"},
		{"key on argv refused", func(e *rotateFixture) []string {
			return []string{"reencrypt", "--old-key", e.k1.Encode()}
		}, ExitUsage, "unknown flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newRotateFixture(t)
			e.put(3)
			before := e.envBytes()
			args := c.setup(e)
			code, out, errs := e.run("", args...)
			msg := strings.ReplaceAll(c.msg, "%K1%", e.k1.ID())
			if code != c.code || !strings.Contains(errs, msg) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q", code, c.code, errs, msg)
			}
			if !strings.HasPrefix(errs, "sa01-secrets: ") || !strings.Contains(errs, "\nhint: ") {
				t.Errorf("error not in the CLI's form:\n%s", errs)
			}
			if strings.Contains(out+errs, e.k1.Encode()) {
				t.Fatal("a key was printed")
			}
			if e.envBytes() != before {
				t.Error("the env file changed")
			}
			if _, err := os.Stat(e.env + ".bak"); err == nil {
				t.Error("a .bak was written")
			}
			db := e.openStore()
			defer db.Close()
			counts, _ := db.CountByKey(context.Background())
			if counts[e.k1.ID()] != 3 || len(counts) != 1 {
				t.Errorf("versions moved: %v", counts)
			}
			keys, _ := db.ListKeys(context.Background())
			if len(keys) != 1 || keys[0].State != store.KeyActive {
				t.Errorf("key table changed: %+v", keys)
			}
		})
	}
}

// The staged procedure through the CLI, with two env files (two nodes).
func TestStagedRotationCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.put(12)
	envB := filepath.Join(e.dir, "b.env")
	os.WriteFile(envB, []byte(e.envBytes()), 0o600)
	keyFile := filepath.Join(e.dir, "new.key")
	out := e.mustRun("", "key", "stage", "--env-file", e.env, "--print-key")
	if err := os.WriteFile(keyFile, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	nk, err := fernet.ParseKey(out)
	if err != nil {
		t.Fatalf("stage --print-key printed no key: %v", err)
	}
	e.mustRun("", "key", "stage", "--env-file", envB, "--key-file", keyFile)
	e.checkAll()
	e.mustRun("", "key", "promote", "--env-file", e.env)
	// Node B still has the old primary: its reencrypt is refused.
	code, _, errs := e.run("", "reencrypt", "--env-file", envB)
	if code != ExitUsage || !strings.Contains(errs, "out of date") {
		t.Fatalf("reencrypt from a stale node: %d %s", code, errs)
	}
	e.mustRun("", "key", "promote", "--env-file", envB)
	out = e.mustRun("", "reencrypt", "--env-file", envB, "--format", "json")
	var res struct {
		Target string           `json:"target_key_id"`
		Moved  map[string]int64 `json:"moved_by_key_id"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Target != nk.ID() || res.Moved[e.k1.ID()] != 12 {
		t.Errorf("reencrypt: %+v", res)
	}
	e.checkAll()
	// Retire is refused within the retention period; then forced with a reason.
	code, _, errs = e.run("", "key", "retire", e.k1.ID(), "--env-file", e.env)
	if code != ExitConflict || !strings.Contains(errs, "retained until") || !strings.Contains(errs, "--force --reason") {
		t.Fatalf("retire in retention: %d %s", code, errs)
	}
	e.mustRun("", "key", "retire", e.k1.ID(), "--env-file", e.env, "--force", "--reason", "test retirement")
	ef, _ := dotenv.Read(e.env)
	if ring, _ := rotate.EnvRing(ef); ring.Key(e.k1.ID()) != nil || len(ring.Keys()) != 1 {
		t.Error("retired key still in the env file")
	}
	e.checkAll()
}

// TestReencryptKeyFilesAloneCLI: as the policy's reencrypt script, the two
// key files are all reencrypt needs; no SA01_CRYPTO_FERNET_KEY is set (the
// store opened with the old key, not refused for want of the variable).
func TestReencryptKeyFilesAloneCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.put(3)
	k2 := fernet.GenerateKey()
	oldF, newF := filepath.Join(e.dir, "old.key"), filepath.Join(e.dir, "new.key")
	if err := os.WriteFile(oldF, []byte(e.k1.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newF, []byte(k2.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.env, []byte("# no key here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("", "reencrypt", "--old-key-file", oldF, "--new-key-file", newF, "--quiet")
	if !strings.Contains(out, "re-encrypted 3 versions from key "+e.k1.ID()+" to key "+k2.ID()) {
		t.Errorf("reencrypt output:\n%s", out)
	}
	// The new key alone opens everything, the audit trail included.
	if err := os.WriteFile(e.env, []byte("SA01_CRYPTO_FERNET_KEY="+k2.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.checkAll()
	e.mustRun("", "audit", "verify")
}

func TestReencryptOldNewKeyFilesCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.put(8)
	k2 := fernet.GenerateKey()
	oldF, newF := filepath.Join(e.dir, "old.key"), filepath.Join(e.dir, "new.key")
	os.WriteFile(oldF, []byte(e.k1.Encode()+"\n"), 0o600)
	os.WriteFile(newF, []byte(k2.Encode()+"\n"), 0o600)
	out := e.mustRun("", "reencrypt", "--old-key-file", oldF, "--new-key-file", newF, "--quiet")
	if !strings.Contains(out, "re-encrypted 8 versions from key "+e.k1.ID()+" to key "+k2.ID()) {
		t.Errorf("reencrypt output:\n%s", out)
	}
	// The env file the services load now gets the new key, policy style.
	os.WriteFile(e.env, []byte("SA01_CRYPTO_FERNET_KEY="+k2.Encode()+"\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS="+e.k1.Encode()+"\n"), 0o600)
	e.checkAll()
	// --old-key-env: the key comes from a named variable, not argv.
	k3 := fernet.GenerateKey()
	e.vars["OLD_KEY"] = k2.Encode()
	e.vars["NEW_KEY"] = k3.Encode()
	out = e.mustRun("", "reencrypt", "--old-key-env", "OLD_KEY", "--new-key-env", "NEW_KEY", "--quiet")
	if !strings.Contains(out, "re-encrypted 8 versions from key "+k2.ID()) {
		t.Errorf("reencrypt --old-key-env:\n%s", out)
	}
	code, _, errs := e.run("", "reencrypt", "--old-key-env", "UNSET_VAR")
	if code != ExitUsage || !strings.Contains(errs, "$UNSET_VAR is not set") {
		t.Errorf("unset variable: %d %s", code, errs)
	}
}

func TestStatusCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.put(2)
	e.mustRun("tok", "put", "auth/internal_token", "--class", "internal-token")
	code, out, errs := e.run("", "status")
	if code != 0 || !strings.Contains(out, "compliant") {
		t.Fatalf("fresh store: exit %d\n%s%s", code, out, errs)
	}
	// Make the active key and the token old.
	db := e.openStore()
	ctx := context.Background()
	k, err := db.Key(ctx, e.k1.ID())
	if err != nil {
		t.Fatal(err)
	}
	k.ActivatedAt = time.Now().Add(-100 * 24 * time.Hour)
	k.CreatedAt = k.ActivatedAt
	if err := db.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, _ = e.run("", "key", "status", "--format", "json")
	if code != ExitCheckFailed {
		t.Fatalf("overdue key: exit %d\n%s", code, out)
	}
	var rep rotate.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Compliant || len(rep.Overdue) != 1 || !strings.Contains(rep.Overdue[0], "more than 90 days") {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Secrets) != 1 || rep.Secrets[0].Name != "auth/internal_token" || rep.Secrets[0].PeriodDay != 180 {
		t.Errorf("secrets %+v", rep.Secrets)
	}
	// Rotating the key makes it compliant again.
	e.mustRun("", "key", "rotate", "--env-file", e.env, "--quiet")
	if code, out, _ := e.run("", "status"); code != 0 {
		t.Errorf("after rotation: exit %d\n%s", code, out)
	}
}

func TestRotateSecretCLI(t *testing.T) {
	e := newRotateFixture(t)
	e.mustRun("old-token", "put", "auth/internal_token", "--class", "internal-token")
	e.mustRun("old-key", "put", "app/fernet", "--class", "encryption-key")
	e.mustRun("old-api-key", "put", "llm/openai_api_key", "--class", "api-key")

	out := e.mustRun("", "rotate", "auth/internal_token")
	if !strings.Contains(out, "version 2 generated (token)") {
		t.Errorf("rotate output: %s", out)
	}
	tok := e.mustRun("", "get", "auth/internal_token")
	if tok == "old-token" || len(tok) != 43 || strings.Contains(out, tok) {
		t.Errorf("new token %q (printed: %v)", tok, strings.Contains(out, tok))
	}
	e.mustRun("", "rotate", "app/fernet")
	if _, err := fernet.ParseKey(e.mustRun("", "get", "app/fernet")); err != nil {
		t.Errorf("rotated encryption key is not a Fernet key: %v", err)
	}
	e.mustRun("new-api-key", "rotate", "llm/openai_api_key")
	if got := e.mustRun("", "get", "llm/openai_api_key"); got != "new-api-key" {
		t.Errorf("api key = %q", got)
	}
	if code, _, _ := e.run("", "rotate", "no/such"); code != ExitNotFound {
		t.Errorf("rotate of a missing secret: exit %d", code)
	}
	if code, _, errs := e.run("", "rotate", "llm/openai_api_key", "--generate", "nonsense"); code != ExitUsage {
		t.Errorf("bad --generate: %d %s", code, errs)
	}
}

func TestReencryptSameKeyRefused(t *testing.T) {
	e := newRotateFixture(t)
	f := filepath.Join(e.dir, "k")
	os.WriteFile(f, []byte(e.k1.Encode()), 0o600)
	code, _, errs := e.run("", "reencrypt", "--old-key-file", f, "--new-key-file", f)
	if code != ExitUsage || !strings.Contains(errs, "the same key") {
		t.Errorf("same key: %d %s", code, errs)
	}
	code, _, errs = e.run("", "reencrypt", "--old-key-file", filepath.Join(e.dir, "missing"))
	if code != ExitUsage || !strings.Contains(errs, "--old-key-file: cannot read") {
		t.Errorf("missing key file: %d %s", code, errs)
	}
	os.WriteFile(f, []byte("not a key"), 0o600)
	code, _, errs = e.run("", "reencrypt", "--old-key-file", f)
	if code != ExitUsage || !strings.Contains(errs, "--old-key-file: malformed Fernet key") || strings.Contains(errs, "not a key") {
		t.Errorf("malformed key file: %d %s", code, errs)
	}
}

// TestKeyFileWiderThan0600Refused: a key file group or others may read is
// refused, as ssh refuses such a private key, and the key is not named.
func TestKeyFileWiderThan0600Refused(t *testing.T) {
	e := newRotateFixture(t)
	f := filepath.Join(e.dir, "k")
	os.WriteFile(f, []byte(fernet.GenerateKey().Encode()), 0o600)
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"reencrypt", "--old-key-file", f}, {"key", "stage", "--env-file", e.env, "--key-file", f}} {
		code, _, errs := e.run("", args...)
		if code != ExitUsage || !strings.Contains(errs, "readable or writable by group or others") {
			t.Errorf("%v with a 0644 key file: exit %d, %s", args, code, errs)
		}
	}
}
