package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "secrets.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() (store.Store, error) {
		path := filepath.Join(t.TempDir(), "s", "secrets.db")
		return func() (store.Store, error) { return Open(context.Background(), path) }
	})
}

func TestTightensWideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 0600", fi.Mode().Perm())
	}
}

func TestNotWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o600)
	cases := map[string]string{
		"parent is a file": filepath.Join(file, "secrets.db"),
		"path is a dir":    t.TempDir(),
		"read-only fs":     "/proc/sa01-secrets-test/secrets.db",
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o500)
		cases["read-only dir"] = filepath.Join(ro, "secrets.db")
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Open(context.Background(), p)
			if !errors.Is(err, store.ErrNotWritable) {
				t.Fatalf("Open(%s): %v, want ErrNotWritable", p, err)
			}
		})
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.db")
	os.WriteFile(path, []byte("this is not a sqlite file, just some text that is long enough to be a header........"), 0o600)
	if _, err := Open(context.Background(), path); err == nil {
		t.Fatal("opened a file that is not a database")
	}
}

// migrationsUpTo is the migrations up to version last.
func migrationsUpTo(t *testing.T, last int) fstest.MapFS {
	fsys := fstest.MapFS{}
	ents, err := fs.ReadDir(Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "%05d_", &n); err != nil || n > last {
			continue
		}
		b, err := fs.ReadFile(Migrations(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// future is the embedded migrations plus one from a newer binary.
func future(t *testing.T) fstest.MapFS {
	fsys := migrationsUpTo(t, 1<<30)
	fsys["00099_future.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE future (x INTEGER);\n-- +goose Down\nDROP TABLE future;\n")}
	return fsys
}

func TestOlderBinaryRefusesNewerStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	db, err := openWith(ctx, path, future(t))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	var se *store.SchemaError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer store: %v, want a SchemaError", err)
	}
	if se.DBVersion != 99 || se.KnownVersion < 1 || se.KnownVersion >= 99 {
		t.Errorf("SchemaError = %+v", se)
	}
}

func TestNewerBinaryMigratesOlderStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	// A store of the binary before state MACs (schema 8), written by
	// plain SQL: this binary's statements need the newer columns.
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, migrationsUpTo(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO secrets (id, name, created_at, updated_at, current_version) VALUES (1, 'kept', 1, 1, 1)`,
		`INSERT INTO versions (secret_id, version, token, key_id, binding, created_at) VALUES (1, 1, 't', 'k', x'01', 1)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err := openWith(ctx, path, future(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(ctx); err != nil || v != 99 {
		t.Fatalf("schema version after migrating: %d, %v", v, err)
	}
	sec, v, err := db.Get(ctx, "kept", 0)
	if err != nil || v.Token != "t" {
		t.Fatalf("data lost in migration: %+v %v", v, err)
	}
	if sec.StateMAC != nil {
		t.Errorf("a secret of the older store has a state MAC: %x", sec.StateMAC)
	}
	// and the current binary opens its own store at its own version
	cur, err := Open(ctx, filepath.Join(t.TempDir(), "new.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if v, _ := cur.SchemaVersion(ctx); v < 10 {
		t.Errorf("new store at schema %d", v)
	}
}

func TestRelativePathRefused(t *testing.T) {
	if _, err := Open(context.Background(), "rel/secrets.db"); err == nil {
		t.Fatal("opened a relative path")
	}
}

var storeNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestTwoHandles opens one file twice, as two processes would, and writes
// from both at once while a third handle reads: no write is lost and no
// read fails.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	var dbs []*DB
	for range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	seal := func(int) (store.Sealed, error) { return store.Sealed{Token: "t", KeyID: "k", Binding: []byte{1}}, nil }
	if _, _, err := dbs[0].Put(ctx, store.Write{Name: "shared", Now: storeNow, Seal: seal}); err != nil {
		t.Fatal(err)
	}
	const each = 25
	errs := make(chan error, 2*each+1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, _, err := dbs[2].Get(ctx, "shared", 0); err != nil {
				errs <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, db := range dbs[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, _, err := db.Put(ctx, store.Write{Name: "shared", Now: storeNow, Seal: seal}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	s, err := dbs[2].Secret(ctx, "shared")
	if err != nil || s.CurrentVersion != 1+2*each {
		t.Fatalf("after writes from two handles: version %d, %v; want %d", s.CurrentVersion, err, 1+2*each)
	}
}

// TestBackupCoversEveryTable fails when the schema has a table that
// backups (sqlstore.LoadTables) do not carry.
func TestBackupCoversEveryTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.db")
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.BackupCoversTables(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
}
