package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

func TestInit(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := &audit.Memory{}
	open := func() (audit.Recorder, error) { return rec, nil }
	is, err := Init(ctx, db, "key1", open)
	if err != nil || is.Identity.Name != "admin" || is.Credential.IsZero() {
		t.Fatalf("Init = %+v, %v; want admin with a credential", is.Identity, err)
	}
	if k, err := db.Key(ctx, "key1"); err != nil || k.State != store.KeyActive || k.Note != "init" {
		t.Fatalf("the key: %+v, %v; want key1 active, noted init", k, err)
	}
	if len(rec.Entries()) == 0 {
		t.Fatal("creating admin was not audited")
	}
	var fe *fault.Error
	if _, err := Init(ctx, db, "key1", open); !errors.As(err, &fe) || fe.Class != fault.Conflict {
		t.Fatalf("a second Init: %v, want a conflict fault", err)
	}
	broken := errors.New("audit file unwritable")
	if _, err := Init(ctx, db, "key1", func() (audit.Recorder, error) { return nil, broken }); !errors.Is(err, broken) {
		t.Fatalf("a recorder that cannot open: %v", err)
	}
}
