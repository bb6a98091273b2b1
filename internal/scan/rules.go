package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
)

// A Rule detects one kind of secret. Rules run only around their keywords
// (lowercase, at least three bytes): a hand-written matcher looks at the
// bytes around each hit, or a regular expression runs on the line that
// holds it (at most window bytes either side).
type Rule struct {
	ID          string
	Description string
	Keywords    []string

	// match finds candidates around a keyword hit: b is the input, [ks, ke)
	// the keyword. It reports secret spans with emit, and dropped
	// candidates with drop (for --explain).
	match func(b []byte, ks, ke int, emit func(start, end int), drop func(start, end int, reason string))

	// re runs on the line around a hit when match is nil; group is the
	// submatch that is the secret (0 for the whole match). When assign is
	// set, re runs only where an assignment follows the keyword.
	re     *regexp.Regexp
	group  int
	assign bool

	// check validates a candidate secret: "" keeps it, anything else is the
	// reason it is dropped.
	check func(secret []byte, b []byte, start int) string

	// generic marks the generic assignment rule, whose matcher takes a
	// per-buffer cache of name classifications.
	generic bool
}

const regexWindow = 512

// Rule IDs that other code refers to.
const (
	RuleKnown   = "known-value"
	RuleFernet  = "sa01-fernet-key"
	RuleGeneric = "generic-assignment"
)

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// prefixToken matches literal prefix (the keyword, case-sensitive here),
// then at least min and at most max bytes for which ok holds; the token
// must not be preceded by a token character. The secret is the whole token.
func prefixToken(prefix string, ok func(byte) bool, min, max int) func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	return prefixTokenTail(prefix, ok, min, max, nil)
}

// prefixTokenTail is prefixToken whose token may continue with what tail
// accepts after the run (tail returns the new end).
func prefixTokenTail(prefix string, ok func(byte) bool, min, max int, tail func(b []byte, end int) int) func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	return func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
		start := ke - len(prefix)
		if start < 0 || string(b[start:ke]) != prefix {
			return
		}
		if start > 0 && isAlnum(b[start-1]) {
			return
		}
		end := ke
		for end < len(b) && ok(b[end]) && end-ke <= max {
			end++
		}
		n := end - ke
		if n < min {
			if n > 0 {
				drop(start, end, "too short for this token format")
			}
			return
		}
		if n > max {
			drop(start, end, "longer than this token format")
			return
		}
		if tail != nil {
			end = tail(b, end)
		}
		emit(start, end)
	}
}

