package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// TestRevocationNotify: every revocation of a token, an identity or a
// credential (and a rotation that cuts the previous credentials short) is
// announced with the identity's name when its transaction commits, and a
// revocation rolled back announces nothing.
func TestRevocationNotify(t *testing.T) {
	db := pgtest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "svc-" + hex.EncodeToString(b[:]) // other tests' schemas share the channel
	got := make(chan string, 64)
	listening := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() {
		done <- db.WatchRevocations(ctx, store.RevocationHandler{
			Revoked: func(n string) {
				if n == name {
					got <- n
				}
			},
			Listening: func(uint32) { listening <- struct{}{} },
		})
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("never listened")
	}
	expect := func(what string, want bool) {
		t.Helper()
		wait := time.After(time.Second)
		if !want {
			wait = time.After(300 * time.Millisecond)
		}
		select {
		case <-got:
			if !want {
				t.Fatalf("%s: announced", what)
			}
		case <-wait:
			if want {
				t.Fatalf("%s: not announced within 1 s", what)
			}
		}
	}
	now := time.Now().UTC()
	if err := db.CreateIdentity(ctx, identity.Identity{Name: name, Kind: identity.Service, CreatedAt: now},
		identity.Credential{ID: "cred_00000000000000a1", Identity: name, Hash: [32]byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	expect("a new identity", false)
	rec := token.Record{Accessor: "acc_00000000000000a1", Hash: [32]byte{2}, Service: name, IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiry: now.Add(2 * time.Hour)}
	if err := db.CreateToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	expect("a new token", false)

	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE accessor = $1`, rec.Accessor); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET revoked_at = now() WHERE name = $1`, name); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	expect("a rolled-back revocation", false)

	if err := db.RevokeToken(ctx, rec.Accessor, now); err != nil {
		t.Fatal(err)
	}
	expect("a token revoked", true)
	if err := db.AddCredential(ctx, identity.Credential{ID: "cred_00000000000000a2", Identity: name, Hash: [32]byte{3}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	expect("a rotation with no grace", true)
	if _, err := db.RevokeIdentity(ctx, name, now); err != nil {
		t.Fatal(err)
	}
	expect("an identity revoked", true)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WatchRevocations: %v", err)
	}
}
