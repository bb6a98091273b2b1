package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

const vectorKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

func mustKey(t testing.TB, s string) *Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTripSizes(t *testing.T) {
	k := GenerateKey()
	for n := 0; n <= 70; n++ {
		roundTrip(t, k, n)
	}
	for _, n := range []int{255, 256, 257, 1000, 1024, 4095, 65536, 65537} {
		roundTrip(t, k, n)
	}
}

func roundTrip(t *testing.T, k *Key, n int) {
	t.Helper()
	msg := make([]byte, n)
	rand.Read(msg)
	tok := k.Encrypt(msg)
	raw, err := base64.URLEncoding.Strict().DecodeString(string(tok))
	if err != nil {
		t.Fatalf("%d bytes: token is not URL-safe base64: %v", n, err)
	}
	if want := 1 + 8 + 16 + (n/16+1)*16 + 32; len(raw) != want || raw[0] != 0x80 {
		t.Fatalf("%d bytes: raw token of %d bytes (version %#x), want %d", n, len(raw), raw[0], want)
	}
	got, err := k.Decrypt(tok)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("%d bytes: round trip: %v", n, err)
	}
	if cap(got) != len(got) {
		t.Fatalf("%d bytes: plaintext has spare capacity %d", n, cap(got)-len(got))
	}
}

func TestEncryptDoesNotTouchInput(t *testing.T) {
	k := GenerateKey()
	msg := []byte("attack at dawn, bring snacks")
	orig := append([]byte(nil), msg...)
	tok := k.Encrypt(msg)
	if !bytes.Equal(msg, orig) {
		t.Fatal("Encrypt changed its input")
	}
	tokCopy := append([]byte(nil), tok...)
	if _, err := k.Decrypt(tok); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tok, tokCopy) {
		t.Fatal("Decrypt changed its input")
	}
}

func TestTimestampAndIV(t *testing.T) {
	k := GenerateKey()
	at := time.Unix(1700000000, 999_000_000)
	a, b := k.EncryptAt([]byte("x"), at), k.EncryptAt([]byte("x"), at)
	if bytes.Equal(a, b) {
		t.Fatal("two tokens of the same message share an IV")
	}
	ts, err := k.ExtractTimestamp(a)
	if err != nil || !ts.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("ExtractTimestamp = %v, %v", ts, err)
	}
	// ExtractTimestamp checks the MAC first.
	if _, err := GenerateKey().ExtractTimestamp(a); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("ExtractTimestamp with the wrong key: %v", err)
	}
}