func alnum(c byte) bool       { return isAlnum(c) }
func tokenChar(c byte) bool   { return isTokenChar(c) }
func upperOr27(c byte) bool   { return 'A' <= c && c <= 'Z' || '2' <= c && c <= '7' }
func slackChar(c byte) bool   { return isAlnum(c) || c == '-' }
func ghPatChar(c byte) bool   { return isAlnum(c) || c == '_' }
func lettersOnly(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func lowerHex(c byte) bool    { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// entropyCheck drops low-entropy tokens, such as sk-xxxxxxxxxxxxxxxx.
func entropyCheck(min float64) func(secret, b []byte, start int) string {
	return func(secret, b []byte, start int) string {
		if entropy(secret) < min {
			return "low entropy"
		}
		return ""
	}
}

// DefaultRules returns the rules, most specific first: when two candidates
// overlap, the earlier rule wins.
func DefaultRules() []*Rule {
	rules := []*Rule{
		{
			ID: "sa01-service-token", Description: "sa01-secrets service token (sa01s_)",
			Keywords: []string{"sa01s_"},
			match:    matchSA01Token("sa01s_"),
			check:    entropyCheck(3.0),
		},
		{
			ID: "sa01-credential", Description: "sa01-secrets identity credential (sa01c_)",
			Keywords: []string{"sa01c_"},
			match:    matchSA01Token("sa01c_"),
			check:    entropyCheck(3.0),
		},
		{
			ID: "sa01-env-assignment", Description: "SA01_* secret variable assigned a literal value",
			Keywords: []string{"sa01_"},
			match:    matchSA01Assignment,
		},
		{
			ID: "anthropic-api-key", Description: "Anthropic API key",
			Keywords: []string{"sk-ant-"},
			re:       regexp.MustCompile(`\bsk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_-]{80,120}`),
		},
		{
			ID: "openrouter-api-key", Description: "OpenRouter API key",
			Keywords: []string{"sk-or-v1-"},
			match:    prefixToken("sk-or-v1-", lowerHex, 64, 64),
		},
		{
			ID: "deepseek-api-key", Description: "DeepSeek API key (sk- and 32 hex characters)",
			Keywords: []string{"sk-"},
			match:    matchDeepSeek,
			check:    entropyCheck(3.0),
		},
		{
			ID: "openai-api-key", Description: "OpenAI (or compatible) API key",
			Keywords: []string{"sk-"},
			match:    matchOpenAI,
			check:    entropyCheck(3.5),
		},
		{
			ID: "google-api-key", Description: "Google AI / Google Cloud API key",
			Keywords: []string{"aiza"},
			match:    prefixToken("AIza", tokenChar, 35, 35),
		},
		{
			ID: "groq-api-key", Description: "Groq API key",
			Keywords: []string{"gsk_"},
			match:    prefixToken("gsk_", alnum, 52, 52),
		},
		{
			ID: "huggingface-token", Description: "Hugging Face access token",
			Keywords: []string{"hf_"},
			match:    prefixToken("hf_", lettersOnly, 34, 34),
			check:    entropyCheck(3.5),
		},
		{
			ID: "together-api-key", Description: "Together AI API key",
			Keywords: []string{"tgp_v1_"},
			match:    prefixToken("tgp_v1_", tokenChar, 43, 43),
			check:    entropyCheck(3.5),
		},
		{
			ID: "azure-openai-api-key", Description: "Azure OpenAI / AI services key (84 characters, or 32 hex characters assigned to an Azure name)",
			Keywords: []string{"jqqj99", "azure", "ocp-apim-"},
			match:    matchAzureAIKey,
		},
		{
			ID: "xai-api-key", Description: "xAI API key",
			Keywords: []string{"xai-"},
			match:    prefixToken("xai-", alnum, 80, 80),
		},
		{
			ID: "replicate-api-token", Description: "Replicate API token",
			Keywords: []string{"r8_"},
			match:    prefixToken("r8_", alnum, 37, 37),
			check:    entropyCheck(3.5),
		},
		{
			ID: "perplexity-api-key", Description: "Perplexity API key",
			Keywords: []string{"pplx-"},
			match:    prefixToken("pplx-", alnum, 48, 48),
		},
		{
			ID: "mistral-api-key", Description: "Mistral AI API key",
			Keywords: []string{"mistral"},
			re:       regexp.MustCompile(`(?i)mistral[\w.-]{0,24}(?:["']?\s{0,3}(?:=|:=|:|=>)\s{0,3}["']?(?:Bearer\s+)?|\(\s{0,3}["'])([A-Za-z0-9]{32})\b`),
			group:    1,
			assign:   true,
			check:    entropyCheck(3.5),
		},
		{
			ID: "cohere-api-key", Description: "Cohere API key",
			Keywords: []string{"cohere", "co_api_key"},
			re:       regexp.MustCompile(`(?i)(?:cohere|co_api_key)[\w.-]{0,24}(?:["']?\s{0,3}(?:=|:=|:|=>)\s{0,3}["']?(?:Bearer\s+)?|\(\s{0,3}["'])([A-Za-z0-9]{40})\b`),
			group:    1,
			assign:   true,
			check:    entropyCheck(3.5),
		},
		{
			ID: "aws-access-key-id", Description: "AWS access key ID",
			Keywords: []string{"akia", "asia", "abia", "acca"},
			match: func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
				for _, p := range []string{"AKIA", "ASIA", "ABIA", "ACCA"} {
					prefixToken(p, upperOr27, 16, 16)(b, ks, ke, emit, drop)
				}
			},
			check: func(secret, b []byte, start int) string {
				if bytes.HasSuffix(secret, []byte("EXAMPLE")) {
					return "AWS documentation example"
				}
				if entropy(secret[4:]) < 2.5 {
					return "low entropy (a placeholder such as AKIAXXXXXXXXXXXXXXXX)"
				}
				return ""
			},
		},
		{
			ID: "aws-secret-access-key", Description: "AWS secret access key",
			Keywords: []string{"secret_access_key", "secretaccesskey", "aws_secret"},
			re:       regexp.MustCompile(`(?i)(?:secret_?access_?key|aws_secret[\w]*)["']?\s{0,3}(?:=|:=|:|=>)\s{0,3}["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
			group:    1,
			assign:   true,
			check: func(secret, b []byte, start int) string {
				if bytes.Contains(secret, []byte("EXAMPLEKEY")) {
					return "AWS documentation example"
				}
				return entropyCheck(4.0)(secret, b, start)
			},
		},
		{
			ID: "gcp-service-account", Description: "Google Cloud service-account key (private_key_id)",
			Keywords: []string{"private_key_id"},
			re:       regexp.MustCompile(`\\?"private_key_id\\?"\s*:\s*\\?"([a-f0-9]{40})\\?"`),
			group:    1,
		},
		{
			ID: "azure-storage-key", Description: "Azure storage account key",
			Keywords: []string{"accountkey="},
			re:       regexp.MustCompile(`(?i)AccountKey=([A-Za-z0-9+/]{86}==)`),
			group:    1,
		},
		{
			ID: "azure-ad-client-secret", Description: "Azure AD (Entra ID) client secret",
			Keywords: []string{"0q~", "1q~", "2q~", "3q~", "4q~", "5q~", "6q~", "7q~", "8q~", "9q~"},
			re:       regexp.MustCompile(`(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)`),
			group:    1,
		},
		{
			ID: "github-token", Description: "GitHub token",
			Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"},
			match: func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
				prefixToken(string(b[ks:ke]), alnum, 36, 36)(b, ks, ke, emit, drop)
			},
			check: entropyCheck(3.0),
		},
		{
			ID: "github-fine-grained-pat", Description: "GitHub fine-grained personal access token",
			Keywords: []string{"github_pat_"},
			match:    prefixToken("github_pat_", ghPatChar, 82, 82),
		},
		{
			ID: "gitlab-token", Description: "GitLab token",
			Keywords: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-", "glft-", "gloas-"},
			match:    matchGitLab,
			check:    entropyCheck(3.0),
		},
		{
			ID: "slack-token", Description: "Slack token",
			Keywords: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xapp-"},
			match: func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
				prefixToken(string(b[ks:ke]), slackChar, 20, 250)(b, ks, ke, emit, drop)
			},
			check: entropyCheck(3.0),
		},
		{
			ID: "slack-webhook", Description: "Slack incoming webhook URL",
			Keywords: []string{"hooks.slack.com/"},
			re:       regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,100}`),
		},
		{
			ID: "stripe-key", Description: "Stripe secret or restricted key",
			Keywords: []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"},
			match: func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
				prefixToken(string(b[ks:ke]), alnum, 24, 247)(b, ks, ke, emit, drop)
			},
			check: entropyCheck(3.0),
		},
		{
			ID: "private-key", Description: "PEM private key",
			Keywords: []string{"private key-----", "private key block-----"},
			match:    matchPEM,
		},
		{
			ID: "jwt", Description: "JSON Web Token",
			Keywords: []string{"eyj"},
			match:    matchJWT,
		},
		{
			ID: "dsn-password", Description: "connection string (DSN/URL) with a password",
			Keywords: []string{"://"},
			match:    matchDSN,
		},
		{
			ID: "sql-password", Description: "password in a SQL statement (CREATE/ALTER ROLE ... PASSWORD '...', IDENTIFIED BY '...')",
			Keywords: []string{"password '", "password e'", "identified by '"},
			match:    matchSQLPassword,
		},
		{
			ID: "redis-password", Description: "Redis password (AUTH, requirepass, masterauth, redis-cli -a)",
			Keywords: []string{`"auth" "`, "requirepass", "masterauth", "redis-cli"},
			match:    matchRedisPassword,
		},
		{
			ID: "cli-password", Description: "password on a command line (--password VALUE, docker login -p VALUE)",
			Keywords: []string{"--password", "--passwd", "docker login", "podman login", "registry login"},
			match:    matchCLIPassword,
		},
		{
			ID: "sql-parameter", Description: "secret bound to a SQL parameter whose column names one (PostgreSQL log)",
			Keywords: []string{"parameters: $"},
			match:    matchSQLParameters,
		},
		{
			ID: RuleGeneric, Description: "secret assigned a literal value (password, secret, token, key, ...)",
			Keywords: []string{"pass", "pwd", "secret", "token", "key", "auth", "credential", "cred"},
			generic:  true,
		},
	}
	return rules
}

