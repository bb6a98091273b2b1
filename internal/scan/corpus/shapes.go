package corpus

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Secret kinds.
const (
	KOpenAI      = "openai"
	KAnthropic   = "anthropic"
	KGroq        = "groq"
	KOpenRouter  = "openrouter"
	KGoogleAI    = "google-ai"
	KMistral     = "mistral"
	KCohere      = "cohere"
	KHuggingFace = "huggingface"
	KTogether    = "together"
	KXAI         = "xai"
	KDeepSeek    = "deepseek"
	KAzureOpenAI = "azure-openai"
	KAWSKeyID    = "aws-access-key-id"
	KAWSSecret   = "aws-secret-access-key"
	KGCP         = "gcp-service-account"
	KPrivateKey  = "private-key"
	KGitHub      = "github"
	KGitLab      = "gitlab"
	KSlack       = "slack"
	KSlackHook   = "slack-webhook"
	KStripe      = "stripe"
	KJWT         = "jwt"
	KPostgresURL = "postgres-url"
	KRedisURL    = "redis-url"
	KAMQPURL     = "amqp-url"
	KKafkaSASL   = "kafka-sasl"
	KLibpqDSN    = "libpq-dsn"
	KPassword    = "password"
	KSQLPassword = "sql-password"
	KRedisAuth   = "redis-auth"
	KFernet      = "fernet-key"
	KSA01Token   = "sa01-service-token"
	KSA01Cred    = "sa01-credential"
	KSA01Env     = "sa01-env"
	KBasicAuth   = "basic-auth"
	KGeneric     = "generic-secret"
	KK8sSecret   = "k8s-secret-data"
)

// llm is one LLM provider's key: its environment variable, how it is sent
// over HTTP, and its API host.
type llm struct {
	kind, env, header, host string
	key                     func(g *gen) string
}

var llms = []llm{
	{KOpenAI, "OPENAI_API_KEY", "Authorization: Bearer ", "api.openai.com", (*gen).openAIKey},
	{KAnthropic, "ANTHROPIC_API_KEY", "x-api-key: ", "api.anthropic.com", (*gen).anthropicKey},
	{KGroq, "GROQ_API_KEY", "Authorization: Bearer ", "api.groq.com", (*gen).groqKey},
	{KOpenRouter, "OPENROUTER_API_KEY", "Authorization: Bearer ", "openrouter.ai", (*gen).openRouterKey},
	{KGoogleAI, "GEMINI_API_KEY", "x-goog-api-key: ", "generativelanguage.googleapis.com", (*gen).googleKey},
	{KMistral, "MISTRAL_API_KEY", "Authorization: Bearer ", "api.mistral.ai", (*gen).mistralKey},
	{KCohere, "COHERE_API_KEY", "Authorization: Bearer ", "api.cohere.com", (*gen).cohereKey},
	{KHuggingFace, "HF_TOKEN", "Authorization: Bearer ", "api-inference.huggingface.co", (*gen).hfToken},
	{KTogether, "TOGETHER_API_KEY", "Authorization: Bearer ", "api.together.xyz", (*gen).togetherKey},
	{KXAI, "XAI_API_KEY", "Authorization: Bearer ", "api.x.ai", (*gen).xaiKey},
	{KDeepSeek, "DEEPSEEK_API_KEY", "Authorization: Bearer ", "api.deepseek.com", (*gen).deepseekKey},
	{KAzureOpenAI, "AZURE_OPENAI_API_KEY", "api-key: ", "acme-prod.openai.azure.com", (*gen).azureKey},
}

func llmFor(kind string) *llm {
	for i := range llms {
		if llms[i].kind == kind {
			return &llms[i]
		}
	}
	return nil
}

// llmKinds are the kinds of llms.
var llmKinds = func() []string {
	var k []string
	for _, l := range llms {
		k = append(k, l.kind)
	}
	return k
}()

// dsn returns a connection URL with a password for kind, and the password.
func (g *gen) dsn(kind string) (url, pw string) {
	pw = g.urlPassword()
	switch kind {
	case KRedisURL:
		if g.chance(0.5) {
			return "redis://:" + pw + "@" + g.host("redis") + ":6379/" + fmt.Sprint(g.r.IntN(4)), pw
		}
		return "rediss://default:" + pw + "@" + g.host("redis") + ":6380/0", pw
	case KAMQPURL:
		return g.pick("amqp", "amqps") + "://" + g.user() + ":" + pw + "@" + g.host("rabbitmq") + ":5672/" + g.pick("%2F", "prod", "events"), pw
	default:
		return g.pick("postgresql", "postgres") + "://" + g.user() + ":" + pw + "@" + g.host("db") + ":5432/" + g.user() + g.pick("", "?sslmode=require", "?sslmode=verify-full&application_name=gateway"), pw
	}
}

// secretValue returns a value of kind for shapes that only need the value.
func (g *gen) secretValue(kind string) string {
	if l := llmFor(kind); l != nil {
		return l.key(g)
	}
	switch kind {
	case KAWSKeyID:
		return g.awsKeyID()
	case KAWSSecret:
		return g.awsSecret()
	case KGitHub:
		return g.githubToken()
	case KGitLab:
		return g.gitlabToken()
	case KSlack:
		return g.slackToken()
	case KSlackHook:
		return g.slackWebhook()
	case KStripe:
		return g.stripeKey()
	case KJWT:
		return g.jwt()
	case KFernet:
		return g.fernetKey()
	case KSA01Token:
		return g.sa01Token()
	case KSA01Cred:
		return g.sa01Cred()
	case KGeneric:
		return g.genericSecret()
	case KPassword:
		return g.password()
	}
	panic("corpus: no plain value for " + kind)
}

