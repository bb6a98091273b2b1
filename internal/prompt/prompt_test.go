package prompt

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

func TestReadLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
		rest  string
		err   error
	}{
		{"value\nrest", 64, "value", "rest", nil},
		{"value\r\n", 64, "value", "", nil},
		{"no newline", 64, "no newline", "", nil},
		{"\n", 64, "", "", nil},
		{"", 64, "", "", io.EOF},
		{"12345\n", 5, "12345", "", nil},
		{"123456\n", 5, "", "\n", ErrTooLong},
	} {
		r := strings.NewReader(tc.in)
		got, err := readLine(r, tc.limit)
		rest, _ := io.ReadAll(r)
		if !errors.Is(err, tc.err) || string(got) != tc.want || string(rest) != tc.rest {
			t.Errorf("readLine(%q, %d) = %q, %v, rest %q; want %q, %v, rest %q", tc.in, tc.limit, got, err, rest, tc.want, tc.err, tc.rest)
		}
	}
}

func TestValue(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(file, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"stdin", "", "from-stdin"},
		{"file", file, "from-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Value(strings.NewReader("from-stdin"), io.Discard, "x", tc.file, "--from-file", 64)
			if err != nil || string(b) != tc.want {
				t.Fatalf("Value = %q, %v; want %q", b, err, tc.want)
			}
		})
	}
	if b, _ := Value(strings.NewReader("0123456789"), io.Discard, "x", "", "--from-file", 4); len(b) != 5 {
		t.Fatalf("a value over the limit: read %d bytes, want limit+1 = 5", len(b))
	}
	var fe *fault.Error
	if _, err := Value(nil, io.Discard, "x", file+".missing", "--from-file", 64); !errors.As(err, &fe) || fe.Class != fault.Usage || err.Error() != "--from-file: cannot open "+file+".missing" {
		t.Fatalf("a missing file: %v, want a usage fault naming it", err)
	}
}
