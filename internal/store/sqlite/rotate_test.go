package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestRotationConformance(t *testing.T) {
	storetest.RunRotation(t, func(t *testing.T, same storetest.RotatingStore) storetest.RotatingStore {
		path := filepath.Join(t.TempDir(), "secrets.db")
		if same != nil {
			path = same.(*DB).Path()
		}
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
