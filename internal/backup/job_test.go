package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// migrate's destination comes from exactly one place, never a password
// on the command line, and no error repeats the DSN's password.
func TestDestinationResolve(t *testing.T) {
	dir := t.TempDir()
	file, empty := filepath.Join(dir, "dsn"), filepath.Join(dir, "empty")
	for p, data := range map[string]string{file: "postgres://u:hunter2@db/x\nignored\n", empty: "\n"} {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"TO": " postgres://u:hunter2@db/x ", "BLANK": " "}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		name string
		d    Destination
		want string // the DSN, or a fragment of the usage error
		ok   bool
	}{
		{"env", Destination{Env: "TO"}, "postgres://u:hunter2@db/x", true},
		{"file", Destination{File: file}, "postgres://u:hunter2@db/x", true},
		{"argv without a password", Destination{DSN: "sqlite:///var/lib/x.db"}, "sqlite:///var/lib/x.db", true},
		{"argv with a password", Destination{DSN: "postgres://u:hunter2@db/x"}, "must not appear on the command line", false},
		{"argv with a password parameter", Destination{DSN: "postgres://db/x?PassWord=hunter2"}, "must not appear on the command line", false},
		{"unparseable argv", Destination{DSN: "postgres://u:hunter2@db:port/x"}, "must not appear on the command line", false},
		{"none", Destination{}, "give exactly one of", false},
		{"two", Destination{Env: "TO", File: file}, "give exactly one of", false},
		{"blank variable", Destination{Env: "BLANK"}, "--to-env: BLANK is unset or empty", false},
		{"empty first line", Destination{File: empty}, "--to-file: the file's first line is empty", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.d.Resolve(getenv)
			if c.ok {
				if err != nil || got != c.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Class != fault.Usage || !strings.Contains(err.Error(), c.want) || got != "" {
				t.Fatalf("Resolve = %q, %v; want a usage fault with %q", got, err, c.want)
			}
			if strings.Contains(err.Error()+fe.Hint, "hunter2") {
				t.Fatalf("the error repeats the password: %q", err)
			}
		})
	}
	_, err := Destination{File: filepath.Join(dir, "missing")}.Resolve(getenv)
	var pe *fs.PathError
	var nf *fault.Error
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &nf) || nf.Class != fault.Usage {
		t.Fatalf("a missing --to-file: %v; want a usage fault wrapping its *fs.PathError", err)
	}
}
