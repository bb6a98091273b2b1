package sqlite

import (
	"embed"
	"io/fs"

	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// migrationsFS holds the goose migrations, one file per schema version;
// applied ones are never edited.
//
//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations returns the embedded migrations.
func Migrations() fs.FS { return sqlstore.Sub(migrationsFS) }
