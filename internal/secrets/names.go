package secrets

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Limits.
const (
	// MaxNameLen is the longest secret name, in bytes.
	MaxNameLen = 256
	// MaxValueSize is the largest value, in bytes.
	MaxValueSize = 64 << 10
)

// ValidateName checks a secret name: 1 to 256 bytes of path segments
// separated by '/', each of letters, digits, '_', '.' and '-', not starting
// with '-' or '.', with no empty segment. The error describes the problem
// and never repeats the name, which may be a value pasted by mistake.
func ValidateName(name string) error {
	if name == "" {
		return invalid("secret name: empty")
	}
	if len(name) > MaxNameLen {
		return invalid("secret name: %d bytes; at most %d", len(name), MaxNameLen)
	}
	for i, seg := range strings.Split(name, "/") {
		if seg == "" {
			return invalid("secret name: empty path segment %d (leading, trailing or doubled '/')", i+1)
		}
		if seg[0] == '.' || seg[0] == '-' {
			return invalid("secret name: path segment %d starts with %q", i+1, seg[0])
		}
		for j := 0; j < len(seg); j++ {
			if !nameChar(seg[j]) {
				return invalid("secret name: path segment %d has a character outside A-Z a-z 0-9 _ . - at byte %d", i+1, j+1)
			}
		}
	}
	return nil
}

// ValidatePrefix checks a name prefix for list and export: empty, or a
// valid name, optionally ending in '/'.
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if err := ValidateName(strings.TrimSuffix(p, "/")); err != nil {
		return invalid("--prefix: %s", strings.TrimPrefix(err.Error(), "invalid input: secret name: "))
	}
	return nil
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidEnvName reports whether s is a portable environment variable name
// (dotenv.ValidName: letters, digits and '_', not starting with a digit).
func ValidEnvName(s string) bool { return dotenv.ValidName(s) }

// ValidClass reports whether c is a known class.
func ValidClass(c string) bool {
	for _, k := range store.Classes {
		if c == k {
			return true
		}
	}
	return false
}

