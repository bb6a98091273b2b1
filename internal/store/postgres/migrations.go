package postgres

import (
	"embed"
	"io/fs"

	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// ownFS holds the migrations only PostgreSQL runs: the generation's
// statement triggers (00005) and the revocation NOTIFY (00009). Applied
// ones are never edited.
//
//go:embed migrations/*.sql
var ownFS embed.FS

// Migrations returns the migrations: sqlstore's shared ones and this
// package's own.
func Migrations() fs.FS { return sqlstore.Migrations(types, ownFS) }