// matchSA01Assignment finds SA01_..._KEY(S)/TOKEN/SECRET/PASSWORD names
// followed by an assignment of a literal value.
func matchSA01Assignment(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	start := ke - len("sa01_")
	if start > 0 && (isAlnum(b[start-1]) || b[start-1] == '_') {
		return
	}
	if string(b[start:ke]) != "SA01_" {
		return
	}
	end := ke
	for end < len(b) && ('A' <= b[end] && b[end] <= 'Z' || '0' <= b[end] && b[end] <= '9' || b[end] == '_') {
		end++
	}
	name := b[start:end]
	secretName := false
	for _, suf := range []string{"_KEY", "_KEYS", "_TOKEN", "_SECRET", "_PASSWORD"} {
		if bytes.HasSuffix(name, []byte(suf)) {
			secretName = true
		}
	}
	if !secretName {
		return
	}
	vs, ve, quoted, ok := assignedValue(b, end, start > 0 && (b[start-1] == '"' || b[start-1] == '\''))
	if !ok {
		return
	}
	if r := genericReject(name, b[vs:ve], quoted, nameStrong); r != "" {
		drop(vs, ve, r)
		return
	}
	emit(vs, ve)
}

// matchOpenAI finds sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...
func matchOpenAI(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	start := ks
	if string(b[ks:ke]) != "sk-" || (start > 0 && (isTokenChar(b[start-1]) || b[start-1] == '.')) {
		return
	}
	if bytes.HasPrefix(b[ke:], []byte("ant-")) {
		return // anthropic-api-key
	}
	end := ke
	for end < len(b) && isTokenChar(b[end]) {
		end++
	}
	countWork(end - ke)
	n := end - ke
	if n < 32 {
		if n >= 16 {
			drop(start, end, "too short for an OpenAI key")
		}
		return
	}
	if n > 300 {
		drop(start, end, "too long for an OpenAI key")
		return
	}
	emit(start, end)
}

