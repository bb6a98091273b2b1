// Package remote serves the CLI's secret verbs and run from a server
// (SA01_SECRETS_ADDR) through the public client, in the shapes the local
// secrets.Service gives them, so the verbs do not care which they talk
// to. The server applies the policy and audits every call.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// UnsupportedError is a verb the server's API does not offer.
type UnsupportedError struct{ Verb string }

func (e *UnsupportedError) Error() string { return e.Verb + " is not available through the server" }

// Backend is a logged-in client of the server.
type Backend struct {
	c      *client.Client
	revoke bool
}

// New returns the backend over c; revoke says the token was made by this
// process (a login), so Close revokes it.
func New(c *client.Client, revoke bool) *Backend { return &Backend{c: c, revoke: revoke} }

// Put writes a new version. A value the store would refuse
// (secrets.CheckValue) is refused before anything is sent.
func (b *Backend) Put(ctx context.Context, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error) {
	if err := secrets.CheckValue(name, []byte(value.Reveal())); err != nil {
		return store.Version{}, err
	}
	m, err := b.c.PutWith(ctx, name, value.Reveal(), client.PutOptions{
		CAS: o.CAS, Env: o.Env, Class: o.Class, Description: o.Description, Owner: o.Owner, RotationPeriod: o.RotationPeriod,
	})
	if err != nil {
		return store.Version{}, named(err, name, 0)
	}
	return store.Version{Secret: name, Version: m.Version, CreatedAt: m.CreatedAt, Actor: m.CreatedBy}, nil
}

// Get reads a version (0: the current one).
func (b *Backend) Get(ctx context.Context, name string, version int) (secrets.Value, error) {
	s, err := b.c.GetVersion(ctx, name, version)
	if err != nil {
		return secrets.Value{}, named(err, name, version)
	}
	return secrets.Value{
		Secret:  store.Secret{Name: s.Name, EnvName: s.Env, CurrentVersion: s.Version},
		Version: store.Version{Secret: s.Name, Version: s.Version, CreatedAt: s.CreatedAt},
		Value:   sensitive.New(s.Value()),
	}, nil
}

// List lists the secrets the caller may list; includeDeleted adds the
// soft-deleted ones.
func (b *Backend) List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error) {
	list := b.c.List
	if includeDeleted {
		list = b.c.ListDeleted
	}
	ms, err := list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]store.Secret, 0, len(ms))
	for _, m := range ms {
		out = append(out, store.Secret{Name: m.Name, EnvName: m.Env, CurrentVersion: m.Version, UpdatedAt: m.CreatedAt,
			Class: m.Class, RotationPeriod: time.Duration(m.Rotation) * time.Second, DeletedAt: deref(m.DeletedAt)})
	}
	return out, nil
}

// History lists the versions of a secret, with its class.
func (b *Backend) History(ctx context.Context, name string) (store.Secret, []store.Version, error) {
	h, err := b.c.HistoryOf(ctx, name)
	if err != nil {
		return store.Secret{}, nil, named(err, name, 0)
	}
	sec := store.Secret{Name: name, Class: h.Class, EnvName: h.Env, CurrentVersion: h.CurrentVersion}
	vs := make([]store.Version, 0, len(h.Versions))
	for _, m := range h.Versions {
		vs = append(vs, store.Version{Secret: name, Version: m.Version, CreatedAt: m.CreatedAt, Actor: m.CreatedBy, KeyID: m.KeyID,
			DestroyedAt: deref(m.DestroyedAt), CompromisedAt: deref(m.CompromisedAt)})
		sec.CurrentVersion = max(sec.CurrentVersion, m.Version)
	}
	return sec, vs, nil
}

