package scan

import (
	"bytes"
	"math"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/redact"
)

// entropy is the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// assignedValue parses, from b[i] on (just after a name), an optional
// closing quote (when the name was quoted), spaces, an assignment operator
// (=, :=, :, =>; not the comparison ==) and spaces, then the value: quoted (", ', `, or a
// JSON-escaped \") up to its closing quote, or bare up to a delimiter.
func assignedValue(b []byte, i int, nameQuoted bool) (vs, ve int, quoted bool, ok bool) {
	vs, ve, quoted, _, ok = assignment(b, i, nameQuoted)
	return
}

// assignment is assignedValue that also reports whether the operator was a
// bare colon (YAML, JSON, headers, and prose such as "secret: see below").
func assignment(b []byte, i int, nameQuoted bool) (vs, ve int, quoted, colon bool, ok bool) {
	n := len(b)
	if nameQuoted && i < n && (b[i] == '"' || b[i] == '\'') {
		i++
	} else if i+1 < n && b[i] == '\\' && b[i+1] == '"' {
		i += 2
	}
	for i < n && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i >= n {
		return
	}
	switch {
	case b[i] == '=':
		i++
		if i < n && b[i] == '=' {
			return // a comparison, not an assignment
		}
		if i < n && b[i] == '>' {
			i++
		}
	case b[i] == ':':
		i++
		colon = true
		if i < n && b[i] == '=' {
			i++
			colon = false
		}
	default:
		return
	}
	for i < n && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i >= n {
		return
	}
	var q []byte
	switch {
	case b[i] == '"' || b[i] == '\'' || b[i] == '`':
		q = b[i : i+1]
	case b[i] == '\\' && i+1 < n && b[i+1] == '"':
		q = b[i : i+2]
	}
	if q != nil {
		vs = i + len(q)
		lim := min(n, vs+512)
		for j := vs; j < lim; j++ {
			if b[j] == '\n' {
				return
			}
			if bytes.HasPrefix(b[j:], q) {
				return vs, j, true, colon, true
			}
			if len(q) == 1 && b[j] == '\\' {
				j++
			}
		}
		return
	}
	vs = i
	j := i
	lim := min(n, vs+512)
	for j < lim && !bareEnd(b[j]) {
		j++
	}
	if j == lim && lim < n && !bareEnd(b[j]) {
		return // too long to be a value
	}
	// Trailing separators and unbalanced closing brackets end a bare value
	// in code and structured text: f(password=x), {key: v}, a=b;c=d.
	for j > vs {
		c := b[j-1]
		if c == ',' || c == ';' || c == '.' {
			j--
			continue
		}
		if open := opening(c); open != 0 && bytes.Count(b[vs:j], []byte{open}) < bytes.Count(b[vs:j], []byte{c}) {
			j--
			continue
		}
		break
	}
	return vs, j, false, colon, j > vs
}

func bareEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '&', ';', '"', '\'', '`', '<', '>', '|', '\\':
		return true
	}
	return false
}

// stopWords in a value mark it as a placeholder or an example.
var stopWords = []string{
	"****", "xxxx", "redacted", "changeme", "change_me", "change-me", "example", "placeholder", "dummy",
	"your_", "your-", "yourpass", "<", "${", "$(", "{{", "%(", "process.env", "os.environ",
	"getenv", "env(", "secretkeyref", "notasecret", "not_a_secret", "fake", "sample", "insert", "replace",
}

// placeholder returns why v is a placeholder rather than a secret, or "".
func placeholder(v []byte, quoted bool) string {
	if len(v) == 0 {
		return "empty value"
	}
	lv := strings.ToLower(string(v))
	for _, w := range stopWords {
		if strings.Contains(lv, w) {
			return "placeholder or example (" + w + ")"
		}
	}
	if v[0] == '$' || v[0] == '%' {
		return "variable reference"
	}
	if formatVerb(v) {
		return "a format string"
	}
	switch lv {
	case "password", "secret", "token", "null", "none", "nil", "undefined", "true", "false", "required", "optional", "string":
		return "placeholder word"
	}
	same := true
	for _, c := range v {
		if c != v[0] {
			same = false
			break
		}
	}
	if same {
		return "one repeated character"
	}
	return ""
}

func isUUID(v []byte) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func allHex(v []byte) bool {
	for _, c := range v {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// charClasses counts which of lower, upper, digit and other v uses.
func charClasses(v []byte) int {
	var l, u, d, o int
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z':
			l = 1
		case 'A' <= c && c <= 'Z':
			u = 1
		case '0' <= c && c <= '9':
			d = 1
		default:
			o = 1
		}
	}
	return l + u + d + o
}

