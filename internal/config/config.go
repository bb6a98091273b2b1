// Package config loads every variable sa01-secrets reads, in one place,
// validates it at start, and describes itself without revealing a secret:
// keys by key ID, DSNs with the password masked as "****".
//
// Its own settings are named SA01_SECRETS_*. The one name it shares with
// the platform is the key, as the policy demands: SA01_CRYPTO_FERNET_KEY
// and SA01_CRYPTO_FERNET_PREVIOUS_KEYS. The platform's other variables
// (SA01_DB_DSN, SA01_REDIS_URL, SA01_KAFKA_BOOTSTRAP_SERVERS,
// SA01_AUTH_INTERNAL_TOKEN, SA01_AUTH_REQUIRED: [PlatformVars]) belong to
// its services: sa01-secrets never reads them, and their presence changes
// nothing. [Vars] lists exactly what Load reads.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/ratelimit"
	"github.com/somaagent01/sa01-secrets/internal/redact"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// The variables. Those marked secret also accept NAME_FILE, a path to a file
// holding the value (mode 0600 or narrower, as ssh wants of a private key);
// setting both is an error.
const (
	EnvFernetKey          = "SA01_CRYPTO_FERNET_KEY"           // secret: the primary Fernet key
	EnvFernetPreviousKeys = "SA01_CRYPTO_FERNET_PREVIOUS_KEYS" // secret: decrypt-only keys, comma-separated, newest first
	EnvDBDSN              = "SA01_SECRETS_DB_DSN"              // secret: the store, sqlite:///abs/path.db or postgres://...
	EnvPolicyFile         = "SA01_SECRETS_POLICY_FILE"         // YAML least-privilege policy
	EnvAuditFile          = "SA01_SECRETS_AUDIT_FILE"          // JSON-lines audit file, or "-" for stdout
	EnvAuditKafka         = "SA01_SECRETS_AUDIT_KAFKA"         // host:port list: ship the audit chain to Kafka
	EnvAuditKafkaTopic    = "SA01_SECRETS_AUDIT_KAFKA_TOPIC"   // default sa01.audit
	EnvListen             = "SA01_SECRETS_LISTEN"              // serve's listen address, default 127.0.0.1:8200
	EnvUIListen           = "SA01_SECRETS_UI_LISTEN"           // serve's web console listener (/ui/); unset: no console
	EnvTokenTTL           = "SA01_SECRETS_TOKEN_TTL"           // token TTL, default 1h
	EnvTokenMaxTTL        = "SA01_SECRETS_TOKEN_MAX_TTL"       // token max TTL, default 24h
	EnvLogLevel           = "SA01_SECRETS_LOG_LEVEL"           // debug, info (default), warn, error
	EnvLogFormat          = "SA01_SECRETS_LOG_FORMAT"          // text (default) or json
	EnvSecretsAddr        = "SA01_SECRETS_ADDR"                // server URL; unset: the CLI works on the local store
	EnvSecretsToken       = "SA01_SECRETS_TOKEN"               // secret: a token (sa01-secrets login makes one)
	EnvCredentialFile     = "SA01_SECRETS_CREDENTIAL_FILE"     // a file (0600) holding the caller's credential
	EnvScanKey            = "SA01_SECRETS_SCAN_KEY"            // secret: keys the scanner's fingerprints (baselines, JSON, SARIF)
	EnvTargetsFile        = "SA01_SECRETS_TARGETS_FILE"        // YAML: where the platform keeps Fernet tokens of its own
	EnvLoginRate          = "SA01_SECRETS_LOGIN_RATE"          // failed logins per source and per identity, N/DURATION (default 10/1m) or off

	// The platform's OPA (docs/opa.md): unset, no OPA is asked.
	EnvOPAURL          = "SA01_SECRETS_OPA_URL"           // secret: OPA's base URL, may hold user:pass (described masked)
	EnvOPAURLSecret    = "SA01_SECRETS_OPA_URL_SECRET"    // or: the name of a secret in the store holding that URL
	EnvOPADecisionPath = "SA01_SECRETS_OPA_DECISION_PATH" // default /v1/data/sa01/secrets/allow
	EnvOPAToken        = "SA01_SECRETS_OPA_TOKEN"         // secret: bearer token for OPA's --authentication=token
	EnvOPATimeout      = "SA01_SECRETS_OPA_TIMEOUT"       // per decision, default 100ms, at most 10s
	EnvOPACacheTTL     = "SA01_SECRETS_OPA_CACHE_TTL"     // decision cache, default 1s; 0 turns it off
)

