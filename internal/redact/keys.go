package redact

import "strings"

// SensitiveKey reports whether an attribute or field named key holds a
// secret, so that its value is masked whatever it looks like.
//
// The key is split into words (on '_', '-', '.', spaces and camelCase), and
// is sensitive when a word names a secret: password, passwd, pwd,
// passphrase, secret, token, key, keys, apikey, dsn, authorization, auth,
// cookie, credential(s), bearer, or a compound ending in one (accesstoken,
// clientsecret, privatekey, ...).
//
// Metadata about a secret is not the secret: a key whose last word is id,
// name, type, ttl, version, count, expires, fingerprint and the like
// (key_id, secret_name, token_ttl, tokenType) is not sensitive; nor are
// LLM token counts (tokens, max_tokens, prompt_tokens), nor keys whose
// word "key" is qualified as a non-secret lookup key (idempotency_key,
// cache_key, partition_key, sort_key, primary_key, public_key, ...).
func SensitiveKey(key string) bool {
	words := SplitWords(key)
	if len(words) == 0 {
		return false
	}
	last := words[len(words)-1]
	if len(words) > 1 && metaWords[last] {
		return false
	}
	for i, w := range words {
		if !secretWord(w) {
			continue
		}
		if (w == "key" || w == "keys") && i > 0 && lookupQualifiers[words[i-1]] {
			continue
		}
		return true
	}
	return false
}

func secretWord(w string) bool {
	if exactSecretWords[w] {
		return true
	}
	for _, s := range []string{"password", "passwd", "passphrase", "secret", "apikey", "privatekey", "accesskey", "secretkey", "signingkey"} {
		if strings.Contains(w, s) {
			return true
		}
	}
	return strings.HasSuffix(w, "token") || strings.HasSuffix(w, "dsn")
}

var exactSecretWords = set("pwd", "pass", "key", "keys", "dsn", "authorization", "auth", "cookie", "cookies",
	"credential", "credentials", "creds", "bearer", "jwt", "sig", "signature", "privkey")

// metaWords name facts about a secret that are not the secret.
var metaWords = set("id", "ids", "name", "names", "type", "kind", "count", "len", "length", "size", "ttl",
	"expiry", "expires", "expiration", "at", "version", "versions", "ver", "alg", "algorithm", "path", "file",
	"env", "var", "ref", "required", "enabled", "set", "present", "source", "provider", "age", "fingerprint",
	"kid", "label", "rotation", "policy", "hint", "status", "usage", "limit", "budget", "field", "fields",
	"schema", "tokens", "url", "endpoint", "header", "method", "mode", "scheme", "strength", "created",
	"updated", "rotated", "prefix", "format", "count", "exists", "valid", "error", "err", "ok")

// lookupQualifiers turn "key" into a lookup key, not a credential.
var lookupQualifiers = set("idempotency", "cache", "partition", "sort", "primary", "foreign", "public", "pub",
	"object", "routing", "dedup", "dedupe", "lookup", "map", "row", "shard", "hash", "index", "cursor", "group",
	"message", "msg", "s3", "bucket", "redis", "kafka", "event", "request", "trace", "span", "unique", "natural",
	"composite", "sharding", "file", "config", "setting", "settings", "translation", "i18n", "hot", "short")

func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// SplitWords lowercases an identifier and splits it into words on
// punctuation and camelCase (apiKey, DBPassword), then joins "api" + "key"
// into "apikey", so that api_key and apiKey read alike. The scanner's
// generic rule and the log handler classify names with it.
func SplitWords(key string) []string {
	var words []string
	start := -1
	flush := func(i int) {
		if start >= 0 && i > start {
			words = append(words, strings.ToLower(key[start:i]))
		}
		start = -1
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		isUpper := 'A' <= c && c <= 'Z'
		isWord := isUpper || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
		switch {
		case !isWord:
			flush(i)
		case start < 0:
			start = i
		case isUpper && i > 0 && 'a' <= key[i-1] && key[i-1] <= 'z':
			// camelCase boundary: apiKey -> api, key
			flush(i)
			start = i
		case isUpper && i+1 < len(key) && 'a' <= key[i+1] && key[i+1] <= 'z' && i > 0 && 'A' <= key[i-1] && key[i-1] <= 'Z':
			// DBPassword -> db, password
			flush(i)
			start = i
		}
	}
	flush(len(key))
	// Join api + key into apikey so that "api_key" and "apiKey" are one word.
	out := words[:0]
	for i := 0; i < len(words); i++ {
		if i+1 < len(words) && words[i] == "api" && words[i+1] == "key" {
			out = append(out, "apikey")
			i++
			continue
		}
		out = append(out, words[i])
	}
	return out
}
