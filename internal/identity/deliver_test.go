package identity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

func TestDeliver(t *testing.T) {
	is := Issued{Identity: Identity{Name: "gw"}, Credential: sensitive.New("sa01c_secret"), Record: Credential{ExpiresAt: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)}}
	var out, notes bytes.Buffer
	if err := is.Deliver(&out, &notes, "", "CRED"); err != nil || out.String() != "sa01c_secret\n" || !strings.Contains(notes.String(), "expires on 2027-01-02") {
		t.Fatalf("printed: %v, out %q, notes %q", err, out.String(), notes.String())
	}
	out.Reset()
	file := filepath.Join(t.TempDir(), "gw.credential")
	if err := is.Deliver(&out, &notes, file, "CRED"); err != nil || out.Len() != 0 || !strings.Contains(notes.String(), "hint: export CRED="+file) {
		t.Fatalf("to a file: %v, out %q, notes %q", err, out.String(), notes.String())
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "sa01c_secret\n" {
		t.Fatalf("the file holds %q, %v", b, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	var se *SaveError
	if err := is.Deliver(&out, &notes, filepath.Join(file, "under-a-file"), "CRED"); !errors.As(err, &se) {
		t.Fatalf("an unwritable file: %v, want a *SaveError", err)
	}
}
