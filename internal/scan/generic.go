package scan

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/somaagent01/sa01-secrets/internal/redact"
)

// The generic assignment rule weighs two kinds of evidence: what the name
// says (a password, a secret or token, a bare "key", or metadata such as
// key_id, credential_scope, page_token) and what the value looks like
// (random, password-like, or one of the shapes identifiers take: a:b:c
// keys, paths and scopes, dates, versions, UUIDs, digests, URLs without
// credentials, enum words, hashes of passwords). A strong name lets a
// short or plain value through; a weak name needs a value that looks
// generated. Every candidate dropped says why (--explain).

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
	a, ok := assignment(b, i, nameQuoted, 0)
	return a.vs, a.ve, a.quoted, ok
}

// parsedValue is an assignment's value and how it was written.
type parsedValue struct {
	vs, ve int
	quoted bool
	colon  bool // the operator was a bare colon (YAML, JSON, headers, prose)
	scheme bool // an HTTP auth scheme (Bearer, Basic, Token) came first
}

// assignment parses an assignment from b[i] on (see assignedValue). sep is
// the byte that separated the name from what came before it ('?' or '&'
// in a query string, ';' in a connection string, 0 otherwise): a bare
// value then ends at the same separator, and only then.
func assignment(b []byte, i int, nameQuoted bool, sep byte) (a parsedValue, ok bool) {
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
		a.colon = true
		if i < n && b[i] == '=' {
			i++
			a.colon = false
		}
	default:
		return
	}
	for i < n && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	// Authorization: Bearer xyz / Basic xyz / token xyz.
	if j := authScheme(b[i:]); j > 0 {
		i += j
		a.scheme = true
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
		a.vs = i + len(q)
		if j := authScheme(b[a.vs:]); j > 0 {
			a.vs += j
			a.scheme = true
		}
		lim := min(n, a.vs+512)
		for j := a.vs; j < lim; j++ {
			if b[j] == '\n' {
				return
			}
			if bytes.HasPrefix(b[j:], q) {
				a.ve, a.quoted = j, true
				return a, true
			}
			if len(q) == 1 && b[j] == '\\' {
				j++
			}
		}
		return
	}
	a.vs = i
	j := i
	lim := min(n, a.vs+512)
	for j < lim && !bareEnd(b[j], sep) {
		j++
	}
	if j == lim && lim < n && !bareEnd(b[j], sep) {
		return // too long to be a value
	}
	// Trailing separators and unbalanced closing brackets end a bare value
	// in code and structured text: f(password=x), {key: v}, a=b;c=d,
	// "password=x." at the end of a sentence.
	for j > a.vs {
		c := b[j-1]
		if (c == ',' || c == ';' || c == '.' || c == ':') && (j == n || isSpace(b[j]) || c == ',' || c == ';') {
			j--
			continue
		}
		if open := opening(c); open != 0 && bytes.Count(b[a.vs:j], []byte{open}) < bytes.Count(b[a.vs:j], []byte{c}) {
			j--
			continue
		}
		break
	}
	a.ve = j
	return a, j > a.vs
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// authScheme returns the length of "Bearer ", "Basic " or "Token " (any
// case) at the start of b, or 0.
func authScheme(b []byte) int {
	if len(b) == 0 || (lowerByte(b[0]) != 'b' && lowerByte(b[0]) != 't') {
		return 0
	}
	for _, s := range []string{"bearer", "basic", "token"} {
		if len(b) > len(s)+1 && indexFold(b[:len(s)], s) == 0 && b[len(s)] == ' ' {
			j := len(s)
			for j < len(b) && b[j] == ' ' {
				j++
			}
			return j
		}
	}
	return 0
}

// bareEnd ends a bare value. '&' and ';' end it only where they also
// separated it from what came before (a query string, a connection
// string): in an env dump or logfmt they belong to the value
// (SMTP_PASSWORD=baN3SH*rNr&1w).
func bareEnd(c, sep byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '<', '>', '|', '\\':
		return true
	case '&':
		return sep == '&' || sep == '?'
	case ';':
		return sep == ';'
	}
	return false
}

// stopWords in a value mark it as a placeholder or an example.
var stopWords = []string{
	"****", "xxxx", "redacted", "changeme", "change_me", "change-me", "example", "placeholder", "dummy",
	"your_", "your-", "yourpass", "<", "${", "$(", "{{", "%(", "process.env", "os.environ",
	"getenv", "env(", "secretkeyref", "notasecret", "not_a_secret", "fake", "sample", "insert", "replace",
	"[masked]", "[filtered]", "[hidden]", "sensitive data", "(hidden)", "(sensitive)",
}

