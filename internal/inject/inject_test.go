package inject

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

func TestChildEnv(t *testing.T) {
	t.Parallel()
	parent := []string{"PATH=/bin", "HOME=/h", "A=1", "SA01_SECRETS_CREDENTIAL_FILE=/c", "SA01_CRYPTO_FERNET_KEY_FILE=/k", "OPENAI_API_KEY=old", "BAD"}
	got := strings.Join(ChildEnv(parent, map[string]string{"OPENAI_API_KEY": "new", "B": "2"}, false), " ")
	if got != "PATH=/bin HOME=/h A=1 OPENAI_API_KEY=new B=2" {
		t.Fatalf("childEnv = %s", got)
	}
	got = strings.Join(ChildEnv(parent, map[string]string{"B": "2"}, true), " ")
	if got != "PATH=/bin HOME=/h B=2" {
		t.Fatalf("pristine = %s", got)
	}
	got = strings.Join(ChildEnv(nil, nil, true), " ")
	if got != "PATH=/usr/local/bin:/usr/bin:/bin" {
		t.Fatalf("pristine, empty parent = %s", got)
	}
}

type fakeSource struct {
	grants []secrets.Grant
	values map[string]string
	keys   map[string]sensitive.String
}

func (f *fakeSource) Granted(context.Context) ([]secrets.Grant, error) { return f.grants, nil }
func (f *fakeSource) Value(_ context.Context, name string) (sensitive.String, int, error) {
	return sensitive.New(f.values[name]), 1, nil
}
func (f *fakeSource) PlatformKeys(context.Context) (map[string]sensitive.String, error) {
	return f.keys, nil
}
func (f *fakeSource) Started(context.Context, string, int) error { return nil }

// TestFetchReaderDecides: a grant under a variable that changes how a
// program runs is injected only where the reader mapped it, one under
// sa01-secrets' own names never; each skip is a warning naming it. The
// platform's variables and the platform keys the source hands out are
// injected.
func TestFetchReaderDecides(t *testing.T) {
	t.Parallel()
	src := &fakeSource{
		grants: []secrets.Grant{
			{Name: "llm/zz_helper", Env: "BASH_ENV"},
			{Name: "llm/preload", Env: "LD_PRELOAD"},
			{Name: "net/proxy", Env: "HTTPS_PROXY", Mapped: true},
			{Name: "llm/addr", Env: "SA01_SECRETS_ADDR", Mapped: true},
			{Name: "db/gateway/dsn", Env: "SA01_DB_DSN"},
			{Name: "platform/internal_token", Env: "SA01_AUTH_INTERNAL_TOKEN"},
		},
		values: map[string]string{"llm/zz_helper": "touch /tmp/x", "llm/preload": "/tmp/x.so", "net/proxy": "http://proxy:3128",
			"llm/addr": "http://evil", "db/gateway/dsn": "postgres://gw", "platform/internal_token": "itok"},
		keys: map[string]sensitive.String{"SA01_CRYPTO_FERNET_KEY": sensitive.New("k1"), "SA01_CRYPTO_FERNET_PREVIOUS_KEYS": sensitive.New("k0")},
	}
	var logs bytes.Buffer
	o := &Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Service: "gateway"}
	vars, _, err := Fetch(context.Background(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"HTTPS_PROXY": "http://proxy:3128", "SA01_DB_DSN": "postgres://gw", "SA01_AUTH_INTERNAL_TOKEN": "itok",
		"SA01_CRYPTO_FERNET_KEY": "k1", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS": "k0"}
	if len(vars) != len(want) {
		t.Errorf("vars %v", vars)
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
	for _, w := range []string{"secret=llm/zz_helper env=BASH_ENV", "secret=llm/preload env=LD_PRELOAD", "secret=llm/addr env=SA01_SECRETS_ADDR"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("no warning with %q: %s", w, logs.String())
		}
	}
	if strings.Contains(logs.String(), "touch /tmp/x") || strings.Contains(logs.String(), "k1") {
		t.Error("a warning holds a value")
	}
}

// TestFetchEnvNameFaults: a grant with no env name, and two grants on one
// variable, are usage faults with a hint, and nothing is read.
func TestFetchEnvNameFaults(t *testing.T) {
	t.Parallel()
	for _, grants := range [][]secrets.Grant{
		{{Name: "llm/a"}},
		{{Name: "llm/a", Env: "API_KEY"}, {Name: "llm/b", Env: "API_KEY"}},
	} {
		o := &Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Service: "gateway"}
		vars, _, err := Fetch(context.Background(), &fakeSource{grants: grants}, o)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint == "" || vars != nil {
			t.Errorf("grants %v: vars %v, err %v, want a usage fault with a hint", grants, vars, err)
		}
	}
}

// TestFetchRefusesNUL: a value holding a NUL byte cannot be an environment
// variable (exec would refuse the whole environment, naming nothing): the
// fault names the secret and its variable, never the value.
func TestFetchRefusesNUL(t *testing.T) {
	t.Parallel()
	src := &fakeSource{
		grants: []secrets.Grant{{Name: "llm/a", Env: "API_KEY"}, {Name: "llm/b", Env: "B_KEY"}},
		values: map[string]string{"llm/a": "ok", "llm/b": "sk-CANARY\x00tail"},
	}
	o := &Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Service: "gateway"}
	vars, _, err := Fetch(context.Background(), src, o)
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Class != fault.Usage || vars != nil {
		t.Fatalf("vars %v, err %v, want a usage fault", vars, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "llm/b") || !strings.Contains(msg, "B_KEY") || strings.Contains(msg, "CANARY") {
		t.Errorf("fault %q", msg)
	}
}

// TestStartErrorSaysWhy: a start that exec refuses with an error wrapping
// nothing (here an inherited variable holding a NUL) says why, not
// "<nil>".
func TestStartErrorSaysWhy(t *testing.T) {
	t.Parallel()
	o := Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Service: "gateway", Environ: []string{"X=a\x00b"}}
	_, err := Run(context.Background(), &fakeSource{}, "/bin/true", []string{"true"}, o)
	var se *StartError
	if !errors.As(err, &se) || strings.Contains(err.Error(), "<nil>") || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("err = %v", err)
	}
}