// envLine writes NAME=value for a kind, as an env dump, a .env file or a
// Kubernetes manifest would hold it (sep is "=" or ": ").
func (g *gen) envPair(r *rec, kind, sep, quote string) {
	put := func(name, v string) {
		r.sf(kind, name+sep+quote+"%S", v)
		r.s(quote)
	}
	if l := llmFor(kind); l != nil {
		put(l.env, l.key(g))
		return
	}
	switch kind {
	case KPassword:
		put(g.pick("SMTP_PASSWORD", "DB_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "ADMIN_PASSWORD", "LDAP_BIND_PASSWORD", "PGPASSWORD", "RABBITMQ_DEFAULT_PASS", "MYSQL_ROOT_PASSWORD"), g.password())
	case KSA01Env:
		if g.chance(0.5) {
			put("SA01_AUTH_INTERNAL_TOKEN", base64.RawURLEncoding.EncodeToString(g.bytes(32)))
		} else {
			put("SA01_CRYPTO_FERNET_KEY", g.fernetKey())
		}
	case KFernet:
		put(g.pick("FERNET_KEY", "ENCRYPTION_KEY", "APP_FERNET_KEY"), g.fernetKey())
	case KAWSKeyID:
		put("AWS_ACCESS_KEY_ID", g.awsKeyID())
	case KAWSSecret:
		put("AWS_SECRET_ACCESS_KEY", g.awsSecret())
	case KPostgresURL, KRedisURL, KAMQPURL:
		u, pw := g.dsn(kind)
		name := map[string]string{KPostgresURL: g.pick("SA01_DB_DSN", "DATABASE_URL"), KRedisURL: g.pick("SA01_REDIS_URL", "REDIS_URL", "CELERY_RESULT_BACKEND"), KAMQPURL: g.pick("AMQP_URL", "CELERY_BROKER_URL", "RABBITMQ_URL")}[kind]
		i := strings.Index(u, pw)
		r.sf(kind, name+sep+quote+u[:i]+"%S", pw)
		r.s(u[i+len(pw):] + quote)
	case KKafkaSASL:
		put(g.pick("KAFKA_SASL_PASSWORD", "KAFKA_SASL_PLAIN_PASSWORD", "SASL_PASSWORD"), g.password())
	case KSlackHook:
		put("SLACK_WEBHOOK_URL", g.slackWebhook())
	case KSlack:
		put("SLACK_BOT_TOKEN", g.slackToken())
	case KStripe:
		put(g.pick("STRIPE_SECRET_KEY", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"), g.stripeKey())
	case KGitHub:
		put(g.pick("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"), g.githubToken())
	case KGitLab:
		put(g.pick("GITLAB_TOKEN", "CI_REGISTRY_PASSWORD", "GL_TOKEN"), g.gitlabToken())
	case KSA01Token:
		put("SA01_SECRETS_TOKEN", g.sa01Token())
	case KSA01Cred:
		put(g.pick("SA01_SECRETS_CREDENTIAL", "SA01_IDENTITY_CREDENTIAL"), g.sa01Cred())
	case KGeneric:
		put(g.pick("JWT_SECRET", "SESSION_SECRET", "WEBHOOK_SECRET", "OAUTH_CLIENT_SECRET", "SENTRY_AUTH_TOKEN", "DJANGO_SECRET_KEY", "NEXTAUTH_SECRET"), g.genericSecret())
	case KJWT:
		put(g.pick("SERVICE_ACCOUNT_JWT", "API_ACCESS_TOKEN", "ID_TOKEN"), g.jwt())
	default:
		panic("corpus: no env form for " + kind)
	}
}

// envNoise is an ordinary environment variable.
func (g *gen) envNoise() string {
	switch g.r.IntN(40) {
	case 0:
		return "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	case 1:
		return "HOSTNAME=" + g.podName("gateway")
	case 2:
		return "PWD=/app"
	case 3:
		return "OLDPWD=/"
	case 4:
		return "GPG_KEY=" + strings.ToUpper(g.hex(40))
	case 5:
		return "PYTHON_SHA256=" + g.sha256()
	case 6:
		return "SSH_AUTH_SOCK=/tmp/ssh-" + g.rs(alnumSet, 10) + "/agent." + fmt.Sprint(g.r.IntN(90000))
	case 7:
		return "KUBERNETES_SERVICE_HOST=10.96.0.1"
	case 8:
		return "SA01_AUTH_REQUIRED=true"
	case 9:
		return "SA01_AUTH_TOKEN_TTL=1h"
	case 10:
		return "SA01_POLICY_FILE=/etc/sa01/policy.yaml"
	case 11:
		return "SA01_AUTH_INTERNAL_TOKEN_FILE=/run/secrets/internal-token"
	case 12:
		return "SA01_DB_DSN=postgresql://gateway:****@db.internal:5432/gateway"
	case 13:
		return "OPENAI_API_KEY_FILE=/run/secrets/openai_api_key"
	case 14:
		return "AWS_REGION=eu-west-1"
	case 15:
		return "AWS_ROLE_ARN=arn:aws:iam::" + g.rs(digitSet, 12) + ":role/gateway-prod"
	case 16:
		return "AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
	case 17:
		return "GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/google/key.json"
	case 18:
		return "XAUTHORITY=/home/app/.Xauthority"
	case 19:
		return "LANG=C.UTF-8"
	case 20:
		return "PYTHON_VERSION=3.12." + fmt.Sprint(g.r.IntN(9))
	case 21:
		return "TOKENIZERS_PARALLELISM=false"
	case 22:
		return "MAX_TOKENS=4096"
	case 23:
		return "SECRET_NAME=llm/openai_api_key"
	case 24:
		return "PASSWORD_MIN_LENGTH=12"
	case 25:
		return "KEY_ID=k-" + g.hex(12)
	case 26:
		return "AUTH_MODE=oidc"
	case 27:
		return "CREDENTIALS_PROVIDER=env"
	case 28:
		return "OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-dataset=gateway"
	case 29:
		return "HOME=/home/app"
	case 30:
		return "NODE_OPTIONS=--max-old-space-size=4096"
	case 31:
		return "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0"
	case 32:
		return "API_KEY_HEADER=X-Api-Key"
	case 33:
		return "TOKEN_URL=https://auth.acme.internal/oauth2/token"
	case 34:
		return "SECRET_KEY_REF=projects/acme-prod/secrets/django-secret-key/versions/latest"
	case 35:
		return "REDIS_KEY_PREFIX=gw:prod:"
	case 36:
		return "AUTH_SERVICE_URL=http://auth.prod.svc.cluster.local:8080"
	case 37:
		return "SESSION_COOKIE_NAME=__Host-session"
	case 38:
		return "CACHE_KEY_VERSION=v" + fmt.Sprint(g.r.IntN(9))
	default:
		return "PIP_NO_CACHE_DIR=1"
	}
}

func shapes() []*Shape {
	return []*Shape{
		shapeLogfmt(), shapeJSON(), shapeNginx(), shapeApache(), shapePython(), shapeJava(), shapeGo(),
		shapeK8s(), shapePostgres(), shapeRedis(), shapeEnv(), shapeSQL(), shapeHTTP(), shapeCI(), shapeSource(),
	}
}

// logfmt: a Go or Python service writing key=value lines.
func shapeLogfmt() *Shape {
	kinds := []string{KOpenAI, KAnthropic, KGroq, KGoogleAI, KMistral, KCohere, KTogether, KXAI, KDeepSeek, KPassword,
		KPostgresURL, KRedisURL, KAMQPURL, KLibpqDSN, KSA01Token, KSA01Cred, KFernet, KJWT, KGitHub, KStripe, KGeneric,
		KAWSKeyID, KAWSSecret}
	head := func(g *gen, r *rec, level, msg string) {
		r.f(`time=%s level=%s msg=%q request_id=%s `, g.rfc3339ms(), level, msg, g.requestID())
	}
	return &Shape{Name: "logfmt", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(16) {
			case 0:
				head(g, r, "DEBUG", "cache lookup")
				r.f("key=%s hit=%v latency_ms=%d", g.redisKey(), g.chance(0.7), g.r.IntN(30))
			case 1:
				head(g, r, "INFO", "http request")
				r.f("method=POST path=%s status=%d duration_ms=%d trace_id=%s span_id=%s idempotency_key=%s",
					g.path(), g.pickInt(200, 200, 201, 401, 429), g.r.IntN(3000), g.traceID(), g.spanID(), g.uuid())
			case 2:
				head(g, r, "DEBUG", "signing request")
				r.f("service=s3 credential_scope=%s signed_headers=host;x-amz-content-sha256;x-amz-date x_amz_date=%s", g.credentialScope(), g.amzDate())
			case 3:
				head(g, r, "INFO", "secret read")
				r.f("secret_name=%s version=%d key_id=k-%s outcome=allowed token_ttl=3600 caller=%s", g.pick("llm/openai_api_key", "db/gateway/password", "redis/password"), 1+g.r.IntN(9), g.hex(12), g.user())
			case 4:
				head(g, r, "INFO", "llm call")
				r.f("provider=%s model=%s prompt_tokens=%d completion_tokens=%d max_tokens=4096 total_tokens=%d finish_reason=stop", g.pick("openai", "anthropic", "groq"), g.model(), g.r.IntN(4000), g.r.IntN(1000), g.r.IntN(5000))
			case 5:
				head(g, r, "INFO", "token issued")
				r.f("token_type=Bearer token_expires_at=%d auth=ok auth_method=%s api_key_id=ak_%s user_id=u-%d scope=%q", g.epoch()+3600, g.pick("oidc", "api_key", "mtls"), g.rs(alnumSet, 12), g.r.IntN(1e6), "chat.write files.read")
			case 6:
				head(g, r, "DEBUG", "object stored")
				r.f("bucket=acme-prod-uploads key=%s etag=%q size=%d checksum_sha256=%s", g.objectKey(), g.hex(32), g.r.IntN(1e7), g.b64digest())
			case 7:
				head(g, r, "INFO", "kafka produce")
				r.f("topic=sa01.audit partition=%d offset=%d partition_key=%s msg_key=%s", g.r.IntN(12), g.r.IntN(1e9), g.uuid(), g.ulid())
			case 8:
				head(g, r, "WARN", "rate limited")
				r.f("limiter_key=%s retry_after_ms=%d x_ratelimit_remaining_tokens=%d", g.redisKey(), g.r.IntN(1000), g.r.IntN(200000))
			case 9:
				head(g, r, "INFO", "db connect")
				r.f(`dsn="host=%s port=5432 user=%s dbname=%s sslmode=require" pool_size=%d password=****`, g.host("db"), g.user(), g.user(), 4+g.r.IntN(20))
			case 10:
				head(g, r, "DEBUG", "paginate")
				r.f("page_token=%s next_page_token=%s page_size=100", base64.RawURLEncoding.EncodeToString(g.bytes(24)), base64.RawURLEncoding.EncodeToString(g.bytes(30)))
			case 11:
				head(g, r, "INFO", "key rotated")
				r.f("key_id=%s previous_key_id=%s key_version=%d rotation=scheduled kid=%s", g.hex(12), g.hex(12), g.r.IntN(20), g.now().Format("2006-01")+"-rotation")
			case 12:
				head(g, r, "INFO", "ssh host key")
				r.f("host=%s key_type=ssh-ed25519 fingerprint=%s auth=publickey", g.host("bastion"), g.sshFingerprint())
			case 13:
				head(g, r, "DEBUG", "config loaded")
				r.f("secret_ref=%s auth_provider=google credential_source=EcsContainer password_reset=false password_policy=strong", "projects/acme-prod/secrets/"+g.pick("db-password", "openai-api-key")+"/versions/"+fmt.Sprint(1+g.r.IntN(9)))
			case 14:
				head(g, r, "INFO", "release")
				r.f("version=%s commit=%s image=%s build_key=%s", g.semver(), g.sha1(), g.imageRef(), "linux-amd64-go1.26-"+g.hex(12))
			default:
				head(g, r, "DEBUG", "upstream")
				r.f("upstream=%s session_id=%s request_token_count=%d cookie_name=__Host-session nonce=%s", g.host("api"), g.uuid(), g.r.IntN(900), g.rs(b64urlSet, 22))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			if l := llmFor(kind); l != nil {
				head(g, r, "DEBUG", "llm client init")
				r.f("provider=%s base_url=https://%s ", strings.ToLower(strings.TrimSuffix(l.env, "_API_KEY")), l.host)
				switch g.r.IntN(3) {
				case 0:
					r.s("api_key=")
				case 1:
					r.s(strings.ToLower(l.env) + "=")
				default:
					r.sf(kind, `headers="`+l.header+"%S"+`"`, l.key(g))
					return
				}
				r.secret(kind, l.key(g))
				r.f(" timeout=%ds", 30+g.r.IntN(60))
				return
			}
			switch kind {
			case KPassword:
				head(g, r, "WARN", "login attempt")
				r.f("user=%s password=", g.user())
				r.secret(kind, g.password())
				r.f(" ip=%s", g.publicIP())
			case KPostgresURL, KRedisURL, KAMQPURL:
				head(g, r, "ERROR", "connect failed")
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "url="+u[:i]+"%S", pw)
				r.f(`%s err="dial tcp: i/o timeout" attempt=%d`, u[i+len(pw):], 1+g.r.IntN(5))
			case KLibpqDSN:
				head(g, r, "ERROR", "db connect failed")
				r.f(`dsn="host=%s port=5432 user=%s password=`, g.host("db"), g.user())
				r.secret(kind, g.libpqPassword())
				r.f(` dbname=%s sslmode=require" err="FATAL: password authentication failed"`, g.user())
			case KSA01Token, KSA01Cred:
				head(g, r, "DEBUG", "secrets client")
				r.sf(kind, `addr=http://127.0.0.1:8200 auth="Bearer `+"%S"+`" renew_in=50m`, g.secretValue(kind))
			case KFernet:
				head(g, r, "WARN", "key material")
				r.sf(kind, "loaded key %S for ring primary=true", g.fernetKey())
			case KJWT:
				head(g, r, "DEBUG", "auth")
				r.sf(kind, `authorization="Bearer `+"%S"+`" sub=svc-42`, g.jwt())
			case KGitHub, KStripe, KGeneric:
				head(g, r, "DEBUG", "webhook config")
				name := map[string]string{KGitHub: "github_token", KStripe: "stripe_key", KGeneric: g.pick("client_secret", "webhook_secret", "signing_secret", "api_token")}[kind]
				r.sf(kind, name+"=%S", g.secretValue(kind))
			case KAWSKeyID:
				head(g, r, "DEBUG", "aws credentials")
				r.sf(kind, "access_key_id=%S region=eu-west-1 source=env", g.awsKeyID())
			case KAWSSecret:
				head(g, r, "DEBUG", "aws credentials")
				r.sf(kind, "aws_secret_access_key=%S region=eu-west-1", g.awsSecret())
			}
		},
	}
}

func (g *gen) libpqPassword() string {
	if g.chance(0.3) {
		return "%" + g.pick("i", "s", "d") + "@" + g.rs(alnumSet, 10)
	}
	return strings.NewReplacer(" ", "", "'", "", `"`, "").Replace(g.password())
}

// JSON lines: structured application logs.
func shapeJSON() *Shape {
	kinds := []string{KOpenAI, KAnthropic, KOpenRouter, KHuggingFace, KAzureOpenAI, KCohere, KGCP, KPrivateKey, KJWT, KGeneric,
		KPassword, KSlack, KSlackHook, KStripe, KPostgresURL, KSA01Token, KKafkaSASL}
	head := func(g *gen, r *rec, level, msg string) {
		r.f(`{"ts":"%s","level":"%s","logger":"%s","msg":"%s","request_id":"%s",`, g.rfc3339us(), level, g.pick("gateway.http", "gateway.llm", "worker.tasks", "auth"), msg, g.requestID())
	}
	return &Shape{Name: "jsonl", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(12) {
			case 0:
				head(g, r, "debug", "cache lookup")
				r.f(`"cache_key":"sha256:%s","key":"%s","hit":%v,"latency_ms":%d}`, g.sha256(), g.redisKey(), g.chance(0.5), g.r.IntN(40))
			case 1:
				head(g, r, "warn", "rate limited")
				r.f(`"trace_id":"%s","idempotency_key":"%s","retry_after_ms":%d,"api_key":"****","dsn":"postgresql://gateway:****@db.internal:5432/gateway"}`, g.traceID(), g.uuid(), g.r.IntN(1000))
			case 2:
				head(g, r, "info", "llm response")
				r.f(`"provider":"openai","model":"%s","id":"chatcmpl-%s","system_fingerprint":"fp_%s","usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d},"x-ratelimit-remaining-tokens":"%d"}`, g.model(), g.rs(alnumSet, 29), g.hex(10), g.r.IntN(4000), g.r.IntN(900), g.r.IntN(5000), g.r.IntN(200000))
			case 3:
				head(g, r, "info", "anthropic response")
				r.f(`"id":"msg_01%s","type":"message","stop_reason":"end_turn","usage":{"input_tokens":%d,"output_tokens":%d,"cache_read_input_tokens":%d}}`, g.rs(alnumSet, 22), g.r.IntN(9000), g.r.IntN(900), g.r.IntN(4000))
			case 4:
				head(g, r, "info", "jwks refreshed")
				r.f(`"jwks_uri":"https://auth.acme.internal/.well-known/jwks.json","keys":[{"kty":"RSA","kid":"%s","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}`, g.hex(16), g.jwkModulus())
			case 5:
				head(g, r, "info", "oauth token exchanged")
				r.f(`"grant_type":"client_credentials","client_id":"gw-prod","token_endpoint_auth_method":"client_secret_basic","token_type":"Bearer","expires_in":3600,"scope":"openid profile"}`)
			case 6:
				head(g, r, "info", "stripe event")
				r.f(`"event_id":"evt_%s","customer":"cus_%s","payment_intent":"pi_%s","publishable_key":"pk_live_%s","livemode":true}`, g.rs(alnumSet, 24), g.rs(alnumSet, 14), g.rs(alnumSet, 24), g.rs(alnumSet, 99))
			case 7:
				head(g, r, "debug", "secret cached")
				r.f(`"secret":"%s","secret_version":%d,"ciphertext":"%s","key_id":"%s"}`, g.pick("llm/openai_api_key", "db/gateway/password"), 1+g.r.IntN(9), g.fernetToken(), g.hex(12))
			case 8:
				head(g, r, "info", "upload")
				r.f(`"s3":{"Bucket":"acme-exports","Key":"%s","ETag":"\"%s\"","ChecksumSHA256":"%s","VersionId":"%s"}}`, g.objectKey(), g.hex(32), g.b64digest(), g.rs(alnumSet+"._", 32))
			case 9:
				head(g, r, "info", "auth")
				r.f(`"auth":{"method":"api_key","key_prefix":"sk-proj-%s","key_last4":"%s","authenticated":true,"credential_id":"cred_%s"}}`, g.rs(alnumSet, 4), g.rs(alnumSet, 4), g.rs(alnumSet, 16))
			case 10:
				head(g, r, "info", "slack notified")
				r.f(`"channel":"C%s","ts":"%d.%06d","team":"T%s","bot_id":"B%s"}`, g.rs(upperSet+digitSet, 10), g.epoch(), g.r.IntN(1e6), g.rs(upperSet+digitSet, 8), g.rs(upperSet+digitSet, 10))
			default:
				head(g, r, "info", "request")
				r.f(`"method":"GET","path":"%s","status":200,"user_agent":"python-httpx/0.27.0","session_id":"%s","csrf_cookie":"present","traceparent":"00-%s-%s-01"}`, g.path(), g.uuid(), g.traceID(), g.spanID())
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			if l := llmFor(kind); l != nil {
				head(g, r, "debug", "outgoing request")
				h := strings.SplitN(l.header, ": ", 2)
				r.f(`"url":"https://%s/v1/chat/completions","headers":{"%s":"%s`, l.host, h[0], h[1])
				r.secret(kind, l.key(g))
				r.s(`","content-type":"application/json"}}`)
				return
			}
			switch kind {
			case KGCP:
				head(g, r, "error", "vertex credentials rejected")
				r.sf(kind, `"credentials":{"type":"service_account","project_id":"acme-prod","private_key_id":"`+"%S"+`","private_key":"`, g.gcpKeyID())
				r.secret(KPrivateKey, g.pem(`\n`)+`\n`)
				r.f(`","client_email":"gateway@acme-prod.iam.gserviceaccount.com","client_id":"%s"}}`, g.rs(digitSet, 21))
			case KPrivateKey:
				head(g, r, "error", "cannot parse tls key")
				r.sf(kind, `"key_file":"/etc/tls/tls.key","contents":"`+"%S"+`"}`, g.pem(`\n`))
			case KJWT:
				head(g, r, "debug", "token verified")
				r.sf(kind, `"id_token":"`+"%S"+`","aud":"gateway"}`, g.jwt())
			case KGeneric:
				head(g, r, "debug", "oauth exchange")
				r.sf(kind, `"client_id":"gw-prod","client_secret":"`+"%S"+`"}`, g.genericSecret())
			case KPassword:
				head(g, r, "warn", "signup")
				r.f(`"form":{"email":"user%d@example.com","password":"`, g.r.IntN(1e5))
				r.secret(kind, g.jsonEscape(g.password()))
				r.s(`","remember":true}}`)
			case KSlack, KSlackHook, KStripe, KSA01Token:
				head(g, r, "debug", "integration settings")
				name := map[string]string{KSlack: "slack_bot_token", KSlackHook: "webhook_url", KStripe: "stripe_secret", KSA01Token: "token"}[kind]
				r.f(`"%s":"`, name)
				r.secret(kind, g.secretValue(kind))
				r.s(`"}`)
			case KPostgresURL:
				head(g, r, "error", "pool init failed")
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, `"database_url":"`+u[:i]+"%S"+u[i+len(pw):]+`"}`, pw)
			case KKafkaSASL:
				head(g, r, "info", "kafka config")
				r.f(`"bootstrap.servers":"kafka-0.kafka:9093","security.protocol":"SASL_SSL","sasl.mechanism":"SCRAM-SHA-512","sasl.username":"%s","sasl.password":"`, g.user())
				r.secret(kind, g.jsonEscape(g.password()))
				r.s(`"}`)
			}
		},
	}
}

func (g *gen) jsonEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// nginx access log (combined) with the request's query string.
func shapeNginx() *Shape {
	kinds := []string{KGoogleAI, KJWT, KGeneric, KGitHub, KSA01Token, KPassword, KSlackHook}
	line := func(g *gen, r *rec, method, uri string) {
		r.f(`%s - - [%s] "%s `, g.publicIP(), g.clf(), method)
		r.s(uri)
	}
	tail := func(g *gen, r *rec) {
		r.f(` HTTP/1.1" %d %d "%s" "%s" rt=%.3f uct="0.001" urt="%.3f" rid=%s`, g.pickInt(200, 200, 204, 301, 401, 404), g.r.IntN(90000),
			g.pick("-", "https://app.acme.io/", "https://app.acme.io/settings/keys"), g.pick("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "python-requests/2.32.3", "curl/8.5.0", "Go-http-client/2.0"),
			g.r.Float64(), g.r.Float64(), g.hex(32))
	}
	return &Shape{Name: "nginx", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(9) {
			case 0:
				line(g, r, "GET", fmt.Sprintf("/v1/objects?key=%s&versionId=%s", g.objectKey(), g.rs(alnumSet, 32)))
			case 1:
				line(g, r, "GET", fmt.Sprintf("/oauth/callback?code=%s&state=%s", g.rs(b64urlSet, 40), g.rs(b64urlSet, 22)))
			case 2:
				line(g, r, "GET", fmt.Sprintf("/api/v2/items?page_token=%s&limit=50", base64.RawURLEncoding.EncodeToString(g.bytes(27))))
			case 3:
				line(g, r, "GET", fmt.Sprintf("/static/app.%s.js?v=%s", g.hex(8), g.semver()))
			case 4:
				line(g, r, "POST", "/v1/chat/completions")
			case 5:
				line(g, r, "GET", fmt.Sprintf("/api/cache?key=%s", g.redisKey()))
			case 6:
				line(g, r, "GET", fmt.Sprintf("/download?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s&X-Amz-Expires=300&X-Amz-SignedHeaders=host", strings.ReplaceAll(g.credentialScope(), "/", "%2F"), g.amzDate()))
			case 7:
				line(g, r, "GET", fmt.Sprintf("/reset-password?email=user%d%%40example.com&token_sent=true&password_reset=1", g.r.IntN(1e5)))
			default:
				line(g, r, "GET", g.path())
			}
			tail(g, r)
		},
		secret: func(g *gen, r *rec, kind string) {
			r.f(`%s - - [%s] "GET `, g.publicIP(), g.clf())
			switch kind {
			case KGoogleAI:
				r.sf(kind, "/v1beta/models/gemini-2.0-flash:generateContent?key=%S", g.googleKey())
			case KJWT:
				r.sf(kind, "/ws/stream?access_token=%S", g.jwt())
			case KGeneric:
				r.sf(kind, "/api/export?format=csv&api_key=%S", g.genericSecret())
			case KGitHub:
				r.sf(kind, "/repos/acme/gateway/tarball?access_token=%S", g.githubToken())
			case KSA01Token:
				r.sf(kind, "/v1/secrets/llm/openai_api_key?token=%S", g.sa01Token())
			case KPassword:
				r.f("/login?user=%s&password=", g.user())
				r.secret(kind, g.urlPassword())
			case KSlackHook:
				r.sf(kind, "/proxy?target=%S", g.slackWebhook())
			}
			tail(g, r)
		},
	}
}

// Apache: access log and error log lines.
func shapeApache() *Shape {
	kinds := []string{KPassword, KPostgresURL, KGeneric, KJWT, KBasicAuth}
	return &Shape{Name: "apache", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(6) {
			case 0:
				r.f(`%s - %s [%s] "GET %s HTTP/1.1" 200 %d "-" "Mozilla/5.0"`, g.publicIP(), g.pick("-", "alice", "bob"), g.clf(), g.path(), g.r.IntN(50000))
			case 1:
				r.f(`[%s] [auth_basic:error] [pid %d:tid %d] [client %s:%d] AH01618: user %s not found: /admin`, g.now().Format("Mon Jan 02 15:04:05.000000 2006"), g.r.IntN(9999), g.r.IntN(1e9), g.publicIP(), g.r.IntN(65535), g.user())
			case 2:
				r.f(`[%s] [ssl:warn] [pid %d] AH01909: www.acme.io:443:0 server certificate does NOT include an ID which matches the server name; key file /etc/ssl/private/acme.key`, g.now().Format("Mon Jan 02 15:04:05.000000 2006"), g.r.IntN(9999))
			case 3:
				r.f(`[%s] [php:notice] [pid %d] [client %s] apcu_fetch(): miss key=%s token_name=csrf_token`, g.now().Format("Mon Jan 02 15:04:05.000000 2006"), g.r.IntN(9999), g.publicIP(), g.pick("acme:config:v3", "acme:routes:"+g.hex(8), fmt.Sprintf("tenant:%d:settings", g.r.IntN(900))))
			case 4:
				r.f(`[%s] [core:info] [pid %d] AH00128: File does not exist: /var/www/html/.env, referer: -`, g.now().Format("Mon Jan 02 15:04:05.000000 2006"), g.r.IntN(9999))
			default:
				r.f(`%s - - [%s] "POST /wp-login.php HTTP/1.1" 302 - "-" "Mozilla/5.0" auth=%s`, g.publicIP(), g.clf(), g.pick("none", "basic", "failed"))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			t := g.now().Format("Mon Jan 02 15:04:05.000000 2006")
			switch kind {
			case KPassword:
				r.f(`[%s] [php:error] [pid %d] [client %s] PHP Warning:  mysqli::real_connect(): (HY000/1045): Access denied; config db_pass=`, t, g.r.IntN(9999), g.publicIP())
				r.secret(kind, strings.ReplaceAll(g.password(), " ", ""))
				r.s(" in /var/www/html/config.php on line 12")
			case KPostgresURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.f(`[%s] [php:error] [pid %d] PHP Fatal error:  Uncaught PDOException: could not connect to "%s`, t, g.r.IntN(9999), u[:i])
				r.secret(kind, pw)
				r.s(u[i+len(pw):] + `" in /var/www/html/db.php:8`)
			case KGeneric:
				r.f(`%s - - [%s] "GET /hooks/deploy?secret=`, g.publicIP(), g.clf())
				r.secret(kind, g.genericSecret())
				r.s(` HTTP/1.1" 200 12 "-" "GitHub-Hookshot/a1b2c3d"`)
			case KJWT:
				r.f(`%s - - [%s] "GET /api/me?jwt=`, g.publicIP(), g.clf())
				r.secret(kind, g.jwt())
				r.s(` HTTP/1.1" 200 512 "-" "okhttp/4.12.0"`)
			case KBasicAuth:
				r.f(`[%s] [proxy:debug] [pid %d] mod_proxy.c(1203): AH01143: forwarding with header Authorization: Basic `, t, g.r.IntN(9999))
				r.secret(kind, b64(g.user()+":"+g.password()))
			}
		},
	}
}

// Python tracebacks, with frame locals as error trackers print them.
func shapePython() *Shape {
	kinds := []string{KLibpqDSN, KPostgresURL, KRedisURL, KOpenAI, KAnthropic, KPassword, KAWSSecret, KHuggingFace, KKafkaSASL, KAMQPURL}
	logHead := func(g *gen, r *rec, level, logger, msg string) {
		r.f("%s %s [%s] %s\n", g.pyTime(), level, logger, msg)
	}
	return &Shape{Name: "python-traceback", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(6) {
			case 0:
				logHead(g, r, "ERROR", "worker.tasks", "task embed_documents failed")
				r.s("Traceback (most recent call last):\n")
				r.f("  File \"/usr/local/lib/python3.12/site-packages/celery/app/trace.py\", line 453, in trace_task\n    R = retval = fun(*args, **kwargs)\n")
				r.f("  File \"/app/worker/tasks.py\", line %d, in embed_documents\n    resp = client.embeddings.create(model=model, input=batch)\n", 40+g.r.IntN(200))
				r.f("openai.AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-proj-********************%s. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error', 'code': 'invalid_api_key'}}\n", g.rs(alnumSet, 4))
			case 1:
				logHead(g, r, "ERROR", "gateway.db", "could not connect")
				r.s("Traceback (most recent call last):\n")
				r.f("  File \"/usr/local/lib/python3.12/site-packages/psycopg/connection.py\", line 119, in connect\n    raise last_ex.with_traceback(None)\n")
				r.f("psycopg.OperationalError: connection failed: connection to server at \"%s\", port 5432 failed: FATAL:  password authentication failed for user \"%s\"\n", g.ip(), g.user())
			case 2:
				logHead(g, r, "WARNING", "gateway.auth", "token refresh failed")
				r.s("Traceback (most recent call last):\n")
				r.f("  File \"/app/gateway/auth.py\", line %d, in refresh_token\n    token = self._session.fetch_token(token_url=self.token_url, client_id=self.client_id, client_secret=self.client_secret)\n", 10+g.r.IntN(90))
				r.f("    token_url = 'https://auth.acme.internal/oauth2/token'\n    client_id = 'gw-prod'\n    client_secret = SecretStr('**********')\n    self = <gateway.auth.TokenManager object at 0x7f%s>\n", g.hex(10))
				r.s("oauthlib.oauth2.rfc6749.errors.InvalidClientError: (invalid_client) Client authentication failed.\n")
			case 3:
				logHead(g, r, "ERROR", "gateway.cache", "redis error")
				r.s("Traceback (most recent call last):\n")
				r.f("  File \"/app/gateway/cache.py\", line %d, in get\n    return self.redis.get(key)\n", 20+g.r.IntN(80))
				r.f("    key = '%s'\n    self = <gateway.cache.Cache object at 0x7f%s>\n", g.redisKey(), g.hex(10))
				r.s("redis.exceptions.ConnectionError: Error 111 connecting to redis.internal:6379. Connection refused.\n")
			case 4:
				logHead(g, r, "INFO", "uvicorn.access", fmt.Sprintf("%s:%d - \"POST %s HTTP/1.1\" 200", g.ip(), g.r.IntN(65535), g.path()))
			default:
				logHead(g, r, "ERROR", "gateway.llm", "KeyError while building request")
				r.s("Traceback (most recent call last):\n")
				r.f("  File \"/app/gateway/providers.py\", line %d, in build_headers\n    api_key = settings.PROVIDER_KEYS[provider]\n", 30+g.r.IntN(50))
				r.f("    provider = '%s'\n    api_key_env = 'OPENAI_API_KEY'\n    secret_name = 'llm/openai_api_key'\n    token_budget = %d\n", g.pick("openai", "anthropic", "mistral"), g.r.IntN(100000))
				r.s("KeyError: 'mistral'\n")
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			logHead(g, r, "ERROR", "gateway.errors", "unhandled exception")
			r.s("Traceback (most recent call last):\n")
			r.f("  File \"/app/gateway/%s.py\", line %d, in %s\n", g.pick("db", "llm", "storage", "events"), 10+g.r.IntN(300), g.pick("connect", "call", "upload", "publish"))
			switch kind {
			case KLibpqDSN:
				r.sf(kind, "    conn = psycopg.connect(dsn)\n    dsn = 'host="+g.host("db")+" user="+g.user()+" password=%S dbname=app'\n", g.libpqPassword())
				r.s("psycopg.OperationalError: connection timeout expired\n")
			case KPostgresURL, KRedisURL, KAMQPURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "    engine = create_engine(url)\n    url = '"+u[:i]+"%S"+u[i+len(pw):]+"'\n", pw)
				r.s("sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection refused\n")
			case KOpenAI, KAnthropic, KHuggingFace:
				r.sf(kind, "    client = Client(api_key=api_key)\n    api_key = '%S'\n    model = '"+g.model()+"'\n", g.secretValue(kind))
				r.s("httpx.ConnectError: [Errno 111] Connection refused\n")
			case KPassword:
				r.sf(kind, "    smtp.login(user, password)\n    user = 'alerts@acme.io'\n    password = '%S'\n", strings.ReplaceAll(g.password(), "'", ""))
				r.s("smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted.')\n")
			case KAWSSecret:
				r.f("    s3 = boto3.client('s3', aws_access_key_id=key_id, aws_secret_access_key=secret)\n    key_id = '%s'\n", "AKIA"+strings.Repeat("X", 16))
				r.sf(kind, "    aws_secret_access_key = '%S'\n", g.awsSecret())
				r.s("botocore.exceptions.ClientError: An error occurred (SignatureDoesNotMatch) when calling the PutObject operation\n")
			case KKafkaSASL:
				r.sf(kind, "    producer = KafkaProducer(bootstrap_servers=servers, security_protocol='SASL_SSL', sasl_mechanism='PLAIN', sasl_plain_username='gateway', sasl_plain_password='%S')\n", strings.ReplaceAll(g.password(), "'", ""))
				r.s("kafka.errors.NoBrokersAvailable: NoBrokersAvailable\n")
			}
		},
	}
}

// Java stack traces and Spring Boot logs.
func shapeJava() *Shape {
	kinds := []string{KPostgresURL, KPassword, KKafkaSASL, KAMQPURL, KAWSKeyID, KAWSSecret, KPrivateKey, KGeneric}
	head := func(g *gen, r *rec, level, logger, msg string) {
		r.f("%s %5s 1 --- [%s] %-40s : %s\n", g.now().Format("2006-01-02T15:04:05.000Z07:00"), level, g.pick("main", "http-nio-8080-exec-3", "kafka-producer-network-thread | producer-1"), logger, msg)
	}
	frames := func(g *gen, r *rec) {
		for i := g.n(3, 8); i > 0; i-- {
			r.f("\tat %s\n", g.pick(
				"org.springframework.security.oauth2.client.endpoint.DefaultClientCredentialsTokenResponseClient.getTokenResponse(DefaultClientCredentialsTokenResponseClient.java:78)",
				"com.acme.gateway.auth.ApiKeyAuthenticationFilter.doFilterInternal(ApiKeyAuthenticationFilter.java:57)",
				"com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:476)",
				"org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:346)",
				"org.apache.kafka.common.security.authenticator.SaslClientAuthenticator.authenticate(SaslClientAuthenticator.java:269)",
				"java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
				"com.acme.gateway.secrets.SecretKeyResolver.resolve(SecretKeyResolver.java:31)",
				"io.jsonwebtoken.impl.DefaultJwtParser.parse(DefaultJwtParser.java:445)"))
		}
	}
	return &Shape{Name: "java-stacktrace", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(6) {
			case 0:
				head(g, r, "ERROR", "o.a.c.c.C.[.[.[/].[dispatcherServlet]", "Servlet.service() threw exception")
				r.s("io.jsonwebtoken.ExpiredJwtException: JWT expired at 2025-03-12T10:00:00Z. Current time: 2025-03-12T10:05:00Z, a difference of 300000 milliseconds.\n")
				frames(g, r)
			case 1:
				head(g, r, "WARN", "com.zaxxer.hikari.pool.PoolBase", "HikariPool-1 - Failed to validate connection")
				r.f("org.postgresql.util.PSQLException: FATAL: password authentication failed for user \"%s\"\n", g.user())
				frames(g, r)
				r.f("Caused by: java.net.ConnectException: Connection refused\n\t... %d common frames omitted\n", g.r.IntN(40))
			case 2:
				head(g, r, "INFO", "o.s.b.c.config.ConfigDataEnvironment", "Property source loaded")
				r.f("spring.datasource.url=jdbc:postgresql://%s:5432/app\nspring.datasource.username=%s\nspring.datasource.password=******\nspring.security.oauth2.client.registration.acme.client-secret=${OAUTH_CLIENT_SECRET}\n", g.host("db"), g.user())
			case 3:
				head(g, r, "INFO", "o.a.k.clients.producer.ProducerConfig", "ProducerConfig values:")
				r.f("\tsasl.jaas.config = [hidden]\n\tsasl.mechanism = SCRAM-SHA-512\n\tssl.key.password = null\n\tssl.keystore.location = /etc/kafka/keystore.jks\n\tssl.truststore.password = [hidden]\n\tkey.serializer = class org.apache.kafka.common.serialization.StringSerializer\n\ttransactional.id = gateway-%s\n", g.hex(8))
			case 4:
				head(g, r, "DEBUG", "c.a.g.security.KeyResolver", fmt.Sprintf("resolved signing key kid=%s alg=RS256 keyId=%s x5t#S256=%s", g.hex(16), g.uuid(), base64.RawURLEncoding.EncodeToString(g.bytes(32))))
			default:
				head(g, r, "INFO", "o.s.web.servlet.DispatcherServlet", fmt.Sprintf("Completed initialization in %d ms", g.r.IntN(900)))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KPostgresURL:
				head(g, r, "ERROR", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Exception during pool initialization.")
				pw := g.urlPassword()
				r.f("org.postgresql.util.PSQLException: Connection to jdbc:postgresql://%s:5432/app?user=%s&password=", g.host("db"), g.user())
				r.secret(kind, strings.ReplaceAll(pw, "&", ""))
				r.s("&ssl=true refused.\n")
				frames(g, r)
			case KPassword:
				head(g, r, "INFO", "o.s.b.c.config.ConfigDataEnvironment", "Property source loaded")
				r.sf(kind, "spring.datasource.password=%S\n", g.password())
			case KKafkaSASL:
				head(g, r, "INFO", "o.a.k.clients.producer.ProducerConfig", "ProducerConfig values:")
				r.f("\tsasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"", g.user())
				r.secret(kind, strings.ReplaceAll(g.password(), `"`, ""))
				r.s("\";\n\tsasl.mechanism = SCRAM-SHA-512\n")
			case KAMQPURL:
				head(g, r, "ERROR", "o.s.a.r.l.SimpleMessageListenerContainer", "Failed to check/redeclare auto-delete queue(s).")
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "org.springframework.amqp.AmqpConnectException: java.net.ConnectException: Connection refused: "+u[:i]+"%S"+u[i+len(pw):]+"\n", pw)
				frames(g, r)
			case KAWSKeyID:
				head(g, r, "DEBUG", "s.a.a.auth.credentials.AwsCredentialsProviderChain", "Loading credentials from StaticCredentialsProvider")
				r.sf(kind, "AwsBasicCredentials(accessKeyId=%S, secretAccessKey=*** Sensitive Data Redacted ***)\n", g.awsKeyID())
			case KAWSSecret:
				head(g, r, "DEBUG", "c.a.g.storage.S3Config", "static credentials")
				r.f("aws.accessKeyId=AKIA%s aws.secretAccessKey=", strings.Repeat("X", 16))
				r.secret(kind, g.awsSecret())
				r.s("\n")
			case KPrivateKey:
				head(g, r, "ERROR", "c.a.g.tls.KeyLoader", "could not load key, contents follow")
				r.secret(kind, g.pem("\n"))
				r.s("\njava.security.spec.InvalidKeySpecException: java.security.InvalidKeyException: IOException : algid parse error, not a sequence\n")
				frames(g, r)
			case KGeneric:
				head(g, r, "DEBUG", "o.s.s.oauth2.client.registration", "registration acme")
				r.sf(kind, "client-id=gw-prod client-secret=%S authorization-grant-type=client_credentials\n", g.genericSecret())
			}
		},
	}
}

// Go panics with goroutine dumps.
func shapeGo() *Shape {
	kinds := []string{KPostgresURL, KRedisURL, KOpenAI, KXAI, KDeepSeek, KSA01Token, KSA01Cred, KFernet, KGitHub, KGitLab}
	stack := func(g *gen, r *rec) {
		r.f("\ngoroutine %d [running]:\n", 1+g.r.IntN(400))
		for i := g.n(2, 6); i > 0; i-- {
			r.f("%s(%s)\n\t%s +0x%x\n", g.pick("main.(*Server).handleToken", "github.com/acme/gateway/internal/auth.(*KeyStore).Lookup", "net/http.HandlerFunc.ServeHTTP",
				"github.com/acme/gateway/internal/llm.(*Client).Do", "main.main"),
				g.pick("0xc000"+g.hex(6)+", {0x"+g.hex(6)+", 0xc000"+g.hex(6)+"}", "0x"+g.hex(7)+", 0x"+g.hex(2), "{0xc0001a2000, 0x3c}, 0x1"),
				g.pick("/app/internal/auth/keys.go:142", "/usr/local/go/src/net/http/server.go:2220", "/app/cmd/gateway/main.go:57"), g.r.IntN(4096))
		}
	}
	return &Shape{Name: "go-panic", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(5) {
			case 0:
				r.s("panic: runtime error: invalid memory address or nil pointer dereference\n")
				r.f("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x%s]\n", g.hex(6))
				stack(g, r)
			case 1:
				r.f("panic: auth: key %q not found in keyring (key_id=%s)\n", g.hex(12), g.hex(12))
				stack(g, r)
			case 2:
				r.f("%s INFO starting gateway version=%s commit=%s go=go1.26.8 token_cache_size=%d\n", g.rfc3339ms(), g.semver(), g.sha1(), 1024)
			case 3:
				r.f("panic: cache: unexpected value for key=%s: json: cannot unmarshal string into Go value of type int\n", g.redisKey())
				stack(g, r)
			default:
				r.f("%s ERROR upstream failed url=https://api.openai.com/v1/chat/completions status=429 x_request_id=req_%s retry_after=%ds\n", g.rfc3339ms(), g.hex(32), g.r.IntN(60))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KPostgresURL, KRedisURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "panic: connect "+u[:i]+"%S"+u[i+len(pw):]+": dial tcp: lookup "+g.host("db")+": no such host\n", pw)
			case KOpenAI, KXAI, KDeepSeek:
				r.sf(kind, `panic: llm: provider rejected key "`+"%S\": 401 Unauthorized\n", g.secretValue(kind))
			case KSA01Token, KSA01Cred:
				r.sf(kind, "panic: renew: POST http://127.0.0.1:8200/v1/auth/renew: token %S expired\n", g.secretValue(kind))
			case KFernet:
				r.sf(kind, "panic: fernet: cannot use key %S: not the primary\n", g.fernetKey())
			case KGitHub, KGitLab:
				r.sf(kind, "panic: git clone https://oauth2:%S@"+g.pick("github.com", "gitlab.com")+"/acme/models.git: exit status 128\n", g.secretValue(kind))
			}
			stack(g, r)
		},
	}
}

