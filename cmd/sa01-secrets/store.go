package main

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// storeLocation is where a store is (open.Location), with its SQLite file
// ("" for PostgreSQL).
type storeLocation struct {
	open.Location
	sqlitePath string
}

func (loc storeLocation) driver() string { return loc.Driver() }

// locateStore reads SA01_SECRETS_DB_DSN (open.Locate).
func locateStore(g *globals) (storeLocation, error) {
	cfg, err := g.config()
	if err != nil {
		return storeLocation{}, err
	}
	return locateDSN(g, cfg.DBDSN.Reveal())
}

// locateDSN is locateStore for a DSN given some other way (migrate --to).
func locateDSN(g *globals, dsn string) (storeLocation, error) {
	loc, err := open.Locate(dsn, g.getenv)
	return storeLocation{loc, loc.SQLitePath}, err
}

// openStore opens the existing store SA01_SECRETS_DB_DSN names (open.Existing).
func openStore(ctx context.Context, g *globals) (store.Store, error) {
	return openStoreFor(ctx, g, false)
}

// openStoreFor is openStore that creates a missing SQLite store when
// create is set: init.
func openStoreFor(ctx context.Context, g *globals, create bool) (store.Store, error) {
	if err := notThroughServer(g); err != nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if create {
		return open.At(ctx, loc.Location)
	}
	return open.Existing(ctx, loc.Location)
}

// openStoreAt opens the store at loc (open.At).
func openStoreAt(ctx context.Context, loc storeLocation) (store.Store, error) {
	return open.At(ctx, loc.Location)
}
