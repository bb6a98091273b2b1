package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runIdentities runs the identity store suite.
func runIdentities(t *testing.T, open opener) {
	runAll(t, open.fresh, []subtest[store.Store]{
		{"CreateAndRead", testIdentityCreateRead},
		{"Rotate", testIdentityRotate},
		{"Revoke", testIdentityRevoke},
	})
}

func cred(id, who string, created time.Time, life time.Duration) identity.Credential {
	return identity.Credential{ID: id, Identity: who, Hash: sha256.Sum256([]byte("credential " + id)),
		CreatedAt: created, ExpiresAt: created.Add(life)}
}

func sameCredential(a, b identity.Credential) bool {
	return a.ID == b.ID && a.Identity == b.Identity && a.Hash == b.Hash && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.RevokedAt.Equal(b.RevokedAt)
}

func testIdentityCreateRead(t *testing.T, st store.Store) {
	ctx := context.Background()
	alice := identity.Identity{Name: "alice", Kind: identity.Operator, Role: identity.Auditor, CreatedAt: t0}
	gw := identity.Identity{Name: "gateway", Kind: identity.Service, CreatedAt: t0.Add(time.Second)}
	ca, cg := cred("cred_a", "alice", t0, time.Hour), cred("cred_g", "gateway", t0.Add(time.Second), 2*time.Hour)
	if err := st.CreateIdentity(ctx, gw, cg); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateIdentity(ctx, alice, ca); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateIdentity(ctx, identity.Identity{Name: "alice", Kind: identity.Service, CreatedAt: t0}, cred("cred_x", "alice", t0, time.Hour)); !errors.Is(err, identity.ErrExists) {
		t.Fatalf("second alice: %v; want ErrExists", err)
	}
	if _, err := st.CredentialByHash(ctx, sha256.Sum256([]byte("credential cred_x"))); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the refused identity's credential was stored: %v", err)
	}
	got, err := st.IdentityByName(ctx, "alice")
	if err != nil || got.Name != "alice" || got.Kind != identity.Operator || got.Role != identity.Auditor || !got.CreatedAt.Equal(t0) || got.Revoked() {
		t.Fatalf("IdentityByName = %+v, %v", got, err)
	}
	if _, err := st.IdentityByName(ctx, "bob"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unknown identity: %v", err)
	}
	list, err := st.ListIdentities(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "gateway" || list[1].Kind != identity.Service {
		t.Fatalf("ListIdentities = %+v, %v", list, err)
	}
	c, err := st.CredentialByHash(ctx, cg.Hash)
	if err != nil || !sameCredential(c, cg) {
		t.Fatalf("CredentialByHash = %+v, %v; want %+v", c, err, cg)
	}
	if _, err := st.CredentialByHash(ctx, sha256.Sum256([]byte("nothing"))); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	all, err := st.ListCredentials(ctx, "")
	if err != nil || len(all) != 2 || all[0].ID != "cred_a" || all[1].ID != "cred_g" {
		t.Fatalf("ListCredentials() = %+v, %v", all, err)
	}
	// a credential hash is unique across identities
	dup := cg
	dup.ID, dup.Identity = "cred_dup", "alice"
	if err := st.AddCredential(ctx, dup, t0.Add(time.Hour)); err == nil {
		t.Fatal("a duplicate credential hash was stored")
	}
}

func testIdentityRotate(t *testing.T, st store.Store) {
	ctx := context.Background()
	c1 := cred("cred_1", "gateway", t0, 180*24*time.Hour)
	if err := st.CreateIdentity(ctx, identity.Identity{Name: "gateway", Kind: identity.Service, CreatedAt: t0}, c1); err != nil {
		t.Fatal(err)
	}
	grace := t0.Add(25 * time.Hour)
	c2 := cred("cred_2", "gateway", t0.Add(time.Hour), 180*24*time.Hour)
	if err := st.AddCredential(ctx, c2, grace); err != nil {
		t.Fatal(err)
	}
	cs, err := st.ListCredentials(ctx, "gateway")
	if err != nil || len(cs) != 2 || cs[0].ID != "cred_1" || !cs[0].ExpiresAt.Equal(grace) || !sameCredential(cs[1], c2) {
		t.Fatalf("after rotation: %+v, %v; want cred_1 expiring at %v", cs, err, grace)
	}
	// a later rotation with a longer grace never lengthens an older credential
	c3 := cred("cred_3", "gateway", t0.Add(2*time.Hour), 180*24*time.Hour)
	if err := st.AddCredential(ctx, c3, t0.Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	cs, _ = st.ListCredentials(ctx, "gateway")
	if len(cs) != 3 || !cs[0].ExpiresAt.Equal(grace) || !cs[1].ExpiresAt.Equal(t0.Add(100*time.Hour)) || !cs[2].ExpiresAt.Equal(c3.ExpiresAt) {
		t.Fatalf("after the second rotation: %+v", cs)
	}
	if err := st.AddCredential(ctx, cred("cred_4", "nobody", t0, time.Hour), t0); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("credential for no identity: %v", err)
	}
}

func testIdentityRevoke(t *testing.T, st store.Store) {
	ctx := context.Background()
	for _, n := range []string{"gateway", "worker"} {
		if err := st.CreateIdentity(ctx, identity.Identity{Name: n, Kind: identity.Service, CreatedAt: t0}, cred("cred_"+n, n, t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddCredential(ctx, cred("cred_gateway2", "gateway", t0, time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"gateway", "gateway", "worker"} {
		if err := st.CreateToken(ctx, rec("acc_000000000000000"+string(rune('1'+i)), n, t0)); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Minute)
	n, err := st.RevokeIdentity(ctx, "gateway", at)
	if err != nil || n != 2 {
		t.Fatalf("RevokeIdentity = %d, %v; want 2 tokens", n, err)
	}
	id, _ := st.IdentityByName(ctx, "gateway")
	if !id.RevokedAt.Equal(at) {
		t.Fatalf("identity revoked at %v; want %v", id.RevokedAt, at)
	}
	cs, _ := st.ListCredentials(ctx, "gateway")
	for _, c := range cs {
		if !c.RevokedAt.Equal(at) {
			t.Fatalf("credential %s not revoked: %+v", c.ID, c)
		}
	}
	for i, want := range []bool{true, true, false} {
		r, err := st.TokenByAccessor(ctx, "acc_000000000000000"+string(rune('1'+i)))
		if err != nil || r.RevokedAt.IsZero() != !want {
			t.Fatalf("token %d: %+v, %v; revoked want %v", i, r, err, want)
		}
	}
	if w, _ := st.IdentityByName(ctx, "worker"); w.Revoked() {
		t.Fatal("worker revoked with gateway")
	}
	// a second revocation keeps the first time; rotation of a revoked identity is refused
	if _, err := st.RevokeIdentity(ctx, "gateway", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if id, _ := st.IdentityByName(ctx, "gateway"); !id.RevokedAt.Equal(at) {
		t.Fatalf("second revocation moved the time to %v", id.RevokedAt)
	}
	if err := st.AddCredential(ctx, cred("cred_late", "gateway", at, time.Hour), at); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("credential for a revoked identity: %v", err)
	}
	if _, err := st.RevokeIdentity(ctx, "nobody", at); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("revoking no identity: %v", err)
	}
}
