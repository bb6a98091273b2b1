package remote

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/identity/registry"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// Identities returns the server's identity administration (the identity
// verbs); the server checks the caller is an admin and audits each call.
func (b *Backend) Identities() registry.Registry { return identities{b.c} }

type identities struct{ c *client.Client }

// issuedOf is the credential the server issued to name, as the local
// store gives it.
func issuedOf(name string, is client.IssuedCredential, err error) (identity.Issued, error) {
	if err != nil {
		return identity.Issued{}, err
	}
	return identity.Issued{Identity: identity.Identity{Name: name}, Credential: sensitive.New(is.Credential()),
		Record: identity.Credential{ID: is.CredentialID, Identity: name, ExpiresAt: is.ExpiresAt}}, nil
}

// Add creates an identity on the server.
func (r identities) Add(ctx context.Context, name string, o identity.AddOptions) (identity.Issued, error) {
	is, err := r.c.AddIdentity(ctx, name, string(o.Kind), string(o.Role), o.Lifetime)
	return issuedOf(name, is, err)
}

// Overview lists the server's identities.
func (r identities) Overview(ctx context.Context) ([]client.Identity, error) {
	ids, err := r.c.Identities(ctx)
	if ids == nil && err == nil {
		ids = []client.Identity{}
	}
	return ids, err
}

// Rotate issues a new credential on the server.
func (r identities) Rotate(ctx context.Context, name string, grace time.Duration) (identity.Issued, error) {
	is, err := r.c.RotateIdentity(ctx, name, grace)
	return issuedOf(name, is, err)
}

// Revoke revokes an identity on the server.
func (r identities) Revoke(ctx context.Context, name string) (int, error) {
	return r.c.RevokeIdentity(ctx, name)
}