// stopDFA finds the stop words in one pass, ignoring case.
var stopDFA = newKeywordDFA(stopWords)

// stopReasons are the drop reasons for the stop words.
var stopReasons = func() []string {
	r := make([]string, len(stopWords))
	for i, w := range stopWords {
		r[i] = "placeholder or example (" + w + ")"
	}
	return r
}()

// placeholder returns why v is a placeholder rather than a secret, or "".
func placeholder(v []byte, quoted bool) string {
	if len(v) == 0 {
		return "empty value"
	}
	stop := -1
	stopDFA.walk(v, 0, func(_, kw int) {
		if stop < 0 {
			stop = kw
		}
	})
	if stop >= 0 {
		return stopReasons[stop]
	}
	if v[0] == '$' && len(v) > 1 && (isAlnum(v[1]) || v[1] == '_' || v[1] == '{') && !bytes.ContainsAny(v[1:], "$!@#%^&*") {
		return "variable reference"
	}
	if v[0] == '%' && v[len(v)-1] == '%' && len(v) > 2 && isSnakeIdentifier(v[1:len(v)-1]) {
		return "variable reference"
	}
	if formatString(v) {
		return "a format string"
	}
	if (v[0] == '[' && v[len(v)-1] == ']' || v[0] == '(' && v[len(v)-1] == ')') && !bytes.ContainsAny(v[1:len(v)-1], "[]()") {
		return "a bracketed marker, not a value"
	}
	var lb [16]byte
	lv := lb[:0]
	if len(v) <= len(lb) {
		for _, c := range v {
			lv = append(lv, lowerByte(c))
		}
	}
	switch string(lv) {
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

// isULID reports whether v is a ULID as written canonically: 26 characters
// of Crockford's base32 in upper case (no I, L, O or U), the first at most 7
// (48 bits of time).
func isULID(v []byte) bool {
	if len(v) != 26 || v[0] < '0' || v[0] > '7' {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return false
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

// nameClass is what a name says about its value.
type nameClass int

const (
	nameNone     nameClass = iota
	nameWeak               // "key", "auth": often not a credential
	nameToken              // ..._token: often a credential, sometimes a handle
	nameSecret             // secret, api key, private key, credential, authorization, ...
	namePassword           // password, passwd, pwd, pass, passphrase
)

// nameStrong is the class the SA01_* and other unambiguous names get.
const nameStrong = nameSecret

// classifyName tells what an identifier says about its value, and when it
// says it is not a secret, why.
func classifyName(name []byte) (nameClass, string) {
	words := redact.SplitWords(string(name))
	if len(words) == 0 {
		return nameNone, "no name"
	}
	last := words[len(words)-1]
	if len(words) > 1 && metaWords[last] {
		return nameNone, "names metadata about a secret (" + last + ")"
	}
	// The last word that names a secret is the head of the name and
	// decides (secret_cache_key is a cache key; sa01_auth_internal_token
	// is a token); the word before it may qualify it.
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		var c nameClass
		switch {
		case strings.Contains(w, "password") || strings.Contains(w, "passwd") || w == "pwd" || w == "pass" ||
			strings.Contains(w, "passphrase") || w == "passcode":
			c = namePassword
		case strings.Contains(w, "secret") || strings.Contains(w, "credential") || w == "creds" || w == "apikey" ||
			w == "privatekey" || w == "accesskey" || w == "authorization" || w == "bearer" || w == "authtoken":
			c = nameSecret
		case strings.HasSuffix(w, "token"):
			if i > 0 && lookupTokenQualifiers[words[i-1]] {
				return nameNone, "a " + words[i-1] + " token: a handle, not a credential"
			}
			c = nameToken
		case w == "key" || w == "keys" || w == "auth":
			if i > 0 && lookupQualifiers[words[i-1]] {
				return nameNone, "a lookup key (" + words[i-1] + "_" + w + "), not a credential"
			}
			c = nameWeak
			if i > 0 && strongKeyQualifiers[words[i-1]] {
				c = nameSecret
			}
		}
		if c != nameNone {
			return c, ""
		}
	}
	return nameNone, "not a secret name"
}

var strongKeyQualifiers = set("api", "private", "access", "secret", "signing", "encryption", "master", "client",
	"fernet", "app", "service", "account", "auth", "license", "session", "hmac", "crypto", "aes", "jwt", "webhook",
	"storage", "subscription", "admin", "deploy", "root",
	// A provider's key is a credential: OPENAI_KEY, AZURE_OPENAI_KEY, STRIPE_KEY.
	"openai", "anthropic", "azure", "google", "gemini", "groq", "mistral", "cohere", "together", "xai", "deepseek",
	"openrouter", "stripe", "github", "gitlab", "slack", "aws", "gcp", "hf", "huggingface", "sendgrid", "twilio",
	"datadog", "sentry", "mailgun", "resend", "pinecone", "replicate", "perplexity")

var metaWords = set("id", "ids", "name", "names", "type", "types", "kind", "count", "len", "length", "size", "ttl",
	"expiry", "expires", "expiration", "at", "version", "versions", "ver", "alg", "algorithm", "path", "file",
	"env", "var", "ref", "required", "enabled", "set", "present", "source", "provider", "age", "fingerprint",
	"kid", "label", "rotation", "policy", "hint", "status", "usage", "limit", "budget", "field", "fields",
	"schema", "tokens", "url", "uri", "endpoint", "method", "mode", "scheme", "strength", "created",
	"updated", "rotated", "prefix", "format", "exists", "valid", "error", "err", "ok", "hash", "hashed", "digest",
	"sha", "sha256", "checksum", "bucket", "dir", "file", "filename", "template", "manager", "store", "service",
	"location", "index", "number", "num", "min", "max", "timeout", "interval", "header", "headers",
	"class", "cls", "fn", "func", "callback", "handler", "obj", "object", "struct", "param", "arg",
	"attr", "prop", "option", "opts", "config", "cfg", "def", "spec", "list", "map", "bytes", "bits",
	"pattern", "regex", "re", "regexp", "mask", "masked", "redacted", "vault", "cache",
	"col", "cols", "column", "columns", "sql", "stmt", "table",
	"scope", "scopes", "region", "date", "user", "username", "login", "email", "host", "hostname", "port",
	"issuer", "audience", "realm", "owner", "domain", "arn", "suffix", "sock", "socket", "process", "dataset",
	"last4", "first4", "preview", "present", "set", "reset", "changed", "expired", "policy", "rules", "min", "stdin",
	"algorithm", "mechanism", "protocol", "cookie", "query", "lookup", "fetch", "request", "response", "name",
	"location", "store", "keystore", "truststore", "provider", "exchange", "endpoint", "server", "encoding",
	"length", "entropy", "grant", "flow", "hasher", "hashers", "fallbacks",
	// Type names in code and stack traces: InvalidKeyException, KeySpec.
	"exception", "spec", "factory", "builder", "generator", "parser", "resolver", "filter", "loader", "reader",
	"writer", "impl", "interface", "test", "tests", "mock", "stub", "util", "utils", "helper", "helpers", "error", "errors",
	"hdr", "oid", "attribute", "annotation", "widget", "input", "label", "placeholder", "form", "button", "prompt", "dialog")

var lookupQualifiers = set("idempotency", "cache", "partition", "sort", "primary", "foreign", "public", "pub",
	"object", "routing", "dedup", "dedupe", "lookup", "map", "row", "shard", "hash", "index", "cursor", "group",
	"message", "msg", "s3", "bucket", "redis", "kafka", "event", "request", "trace", "span", "unique", "natural",
	"composite", "sharding", "file", "config", "setting", "settings", "translation", "i18n", "hot", "short",
	"storage", "upload", "blob", "query", "sig", "ssh", "host", "gpg", "pgp", "dict", "json", "yaml", "env", "sa01",
	"limiter", "build", "sign", "signed", "verify", "verifying", "jwks", "dedupe", "content", "etag", "sorting",
	"compound", "search", "registry", "publishable", "keyboard", "press", "pressed", "hotkey", "foreign", "api_public")

// lookupTokenQualifiers make a "token" a handle: pagination and
// continuation tokens, idempotency and request tokens.
var lookupTokenQualifiers = set("page", "next", "prev", "previous", "continuation", "pagination", "cursor", "sync",
	"resume", "idempotency", "request", "correlation", "trace", "cancellation", "cancel", "marker", "start",
	"change", "delta", "watermark", "etag", "count", "max", "min")

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
func matchGeneric(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string), names *nameCache, code, explain bool) {
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
	// A name with several keywords (secret_key) is parsed once, at its
	// first hit: the others find the same name.
	if ne == names.lastEnd {
		return
	}
	names.lastEnd = ne
	// An escape sequence written out (\r\nAuthorization: in a Python
	// bytes repr) is not part of the name.
	if ns > 0 && b[ns-1] == '\\' && ns < ks && (b[ns] == 'n' || b[ns] == 'r' || b[ns] == 't') {
		ns++
	}
	name := b[ns:ne]
	if i := bytes.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // config.password -> password
	}
	// The name decides first: most names that end in a keyword in logs
	// (max_tokens, idempotency_key) are not secrets, and their values need
	// parsing only to say where the dropped candidate was.
	class, why := names.classify(name)
	if class == nameNone && !explain {
		return
	}
	quoted := ns > 0 && (b[ns-1] == '"' || b[ns-1] == '\'')
	var sep byte
	if ns > 0 {
		sep = b[ns-1]
	}
	if quoted && ne+1 < len(b) && b[ne] == '=' && b[ne+1] == b[ns-1] {
		// "PWD="+dir: the string holding the name ends at the operator;
		// what follows is an expression.
		drop(ne, ne+1, "the value is an expression joined to a string")
		return
	}
	a, ok := assignment(b, ne, quoted, sep)
	if !ok {
		// - name: DB_PASSWORD / value: "..." on the next line.
		if class == nameNone {
			return
		}
		vs, ve, q, ok := yamlEnvValue(b, ns, ne)
		if !ok {
			return
		}
		a = parsedValue{vs: vs, ve: ve, quoted: q}
	}
	if string(name) == "PASS" || string(name) == "FAIL" {
		return // test output: --- PASS: TestX
	}
	if class == nameNone {
		drop(a.vs, a.ve, why)
		return
	}
	vs, ve := a.vs, a.ve
	v := b[vs:ve]
	if r := judgeValue(name, v, a.quoted, class); r != "" {
		drop(vs, ve, r)
		return
	}
	if !a.quoted && code {
		drop(vs, ve, "an unquoted value in source code: an expression, not a literal")
		return
	}
	if !a.quoted && codeAssignment(b, ne, vs) {
		drop(vs, ve, "an unquoted expression in code (a literal would be quoted)")
		return
	}
	emit(vs, ve)
}

var genericKeywords = []string{"pass", "pwd", "secret", "token", "key", "auth", "credential", "cred"}

// genericReject is judgeValue for callers with a strength only.
func genericReject(name, v []byte, quoted bool, class nameClass) string {
	return judgeValue(name, v, quoted, class)
}

var shorterThanMin = "shorter than " + strconv.Itoa(MinKnownLength) + " bytes"

// judgeValue says why value v, assigned to name of the given class, is
// not a secret, or "" when it is one.
func judgeValue(name, v []byte, quoted bool, class nameClass) string {
	minLen := MinKnownLength
	if class == namePassword && charClasses(v) >= 3 {
		minLen = 6
	}
	if len(v) < minLen {
		if minLen != MinKnownLength {
			return "shorter than 6 bytes"
		}
		return shorterThanMin
	}
	if r := placeholder(v, quoted); r != "" {
		return r
	}
	if bytes.EqualFold(v, name) {
		return "value repeats the name"
	}
	if h := passwordHash(v); h != "" {
		return h
	}
	if bytes.HasPrefix(v, []byte("gAAAAA")) && len(v) >= 100 {
		return "a Fernet token (ciphertext), not a key"
	}
	if k := shapeOf(v); k != "" {
		switch {
		case k == shapeHex && class >= nameToken:
			// Many API keys and tokens are hex (secrets.token_hex); under
			// a weak name, hex is a digest or an id.
		case (k == shapeUUID || k == shapeULID) && class >= nameToken:
			// A UUID or a ULID can be a token (secrets.token_urlsafe is
			// not the only way people make them); under a weak name it is
			// an id.
		case class == namePassword && passwordShapeOK[k]:
			// Passwords take any shape but these.
		default:
			return k
		}
	}
	if !quoted {
		if isCallOrIndex(v) {
			return "an expression"
		}
		if looksLikeIdentifierPath(v) {
			return "an identifier"
		}
	}
	if bytes.Count(v, []byte(`\u`))*6 >= len(v) {
		return "escaped characters, not a secret"
	}
	if (isCamelIdentifier(v) || isSnakeIdentifier(v)) && namesSecret(v) {
		return "an identifier that names a secret (challengePassword, api_key_field)"
	}
	if class == namePassword {
		if isSnakeIdentifier(v) && bytes.Count(v, []byte("_"))+bytes.Count(v, []byte("-")) < 2 && !hasDigit(v) {
			return "an identifier or variable name"
		}
		if bytes.ContainsAny(v, " \t") && prose(v) {
			return "text, not a password"
		}
		if distinct(v) < 4 {
			return "too few distinct characters"
		}
		return ""
	}
	// Secrets, tokens and keys are generated: they look random.
	if isSnakeIdentifier(v) {
		return "an identifier or variable name"
	}
	if isCamelIdentifier(v) {
		return "an identifier (camelCase words)"
	}
	var sl segList
	sl.split(v)
	if segs, seps := sl.segs(), &sl.seps; len(segs) == 2 && seps['-']+seps['_']+seps['.'] == 1 && isWord(segs[0]) && isWord(segs[1]) && len(segs[0]) >= 3 && len(segs[1]) >= 3 {
		return "an identifier (two words: Proxy-Authorization)"
	}
	if bytes.ContainsAny(v, " \t") {
		return "text, not a key"
	}
	if allHex(v) && class == nameWeak {
		return "hex digest or identifier under a weak name"
	}
	if isWord(v) {
		return "a word, not a credential"
	}
	if class == nameWeak {
		if len(v) < 16 {
			return "too short for a key under a weak name"
		}
		if charClasses(v) < 2 || entropy(v) < 3.5 {
			return "not random enough for a key under a weak name"
		}
		return ""
	}
	if len(v) >= 16 {
		if entropy(v) < 3.0 {
			return "low entropy"
		}
	} else if charClasses(v) < 2 || (!hasDigit(v) && charClasses(v) < 3) || distinct(v) < len(v)/2 {
		return "a short plain value"
	}
	return ""
}

// passwordShapeOK lists the value shapes a password may have.
var passwordShapeOK = map[string]bool{shapeStructured: true, shapeColonID: true}

// Value shapes that identifiers take, as judgeValue names them.
const (
	shapeUUID       = "a UUID"
	shapeULID       = "a ULID"
	shapeDigest     = "a digest (sha256:..., sha1=...)"
	shapeHex        = "a hex digest or id"
	shapeNumber     = "a number (an id, a count or a timestamp)"
	shapeDate       = "a date or time"
	shapeVersion    = "a version"
	shapeURL        = "a URL without credentials"
	shapeEmail      = "an email address"
	shapeAddress    = "an IP address or host:port"
	shapePath       = "a path or resource name (a/b/c)"
	shapeColonID    = "a structured identifier (a:b:c)" // or a#b#c, as DynamoDB keys are written
	shapeStructured = "a structured identifier (words, numbers and digests)"
)

// shapeOf returns the identifier shape v has, or "". A URL-encoded value
// (20250312%2Feu-west-1%2Fs3%2Faws4_request) is judged decoded.
func shapeOf(v []byte) string {
	if bytes.IndexByte(v, '%') >= 0 {
		if d := percentDecode(v); d != nil {
			v = d
		}
	}
	switch {
	case isUUID(v):
		return shapeUUID
	case isULID(v):
		return shapeULID
	case isDigest(v):
		return shapeDigest
	case isHexDigest(v):
		return shapeHex
	case isNumber(v):
		return shapeNumber
	case isDate(v):
		return shapeDate
	case isVersion(v):
		return shapeVersion
	case bytes.Contains(v, []byte("://")):
		return shapeURL // a URL with a password is the dsn-password rule's
	case isEmail(v):
		return shapeEmail
	case isAddress(v):
		return shapeAddress
	}
	var sl segList
	sl.split(v)
	segs, seps := sl.segs(), &sl.seps
	if seps['/'] >= 1 && (v[0] == '/' || v[0] == '~' || v[0] == '.' || seps['/'] >= 2) && len(segs) >= 2 && allWordlike(segs, 1) && mostlyWordlike(segs) {
		return shapePath
	}
	if colons := seps[':'] + seps['#']; colons >= 1 && (colons >= 2 || isLowerWord(segs[0])) && allWordlike(segs, 0) && wordlike(segs[0]) {
		return shapeColonID
	}
	if len(segs) >= 3 && allWordlike(segs, 0) {
		return shapeStructured
	}
	return ""
}

// percentDecode decodes %XX escapes, or returns nil when v has a '%' that
// does not start one.
func percentDecode(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return nil
		}
		out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
		i += 2
	}
	return out
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// segList is v cut at the separators identifiers use, with a count of
// each separator; it holds up to 48 segments (more: overflow).
type segList struct {
	buf      [48][]byte
	n        int
	overflow bool
	seps     [256]uint16
}