// TestTTL checks Python's rules: refuse when ts + ttl < now or ts > now + 60.
func TestTTL(t *testing.T) {
	k := GenerateKey()
	const ts = 1_700_000_000
	tok := k.EncryptAt([]byte("m"), time.Unix(ts, 0))
	sec := time.Second
	for _, c := range []struct {
		name string
		ttl  time.Duration
		now  int64
		ok   bool
	}{
		{"ttl 0, same second", 0, ts, true},
		{"ttl 0, next second", 0, ts + 1, false},
		{"ttl 0, later in the same second", 0, ts, true},
		{"ttl 10, at the edge", 10 * sec, ts + 10, true},
		{"ttl 10, past the edge", 10 * sec, ts + 11, false},
		{"fractional ttl rounds down", 10*sec + 999*time.Millisecond, ts + 11, false},
		{"fractional ttl at the edge", 10*sec + 999*time.Millisecond, ts + 10, true},
		{"skew 60 s accepted", 10 * sec, ts - 60, true},
		{"skew 61 s refused", 10 * sec, ts - 61, false},
		{"skew refused even with a huge ttl", math.MaxInt64, ts - 61, false},
		{"huge ttl", math.MaxInt64, ts + 1_000_000_000, true},
		{"negative ttl is a limit too", -5 * sec, ts, false},
		{"negative ttl allows tokens from the future", -5 * sec, ts - 6, true},
		{"no ttl, far future", NoTTL, ts - 1_000_000, true},
		{"no ttl, far past", NoTTL, ts + 1_000_000_000, true},
		{"no ttl, zero time", NoTTL, time.Time{}.Unix(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := k.DecryptAt(tok, c.ttl, time.Unix(c.now, 0))
			if (err == nil) != c.ok {
				t.Fatalf("ttl %v at ts%+d: err = %v, want ok=%v", c.ttl, c.now-ts, err, c.ok)
			}
			r, _ := NewRing(GenerateKey(), k)
			_, err = r.DecryptAt(tok, c.ttl, time.Unix(c.now, 0))
			if (err == nil) != c.ok {
				t.Fatalf("ring: ttl %v at ts%+d: err = %v, want ok=%v", c.ttl, c.now-ts, err, c.ok)
			}
		})
	}
	// Sub-second verifier clocks are truncated to the second, as int(time.time()).
	if _, err := k.DecryptAt(tok, 0, time.Unix(ts, 999_999_999)); err != nil {
		t.Fatalf("ttl 0 within the same second: %v", err)
	}
	// Decrypt and DecryptTTL with the real clock.
	now := k.Encrypt([]byte("m"))
	if _, err := k.DecryptTTL(now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := k.DecryptTTL(tok, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old token with a 1 h TTL: %v", err)
	}
	if _, err := k.Decrypt(tok); err != nil {
		t.Fatalf("old token without TTL: %v", err)
	}
}

// TestTimestampExtremes checks the time rules at the ends of the uint64
// timestamp range, where int64 arithmetic would overflow.
func TestTimestampExtremes(t *testing.T) {
	k := GenerateKey()
	iv := make([]byte, 16)
	for _, c := range []struct {
		name string
		ts   uint64
		ttl  time.Duration
		now  int64
		ok   bool
	}{
		{"ts 0, ttl 0, now 0", 0, 0, 0, true},
		{"ts max, no ttl", math.MaxUint64, NoTTL, 0, true},
		{"ts max, ttl", math.MaxUint64, time.Hour, 1_700_000_000, false},
		{"ts 2^63, now max", 1 << 63, time.Hour, math.MaxInt64, true},
		{"ts 2^63+60, now max", 1<<63 + 59, time.Hour, math.MaxInt64, true},
		{"ts 2^63+61, now max", 1<<63 + 60, time.Hour, math.MaxInt64, false},
		{"ts max int64, huge ttl, now max", math.MaxInt64, math.MaxInt64, math.MaxInt64, true},
		{"ts 0, huge ttl, now max", 0, math.MaxInt64, math.MaxInt64, false},
		{"ts 0, now 60 s before 1970", 0, time.Hour, -60, true},
		{"ts 0, now 61 s before 1970", 0, time.Hour, -61, false},
	} {
		tok := k.seal(nil, []byte("m"), iv, c.ts)
		_, err := k.DecryptAt(tok, c.ttl, time.Unix(c.now, 0))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestRejects(t *testing.T) {
	k := mustKey(t, vectorKey)
	good := k.EncryptAt([]byte("hello"), time.Unix(1_700_000_000, 0))
	raw, _ := base64.URLEncoding.DecodeString(string(good))
	enc := func(b []byte) []byte { return []byte(base64.URLEncoding.EncodeToString(b)) }
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), raw...))
	}
	for _, c := range []struct {
		name string
		tok  []byte
	}{
		{"empty", nil},
		{"spaces", []byte("   \n")},
		{"wrong version", enc(mut(func(b []byte) []byte { b[0] = 0x81; return b }))},
		{"flipped timestamp bit", enc(mut(func(b []byte) []byte { b[8] ^= 1; return b }))},
		{"flipped IV bit", enc(mut(func(b []byte) []byte { b[9] ^= 1; return b }))},
		{"flipped ciphertext bit", enc(mut(func(b []byte) []byte { b[30] ^= 0x80; return b }))},
		{"flipped MAC bit", enc(mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }))},
		{"truncated MAC", enc(raw[:len(raw)-1])},
		{"no ciphertext", enc(append(append([]byte(nil), raw[:25]...), raw[len(raw)-32:]...))},
		{"extra byte", enc(append(append([]byte(nil), raw...), 0))},
		{"missing padding", bytes.TrimRight(good, "=")},
		{"standard alphabet", []byte(base64.StdEncoding.EncodeToString(raw))},
		{"interior newline", append(append(append([]byte(nil), good[:8]...), '\r', '\n', '\r', '\n'), good[8:]...)},
		{"interior space", append(append(append([]byte(nil), good[:8]...), ' ', ' ', ' ', ' '), good[8:]...)},
		{"non-canonical last character", nonCanonical(good)},
		{"a key, not a token", []byte(vectorKey)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Equal(c.tok, good) {
				t.Fatal("test case did not change the token")
			}
			if msg, err := k.Decrypt(c.tok); !errors.Is(err, ErrInvalidToken) || msg != nil {
				t.Fatalf("Decrypt = %q, %v; want ErrInvalidToken", msg, err)
			}
			if _, err := k.ExtractTimestamp(c.tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ExtractTimestamp: %v; want ErrInvalidToken", err)
			}
		})
	}
	if _, err := GenerateKey().Decrypt(good); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("wrong key: %v", err)
	}
}