// DefaultRotation returns the policy's rotation period for a class:
// encryption keys 90 days, internal tokens 180 days, others none (API keys
// rotate as their provider requires: set a period explicitly).
func DefaultRotation(class string) time.Duration {
	switch class {
	case store.ClassEncryptionKey:
		return 90 * 24 * time.Hour
	case store.ClassInternalToken:
		return 180 * 24 * time.Hour
	}
	return 0
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

// runsProgramExact, runsProgramPrefix and runsProgramSuffix are the
// variables that change how a program runs rather than what it is told:
// what the dynamic loader, the C library, a shell, an interpreter, a VM,
// a package manager or a TLS/HTTP stack reads to load code, find files,
// pick a proxy or trust a certificate. They are compared upper-cased, so
// https_proxy and npm_config_* are caught with their upper-case forms.
var (
	runsProgramExact = map[string]bool{
		"PATH": true, "BASH_ENV": true, "ENV": true, "IFS": true, "CDPATH": true, "GLOBIGNORE": true,
		"PS1": true, "PS2": true, "PS3": true, "PS4": true, "PROMPT_COMMAND": true, "SHELLOPTS": true,
		"BASHOPTS": true, "INPUTRC": true, "ZDOTDIR": true, "SHELL": true, "HOME": true,
		"GCONV_PATH": true, "GETCONF_DIR": true, "LOCPATH": true, "NLSPATH": true, "NIS_PATH": true,
		"GLIBC_TUNABLES": true, "HOSTALIASES": true, "RES_OPTIONS": true, "LOCALDOMAIN": true,
		"RESOLV_HOST_CONF": true, "TMPDIR": true, "TMP": true, "TEMP": true, "TZDIR": true,
		"TERMINFO": true, "TERMINFO_DIRS": true,
		"RUBYOPT": true, "RUBYLIB": true, "JAVA_TOOL_OPTIONS": true, "JDK_JAVA_OPTIONS": true,
		"CLASSPATH": true, "TCLLIBPATH": true, "PHPRC": true, "PHP_INI_SCAN_DIR": true,
		"ELECTRON_RUN_AS_NODE": true,
		"GODEBUG":              true, "GOFLAGS": true, "GOROOT": true, "GOPATH": true, "GOENV": true,
		"GOTOOLCHAIN": true, "GOPROXY": true, "GOINSECURE": true, "GONOSUMDB": true, "GONOSUMCHECK": true,
		"CURL_CA_BUNDLE": true, "REQUESTS_CA_BUNDLE": true, "AWS_CA_BUNDLE": true,
		"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": true, "SSLKEYLOGFILE": true,
		"EDITOR": true, "VISUAL": true, "PAGER": true, "BROWSER": true, "LESSOPEN": true,
		"LESSCLOSE": true, "MANPAGER": true, "SSH_ASKPASS": true, "SUDO_ASKPASS": true,
		"SSH_AUTH_SOCK": true, "GNUPGHOME": true,
	}
	runsProgramPrefix = []string{
		"LD_", "DYLD_", "BASH_FUNC_", "MALLOC_", "PYTHON", "PERL", "RUBY", "NODE_", "NPM_CONFIG_",
		"YARN_", "JAVA_", "_JAVA_", "GEM_", "BUNDLE_", "PIP_", "LUA_", "GIT_", "SSL_CERT_", "OPENSSL_",
		"DOTNET_", "CORECLR_", "COR_", "XDG_",
	}
	runsProgramSuffix = []string{"_PROXY"}
)

// RunsProgram reports whether the environment variable name changes how
// a program runs (LD_PRELOAD, BASH_ENV, PATH, PYTHONSTARTUP, NODE_OPTIONS,
// HTTPS_PROXY, SSL_CERT_FILE, GIT_SSH_COMMAND, ...): a secret written
// under such a name would run code in, or redirect the traffic of, every
// reader. Writes refuse these names, and run injects them only where the
// reader's own policy entry maps the name explicitly.
func RunsProgram(name string) bool {
	u := strings.ToUpper(name)
	if runsProgramExact[u] {
		return true
	}
	for _, p := range runsProgramPrefix {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	for _, s := range runsProgramSuffix {
		if strings.HasSuffix(u, s) {
			return true
		}
	}
	return false
}

// ToolEnvPrefix begins every setting of sa01-secrets itself.
const ToolEnvPrefix = "SA01_SECRETS_"

// ToolEnv reports whether the environment variable name belongs to
// sa01-secrets itself: one of its SA01_SECRETS_* settings (its credential
// and token among them) or the store's Fernet keys, with their _FILE forms.
// run never passes them on from its own environment, and no secret is
// written or injected under them.
func ToolEnv(name string) bool {
	if strings.HasPrefix(name, ToolEnvPrefix) {
		return true
	}
	base := strings.TrimSuffix(name, "_FILE")
	return base == config.EnvFernetKey || base == config.EnvFernetPreviousKeys
}

// CheckEnvName checks the env name a secret is written under (its own,
// or the one its name gives, see EnvName): a portable name that neither
// belongs to sa01-secrets (ToolEnv) nor changes how a program runs
// (RunsProgram). The error names the variable and says why.
func CheckEnvName(env string) error {
	if !ValidEnvName(env) { // not repeated: it may be a value pasted by mistake
		return invalid("env: not a valid environment variable name (letters, digits, '_', not starting with a digit)")
	}
	if why := envProblem(env); why != "" {
		return invalid("env %s: %s", env, why)
	}
	return nil
}

// envProblem says why env is refused as a secret's env name, or "".
func envProblem(env string) string {
	switch {
	case !ValidEnvName(env):
		return "not a valid environment variable name (letters, digits, '_', not starting with a digit)"
	case ToolEnv(env):
		return "the name belongs to sa01-secrets' own settings; choose another"
	case RunsProgram(env):
		return "the variable changes how programs run (loader, shell, interpreter, proxy or TLS settings), so no secret is written under it; choose another name, and a reader that needs it maps it in its own policy entry (env: {" + env + ": SECRET})"
	}
	return ""
}

// ParsePeriod parses a rotation period: a Go duration (720h) or days
// (90d); 0 is none. A negative or malformed period is an error.
func ParsePeriod(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: not a rotation period", ErrInvalid)
	}
	return d, nil
}
