package dotenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEntries(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		order    []string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}, []string{"A", "B"}},
		{"comments and blanks", "# c\n\n  # indented\nA=1 # note\nB=x#y\n", map[string]string{"A": "1", "B": "x#y"}, nil},
		{"export", "export A=1\nexport\tB=2\nexported=3\n", map[string]string{"A": "1", "B": "2", "exported": "3"}, nil},
		{"spaces around =", "A = 1\n", map[string]string{"A": "1"}, nil},
		{"single quotes literal", `A='a\nb $X "q"' # c` + "\n", map[string]string{"A": `a\nb $X "q"`}, nil},
		{"double quote escapes", `A="a\nb\t\"q\" \\ \$X"` + "\n", map[string]string{"A": "a\nb\t\"q\" \\ $X"}, nil},
		{"multiline double", "A=\"line1\nline2\"\nB=2\n", map[string]string{"A": "line1\nline2", "B": "2"}, nil},
		{"multiline single", "A='l1\nl2'\n", map[string]string{"A": "l1\nl2"}, nil},
		{"crlf", "A=1\r\nB=\"x\"\r\n", map[string]string{"A": "1", "B": "x"}, nil},
		{"bom", "\ufeffA=1\n", map[string]string{"A": "1"}, nil},
		{"empty", "A=\n", map[string]string{"A": ""}, nil},
		{"equals in value", "A=b=c\n", map[string]string{"A": "b=c"}, nil},
		{"last wins", "A=1\nB=2\nA=3\n", map[string]string{"A": "3", "B": "2"}, []string{"A", "B"}},
		{"no final newline", "A=1", map[string]string{"A": "1"}, nil},
		{"hash at value start", "A=#x\nB= #y\n", map[string]string{"A": "#x", "B": "#y"}, nil},
		{"other escapes", `A="\' \` + "`" + ` \q"` + "\n", map[string]string{"A": "' ` \\q"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := parseEntries((tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			var order []string
			for _, e := range es {
				got[e.Name] = e.Value.Reveal()
				order = append(order, e.Name)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if tc.order != nil && strings.Join(order, ",") != strings.Join(tc.order, ",") {
				t.Errorf("order %v, want %v", order, tc.order)
			}
		})
	}
}

func TestEntriesErrors(t *testing.T) {
	tests := map[string]struct{ in, line string }{
		"no equals":       {"A=1\nSECRETVALUE\n", "line 2"},
		"bad key":         {"1A=x\n", "line 1"},
		"key with dash":   {"A-B=x\n", "line 1"},
		"unclosed double": {"A=1\nB=\"open\nstill\n", "line 2"},
		"unclosed single": {"A='x\n", "line 1"},
		"after quote":     {"A=\"x\" junk\n", "line 1"},
		"NUL":             {"A=1\nB=SECRET\x00VALUE\n", "line 2"},
		"NUL in a quote":  {"A=\"1\nSECRET\x00VALUE\"\n", "line 2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseEntries((tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.line) {
				t.Errorf("error %q does not name %s", err, tc.line)
			}
			for _, secret := range []string{"SECRETVALUE", "open", "junk"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q repeats input", err)
				}
			}
		})
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", "with \"quotes\" and \\ and $HOME", "multi\nline\r\n\ttab", "'single'", " # not a comment"} {
		es, err := parseEntries(("K=" + Quote(v) + "\n"))
		if err != nil || len(es) != 1 || es[0].Value.Reveal() != v {
			t.Errorf("round trip of %q: %v %v", v, es, err)
		}
	}
}

func FuzzEntries(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x'\n", "C=\"a\\nb\"\n", "# c\nD=1 # x\n", "E=\"multi\nline\"\n", "\ufeffF=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		es, err := parseEntries((in))
		if err != nil {
			return
		}
		for _, e := range es {
			if !ValidName(e.Name) {
				t.Fatalf("invalid key %q accepted", e.Name)
			}
			// what we export, we read back exactly
			back, err := parseEntries((e.Name + "=" + Quote(e.Value.Reveal()) + "\n"))
			if err != nil || len(back) != 1 || back[0].Value.Reveal() != e.Value.Reveal() {
				t.Fatalf("round trip of %q failed: %v", e.Value.Reveal(), err)
			}
		}
	})
}

// parseEntries is what import does with a file's contents.
func parseEntries(s string) ([]Entry, error) {
	f, err := Parse([]byte(s))
	if err != nil {
		return nil, err
	}
	return f.Entries()
}

// TestQuoteRunsNothingInAShell: a file of Quote'd values, sourced by sh,
// expands no variable and runs no command, and sets each value exactly as
// Parse reads it (for values without line breaks or tabs, which sh would
// keep as \n and \t).
func TestQuoteRunsNothingInAShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	values := []string{
		"`touch " + marker + "`",
		"$(touch " + marker + ")",
		"${HOME}$HOME",
		`a\"b"c` + "'d'",
		"x`y$(z)",
	}
	var file strings.Builder
	for i, v := range values {
		fmt.Fprintf(&file, "V%d=%s\n", i, Quote(v))
	}
	envFile := filepath.Join(dir, "exported.env")
	if err := os.WriteFile(envFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	script := ". " + envFile + "; printf '%s\\0' \"$V0\" \"$V1\" \"$V2\" \"$V3\" \"$V4\""
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("sourcing the exported file ran a command")
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	es, err := parseEntries(file.String())
	if err != nil || len(es) != len(values) || len(got) != len(values) {
		t.Fatalf("parse: %v; sh gave %q", err, got)
	}
	for i, v := range values {
		if got[i] != v || es[i].Value.Reveal() != v {
			t.Errorf("value %d: sh %q, Parse %q, want %q", i, got[i], es[i].Value.Reveal(), v)
		}
	}
}
