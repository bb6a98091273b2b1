package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// TestBusyIsUnavailable: a write that finds the database locked by another
// process past its busy timeout is store.ErrUnavailable (the server's 503,
// "try again"), not an internal error.
func TestBusyIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	openStore(t, path)
	tx, err := openRaw(t, path, "_txlock=immediate").BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other := openRaw(t, path, "_pragma=busy_timeout(0)")
	_, err = other.ExecContext(ctx, `INSERT INTO audit_cursors (name, seq) VALUES ('x', 1)`)
	if err == nil {
		t.Fatal("wrote while another connection held the write lock")
	}
	if c := classify(path, err); !errors.Is(c, store.ErrUnavailable) {
		t.Fatalf("classify(%v) = %v, want ErrUnavailable", err, c)
	}
}
