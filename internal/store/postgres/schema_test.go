package postgres_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
)

// migrations is this binary's migrations, and with withFuture one more, as
// a newer binary would carry.
func migrations(t *testing.T, withFuture bool) fstest.MapFS {
	ents, err := postgres.MigrationsFS.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, e := range ents {
		b, err := postgres.MigrationsFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	if withFuture {
		fsys["00099_future.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE future (x INTEGER);\n-- +goose Down\nDROP TABLE future;\n")}
	}
	return fsys
}

func TestSchemaVersions(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Config(t)
	old, err := postgres.OpenWith(ctx, cfg.Copy(), migrations(t, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Put(ctx, store.Write{Name: "kept", Seal: func(int) (store.Sealed, error) {
		return store.Sealed{Token: "t", KeyID: "k", Binding: []byte{1}}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	// a newer binary migrates the older database and keeps its data
	newer, err := postgres.OpenWith(ctx, cfg.Copy(), migrations(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := newer.SchemaVersion(ctx); err != nil || v != 99 {
		t.Fatalf("schema after migrating: %d, %v", v, err)
	}
	if _, v, err := newer.Get(ctx, "kept", 0); err != nil || v.Token != "t" {
		t.Fatalf("data lost: %+v %v", v, err)
	}
	newer.Close()

	// an older binary refuses it
	_, err = postgres.OpenConfig(ctx, cfg.Copy())
	var se *store.SchemaError
	if !errors.As(err, &se) || se.DBVersion != 99 {
		t.Fatalf("older binary on a newer database: %v, want SchemaError", err)
	}
}
