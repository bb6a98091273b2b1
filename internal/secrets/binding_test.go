package secrets

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// The cached binder computes exactly secrets.Bind, for many keys, names,
// versions and tokens, reused across keys.
func TestNewBinderMatchesBind(t *testing.T) {
	keys := []*fernet.Key{fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()}
	b := NewBinder()
	for i := range 300 {
		k := keys[i%3]
		name := fmt.Sprintf("a/b_%d%s", i, string(make([]byte, i%7)))
		tok := string(k.Encrypt(make([]byte, i)))
		want := Bind(k, name, i*31, k.ID(), tok)
		if got := b(k, name, i*31, k.ID(), tok); !bytes.Equal(got, want) {
			t.Fatalf("case %d: NewBinder differs from Bind", i)
		}
	}
	// Field boundaries matter: shifting a byte between fields changes it.
	k := keys[0]
	if bytes.Equal(b(k, "ab", 1, "c", "t"), b(k, "a", 1, "bc", "t")) {
		t.Error("fields are not delimited")
	}
}
