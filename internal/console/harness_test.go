package console_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/console/consoletest"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// clock is a test clock shared by the console, the store and the audit.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testPolicy = `services:
  gateway: {read: ["llm/*", "db/gateway/*"]}
  worker:  {read: ["llm/openai_api_key"]}
  deployer:
    list:  ["**"]
    write: ["app/**"]
`

// harness is a console over a real store, with one operator per role and
// a service, and secrets whose values are canaries.
type harness struct {
	t      testing.TB
	b      *consoletest.Backend
	c      *console.Console
	ts     *httptest.Server
	clock  *clock
	creds  map[string]string // identity name → credential
	values map[string][]string
	logs   *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Operators of the harness, by role.
const (
	admin     = "alice"
	auditor   = "audrey"
	responder = "rita"
	service   = "gateway"
)

// seeded are the secrets of the harness, with a value per version.
var seeded = map[string][]string{
	"llm/openai_api_key":      {"sk-openai-CANARY-v1-4f9c2a", "sk-openai-CANARY-v2-77d0e1"},
	"llm/anthropic_api_key":   {"sk-ant-CANARY-v1-19ab03"},
	"db/gateway/password":     {"pw-gateway-CANARY-v1-8c21f7"},
	"db/worker/password":      {"pw-worker-CANARY-v1-e3370a"},
	"app/web/session_secret":  {"web-CANARY-v1-52de99"},
	"platform/internal_token": {"tok-CANARY-v1-6a1b4d"},
}

type harnessOpts struct {
	tls           bool
	downloadLimit int
	opa           *opa.Decider
}

func newHarness(t testing.TB, opts ...harnessOpts) *harness {
	t.Helper()
	var o harnessOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	clk := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	b, err := consoletest.New(ctx, consoletest.Options{Dir: t.TempDir(), Policy: testPolicy, Now: clk.now, OPA: o.opa})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	h := &harness{t: t, b: b, clock: clk, creds: map[string]string{}, values: map[string][]string{}, logs: &lockedBuffer{}}
	h.creds[admin] = b.IDs.Add(admin, console.KindOperator, console.RoleAdmin, 0)
	h.creds[auditor] = b.IDs.Add(auditor, console.KindOperator, console.RoleAuditor, 0)
	h.creds[responder] = b.IDs.Add(responder, console.KindOperator, console.RoleResponder, 0)
	h.creds[service] = b.IDs.Add(service, console.KindService, "", 0)
	seed := audit.WithCaller(ctx, audit.Caller{Service: "seed", Actor: "seed", Source: "local"})
	for name, vals := range seeded {
		class := store.ClassAPIKey
		if strings.HasPrefix(name, "platform/") {
			class = store.ClassInternalToken
		}
		for _, v := range vals {
			if _, err := b.Service.Put(seed, name, sensitive.New(v), secrets.PutOptions{Class: class}); err != nil {
				t.Fatal(err)
			}
			h.values[name] = append(h.values[name], v)
		}
	}
	h.c = console.New(console.Options{Backend: b, Now: clk.now, Logger: slog.New(slog.NewTextHandler(h.logs, nil)), DownloadLimit: o.downloadLimit})
	if o.tls {
		h.ts = httptest.NewTLSServer(h.c)
	} else {
		h.ts = httptest.NewServer(h.c)
	}
	t.Cleanup(h.ts.Close)
	return h
}

// allValues returns every stored value of every secret.
func (h *harness) allValues() []string {
	var out []string
	for _, vs := range h.values {
		out = append(out, vs...)
	}
	return out
}

// user is a browser-like client: a cookie jar, no redirects followed.
type user struct {
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) newUser() *user {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if h.ts.TLS != nil {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	return &user{h: h, c: c}
}

var (
	metaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	formCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   string
}

func (u *user) do(req *http.Request) response {
	u.h.t.Helper()
	resp, err := u.c.Do(req)
	if err != nil {
		u.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if m := metaCSRF.FindStringSubmatch(body); m != nil {
		u.csrf = m[1]
	}
	return response{resp.StatusCode, resp.Header, body}
}

func (u *user) get(path string) response {
	u.h.t.Helper()
	req, _ := http.NewRequest("GET", u.h.ts.URL+path, nil)
	return u.do(req)
}

// post submits a form; the session's CSRF token is added unless the form
// has one.
func (u *user) post(path string, form url.Values) response {
	u.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", u.csrf)
	}
	req, _ := http.NewRequest("POST", u.h.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// signIn signs the user in as name and returns the sign-in's answer.
func (u *user) signIn(name string) response {
	u.h.t.Helper()
	page := u.get("/ui/signin")
	m := formCSRF.FindStringSubmatch(page.body)
	if m == nil {
		u.h.t.Fatalf("no CSRF token in the sign-in page:\n%s", page.body)
	}
	r := u.post("/ui/signin", url.Values{"csrf": {m[1]}, "credential": {u.h.creds[name]}})
	if r.status == http.StatusSeeOther {
		u.get("/ui/secrets") // picks up the session's CSRF token
	}
	return r
}

// as returns a user signed in as name.
func (h *harness) as(name string) *user {
	h.t.Helper()
	u := h.newUser()
	if r := u.signIn(name); r.status != http.StatusSeeOther {
		h.t.Fatalf("sign-in as %s: status %d", name, r.status)
	}
	return u
}

// events returns every audit event of the store, oldest first.
func (h *harness) events() []audit.Entry {
	h.t.Helper()
	es, err := h.b.DB.QueryAudit(context.Background(), audit.Query{})
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

// lastEvent returns the newest event with action, or fails.
func (h *harness) lastEvent(action string) audit.Entry {
	h.t.Helper()
	es := h.events()
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == action {
			return es[i]
		}
	}
	h.t.Fatalf("no %s event in the audit trail", action)
	return audit.Entry{}
}
