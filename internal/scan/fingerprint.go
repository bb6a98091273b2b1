package scan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
)

// MinFingerprintKey is the shortest fingerprint key accepted, in bytes.
const MinFingerprintKey = 32

// FingerprintKey keys the fingerprints of findings: HMAC-SHA-256 over the
// rule, the path and the secret, truncated to 128 bits. Baselines, JSON and
// SARIF carry fingerprints; keyed, they say nothing about the secret to
// whoever reads them without the key. An unkeyed hash would not do: rule
// and path sit beside it, so a dictionary of likely passwords confirms a
// guess in as many hashes as it has words, and a salt written beside the
// hash changes nothing. The key is a secret of its own, held apart from
// what it fingerprints (SA01_SECRETS_SCAN_KEY), and never prints itself.
type FingerprintKey struct {
	id   string
	pool sync.Pool // of hash.Hash, keyed
}

// fingerprintDomain separates these HMACs from any other use of the key.
const fingerprintDomain = "sa01-secrets finding fingerprint v2\x00"

// NewFingerprintKey returns a key for fingerprints; secret must hold at
// least [MinFingerprintKey] bytes (`sa01-secrets generate key` makes one).
// The key is copied.
func NewFingerprintKey(secret []byte) (*FingerprintKey, error) {
	if len(secret) < MinFingerprintKey {
		return nil, fmt.Errorf("scan: fingerprint key: shorter than %d bytes", MinFingerprintKey)
	}
	key := append([]byte(nil), secret...)
	k := &FingerprintKey{}
	k.pool.New = func() any { return hmac.New(sha256.New, key) }
	m := hmac.New(sha256.New, key)
	io.WriteString(m, "sa01-secrets fingerprint key id\x00")
	k.id = hex.EncodeToString(m.Sum(nil)[:6])
	return k, nil
}

// ID names the key (12 hex digits derived from it, which reveal nothing of
// it); a baseline records the ID of the key its fingerprints were made
// with.
func (k *FingerprintKey) ID() string { return k.id }

// Format prints the key's ID, never the key, under every verb.
func (k *FingerprintKey) Format(f fmt.State, _ rune) { io.WriteString(f, "scan key "+k.id) }

// LogValue logs the key's ID.
func (k *FingerprintKey) LogValue() slog.Value { return slog.StringValue("scan key " + k.id) }

// MarshalJSON writes the key's ID.
func (k *FingerprintKey) MarshalJSON() ([]byte, error) { return []byte(`"scan key ` + k.id + `"`), nil }

// fingerprint hashes the rule, the path and the secret under the key; a
// nil key gives "" (no fingerprint).
func (k *FingerprintKey) fingerprint(rule, path string, secret []byte) string {
	if k == nil {
		return ""
	}
	m := k.pool.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, fingerprintDomain)
	io.WriteString(m, rule)
	m.Write([]byte{0})
	io.WriteString(m, path)
	m.Write([]byte{0})
	m.Write(secret)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:16])
	k.pool.Put(m)
	return out
}

// WithFingerprintKey returns a scanner like s whose findings carry
// fingerprints keyed by k (nil: no fingerprints).
func (s *Scanner) WithFingerprintKey(k *FingerprintKey) *Scanner {
	c := *s
	c.fp = k
	return &c
}

// FingerprintKey returns the scanner's fingerprint key (nil when it has
// none).
func (s *Scanner) FingerprintKey() *FingerprintKey { return s.fp }
