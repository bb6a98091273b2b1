package secrets

import (
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
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
			es, err := ParseDotenv(strings.NewReader(tc.in))
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

func TestParseDotenvErrors(t *testing.T) {
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
			_, err := ParseDotenv(strings.NewReader(tc.in))
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

func TestQuoteDotenvRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", "with \"quotes\" and \\ and $HOME", "multi\nline\r\n\ttab", "'single'", " # not a comment"} {
		es, err := ParseDotenv(strings.NewReader("K=" + QuoteDotenv(v) + "\n"))
		if err != nil || len(es) != 1 || es[0].Value.Reveal() != v {
			t.Errorf("round trip of %q: %v %v", v, es, err)
		}
	}
}

func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x'\n", "C=\"a\\nb\"\n", "# c\nD=1 # x\n", "E=\"multi\nline\"\n", "\ufeffF=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		es, err := ParseDotenv(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range es {
			if !ValidEnvName(e.Name) {
				t.Fatalf("invalid key %q accepted", e.Name)
			}
			// what we export, we read back exactly
			back, err := ParseDotenv(strings.NewReader(e.Name + "=" + QuoteDotenv(e.Value.Reveal()) + "\n"))
			if err != nil || len(back) != 1 || back[0].Value.Reveal() != e.Value.Reveal() {
				t.Fatalf("round trip of %q failed: %v", e.Value.Reveal(), err)
			}
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"llm/openai_api_key", "a//b", "../x", "-x", "a/b.c-d_e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		// the messages are fixed text, numbers and quoted single bytes: a
		// name with a character they never hold must not show up in them
		if err != nil && len(name) >= 4 && strings.ContainsAny(name, "#!@$%&*+=?^~|") && strings.Contains(err.Error(), name) {
			t.Fatalf("error repeats the name: %v", err)
		}
		if err == nil {
			if len(name) == 0 || len(name) > MaxNameLen || strings.Contains(name, "//") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
				t.Fatalf("accepted %q", name)
			}
			for _, seg := range strings.Split(name, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("accepted %q", name)
				}
			}
		}
	})
}