// PlatformVars are the platform's own variables. sa01-secrets never reads
// them: they are what run injects into the services granted them.
var PlatformVars = []string{"SA01_DB_DSN", "SA01_REDIS_URL", "SA01_KAFKA_BOOTSTRAP_SERVERS", "SA01_AUTH_INTERNAL_TOKEN", "SA01_AUTH_REQUIRED"}

// secretVars accept NAME_FILE.
var secretVars = []string{EnvFernetKey, EnvFernetPreviousKeys, EnvDBDSN, EnvSecretsToken, EnvScanKey, EnvOPAURL, EnvOPAToken}

// plainVars are the others, in Describe's order after the keys.
var plainVars = []string{EnvPolicyFile, EnvTargetsFile, EnvAuditFile, EnvAuditKafka, EnvAuditKafkaTopic, EnvListen, EnvUIListen, EnvTokenTTL, EnvTokenMaxTTL,
	EnvLoginRate, EnvLogLevel, EnvLogFormat, EnvSecretsAddr, EnvCredentialFile,
	EnvOPAURLSecret, EnvOPADecisionPath, EnvOPATimeout, EnvOPACacheTTL}

// Vars returns every variable Load reads, the NAME_FILE forms included.
func Vars() []string {
	var out []string
	for _, v := range secretVars {
		out = append(out, v, v+"_FILE")
	}
	return append(out, plainVars...)
}

// maxSecretFile bounds a file named by a NAME_FILE variable.
const maxSecretFile = 64 << 10

// MinScanKey is the shortest SA01_SECRETS_SCAN_KEY accepted, in bytes
// (scan.MinFingerprintKey).
const MinScanKey = 32

// Defaults.
const (
	DefaultAuditKafkaTopic = "sa01.audit"
	DefaultListen          = "127.0.0.1:8200"
	DefaultTokenTTL        = time.Hour
	DefaultTokenMaxTTL     = 24 * time.Hour
	DefaultOPADecisionPath = "/v1/data/sa01/secrets/allow" // as opa.DefaultDecisionPath
	DefaultOPATimeout      = 100 * time.Millisecond        // as opa.DefaultTimeout
	DefaultOPACacheTTL     = time.Second                   // as opa.DefaultCacheTTL
	MaxOPATimeout          = 10 * time.Second              // as opa.MaxTimeout
)

// Config is the validated configuration. Secret fields are sensitive
// strings; Keys is nil when no key is set.
type Config struct {
	Keys            *fernet.Ring     // primary first, then the previous keys
	DBDSN           sensitive.String // empty: the embedded default store
	ScanKey         sensitive.String // empty: findings carry no fingerprint, baselines are refused
	Token           sensitive.String // SA01_SECRETS_TOKEN
	CredentialFile  string           // SA01_SECRETS_CREDENTIAL_FILE
	AuditKafka      []string         // brokers; empty: no shipping to Kafka
	AuditKafkaTopic string
	AuditFile       string
	PolicyFile      string
	TargetsFile     string
	SecretsAddr     string
	Listen          string
	UIListen        string // the web console's listen address; "" when it is off
	TokenTTL        time.Duration
	TokenMaxTTL     time.Duration
	LoginRate       ratelimit.Limits // failed logins allowed per source and per identity, per node
	LogLevel        string
	LogFormat       string
	OPA             OPA
}

// OPA is the platform's OPA, asked about every access after the YAML
// policy (docs/opa.md). It is configured when URL or URLSecret is set (not
// both). The decider itself (internal/opa) checks the URL and the path.
type OPA struct {
	URL          sensitive.String // may hold credentials
	URLSecret    string           // a secret in the store whose value is the URL
	DecisionPath string
	Token        sensitive.String
	Timeout      time.Duration
	CacheTTL     time.Duration // 0: no cache
}

// Enabled reports whether an OPA is configured.
func (o OPA) Enabled() bool { return !o.URL.IsZero() || o.URLSecret != "" }

// Error is a configuration error. It names the variable, never its value.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return e.Var + ": " + e.Reason }

// ErrNoKey is returned by RequireKeys when SA01_CRYPTO_FERNET_KEY is unset.
var ErrNoKey = &Error{Var: EnvFernetKey, Reason: "not set"}

