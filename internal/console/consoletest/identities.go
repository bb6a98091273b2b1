package consoletest

import (
	"context"
	"database/sql"
	"net/url"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
)

// Identities are the store's identities (package identity) with the
// shortcuts the tests take: Add returns the credential, and SetRole
// changes a role, which sa01-secrets itself never does in place.
type Identities struct {
	M    *identity.Manager
	path string // the SQLite file, for SetRole
}

// Add creates an identity (kind "service" or "operator", role for an
// operator) whose credential lives lifetime (0: identity.DefaultLifetime),
// and returns the credential. It panics on an error (a test's mistake).
func (t *Identities) Add(name, kind, role string, lifetime time.Duration) string {
	is, err := t.M.Add(context.Background(), name, identity.AddOptions{Kind: identity.Kind(kind), Role: identity.Role(role), Lifetime: lifetime})
	if err != nil {
		panic(err)
	}
	return is.Credential.Reveal()
}

// Revoke revokes an identity and every credential of it.
func (t *Identities) Revoke(name string) {
	if _, err := t.M.Revoke(context.Background(), name); err != nil {
		panic(err)
	}
}

// SetRole changes an operator's role in the store's table.
func (t *Identities) SetRole(name, role string) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+t.path+"?"+q.Encode())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE identities SET role = $1 WHERE name = $2`, role, name); err != nil {
		panic(err)
	}
}