// Kubernetes: events, describe output, secrets as YAML.
func shapeK8s() *Shape {
	kinds := []string{KK8sSecret, KSA01Env, KPostgresURL, KOpenAI, KAWSKeyID, KAWSSecret, KPrivateKey, KPassword}
	return &Shape{Name: "k8s", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			pod := g.podName(g.pick("gateway", "worker", "console"))
			switch g.r.IntN(8) {
			case 0:
				r.f("%ds         Normal    Scheduled           pod/%s            Successfully assigned prod/%s to ip-10-0-%d-%d.eu-west-1.compute.internal", g.r.IntN(600), pod, pod, g.r.IntN(255), g.r.IntN(255))
			case 1:
				r.f("%dm         Warning   FailedMount         pod/%s            MountVolume.SetUp failed for volume \"db-credentials\" : secret \"db-credentials\" not found", g.r.IntN(60), pod)
			case 2:
				r.f("%ds         Normal    Pulled              pod/%s            Successfully pulled image \"%s\" in 1.2s", g.r.IntN(600), pod, g.imageRef())
			case 3:
				r.f("{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s.%s\",\"namespace\":\"prod\",\"uid\":\"%s\",\"resourceVersion\":\"%d\"},\"reason\":\"Created\",\"message\":\"Created container gateway\",\"source\":{\"component\":\"kubelet\"}}", pod, g.hex(16), g.uuid(), g.r.IntN(1e8))
			case 4:
				r.f("Name:         %s\nNamespace:    prod\nLabels:       app=gateway\n                pod-template-hash=%s\nContainers:\n  gateway:\n    Image:          %s\n    Environment:\n      OPENAI_API_KEY:    <set to the key 'openai-api-key' in secret 'llm'>  Optional: false\n      SA01_DB_DSN:       <set to the key 'dsn' in secret 'db'>  Optional: false\n      SA01_AUTH_REQUIRED:  true\n    Mounts:\n      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-%s (ro)", pod, g.rs(lowerAlnm, 10), g.imageRef(), g.rs(lowerAlnm, 5))
			case 5:
				r.f("apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-gateway\n  namespace: prod\n  annotations:\n    cert-manager.io/issuer-name: letsencrypt\ntype: kubernetes.io/tls\ndata:\n  ca.crt: %s\n  tls.crt: %s", g.certBody(), g.certBody())
			case 6:
				r.f("%ds         Warning   BackOff             pod/%s            Back-off restarting failed container worker in pod %s_prod(%s)", g.r.IntN(600), pod, pod, g.uuid())
			default:
				r.f("secretKeyRef:\n  name: llm-keys\n  key: openai-api-key\nenvFrom:\n- secretRef:\n    name: gateway-env\nserviceAccountToken:\n  audience: vault\n  expirationSeconds: 3600")
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KK8sSecret:
				r.f("apiVersion: v1\ndata:\n  username: %s\n  %s: ", b64(g.user()), g.pick("password", "api-key", "token", "client-secret"))
				r.secret(kind, b64(g.password()))
				r.s("\nkind: Secret\nmetadata:\n  name: db-credentials\n  namespace: prod\ntype: Opaque")
			case KPrivateKey:
				r.s("apiVersion: v1\nkind: Secret\nmetadata:\n  name: deploy-key\nstringData:\n  id_ed25519: |\n")
				pem := g.pem("\n")
				lines := strings.Split(pem, "\n")
				r.sf(kind, "    %S\ntype: Opaque", strings.Join(lines, "\n    "))
			case KPostgresURL:
				r.s("    Environment:\n      SA01_DB_DSN:       ")
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, u[:i]+"%S", pw)
				r.s(u[i+len(pw):] + "\n      SA01_AUTH_REQUIRED:  true")
			default:
				r.s("    env:\n    - name: ")
				var tmp rec
				g.envPair(&tmp, kind, "=", "")
				p := tmp.planted[0]
				name := string(tmp.b[:p.off-1])
				r.sf(kind, name+"\n      value: \"%S", string(tmp.b[p.off:p.end]))
				r.s("\"\n    - name: LOG_LEVEL\n      value: info")
			}
		},
	}
}

