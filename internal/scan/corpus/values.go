package corpus

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

const (
	lowerSet  = "abcdefghijklmnopqrstuvwxyz"
	upperSet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitSet  = "0123456789"
	hexSet    = "0123456789abcdef"
	alnumSet  = upperSet + lowerSet + digitSet
	b64urlSet = alnumSet + "-_"
	b64Set    = alnumSet + "+/"
	lowerAlnm = lowerSet + digitSet
	upper27   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// rs returns n random characters of set.
func (g *gen) rs(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.IntN(len(set))]
	}
	return string(b)
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }
func (g *gen) n(lo, hi int) int        { return lo + g.r.IntN(hi-lo+1) }
func (g *gen) hex(n int) string        { return g.rs(hexSet, n) }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }

func (g *gen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-" + g.pick("8", "9", "a", "b") + g.hex(3) + "-" + g.hex(12)
}

func (g *gen) ulid() string { return "01J" + g.rs(crockford, 23) }

func (g *gen) now() time.Time { return time.UnixMilli(g.ts).UTC() }

// Timestamps in the formats logs use.
func (g *gen) rfc3339ms() string { return g.now().Format("2006-01-02T15:04:05.000Z") }
func (g *gen) rfc3339us() string { return g.now().Format("2006-01-02T15:04:05.000000Z07:00") }
func (g *gen) clf() string       { return g.now().Format("02/Jan/2006:15:04:05 -0700") }
func (g *gen) pgTime() string    { return g.now().Format("2006-01-02 15:04:05.000 UTC") }
func (g *gen) redisTime() string { return g.now().Format("02 Jan 2006 15:04:05.000") }
func (g *gen) pyTime() string    { return g.now().Format("2006-01-02 15:04:05,000") }
func (g *gen) ghTime() string    { return g.now().Format("2006-01-02T15:04:05.0000000Z") }
func (g *gen) amzDate() string   { return g.now().Format("20060102T150405Z") }
func (g *gen) epoch() int64      { return g.ts / 1000 }

