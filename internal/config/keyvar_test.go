package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func TestKeyVar(t *testing.T) {
	k := fernet.GenerateKey()
	env := map[string]string{"OLD_KEY": k.Encode(), "BLANK": "  ", "BAD": "sk-not-a-key"}
	getenv := func(n string) string { return env[n] }
	if got, err := KeyVar(getenv, "OLD_KEY"); err != nil || !got.Equal(k) {
		t.Fatalf("KeyVar = %v, %v", got, err)
	}
	for _, n := range []string{"UNSET", "BLANK"} {
		if _, err := KeyVar(getenv, n); !errors.Is(err, ErrVarUnset) {
			t.Errorf("%s: %v; want ErrVarUnset", n, err)
		}
	}
	_, err := KeyVar(getenv, "BAD")
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "BAD" || strings.Contains(err.Error(), "sk-not-a-key") {
		t.Fatalf("a malformed key: %v; want an *Error naming BAD, not the value", err)
	}
}
