package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// lastEvent returns the last event of action, or a zero event.
func (h *harness) lastEvent(action string) audit.Event {
	all := h.ev.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Action == action {
			return all[i]
		}
	}
	return audit.Event{}
}

// TestLifecycleRoutes: rollback, undelete, destroy and import run through
// the server under the caller's identity with the rights of a write, each
// audited under that identity; a reader, an auditor and a responder are
// refused and nothing changes.
func TestLifecycleRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.sec.Put(ctx, "app/web/token", sensitive.New("app-CANARY-6"), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	deployer, gateway, alice, rita := h.login("deployer"), h.login("gateway"), h.login("alice"), h.login("rita")

	// refused: no write right on the secret (a reader, an auditor, a responder, a writer of another path)
	for _, c := range []struct{ who, tok, path string }{
		{"gateway", gateway, "/v1/secrets/llm/openai_api_key:rollback"},
		{"alice", alice, "/v1/secrets/app/web/token:rollback"},
		{"rita", rita, "/v1/secrets/app/web/token:rollback"},
		{"deployer", deployer, "/v1/secrets/llm/openai_api_key:rollback"},
	} {
		if r := h.do("POST", c.path, c.tok, map[string]any{"to": 1}); r.status != 403 || r.code(t) != CodeDenied {
			t.Fatalf("%s rollback %s: %d %s", c.who, c.path, r.status, r.body)
		}
		if ev := h.ev.last(); ev.Action != secrets.ActionRollback || ev.Outcome != audit.Failure {
			t.Fatalf("%s: refusal audited as %+v", c.who, ev)
		}
	}
	for _, tok := range []string{gateway, alice, rita} {
		if r := h.do("POST", "/v1/secrets/llm/openai_api_key:destroy", tok, map[string]any{"version": 1}); r.status != 403 {
			t.Fatalf("destroy by a non-writer: %d %s", r.status, r.body)
		}
	}
	if _, vs, _ := h.sec.History(ctx, "llm/openai_api_key"); len(vs) != 1 || vs[0].Destroyed() {
		t.Fatalf("a refused destroy changed the secret: %+v", vs)
	}

	// rollback by the writer of app/**
	r := h.do("POST", "/v1/secrets/app/web/token:rollback", deployer, map[string]any{"to": 1, "cas": 2})
	if r.status != 200 || r.json(t)["version"] != float64(3) {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	if v, _ := h.sec.Get(ctx, "app/web/token", 0); v.Value.Reveal() != "app-CANARY-5" || v.Version.Version != 3 {
		t.Fatalf("after rollback: v%d", v.Version.Version)
	}
	if ev := h.lastEvent(secrets.ActionRollback); ev.Outcome != audit.Success || !strings.Contains(ev.Actor, "deployer") || ev.Secret != "app/web/token" {
		t.Fatalf("rollback audited as %+v", ev)
	}
	if r := h.do("POST", "/v1/secrets/app/web/token:rollback", deployer, map[string]any{"to": 1, "cas": 2}); r.status != 409 {
		t.Fatalf("rollback with a stale cas: %d %s", r.status, r.body)
	}

	// destroy, then undelete after a delete
	if r := h.do("POST", "/v1/secrets/app/web/token:destroy", deployer, map[string]any{"version": 1}); r.status != 200 {
		t.Fatalf("destroy: %d %s", r.status, r.body)
	}
	if ev := h.lastEvent(secrets.ActionDestroy); ev.Outcome != audit.Success || !strings.Contains(ev.Actor, "deployer") || ev.Version != 1 {
		t.Fatalf("destroy audited as %+v", ev)
	}
	if r := h.do("GET", "/v1/secrets/app/web/token?version=1", deployer, nil); r.status != 403 {
		t.Fatalf("deployer may not read: %d", r.status)
	}
	if _, err := h.sec.Get(ctx, "app/web/token", 1); err == nil {
		t.Fatal("the destroyed version is served")
	}
	hist := h.do("GET", "/v1/secrets/app/web/token/history", h.login("admin"), nil).json(t)
	vs, _ := hist["versions"].([]any)
	if len(vs) != 3 || vs[0].(map[string]any)["destroyed_at"] == nil || hist["class"] != "config" {
		t.Fatalf("history after destroy: %v", hist)
	}
	if r := h.do("DELETE", "/v1/secrets/app/web/token", deployer, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	admin := h.login("admin")
	list := h.do("GET", "/v1/secrets?prefix=app/&deleted=true", admin, nil).json(t)
	if s, _ := list["secrets"].([]any); len(s) != 1 || s[0].(map[string]any)["deleted_at"] == nil {
		t.Fatalf("list deleted=true: %v", list)
	}
	if s, _ := h.do("GET", "/v1/secrets?prefix=app/", admin, nil).json(t)["secrets"].([]any); len(s) != 0 {
		t.Fatalf("list without deleted shows the deleted secret: %v", s)
	}
	if r := h.do("POST", "/v1/secrets/app/web/token:undelete", gateway, nil); r.status != 403 {
		t.Fatalf("undelete by a reader: %d", r.status)
	}
	if r := h.do("POST", "/v1/secrets/app/web/token:undelete", deployer, nil); r.status != 200 {
		t.Fatalf("undelete: %d %s", r.status, r.body)
	}
	if ev := h.lastEvent(secrets.ActionUndelete); ev.Outcome != audit.Success || !strings.Contains(ev.Actor, "deployer") {
		t.Fatalf("undelete audited as %+v", ev)
	}
}

// TestImportRoute: an import is all or none, and one name the caller may
// not write refuses it before anything is written.
func TestImportRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	deployer := h.login("deployer")
	body := map[string]any{"prefix": "app/", "class": "api-key", "entries": []map[string]any{
		{"name": "a/one", "value": "v-CANARY-1"}, {"name": "a/two", "value": "v-CANARY-2"},
	}}
	if r := h.do("POST", "/v1/secrets:import", deployer, body); r.status != 200 || r.json(t)["imported"] != float64(2) {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	if v, err := h.sec.Get(ctx, "app/a/two", 0); err != nil || v.Value.Reveal() != "v-CANARY-2" || v.Secret.Class != store.ClassAPIKey {
		t.Fatalf("imported value: %v %q", err, v.Secret.Class)
	}
	mixed := map[string]any{"entries": []map[string]any{
		{"name": "app/b/one", "value": "v"}, {"name": "llm/evil", "value": "v"},
	}}
	if r := h.do("POST", "/v1/secrets:import", deployer, mixed); r.status != 403 {
		t.Fatalf("import with a name outside the grant: %d %s", r.status, r.body)
	}
	if _, err := h.sec.Get(ctx, "app/b/one", 0); err == nil {
		t.Fatal("a refused import wrote an entry")
	}
	if r := h.do("POST", "/v1/secrets:import", h.login("alice"), body); r.status != 403 {
		t.Fatalf("import by an auditor: %d", r.status)
	}
}

// TestLifecycleRoutesBounded: every field is checked before anything is
// decided or written.
func TestLifecycleRoutesBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := h.login("admin")
	many := make([]map[string]any, MaxImportEntries+1)
	for i := range many {
		many[i] = map[string]any{"name": fmt.Sprintf("n%d", i), "value": "v"}
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/v1/secrets/app/web/token:rollback", nil, 400},
		{"POST", "/v1/secrets/app/web/token:rollback", map[string]any{"to": 0}, 400},
		{"POST", "/v1/secrets/app/web/token:rollback", map[string]any{"to": 1, "cas": -1}, 400},
		{"POST", "/v1/secrets/app/web/token:rollback", map[string]any{"to": 1, "value": "x"}, 400},
		{"POST", "/v1/secrets/app/web/token:destroy", map[string]any{"version": 0}, 400},
		{"POST", "/v1/secrets/app/web/token:destroy", nil, 400},
		{"POST", "/v1/secrets/app/web/token:undelete", map[string]any{"version": 1}, 400},
		{"POST", "/v1/secrets/app/web/token:explode", nil, 404},
		{"POST", "/v1/secrets/app/web/token", nil, 404},
		{"POST", "/v1/secrets/" + strings.Repeat("a", 300) + ":undelete", nil, 400},
		{"POST", "/v1/secrets/app/%2e%2e:undelete", nil, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{}}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": many}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{{"name": "x"}}}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{{"name": "../x", "value": "v"}}}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{{"name": "x", "value": "v"}, {"name": "x", "value": "w"}}}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"class": "nope", "entries": []map[string]any{{"name": "x", "value": "v"}}}, 400},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{{"name": "x", "value": ""}}}, 400},
		{"GET", "/v1/secrets?deleted=yes", nil, 400},
	} {
		if r := h.do(c.method, c.path, admin, c.body); r.status != c.status {
			t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.body, r.status, r.body, c.status)
		}
	}
	if v, _ := h.sec.Get(context.Background(), "app/web/token", 0); v.Version.Version != 1 {
		t.Fatalf("a refused request wrote: v%d", v.Version.Version)
	}
}