// PostgreSQL server log with log_statement and connection logging.
func shapePostgres() *Shape {
	kinds := []string{KSQLPassword, KLibpqDSN, KPostgresURL, KStripe, KGeneric}
	head := func(g *gen, r *rec, level string) {
		r.f("%s [%d] %s@%s %s:  ", g.pgTime(), 1000+g.r.IntN(60000), g.user(), g.user(), level)
	}
	return &Shape{Name: "postgres", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(9) {
			case 0:
				head(g, r, "LOG")
				r.f("connection authorized: user=%s database=%s application_name=%s SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)", g.user(), g.user(), g.pick("gateway", "psql", "pgbouncer"))
			case 1:
				head(g, r, "FATAL")
				r.f("password authentication failed for user \"%s\"\n", g.user())
				head(g, r, "DETAIL")
				r.s(`Connection matched pg_hba.conf line 99: "host all all 0.0.0.0/0 scram-sha-256"`)
			case 2:
				head(g, r, "LOG")
				r.f("duration: %.3f ms  execute <unnamed>: SELECT id, owner FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL\n", g.r.Float64()*30)
				head(g, r, "DETAIL")
				r.f("parameters: $1 = '\\x%s'", g.sha256())
			case 3:
				head(g, r, "ERROR")
				r.f("duplicate key value violates unique constraint \"api_keys_pkey\"\n")
				head(g, r, "DETAIL")
				r.f("Key (id)=(%d) already exists.", g.r.IntN(1e6))
			case 4:
				head(g, r, "LOG")
				r.f("statement: SELECT value FROM cache WHERE key = '%s'", g.redisKey())
			case 5:
				head(g, r, "LOG")
				r.f("statement: UPDATE users SET password_hash = '%s', password_changed_at = now() WHERE id = %d", g.bcrypt(), g.r.IntN(1e6))
			case 6:
				head(g, r, "LOG")
				r.f("statement: ALTER ROLE %s WITH PASSWORD '%s'", g.user(), g.scram())
			case 7:
				r.f("%s [%d] LOG:  checkpoint complete: wrote %d buffers (%.1f%%); 0 WAL file(s) added, 0 removed, 1 recycled; write=%.3f s", g.pgTime(), 100+g.r.IntN(900), g.r.IntN(9000), g.r.Float64()*10, g.r.Float64()*30)
			default:
				head(g, r, "LOG")
				r.f("statement: SELECT s.name, v.token FROM secrets s JOIN versions v ON v.secret_id = s.id WHERE s.name = 'llm/openai_api_key' AND v.version = %d", 1+g.r.IntN(9))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			head(g, r, "LOG")
			switch kind {
			case KSQLPassword:
				pw := strings.ReplaceAll(g.password(), "'", "")
				switch g.r.IntN(3) {
				case 0:
					r.f("statement: ALTER ROLE %s WITH PASSWORD '", g.user())
				case 1:
					r.f("statement: CREATE ROLE %s LOGIN PASSWORD '", g.user())
				default:
					r.f("statement: ALTER USER %s PASSWORD '", g.user())
				}
				r.secret(kind, pw)
				r.s("'")
			case KLibpqDSN:
				r.f("statement: SELECT dblink_connect('remote', 'host=%s port=5432 dbname=app user=%s password=", g.host("replica"), g.user())
				r.secret(kind, strings.ReplaceAll(g.libpqPassword(), "'", ""))
				r.s("')")
			case KPostgresURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "statement: CREATE SUBSCRIPTION sub_billing CONNECTION '"+u[:i]+"%S"+u[i+len(pw):]+"' PUBLICATION pub_billing", pw)
			case KStripe, KGeneric:
				r.f("execute <unnamed>: INSERT INTO integrations (tenant_id, provider, secret) VALUES ($1, $2, $3)\n")
				head(g, r, "DETAIL")
				r.f("parameters: $1 = '%d', $2 = '%s', $3 = '", g.r.IntN(1e4), g.pick("stripe", "webhook"))
				r.secret(kind, g.secretValue(kind))
				r.s("'")
			}
		},
	}
}

