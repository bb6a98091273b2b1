package fernet

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzKey = func() *Key {
	k, err := ParseKey(vectorKey)
	if err != nil {
		panic(err)
	}
	return k
}()

// FuzzDecrypt: Decrypt never panics on any input, never accepts a token it
// did not make, and never accepts a mutated token.
func FuzzDecrypt(f *testing.F) {
	for _, name := range []string{"generate.json", "verify.json", "invalid.json"} {
		for _, v := range loadVectorsF(f, name) {
			f.Add([]byte(v.Token), []byte(v.Src), uint64(v.Now.Unix()), uint(3), byte(1))
		}
	}
	f.Add([]byte(""), []byte(""), uint64(0), uint(0), byte(0x80))
	f.Add([]byte("gAAAAA=="), []byte("x"), uint64(1<<63), uint(60), byte(0xff))
	f.Add(bytes.Repeat([]byte("A"), 100), bytes.Repeat([]byte("y"), 33), uint64(1_700_000_000), uint(99), byte('='))
	f.Fuzz(func(t *testing.T, in, msg []byte, ts uint64, pos uint, x byte) {
		// Arbitrary input: no panic; anything accepted must be consistent.
		if got, err := fuzzKey.DecryptAt(in, 0, time.Unix(int64(ts), 0)); err == nil {
			again, err := fuzzKey.Decrypt(in)
			if err != nil || !bytes.Equal(got, again) {
				t.Fatal("accepted once, then not")
			}
		} else if !errors.Is(err, ErrInvalidToken) || got != nil {
			t.Fatalf("error %v with %d bytes", err, len(got))
		}

		// AppendDecrypt agrees with DecryptAt and keeps its prefix.
		want, werr := fuzzKey.DecryptAt(in, NoTTL, time.Time{})
		got, gerr := fuzzKey.AppendDecrypt([]byte("p"), in, NoTTL, time.Time{})
		if (werr == nil) != (gerr == nil) || string(got) != "p"+string(want) {
			t.Fatalf("AppendDecrypt = %q, %v; DecryptAt = %q, %v", got, gerr, want, werr)
		}

		// A fresh token, mutated in one place, is refused.
		tok := fuzzKey.seal(nil, msg, nil, ts)
		if got, err := fuzzKey.Decrypt(tok); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %v", err)
		}
		if app := fuzzKey.AppendEncrypt([]byte("p"), msg); string(app[:1]) != "p" || len(app) != 1+len(tok) {
			t.Fatal("AppendEncrypt lost its prefix or has the wrong length")
		}
		if x == 0 {
			return
		}
		mut := append([]byte(nil), tok...)
		mut[pos%uint(len(mut))] ^= x
		if got, err := fuzzKey.Decrypt(mut); err == nil {
			t.Fatalf("mutated token accepted (%q)", got)
		}
		r, _ := NewRing(GenerateKey(), fuzzKey)
		if _, err := r.Rotate(mut); err == nil {
			t.Fatal("mutated token rotated")
		}
		// Cut or extended, it is refused too.
		if _, err := fuzzKey.Decrypt(tok[:pos%uint(len(tok))]); err == nil {
			t.Fatal("truncated token accepted")
		}
		if _, err := fuzzKey.Decrypt(append(tok[:len(tok):len(tok)], x)); err == nil && !isSpace(x) {
			t.Fatal("extended token accepted")
		}
	})
}