type nameStrength int

const (
	nameNone   nameStrength = iota
	nameWeak                // "key", "auth": often not a credential
	nameStrong              // password, secret, token, api key, private key, ...
)

// classifyName tells whether an identifier names a secret. It mirrors
// redact.SensitiveKey, with a split between strong and weak names.
func classifyName(name []byte) (nameStrength, string) {
	words := redact.SplitWords(string(name))
	if len(words) == 0 {
		return nameNone, "no name"
	}
	last := words[len(words)-1]
	if len(words) > 1 && metaWords[last] {
		return nameNone, "names metadata about a secret (" + last + ")"
	}
	best := nameNone
	for i, w := range words {
		switch {
		case strings.Contains(w, "password") || strings.Contains(w, "passwd") || w == "pwd" || w == "pass" ||
			strings.Contains(w, "passphrase") || strings.Contains(w, "secret") || strings.Contains(w, "credential") ||
			w == "creds" || w == "apikey" || strings.HasSuffix(w, "token") || w == "privatekey" || w == "accesskey" ||
			w == "authorization" || w == "bearer":
			best = nameStrong
		case w == "key" || w == "keys" || w == "auth":
			if i > 0 && lookupQualifiers[words[i-1]] {
				return nameNone, "a lookup key (" + words[i-1] + "_" + w + "), not a credential"
			}
			if i > 0 && strongKeyQualifiers[words[i-1]] {
				best = nameStrong
			} else if best < nameWeak {
				best = nameWeak
			}
		}
	}
	if best == nameNone {
		return nameNone, "not a secret name"
	}
	return best, ""
}

var strongKeyQualifiers = set("api", "private", "access", "secret", "signing", "encryption", "master", "client",
	"fernet", "app", "service", "account", "auth", "license", "session", "hmac", "crypto", "aes", "jwt", "webhook")

var metaWords = set("id", "ids", "name", "names", "type", "types", "kind", "count", "len", "length", "size", "ttl",
	"expiry", "expires", "expiration", "at", "version", "versions", "ver", "alg", "algorithm", "path", "file",
	"env", "var", "ref", "required", "enabled", "set", "present", "source", "provider", "age", "fingerprint",
	"kid", "label", "rotation", "policy", "hint", "status", "usage", "limit", "budget", "field", "fields",
	"schema", "tokens", "url", "uri", "endpoint", "method", "mode", "scheme", "strength", "created",
	"updated", "rotated", "prefix", "format", "exists", "valid", "error", "err", "ok", "hash", "hashed", "digest",
	"sha", "sha256", "checksum", "bucket", "dir", "file", "filename", "template", "manager", "store", "service",
	"location", "index", "count", "number", "num", "min", "max", "timeout", "interval", "header", "headers",
	"class", "cls", "fn", "func", "callback", "handler", "obj", "object", "struct", "field", "param", "arg",
	"attr", "prop", "option", "opts", "config", "cfg", "def", "spec", "list", "map", "len", "bytes", "bits",
	"pattern", "regex", "re", "regexp", "mask", "masked", "redacted", "length", "store", "vault", "cache",
	"col", "cols", "column", "columns", "sql", "stmt", "table")

var lookupQualifiers = set("idempotency", "cache", "partition", "sort", "primary", "foreign", "public", "pub",
	"object", "routing", "dedup", "dedupe", "lookup", "map", "row", "shard", "hash", "index", "cursor", "group",
	"message", "msg", "s3", "bucket", "redis", "kafka", "event", "request", "trace", "span", "unique", "natural",
	"composite", "sharding", "file", "config", "setting", "settings", "translation", "i18n", "hot", "short",
	"storage", "upload", "blob", "query", "sig", "ssh", "host", "gpg", "pgp", "dict", "json", "yaml", "env", "sa01")

func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

func isNameChar(c byte) bool { return isTokenChar(c) || c == '.' }

