package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
)

// Diff is a masked diff: what an edit changes, without either value.
type Diff struct {
	Name    string
	Current int  // the current version; 0 for a new secret
	Deleted bool // the secret is soft-deleted (a write is refused)
	Changed bool
	// OldLen and NewLen are the values' lengths in bytes (OldLen 0 for a
	// new secret).
	OldLen, NewLen int
	// OldFingerprint and NewFingerprint are keyed fingerprints
	// ([FingerprintKey.Sum]): equal exactly when the values are, and
	// worthless to a dictionary without the key, which never leaves the
	// process.
	OldFingerprint, NewFingerprint string
	// Note says why the current value was not compared, if it was not.
	Note string
}

// FingerprintKey keys the fingerprints of masked diffs. It is random,
// made at start and kept in memory only: a fingerprint says whether two
// values seen by this process are equal, and nothing to someone guessing
// values offline. It never prints itself.
type FingerprintKey struct {
	k [32]byte
}

// NewFingerprintKey returns a fresh random key.
func NewFingerprintKey() *FingerprintKey {
	fk := &FingerprintKey{}
	_, _ = rand.Read(fk.k[:])
	return fk
}

// fingerprintDomain separates these HMACs from any other use.
const fingerprintDomain = "sa01-secrets console diff fingerprint v1\x00"

// Sum returns the fingerprint of v: the first 8 bytes of HMAC-SHA-256 in
// hex, grouped by four ("3f1c 9a0e 77b2 d401").
func (fk *FingerprintKey) Sum(v []byte) string {
	m := hmac.New(sha256.New, fk.k[:])
	io.WriteString(m, fingerprintDomain)
	m.Write(v)
	h := hex.EncodeToString(m.Sum(nil)[:8])
	return h[0:4] + " " + h[4:8] + " " + h[8:12] + " " + h[12:16]
}

// Format keeps the key out of every fmt verb.
func (fk *FingerprintKey) Format(f fmt.State, _ rune) { io.WriteString(f, "[console fingerprint key]") }

// LogValue keeps the key out of logs.
func (fk *FingerprintKey) LogValue() slog.Value { return slog.StringValue("[console fingerprint key]") }

// MaskedDiff compares old (the current version's value, nil for a new
// secret) with new. Backends build their Diff with it, so that every
// console shows the same thing: changed or not, lengths, fingerprints.
func MaskedDiff(fk *FingerprintKey, name string, current int, old, new []byte) Diff {
	d := Diff{Name: name, Current: current, NewLen: len(new), NewFingerprint: fk.Sum(new)}
	if current == 0 {
		d.Changed = true
		return d
	}
	d.OldLen, d.OldFingerprint = len(old), fk.Sum(old)
	d.Changed = !hmac.Equal(old, new)
	return d
}
