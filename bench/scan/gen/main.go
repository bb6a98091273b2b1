// Command gen writes a realistic gateway log of about -size bytes with
// secrets of every kind the scanner knows planted among ordinary lines
// (request ids, UUIDs such as idempotency_key=<uuid>, SHA digests, trace
// ids), a truth file listing each planted secret (line, kind, value) and
// a file of 1,000 known values, some of which are planted in encoded forms.
//
// Every value is generated: none is a real credential.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"
)

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64url = alnum + "-_"
	b64std = alnum + "+/"
	hexd   = "0123456789abcdef"
	up27   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	punct  = "!#$%^*()-_+[]{},.~" // not ';', which separates key=value pairs in connection strings
)

var r = rand.New(rand.NewPCG(2026, 11))

func rs(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

func uuid() string {
	return rs(hexd, 8) + "-" + rs(hexd, 4) + "-4" + rs(hexd, 3) + "-" + rs("89ab", 1) + rs(hexd, 3) + "-" + rs(hexd, 12)
}

func password() string {
	// Passwords with punctuation, as people choose them.
	return rs(letter, 3) + rs(punct, 1) + rs(alnum, 6) + rs(punct, 1) + rs("0123456789", 2) + rs(letter, 2)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func jwt() string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"` + rs(hexd, 8) + `"}`))
	c := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"svc-%d","iat":%d,"scope":"chat.write"}`, r.IntN(1000), 1760000000+r.IntN(1e6))))
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(randBytes(64))
}

type planted struct {
	Line   int    `json:"line"`
	Kind   string `json:"kind"`
	Secret string `json:"secret"`
}

type known struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Value   string `json:"value"`
}

// secretLine returns a log line for kind and the secret it plants.
func secretLine(ts, kind string) (string, string) {
	rid := rs(hexd, 32)
	switch kind {
	case "fernet-key":
		k := base64.URLEncoding.EncodeToString(randBytes(32))
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%s WARN  config request_id=%s dumping env: SA01_CRYPTO_FERNET_KEY=%s SA01_AUTH_REQUIRED=true", ts, rid, k), k
		}
		return fmt.Sprintf(`%s DEBUG crypto request_id=%s loaded key material %s for ring`, ts, rid, k), k
	case "sa01-service-token":
		t := "sa01s_" + rs(b64url, 43)
		return fmt.Sprintf(`%s INFO  auth request_id=%s upstream=secrets header="Authorization: Bearer %s" status=200`, ts, rid, t), t
	case "sa01-env-assignment":
		t := rs(b64url, 43)
		return fmt.Sprintf("%s ERROR launcher request_id=%s child env SA01_AUTH_INTERNAL_TOKEN=%s exit=1", ts, rid, t), t
	case "dsn-postgres":
		p := password()
		return fmt.Sprintf("%s ERROR db request_id=%s connect failed dsn=postgresql://gateway:%s@db.internal:5432/gateway?sslmode=require err=\"timeout\"", ts, rid, p), p
	case "dsn-redis":
		p := password()
		return fmt.Sprintf("%s WARN  cache request_id=%s reconnecting to redis://:%s@redis.internal:6379/0 attempt=%d", ts, rid, p, r.IntN(5)+1), p
	case "openai":
		k := "sk-proj-" + rs(b64url, 156)
		return fmt.Sprintf(`%s DEBUG llm request_id=%s provider=openai headers={"Authorization":"Bearer %s","OpenAI-Beta":"assistants=v2"}`, ts, rid, k), k
	case "anthropic":
		k := "sk-ant-api03-" + rs(b64url, 93) + "AA"
		return fmt.Sprintf(`%s DEBUG llm request_id=%s provider=anthropic x-api-key=%s anthropic-version=2023-06-01`, ts, rid, k), k
	case "google-ai":
		k := "AIza" + rs(b64url, 35)
		return fmt.Sprintf(`%s DEBUG llm request_id=%s provider=google url=https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?key=%s`, ts, rid, k), k
	case "mistral":
		k := rs(alnum, 32)
		return fmt.Sprintf(`%s WARN  config request_id=%s provider settings MISTRAL_API_KEY=%s loaded from env`, ts, rid, k), k
	case "groq":
		k := "gsk_" + rs(alnum, 52)
		return fmt.Sprintf(`%s DEBUG llm request_id=%s provider=groq api_key=%s model=llama-3.3-70b`, ts, rid, k), k
	case "cohere":
		k := rs(alnum, 40)
		return fmt.Sprintf(`%s DEBUG llm request_id=%s {"provider":"cohere","cohere_api_key":"%s","model":"command-r"}`, ts, rid, k), k
	case "huggingface":
		k := "hf_" + rs(letter, 34)
		return fmt.Sprintf(`%s INFO  embed request_id=%s downloading model with token %s`, ts, rid, k), k
	case "aws-access-key":
		k := "AKIA" + rs(up27, 16)
		return fmt.Sprintf(`%s DEBUG s3 request_id=%s signing with access_key_id=%s region=eu-west-1`, ts, rid, k), k
	case "aws-secret-key":
		k := rs(b64std, 40)
		return fmt.Sprintf(`%s DEBUG s3 request_id=%s credentials aws_secret_access_key=%s`, ts, rid, k), k
	case "gcp-service-account":
		id := rs(hexd, 40)
		return fmt.Sprintf(`%s ERROR vertex request_id=%s bad credentials {"type":"service_account","project_id":"prod-123","private_key_id":"%s","client_email":"gw@prod-123.iam.gserviceaccount.com"}`, ts, rid, id), id
	case "azure-storage":
		k := base64.StdEncoding.EncodeToString(randBytes(64))
		return fmt.Sprintf(`%s WARN  blob request_id=%s conn="DefaultEndpointsProtocol=https;AccountName=gwlogs;AccountKey=%s;EndpointSuffix=core.windows.net"`, ts, rid, k), k
	case "github":
		k := "ghp_" + rs(alnum, 36)
		return fmt.Sprintf(`%s INFO  webhook request_id=%s fetching repo with token=%s`, ts, rid, k), k
	case "gitlab":
		k := "glpat-" + rs(b64url, 20)
		return fmt.Sprintf(`%s INFO  ci request_id=%s PRIVATE-TOKEN: %s`, ts, rid, k), k
	case "slack":
		k := "xoxb-" + rs("0123456789", 12) + "-" + rs("0123456789", 13) + "-" + rs(alnum, 24)
		return fmt.Sprintf(`%s DEBUG notify request_id=%s slack client token %s channel=#alerts`, ts, rid, k), k
	case "stripe":
		k := "sk_live_" + rs(alnum, 99)
		return fmt.Sprintf(`%s DEBUG billing request_id=%s stripe key %s`, ts, rid, k), k
	case "jwt":
		k := jwt()
		return fmt.Sprintf(`%s DEBUG auth request_id=%s authorization="Bearer %s"`, ts, rid, k), k
	case "private-key":
		body := base64.StdEncoding.EncodeToString(randBytes(600))
		k := `-----BEGIN PRIVATE KEY-----\n` + body[:64] + `\n` + body[64:128] + `\n` + body[128:] + `\n-----END PRIVATE KEY-----`
		return fmt.Sprintf(`%s ERROR tls request_id=%s cannot parse {"private_key":"%s\n"}`, ts, rid, k), k
	case "generic-password":
		p := password()
		return fmt.Sprintf(`%s WARN  admin request_id=%s login attempt user=ops password=%s ip=10.1.%d.%d`, ts, rid, p, r.IntN(255), r.IntN(255)), p
	case "generic-secret-json":
		s := rs(b64url, 40)
		return fmt.Sprintf(`%s {"level":"debug","msg":"oauth exchange","request_id":"%s","client_id":"gw-prod","client_secret":"%s"}`, ts, rid, s), s
	}
	panic(kind)
}