// nonCanonical changes the last data character of a padded token so that
// only its unused low bits differ: Python accepts it, we do not.
func nonCanonical(tok []byte) []byte {
	out := append([]byte(nil), tok...)
	i := bytes.IndexByte(out, '=') - 1
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alpha, out[i])
	out[i] = alpha[v^1]
	return out
}

func TestBadPaddingUnderAValidMAC(t *testing.T) {
	// A correctly signed token whose plaintext padding is wrong must still
	// be refused: build one by hand with padding byte values 0, 17 and a
	// mismatched run.
	k := GenerateKey()
	for _, last := range [][]byte{
		bytes.Repeat([]byte{0}, 16),
		bytes.Repeat([]byte{17}, 16),
		append(bytes.Repeat([]byte{'a'}, 13), 2, 3, 3),
	} {
		tok := sealRaw(k, last)
		if _, err := k.Decrypt(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("padding %x: %v", last, err)
		}
	}
	// And full padding is accepted.
	tok := sealRaw(k, bytes.Repeat([]byte{16}, 16))
	if msg, err := k.Decrypt(tok); err != nil || len(msg) != 0 {
		t.Fatalf("full padding block: %q, %v", msg, err)
	}
	// The same for tokens too large for the scratch buffer, which are
	// decrypted in place: refused, and the append form keeps its prefix.
	big := append(make([]byte, 8192), append(bytes.Repeat([]byte{'a'}, 13), 2, 3, 3)...)
	tok = sealRaw(k, big)
	if _, err := k.Decrypt(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("large token with bad padding: %v", err)
	}
	if got, err := k.AppendDecrypt([]byte("keep"), tok, NoTTL, time.Time{}); !errors.Is(err, ErrInvalidToken) || string(got) != "keep" {
		t.Errorf("large token with bad padding, appended: %q, %v", got, err)
	}
}

// sealRaw encrypts an already padded body as a signed token, with
// crypto/cipher and crypto/hmac directly.
func sealRaw(k *Key, padded []byte) []byte {
	raw := make([]byte, headerSize+len(padded), headerSize+len(padded)+hmacSize)
	raw[0] = Version
	blk, err := aes.NewCipher(k.s.enc[:])
	if err != nil {
		panic(err)
	}
	cipher.NewCBCEncrypter(blk, raw[9:headerSize]).CryptBlocks(raw[headerSize:], padded)
	m := hmac.New(sha256.New, k.s.sign[:])
	m.Write(raw)
	raw = m.Sum(raw)
	return []byte(base64.URLEncoding.EncodeToString(raw))
}

