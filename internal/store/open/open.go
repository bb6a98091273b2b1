// Package open locates the store a configuration names (SA01_SECRETS_DB_DSN),
// opens it with the driver of its scheme, and opens its audit recorder and
// audit key: what every local verb and the server do before their work.
// Its errors are fault errors, with the remedy as their hint.
package open

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// Location says which store a DSN names: a SQLite file path, or a
// PostgreSQL DSN.
type Location struct {
	SQLitePath  string
	PostgresDSN string
}

// Locate reads a DSN as SA01_SECRETS_DB_DSN gives it: empty, the SQLite
// file $XDG_DATA_HOME/sa01-secrets/secrets.db (default ~/.local/share/...,
// from getenv); sqlite:///abs/path.db, another SQLite file; postgres:// or
// postgresql://, a PostgreSQL database.
func Locate(dsn string, getenv func(string) string) (Location, error) {
	switch {
	case dsn == "":
		dir := getenv("XDG_DATA_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			home := getenv("HOME")
			if home == "" || !filepath.IsAbs(home) {
				return Location{}, fault.New(fault.Usage, fmt.Errorf("%s is unset and neither XDG_DATA_HOME nor HOME names a directory for the default store", config.EnvDBDSN),
					"set "+config.EnvDBDSN+"=sqlite:///abs/path.db")
			}
			dir = filepath.Join(home, ".local", "share")
		}
		return Location{SQLitePath: filepath.Join(dir, "sa01-secrets", "secrets.db")}, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		p := strings.TrimPrefix(dsn, "sqlite://")
		if !strings.HasPrefix(p, "/") {
			return Location{}, fault.New(fault.Usage, fmt.Errorf("%s: a sqlite:// DSN needs an absolute path", config.EnvDBDSN),
				"write three slashes before an absolute path: sqlite:///var/lib/sa01/secrets.db")
		}
		return Location{SQLitePath: filepath.Clean(p)}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Location{PostgresDSN: dsn}, nil
	}
	return Location{}, fault.New(fault.Usage, fmt.Errorf("%s: unknown scheme; want sqlite://, postgres:// or postgresql://", config.EnvDBDSN),
		"use sqlite:///abs/path.db or postgres://user@host:5432/db")
}

// Driver names the store's driver: sqlite or postgres.
func (loc Location) Driver() string {
	if loc.PostgresDSN != "" {
		return "postgres"
	}
	return "sqlite"
}

// String names the store without a password.
func (loc Location) String() string {
	if loc.PostgresDSN != "" {
		return config.MaskDSN(loc.PostgresDSN)
	}
	return loc.SQLitePath
}

// Existing is At for a store that must exist: a missing SQLite file or
// PostgreSQL database is an error that says init makes it.
func Existing(ctx context.Context, loc Location) (store.Store, error) {
	missing := false
	if loc.PostgresDSN != "" {
		ok, err := postgres.Exists(ctx, loc.PostgresDSN)
		if err != nil {
			return nil, openError(loc, err)
		}
		missing = !ok
	} else if _, err := os.Lstat(loc.SQLitePath); errors.Is(err, fs.ErrNotExist) {
		missing = true
	}
	if missing {
		return nil, fault.New(fault.Unavailable, fmt.Errorf("no store at %s (sa01-secrets init creates one)", loc),
			"run sa01-secrets init, or point "+config.EnvDBDSN+" at the store")
	}
	return At(ctx, loc)
}

// At opens the store at loc, creating a missing SQLite file and migrating
// a store older than this binary.
func At(ctx context.Context, loc Location) (store.Store, error) {
	var err error
	var st store.Store
	if loc.PostgresDSN != "" {
		var db *postgres.DB
		db, err = postgres.Open(ctx, loc.PostgresDSN)
		st = db
	} else {
		var db *sqlite.DB
		db, err = sqlite.Open(ctx, loc.SQLitePath)
		st = db
	}
	if err != nil {
		return nil, openError(loc, err)
	}
	return st, nil
}

// Open opens the store at loc: one that exists (Existing), or with create
// also a missing SQLite file (At).
func (loc Location) Open(ctx context.Context, create bool) (store.Store, error) {
	if create {
		return At(ctx, loc)
	}
	return Existing(ctx, loc)
}

// openError names the store (a DSN with its password masked) and says
// what to do.
func openError(loc Location, err error) error {
	var se *store.SchemaError
	switch {
	case errors.As(err, &se):
		return fault.New(fault.Unavailable, fmt.Errorf("store %s: %w", loc, err),
			fmt.Sprintf("this binary knows schema versions up to %d; install a newer sa01-secrets", se.KnownVersion))
	case errors.Is(err, store.ErrNotWritable):
		return fault.New(fault.Unavailable, err, "check the permissions of the store's file and directory, or set "+config.EnvDBDSN)
	case errors.Is(err, store.ErrUnavailable):
		return fault.New(fault.Unavailable, fmt.Errorf("cannot reach the database at %s", loc),
			"check that the database is running and "+config.EnvDBDSN+" is right")
	}
	return fault.New(fault.Unavailable, fmt.Errorf("opening the store %s: %w", loc, err), "")
}
