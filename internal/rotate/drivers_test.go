package rotate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// fullStore is a driver's store with the rotation methods.
type fullStore interface {
	store.Store
	store.Rotation
}

// driver opens handles on one fresh store; each call is a new handle (a
// new connection pool), as another process would have.
type driver struct {
	name string
	dsn  string // SA01_DB_DSN for a subprocess
	open func(t testing.TB) fullStore
}

// drivers returns SQLite, and PostgreSQL when SA01_TEST_DB_DSN is set, each
// on a fresh store (a new file; a new schema dropped at the end).
func drivers(t testing.TB) []driver {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.db")
	ds := []driver{{name: "sqlite", dsn: "sqlite://" + path, open: func(t testing.TB) fullStore {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}}
	if pg := pgSchema(t); pg != "" {
		ds = append(ds, driver{name: "postgres", dsn: pg, open: func(t testing.TB) fullStore {
			db, err := postgres.Open(context.Background(), pg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}})
	}
	return ds
}

// pgSchema creates a schema of its own in the database at SA01_TEST_DB_DSN
// and returns a DSN whose search_path is that schema, or "" when the
// variable is unset.
func pgSchema(t testing.TB) string {
	base := os.Getenv("SA01_TEST_DB_DSN")
	if base == "" {
		return ""
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rotate_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("SA01_TEST_DB_DSN: cannot connect")
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// seedStore puts n secrets with the service (encrypted under ring's
// primary) and returns their values by name.
func seedStore(t testing.TB, st store.Store, ring *fernet.Ring, n int) map[string]string {
	t.Helper()
	svc := secrets.New(st, ring, nil, nil)
	vals := make(map[string]string, n)
	var entries []secrets.Entry
	for i := range n {
		name := fmt.Sprintf("svc/secret_%04d", i)
		v := fmt.Sprintf("value-%d-%x", i, i*7919)
		vals[name] = v
		entries = append(entries, secrets.Entry{Name: name, Value: sensitive.New(v)})
	}
	if _, err := svc.Import(context.Background(), entries, secrets.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return vals
}

// While reencrypt runs, readers on other handles (other connection pools,
// as other processes) never fail a read, on SQLite and PostgreSQL.
func TestReencryptReadersSeeNoFailure(t *testing.T) {
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
			st := d.open(t)
			vals := seedStore(t, st, mustRing(t, k1), 600)
			names := make([]string, 0, len(vals))
			for n := range vals {
				names = append(names, n)
			}
			ctx := context.Background()
			// k2 is staged, then promoted: the readers hold both keys.
			if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: k2.ID(), State: store.KeyPending, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := st.PromoteKey(ctx, k2.ID(), time.Now(), time.Now().Add(RetentionPeriod)); err != nil {
				t.Fatal(err)
			}
			readerRing := mustRing(t, k1, k2) // an old-primary node that has the staged key
			var stop atomic.Bool
			var reads, failures atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			for w := range 2 {
				rst := d.open(t)
				svc := secrets.New(rst, readerRing, nil, nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; !stop.Load(); i++ {
						name := names[i%len(names)]
						v, err := svc.Get(ctx, name, 0)
						reads.Add(1)
						if err != nil || v.Value.Reveal() != vals[name] {
							failures.Add(1)
							if err != nil {
								firstErr.CompareAndSwap(nil, err.Error())
							}
						}
					}
				}()
			}
			r := &Rotator{Store: st, Bind: secrets.Bind, BatchSize: 10}
			res, err := r.Reencrypt(ctx, ReencryptOptions{Ring: mustRing(t, k2, k1)})
			// Let the readers go on a little over the final state.
			time.Sleep(50 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if res.Total() != 600 {
				t.Errorf("moved %d, want 600", res.Total())
			}
			if failures.Load() != 0 {
				t.Fatalf("%d of %d reads failed during reencrypt; first: %v", failures.Load(), reads.Load(), firstErr.Load())
			}
			if reads.Load() < 100 {
				t.Errorf("only %d reads ran during the re-encryption", reads.Load())
			}
			counts, _ := st.CountByKey(ctx)
			if counts[k2.ID()] != 600 || len(counts) != 1 {
				t.Errorf("counts after: %v", counts)
			}
			t.Logf("%d reads during reencrypt, none failed", reads.Load())
		})
	}
}

// Two reencrypts on two handles at once: every version moves exactly once,
// all decrypt.
func TestReencryptTwoHandlesAtOnce(t *testing.T) {
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
			st := d.open(t)
			vals := seedStore(t, st, mustRing(t, k1), 500)
			ring := mustRing(t, k2, k1)
			var wg sync.WaitGroup
			res := make([]*Result, 2)
			errs := make([]error, 2)
			for i := range 2 {
				h := d.open(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					// The engine directly: the verbs' lock would serialise them.
					e := &Engine{Source: h, Ring: ring, Bind: secrets.Bind, BatchSize: 13 + 4*i}
					res[i], errs[i] = e.Run(context.Background())
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := res[0].Total() + res[1].Total(); n != 500 {
				t.Errorf("moved %d + %d = %d, want 500", res[0].Total(), res[1].Total(), n)
			}
			svc := secrets.New(st, ring, nil, nil)
			rep, err := svc.Verify(context.Background())
			if err != nil || !rep.OK || rep.Versions != 500 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
			for name, want := range vals {
				v, err := svc.Get(context.Background(), name, 0)
				if err != nil || v.Value.Reveal() != want {
					t.Fatalf("%s: %v", name, err)
				}
				if v.Version.KeyID != k2.ID() {
					t.Fatalf("%s under %s", name, v.Version.KeyID)
				}
			}
		})
	}
}

// The store's rotation lock: one holder at a time across handles; released
// by unlock.
func TestStoreRotationLock(t *testing.T) {
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			a, b := d.open(t), d.open(t)
			ctx := context.Background()
			unlock, err := a.LockRotation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.LockRotation(ctx); err != store.ErrLocked {
				t.Fatalf("second lock: %v, want ErrLocked", err)
			}
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
			unlock2, err := b.LockRotation(ctx)
			if err != nil {
				t.Fatalf("after unlock: %v", err)
			}
			unlock2()
		})
	}
}