func (l *segList) segs() [][]byte { return l.buf[:l.n] }

// split cuts v at the separators identifiers use, counting each.
func (l *segList) split(v []byte) {
	l.n, l.overflow = 0, false
	clear(l.seps[:])
	start := 0
	add := func(s []byte) {
		if l.n == len(l.buf) {
			l.overflow = true
			return
		}
		l.buf[l.n] = s
		l.n++
	}
	for i, c := range v {
		switch c {
		case '-', '_', '.', ':', '/', '|', '@', '+', ',', '=', '#':
			l.seps[c]++
			if i > start {
				add(v[start:i])
			}
			start = i + 1
		}
	}
	if start < len(v) {
		add(v[start:])
	}
	if l.overflow {
		// Too many pieces to be an identifier: one random segment stands
		// for all of them.
		l.buf[0], l.n = v, 1
	}
}

// allWordlike reports whether every segment is word-like, allowing up to
// random of them not to be.
func allWordlike(segs [][]byte, random int) bool {
	if len(segs) == 0 {
		return false
	}
	for _, s := range segs {
		if !wordlike(s) {
			random--
			if random < 0 {
				return false
			}
		}
	}
	return true
}

// mostlyWordlike is true when word-like segments hold most of the bytes:
// a path may hold one generated segment (a key id, an object name), but a
// base64 secret that happens to contain a '/' is one long random run.
func mostlyWordlike(segs [][]byte) bool {
	w, all := 0, 0
	for _, s := range segs {
		all += len(s)
		if wordlike(s) {
			w += len(s)
		}
	}
	return w*5 >= all*3
}

