package secrets

import (
	"strings"
	"testing"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, env, prefix, want string }{
		{"llm/openai_api_key", "", "", "OPENAI_API_KEY"},
		{"db/gateway/pass-word", "", "", "PASS_WORD"},
		{"token", "", "", "TOKEN"},
		{"a/9lives", "", "", "_9LIVES"},
		{"x/a.b", "", "", "A_B"},
		{"llm/openai_api_key", "OPENAI_KEY", "", "OPENAI_KEY"},
		{"app/db_password", "", "app/", "DB_PASSWORD"},
		{"app/x", "", "app/x", ""},           // the prefix leaves no name
		{"app/x", "X_VAR", "app/x", "X_VAR"}, // an env name needs none
	} {
		if got := EnvName(c.name, c.env, c.prefix); got != c.want {
			t.Errorf("EnvName(%q, %q, %q) = %q, want %q", c.name, c.env, c.prefix, got, c.want)
		}
	}
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
