package config

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys != nil || c.AuditKafkaTopic != "sa01.audit" || c.Listen != "127.0.0.1:8200" ||
		c.TokenTTL != time.Hour || c.TokenMaxTTL != 24*time.Hour || c.LogLevel != "info" || c.LogFormat != "text" || c.LoginRate.String() != "10/1m0s" ||
		!c.DBDSN.IsZero() || !c.Token.IsZero() || c.CredentialFile != "" || c.AuditKafka != nil ||
		c.AuditFile != "" || c.PolicyFile != "" || c.SecretsAddr != "" || c.OPA.Enabled() ||
		c.OPA.Timeout != 100*time.Millisecond || c.OPA.CacheTTL != time.Second || c.OPA.DecisionPath != "/v1/data/sa01/secrets/allow" {
		t.Fatalf("defaults: %+v", c)
	}
	if _, err := c.RequireKeys(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("RequireKeys without a key: %v", err)
	}
}

func TestEveryVariable(t *testing.T) {
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	c, err := Load(env(map[string]string{
		EnvFernetKey:          k1.Encode(),
		EnvFernetPreviousKeys: k2.Encode() + ", " + k3.Encode() + "\n",
		EnvSecretsToken:       " sa01s-token \n",
		EnvCredentialFile:     "/run/secrets/gateway.cred",
		EnvDBDSN:              "postgresql://user:pw@host:5432/db",
		EnvAuditKafka:         " k1:9092, ,k2:9092 ",
		EnvAuditKafkaTopic:    "audit.topic",
		EnvAuditFile:          "/var/log/audit.jsonl",
		EnvPolicyFile:         "/etc/sa01/policy.yaml",
		EnvTargetsFile:        " /etc/sa01/targets.yaml ",
		EnvSecretsAddr:        "https://secrets.internal:8200/",
		EnvListen:             "0.0.0.0:9000",
		EnvTokenTTL:           "30m",
		EnvTokenMaxTTL:        "2h",
		EnvLoginRate:          " 5/30s ",
		EnvLogLevel:           "DEBUG",
		EnvLogFormat:          "json",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := c.RequireKeys()
	if err != nil {
		t.Fatal(err)
	}
	ks := ring.Keys()
	if len(ks) != 3 || !ks[0].Equal(k1) || !ks[1].Equal(k2) || !ks[2].Equal(k3) {
		t.Fatal("ring is not primary then previous keys in order")
	}
	if c.Token.Reveal() != "sa01s-token" || c.CredentialFile != "/run/secrets/gateway.cred" || c.DBDSN.Reveal() != "postgresql://user:pw@host:5432/db" ||
		strings.Join(c.AuditKafka, "|") != "k1:9092|k2:9092" ||
		c.AuditKafkaTopic != "audit.topic" || c.AuditFile != "/var/log/audit.jsonl" || c.PolicyFile != "/etc/sa01/policy.yaml" || c.TargetsFile != "/etc/sa01/targets.yaml" ||
		c.SecretsAddr != "https://secrets.internal:8200" || c.Listen != "0.0.0.0:9000" || c.TokenTTL != 30*time.Minute ||
		c.TokenMaxTTL != 2*time.Hour || c.LogLevel != "debug" || c.LogFormat != "json" || c.LoginRate.String() != "5/30s" {
		t.Fatalf("loaded: %+v", c)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileVariables(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	c, err := Load(env(map[string]string{
		EnvFernetKey + "_FILE":          writeFile(t, k1.Encode()+"\n"),
		EnvFernetPreviousKeys + "_FILE": writeFile(t, k2.Encode()+"\r\n"),
		EnvSecretsToken + "_FILE":       writeFile(t, "tok\n"),
		EnvDBDSN + "_FILE":              writeFile(t, "sqlite:///var/lib/sa01.db\n"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	ks := c.Keys.Keys()
	if len(ks) != 2 || !ks[0].Equal(k1) || !ks[1].Equal(k2) || c.Token.Reveal() != "tok" ||
		c.DBDSN.Reveal() != "sqlite:///var/lib/sa01.db" {
		t.Fatalf("from files: %+v", c)
	}
}

// loadErr loads m, expects an error that names want (a variable) and says
// reason, and checks that no secret value of m appears in it.
func loadErr(t *testing.T, m map[string]string, want, reason string) {
	t.Helper()
	_, err := Load(env(m))
	if err == nil {
		t.Fatalf("Load accepted %v", keysOf(m))
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *config.Error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, want+": ") || !strings.Contains(msg, reason) {
		t.Fatalf("error %q does not name %s or say %q", msg, want, reason)
	}
	for k, v := range m {
		if strings.HasSuffix(k, "_FILE") {
			b, _ := os.ReadFile(v)
			v = string(b)
		}
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			if len(part) >= 6 && strings.Contains(msg, part) {
				t.Fatalf("error %q echoes the value of %s", msg, k)
			}
		}
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestBothValueAndFile(t *testing.T) {
	for _, name := range secretVars {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{name: "value-one-secret", name + "_FILE": writeFile(t, "value-two-secret")}
			loadErr(t, m, name, "both "+name+" and "+name+"_FILE are set")
		})
	}
}

func TestFileErrors(t *testing.T) {
	loadErr(t, map[string]string{EnvDBDSN + "_FILE": filepath.Join(t.TempDir(), "missing")}, EnvDBDSN+"_FILE", "the file it names does not exist")
	loadErr(t, map[string]string{EnvFernetKey + "_FILE": t.TempDir()}, EnvFernetKey+"_FILE", "the file it names is not a regular file")
	if os.Geteuid() != 0 { // root reads a file of mode 0000
		unreadable := writeFile(t, fernet.GenerateKey().Encode())
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		loadErr(t, map[string]string{EnvFernetKey + "_FILE": unreadable}, EnvFernetKey+"_FILE", "the file it names cannot be read (permission denied)")
	}
	loadErr(t, map[string]string{EnvFernetKey + "_FILE": writeFile(t, "\n")}, EnvFernetKey+"_FILE", "empty")
	loadErr(t, map[string]string{EnvFernetKey + "_FILE": writeFile(t, "not-a-key-at-all\n")}, EnvFernetKey, "malformed Fernet key")
}

func TestMalformedKeys(t *testing.T) {
	good := fernet.GenerateKey().Encode()
	raw, _ := base64.URLEncoding.DecodeString(good)
	std := base64.StdEncoding.EncodeToString(append([]byte{0xfb, 0xef}, raw[2:]...))
	for _, c := range []struct{ name, value, reason string }{
		{"wrong length", good[:40], "wrong length"},
		{"too long", good + "QUJD", "wrong length"},
		{"31 bytes", base64.URLEncoding.EncodeToString(raw[:31]), "wrong length"},
		{"wrong alphabet", std, "standard base64 alphabet"},
		{"missing padding", strings.TrimRight(good, "="), "missing '=' padding"},
		{"not base64", "%%%%" + good[4:], "not URL-safe base64"},
		{"non-canonical", good[:42] + string(good[42]^1) + "=", "not URL-safe base64"},
		{"blank", "   ", "not set, but"}, // primary blank, previous set: see below
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "blank" {
				loadErr(t, map[string]string{EnvFernetKey: c.value, EnvFernetPreviousKeys: good}, EnvFernetKey, c.reason)
				return
			}
			loadErr(t, map[string]string{EnvFernetKey: c.value}, EnvFernetKey, "malformed Fernet key: "+c.reason)
			loadErr(t, map[string]string{EnvFernetKey: good, EnvFernetPreviousKeys: fernet.GenerateKey().Encode() + "," + c.value},
				EnvFernetPreviousKeys+" (entry 2)", "malformed Fernet key: "+c.reason)
		})
	}
	t.Run("empty entry", func(t *testing.T) {
		loadErr(t, map[string]string{EnvFernetKey: good, EnvFernetPreviousKeys: fernet.GenerateKey().Encode() + ",,"},
			EnvFernetPreviousKeys+" (entry 2)", "malformed Fernet key: empty")
	})
	t.Run("two primaries", func(t *testing.T) {
		loadErr(t, map[string]string{EnvFernetKey: good + "," + fernet.GenerateKey().Encode()}, EnvFernetKey, "more than one key")
	})
}

func TestDuplicateKeys(t *testing.T) {
	a, b := fernet.GenerateKey(), fernet.GenerateKey()
	loadErr(t, map[string]string{EnvFernetKey: a.Encode(), EnvFernetPreviousKeys: b.Encode() + "," + a.Encode()},
		EnvFernetPreviousKeys+" (entry 2)", "repeats "+EnvFernetKey+" (key "+a.ID()+")")
	loadErr(t, map[string]string{EnvFernetKey: a.Encode(), EnvFernetPreviousKeys: b.Encode() + ", " + b.Encode()},
		EnvFernetPreviousKeys+" (entry 2)", "repeats "+EnvFernetPreviousKeys+" (entry 1) (key "+b.ID()+")")
}

func TestOtherBadValues(t *testing.T) {
	for _, c := range []struct {
		m       map[string]string
		name    string
		reason  string
		authOff bool
	}{
		{map[string]string{EnvSecretsAddr: "secrets.internal:8200"}, EnvSecretsAddr, "http://", false},
		{map[string]string{EnvScanKey: "too-short-a-scan-key"}, EnvScanKey, "shorter than 32 bytes", false},
		{map[string]string{EnvTokenTTL: "soon"}, EnvTokenTTL, "positive duration", false},
		{map[string]string{EnvTokenMaxTTL: "-1h"}, EnvTokenMaxTTL, "positive duration", false},
		{map[string]string{EnvTokenTTL: "48h"}, EnvTokenTTL, "longer than " + EnvTokenMaxTTL, false},
		{map[string]string{EnvLogLevel: "loud"}, EnvLogLevel, "want debug", false},
		{map[string]string{EnvLoginRate: "10"}, EnvLoginRate, "want N/DURATION", false},
		{map[string]string{EnvLogFormat: "xml"}, EnvLogFormat, "want text or json", false},
		{map[string]string{EnvOPAURL: "http://127.0.0.1:8181", EnvOPAURLSecret: "platform/opa_url"}, EnvOPAURLSecret, "set one", false},
		{map[string]string{EnvOPATimeout: "11s"}, EnvOPATimeout, "at most 10s", false},
		{map[string]string{EnvOPATimeout: "0"}, EnvOPATimeout, "above 0", false},
		{map[string]string{EnvOPACacheTTL: "-1s"}, EnvOPACacheTTL, "want 0 (off)", false},
		{map[string]string{EnvOPACacheTTL: "soon"}, EnvOPACacheTTL, "want 0 (off)", false},
	} {
		loadErr(t, c.m, c.name, c.reason)
	}
	// Every error is reported, not just the first.
	_, err := Load(env(map[string]string{EnvLogLevel: "loud", EnvLogFormat: "xml"}))
	if err == nil || !strings.Contains(err.Error(), EnvLogLevel) || !strings.Contains(err.Error(), EnvLogFormat) {
		t.Fatalf("joined errors: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	c, err := Load(env(map[string]string{
		EnvFernetKey:          k1.Encode(),
		EnvFernetPreviousKeys: k2.Encode(),
		EnvSecretsToken:       "launcher-secret-token",
		EnvDBDSN:              "postgresql://user:hunter2@host:5432/db",
		EnvSecretsAddr:        "https://admin:addrpass@secrets:8200",
		EnvScanKey:            "scan-key-0123456789abcdef0123456789abcdef",
		EnvOPAURL:             "https://opa:opapass@opa.internal:8181",
		EnvOPAToken:           "opa-bearer-token",
		EnvOPACacheTTL:        "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OPA.Enabled() || c.OPA.CacheTTL != 0 || c.OPA.Timeout != DefaultOPATimeout || c.OPA.DecisionPath != DefaultOPADecisionPath {
		t.Fatalf("OPA settings: %+v", c.OPA)
	}
	got := map[string]string{}
	var all strings.Builder
	for _, s := range c.Describe() {
		got[s.Var] = s.Value
		all.WriteString(s.Var + "=" + s.Value + "\n")
	}
	want := map[string]string{
		EnvFernetKey:          "key " + k1.ID(),
		EnvFernetPreviousKeys: "key " + k2.ID(),
		EnvSecretsToken:       "(set)",
		EnvDBDSN:              "postgresql://user:****@host:5432/db",
		EnvSecretsAddr:        "https://admin:****@secrets:8200",
		EnvScanKey:            "(set)",
		EnvListen:             DefaultListen,
		EnvOPAURL:             "https://opa:****@opa.internal:8181",
		EnvOPAToken:           "(set)",
		EnvOPACacheTTL:        "0s",
		EnvOPATimeout:         "100ms",
		EnvOPAURLSecret:       "(unset)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, secret := range []string{k1.Encode(), k2.Encode(), "launcher-secret-token", "hunter2", "addrpass", "scan-key-0123456789abcdef", "opapass", "opa-bearer-token"} {
		if strings.Contains(all.String(), secret) {
			t.Fatalf("Describe reveals a secret:\n%s", all.String())
		}
	}
	// Describe lists exactly what Load reads, the NAME_FILE forms folded in
	var described []string
	for _, s := range c.Describe() {
		described = append(described, s.Var)
	}
	var read []string
	for _, v := range Vars() {
		if !slices.Contains(secretVars, strings.TrimSuffix(v, "_FILE")) || !strings.HasSuffix(v, "_FILE") {
			read = append(read, v)
		}
	}
	slices.Sort(described)
	slices.Sort(read)
	if !slices.Equal(described, read) {
		t.Errorf("Describe lists %v; Load reads %v", described, read)
	}

	empty, _ := Load(env(nil))
	for _, s := range empty.Describe() {
		if s.Var == EnvFernetKey && s.Value != "(unset)" || s.Var == EnvDBDSN && !strings.HasPrefix(s.Value, "(unset") {
			t.Errorf("unset %s described as %q", s.Var, s.Value)
		}
	}
}

func TestMaskDSN(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgresql://user:secret@host:5432/db", "postgresql://user:****@host:5432/db"},
		{"redis://:secret@host:6379/0", "redis://:****@host:6379/0"},
		{"postgres://user:p@ss:w@rd@host/db?sslmode=disable", "postgres://user:****@host/db?sslmode=disable"},
		{"postgres://user:pa/ss?w#rd@host:5432/db", "postgres://user:****@host:5432/db"},
		{"postgres://user@host/db", "postgres://user@host/db"},
		{"postgres://host/db", "postgres://host/db"},
		{"postgres://host/db?user=u&password=secret&sslmode=require", "postgres://host/db?user=u&password=****&sslmode=require"},
		{"postgres://u:secret@host/db?PASSWORD=secret2", "postgres://u:****@host/db?PASSWORD=****"},
		{"sqlite:///var/lib/sa01/secrets.db", "sqlite:///var/lib/sa01/secrets.db"},
		{"host=db user=u password=secret dbname=x", "host=db user=u password=**** dbname=x"},
		{"host=db password='se cret\\'s' dbname=x", "host=db password=**** dbname=x"},
		{"host=db password='unterminated", "host=db password=****"},
		{"host=db mypassword=notaparam", "host=db mypassword=notaparam"},
		{"", ""},
	} {
		if got := MaskDSN(c.in); got != c.want {
			t.Errorf("MaskDSN(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseKeyVar(t *testing.T) {
	k, err := ParseKeyVar("MY_KEY", " "+fernet.GenerateKey().Encode()+"\n")
	if err != nil || k == nil {
		t.Fatal(err)
	}
	_, err = ParseKeyVar("MY_KEY", "s3cr3t-value")
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "MY_KEY" || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("ParseKeyVar error: %v", err)
	}
}

// TestReadsExactlyVars: Load asks getenv for the variables Vars lists and
// no other, and every one of them is SA01_SECRETS_* but the key's two.
func TestReadsExactlyVars(t *testing.T) {
	seen := map[string]bool{}
	if _, err := Load(func(k string) string { seen[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	want := Vars()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Load reads %v; Vars says %v", got, want)
	}
	for _, v := range want {
		if !strings.HasPrefix(v, "SA01_SECRETS_") && !strings.HasPrefix(v, "SA01_CRYPTO_FERNET_") {
			t.Errorf("%s is not one of our names", v)
		}
	}
}

// TestPlatformVariablesChangeNothing: the platform's own variables (its
// .env sets them) are never read: with every one of them set, to good or
// bad values, the configuration is what it is without them. Before, the
// platform's SA01_DB_DSN chose the store, SA01_KAFKA_BOOTSTRAP_SERVERS
// turned on audit shipping to the platform's Kafka, SA01_AUTH_REQUIRED
// could turn authentication off and SA01_AUTH_INTERNAL_TOKEN logged in as
// any service.
func TestPlatformVariablesChangeNothing(t *testing.T) {
	base := map[string]string{EnvFernetKey: fernet.GenerateKey().Encode(), EnvPolicyFile: "/etc/sa01/policy.yaml"}
	want, err := Load(env(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range []map[string]string{
		{"SA01_DB_DSN": "postgresql://gateway:pw@db:5432/gateway", "SA01_REDIS_URL": "redis://:pw@redis:6379/0",
			"SA01_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "SA01_AUTH_INTERNAL_TOKEN": "platform-internal-token",
			"SA01_AUTH_REQUIRED": "false"},
		{"SA01_DB_DSN": "not a dsn", "SA01_AUTH_REQUIRED": "maybe", "SA01_DB_DSN_FILE": "/nonexistent",
			"SA01_AUTH_INTERNAL_TOKEN_FILE": "/nonexistent", "SA01_REDIS_URL_FILE": "/nonexistent"},
	} {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range values {
			m[k] = v
		}
		got, err := Load(env(m))
		if err != nil {
			t.Fatalf("with the platform's variables set: %v", err)
		}
		if fmtDescribe(got) != fmtDescribe(want) {
			t.Fatalf("the platform's variables changed the configuration:\n%s\nwant\n%s", fmtDescribe(got), fmtDescribe(want))
		}
		if !got.DBDSN.IsZero() || got.AuditKafka != nil || !got.Token.IsZero() {
			t.Fatalf("a platform variable was taken: %+v", got)
		}
	}
}

func fmtDescribe(c *Config) string {
	var b strings.Builder
	for _, s := range c.Describe() {
		b.WriteString(s.Var + "=" + s.Value + "\n")
	}
	return b.String()
}

// TestOpenSecretFileRefused: a key or token file that group or others may
// read is refused, as ssh refuses such a private key.
func TestOpenSecretFileRefused(t *testing.T) {
	p := writeFile(t, fernet.GenerateKey().Encode())
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	loadErr(t, map[string]string{EnvFernetKey + "_FILE": p}, EnvFernetKey+"_FILE", "group or others")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(env(map[string]string{EnvFernetKey + "_FILE": p})); err != nil {
		t.Fatal(err)
	}
}

// FingerprintKey is nil without SA01_SECRETS_SCAN_KEY, and a key that
// fingerprints with it.
func TestFingerprintKey(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.FingerprintKey(); k != nil || err != nil {
		t.Fatalf("unset: got %v, %v; want nil, nil", k, err)
	}
	c, err = Load(env(map[string]string{EnvScanKey: strings.Repeat("k", MinScanKey)}))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.FingerprintKey(); k == nil || err != nil {
		t.Fatalf("set: got %v, %v; want a key", k, err)
	}
}
