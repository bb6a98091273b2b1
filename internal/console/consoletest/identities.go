package consoletest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/console"
)

// Identities is a small in-memory identity table with the shape issue
// "Identities and boundaries" gives the store's (docs/identities.md):
// services and operators with roles, credentials `sa01c_` + 43 characters
// kept only as SHA-256, each with a non-secret ID, an expiry and a
// revocation. It stands in for the store's identities until they exist.
type Identities struct {
	mu  sync.Mutex
	now func() time.Time
	ids map[string]*identity
}

type identity struct {
	console.Identity
	revoked bool
	creds   []*credential
}

type credential struct {
	id      string
	hash    [32]byte
	expires time.Time
	revoked bool
}

// NewIdentities returns an empty table on clock now (nil: time.Now).
func NewIdentities(now func() time.Time) *Identities {
	if now == nil {
		now = time.Now
	}
	return &Identities{now: now, ids: map[string]*identity{}}
}

// DefaultCredentialLifetime is the policy's period for internal tokens.
const DefaultCredentialLifetime = 180 * 24 * time.Hour

// Add creates an identity (kind console.KindService or KindOperator, role
// for an operator) with one credential valid for lifetime (0: the
// default), and returns the credential, shown once.
func (t *Identities) Add(name, kind, role string, lifetime time.Duration) string {
	if lifetime <= 0 {
		lifetime = DefaultCredentialLifetime
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.ids[name]
	if id == nil {
		id = &identity{Identity: console.Identity{Name: name, Kind: kind, Role: role}}
		t.ids[name] = id
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	cred := "sa01c_" + base64.RawURLEncoding.EncodeToString(raw[:])
	var cid [6]byte
	_, _ = rand.Read(cid[:])
	id.creds = append(id.creds, &credential{id: "cred_" + hex.EncodeToString(cid[:]), hash: sha256.Sum256([]byte(cred)),
		expires: t.now().Add(lifetime)})
	return cred
}

// Revoke revokes an identity and every credential of it.
func (t *Identities) Revoke(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id := t.ids[name]; id != nil {
		id.revoked = true
		for _, c := range id.creds {
			c.revoked = true
		}
	}
}

// SetRole changes an operator's role.
func (t *Identities) SetRole(name, role string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id := t.ids[name]; id != nil {
		id.Role = role
	}
}

// authenticate finds the credential by hash, compared in constant time.
func (t *Identities) authenticate(cred string) (console.Identity, error) {
	h := sha256.Sum256([]byte(cred))
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range t.ids {
		for _, c := range id.creds {
			if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
				if id.revoked || c.revoked || !now.Before(c.expires) {
					return console.Identity{}, console.ErrBadCredential
				}
				who := id.Identity
				who.Credential = c.id
				return who, nil
			}
		}
	}
	return console.Identity{}, console.ErrBadCredential
}

// identify returns who as it stands, or ErrBadCredential.
func (t *Identities) identify(who console.Identity) (console.Identity, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.ids[who.Name]
	if id == nil || id.revoked {
		return console.Identity{}, console.ErrBadCredential
	}
	for _, c := range id.creds {
		if c.id == who.Credential {
			if c.revoked || !now.Before(c.expires) {
				return console.Identity{}, console.ErrBadCredential
			}
			cur := id.Identity
			cur.Credential = c.id
			return cur, nil
		}
	}
	return console.Identity{}, console.ErrBadCredential
}

// lookup returns the identity named name.
func (t *Identities) lookup(name string) (console.Identity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.ids[name]
	if id == nil || id.revoked {
		return console.Identity{}, false
	}
	return id.Identity, true
}

// list returns every identity that is not revoked, by name.
func (t *Identities) list() []console.Identity {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []console.Identity
	for _, id := range t.ids {
		if !id.revoked {
			out = append(out, id.Identity)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// due returns the live credentials expiring within window of now, or
// expired, by expiry.
func (t *Identities) due(window time.Duration) []console.CredentialDue {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []console.CredentialDue
	for _, id := range t.ids {
		if id.revoked {
			continue
		}
		for _, c := range id.creds {
			if !c.revoked && c.expires.Before(now.Add(window)) {
				out = append(out, console.CredentialDue{Identity: id.Name, Credential: c.id, ExpiresAt: c.expires})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out
}
