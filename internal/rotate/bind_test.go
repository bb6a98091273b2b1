package rotate

import (
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

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
