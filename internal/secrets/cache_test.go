package secrets_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// pairStore is what the cache tests need of a driver.
type pairStore interface {
	store.Store
	store.Audit
}

// cachedPair opens one database twice: a service with the read cache and
// the store's audit chain, as serve runs it, and a second one standing for
// another process on the same store (the CLI, or a second node). raw runs
// SQL on the database as a program that knows nothing of sa01-secrets.
type cachedPair struct {
	db, otherDB   pairStore
	cached, other *secrets.Service
	raw           func(t *testing.T, q string)
}

// cacheDrivers runs fn on a pair over SQLite, and over PostgreSQL when
// SA01_TEST_DB_DSN is set.
func cacheDrivers(t *testing.T, fn func(t *testing.T, p *cachedPair)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "secrets.db")
		p := openCachedPair(t, func() pairStore {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
		p.raw = func(t *testing.T, q string) {
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, p)
	})
	t.Run("postgres", func(t *testing.T) {
		cfg := pgtest.Config(t)
		p := openCachedPair(t, func() pairStore {
			db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
		p.raw = func(t *testing.T, q string) {
			conn, err := pgx.ConnectConfig(context.Background(), cfg.ConnConfig.Copy())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, p)
	})
}

func openCachedPair(t *testing.T, openStore func() pairStore) *cachedPair {
	t.Helper()
	p := &cachedPair{}
	r := ring(t, fernet.GenerateKey())
	open := func() (pairStore, *secrets.Service) {
		db := openStore()
		b := audit.NewBatcher(audit.NewChain(db, nil), audit.BatcherOptions{})
		t.Cleanup(func() { b.Close(); db.Close() })
		// Two handles contend for the store's write lock (SQLite's busy
		// handler polls): under the race detector the other's turn can
		// take longer than the default bound of one second.
		return db, secrets.New(db, r, audit.NewBounded(audit.Tee{b}, 10*time.Second, func(err error) { t.Log(err) }), nil)
	}
	p.db, p.cached = open()
	p.otherDB, p.other = open()
	if !p.cached.CacheReads() {
		t.Fatal("CacheReads: off over the store and its audit chain")
	}
	return p
}

// reads returns the read events in the store's audit chain, as
// "name@version:outcome", and checks the chain.
func (p *cachedPair) reads(t *testing.T) []string {
	t.Helper()
	es, err := p.db.AuditAfter(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if r := audit.VerifyEntries(es, nil, nil); !r.OK() {
		t.Fatalf("audit chain: %v", r.Problem)
	}
	var out []string
	for _, e := range es {
		if e.Action == secrets.ActionRead {
			out = append(out, fmt.Sprintf("%s@%d:%s", e.Secret, e.Version, e.Outcome))
		}
	}
	return out
}

func getValue(t *testing.T, s *secrets.Service, name string) (int, string, error) {
	t.Helper()
	v, err := s.Get(ctxAs("svc"), name, 0)
	return v.Version.Version, v.Value.Reveal(), err
}

// TestReadCacheSeesOtherProcesses: the cache serves repeated reads, and a
// change made through another handle on the file (a new version, a
// compromise mark, a delete, a raw SQL edit) is seen by the very next read.
// Every read returned is in the audit chain with the version returned, and
// nothing else is.
func TestReadCacheSeesOtherProcesses(t *testing.T) {
	cacheDrivers(t, testReadCacheSeesOtherProcesses)
}

func testReadCacheSeesOtherProcesses(t *testing.T, p *cachedPair) {
	mustPut(t, p.other, "llm/key", "v1")
	for range 3 {
		if ver, val, err := getValue(t, p.cached, "llm/key"); err != nil || ver != 1 || val != "v1" {
			t.Fatalf("read: %d %q %v", ver, val, err)
		}
	}
	if st := p.cached.CacheStats(); st.Hits != 2 || st.Misses != 1 || st.Stale != 0 {
		t.Fatalf("stats %+v, want 2 hits after 1 miss", st)
	}

	mustPut(t, p.other, "llm/key", "v2")
	if ver, val, err := getValue(t, p.cached, "llm/key"); err != nil || ver != 2 || val != "v2" {
		t.Fatalf("after a write elsewhere: %d %q %v", ver, val, err)
	}
	if st := p.cached.CacheStats(); st.Stale != 1 {
		t.Fatalf("stats %+v, want the cached entry found stale once", st)
	}
	getValue(t, p.cached, "llm/key") // cached again

	ctx := context.Background()
	if err := p.otherDB.MarkCompromised(ctx, "llm/key", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := getValue(t, p.cached, "llm/key"); !errors.Is(err, store.ErrCompromised) {
		t.Fatalf("a version marked compromised elsewhere was served: %v", err)
	}

	mustPut(t, p.other, "llm/key", "v3")
	getValue(t, p.cached, "llm/key")
	if err := p.other.Delete(ctxAs("alice"), "llm/key"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := getValue(t, p.cached, "llm/key"); !errors.Is(err, store.ErrDeleted) {
		t.Fatalf("a secret deleted elsewhere was served: %v", err)
	}
	if err := p.other.Undelete(ctxAs("alice"), "llm/key"); err != nil {
		t.Fatal(err)
	}
	getValue(t, p.cached, "llm/key")

	// A token moved by hand from version 1 to version 3, by a program
	// that knows nothing of sa01-secrets: the next read checks the
	// binding of what is stored now, not of what was cached.
	p.raw(t, `UPDATE versions SET token = (SELECT token FROM versions WHERE version = 1) WHERE version = 3`)
	var ie *secrets.IntegrityError
	if _, _, err := getValue(t, p.cached, "llm/key"); !errors.As(err, &ie) || ie.Reason != secrets.ReasonBinding {
		t.Fatalf("a token altered by hand was served: %v", err)
	}

	want := []string{"llm/key@1:success", "llm/key@1:success", "llm/key@1:success", "llm/key@2:success", "llm/key@2:success",
		"llm/key@2:failure", "llm/key@3:success", "llm/key@0:failure", "llm/key@3:success", "llm/key@3:failure"}
	if got := p.reads(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audited reads\n got %v\nwant %v", got, want)
	}
}

// TestReadCacheLinearizable: while another process writes new versions, a
// read never returns a version older than one whose write had returned
// before the read began, and each value is its version's.
func TestReadCacheLinearizable(t *testing.T) {
	cacheDrivers(t, testReadCacheLinearizable)
}

func testReadCacheLinearizable(t *testing.T, p *cachedPair) {
	mustPut(t, p.other, "db/pass", "1")
	var committed atomic.Int64
	committed.Store(1)
	const versions = 60
	done := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				before := committed.Load()
				v, err := p.cached.Get(ctxAs("svc"), "db/pass", 0)
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				if int64(v.Version.Version) < before {
					t.Errorf("read version %d after version %d was committed", v.Version.Version, before)
					return
				}
				if v.Value.Reveal() != strconv.Itoa(v.Version.Version) {
					t.Errorf("version %d holds %q", v.Version.Version, v.Value.Reveal())
					return
				}
			}
		}()
	}
	for i := 2; i <= versions; i++ {
		if got := mustPut(t, p.other, "db/pass", strconv.Itoa(i)); got.Version != i {
			t.Fatalf("put version %d, want %d", got.Version, i)
		}
		committed.Store(int64(i))
		time.Sleep(2 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	st := p.cached.CacheStats()
	t.Logf("%d reads: %+v", reads.Load(), st)
	if st.Hits == 0 || st.Stale == 0 {
		t.Errorf("stats %+v: the test did not exercise both cached and stale reads", st)
	}
	if got := int64(len(p.reads(t))); got != reads.Load() {
		t.Errorf("%d read events in the audit chain for %d reads returned", got, reads.Load())
	}
}

// TestReadCacheOff: the cache stays off where no audit commit can prove a
// cached read current, and is on where one can.
func TestReadCacheOff(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := ring(t, fernet.GenerateKey())
	chain := audit.NewBatcher(audit.NewChain(db, nil), audit.BatcherOptions{})
	defer chain.Close()
	file := audit.NewBatcher(&audit.Memory{}, audit.BatcherOptions{})
	defer file.Close()
	if !secrets.New(db, r, audit.NewBounded(audit.Tee{chain, file}, time.Second, nil), nil).CacheReads() {
		t.Error("the chain teed to a file sink after it: the cache stayed off")
	}
	for name, rec := range map[string]audit.Recorder{
		"no audit":                     audit.Discard{},
		"a file sink before the chain": audit.NewBounded(audit.Tee{file, chain}, time.Second, nil),
		"a recorder of its own":        &memRecorder{},
	} {
		if secrets.New(db, r, rec, nil).CacheReads() {
			t.Errorf("%s: the cache turned on", name)
		}
	}
	if secrets.New(db, nil, audit.NewBounded(audit.Tee{chain}, time.Second, nil), nil).CacheReads() {
		t.Error("no keys: the cache turned on")
	}
}