// Redis server log and MONITOR output.
func shapeRedis() *Shape {
	kinds := []string{KRedisAuth, KRedisURL, KOpenAI, KSA01Token}
	mon := func(g *gen, r *rec) {
		r.f("%d.%06d [%d %s:%d] ", g.epoch(), g.r.IntN(1e6), g.r.IntN(4), g.ip(), 30000+g.r.IntN(30000))
	}
	return &Shape{Name: "redis", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(10) {
			case 0:
				r.f("1:M %s * Background saving started by pid %d", g.redisTime(), g.r.IntN(9999))
			case 1:
				r.f("1:M %s * Ready to accept connections tcp", g.redisTime())
			case 2:
				r.f("1:M %s # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition.", g.redisTime())
			case 3:
				mon(g, r)
				r.f("\"GET\" \"%s\"", g.redisKey())
			case 4:
				mon(g, r)
				r.f("\"SET\" \"session:%s\" \"{\\\"uid\\\":%d,\\\"csrf_token_set\\\":true}\" \"EX\" \"3600\"", g.hex(32), g.r.IntN(1e5))
			case 5:
				mon(g, r)
				r.f("\"HSET\" \"gateway:secrets\" \"openai_api_key\" \"%s\"", g.fernetToken())
			case 6:
				mon(g, r)
				r.f("\"EVALSHA\" \"%s\" \"1\" \"%s\" \"%d\"", g.sha1(), g.redisKey(), g.r.IntN(100))
			case 7:
				mon(g, r)
				r.f("\"CLIENT\" \"SETNAME\" \"%s\"", g.podName("worker"))
			case 8:
				r.f("1:M %s - Accepted %s:%d; AUTH failed: WRONGPASS invalid username-password pair or user is disabled.", g.redisTime(), g.ip(), g.r.IntN(65535))
			default:
				mon(g, r)
				r.f("\"XADD\" \"events:llm\" \"*\" \"key\" \"%s\" \"tokens\" \"%d\"", g.redisKey(), g.r.IntN(9000))
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KRedisAuth:
				pw := strings.NewReplacer(`"`, "", " ", "", `\`, "").Replace(g.password())
				switch g.r.IntN(3) {
				case 0:
					mon(g, r)
					r.s(`"AUTH" "`)
				case 1:
					mon(g, r)
					r.s(`"AUTH" "default" "`)
				default:
					mon(g, r)
					r.s(`"CONFIG" "SET" "requirepass" "`)
				}
				r.secret(kind, pw)
				r.s(`"`)
			case KRedisURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.f("1:S %s * Connecting to MASTER via sentinel url ", g.redisTime())
				r.sf(kind, u[:i]+"%S", pw)
				r.s(u[i+len(pw):])
			case KOpenAI, KSA01Token:
				mon(g, r)
				r.f(`"SET" "cfg:%s" "`, g.pick("llm:key", "svc:token"))
				r.secret(kind, g.secretValue(kind))
				r.s(`"`)
			}
		},
	}
}

