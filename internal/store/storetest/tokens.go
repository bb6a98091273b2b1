package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// NewTokens returns a new, empty token store; the suite does not close it.
type NewTokens func(t *testing.T) store.Tokens

// RunTokens runs the token store suite.
func RunTokens(t *testing.T, newTokens NewTokens) {
	runAll(t, newTokens, []subtest[store.Tokens]{
		{"CreateAndRead", testTokenCreateRead},
		{"Unique", testTokenUnique},
		{"Renew", testTokenRenew},
		{"Revoke", testTokenRevoke},
		{"RevokeService", testTokenRevokeService},
		{"CountAndPurge", testTokenCountPurge},
		{"Manager", testTokenManager},
		{"ConcurrentRevokeService", testTokenConcurrentRevoke},
	})
}

func rec(acc, service string, issued time.Time) token.Record {
	return token.Record{
		Accessor:  acc,
		Hash:      sha256.Sum256([]byte("token of " + acc)),
		Service:   service,
		IssuedAt:  issued,
		ExpiresAt: issued.Add(time.Hour),
		MaxExpiry: issued.Add(24 * time.Hour),
	}
}

func testTokenCreateRead(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	r := rec("acc_0000000000000001", "gateway", t0)
	if err := ts.CreateToken(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := ts.TokenByHash(ctx, r.Hash)
	if err != nil || !sameRecord(got, r) {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, r)
	}
	got, err = ts.TokenByAccessor(ctx, r.Accessor)
	if err != nil || !sameRecord(got, r) {
		t.Fatalf("TokenByAccessor = %+v, %v", got, err)
	}
	if _, err := ts.TokenByHash(ctx, sha256.Sum256([]byte("other"))); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if _, err := ts.TokenByAccessor(ctx, "acc_ffffffffffffffff"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("unknown accessor: %v", err)
	}
}

func sameRecord(a, b token.Record) bool {
	return a.Accessor == b.Accessor && a.Hash == b.Hash && a.Service == b.Service && a.IssuedAt.Equal(b.IssuedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxExpiry.Equal(b.MaxExpiry) && a.RevokedAt.Equal(b.RevokedAt)
}

func testTokenUnique(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	r := rec("acc_0000000000000001", "gateway", t0)
	if err := ts.CreateToken(ctx, r); err != nil {
		t.Fatal(err)
	}
	sameAcc := rec("acc_0000000000000001", "gateway", t0)
	sameAcc.Hash = sha256.Sum256([]byte("x"))
	if err := ts.CreateToken(ctx, sameAcc); err == nil {
		t.Fatal("duplicate accessor accepted")
	}
	sameHash := rec("acc_0000000000000002", "gateway", t0)
	sameHash.Hash = r.Hash
	if err := ts.CreateToken(ctx, sameHash); err == nil {
		t.Fatal("duplicate hash accepted")
	}
}

func testTokenRenew(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	r := rec("acc_0000000000000001", "gateway", t0)
	if err := ts.CreateToken(ctx, r); err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(90 * time.Minute)
	if err := ts.RenewToken(ctx, r.Accessor, exp); err != nil {
		t.Fatal(err)
	}
	got, _ := ts.TokenByAccessor(ctx, r.Accessor)
	if !got.ExpiresAt.Equal(exp) || !got.MaxExpiry.Equal(r.MaxExpiry) {
		t.Fatalf("after renew: %+v", got)
	}
	if err := ts.RenewToken(ctx, "acc_ffffffffffffffff", exp); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("renew unknown: %v", err)
	}
	if err := ts.RevokeToken(ctx, r.Accessor, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := ts.RenewToken(ctx, r.Accessor, exp.Add(time.Hour)); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("renew revoked: %v", err)
	}
}

