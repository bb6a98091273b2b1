package policy

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	src := `services:
  gateway:
    read:
      - "llm/*"
      - "llm/openai_api_key"
      - "db/gateway/*"
    list: ["app/**"]
  deployer:
    write: ["app/**"]
`
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		service string
		action  Action
		name    string
		want    string // Grant.String(), or "" for denied
	}{
		{"gateway", Read, "llm/openai_api_key", "policy.yaml:4: gateway read llm/*"}, // the first in file order
		{"gateway", Read, "db/gateway/password", "policy.yaml:6: gateway read db/gateway/*"},
		{"gateway", List, "app/x/y", "policy.yaml:7: gateway list app/**"},
		{"gateway", List, "llm/x", "policy.yaml:4: gateway read llm/*"}, // read implies list
		{"gateway", Read, "app/x", ""},                                  // list does not imply read
		{"gateway", Write, "llm/x", ""},
		{"deployer", Write, "app/a", "policy.yaml:9: deployer write app/**"},
		{"deployer", Read, "app/a", ""},
		{"nobody", Read, "llm/x", ""},
		{"gateway", "destroy", "llm/x", ""},
		{"gateway", Read, "llm//x", ""},
	}
	for _, c := range cases {
		g, ok := p.Explain(c.service, c.action, c.name)
		if ok != (c.want != "") || (ok && g.String() != c.want) {
			t.Errorf("Explain(%s, %s, %s) = %q, %v; want %q", c.service, c.action, c.name, g, ok, c.want)
		}
		if ok != p.Allowed(c.service, c.action, c.name) {
			t.Errorf("Explain(%s, %s, %s) disagrees with Allowed", c.service, c.action, c.name)
		}
	}
	var nilp *Policy
	if _, ok := nilp.Explain("gateway", Read, "llm/x"); ok {
		t.Error("nil policy explains a grant")
	}
}

// TestExplainAgreesWithAllowed on random policies and names.
func TestExplainAgreesWithAllowed(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		p := randomPolicy(t, r)
		for range 50 {
			svc, a, name := randomCase(r, p)
			if _, ok := p.Explain(svc, a, name); ok != p.Allowed(svc, a, name) {
				t.Fatalf("Explain and Allowed disagree on %s %s %q in\n%s", svc, a, name, p.Rego())
			}
		}
	}
}

// TestGlobRegexp: the regular expression each glob exports to matches
// exactly the names the glob matches, over every ASCII name (the
// well-formedness check is the module's well_formed rule).
func TestGlobRegexp(t *testing.T) {
	t.Parallel()
	wf := regexp.MustCompile(`^[^/]+(/[^/]+)*$`)
	check := func(glob, name string) {
		t.Helper()
		g, err := compileGlob(glob)
		if err != nil {
			return
		}
		re, err := regexp.Compile(g.regexp())
		if err != nil {
			t.Fatalf("glob %q: regexp %q: %v", glob, g.regexp(), err)
		}
		if got, want := wf.MatchString(name) && re.MatchString(name), g.match(name); got != want {
			t.Fatalf("glob %q (regexp %q) on %q: regexp %v, glob %v", glob, g.regexp(), name, got, want)
		}
	}
	cases := []struct{ glob, name string }{
		{"llm/*", "llm/a"}, {"llm/*", "llm/a/b"}, {"llm/*", "llm"}, {"llm/**", "llm"}, {"llm/**", "llm/a/b"},
		{"**", "a"}, {"**", "a//b"}, {"db/**/password", "db/password"}, {"db/**/password", "db/a/b/password"},
		{"**/x/**/y/**", "x/y/z"}, {"**/x/**/y/**", "q/x/r/y"}, {"a.b/*", "aXb/c"}, {"a+b", "aab"},
		{"a/*", "a/"}, {"*/b", "/b"}, {"a/?", "a/\n"}, {"a$", "a"}, {"(x)|y", "y"}, {"^a", "^a"},
	}
	for _, c := range cases {
		check(c.glob, c.name)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(randomGlob(r), randomName(r))
	}
}

