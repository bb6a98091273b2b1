package identity

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
)

// Registry is where the identity verbs act: the local store ([Audited]) or
// a server (remote.Backend.Identities). Both record every change in the
// audit trail.
type Registry interface {
	// Add creates an identity and its first credential.
	Add(ctx context.Context, name string, o AddOptions) (Issued, error)
	// Overview lists every identity with its credentials' states, never
	// a credential.
	Overview(ctx context.Context) ([]client.Identity, error)
	// Rotate issues a new credential; the previous ones work for grace.
	Rotate(ctx context.Context, name string, grace time.Duration) (Issued, error)
	// Revoke revokes an identity, its credentials and its tokens, and
	// returns how many live tokens it revoked.
	Revoke(ctx context.Context, name string) (int, error)
}

var _ Registry = Audited{}

// State names the credential's state at now: "revoked", "expired", "due"
// (expiring within DueWindow) or "live".
func (c Credential) State(now time.Time) string {
	switch {
	case !c.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(c.ExpiresAt):
		return "expired"
	case c.ExpiresAt.Before(now.Add(DueWindow)):
		return "due"
	}
	return "live"
}

// Overview lists the identities and their credentials in the shape the
// server's API gives them, and records that they were listed.
func (a Audited) Overview(ctx context.Context) ([]client.Identity, error) {
	ids, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	creds, err := a.Credentials(ctx, "")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	by := map[string][]client.CredentialInfo{}
	for _, c := range creds {
		by[c.Identity] = append(by[c.Identity], client.CredentialInfo{ID: c.ID, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt,
			RevokedAt: optTime(c.RevokedAt), State: c.State(now)})
	}
	out := make([]client.Identity, 0, len(ids))
	for _, id := range ids {
		out = append(out, client.Identity{Name: id.Name, Kind: string(id.Kind), Role: string(id.Role), CreatedAt: id.CreatedAt,
			RevokedAt: optTime(id.RevokedAt), Credentials: by[id.Name]})
	}
	return out, a.Listed(ctx)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// WriteTable writes ids as a table: one line per identity, with the
// newest unrevoked credential and its expiry date.
func WriteTable(w io.Writer, ids []client.Identity) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tROLE\tSTATE\tCREDENTIAL\tEXPIRES")
	for _, id := range ids {
		state := "live"
		if id.RevokedAt != nil {
			state = "revoked"
		}
		cred, exp := "-", "-"
		// the newest unrevoked credential says when it is due
		for i := len(id.Credentials) - 1; i >= 0; i-- {
			c := id.Credentials[i]
			if c.State != "revoked" {
				cred, exp = c.ID+" ("+c.State+")", c.ExpiresAt.UTC().Format("2006-01-02")
				break
			}
		}
		role := id.Role
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id.Name, id.Kind, role, state, cred, exp)
	}
	return tw.Flush()
}