func testTokenRevoke(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	r := rec("acc_0000000000000001", "gateway", t0)
	if err := ts.CreateToken(ctx, r); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	if err := ts.RevokeToken(ctx, r.Accessor, at); err != nil {
		t.Fatal(err)
	}
	if err := ts.RevokeToken(ctx, r.Accessor, at.Add(time.Hour)); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	got, _ := ts.TokenByHash(ctx, r.Hash)
	if !got.RevokedAt.Equal(at) {
		t.Fatalf("revoked at %v, want the first revocation %v", got.RevokedAt, at)
	}
	if err := ts.RevokeToken(ctx, "acc_ffffffffffffffff", at); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func testTokenRevokeService(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	for i, s := range []string{"gateway", "gateway", "gateway", "worker"} {
		r := rec("acc_000000000000000"+string(rune('1'+i)), s, t0)
		if err := ts.CreateToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.RevokeToken(ctx, "acc_0000000000000001", t0); err != nil {
		t.Fatal(err)
	}
	accs, err := ts.RevokeServiceTokens(ctx, "gateway", t0.Add(time.Minute))
	slices.Sort(accs)
	if err != nil || !slices.Equal(accs, []string{"acc_0000000000000002", "acc_0000000000000003"}) {
		t.Fatalf("RevokeServiceTokens = %v, %v", accs, err)
	}
	if w, _ := ts.TokenByAccessor(ctx, "acc_0000000000000004"); !w.RevokedAt.IsZero() {
		t.Fatal("another service's token revoked")
	}
	if accs, err := ts.RevokeServiceTokens(ctx, "nobody", t0); err != nil || len(accs) != 0 {
		t.Fatalf("unknown service: %v, %v", accs, err)
	}
}

func testTokenCountPurge(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	live := rec("acc_0000000000000001", "gateway", t0)
	expired := rec("acc_0000000000000002", "gateway", t0.Add(-2*time.Hour))
	revoked := rec("acc_0000000000000003", "gateway", t0)
	for _, r := range []token.Record{live, expired, revoked} {
		if err := ts.CreateToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.RevokeToken(ctx, revoked.Accessor, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := ts.CountLiveTokens(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("CountLiveTokens = %d, %v", n, err)
	}
	// purge what ended before t0+30m: the expired one (t0-1h) and the revoked one (t0+1m)
	if n, err := ts.PurgeTokens(ctx, t0.Add(30*time.Minute)); err != nil || n != 2 {
		t.Fatalf("PurgeTokens = %d, %v", n, err)
	}
	if _, err := ts.TokenByAccessor(ctx, live.Accessor); err != nil {
		t.Fatal("live token purged")
	}
}

// testTokenManager runs the manager's whole life cycle on the store.
func testTokenManager(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := token.NewManager(ts, token.Options{TTL: time.Hour, MaxTTL: 2 * time.Hour, CacheTTL: -1, Now: clock})
	tok, r, err := m.Issue(ctx, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Validate(ctx, tok.Reveal()); err != nil || got.Accessor != r.Accessor {
		t.Fatalf("Validate = %+v, %v", got, err)
	}
	advance(50 * time.Minute)
	if _, err := m.Renew(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	advance(50 * time.Minute)
	if _, err := m.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatalf("renewed token: %v", err)
	}
	advance(time.Hour)
	if _, err := m.Validate(ctx, tok.Reveal()); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("after max TTL: %v", err)
	}
	tok2, _, _ := m.Issue(ctx, "gateway")
	if _, err := m.Revoke(ctx, tok2.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(ctx, tok2.Reveal()); !errors.Is(err, token.ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
}

func testTokenConcurrentRevoke(t *testing.T, ts store.Tokens) {
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		r := rec("acc_"+string(rune('a'+i))+"000000000000000", "gateway", t0)
		if err := ts.CreateToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accs, err := ts.RevokeServiceTokens(ctx, "gateway", t0)
			if err != nil {
				t.Error(err)
			}
			counts[i] = len(accs)
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != 20 {
		t.Fatalf("concurrent revocations reported %d tokens, want 20 in all", total)
	}
}