func FuzzGlobRegexp(f *testing.F) {
	f.Add("db/**/p?ss*", "db/a/b/pass")
	f.Add("a.+/*", "a.+/b")
	wf := regexp.MustCompile(`^[^/]+(/[^/]+)*$`)
	f.Fuzz(func(t *testing.T, glob, name string) {
		g, err := compileGlob(glob)
		if err != nil || len(name) > 128 || !isASCII(glob+name) {
			return
		}
		re := regexp.MustCompile(g.regexp())
		if got, want := wf.MatchString(name) && re.MatchString(name), g.match(name); got != want {
			t.Fatalf("glob %q (regexp %q) on %q: regexp %v, glob %v", glob, g.regexp(), name, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Random policies over a small alphabet, so that globs and names meet.
var (
	segAlphabet  = []string{"a", "b", "ab", "x.y", "a+b", "(c)", "$", "llm", "db"}
	globSegments = []string{"*", "?", "**", "a*", "*b", "?b", "a?", "*.*", "a+*"}
	services     = []string{"gateway", "worker", "deployer"}
)

func randomSegment(r *rand.Rand) string { return segAlphabet[r.IntN(len(segAlphabet))] }

// randomName returns a name of 1–4 segments; now and then one is empty, so
// that malformed names are tried too.
func randomName(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	segs := make([]string, n)
	for i := range segs {
		if r.IntN(25) == 0 {
			continue // an empty segment
		}
		segs[i] = randomSegment(r)
	}
	return strings.Join(segs, "/")
}

// randomCase picks a service, an action and a name; three times in four
// the name is made from one of the globs that could grant it, so that
// grants are hit, not only missed.
func randomCase(r *rand.Rand, p *Policy) (string, Action, string) {
	svc, a := randomService(r), randomAction(r)
	globs := p.Globs(svc, a)
	if a == List {
		globs = append(globs, p.Globs(svc, Read)...)
	}
	if len(globs) == 0 || r.IntN(4) == 0 {
		return svc, a, randomName(r)
	}
	return svc, a, nameFor(r, globs[r.IntN(len(globs))])
}

// nameFor instantiates a glob: each wildcard becomes some text it matches,
// or now and then some it does not.
func nameFor(r *rand.Rand, glob string) string {
	var segs []string
	for _, seg := range strings.Split(glob, "/") {
		if seg == "**" {
			for range r.IntN(3) {
				segs = append(segs, randomSegment(r))
			}
			continue
		}
		var b strings.Builder
		for i := 0; i < len(seg); i++ {
			switch seg[i] {
			case '*':
				b.WriteString([]string{"", "a", "xy", "a/b"}[r.IntN(4)])
			case '?':
				b.WriteString([]string{"q", "", "qq"}[r.IntN(3)])
			default:
				b.WriteByte(seg[i])
			}
		}
		segs = append(segs, b.String())
	}
	return strings.Join(segs, "/")
}

func randomGlob(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	segs := make([]string, n)
	for i := range segs {
		if r.IntN(2) == 0 {
			segs[i] = randomSegment(r)
		} else {
			segs[i] = globSegments[r.IntN(len(globSegments))]
		}
	}
	return strings.Join(segs, "/")
}

func randomAction(r *rand.Rand) Action {
	return []Action{Read, List, Write, "delete"}[r.IntN(4)]
}

func randomService(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		return "nobody"
	}
	return services[r.IntN(len(services))]
}

// randomPolicy writes and parses a YAML policy of random grants.
func randomPolicy(t testing.TB, r *rand.Rand) *Policy {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, svc := range services {
		if r.IntN(4) == 0 {
			continue
		}
		b.WriteString("  " + svc + ":\n")
		for _, a := range []Action{Read, List, Write} {
			n := r.IntN(3)
			if n == 0 {
				continue
			}
			b.WriteString("    " + string(a) + ":\n")
			for range n {
				b.WriteString("      - " + strconvQuote(randomGlob(r)) + "\n")
			}
		}
	}
	p, err := Parse("random.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return p
}

// strconvQuote quotes s for YAML's double-quoted style (ASCII, no
// backslash, no control characters in our alphabets).
func strconvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