func (g *gen) ip() string {
	return fmt.Sprintf("10.%d.%d.%d", g.r.IntN(8), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g *gen) publicIP() string {
	return fmt.Sprintf("%d.%d.%d.%d", g.pickInt(34, 52, 81, 91, 145, 185, 203), g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g *gen) pickInt(v ...int) int { return v[g.r.IntN(len(v))] }

// Identifiers that look random and are not secrets.

func (g *gen) requestID() string {
	switch g.r.IntN(4) {
	case 0:
		return "req_" + g.hex(32)
	case 1:
		return g.uuid()
	case 2:
		return g.hex(32)
	default:
		return g.ulid()
	}
}

func (g *gen) traceID() string { return g.hex(32) }
func (g *gen) spanID() string  { return g.hex(16) }
func (g *gen) sha1() string    { return g.hex(40) }
func (g *gen) sha256() string  { return g.hex(64) }
func (g *gen) podName(app string) string {
	return app + "-" + g.rs(lowerAlnm, 9+g.r.IntN(2)) + "-" + g.rs(lowerAlnm, 5)
}

func (g *gen) user() string {
	return g.pick("billing", "gateway", "worker", "app", "analytics", "ops", "readonly", "migrator", "svc_llm", "etl")
}

func (g *gen) host(svc string) string {
	return g.pick(svc+".internal", svc+".prod.svc.cluster.local", svc+"-0."+svc+".default.svc", svc, "10.0.3."+fmt.Sprint(2+g.r.IntN(200)))
}

func (g *gen) model() string {
	return g.pick("gpt-4o", "gpt-4o-mini", "o3-mini", "claude-sonnet-4-20250514", "claude-3-5-haiku-latest", "gemini-2.0-flash",
		"mistral-large-latest", "llama-3.3-70b-versatile", "command-r-plus", "deepseek-chat", "grok-2-latest",
		"meta-llama/Llama-3.3-70B-Instruct-Turbo", "ft:gpt-4o-mini-2024-07-18:acme:support:9aBc3dEf")
}

func (g *gen) path() string {
	return g.pick("/v1/chat/completions", "/v1/embeddings", "/v1/models", "/healthz", "/readyz", "/v1/secrets/openai-api-key",
		"/v1/auth/token", "/metrics", "/v1/messages", "/api/v2/users/"+fmt.Sprint(g.r.IntN(100000)), "/static/app."+g.hex(8)+".js",
		"/v1/files/file-"+g.rs(alnumSet, 24), "/v1/threads/thread_"+g.rs(alnumSet, 24)+"/runs", "/login", "/oauth/callback")
}

// redisKey is a Redis key as applications name them.
func (g *gen) redisKey() string {
	switch g.r.IntN(8) {
	case 0:
		return fmt.Sprintf("user:%d:profile", g.r.IntN(100000))
	case 1:
		return "session:" + g.hex(32)
	case 2:
		return fmt.Sprintf("ratelimit:ip:%s:%d", g.ip(), g.pickInt(1, 60, 3600))
	case 3:
		return fmt.Sprintf("tenant:%d:quota:%s", g.r.IntN(500), g.pick("tokens", "requests", "storage"))
	case 4:
		return "cache:v2:embeddings:" + g.sha256()[:16]
	case 5:
		return fmt.Sprintf("lock:job:%d", g.r.IntN(1e6))
	case 6:
		return "gateway:secrets"
	default:
		return fmt.Sprintf("feature_flags:%s", g.pick("new_router", "streaming", "beta_models"))
	}
}

// objectKey is an object storage key.
func (g *gen) objectKey() string {
	return g.pick("uploads/", "exports/", "logs/", "models/") + g.now().Format("2006/01/02/") + g.uuid() + g.pick(".png", ".parquet", ".json.gz", ".pdf")
}

// credentialScope is an AWS Signature V4 credential scope.
func (g *gen) credentialScope() string {
	return g.now().Format("20060102") + "/" + g.pick("eu-west-1", "us-east-1", "eu-central-1", "ap-southeast-2") + "/" + g.pick("s3", "sts", "sqs", "secretsmanager", "bedrock") + "/aws4_request"
}

// sshFingerprint is an OpenSSH key fingerprint.
func (g *gen) sshFingerprint() string {
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(g.bytes(32))
}

// b64digest is a base64 SHA-256 digest, as HTTP headers carry them.
func (g *gen) b64digest() string { return base64.StdEncoding.EncodeToString(g.bytes(32)) }

// fernetToken is a Fernet ciphertext: what the platform stores, not a key.
func (g *gen) fernetToken() string {
	b := append([]byte{0x80}, g.bytes(8+16+32+32)...)
	return base64.URLEncoding.EncodeToString(b)
}

func (g *gen) bcrypt() string {
	return "$2b$12$" + g.rs(alnumSet+"./", 53)
}

func (g *gen) scram() string {
	return "SCRAM-SHA-256$4096:" + base64.StdEncoding.EncodeToString(g.bytes(16)) + "$" + base64.StdEncoding.EncodeToString(g.bytes(32)) + ":" + base64.StdEncoding.EncodeToString(g.bytes(32))
}

func (g *gen) pbkdf2() string {
	return "pbkdf2_sha256$600000$" + g.rs(alnumSet, 22) + "$" + base64.StdEncoding.EncodeToString(g.bytes(32))
}

func (g *gen) semver() string {
	return fmt.Sprintf("%d.%d.%d", g.r.IntN(5), g.r.IntN(30), g.r.IntN(20))
}

func (g *gen) imageRef() string {
	return g.pick("ghcr.io/acme/gateway", "registry.acme.internal/worker", "docker.io/library/redis", "public.ecr.aws/acme/api") + "@sha256:" + g.sha256()
}

// publicJWKS is a JSON Web Key's public modulus: long base64url, not a
// secret.
func (g *gen) jwkModulus() string { return base64.RawURLEncoding.EncodeToString(g.bytes(256)) }

// certBody is base64 of a certificate (public).
func (g *gen) certBody() string { return base64.StdEncoding.EncodeToString(g.bytes(600)) }

// Secrets, each in its provider's real format.

// password is a password as people and generators choose them.
func (g *gen) password() string {
	switch g.r.IntN(6) {
	case 0: // short, with shell metacharacters
		return g.rs(alnumSet, 3) + g.pick("*", "&", "$", "!", "#", "%", "^") + g.rs(alnumSet, 3) + g.pick("&", "*", "!", "@") + g.rs(alnumSet, 2+g.r.IntN(3))
	case 1: // a passphrase
		w := []string{"correct", "horse", "battery", "staple", "orbit", "lantern", "maple", "quartz", "river", "copper", "velvet", "tundra", "signal", "harbor"}
		return w[g.r.IntN(len(w))] + "-" + w[g.r.IntN(len(w))] + "-" + w[g.r.IntN(len(w))] + "-" + fmt.Sprint(g.r.IntN(100))
	case 2: // a word, a year and a mark
		return g.pick("Summer", "Winter", "Dragon", "Monkey", "Falcon", "Rocket") + fmt.Sprint(2015+g.r.IntN(11)) + g.pick("!", "#", "$", "?", ".")
	case 3: // generated, URL-safe
		return g.rs(b64urlSet, 16+g.r.IntN(17))
	case 4: // generated, with punctuation
		return g.rs(alnumSet, 4) + g.pick("%", "@", "+", "=", ":", "~") + g.rs(alnumSet, 6) + g.pick("%", "@", "/", "!") + g.rs(alnumSet, 3)
	default: // alphanumeric
		return g.rs(alnumSet, 12+g.r.IntN(9))
	}
}

// urlPassword is a password that can stand in a URL's userinfo as
// applications write it (some escape it, some do not).
func (g *gen) urlPassword() string {
	p := g.password()
	if g.chance(0.5) {
		return strings.NewReplacer("@", "%40", "/", "%2F", "#", "%23", "?", "%3F", " ", "%20", "%", "%25", "&", "%26").Replace(p)
	}
	return strings.NewReplacer("/", "", "#", "", "?", "", " ", "", "@", "", "&", "").Replace(p)
}

func (g *gen) openAIKey() string {
	switch g.r.IntN(4) {
	case 0:
		return "sk-proj-" + g.rs(b64urlSet, 74) + "T3BlbkFJ" + g.rs(b64urlSet, 74)
	case 1:
		return "sk-svcacct-" + g.rs(b64urlSet, 74) + "T3BlbkFJ" + g.rs(b64urlSet, 74)
	case 2:
		return "sk-admin-" + g.rs(b64urlSet, 58) + "T3BlbkFJ" + g.rs(b64urlSet, 58)
	default:
		return "sk-" + g.rs(alnumSet, 20) + "T3BlbkFJ" + g.rs(alnumSet, 20)
	}
}

func (g *gen) anthropicKey() string {
	return "sk-ant-" + g.pick("api03", "api03", "admin01") + "-" + g.rs(b64urlSet, 93) + "AA"
}

func (g *gen) slackToken() string {
	switch g.r.IntN(3) {
	case 0:
		return "xoxb-" + g.rs(digitSet, 12) + "-" + g.rs(digitSet, 13) + "-" + g.rs(alnumSet, 24)
	case 1:
		return "xoxp-" + g.rs(digitSet, 12) + "-" + g.rs(digitSet, 12) + "-" + g.rs(digitSet, 13) + "-" + g.hex(32)
	default:
		return "xapp-1-A" + g.rs(upperSet+digitSet, 10) + "-" + g.rs(digitSet, 13) + "-" + g.hex(64)
	}
}

func (g *gen) slackWebhook() string {
	return "https://hooks.slack.com/services/T" + g.rs(upperSet+digitSet, 8) + "/B" + g.rs(upperSet+digitSet, 10) + "/" + g.rs(alnumSet, 24)
}

func (g *gen) githubToken() string {
	switch g.r.IntN(4) {
	case 0:
		return "github_pat_11" + g.rs(upperSet+digitSet, 20) + "_" + g.rs(alnumSet, 59)
	default:
		return g.pick("ghp_", "gho_", "ghs_", "ghu_") + g.rs(alnumSet, 36)
	}
}

func (g *gen) gitlabToken() string {
	if g.chance(0.5) {
		return "glpat-" + g.rs(b64urlSet, 20)
	}
	return "glpat-" + g.rs(b64urlSet, 27+g.r.IntN(12)) + ".01." + g.rs(lowerAlnm, 7)
}

func (g *gen) stripeKey() string {
	switch g.r.IntN(3) {
	case 0:
		return "sk_live_51" + g.rs(alnumSet, 97)
	case 1:
		return "rk_live_51" + g.rs(alnumSet, 97)
	default:
		return "whsec_" + g.rs(alnumSet, 32)
	}
}

func (g *gen) jwt() string {
	h := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":"%s","typ":"JWT","kid":"%s"}`, g.pick("RS256", "HS256", "ES256"), g.hex(8))))
	c := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"svc-%d","iat":%d,"exp":%d,"scope":"chat.write"}`, g.r.IntN(1000), g.epoch(), g.epoch()+3600)))
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(g.bytes(g.pickInt(32, 64, 256)))
}

// pem returns a private key in PEM, its lines joined by nl ("\n" for a
// file, `\n` inside a JSON string).
func (g *gen) pem(nl string) string {
	kind := g.pick("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY")
	n := map[string]int{"RSA PRIVATE KEY": 1190, "PRIVATE KEY": 1216, "EC PRIVATE KEY": 121, "OPENSSH PRIVATE KEY": 400}[kind]
	body := base64.StdEncoding.EncodeToString(g.bytes(n))
	width := 64
	if kind == "OPENSSH PRIVATE KEY" {
		width = 70
	}
	var b strings.Builder
	b.WriteString("-----BEGIN " + kind + "-----" + nl)
	for len(body) > 0 {
		k := min(width, len(body))
		b.WriteString(body[:k] + nl)
		body = body[k:]
	}
	b.WriteString("-----END " + kind + "-----")
	return b.String()
}

func (g *gen) fernetKey() string     { return base64.URLEncoding.EncodeToString(g.bytes(32)) }
func (g *gen) sa01Token() string     { return "sa01s_" + base64.RawURLEncoding.EncodeToString(g.bytes(32)) }
func (g *gen) sa01Cred() string      { return "sa01c_" + base64.RawURLEncoding.EncodeToString(g.bytes(32)) }
func (g *gen) awsKeyID() string      { return g.pick("AKIA", "ASIA") + g.rs(upper27, 16) }
func (g *gen) awsSecret() string     { return g.rs(b64Set, 40) }
func (g *gen) googleKey() string     { return "AIzaSy" + g.rs(b64urlSet, 33) }
func (g *gen) groqKey() string       { return "gsk_" + g.rs(alnumSet, 52) }
func (g *gen) openRouterKey() string { return "sk-or-v1-" + g.hex(64) }
func (g *gen) mistralKey() string    { return g.rs(alnumSet, 32) }
func (g *gen) cohereKey() string     { return g.rs(alnumSet, 40) }
func (g *gen) hfToken() string       { return "hf_" + g.rs(upperSet+lowerSet, 34) }
func (g *gen) xaiKey() string        { return "xai-" + g.rs(alnumSet, 80) }
func (g *gen) deepseekKey() string   { return "sk-" + g.hex(32) }
func (g *gen) gcpKeyID() string      { return g.hex(40) }

func (g *gen) togetherKey() string {
	if g.chance(0.6) {
		return "tgp_v1_" + base64.RawURLEncoding.EncodeToString(g.bytes(32))
	}
	return g.hex(64)
}

// azureKey is an Azure OpenAI (AI services) key: 32 hex characters, or the
// 84-character format.
func (g *gen) azureKey() string {
	if g.chance(0.5) {
		return g.hex(32)
	}
	return g.rs(alnumSet, 52) + "JQQJ99" + g.rs(upperSet, 1) + g.rs(upperSet+digitSet, 1) + "AC" + g.rs(alnumSet, 5) + "XJ3w3AAA" + g.rs(upperSet, 1) + "ACOG" + g.rs(alnumSet, 4)
}

func (g *gen) genericSecret() string {
	switch g.r.IntN(3) {
	case 0:
		return g.rs(b64urlSet, 40)
	case 1:
		return hex.EncodeToString(g.bytes(24))
	default:
		return base64.StdEncoding.EncodeToString(g.bytes(33))
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