func TestWhitespace(t *testing.T) {
	k := GenerateKey()
	tok := k.Encrypt([]byte("x"))
	for _, w := range []string{" ", "\n", "\r\n", "\t \v\f"} {
		in := []byte(w + string(tok) + w)
		if msg, err := k.Decrypt(in); err != nil || string(msg) != "x" {
			t.Errorf("surrounded by %q: %q, %v", w, msg, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := GenerateKey()
	enc := k.Encode()
	if len(enc) != 44 || !strings.HasSuffix(enc, "=") {
		t.Fatalf("Encode = %d characters", len(enc))
	}
	k2, err := ParseKey("  " + enc + "\n")
	if err != nil || !k2.Equal(k) || k2.ID() != k.ID() || k2.Encode() != enc {
		t.Fatalf("ParseKey(Encode()) round trip: %v", err)
	}
	raw, _ := base64.URLEncoding.DecodeString(vectorKey)
	for _, c := range []struct {
		name, in, reason string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"standard alphabet", base64.StdEncoding.EncodeToString(append([]byte{0xfb, 0xff}, raw[2:]...)), "standard base64"},
		{"missing padding", strings.TrimRight(vectorKey, "="), "missing '=' padding"},
		{"too short", vectorKey[:40], "wrong length"},
		{"too long", vectorKey + "AAAA", "wrong length"},
		{"31 bytes", base64.URLEncoding.EncodeToString(raw[:31]), "wrong length"},
		{"33 bytes", base64.URLEncoding.EncodeToString(append(raw, 1)), "wrong length"},
		{"bad character", "%" + vectorKey[1:], "not URL-safe base64"},
		{"interior newline", vectorKey[:20] + "\n" + vectorKey[21:], "not URL-safe base64"},
		{"non-canonical", vectorKey[:42] + "f=", "not URL-safe base64"},
		{"two keys", vectorKey + "," + vectorKey, "wrong length"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKey(c.in)
			var ke *KeyError
			if k != nil || !errors.As(err, &ke) || !strings.Contains(ke.Reason, c.reason) {
				t.Fatalf("ParseKey = %v, %v; want a KeyError with %q", k, err, c.reason)
			}
			if s := strings.TrimSpace(c.in); len(s) > 4 && strings.Contains(err.Error(), s[:5]) {
				t.Fatalf("error %q echoes the input", err)
			}
		})
	}
}

// TestKeyID pins the derivation: a key's ID must never change, since the
// store names keys by it.
func TestKeyID(t *testing.T) {
	k := mustKey(t, vectorKey)
	if got, want := k.ID(), "54587da32903"; got != want {
		t.Fatalf("ID = %s, want %s (HMAC-SHA256(key, \"sa01-secrets/key-id/v1\")[:6])", got, want)
	}
	a, b := GenerateKey(), GenerateKey()
	if a.ID() == b.ID() || len(a.ID()) != 12 || strings.Trim(a.ID(), "0123456789abcdef") != "" {
		t.Fatalf("IDs %q %q", a.ID(), b.ID())
	}
	// The ID is not a prefix or substring of the key, its halves or a subkey.
	for _, s := range []string{k.Encode(), fmt.Sprintf("%x", k.s.sign), fmt.Sprintf("%x", k.s.enc)} {
		if strings.Contains(s, k.ID()) {
			t.Fatal("key ID appears in the key")
		}
	}
}

func TestSubkey(t *testing.T) {
	k := mustKey(t, vectorKey)
	sub := k.Subkey("store")
	if got, want := fmt.Sprintf("%x", sub), "a3af7b2e8bc2eff105507c1bb67980dfd8af3c81508212745cd8a919c32c0c45"; got != want {
		t.Fatalf("Subkey(store) = %s, want %s", got, want)
	}
	if k.Subkey("store") != sub || k.Subkey("other") == sub || GenerateKey().Subkey("store") == sub {
		t.Fatal("Subkey is not a function of (key, label)")
	}
	for _, label := range []string{"key-id/v1", "../key-id/v1", ""} {
		if s := k.Subkey(label); fmt.Sprintf("%x", s[:6]) == k.ID() {
			t.Fatalf("Subkey(%q) reproduces the key ID", label)
		}
	}
}

func TestKeyNeverPrints(t *testing.T) {
	k := mustKey(t, vectorKey)
	raw, _ := base64.URLEncoding.DecodeString(vectorKey)
	secrets := []string{vectorKey, fmt.Sprintf("%x", raw[:16]), fmt.Sprintf("%x", raw[16:]), fmt.Sprintf("%d", raw[:4]), fmt.Sprintf("%v", raw[:4]), string(raw[:4])}
	type holder struct {
		K  *Key
		k  *Key
		v  Key
		Vs []*Key
	}
	h := holder{K: k, k: k, v: *k, Vs: []*Key{k}}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	if got := fmt.Sprint(k); got != "fernet.Key(54587da32903)" {
		t.Errorf("Sprint(key) = %q", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "key", k, "val", *k)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "key", k, "h", h)
	outs = append(outs, buf.String())
	if !strings.Contains(buf.String(), "54587da32903") {
		t.Errorf("slog output does not name the key by ID: %s", buf.String())
	}
	j, _ := json.Marshal(h)
	outs = append(outs, string(j))
	for _, o := range outs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Fatalf("output %q contains key material %q", o, s)
			}
		}
	}
	var zero Key
	if got := fmt.Sprint(zero); got != "fernet.Key(invalid)" {
		t.Errorf("zero key prints %q", got)
	}
}

