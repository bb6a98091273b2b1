package rotate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

func TestExplicitKeysRing(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	oldFile := filepath.Join(dir, "old.key")
	if err := os.WriteFile(oldFile, []byte(k1.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NEW": k2.Encode(), "BAD": "not-a-key"}
	getenv := func(k string) string { return env[k] }
	loaded, _ := fernet.NewRing(k3, k1)

	ring, err := ExplicitKeys{OldFile: oldFile, NewEnv: "NEW"}.Ring("", getenv, loaded)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ring.Keys() {
		ids = append(ids, k.ID())
	}
	if want := []string{k2.ID(), k1.ID(), k3.ID()}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("ring %v; want new, old, then the other loaded keys %v", ids, want)
	}
	if ring, err := (ExplicitKeys{OldFile: oldFile}).Ring("", getenv, loaded); err != nil || ring.Primary().ID() != k3.ID() {
		t.Fatalf("without a new key the loaded primary is the new one: %v", err)
	}

	for _, c := range []struct {
		k    ExplicitKeys
		env  string
		want string
	}{
		{ExplicitKeys{OldFile: oldFile, OldEnv: "NEW"}, "", "--old-key-file and --old-key-env: give one"},
		{ExplicitKeys{OldFile: oldFile, NewFile: oldFile, NewEnv: "NEW"}, "", "--new-key-file and --new-key-env: give one"},
		{ExplicitKeys{NewEnv: "NEW"}, "", "need --old-key-file or --old-key-env"},
		{ExplicitKeys{OldFile: oldFile}, ".env", "--env-file and --old-key-*: give one"},
		{ExplicitKeys{OldEnv: "UNSET"}, "", "--old-key-env: $UNSET is not set"},
		{ExplicitKeys{OldEnv: "BAD"}, "", "BAD: malformed Fernet key"},
		{ExplicitKeys{OldFile: oldFile, NewFile: oldFile}, "", "the same key"},
		{ExplicitKeys{OldFile: filepath.Join(dir, "missing")}, "", "--old-key-file: cannot read"},
	} {
		_, err := c.k.Ring(c.env, getenv, loaded)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(ue.Msg, c.want) {
			t.Errorf("%+v: %v; want a usage error with %q", c.k, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "not-a-key") {
			t.Errorf("the error repeats the value: %v", err)
		}
	}
	if _, err := (ExplicitKeys{OldEnv: "NEW"}).Ring("", getenv, nil); !strings.Contains(err.Error(), "no new key") {
		t.Errorf("no new key and none loaded: %v", err)
	}
}

func TestReadKeyFile(t *testing.T) {
	if k, err := ReadKeyFile("--key-file", ""); k != nil || err != nil {
		t.Fatalf("no path: %v %v; want no key and no error", k, err)
	}
	f := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(f, []byte(fernet.GenerateKey().Encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadKeyFile("--key-file", f)
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Hint != "chmod 600 "+f {
		t.Fatalf("a 0644 key file: %v; want a usage error with a chmod hint", err)
	}
}

func TestCheckForce(t *testing.T) {
	for _, c := range []struct {
		force  bool
		reason string
		ok     bool
	}{{false, "", true}, {true, "INC-1", true}, {true, "  ", false}, {false, "why", false}} {
		if err := CheckForce(c.force, c.reason); (err == nil) != c.ok {
			t.Errorf("CheckForce(%v, %q) = %v", c.force, c.reason, err)
		}
	}
}

func TestFault(t *testing.T) {
	for _, c := range []struct {
		err   error
		class fault.Class
	}{
		{&UsageError{Msg: "x", Hint: "h"}, fault.Usage},
		{&LockedError{}, fault.Conflict},
		{&KeyStateError{KeyID: "k", Forceable: true}, fault.Conflict},
		{&KeyStateError{KeyID: "k"}, fault.Usage},
		{store.ErrNotFound, fault.NotFound},
		{ErrFailures, fault.InvalidToken},
		{ErrTargetFailures, fault.CheckFailed},
		{errors.New("other"), 0},
	} {
		var fe *fault.Error
		if errors.As(Fault(c.err), &fe); fe == nil && c.class != 0 || fe != nil && fe.Class != c.class {
			t.Errorf("Fault(%v) = %v; want class %v", c.err, fe, c.class)
		}
	}
	var fe *fault.Error
	if errors.As(Fault(&UsageError{Msg: "x", Hint: "h"}), &fe); fe == nil || fe.Hint != "h" {
		t.Errorf("a usage error's hint: %v", fe)
	}
	if Fault(nil) != nil {
		t.Error("Fault(nil) is not nil")
	}
}
