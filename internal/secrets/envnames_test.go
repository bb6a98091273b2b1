package secrets_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// TestEnvNameRules: the variables that change how a program runs and
// sa01-secrets' own settings are refused as env names; the platform's own
// variables are secrets like any other.
func TestEnvNameRules(t *testing.T) {
	t.Parallel()
	for _, env := range []string{
		"LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "PATH", "PYTHONPATH", "PYTHONSTARTUP",
		"NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "RUBYOPT", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
		"JDK_JAVA_OPTIONS", "CLASSPATH", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "no_proxy", "GIT_SSH_COMMAND",
		"GIT_CONFIG_GLOBAL", "SSL_CERT_FILE", "SSL_CERT_DIR", "DYLD_INSERT_LIBRARIES", "IFS", "PS4", "SHELLOPTS",
		"BASHOPTS", "PROMPT_COMMAND", "GCONV_PATH", "LOCPATH", "NLSPATH", "MALLOC_CHECK_", "GLIBC_TUNABLES",
		"HOSTALIASES", "RES_OPTIONS", "TMPDIR", "GEM_HOME", "BUNDLE_GEMFILE", "npm_config_registry",
		"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "BASH_FUNC_x", "LUA_INIT", "PIP_INDEX_URL",
		"OPENSSL_CONF", "SSLKEYLOGFILE", "DOTNET_STARTUP_HOOKS", "HOME", "XDG_CONFIG_HOME",
	} {
		if !secrets.RunsProgram(env) {
			t.Errorf("RunsProgram(%s) = false", env)
		}
		err := secrets.CheckEnvName(env)
		if !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(err.Error(), "env "+env+":") {
			t.Errorf("CheckEnvName(%s) = %v: want a refusal naming it", env, err)
		}
	}
	for _, env := range []string{"SA01_SECRETS_ADDR", "SA01_SECRETS_TOKEN", "SA01_SECRETS_CREDENTIAL_FILE", "SA01_SECRETS_DB_DSN",
		"SA01_CRYPTO_FERNET_KEY", "SA01_CRYPTO_FERNET_KEY_FILE", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS"} {
		if !secrets.ToolEnv(env) || secrets.CheckEnvName(env) == nil {
			t.Errorf("%s: not refused as sa01-secrets' own", env)
		}
	}
	for _, env := range []string{"OPENAI_API_KEY", "SA01_DB_DSN", "SA01_REDIS_URL", "SA01_KAFKA_BOOTSTRAP_SERVERS",
		"SA01_AUTH_INTERNAL_TOKEN", "PASSWORD", "DATABASE_URL", "PROXY_PASSWORD", "GOOGLE_API_KEY", "NODE"} {
		if err := secrets.CheckEnvName(env); err != nil {
			t.Errorf("CheckEnvName(%s) = %v", env, err)
		}
	}
	if err := secrets.CheckEnvName("1x=sk-VALUE"); err == nil || strings.Contains(err.Error(), "sk-VALUE") {
		t.Errorf("invalid name: %v", err)
	}
}

// TestPutRefusesProgramEnv: a writer cannot give a secret, explicitly or
// by its name, an env name that runs code in its readers (before, a
// write-only grant on llm/* stored llm/zz_helper as BASH_ENV and the next
// run of bash executed it).
func TestPutRefusesProgramEnv(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &memRecorder{}
	s := secrets.New(db, ring(t, fernet.GenerateKey()), rec, nil)
	ctx := ctxAs("writer")
	v := sensitive.New("touch /tmp/pwned")
	for _, c := range []struct{ name, env, want string }{
		{"llm/zz_helper", "BASH_ENV", "env BASH_ENV:"},
		{"llm/zz_helper", "LD_PRELOAD", "env LD_PRELOAD:"},
		{"net/proxy", "https_proxy", "env https_proxy:"},
		{"llm/x", "SA01_SECRETS_ADDR", "env SA01_SECRETS_ADDR:"},
		{"llm/bash_env", "", "env BASH_ENV, which the secret's name gives it"},
		{"net/https_proxy", "", "env HTTPS_PROXY, which the secret's name gives it"},
	} {
		_, err := s.Put(ctx, c.name, v, secrets.PutOptions{Env: c.env})
		if !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("put %s env %q: %v; want a refusal with %q", c.name, c.env, err, c.want)
		}
	}
	if _, err := s.Import(ctx, []secrets.Entry{{Name: "PYTHONSTARTUP", Value: v}}, secrets.ImportOptions{Prefix: "app/"}); err == nil || !strings.Contains(err.Error(), "PYTHONSTARTUP") {
		t.Errorf("import of PYTHONSTARTUP: %v", err)
	}
	// A name of its own makes a secret whose name gives a refused one fine;
	// the platform's own variables are written as any other.
	if _, err := s.Put(ctx, "net/https_proxy", v, secrets.PutOptions{Env: "NET_PROXY_URL"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "net/https_proxy", sensitive.New("v2"), secrets.PutOptions{}); err != nil {
		t.Fatalf("a second version keeps the env name of its own: %v", err)
	}
	for _, env := range []string{"SA01_DB_DSN", "SA01_AUTH_INTERNAL_TOKEN"} {
		if _, err := s.Put(ctx, "db/gateway/"+strings.ToLower(env), v, secrets.PutOptions{Env: env}); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
	}
}

// TestPlatformKeys: only a service whose entry says platform_key: true
// gets the store's keys, each time audited without them.
func TestPlatformKeys(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &memRecorder{}
	cur, old1, old2 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	s := secrets.New(db, ring(t, cur, old1, old2), rec, nil)
	pol, err := policy.Parse("p.yaml", []byte("services:\n  gateway: {read: [\"llm/*\"], platform_key: true}\n  worker: {read: [\"llm/*\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if keys, err := s.As(pol, "worker", "op").PlatformKeys(ctx); err != nil || keys != nil {
		t.Fatalf("worker: %v %v", keys, err)
	}
	keys, err := s.As(pol, "gateway", "op").PlatformKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if keys["SA01_CRYPTO_FERNET_KEY"].Reveal() != cur.Encode() || keys["SA01_CRYPTO_FERNET_PREVIOUS_KEYS"].Reveal() != old1.Encode()+","+old2.Encode() {
		t.Fatal("not the ring's keys, primary first")
	}
	var found int
	for _, ev := range rec.events {
		for _, k := range []*fernet.Key{cur, old1, old2} {
			if strings.Contains(ev.Detail, k.Encode()) || strings.Contains(ev.Reason, k.Encode()) {
				t.Fatal("an audit event holds a key")
			}
		}
		if ev.Action == secrets.ActionPlatformKey && ev.Service == "gateway" && strings.Contains(ev.Detail, cur.ID()) {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%d platform-key events naming gateway: %+v", found, rec.events)
	}
	rec.fail = true
	if keys, err := s.As(pol, "gateway", "op").PlatformKeys(ctx); err == nil || keys != nil {
		t.Fatal("keys handed out without their event")
	}
}