// pemReach bounds a PEM block: its body ends within this many bytes of
// the BEGIN line (an RSA 8192-bit key is about 6.5 KiB).
const pemReach = 16 << 10

// matchPEM finds -----BEGIN ... PRIVATE KEY----- with key material; the
// secret is the block up to its END line. Without an END line the block
// ends with the last line of its body: the body is base64 (and, before
// the first base64, the headers of an encrypted key), in lines separated
// by newlines or by \n written out (a key inside a JSON string); the
// first line that is neither ends it, so a block cut short never swallows
// the lines after it.
func matchPEM(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	// BEGIN is at most 40 bytes before the keyword, on its line.
	from := max(0, ks-40)
	from += bytes.LastIndexByte(b[from:ks], '\n') + 1
	begin := bytes.LastIndex(b[from:ks], []byte("-----BEGIN"))
	countWork(ks - from)
	if begin < 0 {
		return
	}
	begin += from
	end, material, _ := pemBodyState(b, ke)
	countWork(end - ke)
	if material < 64 {
		drop(begin, end, "no key material after the BEGIN line")
		return
	}
	emit(begin, end)
}

// How a PEM body walk ended.
const (
	pemClosed  = iota // at an END line, or another marker
	pemEnded          // at a line that is not body
	pemOpen           // at the end of the input, every line so far body
	pemTooLong        // at pemReach
)

