package token

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestManager(t *testing.T, cacheTTL time.Duration) (*Manager, *MemStore, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemStore()
	return NewManager(s, Options{TTL: time.Hour, MaxTTL: 3 * time.Hour, CacheTTL: cacheTTL, Now: c.now}), s, c
}

func TestIssueFormatAndHashOnly(t *testing.T) {
	t.Parallel()
	m, s, _ := newTestManager(t, -1)
	tok, r, err := m.Issue(context.Background(), "gateway")
	if err != nil {
		t.Fatal(err)
	}
	v := tok.Reveal()
	if !strings.HasPrefix(v, Prefix) || len(v) != len(Prefix)+43 || Parse(v) != nil {
		t.Fatalf("token form: len %d", len(v))
	}
	if !strings.HasPrefix(r.Accessor, "acc_") || len(r.Accessor) != 20 {
		t.Fatalf("accessor %q", r.Accessor)
	}
	if r.Hash != Hash(v) || r.Service != "gateway" || r.ExpiresAt.Sub(r.IssuedAt) != time.Hour || r.MaxExpiry.Sub(r.IssuedAt) != 3*time.Hour {
		t.Fatalf("record %+v", r)
	}
	// the store holds no token text anywhere
	stored, _ := s.TokenByAccessor(context.Background(), r.Accessor)
	if strings.Contains(fmt.Sprintf("%+v %#v", stored, stored), v[len(Prefix):]) {
		t.Fatal("store holds the token")
	}
	if fmt.Sprint(tok) != "[REDACTED]" {
		t.Fatal("token prints itself")
	}
	tok2, _, _ := m.Issue(context.Background(), "gateway")
	if tok2.Reveal() == v {
		t.Fatal("two equal tokens")
	}
	if _, _, err := m.Issue(context.Background(), ""); !errors.Is(err, ErrNoService) {
		t.Fatal(err)
	}
}

func TestValidateLifecycle(t *testing.T) {
	for _, cache := range []time.Duration{-1, time.Minute} {
		t.Run(fmt.Sprintf("cache=%v", cache), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, _, c := newTestManager(t, cache)
			tok, r, _ := m.Issue(ctx, "gateway")
			got, err := m.Validate(ctx, tok.Reveal())
			if err != nil || got.Accessor != r.Accessor {
				t.Fatalf("Validate = %v, %v", got, err)
			}
			// renew at 50 min: expiry moves to 1h50
			c.add(50 * time.Minute)
			r2, err := m.Renew(ctx, tok.Reveal())
			if err != nil || !r2.ExpiresAt.Equal(r.IssuedAt.Add(110*time.Minute)) {
				t.Fatalf("Renew = %v, %v", r2.ExpiresAt, err)
			}
			c.add(55 * time.Minute) // 1h45: live thanks to the renewal
			if _, err := m.Validate(ctx, tok.Reveal()); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Renew(ctx, tok.Reveal()); err != nil { // to 2h45
				t.Fatal(err)
			}
			// renewals stop at the max TTL
			c.add(45 * time.Minute) // 2h30
			r3, err := m.Renew(ctx, tok.Reveal())
			if err != nil || !r3.ExpiresAt.Equal(r.MaxExpiry) {
				t.Fatalf("Renew past max = %v, %v", r3.ExpiresAt, err)
			}
			c.add(29 * time.Minute) // 2h59
			if _, err := m.Validate(ctx, tok.Reveal()); err != nil {
				t.Fatal(err)
			}
			c.add(time.Minute) // 3h: expired for good
			if _, err := m.Validate(ctx, tok.Reveal()); !errors.Is(err, ErrExpired) {
				t.Fatalf("after max TTL: %v", err)
			}
			if _, err := m.Renew(ctx, tok.Reveal()); !errors.Is(err, ErrExpired) {
				t.Fatalf("renew after max TTL: %v", err)
			}
		})
	}
}

