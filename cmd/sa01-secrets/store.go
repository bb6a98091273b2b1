package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// storeLocation says which store SA01_SECRETS_DB_DSN names: a SQLite file path, or
// a PostgreSQL DSN.
type storeLocation struct {
	sqlitePath  string
	postgresDSN string
}

// locateStore reads SA01_SECRETS_DB_DSN: unset, the SQLite file
// $XDG_DATA_HOME/sa01-secrets/secrets.db (default ~/.local/share/...);
// sqlite:///abs/path.db, another SQLite file; postgres:// or
// postgresql://, a PostgreSQL database.
func locateStore(g *globals) (storeLocation, error) {
	cfg, err := g.config()
	if err != nil {
		return storeLocation{}, err
	}
	return locateDSN(g, cfg.DBDSN.Reveal())
}

// locateDSN is locateStore for a DSN given some other way (migrate --to).
func locateDSN(g *globals, dsn string) (storeLocation, error) {
	switch {
	case dsn == "":
		dir := g.getenv("XDG_DATA_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			home := g.getenv("HOME")
			if home == "" || !filepath.IsAbs(home) {
				return storeLocation{}, usageError("set "+config.EnvDBDSN+"=sqlite:///abs/path.db",
					"%s is unset and neither XDG_DATA_HOME nor HOME names a directory for the default store", config.EnvDBDSN)
			}
			dir = filepath.Join(home, ".local", "share")
		}
		return storeLocation{sqlitePath: filepath.Join(dir, "sa01-secrets", "secrets.db")}, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		p := strings.TrimPrefix(dsn, "sqlite://")
		if !strings.HasPrefix(p, "/") {
			return storeLocation{}, usageError("write three slashes before an absolute path: sqlite:///var/lib/sa01/secrets.db",
				"%s: a sqlite:// DSN needs an absolute path", config.EnvDBDSN)
		}
		return storeLocation{sqlitePath: filepath.Clean(p)}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return storeLocation{postgresDSN: dsn}, nil
	}
	return storeLocation{}, usageError("use sqlite:///abs/path.db or postgres://user@host:5432/db",
		"%s: unknown scheme; want sqlite://, postgres:// or postgresql://", config.EnvDBDSN)
}

// openStore opens the store SA01_SECRETS_DB_DSN names, migrating it if it
// is older than this binary. It never creates one: a missing SQLite file is
// an error that says init makes it. Errors name the store (a DSN with its
// password masked) and carry an exit code.
func openStore(ctx context.Context, g *globals) (store.Store, error) {
	return openStoreFor(ctx, g, false)
}

// openStoreFor is openStore that creates a missing SQLite store when
// create is set: init, and serve --dev.
func openStoreFor(ctx context.Context, g *globals, create bool) (store.Store, error) {
	if err := notThroughServer(g); err != nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if !create {
		missing := false
		where := loc.sqlitePath
		if loc.postgresDSN != "" {
			where = config.MaskDSN(loc.postgresDSN)
			ok, err := postgres.Exists(ctx, loc.postgresDSN)
			if err != nil {
				return nil, storeOpenError(where, err)
			}
			missing = !ok
		} else if _, err := os.Lstat(loc.sqlitePath); errors.Is(err, fs.ErrNotExist) {
			missing = true
		}
		if missing {
			return nil, withCode(ExitUnavailable, fmt.Errorf("no store at %s (sa01-secrets init creates one)", where),
				"run sa01-secrets init, or point "+config.EnvDBDSN+" at the store")
		}
	}
	return openStoreAt(ctx, loc)
}

// driver names the store's driver: sqlite or postgres.
func (loc storeLocation) driver() string {
	if loc.postgresDSN != "" {
		return "postgres"
	}
	return "sqlite"
}

// String names the store without a password.
func (loc storeLocation) String() string {
	if loc.postgresDSN != "" {
		return config.MaskDSN(loc.postgresDSN)
	}
	return loc.sqlitePath
}

// openStoreAt opens the store at loc, migrating it if it is older than
// this binary.
func openStoreAt(ctx context.Context, loc storeLocation) (store.Store, error) {
	var err error
	var st store.Store
	where := loc.sqlitePath
	if loc.postgresDSN != "" {
		where = config.MaskDSN(loc.postgresDSN)
		var db *postgres.DB
		db, err = postgres.Open(ctx, loc.postgresDSN)
		st = db
	} else {
		var db *sqlite.DB
		db, err = sqlite.Open(ctx, loc.sqlitePath)
		st = db
	}
	if err != nil {
		return nil, storeOpenError(where, err)
	}
	return st, nil
}

func storeOpenError(where string, err error) error {
	var se *store.SchemaError
	switch {
	case errors.As(err, &se):
		return withCode(ExitUnavailable, fmt.Errorf("store %s: %w", where, err),
			fmt.Sprintf("this binary knows schema versions up to %d; install a newer sa01-secrets", se.KnownVersion))
	case errors.Is(err, store.ErrNotWritable):
		return withCode(ExitUnavailable, err, "check the permissions of the store's file and directory, or set "+config.EnvDBDSN)
	case errors.Is(err, store.ErrUnavailable):
		return withCode(ExitUnavailable, fmt.Errorf("cannot reach the database at %s", where),
			"check that the database is running and "+config.EnvDBDSN+" is right")
	}
	return withCode(ExitUnavailable, fmt.Errorf("opening the store %s: %w", where, err), "")
}
