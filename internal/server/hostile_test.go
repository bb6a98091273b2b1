package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// TestBodiesReadOneWay: a body that two JSON readers could read two ways,
// or that encoding/json would change on the way in, is refused whole and
// writes nothing; the same value sent cleanly is stored as sent.
func TestBodiesReadOneWay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dep := h.login("deployer")
	for _, c := range []struct{ what, body string }{
		{"invalid UTF-8 in the value", "{\"value\": \"ab\xff\xfecd\"}"},
		{"invalid UTF-8 in a key", "{\"value\": \"v\", \"env\xff\": \"X\"}"},
		{"a lone surrogate escaped", `{"value": "ab\ud800cd"}`},
		{"a second half first", `{"value": "ab\udc00\ud800cd"}`},
		{"a first half before another first half", `{"value": "\ud800\ud83d\ude00"}`},
		{"a key twice", `{"value": "first", "value": "second"}`},
		{"a key twice, in another case", `{"value": "first", "VALUE": "second"}`},
		{"a key twice, folded (K and the Kelvin sign)", "{\"value\": \"v\", \"class\": \"config\", \"cl\u212Ass\": \"api-key\"}"},
		{"a ] after the object", `{"value": "v"}]`},
		{"a } after the object", `{"value": "v"}}`},
		{"a second object", `{"value": "v"} {"value": "w"}`},
		{"nested too deep", `{"value": "v", "description": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
		{"empty", ``},
	} {
		r := h.do("PUT", "/v1/secrets/app/hostile", dep, c.body)
		if r.status != 400 || r.code(t) != CodeInvalid {
			t.Errorf("%s: %d %s", c.what, r.status, r.body)
		}
	}
	if _, err := h.sec.Get(context.Background(), "app/hostile", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused body wrote the secret: %v", err)
	}
	// Escaped, the same characters are one reading: stored as sent.
	r := h.do("PUT", "/v1/secrets/app/hostile", dep, `{"value": "ab\ufffd\u0000cd\ud83d\ude00\\ud800", "cas": 0}`)
	if r.status != 200 {
		t.Fatalf("clean body: %d %s", r.status, r.body)
	}
	v, err := h.sec.Get(context.Background(), "app/hostile", 0)
	if err != nil || v.Value.Reveal() != "ab\ufffd\x00cd\U0001F600\\ud800" {
		t.Fatalf("stored %q, %v", v.Value.Reveal(), err)
	}
	// Import's nested entries are checked too.
	r = h.do("POST", "/v1/secrets:import", dep, `{"prefix": "app/", "entries": [{"name": "i1", "value": "a", "name": "i2"}]}`)
	if r.status != 400 {
		t.Fatalf("import with a key twice in an entry: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/secrets:import", dep, `{"prefix": "app/", "entries": [{"name": "i1", "value": "\udfff"}]}`)
	if r.status != 400 {
		t.Fatalf("import with a lone surrogate: %d %s", r.status, r.body)
	}
	if _, err := h.sec.Get(context.Background(), "app/i1", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused import wrote a secret: %v", err)
	}

	// Login: the credential's own identity named last, another first.
	gwCred := h.creds["gateway"]
	before := len(h.ev.all())
	r = h.do("POST", "/v1/auth/login", gwCred, `{"identity": "admin", "identity": "gateway"}`)
	if r.status != 400 || strings.Contains(string(r.body), "sa01s_") {
		t.Fatalf("login with identity twice: %d %s", r.status, r.body)
	}
	for _, ev := range h.ev.all()[before:] {
		if ev.Action == actionLogin && ev.Outcome == "success" {
			t.Fatalf("login with identity twice issued a token: %+v", ev)
		}
	}
}

// TestRequestsReadOneWay: a path the mux would redirect to another
// secret, a query string part of which would be dropped, a parameter
// given twice and two Authorization headers are refused, never guessed.
func TestRequestsReadOneWay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := h.login("admin")
	if r := h.do("PUT", "/v1/secrets/llm/openai_api_key", admin, map[string]any{"value": "v2"}); r.status != 200 {
		t.Fatalf("put v2: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, path string }{
		{"PUT", "/v1/secrets/app/../db/gateway/password"},
		{"GET", "/v1/secrets/app/../db/gateway/password"},
		{"PUT", "/v1/secrets/app//web/token"},
		{"PUT", "/v1/secrets/app/./web/token"},
		{"GET", "/v1/secrets/llm/openai_api_key?version=1;x=2"},
		{"GET", "/v1/secrets/llm/openai_api_key?version=%zz"},
		{"GET", "/v1/secrets/llm/openai_api_key?version=1&version=2"},
		{"GET", "/v1/secrets/llm/openai_api_key?verison=1"},
		{"GET", "/v1/secrets/llm/openai_api_key/history?version=1"},
		{"GET", "/v1/secrets?prefix=llm/&prefix=db/"},
		{"GET", "/v1/secrets?deleted=false&deleted=true"},
	} {
		body := ""
		if c.method == "PUT" {
			body = `{"value": "moved"}`
		}
		req, err := http.NewRequest(c.method, h.ts.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := h.doRequest(req, admin, body)
		if r.status != 400 || r.code(t) != CodeInvalid {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	for _, name := range []string{"db/gateway/password", "app/web/token"} {
		if v, err := h.sec.Get(context.Background(), name, 0); err != nil || v.Version.Version != 1 {
			t.Fatalf("%s changed: version %d, %v", name, v.Version.Version, err)
		}
	}

	req, _ := http.NewRequest("GET", h.ts.URL+"/v1/auth/self", nil)
	req.Header.Add("Authorization", "Bearer "+admin)
	req.Header.Add("Authorization", "Bearer sa01s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if r := h.doRequest(req, "", ""); r.status != 400 {
		t.Fatalf("two Authorization headers: %d %s", r.status, r.body)
	}
	// One of each still works.
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key?version=1", admin, nil); r.status != 200 || r.json(t)["version"] != 1.0 {
		t.Fatalf("version=1: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/secrets?prefix=llm/&deleted=true", admin, nil); r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
}

// doRequest sends req as do sends its own, without following redirects.
func (h *harness) doRequest(req *http.Request, bearer, body string) resp {
	h.t.Helper()
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	c := *h.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// TestRefusedTokenAuditedAsTheRoute: a request refused for its token is
// recorded under the action its handler records on success, and under the
// secret without the path's :op or /history, so that a query for destroy
// or rollback finds the attempts that had no token.
func TestRefusedTokenAuditedAsTheRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bad := "sa01s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, c := range []struct{ method, path, action, secret string }{
		{"POST", "/v1/secrets/llm/openai_api_key:destroy", "destroy", "llm/openai_api_key"},
		{"POST", "/v1/secrets/llm/openai_api_key:rollback", "rollback", "llm/openai_api_key"},
		{"POST", "/v1/secrets/llm/openai_api_key:undelete", "undelete", "llm/openai_api_key"},
		{"POST", "/v1/secrets:import", "write", ""},
		{"PUT", "/v1/secrets/app/web/token", "write", "app/web/token"},
		{"DELETE", "/v1/secrets/app/web/token", "delete", "app/web/token"},
		{"GET", "/v1/secrets/app/web/token", "read", "app/web/token"},
		{"GET", "/v1/secrets/app/web/token/history", "list", "app/web/token"},
		{"GET", "/v1/secrets", "list", ""},
		{"POST", "/v1/auth/renew", "renew", ""},
		{"POST", "/v1/auth/revoke", "revoke", ""},
		{"GET", "/v1/auth/self", "self", ""},
		{"POST", "/v1/identities", "identity-add", ""},
		{"POST", "/v1/identities/gateway:rotate", "identity-rotate", ""},
		{"POST", "/v1/identities/gateway:revoke", "identity-revoke", ""},
		{"GET", "/v1/identities", "identity-list", ""},
		{"GET", "/v1/platform-keys", "platform-key", ""},
		{"POST", "/v1/policy/explain", "policy-explain", ""},
		{"GET", "/v1/audit/events", "audit-query", ""},
	} {
		for _, tok := range []string{"", bad} {
			req, _ := http.NewRequest(c.method, h.ts.URL+c.path, nil)
			if r := h.doRequest(req, tok, ""); r.status != 401 {
				t.Errorf("%s %s: %d", c.method, c.path, r.status)
			}
			if ev := h.ev.last(); ev.Action != c.action || ev.Secret != c.secret || ev.Outcome != "failure" {
				t.Errorf("%s %s (a token: %v): recorded %q on %q", c.method, c.path, tok != "", ev.Action, ev.Secret)
			}
		}
	}
}