func TestExpiresWithoutRenewal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _, c := newTestManager(t, time.Hour) // cache longer than the TTL
	tok, _, _ := m.Issue(ctx, "gateway")
	if _, err := m.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	if _, err := m.Validate(ctx, tok.Reveal()); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached token outlived its TTL: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _, _ := newTestManager(t, time.Hour)
	a, _, _ := m.Issue(ctx, "gateway")
	b, rb, _ := m.Issue(ctx, "gateway")
	w, _, _ := m.Issue(ctx, "worker")
	for _, tk := range []string{a.Reveal(), b.Reveal(), w.Reveal()} {
		if _, err := m.Validate(ctx, tk); err != nil { // warm the cache
			t.Fatal(err)
		}
	}
	if _, err := m.Revoke(ctx, a.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(ctx, a.Reveal()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := m.Renew(ctx, a.Reveal()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("renew revoked: %v", err)
	}
	if _, err := m.Validate(ctx, b.Reveal()); err != nil {
		t.Fatal("revoking one revoked another")
	}
	n, err := m.RevokeService(ctx, "gateway")
	if err != nil || n != 1 {
		t.Fatalf("RevokeService = %d, %v", n, err)
	}
	if _, err := m.Validate(ctx, b.Reveal()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("service revocation: %v", err)
	}
	if _, err := m.Validate(ctx, w.Reveal()); err != nil {
		t.Fatal("service revocation reached another service")
	}
	if err := m.RevokeAccessor(ctx, rb.Accessor); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeAccessor(ctx, "acc_0000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if live, _ := m.Live(ctx); live != 1 {
		t.Fatalf("live = %d", live)
	}
}

// TestRevocationElsewhere: a revocation by another process sharing the
// store is seen once the cache entry ages out.
func TestRevocationElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemStore()
	here := NewManager(s, Options{CacheTTL: 2 * time.Second, Now: c.now})
	there := NewManager(s, Options{CacheTTL: 2 * time.Second, Now: c.now})
	tok, _, _ := here.Issue(ctx, "gateway")
	if _, err := here.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := there.Revoke(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatal("within the cache TTL the old answer stands; this documents it")
	}
	c.add(2 * time.Second)
	if _, err := here.Validate(ctx, tok.Reveal()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the cache TTL: %v", err)
	}
}

// TestRenewalElsewhere: a renewal on another process is honoured even when
// the cached record here says the token has expired.
func TestRenewalElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemStore()
	here := NewManager(s, Options{CacheTTL: time.Hour, Now: c.now})
	there := NewManager(s, Options{CacheTTL: time.Hour, Now: c.now})
	tok, _, _ := here.Issue(ctx, "gateway")
	if _, err := here.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	c.add(59 * time.Minute)
	if _, err := there.Renew(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	c.add(2 * time.Minute)
	if _, err := here.Validate(ctx, tok.Reveal()); err != nil {
		t.Fatalf("renewal elsewhere not honoured: %v", err)
	}
}

func TestMalformedAndUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _, _ := newTestManager(t, time.Minute)
	good, _, _ := m.Issue(ctx, "gateway")
	g := good.Reveal()
	for _, s := range []string{"", "sa01s_", "Bearer " + g, g + "x", g[:len(g)-1], "sa01x_" + g[6:], strings.Replace(g, g[10:11], "!", 1), strings.ToUpper(g[:6]) + g[6:]} {
		if _, err := m.Validate(ctx, s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Validate(malformed #%d) = %v", len(s), err)
		}
	}
	unknown := Prefix + strings.Repeat("A", 43)
	if _, err := m.Validate(ctx, unknown); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := m.Renew(ctx, unknown); !errors.Is(err, ErrInvalid) {
		t.Errorf("renew unknown: %v", err)
	}
	if _, err := m.Revoke(ctx, unknown); !errors.Is(err, ErrInvalid) {
		t.Errorf("revoke unknown: %v", err)
	}
}

func TestErrorsHoldNoToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _, c := newTestManager(t, -1)
	tok, _, _ := m.Issue(ctx, "gateway")
	c.add(2 * time.Hour)
	_, err := m.Validate(ctx, tok.Reveal())
	if err == nil || strings.Contains(err.Error(), tok.Reveal()[6:]) {
		t.Fatalf("err = %v", err)
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, c := newTestManager(t, -1)
	old, _, _ := m.Issue(ctx, "gateway")
	c.add(2 * time.Hour)
	fresh, _, _ := m.Issue(ctx, "gateway")
	n, err := m.Purge(ctx, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if _, err := s.TokenByHash(ctx, Hash(old.Reveal())); !errors.Is(err, ErrNotFound) {
		t.Fatal("expired record kept")
	}
	if _, err := m.Validate(ctx, fresh.Reveal()); err != nil {
		t.Fatal(err)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	if !Equal("abc", "abc") || Equal("abc", "abd") || Equal("abc", "abcd") || Equal("", "a") {
		t.Fatal("Equal")
	}
}

func TestConcurrentValidate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _, _ := newTestManager(t, time.Minute)
	tok, _, _ := m.Issue(ctx, "gateway")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, err := m.Validate(ctx, tok.Reveal()); err != nil {
					t.Error(err)
					return
				}
				if j == 100 {
					_, _ = m.Renew(ctx, tok.Reveal())
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzParse(f *testing.F) {
	f.Add(Prefix + strings.Repeat("a", 43))
	f.Add("sa01s_")
	f.Fuzz(func(t *testing.T, s string) {
		if Parse(s) == nil && (!strings.HasPrefix(s, Prefix) || len(s) != len(Prefix)+43) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func BenchmarkValidateCached(b *testing.B) {
	ctx := context.Background()
	m := NewManager(NewMemStore(), Options{})
	tok, _, _ := m.Issue(ctx, "gateway")
	v := tok.Reveal()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Validate(ctx, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