// FuzzParseToken: the token codec round-trips. Every text the decoder
// accepts is the canonical encoding of what it decoded (plus surrounding
// whitespace), and the encoder of large tokens matches encoding/base64.
func FuzzParseToken(f *testing.F) {
	for _, name := range []string{"generate.json", "invalid.json"} {
		for _, v := range loadVectorsF(f, name) {
			f.Add([]byte(v.Token))
		}
	}
	f.Add([]byte(" gAAAAA==\n"))
	f.Add([]byte{0x80, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		// Inspect (the targets' plaintext check) agrees with decodeToken.
		if ts, ok := Inspect(in); ok != (len(in) <= 1<<20 && func() bool { _, ok := decodeToken(in); return ok }()) {
			t.Fatalf("Inspect = %v, %v; decodeToken disagrees", ts, ok)
		}
		if raw, ok := decodeToken(in); ok {
			if got := base64.URLEncoding.EncodeToString(raw); got != string(trimSpace(in)) {
				t.Fatalf("decoded %q, which encodes as %q", trimSpace(in), got)
			}
			if raw[0] != Version || len(raw) < minTokenSize || (len(raw)-headerSize-hmacSize)%16 != 0 {
				t.Fatal("decodeToken broke its contract")
			}
		}
		// Treat in as a raw token: encodeThrough must agree with the
		// stdlib, and a well-formed raw token must decode back to itself.
		buf := make([]byte, base64.URLEncoding.EncodedLen(len(in)))
		copy(buf[len(buf)-len(in):], in)
		encodeThrough(buf, len(in), new([scratchSize]byte))
		want := base64.URLEncoding.EncodeToString(in)
		if string(buf) != want {
			t.Fatalf("encodeThrough = %q, want %q", buf, want)
		}
		raw, ok := decodeToken(buf)
		wellFormed := len(in) >= minTokenSize && in[0] == Version && (len(in)-headerSize-hmacSize)%16 == 0
		if ok != wellFormed || ok && !bytes.Equal(raw, in) {
			t.Fatalf("decodeToken(encode(%x)) = %x, %v", in, raw, ok)
		}
	})
}

// FuzzDecodeBase64: the token decoder accepts exactly what the strict
// URL-safe decoder of encoding/base64 accepts, CR and LF aside (the stdlib
// skips them; tokens never hold them), and decodes it to the same bytes.
func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte("gAAAAA=="))
	f.Add([]byte("gAAAAAA="))
	f.Add([]byte("gAAAAAAA"))
	f.Add([]byte("gAAAAAB="))
	f.Add([]byte("gA=AAAAA"))
	f.Add([]byte("gAAA\nAAA"))
	f.Add([]byte(strings.Repeat("_-9zA", 20)))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in)%4 != 0 {
			return
		}
		dst := make([]byte, len(in)/4*3)
		n, ok := decodeBase64(dst, in)
		want := make([]byte, len(in)/4*3)
		wn, err := base64.URLEncoding.Strict().Decode(want, in)
		if bytes.ContainsAny(in, "\r\n") {
			if ok {
				t.Fatalf("accepted %q, which holds CR or LF", in)
			}
			return
		}
		if ok != (err == nil) {
			t.Fatalf("decodeBase64(%q) ok=%v; encoding/base64: %v", in, ok, err)
		}
		if ok && !bytes.Equal(dst[:n], want[:wn]) {
			t.Fatalf("decodeBase64(%q) = %x, want %x", in, dst[:n], want[:wn])
		}
	})
}

// FuzzParseKey: ParseKey never panics, accepts only what Encode gives back
// exactly, and its errors never echo the input.
func FuzzParseKey(f *testing.F) {
	f.Add(vectorKey)
	f.Add(strings.TrimRight(vectorKey, "="))
	f.Add(" " + vectorKey + "\n")
	f.Add(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)))
	f.Add("")
	f.Add(vectorKey[:42] + "f=")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			var ke *KeyError
			if k != nil || !errors.As(err, &ke) {
				t.Fatalf("ParseKey = %v, %v", k, err)
			}
			// The reason is one of a fixed set: nothing of the input.
			if !knownKeyReasons[ke.Reason] {
				t.Fatalf("unexpected reason %q", ke.Reason)
			}
			return
		}
		if enc := k.Encode(); enc != strings.TrimSpace(s) {
			t.Fatalf("ParseKey accepted %q, which encodes as %q", strings.TrimSpace(s), enc)
		}
		k2, err := ParseKey(k.Encode())
		if err != nil || !k2.Equal(k) || k2.ID() != k.ID() {
			t.Fatal("Encode does not round-trip")
		}
	})
}

func loadVectorsF(f *testing.F, name string) []vector {
	vs, err := readVectors(name)
	if err != nil {
		f.Fatal(err)
	}
	return vs
}

var knownKeyReasons = map[string]bool{
	"empty": true,
	"standard base64 alphabet ('+' or '/'); want URL-safe base64 ('-' and '_')": true,
	"missing '=' padding; want 44 characters of URL-safe base64":                true,
	"wrong length; want 44 characters of URL-safe base64 encoding 32 bytes":     true,
	"not URL-safe base64":         true,
	"wrong length; want 32 bytes": true,
}
