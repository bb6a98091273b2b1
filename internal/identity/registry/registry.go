// Package registry is where the identity verbs act: one interface,
// Registry, over the local store ([Local]) and a server
// (remote.Backend.Identities), listing identities in the server's API
// shapes.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Registry is where the identity verbs act: the local store ([Local]) or
// a server (remote.Backend.Identities). Both record every change in the
// audit trail.
type Registry interface {
	// Add creates an identity and its first credential.
	Add(ctx context.Context, name string, o identity.AddOptions) (identity.Issued, error)
	// Overview lists every identity with its credentials' states, never
	// a credential.
	Overview(ctx context.Context) ([]client.Identity, error)
	// Rotate issues a new credential; the previous ones work for grace.
	Rotate(ctx context.Context, name string, grace time.Duration) (identity.Issued, error)
	// Revoke revokes an identity, its credentials and its tokens, and
	// returns how many live tokens it revoked.
	Revoke(ctx context.Context, name string) (int, error)
}

// Local is the Registry of the local store: identity.Audited, with
// Overview.
type Local struct{ identity.Audited }

var _ Registry = Local{}

// Overview lists the identities and their credentials in the shape the
// server's API gives them, and records that they were listed.
func (l Local) Overview(ctx context.Context) ([]client.Identity, error) {
	ids, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	creds, err := l.Credentials(ctx, "")
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
	return out, l.Listed(ctx)
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

// Fault gives the errors of the identity verbs their fault class and
// hint; other errors are returned as they are.
func Fault(err error) error {
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return fault.New(fault.Unavailable, err, "check the store and "+config.EnvAuditFile)
	case errors.Is(err, identity.ErrInvalid):
		return fault.New(fault.Usage, err, "")
	case errors.Is(err, identity.ErrExists):
		return fault.New(fault.Conflict, err, "names are never reused, even once revoked: pick another")
	case errors.Is(err, identity.ErrNotFound):
		return fault.New(fault.NotFound, err, "list identities with 'sa01-secrets identity list'")
	case errors.Is(err, identity.ErrRevoked):
		return fault.New(fault.Conflict, err, "a revoked identity stays revoked; add a new one")
	}
	return err
}

// InitStore is what Init needs of a new store: its identities, and its
// key table.
type InitStore interface {
	identity.Store
	EnsureKey(ctx context.Context, k store.KeyInfo) (bool, error)
}

// Init makes a new store ready under the Fernet key keyID: it records the
// key as the store's active one, then creates the first operator, admin,
// audited by the recorder openRec opens on the store
// ([identity.Audited.Init]). A store that has identities already is a
// conflict fault; other errors are Fault's.
func Init(ctx context.Context, st InitStore, keyID string, openRec func() (audit.Recorder, error)) (identity.Issued, error) {
	now := time.Now().UTC()
	if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: keyID, State: store.KeyActive, CreatedAt: now, ActivatedAt: now, Note: "init"}); err != nil {
		return identity.Issued{}, err
	}
	rec, err := openRec()
	if err != nil {
		return identity.Issued{}, err
	}
	is, err := identity.Audited{Manager: identity.NewManager(st, identity.Options{}), Rec: rec}.Init(ctx)
	if errors.Is(err, identity.ErrInitialized) {
		return is, fault.New(fault.Conflict, errors.New("the store has identities already: it is initialized"),
			"an admin adds identities with 'sa01-secrets identity add'")
	}
	return is, Fault(err)
}