// wordlike is true for segments identifiers are made of: words (lower,
// Capitalized or upper case, with a few trailing digits: ubuntu24, x64,
// aws4), numbers, hex strings and dates; not for the mixed-case runs of
// generated secrets.
func wordlike(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	if isNumber(s) || (len(s) >= 4 && allHex(s) && oneHexCase(s)) {
		return true
	}
	i := 0
	if 'A' <= s[0] && s[0] <= 'Z' {
		i = 1
		upper := true
		for j := 1; j < len(s) && isLetter(s[j]); j++ {
			if 'a' <= s[j] && s[j] <= 'z' {
				upper = false
			}
		}
		for i < len(s) && isLetter(s[i]) && (upper == ('A' <= s[i] && s[i] <= 'Z')) {
			i++
		}
	} else {
		for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
			i++
		}
	}
	if i == 0 {
		return false
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
		digits++
	}
	return i == len(s) && digits <= 4
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// oneHexCase is true when s's hex letters are all lower case or all
// upper case, as digests are written (random base64 mixes them).
func oneHexCase(s []byte) bool {
	lower, upper := false, false
	for _, c := range s {
		lower = lower || 'a' <= c && c <= 'f'
		upper = upper || 'A' <= c && c <= 'F'
	}
	return !(lower && upper)
}