func TestRing(t *testing.T) {
	a, b, c := GenerateKey(), GenerateKey(), GenerateKey()
	if _, err := NewRing(); err == nil {
		t.Fatal("empty ring accepted")
	}
	if _, err := NewRing(a, b, mustKey(t, a.Encode())); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := NewRing(a, nil); err == nil {
		t.Fatal("nil key accepted")
	}
	keys := []*Key{a, b}
	r, err := NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	keys[0] = c // the ring keeps its own copy
	if r.Primary() != a || len(r.Keys()) != 2 || r.Keys()[1] != b || r.Key(b.ID()) != b || r.Key(c.ID()) != nil {
		t.Fatal("ring order or lookup wrong")
	}
	r.Keys()[0] = c
	if r.Primary() != a {
		t.Fatal("Keys exposes the ring's slice")
	}

	// Encrypts with the primary only.
	tok := r.Encrypt([]byte("new"))
	if _, err := a.Decrypt(tok); err != nil {
		t.Fatal("ring token does not decrypt under the primary")
	}
	if _, err := b.Decrypt(tok); err == nil {
		t.Fatal("ring token decrypts under a previous key")
	}
	// Decrypts with any key, in order, and says which.
	old := b.EncryptAt([]byte("old"), time.Unix(1_600_000_000, 0))
	msg, k, err := r.DecryptWithKey(old)
	if err != nil || string(msg) != "old" || k != b {
		t.Fatalf("DecryptWithKey = %q, %v, %v", msg, k, err)
	}
	if msg, err := r.Decrypt(old); err != nil || string(msg) != "old" {
		t.Fatalf("Decrypt = %q, %v", msg, err)
	}
	if _, err := r.DecryptTTL(old, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("DecryptTTL of an old token: %v", err)
	}
	if ts, err := r.ExtractTimestamp(old); err != nil || ts.Unix() != 1_600_000_000 {
		t.Fatalf("ExtractTimestamp = %v, %v", ts, err)
	}
	if _, _, err := r.DecryptWithKey(c.Encrypt([]byte("x"))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of a foreign key: %v", err)
	}
	if _, err := r.ExtractTimestamp(c.Encrypt([]byte("x"))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("timestamp of a foreign key's token: %v", err)
	}

	// Rotate keeps the timestamp and moves the token to the primary.
	rot, err := r.Rotate(old)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rot, old) {
		t.Fatal("Rotate returned the same token")
	}
	if msg, err := a.Decrypt(rot); err != nil || string(msg) != "old" {
		t.Fatalf("rotated token under the primary: %q, %v", msg, err)
	}
	if ts, err := a.ExtractTimestamp(rot); err != nil || ts.Unix() != 1_600_000_000 {
		t.Fatalf("rotated timestamp = %v, %v", ts, err)
	}
	if _, err := r.Rotate(c.Encrypt([]byte("x"))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Rotate of a foreign token: %v", err)
	}
	if _, err := r.Rotate([]byte("garbage")); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Rotate of garbage: %v", err)
	}
	// Rotate ignores TTLs, as MultiFernet.rotate does.
	ancient := b.EncryptAt([]byte("x"), time.Unix(0, 0))
	if _, err := r.Rotate(ancient); err != nil {
		t.Fatal(err)
	}
}

