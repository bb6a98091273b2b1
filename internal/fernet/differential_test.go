package fernet

import (
	"bytes"
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"

	fernetgo "github.com/fernet/fernet-go"
)

// TestDifferentialFernetGo checks, on random valid inputs, that we and
// github.com/fernet/fernet-go decrypt each other's tokens to the same
// plaintext and agree on which key a token belongs to.
func TestDifferentialFernetGo(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	n := 400
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		ours := GenerateKey()
		theirs, err := fernetgo.DecodeKey(ours.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var gk fernetgo.Key
		if err := gk.Generate(); err != nil {
			t.Fatal(err)
		}
		other, err := ParseKey(gk.Encode())
		if err != nil {
			t.Fatalf("fernet-go key refused: %v", err)
		}

		size := rng.IntN(300)
		if i%50 == 0 {
			size = rng.IntN(70000)
		}
		msg := make([]byte, size)
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		ts := time.Unix(rng.Int64N(1<<34), 0)

		// Ours -> fernet-go.
		tok := ours.EncryptAt(msg, ts)
		got := fernetgo.VerifyAndDecrypt(tok, 0, []*fernetgo.Key{theirs})
		if got == nil || !bytes.Equal(got, msg) {
			t.Fatalf("case %d (%d bytes): fernet-go does not decrypt our token", i, size)
		}
		if fernetgo.VerifyAndDecrypt(tok, 0, []*fernetgo.Key{&gk}) != nil {
			t.Fatalf("case %d: fernet-go accepts our token under another key", i)
		}

		// fernet-go -> ours.
		tok2, err := fernetgo.EncryptAndSignAtTime(msg, theirs, ts)
		if err != nil {
			t.Fatal(err)
		}
		got, err = ours.Decrypt(tok2)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("case %d (%d bytes): we do not decrypt fernet-go's token: %v", i, size, err)
		}
		if at, err := ours.ExtractTimestamp(tok2); err != nil || !at.Equal(ts) {
			t.Fatalf("case %d: timestamp %v, want %v (%v)", i, at, ts, err)
		}
		if _, err := other.Decrypt(tok2); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("case %d: fernet-go's token accepted under another key", i)
		}
		// A token from fernet-go's own key decrypts under ours parsed from it.
		tok3, _ := fernetgo.EncryptAndSign(msg, &gk)
		if got, err := other.Decrypt(tok3); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("case %d: fernet-go key's token: %v", i, err)
		}
	}
}