func isLowerWord(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// isWord is true for a single word of letters in one case or
// Capitalized, without digits: an enum value (oauth, bearer, none).
func isWord(v []byte) bool {
	return wordlike(v) && !hasDigit(v) && !isNumber(v)
}

func hasDigit(v []byte) bool {
	for _, c := range v {
		if '0' <= c && c <= '9' {
			return true
		}
	}
	return false
}

func distinct(v []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range v {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

func isNumber(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isDigest is a hex digest of a common length, or one written with its
// algorithm (sha256:..., sha1=..., md5-..., \x... bytea).
func isDigest(v []byte) bool {
	if len(v) == 0 || (lowerByte(v[0]) != 's' && lowerByte(v[0]) != 'm' && v[0] != '\\') {
		return false
	}
	for _, p := range []string{"sha256:", "sha1:", "sha512:", "sha384:", "md5:", "sha256=", "sha1=", "sha256-", "sha512-", "sha384-", "\\x"} {
		if len(v) > len(p) && indexFold(v[:len(p)], p) == 0 {
			return true
		}
	}
	return false
}

// isHexDigest is hex of a digest's length: a SHA-1, SHA-2 or SHA-3 digest,
// or a key or token of the same length.
func isHexDigest(v []byte) bool {
	switch len(v) {
	case 40, 56, 64, 96, 128:
		return allHex(v) && oneHexCase(v)
	}
	return false
}

// isDate is true for dates and times as logs write them: 2025-03-12,
// 20250312, 20250312T101010Z, RFC 3339.
func isDate(v []byte) bool {
	if len(v) < 8 || !('1' <= v[0] && v[0] <= '2') {
		return false
	}
	digits, other := 0, 0
	for _, c := range v {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '-' || c == ':' || c == 'T' || c == 'Z' || c == '.' || c == '+' || c == '/' || c == ' ':
			other++
		default:
			return false
		}
	}
	return digits >= 8 && (bytes.HasPrefix(v[4:], []byte("-")) || bytes.HasPrefix(v[4:], []byte("/")) || digits == 8 || v[8] == 'T')
}

// isVersion is v1.2.3, 1.2.3-rc.1, 2023-06-01-preview and the like.
func isVersion(v []byte) bool {
	s := v
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	dots := 0
	i := 0
	for i < len(s) && ('0' <= s[i] && s[i] <= '9' || s[i] == '.') {
		if s[i] == '.' {
			dots++
		}
		i++
	}
	if dots < 2 || i == 0 || !('0' <= s[0] && s[0] <= '9') {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '-' && s[i] != '+' {
		return false
	}
	for _, c := range s[i+1:] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func isEmail(v []byte) bool {
	at := bytes.IndexByte(v, '@')
	if at <= 0 || bytes.Count(v, []byte("@")) != 1 {
		return false
	}
	dom := v[at+1:]
	if bytes.IndexByte(dom, '.') <= 0 {
		return false
	}
	for _, c := range dom {
		if !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	for _, c := range v[:at] {
		if !(isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}

// isAddress is an IPv4 address, optionally with a port, or host:port.
func isAddress(v []byte) bool {
	host, port := v, []byte(nil)
	if i := bytes.LastIndexByte(v, ':'); i > 0 {
		host, port = v[:i], v[i+1:]
		if !isNumber(port) || len(port) > 5 {
			return false
		}
	}
	dots := 0
	for _, c := range host {
		if c == '.' {
			dots++
		} else if !('0' <= c && c <= '9') {
			if port == nil {
				return false
			}
			// host:port with a host name.
			for _, c := range host {
				if !(isAlnum(c) || c == '.' || c == '-') {
					return false
				}
			}
			return bytes.IndexByte(host, '.') > 0 || isLowerWord(host)
		}
	}
	return dots == 3
}

// passwordHash says which password-hash format v is written in, as a
// reason to drop it, or "".
func passwordHash(v []byte) string {
	if len(v) == 0 || bytes.IndexByte([]byte("$psSPm{"), v[0]) < 0 {
		return ""
	}
	for _, p := range [][2]string{{"$2a$", "bcrypt"}, {"$2b$", "bcrypt"}, {"$2y$", "bcrypt"}, {"$argon2", "argon2"},
		{"pbkdf2_", "pbkdf2"}, {"pbkdf2:", "pbkdf2"}, {"scram-sha-", "SCRAM verifier"}, {"$6$", "sha-crypt"}, {"$5$", "sha-crypt"},
		{"$1$", "md5-crypt"}, {"{ssha}", "SSHA"}, {"{bcrypt}", "bcrypt"}, {"sha256$", "Django sha256"}, {"$scrypt$", "scrypt"}} {
		if len(v) > len(p[0]) && indexFold(v[:len(p[0])], p[0]) == 0 {
			return "a password hash (" + p[1] + "), not the password"
		}
	}
	if len(v) == 35 && bytes.HasPrefix(v, []byte("md5")) && allHex(v[3:]) {
		return "a password hash (PostgreSQL md5), not the password"
	}
	return ""
}

// prose is true for text: several words, some of them the function words
// of a sentence.
func prose(v []byte) bool {
	if bytes.ContainsAny(v, `"`) || bytes.Contains(v, []byte(`\n`)) || len(v) > 1 && 'A' <= v[0] && v[0] <= 'Z' && 'a' <= v[1] && v[1] <= 'z' {
		return true // a sentence, or text with quotes or escapes in it
	}
	words := bytes.Fields(bytes.ToLower(v))
	if len(words) < 3 {
		return false
	}
	n := 0
	for _, w := range words {
		if proseWords[string(bytes.Trim(w, ".,;:!?()"))] {
			n++
		}
	}
	return n >= 2 || len(words) >= 6
}

var proseWords = set("the", "a", "an", "is", "are", "be", "to", "of", "in", "for", "at", "least", "must", "and", "or",
	"not", "your", "with", "this", "that", "it", "on", "see", "use", "should", "will", "can", "from", "has", "have")

// looksLikeIdentifierPath is true for a.b.c, self.token, req.Header and the
// like: letters, digits and underscores joined by dots.
func looksLikeIdentifierPath(v []byte) bool {
	if bytes.IndexByte(v, '.') < 0 {
		return false
	}
	for _, part := range bytes.Split(v, []byte(".")) {
		if len(part) == 0 || !(isLetter(part[0]) || part[0] == '_') {
			return false
		}
		for _, c := range part {
			if !(isAlnum(c) || c == '_') {
				return false
			}
		}
	}
	return true
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

// isCamelIdentifier is true for EncapsulationKeySize768, getAccessToken
// and the like: letters in camelCase humps of at least three letters (with
// trailing digits). Generated mixed-case secrets split into short humps.
func isCamelIdentifier(v []byte) bool {
	v = bytes.TrimLeft(v, "_")
	if len(v) == 0 || !isLetter(v[0]) {
		return false
	}
	humps := 0
	for i := 0; i < len(v); {
		// A hump: an upper-case run (an acronym, whose last capital starts
		// the next hump when a lower-case letter follows) or one capital,
		// then lower-case letters, then digits.
		j := i
		for j < len(v) && 'A' <= v[j] && v[j] <= 'Z' {
			j++
		}
		if j-i > 1 && j < len(v) && 'a' <= v[j] && v[j] <= 'z' {
			j-- // DBPassword: DB, Password
		}
		if j == i {
			j = i + 1
		} else if j-i > 1 {
			// An acronym hump: letters only.
			humps++
			if j-i < 3 {
				return false
			}
			i = j
			continue
		}
		for j < len(v) && 'a' <= v[j] && v[j] <= 'z' {
			j++
		}
		if j-i < 3 {
			return false
		}
		for j < len(v) && '0' <= v[j] && v[j] <= '9' {
			j++
		}
		if j < len(v) && !isLetter(v[j]) {
			return false
		}
		if j < len(v) && 'a' <= v[j] && v[j] <= 'z' {
			return false // letters after digits: abc1d
		}
		humps++
		i = j
	}
	return humps >= 2
}

// namesSecret is true when an identifier's words include one that names
// a secret: such a value is a field or variable name, not a secret.
func namesSecret(v []byte) bool {
	for _, w := range redact.SplitWords(string(v)) {
		for _, kw := range genericKeywords {
			if strings.Contains(w, kw) {
				return true
			}
		}
	}
	return false
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
// names repeat on every line: a direct-mapped table by a hash of the name
// (a Go map costs more than classifying most names twice). It also holds
// where the last name parsed ends, so that a name is parsed once.
type nameCache struct {
	slots   [1024]nameSlot
	lastEnd int
}

// nameCaches keeps name caches between buffers: classifications do not
// change, and a warm cache is most of the point.
var nameCaches = sync.Pool{New: func() any { return new(nameCache) }}

type nameSlot struct {
	n     uint8 // length of name; 0: empty
	name  [64]byte
	class nameClass
	why   string
}

func (c *nameCache) classify(name []byte) (nameClass, string) {
	if len(name) == 0 || len(name) > 64 {
		return classifyName(name)
	}
	h := uint32(2166136261)
	for _, x := range name {
		h = (h ^ uint32(x)) * 16777619
	}
	sl := &c.slots[(h^h>>16)&1023]
	if int(sl.n) == len(name) && string(sl.name[:sl.n]) == string(name) {
		return sl.class, sl.why
	}
	cl, why := classifyName(name)
	sl.n = uint8(copy(sl.name[:], name))
	sl.class, sl.why = cl, why
	return cl, why
}

// assignmentFollows is a cheap test that, after a keyword ending at ke, an
// identifier tail, an optional quote and spaces lead to = or :, or to a
// call whose first argument is a string literal (cohere.Client("...")).
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
	if i < len(b) && b[i] == '(' {
		i++
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		return i < len(b) && (b[i] == '"' || b[i] == '\'')
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

// formatString reports whether v is a printf-style template: it holds a
// verb such as %s or %v (not followed by a letter or digit), and what is
// left without the verbs is not itself random (so "%i@8wJwmN7YEG", a
// password that starts like a verb, is not a template).
func formatString(v []byte) bool {
	if bytes.IndexByte(v, '%') < 0 {
		return false
	}
	verb := false
	var rest []byte
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+1 < len(v) && bytes.IndexByte([]byte("sdvqxi"), v[i+1]) >= 0 && (i+2 == len(v) || !isAlnum(v[i+2])) {
			verb = true
			i++
			continue
		}
		rest = append(rest, v[i])
	}
	if !verb {
		return false
	}
	var sl segList
	sl.split(rest)
	segs := sl.segs()
	for _, s := range segs {
		if len(s) >= 6 && !wordlike(s) {
			return false
		}
	}
	return true
}
