package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// MACKeys derives a checkpoint key from each key of a ring, primary first.
// It is for tests and tools that chain without a store; a store's chain is
// keyed with LoadKey's audit key.
func MACKeys(r *fernet.Ring) []MACKey {
	if r == nil {
		return nil
	}
	var out []MACKey
	for _, k := range r.Keys() {
		out = append(out, MACKey{ID: k.ID(), Key: k.Subkey(CheckpointLabel)})
	}
	return out
}

// WrappedKey is the audit key encrypted (a Fernet token) under the Fernet
// key KeyID names.
type WrappedKey struct {
	KeyID   string
	Wrapped string
}

// KeyStore keeps the audit key, wrapped under Fernet keys.
type KeyStore interface {
	// AuditKeys returns every wrapping, oldest first.
	AuditKeys(ctx context.Context) ([]WrappedKey, error)
	// AddAuditKey stores w unless a wrapping under w.KeyID exists; it
	// reports whether it stored it.
	AddAuditKey(ctx context.Context, w WrappedKey) (bool, error)
	// DeleteAuditKey removes the wrapping under keyID.
	DeleteAuditKey(ctx context.Context, keyID string) error
}

// wrapPrefix is the plaintext's label: a Fernet token of another purpose
// (a secret's value) can never be taken for a wrapped audit key.
const wrapPrefix = "sa01-audit-key/v1:"

// ErrKeyUnavailable is returned (as a *KeyUnavailableError) by LoadKey
// when the store holds the audit key only under Fernet keys that are not
// loaded.
var ErrKeyUnavailable = errors.New("audit: the audit key is wrapped only under Fernet keys that are not loaded")

// KeyUnavailableError names the keys the audit key is wrapped under and
// the keys that are loaded (IDs, never keys).
type KeyUnavailableError struct {
	Stored, Loaded []string
}

func (e *KeyUnavailableError) Error() string {
	return fmt.Sprintf("the loaded keys do not open this store: the audit key is wrapped under key %s, and the loaded keys are %s",
		strings.Join(e.Stored, ", "), strings.Join(e.Loaded, ", "))
}

// Unwrap makes errors.Is(err, ErrKeyUnavailable) hold.
func (e *KeyUnavailableError) Unwrap() error { return ErrKeyUnavailable }

// LoadKey returns the audit key of a store: the key that MACs its chain,
// its file's chain and its checkpoints.
//
// The key is random, made once (by the first process to need it, when the
// store holds none) and kept only wrapped: a Fernet token of it under each
// Fernet key that has been primary since, stored in ks by key ID. LoadKey
// unwraps it with any key of the ring and, when the ring's primary has no
// wrapping yet (after a rotation), adds one under it, so the key outlives
// the keys that made its older wrappings: once the old key is retired the
// new one still opens it, and chains, files and checkpoints written before
// the rotation still verify. Wrappings under keys the store records as
// retired or compromised (retired, given) are removed, and none is added
// under such a key loaded as the primary.
//
// A store that holds wrappings none of the ring's keys opens is an error
// (ErrKeyUnavailable): a new key then would make the existing chain look
// rewritten. A store with no wrapping gets a new key; if its chain was not
// empty (the wrappings were deleted), verification then fails at its first
// event, and an anchor catches a chain deleted with its key.
func LoadKey(ctx context.Context, ks KeyStore, ring *fernet.Ring, retired func(keyID string) bool) (*MACKey, error) {
	if ring == nil {
		return nil, errors.New("audit: no Fernet key loaded to open the audit key")
	}
	for attempt := 0; attempt < 2; attempt++ {
		ws, err := ks.AuditKeys(ctx)
		if err != nil {
			return nil, err
		}
		if len(ws) == 0 {
			var raw [32]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return nil, err
			}
			if _, err := ks.AddAuditKey(ctx, wrap(ring.Primary(), raw)); err != nil {
				return nil, err
			}
			continue // read back what won, should another process race us
		}
		var key *MACKey
		have := map[string]bool{}
		for _, w := range ws {
			have[w.KeyID] = true
			if key != nil {
				continue
			}
			if k := ring.Key(w.KeyID); k != nil {
				if raw, err := unwrap(k, w.Wrapped); err == nil {
					key = newAuditKey(raw)
				}
			}
		}
		if key == nil {
			e := &KeyUnavailableError{}
			for _, w := range ws {
				e.Stored = append(e.Stored, w.KeyID)
			}
			for _, k := range ring.Keys() {
				e.Loaded = append(e.Loaded, k.ID())
			}
			return nil, e
		}
		primary := ring.Primary()
		// Never under a retired or compromised primary: that key is to
		// open nothing any more (a write under it is refused anyway).
		if !have[primary.ID()] && (retired == nil || !retired(primary.ID())) {
			if _, err := ks.AddAuditKey(ctx, wrap(primary, key.Key)); err != nil {
				return nil, err
			}
		}
		for _, w := range ws {
			if w.KeyID != primary.ID() && retired != nil && retired(w.KeyID) {
				if err := ks.DeleteAuditKey(ctx, w.KeyID); err != nil {
					return nil, err
				}
			}
		}
		return key, nil
	}
	return nil, errors.New("audit: the audit key could not be stored")
}

// newAuditKey names a raw audit key by a one-way ID.
func newAuditKey(raw [32]byte) *MACKey {
	m := hmac.New(sha256.New, raw[:])
	m.Write([]byte("sa01-audit-key-id"))
	return &MACKey{ID: "ak-" + hex.EncodeToString(m.Sum(nil)[:8]), Key: raw}
}

func wrap(k *fernet.Key, raw [32]byte) WrappedKey {
	msg := append([]byte(wrapPrefix), raw[:]...)
	return WrappedKey{KeyID: k.ID(), Wrapped: string(k.Encrypt(msg))}
}

func unwrap(k *fernet.Key, tok string) ([32]byte, error) {
	var raw [32]byte
	msg, err := k.Decrypt([]byte(tok))
	if err != nil {
		return raw, err
	}
	if len(msg) != len(wrapPrefix)+32 || string(msg[:len(wrapPrefix)]) != wrapPrefix {
		return raw, fmt.Errorf("audit: the wrapping under %s is not an audit key", k.ID())
	}
	copy(raw[:], msg[len(wrapPrefix):])
	return raw, nil
}
