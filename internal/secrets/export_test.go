package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

func TestExportTo(t *testing.T) {
	vals := []Value{{Secret: store.Secret{Name: "db/password"}, Value: sensitive.New("p w")}}
	var out bytes.Buffer
	if err := ExportTo(&out, "", vals, "", "dotenv"); err != nil || out.String() != "PASSWORD=\"p w\"\n" {
		t.Fatalf("to stdout: %q, %v", out.String(), err)
	}
	file := filepath.Join(t.TempDir(), "out.env")
	if err := ExportTo(&out, file, vals, "", "env"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "export PASSWORD='p w'\n" {
		t.Fatalf("the file holds %q", b)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	dup := append(vals, Value{Secret: store.Secret{Name: "other/password"}, Value: sensitive.New("x")})
	var fe *fault.Error
	if err := ExportTo(&out, file+".2", dup, "", "dotenv"); !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint == "" {
		t.Fatalf("two secrets on one name: %v, want a usage fault with a hint", err)
	}
	if _, err := os.Stat(file + ".2"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused export wrote its file: %v", err)
	}
}
