package secrets

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Versions is what Rotate needs of the secrets: a *Service, or the
// server's through the CLI's remote backend.
type Versions interface {
	History(ctx context.Context, name string) (store.Secret, []store.Version, error)
	Put(ctx context.Context, name string, value sensitive.String, o PutOptions) (store.Version, error)
}

// Rotate writes a new version of the secret name, check-and-set on its
// current one: a value generated as kind (as the secret's class has it,
// GeneratedKind, when kind is ""), or, when neither names a kind, the
// value read returns. It returns the new version, the version it replaced
// and the kind generated ("" for a value read).
func Rotate(ctx context.Context, b Versions, name, kind string, n int, read func() (sensitive.String, error)) (v store.Version, replaced int, generated string, err error) {
	sec, _, err := b.History(ctx, name)
	if err != nil {
		return store.Version{}, 0, "", err
	}
	if kind == "" {
		kind = GeneratedKind(sec.Class)
	}
	var val sensitive.String
	if kind != "" {
		val, err = Generate(kind, n)
	} else {
		val, err = read()
	}
	if err != nil {
		return store.Version{}, 0, "", err
	}
	cur := sec.CurrentVersion
	v, err = b.Put(ctx, name, val, PutOptions{CAS: &cur})
	return v, cur, kind, err
}
