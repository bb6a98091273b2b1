package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		glob, name string
		want       bool
	}{
		{"llm/*", "llm/openai_api_key", true},
		{"llm/*", "llm/eu/openai_api_key", false},
		{"llm/*", "llm", false},
		{"llm/*", "llmx/a", false},
		{"llm/*_key", "llm/openai_api_key", true},
		{"llm/*_key", "llm/openai_api_token", false},
		{"llm/open*", "llm/openai", true},
		{"llm/*ai*", "llm/openai_api", true},
		{"llm/?penai", "llm/openai", true},
		{"llm/?penai", "llm/penai", false},
		{"llm/?", "llm//", false},
		{"*", "a", true},
		{"*", "a/b", false},
		{"llm/**", "llm/a", true},
		{"llm/**", "llm/a/b/c", true},
		{"llm/**", "llm", false},
		{"llm/**", "other/a", false},
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"db/**/password", "db/password", true},
		{"db/**/password", "db/eu/main/password", true},
		{"db/**/password", "db/eu/main/user", false},
		{"db/**/password", "dbx/password", false},
		{"**/password", "db/x/password", true},
		{"**/password", "password", true},
		{"db/*/password", "db/eu/password", true},
		{"db/*/password", "db/eu/x/password", false},
		{"a/*/*", "a/b/c", true},
		{"a/*/*", "a/b", false},
		{"llm/openai_api_key", "llm/openai_api_key", true},
		{"llm/openai_api_key", "llm/openai_api_key2", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*x", "xxxx", true},
		{"**/**", "a", true},
		{"a/**/**", "a", false},
		{"a/**/**", "a/b", true},
		{"**/x/**/y/**", "x/y/z", true},
		{"**/x/**/y/**", "q/x/r/y", false},
		{"**/x/**/y/**", "q/x/r/s/y/t/u", true},
		{"**/x/**/y", "x/y", true},
		{"**/x/**/y", "x/y/y", true},
		{"**/x/**/y", "y/x", false},
		{"**", "", false},
		{"**", "/", false},
		{"**/*/**", "/", false},
		{"a/*", "a/", false},
		{"*/b", "/b", false},
		{"*", "", false},
	}
	for _, c := range cases {
		g, err := compileGlob(c.glob)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", c.glob, err)
		}
		if got := g.match(c.name); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.glob, c.name, got, c.want)
		}
	}
}

// TestGlobManyStars: several "**" against a long name finish at once (a
// backtracking matcher would take exponential time).
func TestGlobManyStars(t *testing.T) {
	t.Parallel()
	g, err := compileGlob("**/a/**/a/**/a/**/a/**/a/**/b")
	if err != nil {
		t.Fatal(err)
	}
	if g.match(strings.Repeat("a/", 300) + "c") {
		t.Fatal("matched")
	}
}

func TestGlobInvalid(t *testing.T) {
	t.Parallel()
	for _, g := range []string{"", "/llm/*", "llm/", "llm//a", "llm/**x", "a**/b", "llm/[ab]", "llm/{a,b}", `llm\*`, "a\nb"} {
		if _, err := compileGlob(g); err == nil {
			t.Errorf("compileGlob(%q) accepted", g)
		}
	}
}

const example = `services:
  gateway: {read: ["llm/*", "db/gateway/*"]}
  worker:  {read: ["llm/openai_api_key"]}
  deployer:
    list:  ["**"]
    write: ["app/**"]
  idle:
`

func TestAllowed(t *testing.T) {
	t.Parallel()
	p, err := Parse("p.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"llm/openai_api_key", "llm/anthropic_api_key", "db/gateway/password", "db/worker/password", "app/x/token", "llm/eu/key"}
	// want[service][action] is the set of secrets granted.
	want := map[string]map[Action][]string{
		"gateway": {
			Read:  {"llm/openai_api_key", "llm/anthropic_api_key", "db/gateway/password"},
			List:  {"llm/openai_api_key", "llm/anthropic_api_key", "db/gateway/password"},
			Write: nil,
		},
		"worker": {
			Read: {"llm/openai_api_key"},
			List: {"llm/openai_api_key"},
		},
		"deployer": {
			Read:  nil,
			List:  secrets,
			Write: {"app/x/token"},
		},
		"idle":    {},
		"unknown": {},
	}
	for svc, byAction := range want {
		for _, a := range []Action{Read, List, Write, "destroy"} {
			granted := map[string]bool{}
			for _, s := range byAction[a] {
				granted[s] = true
			}
			for _, s := range secrets {
				if got := p.Allowed(svc, a, s); got != granted[s] {
					t.Errorf("Allowed(%s, %s, %s) = %v, want %v", svc, a, s, got, granted[s])
				}
				if err := p.Check(svc, a, s); (err == nil) != granted[s] || (err != nil && !errors.Is(err, ErrDenied)) {
					t.Errorf("Check(%s, %s, %s) = %v", svc, a, s, err)
				}
			}
		}
	}
	if !p.HasService("idle") || p.HasService("unknown") {
		t.Error("HasService")
	}
	if got := strings.Join(p.Services(), ","); got != "deployer,gateway,idle,worker" {
		t.Errorf("Services = %s", got)
	}
	if got := strings.Join(p.Globs("gateway", Read), ","); got != "llm/*,db/gateway/*" {
		t.Errorf("Globs = %s", got)
	}
	var nilp *Policy
	if nilp.Allowed("gateway", Read, "llm/x") || (&Policy{}).Allowed("gateway", Read, "llm/x") {
		t.Error("empty policy allows")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, want string
	}{
		{"empty", "", "p.yaml: empty policy"},
		{"not mapping", "- a\n", "p.yaml:1: want a mapping"},
		{"unknown top key", "services: {}\nextra: 1\n", "p.yaml:2: unknown key \"extra\""},
		{"missing services", "x: 1\n", "p.yaml:1: unknown key \"x\""},
		{"services list", "services:\n  - a\n", "p.yaml:2: 'services' must be a mapping"},
		{"bad service", "services:\n  Gate Way: {read: [a]}\n", "p.yaml:2: service name \"Gate Way\""},
		{"unknown action", "services:\n  gw:\n    read: [a]\n    delete: [a]\n", "p.yaml:4: service \"gw\": unknown key \"delete\""},
		{"scalar globs", "services:\n  gw:\n    read: llm/*\n", "p.yaml:3: service \"gw\": read: want a list"},
		{"bad glob", "services:\n  gw:\n    read:\n      - llm/ok\n      - llm/**x\n", "p.yaml:5: service \"gw\": read: glob \"llm/**x\""},
		{"dup service", "services:\n  gw: {}\n  gw: {}\n", "p.yaml:3: duplicate key \"gw\" (first at line 2)"},
		{"dup action", "services:\n  gw:\n    read: [a]\n    read: [b]\n", "p.yaml:4: duplicate key \"read\""},
		{"non-string glob", "services:\n  gw:\n    read: [[a]]\n", "p.yaml:3: service \"gw\": read: each glob is a string"},
		{"int glob", "services:\n  gw:\n    read: [1]\n", "p.yaml:3: service \"gw\": read: each glob is a string"},
		{"syntax", "services:\n  gw: {read: [a\n", "p.yaml:"},
		{"grants scalar", "services:\n  gw: yes\n", "p.yaml:2: service \"gw\": want a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.src))
			if err == nil {
				t.Fatal("accepted")
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error = %q, want prefix %q", err, c.want)
			}
		})
	}
}

