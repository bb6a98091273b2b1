package redact

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestSensitiveKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"password": true, "db_password": true, "DBPassword": true, "passwd": true, "pwd": true,
		"secret": true, "client_secret": true, "clientSecret": true, "token": true, "access_token": true,
		"accessToken": true, "api_key": true, "apiKey": true, "API-KEY": true, "key": true, "dsn": true,
		"SA01_DB_DSN": true, "SA01_CRYPTO_FERNET_KEY": true, "SA01_CRYPTO_FERNET_PREVIOUS_KEYS": true,
		"authorization": true, "Authorization": true, "cookie": true, "Set-Cookie": true,
		"credentials": true, "x-api-key": true, "private_key": true, "SA01_AUTH_INTERNAL_TOKEN": true,
		"auth": true,

		"key_id": false, "keyID": false, "secret_name": false, "secret_version": false, "token_ttl": false,
		"tokenType": false, "max_tokens": false, "prompt_tokens": false, "idempotency_key": false,
		"cache_key": false, "partition_key": false, "public_key": false, "request_id": false,
		"user": false, "monkey": false, "keyboard": false, "host": false, "SA01_REDIS_URL": false,
		"SA01_AUTH_REQUIRED": false, "token_expires_at": false, "": false, "password_policy": false,
	} {
		if got := SensitiveKey(key); got != want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestMaskDSN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgresql://user:pass@host:5432/db":     "postgresql://user:****@host:5432/db",
		"redis://:s3cret@host:6379/0":             "redis://:****@host:6379/0",
		"postgres://u:p@ss@h/db?sslmode=disable":  "postgres://u:****@h/db?sslmode=disable",
		"postgres://user@host/db":                 "postgres://user@host/db",
		"sqlite:///var/lib/x.db":                  "sqlite:///var/lib/x.db",
		"host=h user=u password=secret dbname=d":  "host=h user=u password=**** dbname=d",
		"host=h password='se cret\\' x' dbname=d": "host=h password=**** dbname=d",
		"kafka:9092": "kafka:9092",
		"amqp://guest:gu%40est@rabbit:5672/vhost#frag": "amqp://guest:****@rabbit:5672/vhost#frag",
	} {
		if got := MaskDSN(in); got != want {
			t.Errorf("MaskDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"connect postgresql://app:Xy7!k@db:5432/app failed, retry redis://:r3d!s@cache:6379/0 ok": "connect postgresql://app:****@db:5432/app failed, retry redis://:****@cache:6379/0 ok",
		"dsn=\"mysql://root:p@ss;w0rd@10.0.0.1/x\"":                                               "dsn=\"mysql://root:****@10.0.0.1/x\"",
		"see https://example.com/a@b and user@example.com":                                        "see https://example.com/a@b and user@example.com",
		"Password=hunter22 and password=x2 done":                                                  "Password=**** and password=**** done",
		"already postgresql://user:****@host:5432/db":                                             "already postgresql://user:****@host:5432/db",
		"nothing here": "nothing here",
	} {
		if got := MaskText(in); got != want {
			t.Errorf("MaskText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

type replaceMasker struct{ secret string }

func (m replaceMasker) MaskString(s string) string { return strings.ReplaceAll(s, m.secret, Mask) }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

type leaky struct{ Inner string }

func TestHandler(t *testing.T) {
	t.Parallel()
	const known = "kn0wn-Value-123456"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var inner slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				inner = slog.NewJSONHandler(&buf, nil)
			}
			log := slog.New(NewHandler(inner, replaceMasker{known}))
			log.With("api_key", "AKIAIOSFODNN7EXAMPLE").WithGroup("db").Info("connecting to postgresql://app:Sup3rS3cret@db:5432/app",
				"password", "hunter2hunter2",
				"dsn", "host=db password=pgpass99",
				"key_id", "k-7f3a",
				"user", "app",
				"err", errors.New("dial redis://:redispw77@cache:6379/0: refused"),
				"note", "value is "+known,
				"bytes", []byte("raw "+known),
				"struct", leaky{Inner: known},
				"sens", valuer{},
				slog.Group("auth", "header", "Bearer abcdefabcdef123456"),
				slog.Group("http", "authorization", "Bearer zzzzyyyyxxxx1234", "status", 200),
			)
			out := buf.String()
			for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "Sup3rS3cret", "hunter2hunter2", "pgpass99", "redispw77", known, "abcdefabcdef123456", "zzzzyyyyxxxx1234"} {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
			for _, s := range []string{"k-7f3a", "postgresql://app:****@db:5432/app", "redis://:****@cache:6379/0", "[REDACTED]", "200"} {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestHandlerSecretGroup(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&buf, nil), nil))
	log.WithGroup("credentials").Info("x", "user", "bob-the-builder-99")
	if strings.Contains(buf.String(), "bob-the-builder-99") {
		t.Errorf("value under a sensitive group leaked: %s", buf.String())
	}
	if !log.Handler().Enabled(context.Background(), slog.LevelInfo) || log.Handler().Enabled(context.Background(), slog.LevelDebug) {
		t.Error("Enabled does not follow the inner handler")
	}
}

// FuzzRedact logs a secret as a sensitive attribute, as a DSN password in the
// message and as a known value inside free text; the output never contains
// it.
func FuzzRedact(f *testing.F) {
	f.Add("password", "hunter2hunter2", "pre ", " post")
	f.Add("api_key", "sk-abc\"def\\ghi", "", "")
	f.Add("token", "p@ss;w0rd!!", "x=", "&y")
	f.Fuzz(func(t *testing.T, key, secret, pre, post string) {
		if len(secret) < 8 || !SensitiveKey(key) {
			return
		}
		for _, format := range []string{"text", "json"} {
			var buf bytes.Buffer
			var inner slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				inner = slog.NewJSONHandler(&buf, nil)
			}
			log := slog.New(NewHandler(inner, replaceMasker{secret}))
			msg, refMsg := "m", "m"
			if !strings.ContainsAny(secret, "/?#@ \t\r\n\"'<>`:") {
				msg = pre + "postgresql://user:" + secret + "@host:5432/db" + post
				refMsg = pre + "postgresql://user:@host:5432/db" + post
			}
			log.Info(msg, key, secret, "free", pre+secret+post)
			out := buf.String()
			// The secret may appear by coincidence in what we wrote around it.
			var ref bytes.Buffer
			var refInner slog.Handler = slog.NewTextHandler(&ref, nil)
			if format == "json" {
				refInner = slog.NewJSONHandler(&ref, nil)
			}
			slog.New(refInner).Info(refMsg, key, "", "free", pre+post)
			if strings.Contains(out, secret) && !strings.Contains(ref.String(), secret) && !strings.Contains(secret, Mask) {
				t.Fatalf("%s output contains the secret %q:\n%s", format, secret, out)
			}
		}
	})
}