// matchGeneric finds name = value where the name names a secret and the
// value is a literal that looks like one: the policy's
// `(password|secret|key|token)\s*=\s*['"]` check, with the false positives
// filtered out.
func matchGeneric(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string), names nameCache, code, explain bool) {
	// The keyword must end the name: "key" in "keyboard" or "monkey_patch"
	// is not, and a name with two keywords (secret_key) is parsed once, at
	// the keyword that ends it.
	// Both walks are bounded, so that a long run of name characters full
	// of keywords costs a constant per hit, not the length of the run.
	ns := ks
	for ns > 0 && ke-ns <= 64 && isNameChar(b[ns-1]) {
		ns--
	}
	ne := ke
	for ne < len(b) && ne-ke <= 24 && isNameChar(b[ne]) {
		ne++
	}
	countWork(ne - ns)
	if ne-ke > 24 || ne-ns > 64 || (ns > 0 && isNameChar(b[ns-1])) {
		return
	}
	// Only the keyword hit closest to the end of the name parses it.
	if ne > ke {
		for _, kw := range genericKeywords {
			if indexFold(b[ke:ne], kw) >= 0 {
				return
			}
		}
	}
	name := b[ns:ne]
	if i := bytes.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // config.password -> password
	}
	// The name decides first: most names that end in a keyword in logs
	// (max_tokens, idempotency_key) are not secrets, and their values need
	// parsing only to say where the dropped candidate was.
	strength, why := names.classify(name)
	if strength == nameNone && !explain {
		return
	}
	quoted := ns > 0 && (b[ns-1] == '"' || b[ns-1] == '\'')
	vs, ve, vquoted, colon, ok := assignment(b, ne, quoted)
	if !ok {
		return
	}
	if string(name) == "PASS" || string(name) == "FAIL" {
		return // test output: --- PASS: TestX
	}
	if strength == nameNone {
		drop(vs, ve, why)
		return
	}
	v := b[vs:ve]
	// Authorization: Bearer xyz / Basic xyz.
	for _, p := range []string{"Bearer ", "bearer ", "Basic ", "basic ", "Token ", "token "} {
		if bytes.HasPrefix(v, []byte(p)) {
			vs += len(p)
			v = b[vs:ve]
			break
		}
	}
	if r := genericReject(name, v, vquoted, strength); r != "" {
		drop(vs, ve, r)
		return
	}
	if r := proseReject(b, v, ve, vquoted, colon); r != "" {
		drop(vs, ve, r)
		return
	}
	if !vquoted && code {
		drop(vs, ve, "an unquoted value in source code: an expression, not a literal")
		return
	}
	if !vquoted && codeAssignment(b, ne, vs) {
		drop(vs, ve, "an unquoted expression in code (a literal would be quoted)")
		return
	}
	emit(vs, ve)
}

var genericKeywords = []string{"pass", "pwd", "secret", "token", "key", "auth", "credential", "cred"}

// genericReject says why value v assigned to name is not a secret, or "".
func genericReject(name, v []byte, quoted bool, strength nameStrength) string {
	if len(v) < MinKnownLength {
		return "shorter than 8 bytes"
	}
	if r := placeholder(v, quoted); r != "" {
		return r
	}
	if bytes.Equal(bytes.ToLower(v), bytes.ToLower(name)) {
		return "value repeats the name"
	}
	if isSnakeIdentifier(v) {
		return "an identifier or variable name"
	}
	if isUUID(v) {
		return "a UUID"
	}
	if bytes.HasPrefix(v, []byte("gAAAAA")) && len(v) >= 100 {
		return "a Fernet token (ciphertext), not a key"
	}
	if allHex(v) && strength == nameWeak {
		return "hex digest or identifier under a weak name"
	}
	if (len(v) == 40 || len(v) == 64 || len(v) == 128) && allHex(v) && !quoted {
		return "a SHA digest"
	}
	if !quoted {
		if isCallOrIndex(v) {
			return "an expression"
		}
		if charClasses(v) < 2 {
			return "bare value with one character class"
		}
		if looksLikeIdentifierPath(v) {
			return "an identifier"
		}
	} else if bytes.ContainsAny(v, " \t") && strength == nameWeak {
		return "text, not a key"
	}
	min := 3.0
	if strength == nameWeak {
		min = 3.5
	}
	if e := entropy(v); e < min {
		return "low entropy"
	}
	return ""
}

// looksLikeIdentifierPath is true for a.b.c, self.token, req.Header and the
// like: letters, digits and underscores joined by dots.
func looksLikeIdentifierPath(v []byte) bool {
	if bytes.IndexByte(v, '.') < 0 {
		return false
	}
	for _, c := range v {
		if !(isAlnum(c) || c == '_' || c == '.') {
			return false
		}
	}
	return !('0' <= v[0] && v[0] <= '9')
}

// indexFold is bytes.Index ignoring ASCII case; sub must be lowercase.
func indexFold(s []byte, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if lowerByte(s[i]) != sub[0] {
			continue
		}
		k := 1
		for k < n && lowerByte(s[i+k]) == sub[k] {
			k++
		}
		if k == n {
			return i
		}
	}
	return -1
}

