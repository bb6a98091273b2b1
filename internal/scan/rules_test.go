package scan

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnumSet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64url     = alnumSet + "-_"
	upper27    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	hexSet     = "0123456789abcdef"
)

// rnd returns n deterministic pseudo-random characters from set, so that the
// tests hold no literal secrets.
func rnd(set string, n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

// bytes32 is 32 deterministic pseudo-random bytes.
func bytes32(seed, stream uint64) []byte {
	r := rand.New(rand.NewPCG(seed, stream))
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(r.Uint32())
	}
	return k
}

// token32 is the body of an sa01s_ or sa01c_ token: 32 bytes in unpadded
// URL-safe base64.
func token32(seed uint64) string { return base64.RawURLEncoding.EncodeToString(bytes32(seed, 11)) }

func fernetKey(seed uint64) string { return base64.URLEncoding.EncodeToString(bytes32(seed, 9)) }

type ruleCase struct {
	name   string
	line   string
	rule   string // "" when nothing may be found
	secret string // the span that must be reported
}

func ruleCases() []ruleCase {
	fk := fernetKey(1)
	openai := "sk-proj-" + rnd(b64url, 120, 2)
	anth := "sk-ant-api03-" + rnd(b64url, 93, 3) + "AA"
	gh := "ghp_" + rnd(alnumSet, 36, 4)
	jwtHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	jwtBody := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1234567890","name":"svc"}`))
	jwt := jwtHdr + "." + jwtBody + "." + rnd(b64url, 43, 5)
	pemBody := rnd(alnumSet+"+/", 64, 6) + "\n" + rnd(alnumSet+"+/", 64, 7)
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----"
	pw := "Xq7!" + rnd(alnumSet, 10, 8)
	cases := []ruleCase{
		// Platform.
		{"fernet key alone", "SA01_CRYPTO_FERNET_KEY is " + fk + " now", RuleFernet, fk},
		{"fernet key in env", "SA01_CRYPTO_FERNET_KEY=" + fk, "sa01-env-assignment", fk},
		{"fernet key in python", "fernet = Fernet(b'" + fk + "')", RuleFernet, fk},
		{"fernet-shaped go.sum hash", "golang.org/x/net v0.1.0 h1:" + fk, "", ""},
		{"fernet low entropy", "k=" + strings.Repeat("A", 43) + "=", "", ""},
		{"sa01 token assignment", "export SA01_AUTH_INTERNAL_TOKEN='" + rnd(b64url, 43, 10) + "'", "sa01-env-assignment", ""},
		{"sa01 placeholder", "SA01_AUTH_INTERNAL_TOKEN=<secure-random-token>", "", ""},
		{"sa01 name constant", `EnvFernetKey = "SA01_CRYPTO_FERNET_KEY" // secret`, "", ""},
		{"sa01 getenv", `key := os.Getenv("SA01_CRYPTO_FERNET_KEY")`, "", ""},
		{"sa01 non-secret var", "SA01_AUTH_REQUIRED=true", "", ""},
		{"sa01 service token", "Authorization: Bearer sa01s_" + token32(11), "sa01-service-token", ""},
		{"sa01 token prefix only", "tokens look like sa01s_<random>", "", ""},
		{"sa01 token wrong length", "sa01s_" + token32(12)[:40], "", ""},
		{"sa01 token not 32 bytes", "sa01s_" + token32(13)[:42] + "B", "", ""},
		{"sa01 identity credential", "SA01_SECRETS_CREDENTIAL=sa01c_" + token32(14), "sa01-credential", "sa01c_" + token32(14)},
		{"sa01 credential in a log", `auth="Bearer sa01c_` + token32(15) + `" renew_in=50m`, "sa01-credential", "sa01c_" + token32(15)},
		{"sa01 credential prefix in prose", "identity credentials start with sa01c_ and 43 characters", "", ""},
		{"postgres dsn", "SA01_DB_DSN=postgresql://app:" + pw + "@db:5432/app", "dsn-password", pw},
		{"redis dsn", "redis_url=redis://:" + pw + "@cache:6379/0", "dsn-password", pw},
		{"dsn punctuation", `dsn="mysql://root:p@ss;w0rd!x@10.0.0.1:3306/app"`, "dsn-password", "p@ss;w0rd!x"},
		{"dsn percent", "redis://:TRg%VSB6qk-10Hh@redis.internal:6379/0", "dsn-password", "TRg%VSB6qk-10Hh"},
		{"password format string", `password = "user:%s@host"`, "", ""},
		{"dsn masked", "SA01_DB_DSN=postgresql://user:****@host:5432/db", "", ""},
		{"dsn no password", "postgres://app@db:5432/app", "", ""},
		{"url with at", "see https://example.com/@user for docs", "", ""},
		{"dsn variable password", "postgres://app:${DB_PASSWORD}@db/app", "", ""},
		// LLM providers.
		{"openai project key", "OPENAI_API_KEY=" + openai, "openai-api-key", openai},
		{"openai legacy key", "key: sk-" + rnd(alnumSet, 20, 12) + "T3BlbkFJ" + rnd(alnumSet, 20, 13), "openai-api-key", ""},
		{"openai short", "flag sk-learn-model", "", ""},
		{"openai repeated", "sk-" + strings.Repeat("x", 48), "", ""},
		{"anthropic key", "x-api-key: " + anth, "anthropic-api-key", anth},
		{"google ai key", "GEMINI_API_KEY=AIza" + rnd(b64url, 35, 14), "google-api-key", ""},
		{"google wrong length", "AIza" + rnd(b64url, 20, 15), "", ""},
		{"groq key", "groq: gsk_" + rnd(alnumSet, 52, 16), "groq-api-key", ""},
		{"huggingface token", "HF_TOKEN=hf_" + rnd("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34, 17), "huggingface-token", ""},
		{"huggingface word", "use hf_transfer for downloads", "", ""},
		{"mistral key", "MISTRAL_API_KEY=" + rnd(alnumSet, 32, 18), "mistral-api-key", ""},
		{"mistral model name", "model=mistral-large-latest", "", ""},
		{"cohere key", `cohere_api_key: "` + rnd(alnumSet, 40, 19) + `"`, "cohere-api-key", ""},
		{"cohere client argument", `co = cohere.Client("` + rnd(alnumSet, 40, 85) + `")`, "cohere-api-key", rnd(alnumSet, 40, 85)},
		{"cohere client from the environment", `co = cohere.ClientV2(os.environ["CO_API_KEY"])`, "", ""},
		{"mistral client argument", `client = MistralClient( '` + rnd(alnumSet, 32, 86) + `')`, "mistral-api-key", rnd(alnumSet, 32, 86)},
		{"xai key", "xai-" + rnd(alnumSet, 80, 20), "xai-api-key", ""},
		{"replicate token", "r8_" + rnd(alnumSet, 37, 21), "replicate-api-token", ""},
		{"perplexity key", "pplx-" + rnd(alnumSet, 48, 22), "perplexity-api-key", ""},
		// Cloud.
		{"aws access key", "aws_access_key_id = AKIA" + rnd(upper27, 16, 23), "aws-access-key-id", ""},
		{"aws example key", "AKIAIOSFODNN7EXAMPLE", "", ""},
		{"aws lowercase akia", "akia" + rnd(lowerAlnum, 16, 24), "", ""},
		{"aws secret key", "aws_secret_access_key=" + rnd(alnumSet+"/+", 40, 25), "aws-secret-access-key", ""},
		{"gcp service account", `"private_key_id": "` + rnd(hexSet, 40, 26) + `",`, "gcp-service-account", ""},
		{"azure storage key", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + rnd(alnumSet+"+/", 86, 27) + "==;", "azure-storage-key", ""},
		{"azure client secret", "AZURE_CLIENT_SECRET=" + rnd(alnumSet, 3, 28) + "8Q~" + rnd(alnumSet+"_~.-", 34, 29), "azure-ad-client-secret", ""},
		// Code hosting and SaaS.
		{"github pat", "token " + gh, "github-token", gh},
		{"github fine-grained", "github_pat_" + rnd(alnumSet+"_", 82, 30), "github-fine-grained-pat", ""},
		{"github prefix in word", "the ghp_ prefix marks classic tokens", "", ""},
		{"gitlab pat", "glpat-" + rnd(b64url, 20, 31), "gitlab-token", ""},
		{"slack bot token", "xoxb-" + rnd("0123456789", 12, 32) + "-" + rnd("0123456789", 13, 33) + "-" + rnd(alnumSet, 24, 34), "slack-token", ""},
		{"slack webhook", "https://hooks.slack.com/services/T" + rnd(upper27, 8, 35) + "/B" + rnd(upper27, 8, 36) + "/" + rnd(alnumSet, 24, 37), "slack-webhook", ""},
		{"stripe live key", "stripe.api_key = 'sk_live_" + rnd(alnumSet, 24, 38) + "'", "stripe-key", ""},
		{"jwt", "authorization=Bearer " + jwt, "jwt", jwt},
		{"jwt bad header", "eyJub3Rqc29u.eyJzdWIiOiIxIn0.abc", "", ""},
		{"pem private key", pem, "private-key", pem},
		{"pem header only", "look for -----BEGIN PRIVATE KEY----- in files", "", ""},
		{"pem public key", "-----BEGIN PUBLIC KEY-----\n" + pemBody + "\n-----END PUBLIC KEY-----", "", ""},
		// Generic assignments.
		{"python password", `password = "` + pw + `"`, RuleGeneric, pw},
		{"log password", "login ok user=bob password=" + pw + " ip=10.0.0.1", RuleGeneric, pw},
		{"json secret", `{"client_secret": "` + rnd(alnumSet, 32, 40) + `"}`, RuleGeneric, ""},
		{"yaml api key", "api_key: " + rnd(alnumSet, 32, 41), RuleGeneric, ""},
		{"go token literal", `token := "` + rnd(b64url, 40, 42) + `"`, RuleGeneric, ""},
		{"escaped json", `{\"db_password\": \"` + pw + `\"}`, RuleGeneric, pw},
		{"idempotency key uuid", "idempotency_key=3f2c1a9e-8b7d-4c6e-9f01-2a3b4c5d6e7f", "", ""},
		{"key uuid", "key=3f2c1a9e-8b7d-4c6e-9f01-2a3b4c5d6e7f", "", ""},
		{"cache key sha", "cache_key=" + rnd(hexSet, 64, 43), "", ""},
		{"key sha", "key=" + rnd(hexSet, 40, 44), "", ""},
		{"key ulid", "key=01J8D346SSF3H5AR30HKNSR2TH", "", ""},
		{"api key ulid", "api_key=01J8D346SSF3H5AR30HKNSR2TH", RuleGeneric, ""},
		{"key dynamodb", "key=USER#1234#ORDER#98765", "", ""},
		{"key hash-separated", `msg="cache get" key=orders#2025-03-12#42`, "", ""},
		{"token hex bare", "token=" + rnd(hexSet, 64, 45), RuleGeneric, ""},
		{"token hash", "token_hash=" + rnd(hexSet, 64, 45), "", ""},
		{"key hex 64", "key=" + rnd(hexSet, 64, 46), "", ""},
		{"trace id", "trace_id=" + rnd(hexSet, 32, 46) + " span_id=" + rnd(hexSet, 16, 47), "", ""},
		{"key id", "key_id=k-" + rnd(alnumSet, 12, 48), "", ""},
		{"secret name", "secret_name=openai-api-key-prod", "", ""},
		{"max tokens", "max_tokens=4096 prompt_tokens=1234", "", ""},
		{"password placeholder", `password = "changeme123"`, "", ""},
		{"password env", `password = os.getenv("DB_PASSWORD")`, "", ""},
		{"password expression", "password = cfg.Password", "", ""},
		{"password call", "token = get_token(user)", "", ""},
		{"password masked", "password=****", "", ""},
		{"password short", `password = "abc"`, "", ""},
		{"password low entropy", `secret = "aaaaaaaabbbbbbbb"`, "", ""},
		{"keyboard", "keyboard = " + rnd(alnumSet, 20, 49), "", ""},
		{"env var name value", `apiKeyVar := "OPENAI_API_KEY"`, "", ""},
		{"snake identifier value", `token_field = "access_token_value"`, "", ""},
		{"go make", "\tkeys := make([]string, 0, len(trailer))", "", ""},
		{"go composite", "var hasTokenTests = []struct{", "", ""},
		{"go address", "\t\t\tkey := &entry{pos, s: \"\"}", "", ""},
		{"ini password", "password = " + pw, RuleGeneric, pw},
		{"go map key", "key := strings.ToLower(k)", "", ""},
		{"weak key sentence", `key: "the primary signing"`, "", ""},
		{"allow marker", `password = "` + pw + `" // sa01-secrets:allow`, "", ""},
	}
	return append(cases, providerCases()...)
}

// providerCases cover the providers SomaAgent01 calls and runs on, and the
// context rules, each with a true and a false example.
func providerCases() []ruleCase {
	pw := "Xq7!" + rnd(alnumSet, 10, 8)
	openRouter := "sk-or-v1-" + rnd(hexSet, 64, 60)
	deepseek := "sk-" + rnd(hexSet, 32, 61)
	together := "tgp_v1_" + token32(62)
	azure84 := rnd(alnumSet, 52, 63) + "JQQJ99BFAC" + rnd(alnumSet, 5, 64) + "XJ3w3AAAAACOG" + rnd(alnumSet, 4, 65)
	azureHex := rnd(hexSet, 32, 66)
	svcacct := "sk-svcacct-" + rnd(b64url, 74, 67) + "T3BlbkFJ" + rnd(b64url, 74, 68)
	admin := "sk-ant-admin01-" + rnd(b64url, 93, 69) + "AA"
	glRoutable := "glpat-" + rnd(b64url, 30, 70) + ".01" + rnd(lowerAlnum, 7, 71)
	whsec := "whsec_" + rnd(alnumSet, 32, 72)
	basic := base64.StdEncoding.EncodeToString([]byte("deploy:" + pw))
	return []ruleCase{
		{"openrouter key", "OPENROUTER_API_KEY=" + openRouter, "openrouter-api-key", openRouter},
		{"openrouter prefix in docs", "OpenRouter keys start with sk-or-v1- and 64 hex characters", "", ""},
		{"deepseek key", `Authorization: Bearer ` + deepseek, "deepseek-api-key", deepseek},
		{"deepseek-shaped hex inside a word", "task-" + rnd(hexSet, 32, 74), "", ""},
		{"openai service account key", "OPENAI_API_KEY=" + svcacct, "openai-api-key", svcacct},
		{"openai key prefix in a log", `"key_prefix":"sk-proj-ab12"`, "", ""},
		{"anthropic admin key", "x-api-key: " + admin, "anthropic-api-key", admin},
		{"together key", `client = Together(api_key="` + together + `")`, "together-api-key", together},
		{"together key too short", "tgp_v1_" + rnd(b64url, 20, 75), "", ""},
		{"together legacy hex, named", "TOGETHER_API_KEY=" + rnd(hexSet, 64, 76), RuleGeneric, ""},
		{"azure openai 84-character key", `AzureOpenAI(api_key="` + azure84 + `")`, "azure-openai-api-key", azure84},
		{"azure openai hex key, named", "AZURE_OPENAI_KEY=" + azureHex, "azure-openai-api-key", azureHex},
		{"azure openai hex in an api-key header", `\r\napi-key: ` + azureHex + `\r\n`, RuleGeneric, azureHex},
		{"azure deployment name", "AZURE_OPENAI_DEPLOYMENT=gpt-4o-prod", "", ""},
		{"gitlab routable token", "private-token: " + glRoutable, "gitlab-token", glRoutable},
		{"gitlab placeholder", "glpat-XXXXXXXXXXXXXXXXXXXX", "", ""},
		{"stripe webhook secret", "STRIPE_WEBHOOK_SECRET=" + whsec, "stripe-key", whsec},
		{"stripe publishable key", `"publishable_key":"pk_live_` + rnd(alnumSet, 99, 77) + `"`, "", ""},
		{"jwt without signature", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".", "", ""},
		{"aws key id placeholder", "key_id = 'AKIAXXXXXXXXXXXXXXXX'", "", ""},
		{"pgp private key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + rnd(alnumSet+"+/", 64, 78) + "\n" + rnd(alnumSet+"+/", 64, 79) + "\n-----END PGP PRIVATE KEY BLOCK-----", "private-key", ""},
		{"basic auth header", "> Authorization: Basic " + basic, RuleGeneric, basic},
		{"bearer in a JSON header", `{"Authorization":"Bearer ` + rnd(alnumSet, 40, 80) + `"}`, RuleGeneric, rnd(alnumSet, 40, 80)},
		{"bearer masked", "authorization: Bearer ****", "", ""},
		// Context rules.
		{"sql alter role", "LOG:  statement: ALTER ROLE billing WITH PASSWORD '" + pw + "'", "sql-password", pw},
		{"sql create user", "CREATE USER app LOGIN PASSWORD '" + pw + "';", "sql-password", pw},
		{"mysql identified by", "CREATE USER 'app'@'%' IDENTIFIED BY '" + pw + "';", "sql-password", pw},
		{"sql password verifier", "ALTER ROLE app WITH PASSWORD 'SCRAM-SHA-256$4096:" + rnd(b64url, 24, 81) + "'", "", ""},
		{"sql password in prose", "enter the password 'shown on screen' to continue", "", ""},
		{"redis monitor auth", `1741773605.530617 [3 10.5.90.27:36094] "AUTH" "` + pw + `"`, "redis-password", pw},
		{"redis monitor auth with user", `1741773605.530617 [0 10.0.0.5:51234] "AUTH" "default" "` + pw + `"`, "redis-password", pw},
		{"redis requirepass", "requirepass " + pw, "redis-password", pw},
		{"redis config set requirepass", `"CONFIG" "SET" "requirepass" "` + pw + `"`, "redis-password", pw},
		{"redis-cli -a", "redis-cli -h cache -a '" + pw + "' ping", "redis-password", pw},
		{"redis auth failure", "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.", "", ""},
		{"docker login -p", "+ docker login -u deploy -p '" + pw + "' registry.acme.internal", "cli-password", pw},
		{"--password flag", "mysqldump --user root --password " + pw + " app", "cli-password", pw},
		{"--password-stdin", "echo $TOKEN | docker login -u ci --password-stdin ghcr.io", "", ""},
		{"sql parameters", "LOG:  execute <unnamed>: INSERT INTO integrations (tenant_id, provider, api_key) VALUES ($1, $2, $3)\nDETAIL:  parameters: $1 = '42', $2 = 'stripe', $3 = '" + rnd(b64url, 40, 82) + "'", "sql-parameter", rnd(b64url, 40, 82)},
		{"sql parameters, no secret column", "LOG:  execute <unnamed>: SELECT id FROM api_keys WHERE key_hash = $1\nDETAIL:  parameters: $1 = '\\x" + rnd(hexSet, 64, 83) + "'", "", ""},
		{"k8s env value on the next line", "    - name: DB_PASSWORD\n      value: \"" + pw + "\"", RuleGeneric, pw},
		{"k8s env from a secret", "    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef:\n          name: db", "", ""},
		{"compose env object", `{"name": "API_TOKEN", "value": "` + rnd(b64url, 40, 84) + `"}`, RuleGeneric, ""},
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	s := New(nil)
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var drops []string
			ms := s.Find([]byte(tc.line), func(d Drop) { drops = append(drops, d.Rule+": "+d.Reason) })
			if tc.rule == "" {
				if len(ms) != 0 {
					t.Fatalf("found %s at [%d:%d], want nothing", ms[0].Rule, ms[0].Start, ms[0].End)
				}
				return
			}
			if len(ms) != 1 {
				t.Fatalf("found %d matches, want one %s (dropped: %q)", len(ms), tc.rule, drops)
			}
			if ms[0].Rule != tc.rule {
				t.Fatalf("rule %s, want %s", ms[0].Rule, tc.rule)
			}
			if tc.secret != "" && tc.line[ms[0].Start:ms[0].End] != tc.secret {
				t.Fatalf("secret span %d..%d is not the planted secret", ms[0].Start, ms[0].End)
			}
		})
	}
}

func TestRulesHaveCases(t *testing.T) {
	t.Parallel()
	pos, neg := map[string]bool{}, 0
	for _, tc := range ruleCases() {
		if tc.rule != "" {
			pos[tc.rule] = true
		} else {
			neg++
		}
	}
	for _, r := range New(nil).Rules() {
		if r[0] == RuleKnown {
			continue
		}
		if !pos[r[0]] {
			t.Errorf("rule %s has no true-positive case", r[0])
		}
	}
	if neg < 30 {
		t.Errorf("only %d false-positive cases", neg)
	}
}

func TestKeywordsAreLongEnough(t *testing.T) {
	t.Parallel()
	for _, r := range DefaultRules() {
		for _, kw := range r.Keywords {
			if len(kw) < 3 || strings.ToLower(kw) != kw {
				t.Errorf("rule %s: keyword %q must be lowercase and at least 3 bytes", r.ID, kw)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	var got []Drop
	New(nil).Find([]byte("idempotency_key=3f2c1a9e-8b7d-4c6e-9f01-2a3b4c5d6e7f"), func(d Drop) { got = append(got, d) })
	if len(got) == 0 || got[0].Rule != RuleGeneric || !strings.Contains(got[0].Reason, "lookup key") {
		t.Fatalf("explain = %+v, want a generic-assignment drop naming the lookup key", got)
	}
}

func TestKeywordDFASplit(t *testing.T) {
	t.Parallel()
	kws := []string{"password", "key", "sk-ant-", "sk-", "private key-----"}
	d := newKeywordDFA(kws)
	// Keywords at every offset around the middle of a buffer large enough
	// to be split.
	for shift := 0; shift < 40; shift++ {
		b := []byte(strings.Repeat("x", 9000+shift) + "PassWord sk-ant-x KEY private key-----")
		b = append(b, strings.Repeat("y", 9000)...)
		mid := len(b) / 2
		copy(b[mid-20:], "sk-ant-key password")
		var got, want []int
		d.find(b, func(end, kw int) { got = append(got, end, kw) })
		d.walk(b, 0, func(end, kw int) { want = append(want, end, kw) })
		if len(got) != len(want) {
			t.Fatalf("shift %d: %d hits, want %d", shift, len(got)/2, len(want)/2)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("shift %d: hit %d differs", shift, i/2)
			}
		}
	}
}

// TestKeywordDFABlocks checks the block-wise walk against one chain on
// buffers of many sizes with keywords across every block edge and middle.
func TestKeywordDFABlocks(t *testing.T) {
	t.Parallel()
	kws := []string{"password", "key", "sk-ant-", "sk-", "private key-----"}
	d := newKeywordDFA(kws)
	for _, size := range []int{dfaSplit - 1, dfaSplit, dfaBlock - 1, dfaBlock, dfaBlock + 1, dfaBlock + dfaSplit - 1, dfaBlock + dfaSplit + 7, 3*dfaBlock + 12345} {
		for shift := 0; shift < 20; shift++ {
			b := []byte(strings.Repeat("x", size))
			for edge := 0; edge <= size; edge += dfaBlock / 2 {
				for _, kw := range []string{"private key-----", "sk-ant-key", "password"} {
					p := edge - shift
					if p >= 0 && p+len(kw) <= size {
						copy(b[p:], kw)
					}
				}
			}
			var got, want []int
			d.find(b, func(end, kw int) { got = append(got, end, kw) })
			d.walk(b, 0, func(end, kw int) { want = append(want, end, kw) })
			if len(got) != len(want) {
				t.Fatalf("size %d shift %d: %d hits, want %d", size, shift, len(got)/2, len(want)/2)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("size %d shift %d: hit %d differs", size, shift, i/2)
				}
			}
		}
	}
}

// TestPlantedLogFindings reproduces what a log the rules were not tuned on
// showed: two false positives (a cache key, an AWS credential scope) and
// two misses (a short password with shell metacharacters in an env dump,
// a libpq keyword DSN whose password starts like a format verb), which
// mask also let through. Each dropped candidate says why.
func TestPlantedLogFindings(t *testing.T) {
	t.Parallel()
	s := New(nil)
	m := NewMasker(s)
	for _, tc := range []struct {
		line, secret, why string
	}{
		{line: `time=2025-03-12T10:00:00.239Z level=DEBUG msg="cache lookup" key=user:78366:profile hit=true`, why: "a structured identifier (a:b:c)"},
		{line: `level=debug msg="signing request" credential_scope=20250312/eu-west-1/s3/aws4_request`, why: "names metadata about a secret (scope)"},
		{line: `SMTP_PASSWORD=baN3SH*rNr&1w`, secret: `baN3SH*rNr&1w`},
		{line: `level=error msg="db connect failed" dsn="host=db.internal user=billing password=%i@8wJwmN7YEG dbname=billing sslmode=require"`, secret: `%i@8wJwmN7YEG`},
	} {
		var drops []string
		ms := s.Find([]byte(tc.line), func(d Drop) { drops = append(drops, d.Reason) })
		masked := m.MaskString(tc.line)
		if tc.secret == "" {
			if len(ms) != 0 {
				t.Errorf("%s: found %s", tc.line, tc.line[ms[0].Start:ms[0].End])
			}
			if !slices.Contains(drops, tc.why) {
				t.Errorf("%s: --explain says %q, want %q", tc.line, drops, tc.why)
			}
			if masked != tc.line {
				t.Errorf("mask changed a line without a secret: %q", masked)
			}
			continue
		}
		if len(ms) != 1 || tc.line[ms[0].Start:ms[0].End] != tc.secret {
			t.Errorf("%s: matches %+v, want the whole of %q (dropped: %q)", tc.line, ms, tc.secret, drops)
		}
		if strings.Contains(masked, tc.secret) || masked == tc.line {
			t.Errorf("mask let the secret through: %q", masked)
		}
	}
}
