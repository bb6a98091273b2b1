package scan

import (
	"bytes"
	"sort"
)

// AllowMarker on a line silences every finding on it.
const AllowMarker = "sa01-secrets:allow"

// Scanner finds secrets in buffers. It is safe for concurrent use.
type Scanner struct {
	rules   []*Rule
	dfa     *keywordDFA
	kwRules [][]int
	known   *KnownSet
	fp      *FingerprintKey // nil: findings carry no fingerprint
}

// New returns a scanner with the default rules and the known values in k
// (nil: rules only).
func New(k *KnownSet) *Scanner {
	return newScanner(DefaultRules(), k)
}

func newScanner(rules []*Rule, k *KnownSet) *Scanner {
	s := &Scanner{rules: rules, known: k}
	idx := map[string]int{}
	var kws []string
	for ri, r := range rules {
		for _, kw := range r.Keywords {
			if len(kw) < 3 {
				panic("scan: keyword shorter than three bytes: " + kw)
			}
			i, ok := idx[kw]
			if !ok {
				i = len(kws)
				idx[kw] = i
				kws = append(kws, kw)
				s.kwRules = append(s.kwRules, nil)
			}
			s.kwRules[i] = append(s.kwRules[i], ri)
		}
	}
	s.dfa = newKeywordDFA(kws)
	return s
}

// Rules lists the rules' IDs and descriptions, in priority order.
func (s *Scanner) Rules() [][2]string {
	out := [][2]string{{RuleKnown, "a managed secret's current or past value, raw or encoded"}}
	for _, r := range s.rules {
		out = append(out, [2]string{r.ID, r.Description})
	}
	return append(out, [2]string{RuleFernet, "Fernet key (32 bytes, URL-safe base64)"})
}

// Known returns the scanner's known values (nil when it has none).
func (s *Scanner) Known() *KnownSet { return s.known }

// Match is a secret found in a buffer: b[Start:End] is the secret.
type Match struct {
	Rule        string
	Description string
	Start, End  int
	// Known values only.
	Name    string
	Version int
	Form    string

	prio int
}

// Drop is a candidate that was not reported, and why.
type Drop struct {
	Rule       string
	Start, End int
	Reason     string
}

const (
	prioKnown  = -1
	prioFernet = 1000
)

// Find returns the secrets in b, sorted by position and not overlapping:
// where candidates overlap, a known value beats every rule, and an earlier
// rule beats a later one. Lines that carry [AllowMarker] report nothing.
// When explain is not nil it receives every candidate that was dropped.
func (s *Scanner) Find(b []byte, explain func(Drop)) []Match {
	return s.find(b, false, true, false, explain)
}