// env dumps: printenv, docker inspect, /proc/PID/environ after tr.
func shapeEnv() *Shape {
	kinds := []string{KPassword, KSA01Env, KFernet, KOpenAI, KAnthropic, KGroq, KMistral, KCohere, KTogether, KXAI, KDeepSeek,
		KAzureOpenAI, KGoogleAI, KAWSKeyID, KAWSSecret, KPostgresURL, KRedisURL, KAMQPURL, KKafkaSASL, KSlackHook, KSlack, KStripe,
		KGitHub, KGitLab, KHuggingFace, KOpenRouter, KSA01Token, KSA01Cred, KGeneric, KJWT}
	prefix := func(g *gen, r *rec) {
		switch g.r.IntN(5) {
		case 0:
			r.s("export ")
		case 1:
			r.s("declare -x ")
		}
	}
	return &Shape{Name: "envdump", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			if g.chance(0.05) {
				r.f("==> %s printenv (pod %s) <==", g.rfc3339ms(), g.podName("gateway"))
				return
			}
			prefix(g, r)
			r.s(g.envNoise())
		},
		secret: func(g *gen, r *rec, kind string) {
			prefix(g, r)
			g.envPair(r, kind, "=", "")
		},
	}
}

// SQL statement logs written by ORMs.
func shapeSQL() *Shape {
	kinds := []string{KPassword, KStripe, KOpenAI, KGitHub, KSA01Token, KGeneric, KJWT}
	return &Shape{Name: "sql", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(7) {
			case 0:
				r.f("%s INFO sqlalchemy.engine.Engine SELECT api_keys.id, api_keys.prefix FROM api_keys WHERE api_keys.key_hash = %%(key_hash_1)s\n", g.pyTime())
				r.f("%s INFO sqlalchemy.engine.Engine [cached since %.1fs ago] {'key_hash_1': 'sha256:%s'}", g.pyTime(), g.r.Float64()*900, g.sha256())
			case 1:
				r.f("(%.3f) SELECT \"auth_user\".\"id\", \"auth_user\".\"password\", \"auth_user\".\"last_login\" FROM \"auth_user\" WHERE \"auth_user\".\"username\" = '%s' LIMIT 21; args=('%s',); alias=default", g.r.Float64()/100, g.user(), g.user())
			case 2:
				r.f("(%.3f) UPDATE \"auth_user\" SET \"password\" = '%s' WHERE \"auth_user\".\"id\" = %d; args=('%s', %d)", g.r.Float64()/100, g.pbkdf2(), g.r.IntN(1e5), g.pbkdf2(), g.r.IntN(1e5))
			case 3:
				r.f("%s INFO sqlalchemy.engine.Engine [generated in 0.00021s] {'token_id': '%s', 'secret_name': 'llm/openai_api_key', 'key_id': '%s', 'user_id': %d}", g.pyTime(), g.uuid(), g.hex(12), g.r.IntN(1e6))
			case 4:
				r.f("%s DEBUG gorm [%.3fms] [rows:1] SELECT * FROM \"sessions\" WHERE token_hash = '%s' AND expires_at > '%s'", g.rfc3339ms(), g.r.Float64()*9, g.sha256(), g.now().Format("2006-01-02 15:04:05"))
			case 5:
				r.f("%s DEBUG knex:query select `id`, `cache_key` from `embeddings` where `cache_key` = 'emb:v3:%s' limit 1 undefined", g.rfc3339ms(), g.sha256()[:24])
			default:
				r.f("%s INFO sqlalchemy.engine.Engine INSERT INTO audit (actor, action, resource, outcome) VALUES (%%(actor)s, %%(action)s, %%(resource)s, %%(outcome)s) {'actor': 'gateway', 'action': 'read', 'resource': 'llm/openai_api_key', 'outcome': 'success'}", g.pyTime())
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KPassword:
				r.f("%s INFO sqlalchemy.engine.Engine [generated in 0.00011s] {'username': '%s', 'password': '", g.pyTime(), g.user())
				r.secret(kind, strings.NewReplacer("'", "", `\`, "").Replace(g.password()))
				r.s("'}")
			case KStripe, KOpenAI, KGeneric:
				r.f("%s INFO sqlalchemy.engine.Engine INSERT INTO integrations (tenant_id, provider, api_key) VALUES (%%(tenant_id)s, %%(provider)s, %%(api_key)s) {'tenant_id': %d, 'provider': '%s', 'api_key': '", g.pyTime(), g.r.IntN(1e4), kind)
				r.secret(kind, g.secretValue(kind))
				r.s("'}")
			case KGitHub, KSA01Token:
				r.f("%s DEBUG gorm [%.3fms] [rows:1] UPDATE \"service_accounts\" SET \"token\"='", g.rfc3339ms(), g.r.Float64()*5)
				r.secret(kind, g.secretValue(kind))
				r.f("' WHERE \"id\" = %d", g.r.IntN(900))
			case KJWT:
				r.f("(%.3f) INSERT INTO \"oauth_tokens\" (\"user_id\", \"access_token\") VALUES (%d, '", g.r.Float64()/100, g.r.IntN(1e5))
				r.secret(kind, g.jwt())
				r.s("'); args=None")
			}
		},
	}
}

// HTTP client debug output: curl -v, Python's http.client, Go's
// httputil dumps.
func shapeHTTP() *Shape {
	kinds := append(append([]string(nil), llmKinds...), KBasicAuth, KAWSKeyID, KJWT, KGitHub, KGitLab, KSlack, KStripe, KSA01Token)
	resp := func(g *gen, r *rec) {
		r.f("< HTTP/2 %d\n< date: %s\n< content-type: application/json\n< x-request-id: req_%s\n< openai-organization: org-%s\n< openai-processing-ms: %d\n< x-ratelimit-limit-tokens: 2000000\n< x-ratelimit-remaining-tokens: %d\n< x-ratelimit-reset-tokens: %dms\n< set-cookie: __cf_bm=%s-%d-1.0.1.1-%s; path=/; expires=%s; domain=.api.openai.com; HttpOnly; Secure; SameSite=None\n< cf-ray: %s-AMS\n<",
			g.pickInt(200, 200, 401, 429), g.now().Format("Mon, 02 Jan 2006 15:04:05 GMT"), g.hex(32), g.rs(alnumSet, 24), g.r.IntN(900), g.r.IntN(2000000), g.r.IntN(90),
			g.rs(b64urlSet, 43), g.epoch(), g.rs(b64urlSet, 60), g.now().Format("Mon, 02-Jan-06 15:04:05 GMT"), g.hex(16))
	}
	return &Shape{Name: "http-debug", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(6) {
			case 0:
				r.f("> POST /v1/chat/completions HTTP/2\n> Host: api.openai.com\n> user-agent: curl/8.5.0\n> accept: */*\n> authorization: Bearer ****\n> content-type: application/json\n> content-length: %d\n>\n", g.r.IntN(9000))
				resp(g, r)
			case 1:
				r.f("send: b'GET /v1/models HTTP/1.1\\r\\nHost: api.anthropic.com\\r\\nUser-Agent: python-requests/2.32.3\\r\\nAccept-Encoding: gzip, deflate\\r\\nanthropic-version: 2023-06-01\\r\\nx-api-key: %s\\r\\n\\r\\n'\nreply: 'HTTP/1.1 200 OK\\r\\n'\nheader: request-id: req_01%s\nheader: anthropic-ratelimit-tokens-remaining: %d", g.pick("[REDACTED]", "<redacted>", "sk-ant-..."), g.rs(alnumSet, 22), g.r.IntN(400000))
			case 2:
				r.f("> PUT /%s HTTP/1.1\n> Host: acme-uploads.s3.eu-west-1.amazonaws.com\n> X-Amz-Date: %s\n> X-Amz-Content-Sha256: UNSIGNED-PAYLOAD\n> X-Amz-Security-Token-Present: false\n> Content-MD5: %s\n> x-amz-checksum-sha256: %s\n>\n< HTTP/1.1 200 OK\n< x-amz-id-2: %s\n< x-amz-request-id: %s\n< ETag: \"%s\"\n<",
					g.objectKey(), g.amzDate(), base64.StdEncoding.EncodeToString(g.bytes(16)), g.b64digest(), base64.StdEncoding.EncodeToString(g.bytes(57)), strings.ToUpper(g.hex(16)), g.hex(32))
			case 3:
				r.f("GET /oauth2/v1/keys HTTP/1.1\r\nHost: auth.acme.internal\r\nIf-None-Match: W/\"%s\"\r\nX-Request-Id: %s\r\nTraceparent: 00-%s-%s-01\r\n\r\n", g.hex(16), g.uuid(), g.traceID(), g.spanID())
			case 4:
				r.f("> GET /v1/secrets/llm/openai_api_key HTTP/1.1\n> Host: 127.0.0.1:8200\n> Authorization: Bearer sa01s_%s\n> X-Sa01-Key-Id: %s\n>\n< HTTP/1.1 403 Forbidden\n< Cache-Control: no-store\n<", "****", g.hex(12))
			default:
				r.f("* Connected to api.groq.com (%s) port 443\n* ALPN: server accepted h2\n* SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256 / x25519 / id-ecPublicKey\n* Server certificate:\n*  subject: CN=api.groq.com\n*  subjectAltName: host \"api.groq.com\" matched cert's \"api.groq.com\"\n*  SSL certificate verify ok.\n*   Certificate level 0: Public key type EC/prime256v1 (256/128 Bits/secBits), signed using ecdsa-with-SHA256", g.publicIP())
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			if l := llmFor(kind); l != nil {
				if g.chance(0.5) {
					r.f("> POST /v1/chat/completions HTTP/2\n> Host: %s\n> user-agent: curl/8.5.0\n> %s", l.host, strings.ToLower(l.header))
					r.secret(kind, l.key(g))
					r.f("\n> content-type: application/json\n>\n")
					resp(g, r)
				} else {
					r.f("send: b'POST /v1/chat/completions HTTP/1.1\\r\\nHost: %s\\r\\nUser-Agent: OpenAI/Python 1.54.0\\r\\n%s", l.host, l.header)
					r.secret(kind, l.key(g))
					r.s("\\r\\nContent-Type: application/json\\r\\n\\r\\n'")
				}
				return
			}
			switch kind {
			case KBasicAuth:
				r.f("> GET /api/v1/repos HTTP/1.1\n> Host: %s\n> Authorization: Basic ", g.pick("registry.acme.internal", "nexus.acme.internal", "jenkins.acme.internal"))
				r.secret(kind, b64(g.user()+":"+g.password()))
				r.s("\n> Accept: */*\n>\n< HTTP/1.1 200 OK\n<")
			case KAWSKeyID:
				r.f("> GET /?list-type=2 HTTP/1.1\n> Host: acme-uploads.s3.eu-west-1.amazonaws.com\n> X-Amz-Date: %s\n> Authorization: AWS4-HMAC-SHA256 Credential=", g.amzDate())
				r.secret(kind, g.awsKeyID())
				r.f("/%s, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\n>\n< HTTP/1.1 200 OK\n<", g.credentialScope(), g.sha256())
			case KJWT:
				r.f("> GET /v1/me HTTP/1.1\n> Host: api.acme.io\n> Authorization: Bearer ")
				r.secret(kind, g.jwt())
				r.s("\n>\n< HTTP/1.1 200 OK\n<")
			case KGitHub:
				r.sf(kind, "> GET /repos/acme/gateway HTTP/2\n> Host: api.github.com\n> authorization: token %S\n> accept: application/vnd.github+json\n>\n< HTTP/2 200\n< x-github-request-id: "+strings.ToUpper(g.hex(8))+":"+strings.ToUpper(g.hex(6))+"\n<", g.githubToken())
			case KGitLab:
				r.sf(kind, "> GET /api/v4/projects HTTP/2\n> Host: gitlab.com\n> private-token: %S\n>\n< HTTP/2 200\n<", g.gitlabToken())
			case KSlack:
				r.sf(kind, "> POST /api/chat.postMessage HTTP/2\n> Host: slack.com\n> authorization: Bearer %S\n>\n< HTTP/2 200\n<", g.slackToken())
			case KStripe:
				r.sf(kind, "> POST /v1/payment_intents HTTP/2\n> Host: api.stripe.com\n> authorization: Bearer %S", g.stripeKey())
				r.f("\n> idempotency-key: %s\n> stripe-version: 2024-06-20\n>\n< HTTP/2 200\n< request-id: req_%s\n<", g.uuid(), g.rs(alnumSet, 14))
			case KSA01Token:
				r.sf(kind, "> GET /v1/secrets/llm/openai_api_key HTTP/1.1\n> Host: 127.0.0.1:8200\n> Authorization: Bearer %S\n>\n< HTTP/1.1 200 OK\n< Cache-Control: no-store\n<", g.sa01Token())
			}
		},
	}
}

// CI logs: GitHub Actions and GitLab CI output, shell traces.
func shapeCI() *Shape {
	kinds := []string{KGitHub, KGitLab, KSlackHook, KAWSKeyID, KAWSSecret, KPassword, KGeneric, KPrivateKey, KHuggingFace, KJWT}
	ts := func(g *gen, r *rec) { r.s(g.ghTime() + " ") }
	return &Shape{Name: "ci", Ext: ".log", kinds: kinds,
		noise: func(g *gen, r *rec) {
			ts(g, r)
			switch g.r.IntN(12) {
			case 0:
				r.s("##[group]Run actions/checkout@v4\n")
				ts(g, r)
				r.s("with:\n")
				ts(g, r)
				r.s("  repository: acme/gateway\n")
				ts(g, r)
				r.s("  token: ***\n")
				ts(g, r)
				r.s("  ssh-strict: true\n")
				ts(g, r)
				r.s("##[endgroup]")
			case 1:
				r.f("Cache restored from key: setup-go-Linux-x64-ubuntu24-go-1.26.8-%s", g.sha256())
			case 2:
				r.f("Post job cleanup. Cache saved with key: node-cache-Linux-x64-npm-%s", g.sha256())
			case 3:
				r.f("#12 writing image sha256:%s done\n", g.sha256())
				ts(g, r)
				r.f("#12 naming to %s done", g.imageRef())
			case 4:
				r.f("+ docker login -u AWS --password-stdin %s.dkr.ecr.eu-west-1.amazonaws.com", g.rs(digitSet, 12))
			case 5:
				r.f("Login Succeeded\n")
				ts(g, r)
				r.f("$ echo \"$CI_JOB_TOKEN\" | helm registry login -u gitlab-ci-token --password-stdin %s", "registry.gitlab.com")
			case 6:
				r.f("go: downloading golang.org/x/crypto v0.35.0\n")
				ts(g, r)
				r.f("golang.org/x/crypto v0.35.0 h1:%s", base64.StdEncoding.EncodeToString(g.bytes(32)))
			case 7:
				r.f("Successfully installed cryptography-43.0.0 --hash=sha256:%s", g.sha256())
			case 8:
				r.f("npm notice integrity: sha512-%s", base64.StdEncoding.EncodeToString(g.bytes(64)))
			case 9:
				r.f("Run aws-actions/configure-aws-credentials@v4 role-to-assume=arn:aws:iam::%s:role/ci-deploy aws-region=eu-west-1 role-session-name=GitHubActions-%d", g.rs(digitSet, 12), g.r.IntN(1e9))
			case 10:
				r.f("$ git push https://gitlab-ci-token:[MASKED]@gitlab.com/acme/gateway.git HEAD:refs/heads/release")
			default:
				r.f("ok  \tgithub.com/acme/gateway/internal/auth\t%.3fs\tcoverage: %.1f%% of statements", g.r.Float64()*5, 50+g.r.Float64()*50)
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			ts(g, r)
			switch kind {
			case KGitHub:
				r.sf(kind, "+ git clone https://x-access-token:%S@github.com/acme/models.git", g.githubToken())
			case KGitLab:
				r.sf(kind, "$ git remote set-url origin https://oauth2:%S@gitlab.com/acme/gateway.git", g.gitlabToken())
			case KSlackHook:
				r.sf(kind, "+ curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy done\"}' %S", g.slackWebhook())
			case KAWSKeyID:
				r.sf(kind, "+ aws configure set aws_access_key_id %S", g.awsKeyID())
			case KAWSSecret:
				r.sf(kind, "+ export AWS_SECRET_ACCESS_KEY=%S", g.awsSecret())
			case KPassword:
				pw := strings.NewReplacer(" ", "", "'", "").Replace(g.password())
				r.sf(kind, "+ docker login -u deploy -p '%S' registry.acme.internal", pw)
			case KGeneric:
				r.sf(kind, "+ echo //registry.npmjs.org/:_authToken=%S", "npm_"+g.rs(alnumSet, 36))
			case KPrivateKey:
				r.s("+ echo '")
				pem := g.pem("\n")
				r.secret(kind, pem)
				r.s("' > ~/.ssh/id_deploy")
			case KHuggingFace:
				r.sf(kind, "+ huggingface-cli login --token %S", g.hfToken())
			case KJWT:
				r.sf(kind, "Requesting OIDC token: ACTIONS_ID_TOKEN=%S", g.jwt())
			}
		},
	}
}

// Source code: Python and JavaScript settings and clients.
func shapeSource() *Shape {
	kinds := []string{KOpenAI, KAnthropic, KPassword, KGeneric, KPostgresURL, KAWSSecret, KStripe, KFernet, KPrivateKey, KGoogleAI, KSlackHook}
	return &Shape{Name: "source", Ext: ".py", kinds: kinds,
		noise: func(g *gen, r *rec) {
			switch g.r.IntN(14) {
			case 0:
				r.s("API_KEY = os.environ[\"OPENAI_API_KEY\"]")
			case 1:
				r.s("DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.postgresql\", \"PASSWORD\": os.environ.get(\"DB_PASSWORD\"), \"HOST\": \"db\"}}")
			case 2:
				r.s("TOKEN_URL = \"https://oauth2.googleapis.com/token\"")
			case 3:
				r.s("client = OpenAI(api_key=settings.OPENAI_API_KEY, timeout=30)")
			case 4:
				r.f("CACHE_KEY_PREFIX = \"gw:v%d:\"", g.r.IntN(9))
			case 5:
				r.s("def get_secret(name: str, token: str | None = None) -> str:\n    key = f\"secret:{name}\"\n    return cache.get(key) or fetch(name, token=token)")
			case 6:
				r.f("PASSWORD_HASHERS = [\"django.contrib.auth.hashers.Argon2PasswordHasher\"]")
			case 7:
				r.f("SECRET_KEY_FALLBACKS = []\nSESSION_COOKIE_NAME = \"__Host-session\"\nCSRF_COOKIE_SECURE = True")
			case 8:
				r.f("    headers = {\"Authorization\": f\"Bearer {token}\", \"Idempotency-Key\": str(uuid.uuid4())}")
			case 9:
				r.f("EXAMPLE_KEY = \"sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"  # placeholder, see README")
			case 10:
				r.f("JWKS_KID = \"%s\"\nAUTH_HEADER = \"X-Api-Key\"\nAPI_KEY_LENGTH = 48", g.hex(16))
			case 11:
				r.f("TEST_FIXTURE_SHA = \"%s\"", g.sha256())
			case 12:
				r.s("    token = request.headers.get(\"Authorization\", \"\").removeprefix(\"Bearer \")")
			default:
				r.f("logger.info(\"loaded %%d keys\", len(keys))")
			}
		},
		secret: func(g *gen, r *rec, kind string) {
			switch kind {
			case KOpenAI, KAnthropic, KGoogleAI:
				r.sf(kind, map[string]string{KOpenAI: "client = OpenAI(api_key=\"", KAnthropic: "client = anthropic.Anthropic(api_key=\"", KGoogleAI: "genai.configure(api_key=\""}[kind]+"%S", g.secretValue(kind))
				r.s("\")")
			case KPassword:
				r.sf(kind, "EMAIL_HOST_PASSWORD = \"%S\"", strings.NewReplacer(`"`, "", `\`, "").Replace(g.password()))
			case KGeneric:
				r.sf(kind, g.pick("SECRET_KEY", "WEBHOOK_SECRET", "JWT_SIGNING_SECRET")+" = \"%S", g.genericSecret())
				r.s("\"")
			case KPostgresURL:
				u, pw := g.dsn(kind)
				i := strings.Index(u, pw)
				r.sf(kind, "SQLALCHEMY_DATABASE_URI = \""+u[:i]+"%S"+u[i+len(pw):]+"\"", pw)
			case KAWSSecret:
				r.sf(kind, "s3 = boto3.client(\"s3\", aws_secret_access_key=\"%S\")", g.awsSecret())
			case KStripe:
				r.sf(kind, "stripe.api_key = \"%S\"", g.stripeKey())
			case KFernet:
				r.sf(kind, "FERNET = Fernet(b\"%S\")", g.fernetKey())
			case KPrivateKey:
				r.sf(kind, "DEPLOY_KEY = \"\"\"%S\n\"\"\"", g.pem("\n"))
			case KSlackHook:
				r.sf(kind, "SLACK_WEBHOOK = \"%S\"", g.slackWebhook())
			}
		},
	}
}