// TestWriteUnderUnexpectedKey: a server started with a freshly generated
// key (the store's key beside it as a previous one) refuses every write,
// 503 key_not_expected naming the store's key, and reads still work.
func TestWriteUnderUnexpectedKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	old := h.sec.Ring().Primary()
	ring, err := fernet.NewRing(fernet.GenerateKey(), old)
	if err != nil {
		t.Fatal(err)
	}
	h2 := *h
	srv := New(Deps{Secrets: secrets.New(h.db, ring, h.ev, h.clock.now), Tokens: h.tokens, Identities: h.ids, Policy: h.policy, Audit: h.ev, Now: h.clock.now})
	h2.ts = httptest.NewServer(srv)
	defer h2.ts.Close()
	admin := h2.login("admin")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/secrets/app/web/token", map[string]any{"value": "v2"}},
		{"POST", "/v1/secrets/app/web/token:rollback", map[string]any{"to": 1}},
		{"POST", "/v1/secrets:import", map[string]any{"entries": []map[string]any{{"name": "app/n", "value": "v"}}}},
	} {
		r := h2.do(c.method, c.path, admin, c.body)
		if r.status != 503 || r.code(t) != CodeKeyNotExpected || !strings.Contains(string(r.body), old.ID()) {
			t.Fatalf("%s %s under a fresh key: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := h2.do("GET", "/v1/secrets/app/web/token", admin, nil); r.status != 200 {
		t.Fatalf("read under the fresh key with the old one loaded: %d %s", r.status, r.body)
	}
	if v, _ := h.sec.Get(context.Background(), "app/web/token", 0); v.Version.Version != 1 {
		t.Fatalf("a refused write wrote: v%d", v.Version.Version)
	}
}

// TestOpenAPIErrorCodes: every error code the server answers is in the
// document's enum.
func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	enum := strings.Join(doc.Components.Schemas.Error.Properties.Code.Enum, " ") + " "
	for _, c := range []string{CodeUnauthenticated, CodeDenied, CodeNotFound, CodeConflict, CodeInvalid, CodeTooLarge, CodeUnavailable,
		CodeInternal, CodeMethod, CodeGone, CodeIntegrity, CodeKeyNotLoaded, CodeCompromised, CodeKeyNotExpected} {
		if !strings.Contains(enum, c+" ") {
			t.Errorf("code %s is not in openapi.json", c)
		}
	}
}