// pemBodyState walks a PEM body from b[i] (just after the BEGIN line's
// keyword) and returns where the block ends, how many base64 characters
// it holds, and how the walk ended.
func pemBodyState(b []byte, i int) (end, material, state int) {
	limit := min(len(b), i+pemReach)
	// end and material count whole body lines only: a line that turns out
	// not to be body (prose, a log line) is not part of the block.
	lineEnd, lineMaterial, header := i, 0, false
	end = i
	for j := i; j < limit; j++ {
		c := b[j]
		switch {
		case c == '-' && bytes.HasPrefix(b[j:], []byte("-----")):
			if bytes.HasPrefix(b[j:], []byte("-----END")) {
				if f := bytes.Index(b[j+8:min(len(b), j+8+80)], []byte("-----")); f >= 0 {
					return j + 8 + f + 5, material + lineMaterial, pemClosed
				}
			}
			if lineMaterial > 0 {
				end, material = lineEnd, material+lineMaterial
			}
			return end, material, pemClosed
		case isAlnum(c) || c == '+' || c == '/' || c == '=':
			if !header {
				lineMaterial++
			}
			lineEnd = j + 1
		case c == '\n' || c == '\\' && j+1 < len(b) && (b[j+1] == 'n' || b[j+1] == 'r'):
			if c == '\\' {
				j++
			}
			end, material = lineEnd, material+lineMaterial
			lineMaterial, header = 0, false
		case c == ' ' || c == '\t' || c == '\r':
			if lineMaterial > 0 {
				// Only trailing space may follow material on a body line.
				k := j
				for k < limit && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r') {
					k++
				}
				if k < limit && b[k] != '\n' && b[k] != '\\' && b[k] != '-' {
					return end, material, pemEnded
				}
				j = k - 1
			}
		case (c == ':' || c == ',' || c == '-' || c == '.' || c == '(' || c == ')') && material == 0 && (header || lineMaterial > 0):
			header, lineMaterial = true, 0 // Proc-Type: 4,ENCRYPTED / DEK-Info: ... / Version: GnuPG
		default:
			return end, material, pemEnded // not body: the block ended with the line before
		}
	}
	if limit < len(b) {
		return end, material, pemTooLong
	}
	if lineMaterial > 0 {
		end, material = lineEnd, material+lineMaterial
	}
	return end, material, pemOpen
}

// matchJWT finds eyJ<header>.eyJ<claims>.<signature> whose header decodes
// to a JSON object with "alg".
func matchJWT(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	start := ks
	if string(b[ks:ke]) != "eyJ" || (start > 0 && isTokenChar(b[start-1])) {
		return
	}
	i := ke
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	hdrEnd := i
	if i >= len(b) || b[i] != '.' || i+3 >= len(b) || string(b[i+1:i+4]) != "eyJ" {
		return
	}
	i++
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '.' {
		return
	}
	i++
	sig := i
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	end := i
	countWork(end - start)
	if end-sig < 16 {
		drop(start, end, "no signature (an unsigned JWT carries no secret)")
		return
	}
	hdr, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(b[start:hdrEnd], "=")))
	var h map[string]any
	if err != nil || json.Unmarshal(hdr, &h) != nil {
		drop(start, end, "header is not base64url JSON")
		return
	}
	if _, ok := h["alg"]; !ok {
		drop(start, end, "header has no alg")
		return
	}
	emit(start, end)
}

// matchDSN finds scheme://user:password@host and reports the password.
func matchDSN(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	s := ks
	for s > 0 && (isAlnum(b[s-1]) || b[s-1] == '+' || b[s-1] == '.' || b[s-1] == '-') {
		s--
	}
	if ks-s < 2 {
		return
	}
	ps, pe, ok := urlPassword(b, ks)
	if !ok {
		return
	}
	pw := b[ps:pe]
	if r := placeholder(pw, true); r != "" {
		drop(ps, pe, r)
		return
	}
	if len(pw) < 6 {
		drop(ps, pe, "password shorter than 6 bytes: a test or example DSN")
		return
	}
	switch string(bytes.ToLower(pw)) {
	case "password", "passwd", "secret", "pass123", "password123", "postgres", "mysecret", "userpass":
		drop(ps, pe, "example password")
		return
	}
	emit(ps, pe)
}

// urlPassword finds the password of the URL whose "://" starts at b[sep]
// (the same rule as redact.URLPassword).
func urlPassword(b []byte, sep int) (start, end int, ok bool) {
	auth := sep + 3
	stop := auth
	for stop < len(b) && stop-auth < 512 && !authorityEnd(b[stop]) {
		stop++
	}
	countWork(stop - auth)
	at := bytes.LastIndexByte(b[auth:stop], '@')
	if at < 0 {
		return 0, 0, false
	}
	at += auth
	colon := bytes.IndexByte(b[auth:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	start, end = auth+colon+1, at
	if start >= end {
		return 0, 0, false
	}
	return start, end, true
}

// authorityEnd ends the part of a URL where a password can be; '?' and '#'
// do not, as people put them unescaped in passwords.
func authorityEnd(c byte) bool {
	switch c {
	case '/', ' ', '\t', '\n', '\r', '"', '\'', '<', '>', '`', '\\':
		return true
	}
	return false
}
