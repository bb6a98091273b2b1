package targets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const example = `targets:
  gateway-redis:
    redis: {url_secret: platform/redis_url, hash: "gateway:secrets"}
  gateway-redis-keys:
    redis: {url_secret: platform/redis_url, keys: "session:*:token"}
  tenant-credentials:
    postgres: {dsn_secret: platform/db_dsn, table: llm_credentials, column: api_key_enc, key: id}
`

func TestParseExample(t *testing.T) {
	f, err := Parse("targets.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "gateway-redis,gateway-redis-keys,tenant-credentials" {
		t.Fatalf("names = %s", got)
	}
	want := []Target{
		{Name: "gateway-redis", Kind: KindRedisHash, Secret: "platform/redis_url", Hash: "gateway:secrets", Line: 2, Where: "redis hash gateway:secrets"},
		{Name: "gateway-redis-keys", Kind: KindRedisKeys, Secret: "platform/redis_url", Keys: "session:*:token", Line: 4, Where: "redis keys session:*:token"},
		{Name: "tenant-credentials", Kind: KindPostgres, Secret: "platform/db_dsn", Table: "llm_credentials", Column: "api_key_enc", KeyCol: "id", Line: 6, Where: "postgres llm_credentials.api_key_enc"},
	}
	for i, w := range want {
		w.File = "targets.yaml"
		if f.Targets[i] != w {
			t.Errorf("target %d = %+v\nwant %+v", i, f.Targets[i], w)
		}
	}
	if _, err := f.Select("nope"); err == nil || !strings.Contains(err.Error(), `no target "nope" (targets: gateway-redis, gateway-redis-keys, tenant-credentials)`) {
		t.Errorf("Select(nope) = %v", err)
	}
	if ts, err := f.Select("tenant-credentials"); err != nil || len(ts) != 1 || ts[0].Kind != KindPostgres {
		t.Errorf("Select = %v, %v", ts, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"", "t.yaml: empty targets file"},
		{"targets: [", "t.yaml:1: not valid YAML"},
		{"nope: {}\n", `t.yaml:1: unknown key "nope"`},
		{"targets:\n  Bad Name:\n    redis: {url_secret: a, hash: h}\n", `t.yaml:2: target name "Bad Name"`},
		{"targets:\n  a:\n    mysql: {dsn_secret: a}\n", `t.yaml:3: target a: unknown kind "mysql"`},
		{"targets:\n  a:\n    redis: {url_secret: a}\n", "t.yaml:3: target a: missing hash or keys"},
		{"targets:\n  a:\n    redis: {url_secret: a, hash: h, keys: k}\n", "t.yaml:3: target a: give one of hash"},
		{"targets:\n  a:\n    redis:\n      hash: h\n", "t.yaml:4: target a: missing url_secret"},
		// a connection string in the file is refused, and not echoed
		{"targets:\n  a:\n    redis:\n      hash: h\n      url_secret: 'redis://:hunter2@host:6379/0'\n", "t.yaml:5: target a: url_secret must name a secret in the store"},
		{"targets:\n  a:\n    redis:\n      hash: h\n      url: 'redis://:hunter2@host/0'\n", `t.yaml:5: target a: unknown key "url": want one of url_secret, hash, keys; a connection string belongs in the store`},
		{"targets:\n  a:\n    postgres: {dsn_secret: d, table: t, column: c}\n", "t.yaml:3: target a: missing key"},
		{"targets:\n  a:\n    postgres: {dsn_secret: d, table: \"t; drop\", column: c, key: id}\n", "t.yaml:3: target a: table: want letters"},
		{"targets:\n  a:\n    postgres: {dsn_secret: d, table: t, column: id, key: id}\n", "target a: key and column must differ"},
		{"targets:\n  a:\n    redis: {url_secret: a, hash: h}\n  a:\n    redis: {url_secret: a, hash: h}\n", `t.yaml:4: duplicate key "a" (first at line 2)`},
		{"targets:\n  a:\n    redis: {url_secret: a, hash: h}\n    postgres: {}\n", "t.yaml:3: target a: want exactly one"},
		{"targets:\n  a: &x\n    redis: {url_secret: a, hash: h}\n  b: *x\n", "t.yaml:4: aliases are not allowed"},
	} {
		_, err := Parse("t.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v; want %q", c.src, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml: does not exist") {
		t.Errorf("Load(missing) = %v", err)
	}
	p := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(p, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(p); err != nil || len(f.Targets) != 3 || f.Path != p {
		t.Errorf("Load = %v, %v", f, err)
	}
	if err := os.WriteFile(p, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(huge) = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("targets:\n  a:\n    postgres: {dsn_secret: d, table: s.t, column: c, key: id}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		for _, tg := range tf.Targets {
			if tg.Secret == "" || tg.Where == "" || !targetName.MatchString(tg.Name) {
				t.Fatalf("accepted an incomplete target %+v", tg)
			}
			if tg.Kind == KindPostgres && (!sqlIdent.MatchString(tg.Column) || !sqlIdent.MatchString(tg.KeyCol)) {
				t.Fatalf("accepted a bad identifier %+v", tg)
			}
		}
	})
}
