package postgres

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenWith opens with a chosen set of migrations, for schema version tests.
func OpenWith(ctx context.Context, cfg *pgxpool.Config, migrations fs.FS) (*DB, error) {
	return openWith(ctx, cfg, migrations)
}
