package policy

import (
	"errors"
	"fmt"
	"strings"
)

// A glob matches secret names, which are '/'-separated segments.
//
//   - A literal character matches itself.
//   - '*' matches any run of characters, the empty run included, inside one
//     segment: it never crosses a '/'. "llm/*" matches "llm/openai_api_key"
//     but not "llm/eu/openai_api_key".
//   - '?' matches exactly one byte other than '/' (secret names are ASCII).
//   - "**" standing as a whole segment matches whole segments: as the last
//     segment, one or more ("llm/**" matches "llm/a" and "llm/a/b" but not
//     "llm"); elsewhere, zero or more ("db/**/password" matches "db/password"
//     and "db/eu/main/password"). A lone "**" matches every name.
//
// There are no character classes and no escapes: '[', ']', '{', '}' and '\'
// are refused in globs so that no one reads shell semantics into them.
type glob struct {
	src  string
	segs []segment
	anys int // how many "**" segments
}

type segment struct {
	lit  string // the whole segment when it has no wildcard
	kind segKind
}

type segKind uint8

const (
	segLiteral segKind = iota
	segWild            // contains '*' or '?'
	segAny             // "**"
)

var errEmptyGlob = errors.New("empty glob")

// compileGlob checks and compiles a glob.
func compileGlob(s string) (*glob, error) {
	if s == "" {
		return nil, errEmptyGlob
	}
	if strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return nil, errors.New("a glob does not start or end with '/'")
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return nil, errors.New("a glob holds no control characters")
		case strings.ContainsRune(`[]{}\`, r):
			return nil, errors.New("'" + string(r) + "' is not a glob character here: only '*', '?' and '**' are")
		}
	}
	g := &glob{src: s}
	for _, p := range strings.Split(s, "/") {
		switch {
		case p == "":
			return nil, errors.New("a glob has no empty segment ('//')")
		case p == "**":
			if n := len(g.segs); n > 0 && g.segs[n-1].kind == segAny {
				continue // "**/**" is "**", in every position
			}
			g.segs = append(g.segs, segment{kind: segAny})
			g.anys++
		case strings.Contains(p, "**"):
			return nil, errors.New("'**' must be a whole segment, as in \"llm/**\"")
		case strings.ContainsAny(p, "*?"):
			g.segs = append(g.segs, segment{kind: segWild, lit: p})
		default:
			g.segs = append(g.segs, segment{kind: segLiteral, lit: p})
		}
	}
	return g, nil
}

// literal reports whether the glob has no wildcard, so that it can be
// matched by a map lookup.
func (g *glob) literal() bool {
	for _, s := range g.segs {
		if s.kind != segLiteral {
			return false
		}
	}
	return true
}

// match reports whether name matches the glob.
func (g *glob) match(name string) bool {
	if !wellFormed(name) {
		return false // no secret has such a name
	}
	if g.anys > 1 {
		return matchMemo(g.segs, strings.Split(name, "/"))
	}
	return matchSegs(g.segs, name)
}

// matchMemo matches with a table over (glob segment, name segment), so that
// several "**" cost O(glob × name), never an exponential backtrack.
func matchMemo(segs []segment, name []string) bool {
	w := len(name) + 1
	memo := make([]int8, (len(segs)+1)*w) // 0 unknown, 1 yes, 2 no
	var m func(i, j int) bool
	m = func(i, j int) bool {
		if i == len(segs) {
			return j == len(name)
		}
		k := i*w + j
		if memo[k] != 0 {
			return memo[k] == 1
		}
		var ok bool
		switch s := segs[i]; {
		case s.kind == segAny && i == len(segs)-1:
			ok = j < len(name)
		case s.kind == segAny:
			ok = m(i+1, j) || (j < len(name) && m(i, j+1))
		case j == len(name):
			ok = false
		case s.kind == segLiteral:
			ok = name[j] == s.lit && m(i+1, j+1)
		default:
			ok = matchWild(s.lit, name[j]) && m(i+1, j+1)
		}
		memo[k] = 2
		if ok {
			memo[k] = 1
		}
		return ok
	}
	return m(0, 0)
}

func matchSegs(segs []segment, name string) bool {
	for i, s := range segs {
		if s.kind == segAny {
			rest := segs[i+1:]
			if len(rest) == 0 {
				return name != "" // trailing "**": one or more segments
			}
			// zero or more segments, then the rest
			for {
				if matchSegs(rest, name) {
					return true
				}
				j := strings.IndexByte(name, '/')
				if j < 0 {
					return false
				}
				name = name[j+1:]
			}
		}
		var seg string
		if j := strings.IndexByte(name, '/'); j >= 0 {
			seg, name = name[:j], name[j+1:]
			if i == len(segs)-1 {
				return false // name has more segments than the glob
			}
		} else {
			if i != len(segs)-1 {
				return false // glob has more segments than the name
			}
			seg, name = name, ""
		}
		if s.kind == segLiteral {
			if seg != s.lit {
				return false
			}
		} else if !matchWild(s.lit, seg) {
			return false
		}
	}
	return true
}

// matchWild matches one segment against a pattern of literals, '*' and '?',
// by the classic linear backtracking over the last star.
func matchWild(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '?':
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Glob is a compiled glob over secret names, with the policy's semantics.
type Glob struct{ g *glob }

// ParseGlob compiles a glob; the error names what is wrong.
func ParseGlob(s string) (Glob, error) {
	g, err := compileGlob(s)
	if err != nil {
		return Glob{}, fmt.Errorf("glob %q: %w", s, err)
	}
	return Glob{g}, nil
}

// Match reports whether name matches. The zero Glob matches nothing.
func (g Glob) Match(name string) bool { return g.g != nil && g.g.match(name) }

// wellFormed reports whether a name has no empty segment: not empty, no
// leading or trailing '/', no "//". Secret names are validated at write;
// this keeps the matchers defined only where names can exist.
func wellFormed(name string) bool {
	return name != "" && name[0] != '/' && name[len(name)-1] != '/' && !strings.Contains(name, "//")
}