// proseReject drops "secret: see below" and the like: a bare value after
// a colon must mix letters and digits, like a credential, not a word.
func proseReject(b, v []byte, ve int, quoted, colon bool) string {
	if quoted || !colon {
		return ""
	}
	letters, digits := false, false
	for _, c := range v {
		if '0' <= c && c <= '9' {
			digits = true
		} else if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			letters = true
		}
	}
	if !letters || !digits {
		return "a word after a colon, not a credential"
	}
	return ""
}

// isSnakeIdentifier is true for OPENAI_API_KEY, access_token_value,
// encryption-key and the like: letters joined by underscores or hyphens
// (digits only in an all-caps name).
func isSnakeIdentifier(v []byte) bool {
	if bytes.IndexByte(v, '_') < 0 && bytes.IndexByte(v, '-') < 0 {
		return false
	}
	if bytes.IndexByte(v, '_') < 0 && (v[0] == '-' || v[len(v)-1] == '-') {
		return false
	}
	upper, lower, digit := false, false, false
	for _, c := range v {
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		case c == '_' || c == '-':
		default:
			return false
		}
	}
	return !(upper && lower) && !(lower && digit)
}

// isCallOrIndex is true for f(x), obj.get(k), m[k] and the like: an
// identifier path followed by ( or [, ending with ) or ].
func isCallOrIndex(v []byte) bool {
	i := 0
	for i < len(v) && (isAlnum(v[i]) || v[i] == '_' || v[i] == '.') {
		i++
	}
	last := v[len(v)-1]
	return i > 0 && i < len(v) && (v[i] == '(' || v[i] == '[') && (last == ')' || last == ']') && !('0' <= v[0] && v[0] <= '9')
}

func opening(c byte) byte {
	switch c {
	case ')':
		return '('
	case ']':
		return '['
	case '}':
		return '{'
	}
	return 0
}

// nameCache memoises classifyName within one buffer, where the same field
// names repeat on every line.
type nameCache map[string]nameClass

type nameClass struct {
	strength nameStrength
	why      string
}

func (c nameCache) classify(name []byte) (nameStrength, string) {
	if v, ok := c[string(name)]; ok {
		return v.strength, v.why
	}
	st, why := classifyName(name)
	if len(c) < 4096 {
		c[string(name)] = nameClass{st, why}
	}
	return st, why
}

// assignmentFollows is a cheap test that, after a keyword ending at ke, an
// identifier tail, an optional quote and spaces lead to = or :.
func assignmentFollows(b []byte, ke int) bool {
	i := ke
	for i < len(b) && i-ke < 32 && (isNameChar(b[i])) {
		i++
	}
	if i < len(b) && (b[i] == '"' || b[i] == '\'') {
		i++
	} else if i+1 < len(b) && b[i] == '\\' && b[i+1] == '"' {
		i += 2
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i < len(b) && (b[i] == '=' || b[i] == ':')
}

// codeAssignment reports whether the operator between the name (ending at
// ne) and the value (at vs) is written as code writes it: ":=", or "="
// with a space before it, where the value then starts like an expression
// (&x, *p, []T{...}, f(...), a.b) rather than a bare INI value.
func codeAssignment(b []byte, ne, vs int) bool {
	op := bytes.TrimSpace(b[ne:vs])
	op = bytes.TrimLeft(op, `"'\`)
	op = bytes.TrimSpace(op)
	if bytes.Equal(op, []byte(":=")) {
		return true
	}
	if !bytes.HasPrefix(op, []byte("=")) || ne >= len(b) {
		return false
	}
	spaced := false
	for i := ne; i < vs; i++ {
		if b[i] == '=' {
			spaced = i > 0 && (b[i-1] == ' ' || b[i-1] == '\t')
			break
		}
	}
	if !spaced {
		return false
	}
	v := b[vs:]
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '&', '*', '[', '{', '(', '!', '-':
		return true
	}
	i := 0
	for i < len(v) && (isAlnum(v[i]) || v[i] == '_' || v[i] == '.') {
		i++
	}
	return i < len(v) && (v[i] == '(' || v[i] == '[' || v[i] == '{')
}

// formatVerb reports whether v holds a printf verb such as %s or %v (not
// followed by a letter or digit, so the password "x%VSb6" is not one).
func formatVerb(v []byte) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '%' && bytes.IndexByte([]byte("sdvqx"), v[i+1]) >= 0 && (i+2 == len(v) || !isAlnum(v[i+2])) {
			return true
		}
	}
	return false
}
