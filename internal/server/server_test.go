package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// events is an audit.Recorder that keeps events.
type events struct {
	mu   sync.Mutex
	evs  []audit.Event
	fail bool
}

func (e *events) Record(_ context.Context, ev audit.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return errors.New("sink down")
	}
	e.evs = append(e.evs, ev)
	return nil
}

func (e *events) all() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audit.Event(nil), e.evs...)
}

func (e *events) last() audit.Event {
	all := e.all()
	if len(all) == 0 {
		return audit.Event{}
	}
	return all[len(all)-1]
}

const testPolicy = `services:
  gateway: {read: ["llm/*", "db/gateway/*"]}
  worker:  {read: ["llm/openai_api_key"]}
  deployer:
    list:  ["**"]
    write: ["app/**"]
`

type harness struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	sec    *secrets.Service
	ev     *events
	tokens *token.Manager
	logs   *bytes.Buffer
	clock  *testClock
	policy *policy.Holder
	ids    *identity.Manager
	creds  map[string]string // each identity's credential
	db     *sqlite.DB
}

// The harness's operators, besides the policy's services.
var harnessOperators = map[string]identity.Role{"admin": identity.Admin, "alice": identity.Auditor, "rita": identity.Responder}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with the server's dependencies changed by
// deps before it starts.
func newHarnessWith(t testing.TB, deps func(*Deps)) *harness {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	clk := &testClock{t: time.Now().UTC()}
	ev := &events{}
	h := &harness{t: t, ev: ev, clock: clk, logs: &bytes.Buffer{}, policy: policy.Static(p), creds: map[string]string{}}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	h.sec = secrets.New(db, ring, ev, clk.now)
	h.db = db
	h.tokens = token.NewManager(db, token.Options{TTL: time.Hour, MaxTTL: 24 * time.Hour, CacheTTL: time.Minute, Now: clk.now})
	h.ids = identity.NewManager(db, identity.Options{Now: clk.now})
	add := func(name string, o identity.AddOptions) {
		is, err := h.ids.Add(context.Background(), name, o)
		if err != nil {
			t.Fatal(err)
		}
		h.creds[name] = is.Credential.Reveal()
	}
	for _, s := range []string{"gateway", "worker", "deployer"} {
		add(s, identity.AddOptions{Kind: identity.Service})
	}
	for n, r := range harnessOperators {
		add(n, identity.AddOptions{Kind: identity.Operator, Role: r})
	}
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := Deps{
		Secrets:    h.sec,
		Tokens:     h.tokens,
		Policy:     h.policy,
		Identities: h.ids,
		Audit:      ev,
		Logger:     logger,
		Checks:     map[string]func(context.Context) error{"store": func(context.Context) error { return nil }},
		KeyAges: func() []rotate.KeyAge {
			return []rotate.KeyAge{{ID: "0123456789ab", Primary: true, Age: 48 * time.Hour}}
		},
		Now: clk.now,
	}
	if deps != nil {
		deps(&d)
	}
	h.srv = New(d)
	h.ts = httptest.NewServer(h.srv)
	t.Cleanup(h.ts.Close)
	for name, val := range map[string]string{
		"llm/openai_api_key":    "sk-openai-CANARY-1",
		"llm/anthropic_api_key": "sk-ant-CANARY-2",
		"db/gateway/password":   "pw-gateway-CANARY-3",
		"db/worker/password":    "pw-worker-CANARY-4",
		"app/web/token":         "app-CANARY-5",
	} {
		if _, err := h.sec.Put(context.Background(), name, sensitive.New(val), secrets.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (r resp) code(t *testing.T) string {
	t.Helper()
	c, _ := r.json(t)["code"].(string)
	return c
}

func (h *harness) do(method, path, bearer string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// login logs an identity in with its own credential.
func (h *harness) login(name string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/auth/login", h.creds[name], nil)
	if r.status != 200 {
		h.t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	tok, _ := r.json(h.t)["token"].(string)
	return tok
}

func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("POST", "/v1/auth/login", h.creds["gateway"], nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	tok, _ := m["token"].(string)
	if !strings.HasPrefix(tok, "sa01s_") || m["identity"] != "gateway" || m["kind"] != "service" || m["service"] != "gateway" || m["renewable"] != true {
		t.Fatalf("login answer %v", m)
	}
	exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
	if err != nil || exp.Sub(h.clock.now()) > time.Hour+time.Second || exp.Sub(h.clock.now()) < time.Hour-time.Second {
		t.Fatalf("expires_at %v (%v)", m["expires_at"], err)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("login answer cacheable")
	}
	ev := h.ev.last()
	if ev.Action != "login" || ev.Outcome != audit.Success || ev.Service != "gateway" || ev.Actor != "service:gateway" ||
		!strings.HasPrefix(ev.Detail, "token acc_") || ev.RequestID == "" || ev.Source == "" {
		t.Fatalf("login event %+v", ev)
	}
	// naming itself is allowed, in either field
	for _, body := range []map[string]string{{"identity": "gateway"}, {"service": "gateway"}} {
		if r := h.do("POST", "/v1/auth/login", h.creds["gateway"], body); r.status != 200 {
			t.Fatalf("login naming itself %v: %d %s", body, r.status, r.body)
		}
	}
	// an operator logs in as itself, with its role
	r = h.do("POST", "/v1/auth/login", h.creds["alice"], nil)
	if m := r.json(t); r.status != 200 || m["identity"] != "alice" || m["kind"] != "operator" || m["role"] != "auditor" || m["service"] != nil {
		t.Fatalf("operator login: %d %v", r.status, m)
	}
	if ev := h.ev.last(); ev.Actor != "operator:alice" || ev.Service != "" {
		t.Fatalf("operator login event %+v", ev)
	}

	for _, c := range []struct {
		name, bearer string
		body         any
		status       int
		code, reason string
	}{
		// a service credential claiming another identity: the shared-token login of old
		{"claims another service", h.creds["worker"], map[string]string{"service": "gateway"}, 403, CodeDenied, "credential of another identity"},
		{"claims admin", h.creds["gateway"], map[string]string{"identity": "admin"}, 403, CodeDenied, "credential of another identity"},
		{"operator claims a service", h.creds["alice"], map[string]string{"identity": "gateway"}, 403, CodeDenied, "credential of another identity"},
		{"wrong credential", "sa01c_" + strings.Repeat("A", 43), map[string]string{"service": "gateway"}, 401, CodeUnauthenticated, "invalid credential"},
		{"malformed credential", "nope", nil, 401, CodeUnauthenticated, "invalid credential"},
		{"no credential", "", map[string]string{"service": "gateway"}, 401, CodeUnauthenticated, "missing token"},
		{"a token is not a credential", tok, nil, 401, CodeUnauthenticated, "invalid credential"},
		{"bad json", h.creds["gateway"], "{", 400, CodeInvalid, ""},
		{"unknown field", h.creds["gateway"], `{"service":"gateway","ttl":5}`, 400, CodeInvalid, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := len(h.ev.all())
			r := h.do("POST", "/v1/auth/login", c.bearer, c.body)
			if r.status != c.status || r.code(t) != c.code || strings.Contains(string(r.body), "sa01s_") {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if c.reason != "" {
				ev := h.ev.last()
				if len(h.ev.all()) != n+1 || ev.Action != "login" || ev.Outcome != audit.Failure || ev.Reason != c.reason {
					t.Fatalf("event %+v", ev)
				}
			}
		})
	}
	if ev := h.ev.all(); true {
		var claim audit.Event
		for _, e := range ev {
			if e.Reason == "credential of another identity" {
				claim = e
				break
			}
		}
		if claim.Actor != "service:worker" || claim.Detail != "asked for gateway" {
			t.Fatalf("the refused claim is audited as %+v; want the worker, asking for gateway", claim)
		}
	}
}

// TestAccessTable runs every service over every secret and action.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tokens := map[string]string{}
	for _, s := range []string{"gateway", "worker", "deployer"} {
		tokens[s] = h.login(s)
	}
	secrets := []string{"llm/openai_api_key", "llm/anthropic_api_key", "db/gateway/password", "db/worker/password", "app/web/token", "llm/missing"}
	// granted[service][action] lists the secrets that action is allowed on.
	granted := map[string]map[string][]string{
		"gateway":  {"read": {"llm/openai_api_key", "llm/anthropic_api_key", "db/gateway/password", "llm/missing"}},
		"worker":   {"read": {"llm/openai_api_key"}},
		"deployer": {"write": {"app/web/token"}},
	}
	exists := map[string]bool{"llm/missing": false}
	for svc, tok := range tokens {
		for _, name := range secrets {
			for _, action := range []string{"read", "history", "write", "delete"} {
				t.Run(svc+"/"+action+"/"+name, func(t *testing.T) {
					allowedAction := action
					if action == "history" {
						allowedAction = "read"
					}
					if action == "delete" {
						allowedAction = "write"
					}
					ok := false
					for _, g := range granted[svc][allowedAction] {
						ok = ok || g == name
					}
					found := true
					if e, set := exists[name]; set {
						found = e
					}
					var r resp
					switch action {
					case "read":
						r = h.do("GET", "/v1/secrets/"+name, tok, nil)
					case "history":
						r = h.do("GET", "/v1/secrets/"+name+"/history", tok, nil)
					case "write":
						// cas 99 never matches: a granted write is a conflict, so the table leaves the data as it is
						r = h.do("PUT", "/v1/secrets/"+name, tok, map[string]any{"value": "new", "cas": 99})
					case "delete":
						r = h.do("DELETE", "/v1/secrets/"+name+"-nope", tok, nil)
						name += "-nope"
						found = false
						ok = ok && strings.HasPrefix(name, "app/")
					}
					switch {
					case !ok:
						if r.status != 403 || r.code(t) != CodeDenied {
							t.Fatalf("want 403 denied, got %d %s", r.status, r.body)
						}
						ev := h.ev.last()
						if ev.Reason != "denied" || ev.Secret != name || ev.Service != svc || ev.Outcome != audit.Failure {
							t.Fatalf("denial event %+v", ev)
						}
					case !found:
						if r.status != 404 || r.code(t) != CodeNotFound {
							t.Fatalf("want 404, got %d %s", r.status, r.body)
						}
					case action == "write":
						if r.status != 409 {
							t.Fatalf("want 409, got %d %s", r.status, r.body)
						}
					default:
						if r.status != 200 {
							t.Fatalf("want 200, got %d %s", r.status, r.body)
						}
					}
				})
			}
		}
	}
}

// TestDeniedLooksLikeMissing: a secret the caller may not read answers the
// same whether it exists or not.
func TestDeniedLooksLikeMissing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login("worker")
	a := h.do("GET", "/v1/secrets/db/gateway/password", tok, nil)
	b := h.do("GET", "/v1/secrets/db/gateway/nothing-here", tok, nil)
	if a.status != b.status || !bytes.Equal(a.body, b.body) {
		t.Fatalf("existing: %d %s; missing: %d %s", a.status, a.body, b.status, b.body)
	}
}

func TestReadWriteFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gw := h.login("gateway")
	r := h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil)
	m := r.json(t)
	if r.status != 200 || m["value"] != "sk-openai-CANARY-1" || m["env"] != "OPENAI_API_KEY" || m["version"] != 1.0 || m["name"] != "llm/openai_api_key" {
		t.Fatalf("%d %v", r.status, m)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("value cacheable")
	}
	ev := h.ev.last()
	if ev.Action != "read" || ev.Secret != "llm/openai_api_key" || ev.Service != "gateway" || ev.Actor != "service:gateway" || ev.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("read event %+v", ev)
	}

	dep := h.login("deployer")
	r = h.do("PUT", "/v1/secrets/app/web/token", dep, map[string]any{"value": "v2", "cas": 1})
	if r.status != 200 || r.json(t)["version"] != 2.0 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "v2\"") && strings.Contains(string(r.body), "value") {
		t.Fatal("put answer echoes the value")
	}
	r = h.do("PUT", "/v1/secrets/app/web/token", dep, map[string]any{"value": "v3", "cas": 1})
	if r.status != 409 || r.code(t) != CodeConflict {
		t.Fatalf("stale cas: %d %s", r.status, r.body)
	}
	r = h.do("PUT", "/v1/secrets/app/new", dep, map[string]any{"value": "x", "cas": 0})
	if r.status != 200 {
		t.Fatalf("cas 0: %d %s", r.status, r.body)
	}
	r = h.do("PUT", "/v1/secrets/app/x/history", dep, map[string]any{"value": "x"})
	if r.status != 400 {
		t.Fatalf("reserved name: %d %s", r.status, r.body)
	}
	r = h.do("PUT", "/v1/secrets/app/y", dep, map[string]any{"cas": 0})
	if r.status != 400 {
		t.Fatalf("no value: %d", r.status)
	}
	r = h.do("PUT", "/v1/secrets/app/y", dep, `{"value": "`+strings.Repeat("x", MaxBodyBytes+10)+`"}`)
	if r.status != 413 || r.code(t) != CodeTooLarge {
		t.Fatalf("huge body: %d %s", r.status, r.body)
	}
	// deployer lists everything, reads nothing
	r = h.do("GET", "/v1/secrets?prefix=app/", dep, nil)
	if r.status != 200 || strings.Count(string(r.body), `"name"`) != 2 || strings.Contains(string(r.body), "CANARY") {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/secrets/app/web/token/history", dep, nil)
	if r.status != 403 {
		t.Fatalf("history without read: %d", r.status)
	}
	r = h.do("DELETE", "/v1/secrets/app/new", dep, nil)
	if r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}

	// versions and history
	r = h.do("GET", "/v1/secrets/llm/openai_api_key?version=1", gw, nil)
	if r.status != 200 {
		t.Fatalf("version=1: %d", r.status)
	}
	for _, v := range []string{"0", "-1", "x", "1.5"} {
		if r = h.do("GET", "/v1/secrets/llm/openai_api_key?version="+v, gw, nil); r.status != 400 {
			t.Fatalf("version=%s: %d", v, r.status)
		}
	}
	if r = h.do("GET", "/v1/secrets/llm/openai_api_key?version=7", gw, nil); r.status != 404 {
		t.Fatalf("version=7: %d", r.status)
	}
	r = h.do("GET", "/v1/secrets/llm/openai_api_key/history", gw, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"versions"`) || strings.Contains(string(r.body), "CANARY") {
		t.Fatalf("history: %d %s", r.status, r.body)
	}

	// list shows only what the caller may read
	r = h.do("GET", "/v1/secrets", gw, nil)
	var list struct {
		Secrets []struct{ Name, Env string } `json:"secrets"`
	}
	_ = json.Unmarshal(r.body, &list)
	var names []string
	for _, s := range list.Secrets {
		names = append(names, s.Name+"="+s.Env)
	}
	if got := strings.Join(names, ","); got != "db/gateway/password=PASSWORD,llm/anthropic_api_key=ANTHROPIC_API_KEY,llm/openai_api_key=OPENAI_API_KEY" {
		t.Fatalf("list = %s", got)
	}
}

func TestTokens401(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login("gateway")
	revoked := h.login("gateway")
	if r := h.do("POST", "/v1/auth/revoke", revoked, nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if ev := h.ev.last(); ev.Action != "revoke" || ev.Outcome != audit.Success {
		t.Fatalf("revoke event %+v", ev)
	}
	expiring := h.login("worker")
	h.clock.add(59 * time.Minute)
	if r := h.do("POST", "/v1/auth/renew", tok, nil); r.status != 200 {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	if ev := h.ev.last(); ev.Action != "renew" || ev.Outcome != audit.Success {
		t.Fatalf("renew event %+v", ev)
	}
	h.clock.add(2 * time.Minute) // expiring is past its hour; tok was renewed
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", tok, nil); r.status != 200 {
		t.Fatalf("renewed token: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		name, bearer, header, reason, msg string
	}{
		{"missing", "", "", "missing token", "missing token"},
		{"malformed", "sa01s_short", "", "invalid token", "invalid token"},
		{"unknown", "sa01s_" + strings.Repeat("A", 43), "", "invalid token", "invalid token"},
		{"credential", h.creds["gateway"], "", "invalid token", "invalid token"},
		{"revoked", revoked, "", "revoked token", "token revoked"},
		{"expired", expiring, "", "expired token", "token expired"},
		{"basic scheme", "", "Basic " + tok, "missing token", "missing token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.ts.URL+"/v1/secrets/llm/openai_api_key", nil)
			if c.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+c.bearer)
			}
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			res, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{res.StatusCode, res.Header, b}
			if r.status != 401 || r.code(t) != CodeUnauthenticated || !strings.Contains(r.json(t)["message"].(string), c.msg) {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate")
			}
			ev := h.ev.last()
			if ev.Outcome != audit.Failure || ev.Reason != c.reason || ev.Action != "read" || ev.Secret != "llm/openai_api_key" {
				t.Fatalf("event %+v", ev)
			}
		})
	}
	for _, path := range []string{"/v1/auth/self", "/v1/auth/renew"} {
		method := "GET"
		if path == "/v1/auth/renew" {
			method = "POST"
		}
		if r := h.do(method, path, revoked, nil); r.status != 401 {
			t.Fatalf("%s with a revoked token: %d", path, r.status)
		}
	}
}

func TestSelfAndRevokeService(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := h.login("gateway"), h.login("gateway")
	w := h.login("worker")
	r := h.do("GET", "/v1/auth/self", a, nil)
	m := r.json(t)
	if r.status != 200 || m["service"] != "gateway" || m["token"] != nil || m["renewable"] != true {
		t.Fatalf("self: %d %v", r.status, m)
	}
	acc := m["accessor"].(string)
	// a service token cannot revoke a service
	if r := h.do("POST", "/v1/auth/revoke", w, map[string]string{"service": "gateway"}); r.status != 403 {
		t.Fatalf("service revoking another service: %d", r.status)
	}
	if r := h.do("GET", "/v1/auth/self", a, nil); r.status != 200 {
		t.Fatal("a service token revoked another service")
	}
	// nor may an operator other than admin
	if r := h.do("POST", "/v1/auth/revoke", h.login("alice"), map[string]string{"service": "gateway"}); r.status != 403 {
		t.Fatalf("auditor revoking a service: %d", r.status)
	}
	admin := h.login("admin")
	r = h.do("POST", "/v1/auth/revoke", admin, map[string]string{"service": "gateway"})
	if r.status != 200 || r.json(t)["revoked"] != 2.0 {
		t.Fatalf("revoke service: %d %s", r.status, r.body)
	}
	for _, tk := range []string{a, b} {
		if r := h.do("GET", "/v1/auth/self", tk, nil); r.status != 401 {
			t.Fatal("token of a revoked service still valid")
		}
	}
	r = h.do("POST", "/v1/auth/revoke", admin, map[string]string{"accessor": acc})
	if r.status != 200 {
		t.Fatalf("revoke accessor: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/auth/revoke", admin, map[string]string{"accessor": "acc_ffffffffffffffff"})
	if r.status != 404 {
		t.Fatalf("revoke unknown accessor: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/auth/revoke", admin, map[string]string{"identity": "gateway", "accessor": acc}); r.status != 400 {
		t.Fatalf("revoke both: %d", r.status)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/v1/sys/health", "", nil)
	m := r.json(t)
	if r.status != 200 || m["status"] != "ok" || m["auth_required"] != true || m["warning"] != nil {
		t.Fatalf("%d %v", r.status, m)
	}
	h.srv.d.Checks["audit"] = func(context.Context) error { return errors.New("sink down") }
	r = h.do("GET", "/v1/sys/health", "", nil)
	if r.status != 503 || r.json(t)["status"] != "unavailable" || !strings.Contains(string(r.body), `"audit":"unavailable"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestAuditDownRefusesLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.ev.mu.Lock()
	h.ev.fail = true
	h.ev.mu.Unlock()
	r := h.do("POST", "/v1/auth/login", h.creds["gateway"], nil)
	if r.status != 503 || r.code(t) != CodeUnavailable || strings.Contains(string(r.body), "sa01s_") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n, _ := h.tokens.Live(context.Background()); n != 0 {
		t.Fatalf("an unaudited token lives: %d", n)
	}
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.do("GET", "/v1/nope", "", nil); r.status != 404 || r.code(t) != CodeNotFound {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/v1/auth/self", "", nil); r.status != 405 || r.code(t) != CodeMethod || r.header.Get("Allow") == "" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	tok := h.login("gateway")
	if r := h.do("GET", "/v1/secrets/", tok, nil); r.status != 400 {
		t.Fatalf("empty name: %d %s", r.status, r.body)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login("gateway")
	h.do("GET", "/v1/secrets/llm/openai_api_key", tok, nil)
	h.do("GET", "/v1/secrets/db/worker/password", tok, nil)
	h.do("GET", "/v1/secrets/llm/openai_api_key/history", tok, nil)
	r := h.do("GET", "/metrics", "", nil)
	body := string(r.body)
	for _, want := range []string{
		`sa01_http_requests_total{code="200",outcome="success",route="secrets.get"} 1`,
		`sa01_http_requests_total{code="403",outcome="denied",route="secrets.get"} 1`,
		`sa01_http_requests_total{code="200",outcome="success",route="secrets.history"} 1`,
		`sa01_http_request_duration_seconds_bucket{route="secrets.get"`,
		`sa01_tokens_live 1`,
		`sa01_key_age_seconds{key_id="0123456789ab",primary="true"} 172800`,
		`sa01_auth_required 1`,
		`sa01_read_cache_reads_total{result="hit"} 0`, // the harness's recorder cannot prove a cached read
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, never := range []string{"openai", "CANARY", "db/worker", tok[6:]} {
		if strings.Contains(body, never) {
			t.Errorf("metrics hold %q", never)
		}
	}
}

// TestNoLeak pushes known values through every path and finds them in no
// log line, audit event, error body or metric.
func TestNoLeak(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const canary = "CANARY-put-value-7f3a"
	dep := h.login("deployer")
	gw := h.login("gateway")
	h.do("PUT", "/v1/secrets/app/leak", dep, map[string]any{"value": canary})
	h.do("PUT", "/v1/secrets/app/leak", dep, map[string]any{"value": canary, "cas": 7})
	h.do("PUT", "/v1/secrets/llm/leak", dep, map[string]any{"value": canary})
	h.do("PUT", "/v1/secrets/app/leak", dep, `{"value": "`+canary+`", "bogus": 1}`)
	h.do("PUT", "/v1/secrets/app/leak", dep, `{"value": `+canary+`}`)
	h.do("PUT", "/v1/secrets/app/leak", dep, `{"value": "`+canary+`"`)
	h.do("PUT", "/v1/secrets/app/leak", "sa01s_"+canary, map[string]any{"value": canary})
	h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil)
	h.do("GET", "/v1/secrets/db/worker/password", gw, nil)
	h.do("POST", "/v1/auth/login", canary, map[string]string{"service": "gateway"})
	h.do("POST", "/v1/auth/login", h.creds["gateway"], `{"service": "`+canary+`"`)
	h.do("POST", "/v1/auth/login", h.creds["gateway"], `{"service": "`+canary+`"}`)
	h.do("POST", "/v1/auth/login", "sa01c_"+canary, nil)
	h.do("POST", "/v1/auth/revoke", "", nil)
	metrics := h.do("GET", "/metrics", "", nil)
	var errs bytes.Buffer
	for _, p := range []string{"/v1/secrets/app/leak", "/v1/secrets/db/worker/password"} {
		errs.Write(h.do("GET", p, gw, nil).body)
	}
	evJSON, _ := json.Marshal(h.ev.all())
	for where, text := range map[string]string{
		"logs":    h.logs.String(),
		"audit":   string(evJSON),
		"errors":  errs.String(),
		"metrics": string(metrics.body),
	} {
		for _, v := range []string{canary, "sk-openai-CANARY-1", "pw-worker-CANARY-4", h.creds["gateway"][6:], gw[6:], dep[6:]} {
			if strings.Contains(text, v) {
				t.Errorf("%s hold a value (%.12s...)", where, v)
			}
		}
	}
	if len(h.ev.all()) < 10 {
		t.Fatal("too few events: the test did not exercise the paths")
	}
}
