package secrets_test

import (
	"context"
	"errors"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// versions is a secret at version 3 that records the last Put.
type versions struct {
	class string
	put   sensitive.String
	cas   *int
}

func (v *versions) History(context.Context, string) (store.Secret, []store.Version, error) {
	return store.Secret{Class: v.class, CurrentVersion: 3}, nil, nil
}

func (v *versions) Put(_ context.Context, _ string, val sensitive.String, o secrets.PutOptions) (store.Version, error) {
	v.put, v.cas = val, o.CAS
	return store.Version{Version: 4}, nil
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	read := func() (sensitive.String, error) { return sensitive.New("given"), nil }

	b := &versions{class: store.ClassEncryptionKey}
	v, replaced, kind, err := secrets.Rotate(ctx, b, "app/fernet", "", 32, read)
	if err != nil || v.Version != 4 || replaced != 3 || kind != secrets.GenerateKey || b.cas == nil || *b.cas != 3 {
		t.Fatalf("Rotate = %v %d %q %v (cas %v)", v, replaced, kind, err, b.cas)
	}
	if _, err := fernet.ParseKey(b.put.Reveal()); err != nil {
		t.Fatalf("an encryption key's new value is not a Fernet key: %v", err)
	}

	b = &versions{class: store.ClassAPIKey}
	if _, _, kind, err := secrets.Rotate(ctx, b, "llm/key", "", 32, read); err != nil || kind != "" || b.put.Reveal() != "given" {
		t.Fatalf("an API key takes the value read: kind %q, %v, put %q", kind, err, b.put.Reveal())
	}
	if _, _, kind, _ := secrets.Rotate(ctx, b, "llm/key", secrets.GenerateToken, 32, read); kind != secrets.GenerateToken || b.put.Reveal() == "given" {
		t.Fatalf("an explicit kind generates: kind %q", kind)
	}

	b = &versions{class: store.ClassAPIKey}
	failed := errors.New("no input")
	if _, _, _, err := secrets.Rotate(ctx, b, "llm/key", "", 32, func() (sensitive.String, error) { return sensitive.String{}, failed }); !errors.Is(err, failed) || b.cas != nil {
		t.Fatalf("a failed read: %v, put %v", err, b.cas)
	}
}