// Load reads and validates every variable through getenv. Files named by
// NAME_FILE variables are read from disk.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{
		AuditKafkaTopic: DefaultAuditKafkaTopic,
		Listen:          DefaultListen,
		TokenTTL:        DefaultTokenTTL,
		TokenMaxTTL:     DefaultTokenMaxTTL,
		LoginRate:       ratelimit.Default,
		LogLevel:        "info",
		LogFormat:       "text",
		OPA:             OPA{DecisionPath: DefaultOPADecisionPath, Timeout: DefaultOPATimeout, CacheTTL: DefaultOPACacheTTL},
	}
	var errs []error
	secret := func(name string) string {
		v, err := secretVar(getenv, name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}

	primary := secret(EnvFernetKey)
	previous := secret(EnvFernetPreviousKeys)
	if ring, err := ParseRing(primary, previous); err != nil {
		errs = append(errs, err)
	} else {
		c.Keys = ring
	}
	c.DBDSN = sensitive.New(strings.TrimSpace(secret(EnvDBDSN)))
	c.Token = sensitive.New(strings.TrimSpace(secret(EnvSecretsToken)))
	c.CredentialFile = strings.TrimSpace(getenv(EnvCredentialFile))
	c.ScanKey = sensitive.New(strings.TrimSpace(secret(EnvScanKey)))
	if n := len(c.ScanKey.Reveal()); n > 0 && n < MinScanKey {
		errs = append(errs, &Error{EnvScanKey, fmt.Sprintf("shorter than %d bytes; make one with: sa01-secrets generate key", MinScanKey)})
	}

	if v := strings.TrimSpace(getenv(EnvAuditKafka)); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.AuditKafka = append(c.AuditKafka, s)
			}
		}
	}
	if v := strings.TrimSpace(getenv(EnvAuditKafkaTopic)); v != "" {
		c.AuditKafkaTopic = v
	}
	c.AuditFile = strings.TrimSpace(getenv(EnvAuditFile))
	c.PolicyFile = strings.TrimSpace(getenv(EnvPolicyFile))
	c.TargetsFile = strings.TrimSpace(getenv(EnvTargetsFile))
	c.SecretsAddr = strings.TrimRight(strings.TrimSpace(getenv(EnvSecretsAddr)), "/")
	if c.SecretsAddr != "" && !strings.HasPrefix(c.SecretsAddr, "http://") && !strings.HasPrefix(c.SecretsAddr, "https://") {
		errs = append(errs, &Error{EnvSecretsAddr, "want an http:// or https:// URL"})
	}
	if v := strings.TrimSpace(getenv(EnvListen)); v != "" {
		c.Listen = v
	}
	c.UIListen = strings.TrimSpace(getenv(EnvUIListen))
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{EnvTokenTTL, &c.TokenTTL}, {EnvTokenMaxTTL, &c.TokenMaxTTL}} {
		if v := strings.TrimSpace(getenv(d.name)); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x <= 0 {
				errs = append(errs, &Error{d.name, "want a positive duration such as 1h or 30m"})
				continue
			}
			*d.dst = x
		}
	}
	if c.TokenTTL > c.TokenMaxTTL {
		errs = append(errs, &Error{EnvTokenTTL, "longer than " + EnvTokenMaxTTL})
	}
	if v := strings.TrimSpace(getenv(EnvLoginRate)); v != "" {
		l, err := ratelimit.Parse(v)
		if err != nil {
			errs = append(errs, &Error{EnvLoginRate, err.Error()})
		} else {
			c.LoginRate = l
		}
	}
	if v := strings.ToLower(strings.TrimSpace(getenv(EnvLogLevel))); v != "" {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
		default:
			errs = append(errs, &Error{EnvLogLevel, "want debug, info, warn or error"})
		}
	}
	if v := strings.ToLower(strings.TrimSpace(getenv(EnvLogFormat))); v != "" {
		switch v {
		case "text", "json":
			c.LogFormat = v
		default:
			errs = append(errs, &Error{EnvLogFormat, "want text or json"})
		}
	}
	c.OPA.URL = sensitive.New(strings.TrimSpace(secret(EnvOPAURL)))
	c.OPA.Token = sensitive.New(strings.TrimSpace(secret(EnvOPAToken)))
	c.OPA.URLSecret = strings.TrimSpace(getenv(EnvOPAURLSecret))
	if !c.OPA.URL.IsZero() && c.OPA.URLSecret != "" {
		errs = append(errs, &Error{EnvOPAURLSecret, "both " + EnvOPAURL + " and " + EnvOPAURLSecret + " are set; set one"})
	}
	if v := strings.TrimSpace(getenv(EnvOPADecisionPath)); v != "" {
		c.OPA.DecisionPath = v
	}
	if v := strings.TrimSpace(getenv(EnvOPATimeout)); v != "" {
		x, err := time.ParseDuration(v)
		if err != nil || x <= 0 || x > MaxOPATimeout {
			errs = append(errs, &Error{EnvOPATimeout, "want a duration above 0 and at most " + MaxOPATimeout.String() + ", such as 100ms"})
		} else {
			c.OPA.Timeout = x
		}
	}
	if v := strings.TrimSpace(getenv(EnvOPACacheTTL)); v != "" {
		x, err := time.ParseDuration(v)
		if v == "0" {
			x, err = 0, nil
		}
		if err != nil || x < 0 {
			errs = append(errs, &Error{EnvOPACacheTTL, "want 0 (off) or a positive duration such as 1s"})
		} else {
			c.OPA.CacheTTL = x
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// LogSettings reads SA01_SECRETS_LOG_LEVEL and SA01_SECRETS_LOG_FORMAT leniently, for the
// logger the process needs before (and whether or not) the rest of the
// configuration loads: a value Load would refuse gives the default (info,
// text) here.
func LogSettings(getenv func(string) string) (level slog.Level, json bool) {
	_ = level.UnmarshalText([]byte(strings.TrimSpace(getenv(EnvLogLevel))))
	return level, strings.EqualFold(strings.TrimSpace(getenv(EnvLogFormat)), "json")
}

// PolicyError is err, from loading the policy file SA01_SECRETS_POLICY_FILE
// names, as a usage fault that says to fix that file.
func PolicyError(err error) error {
	return fault.New(fault.Usage, err, "fix the policy file named by "+EnvPolicyFile)
}

// RequireKeys returns the key ring, or ErrNoKey.
func (c *Config) RequireKeys() (*fernet.Ring, error) {
	if c.Keys == nil {
		return nil, ErrNoKey
	}
	return c.Keys, nil
}

// FingerprintKey returns the key of the scanner's fingerprints
// (SA01_SECRETS_SCAN_KEY), or nil when it is not set.
func (c *Config) FingerprintKey() (*scan.FingerprintKey, error) {
	if c.ScanKey.IsZero() {
		return nil, nil
	}
	return scan.NewFingerprintKey([]byte(c.ScanKey.Reveal()))
}

// secretVar reads NAME or the file named by NAME_FILE. The file must be
// private (safefile.ReadPrivate: no access for group or others). Trailing
// newlines of the file are dropped; a file that holds nothing else is an
// error, since naming a file says a value is meant to be there.
func secretVar(getenv func(string) string, name string) (string, error) {
	v, f := getenv(name), getenv(name+"_FILE")
	if v != "" && f != "" {
		return "", &Error{name, "both " + name + " and " + name + "_FILE are set; set one"}
	}
	if f == "" {
		return v, nil
	}
	b, err := safefile.ReadPrivate(f, maxSecretFile)
	if errors.Is(err, safefile.ErrTooOpen) {
		return "", &Error{name + "_FILE", "the file it names is readable or writable by group or others; chmod 600 it"}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &Error{name + "_FILE", "the file it names does not exist"}
	case errors.Is(err, fs.ErrPermission):
		return "", &Error{name + "_FILE", "the file it names cannot be read (permission denied)"}
	case errors.Is(err, safefile.ErrNotRegular):
		return "", &Error{name + "_FILE", "the file it names is not a regular file"}
	case err != nil:
		return "", &Error{name + "_FILE", "cannot read the file it names"}
	}
	v = strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(v) == "" {
		return "", &Error{name + "_FILE", "the file it names is empty"}
	}
	return v, nil
}

// ParseKeyVar parses a single key held by variable name; errors name the
// variable and what is wrong, never the value.
func ParseKeyVar(name, v string) (*fernet.Key, error) {
	k, err := fernet.ParseKey(v)
	if err != nil {
		var ke *fernet.KeyError
		if errors.As(err, &ke) {
			return nil, &Error{name, "malformed Fernet key: " + ke.Reason}
		}
		return nil, &Error{name, "malformed Fernet key"}
	}
	return k, nil
}

// ParseRing parses the key ring of SA01_CRYPTO_FERNET_KEY (primary) and
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS (previous, comma-separated, newest
// first), wherever they come from: the environment (Load) or an env file
// (key rotation). It is nil when neither is set. Errors are *Error naming
// the variable and the entry, never a value: a malformed key, a key listed
// twice, more than one primary, or previous keys without a primary.
func ParseRing(primary, previous string) (*fernet.Ring, error) {
	if strings.TrimSpace(primary) == "" {
		if strings.TrimSpace(previous) != "" {
			return nil, &Error{EnvFernetKey, "not set, but " + EnvFernetPreviousKeys + " is"}
		}
		return nil, nil
	}
	if strings.Contains(primary, ",") {
		return nil, &Error{EnvFernetKey, "holds more than one key; put older keys in " + EnvFernetPreviousKeys}
	}
	pk, err := ParseKeyVar(EnvFernetKey, primary)
	if err != nil {
		return nil, err
	}
	keys := []*fernet.Key{pk}
	names := []string{EnvFernetKey}
	if strings.TrimSpace(previous) != "" {
		for i, s := range strings.Split(previous, ",") {
			name := fmt.Sprintf("%s (entry %d)", EnvFernetPreviousKeys, i+1)
			k, err := ParseKeyVar(name, s)
			if err != nil {
				return nil, err
			}
			for j, o := range keys {
				if k.Equal(o) {
					return nil, &Error{name, "repeats " + names[j] + " (key " + k.ID() + "); list each key once"}
				}
			}
			keys = append(keys, k)
			names = append(names, name)
		}
	}
	return fernet.NewRing(keys...)
}

// Setting is one line of a safe self-description.
type Setting struct {
	Var   string `json:"var"`
	Value string `json:"value"`
}

// Describe lists every variable Load reads (the NAME_FILE forms folded
// into their NAME) with a value safe to print: keys by key ID, DSNs and
// URLs with passwords masked, tokens as set or unset.
func (c *Config) Describe() []Setting {
	var s []Setting
	add := func(k, v string) { s = append(s, Setting{k, v}) }
	if c.Keys != nil {
		ks := c.Keys.Keys()
		add(EnvFernetKey, "key "+ks[0].ID())
		var prev []string
		for _, k := range ks[1:] {
			prev = append(prev, "key "+k.ID())
		}
		add(EnvFernetPreviousKeys, orUnset(strings.Join(prev, ", ")))
	} else {
		add(EnvFernetKey, "(unset)")
		add(EnvFernetPreviousKeys, "(unset)")
	}
	if c.DBDSN.IsZero() {
		add(EnvDBDSN, "(unset: embedded SQLite store)")
	} else {
		add(EnvDBDSN, MaskDSN(c.DBDSN.Reveal()))
	}
	add(EnvSecretsToken, setOrUnset(!c.Token.IsZero()))
	add(EnvScanKey, setOrUnset(!c.ScanKey.IsZero()))
	add(EnvPolicyFile, orUnset(c.PolicyFile))
	add(EnvTargetsFile, orUnset(c.TargetsFile))
	add(EnvAuditFile, orUnset(c.AuditFile))
	add(EnvAuditKafka, orUnset(strings.Join(c.AuditKafka, ",")))
	add(EnvAuditKafkaTopic, c.AuditKafkaTopic)
	add(EnvListen, c.Listen)
	if c.UIListen == "" {
		add(EnvUIListen, "(unset: no web console)")
	} else {
		add(EnvUIListen, c.UIListen)
	}
	add(EnvTokenTTL, c.TokenTTL.String())
	add(EnvTokenMaxTTL, c.TokenMaxTTL.String())
	add(EnvLoginRate, c.LoginRate.String())
	add(EnvLogLevel, c.LogLevel)
	add(EnvLogFormat, c.LogFormat)
	add(EnvSecretsAddr, orUnset(MaskDSN(c.SecretsAddr)))
	add(EnvCredentialFile, orUnset(c.CredentialFile))
	add(EnvOPAURL, orUnset(MaskDSN(c.OPA.URL.Reveal())))
	add(EnvOPAURLSecret, orUnset(c.OPA.URLSecret))
	add(EnvOPADecisionPath, c.OPA.DecisionPath)
	add(EnvOPAToken, setOrUnset(!c.OPA.Token.IsZero()))
	add(EnvOPATimeout, c.OPA.Timeout.String())
	add(EnvOPACacheTTL, c.OPA.CacheTTL.String())
	return s
}

func setOrUnset(b bool) string {
	if b {
		return "(set)"
	}
	return "(unset)"
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// MaskDSN replaces the password of a URL-form DSN with "****", exactly as
// the policy writes it (postgresql://user:****@host:5432/db,
// redis://:****@host:6379/0), and the value of password= in a key=value
// DSN. Anything else is returned unchanged. It is [redact.MaskDSN].
func MaskDSN(dsn string) string { return redact.MaskDSN(dsn) }
