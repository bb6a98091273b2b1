package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func TestBackupRestoreVerbs(t *testing.T) {
	dir := t.TempDir()
	key := fernet.GenerateKey().Encode()
	src := map[string]string{config.EnvFernetKey: key, config.EnvDBDSN: "sqlite://" + filepath.Join(dir, "src.db")}
	file := filepath.Join(dir, "b.sa01bk")
	// backup reads a store; it never makes one.
	basicRun(t, src, "", "backup", "--output", file).want(t, ExitUnavailable)
	if _, err := os.Stat(filepath.Join(dir, "src.db")); err == nil {
		t.Fatal("backup created the store it was asked to read")
	}
	initStore(t, func(k string) string { return src[k] })
	basicRun(t, src, "s3cret-value", "put", "app/db_password").want(t, ExitOK)
	basicRun(t, src, "", "backup", "--output", file).want(t, ExitOK)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), "s3cret-value") || strings.Contains(string(data), key) {
		t.Fatal("the backup holds the value or the key")
	}
	r := basicRun(t, src, "", "backup", "--verify", file).want(t, ExitOK)
	if !strings.Contains(r.stdout, "authenticated: MAC under key") || !strings.Contains(r.stdout, "audit chain intact") {
		t.Fatalf("verify printed %q", r.stdout)
	}
	// The source's chain records the backup.
	r = basicRun(t, src, "", "audit", "query", "--action", "backup").want(t, ExitOK)
	if !strings.Contains(r.stdout, "backup") {
		t.Fatalf("no backup event: %q", r.stdout)
	}

	dst := map[string]string{config.EnvFernetKey: key, config.EnvDBDSN: "sqlite://" + filepath.Join(dir, "dst.db")}
	basicRun(t, dst, "", "restore", "--input", file).want(t, ExitOK)
	if got := basicRun(t, dst, "", "get", "app/db_password").want(t, ExitOK).stdout; got != "s3cret-value" {
		t.Fatalf("restored value %q", got)
	}
	basicRun(t, dst, "", "audit", "verify").want(t, ExitOK)
	if got := basicRun(t, dst, "", "identity", "list").want(t, ExitOK).stdout; !strings.Contains(got, "admin") {
		t.Fatalf("the restored store's identities: %q", got)
	}
	basicRun(t, dst, "", "restore", "--input", file).want(t, ExitConflict)

	// A corrupted file: refused with its byte offset, exit 1.
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 1
	badFile := filepath.Join(dir, "bad.sa01bk")
	if err := os.WriteFile(badFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r = basicRun(t, src, "", "backup", "--verify", badFile).want(t, ExitCheckFailed)
	if !strings.Contains(r.stderr, "at byte ") {
		t.Fatalf("corruption reported as %q", r.stderr)
	}
	empty := map[string]string{config.EnvFernetKey: key, config.EnvDBDSN: "sqlite://" + filepath.Join(dir, "empty.db")}
	basicRun(t, empty, "", "restore", "--input", badFile).want(t, ExitCheckFailed)
	basicRun(t, empty, "", "restore", "--input", file).want(t, ExitOK) // nothing was left by the refused one
}

func TestMigrateNeverTakesAPasswordFromArgv(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{config.EnvFernetKey: fernet.GenerateKey().Encode(), config.EnvDBDSN: "sqlite://" + filepath.Join(dir, "src.db")}
	for _, dsn := range []string{"postgres://sa01:hunter2@db:5432/sa01", "postgres://db/sa01?password=hunter2"} {
		r := basicRun(t, env, "", "migrate", "--to", dsn).want(t, ExitUsage)
		if strings.Contains(r.stderr, "hunter2") {
			t.Fatalf("the error repeats the password: %q", r.stderr)
		}
	}
	basicRun(t, env, "", "migrate", "--to-env", "UNSET_VAR").want(t, ExitUsage)
	initStore(t, func(k string) string { return env[k] })
	env["TO"] = "sqlite://" + filepath.Join(dir, "dst.db")
	basicRun(t, env, "v", "put", "app/a").want(t, ExitOK)
	basicRun(t, env, "", "migrate", "--to-env", "TO").want(t, ExitOK)
	env[config.EnvDBDSN] = env["TO"]
	if got := basicRun(t, env, "", "get", "app/a").want(t, ExitOK).stdout; got != "v" {
		t.Fatalf("migrated value %q", got)
	}
	basicRun(t, env, "", "audit", "verify").want(t, ExitOK)
}