// TestRingSharedSigningHalf covers MultiFernet's fall-through: a key whose
// MAC matches but whose decryption fails passes to the next key.
func TestRingSharedSigningHalf(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	other := append(append([]byte(nil), raw[:16]...), make([]byte, 16)...)
	good := newKey(raw)
	twin := newKey(other) // same signing half, different encryption half
	r, err := NewRing(twin, good)
	if err != nil {
		t.Fatal(err)
	}
	// Small tokens are decoded into scratch once; large ones are decrypted
	// in place and decoded again after twin's failed attempt.
	for _, payload := range []string{"payload", strings.Repeat("payload", 1000)} {
		tok := good.EncryptAt([]byte(payload), time.Unix(1_700_000_000, 0))
		// twin's MAC check passes; its decryption garbles the padding (with
		// overwhelming probability) and the ring moves on to good.
		msg, k, err := r.DecryptWithKey(tok)
		if err != nil || string(msg) != payload || k != good {
			t.Fatalf("%d bytes: DecryptWithKey = %d bytes, %v, %v", len(payload), len(msg), k, err)
		}
		rot, err := r.Rotate(tok)
		if err != nil {
			t.Fatal(err)
		}
		if msg, err := twin.Decrypt(rot); err != nil || string(msg) != payload {
			t.Fatalf("%d bytes: rotated: %d bytes, %v", len(payload), len(msg), err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	k := GenerateKey()
	r, _ := NewRing(k, GenerateKey())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				msg := []byte(fmt.Sprintf("goroutine %d message %d %s", g, i, strings.Repeat("x", i)))
				tok := r.Encrypt(msg)
				got, err := k.Decrypt(tok)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	k := GenerateKey()
	r, err := NewRing(GenerateKey(), k)
	if err != nil {
		t.Fatal(err)
	}
	// Sizes on both sides of the scratch buffer (see scratchSize).
	for _, n := range []int{32, 1024, 4031, 4032, 65536} {
		msg := make([]byte, n)
		tok := k.Encrypt(msg)
		k.Decrypt(tok) // warm the pool
		if a := testing.AllocsPerRun(100, func() { k.Encrypt(msg) }); a > 1 {
			t.Errorf("%d bytes: Encrypt: %v allocations, want at most 1", n, a)
		}
		if a := testing.AllocsPerRun(100, func() { k.Decrypt(tok) }); a > 1 {
			t.Errorf("%d bytes: Decrypt: %v allocations, want at most 1", n, a)
		}
		// The ring finds the key second, after a failed MAC check.
		if a := testing.AllocsPerRun(100, func() { r.Decrypt(tok) }); a > 1 {
			t.Errorf("%d bytes: Ring.Decrypt: %v allocations, want at most 1", n, a)
		}
	}
}

// TestPadLen compares the constant-time padding check with the plain
// definition for every last byte, with each position in turn spoiled.
func TestPadLen(t *testing.T) {
	ref := func(b *[16]byte) (int, bool) {
		p := int(b[15])
		if p < 1 || p > 16 {
			return p, false
		}
		for _, c := range b[16-p:] {
			if int(c) != p {
				return p, false
			}
		}
		return p, true
	}
	check := func(b *[16]byte) {
		t.Helper()
		gp, gok := padLen(b)
		wp, wok := ref(b)
		if gok != wok || gok && gp != wp {
			t.Fatalf("padLen(%x) = %d, %v; want %d, %v", b[:], gp, gok, wp, wok)
		}
	}
	for p := range 256 {
		for spoil := range 16 + 1 { // 16: nothing spoiled
			for _, x := range []byte{1, 0x80, 0xff} {
				var b [16]byte
				for i := range b {
					b[i] = byte(p)
				}
				if spoil < 15 {
					b[spoil] ^= x
				}
				check(&b)
			}
		}
	}
	for range 100000 {
		var b [16]byte
		rand.Read(b[:])
		b[15] &= 0x1f
		check(&b)
	}
}

func TestAppend(t *testing.T) {
	k := GenerateKey()
	for _, n := range []int{0, 1, 15, 16, 17, 100, 1000, 4031, 4032, 65536} {
		msg := make([]byte, n)
		rand.Read(msg)
		prefix := []byte("prefix:")
		tokBuf := k.AppendEncrypt(append([]byte(nil), prefix...), msg)
		if !bytes.HasPrefix(tokBuf, prefix) || len(tokBuf)-len(prefix) != EncodedLen(n) {
			t.Fatalf("%d bytes: AppendEncrypt gave %d bytes, want prefix + %d", n, len(tokBuf), EncodedLen(n))
		}
		tok := tokBuf[len(prefix):]
		if got, err := k.Decrypt(tok); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: appended token: %v", n, err)
		}
		pt, err := k.AppendDecrypt(append([]byte(nil), prefix...), tok, time.Minute, time.Now())
		if err != nil || !bytes.HasPrefix(pt, prefix) || !bytes.Equal(pt[len(prefix):], msg) {
			t.Fatalf("%d bytes: AppendDecrypt: %v", n, err)
		}
		// With the capacity there, neither allocates.
		if raceEnabled {
			continue
		}
		encBuf := make([]byte, 0, EncodedLen(n))
		decBuf := make([]byte, 0, len(tok))
		if a := testing.AllocsPerRun(20, func() { k.AppendEncrypt(encBuf[:0], msg) }); a != 0 {
			t.Errorf("%d bytes: AppendEncrypt allocates %v times", n, a)
		}
		if a := testing.AllocsPerRun(20, func() { k.AppendDecrypt(decBuf[:0], tok, NoTTL, time.Time{}) }); a != 0 {
			t.Errorf("%d bytes: AppendDecrypt allocates %v times", n, a)
		}
	}
	// Failures leave dst as it was.
	dst := []byte("keep")
	for _, bad := range [][]byte{nil, []byte("garbage"), GenerateKey().Encrypt([]byte("x"))} {
		got, err := k.AppendDecrypt(dst, bad, NoTTL, time.Time{})
		if !errors.Is(err, ErrInvalidToken) || string(got) != "keep" {
			t.Fatalf("AppendDecrypt of a bad token = %q, %v", got, err)
		}
	}
	old := k.EncryptAt([]byte("x"), time.Unix(1_000_000_000, 0))
	if got, err := k.AppendDecrypt(dst, old, time.Hour, time.Now()); !errors.Is(err, ErrInvalidToken) || string(got) != "keep" {
		t.Fatalf("AppendDecrypt of an expired token = %q, %v", got, err)
	}
}

// TestEncryptStampsNow: Encrypt stamps tokens with the wall clock.
func TestEncryptStampsNow(t *testing.T) {
	k := GenerateKey()
	before := time.Now().Unix()
	ts, err := k.ExtractTimestamp(k.Encrypt(nil))
	after := time.Now().Unix()
	if err != nil || ts.Unix() < before || ts.Unix() > after {
		t.Fatalf("Encrypt stamped %v (%v), want within [%d, %d]", ts, err, before, after)
	}
}

func TestInspect(t *testing.T) {
	k := GenerateKey()
	at := time.Unix(1700000000, 0).UTC()
	tok := k.EncryptAt([]byte("v"), at)
	if ts, ok := Inspect(tok); !ok || !ts.Equal(at) {
		t.Fatalf("Inspect(token) = %v, %v; want %v, true", ts, ok, at)
	}
	long := k.EncryptAt(make([]byte, 4000), at)
	if ts, ok := Inspect(long); !ok || !ts.Equal(at) {
		t.Fatalf("Inspect(long token) = %v, %v", ts, ok)
	}
	for _, s := range []string{"", "sk-plaintext-api-key", string(tok[:len(tok)-4]), "A" + string(tok[1:])} {
		if _, ok := Inspect([]byte(s)); ok {
			t.Errorf("Inspect(%.12q...) = ok; want not a token", s)
		}
	}
}