// named puts the secret (and version) the caller named before an error of
// the server that does not name it, as the local store's errors do: not
// found, destroyed, denied, a lost check-and-set. The name is the caller's
// own input; a compromised version's error names it already.
func named(err error, name string, version int) error {
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code == server.CodeCompromised {
		return err
	}
	switch ae.Status {
	case http.StatusNotFound, http.StatusGone, http.StatusConflict, http.StatusForbidden:
	default:
		return err
	}
	if version > 0 {
		return fmt.Errorf("secret %s version %d: %w", name, version, err)
	}
	return fmt.Errorf("secret %s: %w", name, err)
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Delete soft-deletes a secret.
func (b *Backend) Delete(ctx context.Context, name string) error {
	return named(b.c.Delete(ctx, name), name, 0)
}

// Export reads the current value of every secret under prefix the caller
// may read.
func (b *Backend) Export(ctx context.Context, prefix string) ([]secrets.Value, error) {
	ms, err := b.c.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []secrets.Value
	for _, m := range ms {
		if !m.Readable {
			continue
		}
		v, err := b.Get(ctx, m.Name, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Rollback writes the value of version to again, as a new version.
func (b *Backend) Rollback(ctx context.Context, name string, to int, cas *int) (store.Version, error) {
	m, err := b.c.Rollback(ctx, name, to, cas)
	if err != nil {
		return store.Version{}, named(err, name, to)
	}
	return store.Version{Secret: name, Version: m.Version, CreatedAt: m.CreatedAt, Actor: m.CreatedBy}, nil
}

// Undelete restores a soft-deleted secret.
func (b *Backend) Undelete(ctx context.Context, name string) error {
	return named(b.c.Undelete(ctx, name), name, 0)
}

// Destroy erases one version for good.
func (b *Backend) Destroy(ctx context.Context, name string, version int) error {
	return named(b.c.Destroy(ctx, name, version), name, version)
}

// Import writes every entry in one transaction on the server, all or
// none; more than client.MaxImportEntries, or a value the store would
// refuse (secrets.CheckValue), are refused before anything is sent.
func (b *Backend) Import(ctx context.Context, entries []secrets.Entry, o secrets.ImportOptions) (int, error) {
	if len(entries) == 0 {
		return 0, nil // as the local store: nothing to write
	}
	if len(entries) > client.MaxImportEntries {
		return 0, fmt.Errorf("%w: import through the server: %d entries; at most %d per import", secrets.ErrInvalid, len(entries), client.MaxImportEntries)
	}
	es := make([]client.ImportEntry, len(entries))
	for i, e := range entries {
		if err := secrets.CheckValue(o.Prefix+e.Name, []byte(e.Value.Reveal())); err != nil {
			if e.Line > 0 {
				return 0, fmt.Errorf("line %d: %w", e.Line, err) // as the local store says it
			}
			return 0, err
		}
		es[i] = client.ImportEntry{Name: e.Name, Value: e.Value.Reveal()}
	}
	return b.c.Import(ctx, es, client.ImportOptions{Prefix: o.Prefix, Class: o.Class})
}

// Granted lists the secrets the logged-in service may read (run).
func (b *Backend) Granted(ctx context.Context) ([]secrets.Grant, error) {
	list, err := b.c.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []secrets.Grant
	for _, m := range list {
		if m.Readable {
			// run sets the variable in a child: a name that is not one
			// ("", "A=B" setting A) is an answer no server gives.
			env := secrets.EnvName(m.Name, m.Env, "")
			if !secrets.ValidEnvName(env) {
				return nil, fmt.Errorf("%w: a grant's env name is not a variable name", errAnswer)
			}
			out = append(out, secrets.Grant{Name: m.Name, Env: env, Version: m.Version, Mapped: m.EnvMapped})
		}
	}
	return out, nil
}

// Value reads the current version of one granted secret (run).
func (b *Backend) Value(ctx context.Context, name string) (sensitive.String, int, error) {
	s, err := b.c.GetVersion(ctx, name, 0)
	if err != nil {
		return sensitive.String{}, 0, err // inject.Fetch names the secret
	}
	return sensitive.New(s.Value()), s.Version, nil
}

// PlatformKeys asks the server for the store's Fernet keys (run) when the
// logged-in service's policy entry says platform_key: true (the server
// says so in the token's description), and returns nil otherwise, as the
// local store does.
func (b *Backend) PlatformKeys(ctx context.Context) (map[string]sensitive.String, error) {
	self, err := b.c.Self(ctx)
	if err != nil {
		return nil, err
	}
	if !self.PlatformKey {
		return nil, nil
	}
	keys, err := b.c.PlatformKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]sensitive.String, len(keys))
	for _, k := range keys {
		out[k.Env] = sensitive.New(k.Value())
	}
	return out, nil
}

// Started records nothing: the server audited the login and every read
// under the service's token.
func (b *Backend) Started(context.Context, string, int) error { return nil }

// Close revokes the token this process made, so it dies with the command;
// a token it was given is left for its owner.
func (b *Backend) Close() error {
	if !b.revoke {
		b.c.Close()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.c.Revoke(ctx) // best effort: the token expires anyway
	return nil
}
