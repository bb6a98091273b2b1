package rotate

import (
	"fmt"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// The cached binder computes exactly secrets.Bind, for many keys, names,
// versions and tokens, reused across keys.
func TestCachedBinderMatchesSecretsBind(t *testing.T) {
	if BindingLabel != secrets.BindingLabel {
		t.Fatalf("label %q, secrets uses %q", BindingLabel, secrets.BindingLabel)
	}
	keys := []*fernet.Key{fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()}
	b := NewCachedBinder()
	for i := range 300 {
		k := keys[i%3]
		name := fmt.Sprintf("a/b_%d%s", i, string(make([]byte, i%7)))
		tok := string(k.Encrypt(make([]byte, i)))
		want := secrets.Bind(k, name, i*31, k.ID(), tok)
		if got := b(k, name, i*31, k.ID(), tok); !bytesEqual(got, want) {
			t.Fatalf("case %d: cached binder differs from secrets.Bind", i)
		}
	}
	// Field boundaries matter: shifting a byte between fields changes it.
	k := keys[0]
	if bytesEqual(b(k, "ab", 1, "c", "t"), b(k, "a", 1, "bc", "t")) {
		t.Error("fields are not delimited")
	}
}

func TestTokenTime(t *testing.T) {
	k := fernet.GenerateKey()
	for _, at := range []time.Time{time.Unix(0, 0), time.Unix(1_700_000_000, 0), time.Unix(1<<40, 0)} {
		tok := k.EncryptAt([]byte("x"), at)
		got, ok := tokenTime(tok)
		want, _ := k.ExtractTimestamp(tok)
		if !ok || !got.Equal(want) || !got.Equal(at) {
			t.Errorf("tokenTime = %v, %v; want %v", got, ok, at)
		}
	}
	if _, ok := tokenTime([]byte("short")); ok {
		t.Error("accepted a short token")
	}
}