func TestParseNullServices(t *testing.T) {
	t.Parallel()
	p, err := Parse("p.yaml", []byte("services:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Services()) != 0 {
		t.Error("services")
	}
}

func TestHolderReloadKeepsOldOnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("services:\n  gw: {read: [\"llm/*\"]}\n")
	h, err := NewHolder(path)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Current()
	if !before.Allowed("gw", Read, "llm/a") {
		t.Fatal("not loaded")
	}
	write("services:\n  gw: {read: [\"llm/**x\"]}\n")
	err = h.Reload()
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:2:") {
		t.Fatalf("Reload of a bad file = %v", err)
	}
	if h.Current() != before {
		t.Fatal("a bad file replaced the policy")
	}
	write("services:\n  gw: {read: [\"db/*\"]}\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if h.Current().Allowed("gw", Read, "llm/a") || !h.Current().Allowed("gw", Read, "db/a") {
		t.Fatal("reload did not take")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err == nil {
		t.Fatal("missing file accepted")
	}
	if !h.Current().Allowed("gw", Read, "db/a") {
		t.Fatal("a missing file replaced the policy")
	}
}

func TestNewHolderEmptyDeniesAll(t *testing.T) {
	t.Parallel()
	h, err := NewHolder("")
	if err != nil {
		t.Fatal(err)
	}
	if h.Current().Allowed("gw", Read, "a") {
		t.Fatal("allowed")
	}
	if _, err := NewHolder(filepath.Join(t.TempDir(), "nope.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("services:\n  gw: {read: [\"db/**/p?ss*\"]}\n"))
	f.Add([]byte("services: &a {x: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T", err)
			}
			return
		}
		for _, s := range p.Services() {
			for _, a := range []Action{Read, List, Write} {
				for _, g := range p.Globs(s, a) {
					// every literal glob grants exactly its name
					if !strings.ContainsAny(g, "*?") && !p.Allowed(s, a, g) {
						t.Fatalf("%s %s %q does not grant itself", s, a, g)
					}
				}
			}
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("llm/*", "llm/openai")
	f.Add("db/**/p?ss", "db/a/b/pass")
	f.Fuzz(func(t *testing.T, pat, name string) {
		g, err := compileGlob(pat)
		if err != nil {
			return
		}
		m := g.match(name)
		// the two matchers agree
		if wellFormed(name) && len(name) < 64 && g.anys <= 3 {
			if a, b := matchSegs(g.segs, name), matchMemo(g.segs, strings.Split(name, "/")); a != b {
				t.Fatalf("%q vs %q: backtracking %v, table %v", pat, name, a, b)
			}
		}
		// '*' and '?' never cross '/': a glob without "**" matches only
		// names with as many segments as it has.
		if m && !strings.Contains(pat, "**") && strings.Count(pat, "/") != strings.Count(name, "/") {
			t.Fatalf("%q matched %q across segments", pat, name)
		}
		if g.literal() && m != (pat == name) {
			t.Fatalf("literal %q vs %q: %v", pat, name, m)
		}
	})
}

func TestParseGlob(t *testing.T) {
	t.Parallel()
	g, err := ParseGlob("llm/*")
	if err != nil || !g.Match("llm/a") || g.Match("llm/a/b") {
		t.Fatal("ParseGlob")
	}
	if _, err := ParseGlob("a//b"); err == nil || !strings.Contains(err.Error(), `"a//b"`) {
		t.Fatal(err)
	}
	if (Glob{}).Match("x") {
		t.Fatal("zero Glob matched")
	}
}

// A policy file that cannot be read says why: a typo in the path and a
// wrong mode do not look alike.
func TestLoadSaysWhyTheFileCannotBeRead(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "policy.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Load(missing): %v", err)
	}
	if os.Geteuid() == 0 {
		return // root reads a 0000 file
	}
	locked := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(locked, []byte("services: {}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(locked); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Load(0000 file): %v", err)
	}
}
