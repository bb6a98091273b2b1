package postgres

import (
	"context"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenWith opens with a chosen set of migrations, for schema version tests.
func OpenWith(ctx context.Context, cfg *pgxpool.Config, migrations fs.FS) (*DB, error) {
	return openWith(ctx, cfg, migrations)
}

// SetLoadLockTimeout makes the loads of stores opened until undo wait at
// most d for each lock, instead of LoadLockTimeout.
func SetLoadLockTimeout(d time.Duration) (undo func()) {
	old := dialect.LoadBegin
	dialect.LoadBegin = lockTimeout(d)
	return func() { dialect.LoadBegin = old }
}