var kinds = []string{"fernet-key", "sa01-service-token", "sa01-env-assignment", "dsn-postgres", "dsn-redis", "openai", "anthropic",
	"google-ai", "mistral", "groq", "cohere", "huggingface", "aws-access-key", "aws-secret-key", "gcp-service-account",
	"azure-storage", "github", "gitlab", "slack", "stripe", "jwt", "private-key", "generic-password", "generic-secret-json"}

var paths = []string{"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/healthz", "/v1/secrets/openai-api-key", "/v1/auth/token", "/metrics"}
var models = []string{"gpt-4o", "claude-sonnet-4", "gemini-2.0-flash", "mistral-large-latest", "llama-3.3-70b", "command-r"}

// noiseLine returns an ordinary line full of things that look like secrets
// to a naive scanner and are not.
func noiseLine(ts string) string {
	rid, trace, span := rs(hexd, 32), rs(hexd, 32), rs(hexd, 16)
	switch r.IntN(10) {
	case 0, 1, 2:
		return fmt.Sprintf("%s INFO  http request_id=%s trace_id=%s span_id=%s method=POST path=%s status=200 duration_ms=%d idempotency_key=%s model=%s prompt_tokens=%d completion_tokens=%d max_tokens=4096",
			ts, rid, trace, span, paths[r.IntN(len(paths))], r.IntN(3000), uuid(), models[r.IntN(len(models))], r.IntN(5000), r.IntN(2000))
	case 3:
		return fmt.Sprintf(`%s {"level":"info","msg":"cache lookup","request_id":"%s","cache_key":"sha256:%s","hit":%v,"latency_ms":%d,"session_id":"%s"}`,
			ts, rid, rs(hexd, 64), r.IntN(2) == 0, r.IntN(40), uuid())
	case 4:
		return fmt.Sprintf("%s INFO  secrets request_id=%s action=read secret_name=openai-api-key version=%d key_id=k-%s outcome=allowed token_ttl=3600 caller=gateway",
			ts, rid, r.IntN(9)+1, rs(hexd, 12))
	case 5:
		return fmt.Sprintf("%s DEBUG upstream request_id=%s body_sha256=%s etag=\"%s\" commit=%s partition_key=%s sort_key=%s",
			ts, rid, rs(hexd, 64), rs(hexd, 40), rs(hexd, 40), uuid(), rs(alnum, 16))
	case 6:
		return fmt.Sprintf("%s INFO  auth request_id=%s token_type=Bearer token_expires_at=%d auth=ok password_reset=false api_key_id=ak_%s user_id=u-%d",
			ts, rid, 1760000000+r.IntN(1e6), rs(alnum, 12), r.IntN(1e6))
	case 7:
		return fmt.Sprintf(`%s {"level":"warn","msg":"rate limited","request_id":"%s","trace_id":"%s","idempotency_key":"%s","retry_after_ms":%d,"api_key":"****","dsn":"postgresql://gateway:****@db.internal:5432/gateway"}`,
			ts, rid, trace, uuid(), r.IntN(1000))
	case 8:
		return fmt.Sprintf("%s INFO  kafka request_id=%s produced topic=sa01.audit partition=%d offset=%d msg_key=%s checksum=%s blob_digest=sha256:%s",
			ts, rid, r.IntN(12), r.IntN(1e9), uuid(), rs(hexd, 8), rs(hexd, 64))
	default:
		return fmt.Sprintf(`%s INFO  llm request_id=%s provider=openai model=%s stream=true finish_reason=stop usage={"prompt_tokens":%d,"completion_tokens":%d} response_id=chatcmpl-%s fingerprint=fp_%s`,
			ts, rid, models[r.IntN(len(models))], r.IntN(5000), r.IntN(2000), rs(alnum, 29), rs(hexd, 10))
	}
}

