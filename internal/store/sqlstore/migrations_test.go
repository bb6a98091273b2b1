package sqlstore

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

var testTypes = Types{ID: "SERIALID", Int64: "INT64", Time: "TIME", Bytes: "BYTES", SHA256Check: " CHECK32"}

// TestMigrationsFS: the rendered directory is a well-behaved fs.FS holding
// the shared steps, with every template action filled in, and the driver's.
func TestMigrationsFS(t *testing.T) {
	own := fstest.MapFS{"migrations/00005_own.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	m := Migrations(testTypes, own)
	if err := fstest.TestFS(m, "00001_secrets.sql", "00005_own.sql", "00010_state_mac.sql"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(m, "00002_tokens.sql")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "{{") || !strings.Contains(s, "hash       BYTES    NOT NULL UNIQUE CHECK32,") {
		t.Fatalf("00002 rendered as:\n%s", s)
	}
}

func TestMigrationsVersionClash(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "00003_audit.sql") {
			t.Fatalf("a driver's 00003 beside the shared one: %v", r)
		}
	}()
	Migrations(testTypes, fstest.MapFS{"migrations/00003_mine.sql": {Data: []byte("-- +goose Up\n")}})
}