// find is Find; code marks source code (see [Unit]); allow says whether
// [AllowMarker] silences its line (the masker ignores it: a line of a log
// must not be able to let a secret through by carrying the marker). With
// union, overlapping candidates are merged instead of one winning: what
// the masker hides is every byte any candidate covers.
func (s *Scanner) find(b []byte, code, allow, union bool, explain func(Drop)) []Match {
	var cands []Match
	s.known.find(b, func(m knownMatch) {
		cands = append(cands, Match{Rule: RuleKnown, Description: "managed secret " + m.form.name + " (" + m.form.form + ")",
			Start: m.start, End: m.end, Name: m.form.name, Version: m.form.version, Form: m.form.form, prio: prioKnown})
	})
	cur := 0
	var dropped []Drop
	emit := func(start, end int) {
		r := s.rules[cur]
		if r.check != nil {
			if why := r.check(b[start:end], b, start); why != "" {
				if explain != nil {
					dropped = append(dropped, Drop{Rule: r.ID, Start: start, End: end, Reason: why})
				}
				return
			}
		}
		cands = append(cands, Match{Rule: r.ID, Description: r.Description, Start: start, End: end, prio: cur})
	}
	drop := func(start, end int, why string) {
		if explain != nil {
			dropped = append(dropped, Drop{Rule: s.rules[cur].ID, Start: start, End: end, Reason: why})
		}
	}
	lastWindow := make([]int, len(s.rules))
	for i := range lastWindow {
		lastWindow[i] = -1
	}
	names := nameCaches.Get().(*nameCache)
	names.lastEnd = -1
	defer nameCaches.Put(names)
	s.dfa.find(b, func(end, kw int) {
		ks := end - len(s.dfa.keywords[kw])
		for _, ri := range s.kwRules[kw] {
			cur = ri
			r := s.rules[ri]
			if r.generic {
				matchGeneric(b, ks, end, emit, drop, names, code, explain != nil)
				continue
			}
			if r.match != nil {
				r.match(b, ks, end, emit, drop)
				continue
			}
			if end <= lastWindow[ri] || (r.assign && !assignmentFollows(b, end)) {
				continue
			}
			ws := max(0, ks-regexWindow)
			if nl := bytes.LastIndexByte(b[ws:ks], '\n'); nl >= 0 {
				ws += nl + 1
			}
			we := min(len(b), end+regexWindow)
			if nl := bytes.IndexByte(b[end:we], '\n'); nl >= 0 {
				we = end + nl
			}
			lastWindow[ri] = we
			countWork(we - ws)
			for _, loc := range r.re.FindAllSubmatchIndex(b[ws:we], -1) {
				ms, me := loc[2*r.group], loc[2*r.group+1]
				if ms < 0 {
					continue
				}
				emit(ws+ms, ws+me)
			}
		}
	})
	findFernet(b, func(start, end int) {
		cands = append(cands, Match{Rule: RuleFernet, Description: "Fernet key", Start: start, End: end, prio: prioFernet})
	}, func(start, end int, why string) {
		if explain != nil {
			dropped = append(dropped, Drop{Rule: RuleFernet, Start: start, End: end, Reason: why})
		}
	})
	if len(cands) == 0 {
		for _, d := range dropped {
			explain(d)
		}
		return nil
	}
	// Inline allow markers: drop candidates on a line that carries one.
	// Only the lines that hold a candidate are looked at, each once.
	kept := cands
	if allow {
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].Start < cands[j].Start })
		kept = cands[:0]
		ls, le, silenced := -1, -1, false
		for _, c := range cands {
			if ls < 0 || c.Start > le {
				ls, le = lineBounds(b, c.Start)
				silenced = bytes.Contains(b[ls:le], []byte(AllowMarker))
			}
			if silenced {
				if explain != nil {
					dropped = append(dropped, Drop{Rule: c.Rule, Start: c.Start, End: c.End, Reason: "line carries " + AllowMarker})
				}
				continue
			}
			kept = append(kept, c)
		}
	}
	if union {
		sort.Slice(kept, func(i, j int) bool { return kept[i].Start < kept[j].Start })
		out := kept[:0]
		for _, c := range kept {
			if n := len(out); n > 0 && c.Start <= out[n-1].End {
				out[n-1].End = max(out[n-1].End, c.End)
				continue
			}
			out = append(out, c)
		}
		return out
	}
	// Overlaps: sweep by position; of two overlapping candidates the one
	// with the better priority (then the longer) stays.
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].Start != kept[j].Start {
			return kept[i].Start < kept[j].Start
		}
		if kept[i].prio != kept[j].prio {
			return kept[i].prio < kept[j].prio
		}
		return kept[i].End > kept[j].End
	})
	out := make([]Match, 0, len(kept))
	overlapDrop := func(loser, winner Match) {
		if explain != nil && loser.Rule != winner.Rule {
			dropped = append(dropped, Drop{Rule: loser.Rule, Start: loser.Start, End: loser.End, Reason: "overlaps a " + winner.Rule + " finding"})
		}
	}
	for _, c := range kept {
		win := true
		for len(out) > 0 && c.Start < out[len(out)-1].End {
			last := out[len(out)-1]
			if c.prio < last.prio {
				overlapDrop(last, c)
				out = out[:len(out)-1]
				continue
			}
			overlapDrop(c, last)
			win = false
			break
		}
		if win {
			out = append(out, c)
		}
	}
	if explain != nil {
		for _, d := range dropped {
			explain(d)
		}
	}
	return out
}