func main() {
	size := flag.Int64("size", 200<<20, "approximate size of the log in bytes")
	out := flag.String("out", "gateway.log", "log file to write")
	truthFile := flag.String("truth", "truth.jsonl", "truth file to write")
	knownFile := flag.String("known", "known.jsonl", "known values file to write (1,000 values)")
	perKind := flag.Int("per-kind", 20, "planted secrets per kind")
	knownPlanted := flag.Int("known-planted", 200, "known values planted (in encoded forms)")
	knownEnv := flag.String("known-env", "known.env", "the known values as a .env file, for sa01-secrets import")
	flag.Parse()

	var knowns []known
	for i := range 1000 {
		knowns = append(knowns, known{Name: fmt.Sprintf("svc-%03d/api-key", i), Version: 1 + i%3, Value: rs(b64url, 24+r.IntN(40))})
	}
	total := len(kinds)**perKind + *knownPlanted
	estLines := *size / 290
	every := estLines / int64(total+1)

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tf, err := os.Create(*truthFile)
	if err != nil {
		log.Fatal(err)
	}
	tenc := json.NewEncoder(tf)
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var written int64
	line := 0
	plantedN := 0
	var order []string
	for range *perKind {
		order = append(order, kinds...)
	}
	for i := range *knownPlanted {
		order = append(order, fmt.Sprintf("known:%d", i))
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for written < *size || plantedN < len(order) {
		line++
		ts := t0.Add(time.Duration(line) * 3 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		var s string
		if plantedN < len(order) && int64(line)%every == 0 {
			kind := order[plantedN]
			plantedN++
			var secret string
			if strings.HasPrefix(kind, "known:") {
				k := knowns[r.IntN(len(knowns))]
				forms := []struct{ name, v string }{
					{"raw", k.Value}, {"base64", base64.StdEncoding.EncodeToString([]byte(k.Value))},
					{"base64url", base64.RawURLEncoding.EncodeToString([]byte(k.Value))},
					{"url", url.QueryEscape(k.Value)}, {"hex", hex.EncodeToString([]byte(k.Value))},
				}
				fm := forms[r.IntN(len(forms))]
				kind, secret = "known-"+fm.name, fm.v
				s = fmt.Sprintf("%s DEBUG proxy request_id=%s forwarded header x-upstream-credential-%s: %s", ts, rs(hexd, 32), fm.name, secret)
			} else {
				s, secret = secretLine(ts, kind)
			}
			if err := tenc.Encode(planted{Line: line, Kind: kind, Secret: secret}); err != nil {
				log.Fatal(err)
			}
		} else {
			s = noiseLine(ts)
		}
		n, _ := w.WriteString(s + "\n")
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	f.Close()
	tf.Close()
	kf, err := os.OpenFile(*knownFile, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	kenc := json.NewEncoder(kf)
	for _, k := range knowns {
		kenc.Encode(k)
	}
	kf.Close()
	ef, err := os.OpenFile(*knownEnv, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	for i, k := range knowns {
		fmt.Fprintf(ef, "SVC_%03d_API_KEY=%s\n", i, k.Value)
	}
	ef.Close()
	fmt.Fprintf(os.Stderr, "gen: %d lines, %d bytes, %d planted secrets\n", line, written, plantedN)
}
