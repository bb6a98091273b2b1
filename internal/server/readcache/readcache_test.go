package readcache

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func open(t *testing.T) *sqlite.DB {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformance: the cached store passes the store suite. The suite's
// clock never moves, so a long TTL exercises every invalidation.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(open(t), time.Hour, nil)
	})
}

func put(t *testing.T, st store.Store, name, tok string) {
	t.Helper()
	_, _, err := st.Put(context.Background(), store.Write{Name: name, Now: time.Now(), Seal: func(v int) (store.Sealed, error) {
		return store.Sealed{Token: tok, KeyID: "k", Binding: []byte{1}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
}

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

func TestStalenessBoundedByTTL(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	clk := &clock{t: time.Now()}
	c := New(db, time.Second, clk.now)
	put(t, c, "a", "v1")
	if _, v, _ := c.Get(ctx, "a", 0); v.Token != "v1" {
		t.Fatal(v.Token)
	}
	// a write through the cache is seen at once
	put(t, c, "a", "v2")
	if _, v, _ := c.Get(ctx, "a", 0); v.Token != "v2" {
		t.Fatalf("after a write through the cache: %s", v.Token)
	}
	// a write elsewhere (straight to the store) is seen after the TTL
	put(t, db, "a", "v3")
	if _, v, _ := c.Get(ctx, "a", 0); v.Token != "v2" {
		t.Fatalf("within the TTL: %s (the cache should still answer)", v.Token)
	}
	clk.add(time.Second)
	if _, v, _ := c.Get(ctx, "a", 0); v.Token != "v3" {
		t.Fatalf("after the TTL: %s", v.Token)
	}
	// compromise and delete through the cache take effect at once
	if err := c.MarkCompromised(ctx, "a", 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "a", 0); !errors.Is(err, store.ErrCompromised) {
		t.Fatalf("compromised version served: %v", err)
	}
	if err := c.Delete(ctx, "a", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "a", 0); !errors.Is(err, store.ErrDeleted) {
		t.Fatalf("deleted secret served: %v", err)
	}
}

func TestBindingCopied(t *testing.T) {
	ctx := context.Background()
	c := New(open(t), time.Hour, nil)
	put(t, c, "a", "v1")
	_, v, _ := c.Get(ctx, "a", 0)
	v.Binding[0] = 99
	if _, v2, _ := c.Get(ctx, "a", 0); v2.Binding[0] != 1 {
		t.Fatal("a caller changed the cached binding")
	}
}

func TestOff(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	c := New(db, 0, nil)
	put(t, c, "a", "v1")
	c.Get(ctx, "a", 0)
	put(t, db, "a", "v2")
	if _, v, _ := c.Get(ctx, "a", 0); v.Token != "v2" {
		t.Fatal("TTL 0 cached")
	}
}