// findFernet finds Fernet keys: 43 URL-safe base64 characters and '=',
// standing alone, decoding to 32 bytes (the last character carries two
// bits, so it is one of AEIMQUYcgkosw048), with the entropy of random bytes.
func findFernet(b []byte, emit func(int, int), drop func(int, int, string)) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '=')
		if j < 0 {
			return
		}
		p := i + j
		i = p + 1
		if p < 43 || (p+1 < len(b) && (isTokenChar(b[p+1]) || b[p+1] == '=' || b[p+1] == '+' || b[p+1] == '/')) {
			continue
		}
		s := p - 43
		if !isTokenChar(b[p-1]) || !isTokenChar(b[s]) {
			continue
		}
		if s > 0 && (isTokenChar(b[s-1]) || b[s-1] == '+' || b[s-1] == '/') {
			continue
		}
		ok := true
		for _, c := range b[s:p] {
			if !isTokenChar(c) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if !bytes.ContainsRune([]byte("AEIMQUYcgkosw048"), rune(b[p-1])) {
			continue
		}
		if entropy(b[s:p]) < 4.2 {
			drop(s, p+1, "low entropy for a Fernet key")
			continue
		}
		ctx := b[max(0, s-24):s]
		for _, w := range []string{"sha", "h1:", "digest", "hash", "integrity", "checksum", "etag", "nonce", "salt", "md5", "sum"} {
			if indexFold(ctx, w) >= 0 {
				drop(s, p+1, "a base64 digest ("+w+"), not a key")
				ok = false
				break
			}
		}
		// A versioned hash: go.sum's h1:, h2:, r1: ...
		if ok && s >= 3 && b[s-1] == ':' && '0' <= b[s-2] && b[s-2] <= '9' && 'a' <= b[s-3] && b[s-3] <= 'z' && (s == 3 || !isAlnum(b[s-4])) {
			drop(s, p+1, "a versioned hash ("+string(b[s-3:s])+"), not a key")
			ok = false
		}
		// The last line of a base64 block (a PEM certificate's body): the
		// line before it is as long as such lines are and base64 too.
		if ok && (s == 0 || b[s-1] == '\n') && (p+1 == len(b) || b[p+1] == '\n' || b[p+1] == '\r') && s > 0 && base64Line(b[:s-1]) {
			drop(s, p+1, "the end of a base64 block (a PEM body), not a key")
			ok = false
		}
		// A field of a password hash: pbkdf2_sha256$600000$salt$<hash>,
		// SCRAM-SHA-256$4096:<salt>$<stored key>:<server key>.
		if ok && s > 0 && (b[s-1] == '$' || b[s-1] == ':') {
			ls := max(0, s-160)
			if nl := bytes.LastIndexByte(b[ls:s], '\n'); nl >= 0 {
				ls += nl + 1
			}
			if b[s-1] == '$' || indexFold(b[ls:s], "scram-sha") >= 0 {
				drop(s, p+1, "a field of a password hash, not a key")
				ok = false
			}
		}
		if ok {
			emit(s, p+1)
		}
	}
}

// base64Line reports whether the last line of b is a line of a base64
// block: 60 to 76 characters of standard base64.
func base64Line(b []byte) bool {
	ls := bytes.LastIndexByte(b, '\n') + 1
	line := bytes.TrimRight(b[ls:], "\r")
	if len(line) < 60 || len(line) > 76 {
		return false
	}
	for _, c := range line {
		if !(isAlnum(c) || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
