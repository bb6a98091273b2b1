package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// TestIdentityTable runs every identity (the policy's services and an
// operator of each role) over every secret route and every secret: the
// services get what the policy grants, admin everything, and an auditor
// or a responder names, metadata and history, never a value nor a change.
func TestIdentityTable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	toks := map[string]string{}
	for name := range h.creds {
		toks[name] = h.login(name)
	}
	secrets := []string{"llm/openai_api_key", "db/gateway/password", "db/worker/password", "app/web/token"}
	// allowed[identity][action] lists the secrets it may act on; "*" is all.
	allowed := map[string]map[string][]string{
		"gateway":  {"read": {"llm/openai_api_key", "db/gateway/password"}, "history": {"llm/openai_api_key", "db/gateway/password"}},
		"worker":   {"read": {"llm/openai_api_key"}, "history": {"llm/openai_api_key"}},
		"deployer": {"write": {"app/web/token"}, "delete": {"app/web/token"}},
		"admin":    {"read": {"*"}, "history": {"*"}, "write": {"*"}, "delete": {"*"}},
		"alice":    {"history": {"*"}},
		"rita":     {"history": {"*"}},
	}
	listed := map[string][]string{
		"gateway": {"db/gateway/password", "llm/anthropic_api_key", "llm/openai_api_key"},
		"worker":  {"llm/openai_api_key"},
		// deployer lists everything (list: ["**"]); operators list everything
	}
	for name, tok := range toks {
		for _, sec := range secrets {
			for _, action := range []string{"read", "history", "write", "delete"} {
				t.Run(name+"/"+action+"/"+sec, func(t *testing.T) {
					want := false
					for _, g := range allowed[name][action] {
						want = want || g == "*" || g == sec
					}
					n := len(h.ev.all())
					var r resp
					switch action {
					case "read":
						r = h.do("GET", "/v1/secrets/"+sec, tok, nil)
					case "history":
						r = h.do("GET", "/v1/secrets/"+sec+"/history", tok, nil)
					case "write":
						r = h.do("PUT", "/v1/secrets/"+sec+"-"+name, tok, map[string]any{"value": "v-" + name})
						if name == "deployer" || name == "admin" { // the deployer may write app/**
							want = name == "admin" || strings.HasPrefix(sec, "app/")
						}
					case "delete":
						r = h.do("DELETE", "/v1/secrets/"+sec+"-gone", tok, nil)
						want = want && (name == "admin" || strings.HasPrefix(sec, "app/"))
					}
					if !want {
						if r.status != 403 || r.code(t) != CodeDenied {
							t.Fatalf("want 403, got %d %s", r.status, r.body)
						}
						if strings.Contains(string(r.body), "CANARY") {
							t.Fatal("a denial holds a value")
						}
						ev := h.ev.all()
						if len(ev) <= n {
							t.Fatal("denial not audited")
						}
						last := ev[len(ev)-1]
						kind := "service:"
						if _, op := harnessOperators[name]; op {
							kind = "operator:"
						}
						if last.Outcome != audit.Failure || last.Reason != reasonDenied || last.Actor != kind+name {
							t.Fatalf("denial event %+v", last)
						}
						return
					}
					if action == "delete" {
						if r.status != 404 { // allowed, and no such secret
							t.Fatalf("want 404, got %d %s", r.status, r.body)
						}
						return
					}
					if r.status != 200 {
						t.Fatalf("want 200, got %d %s", r.status, r.body)
					}
				})
			}
		}
		t.Run(name+"/list", func(t *testing.T) {
			r := h.do("GET", "/v1/secrets", tok, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var got []string
			for _, m := range r.json(t)["secrets"].([]any) {
				n := m.(map[string]any)["name"].(string)
				if !strings.Contains(n, "-") { // the table's own writes
					got = append(got, n)
				}
			}
			if want, ok := listed[name]; ok && strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("lists %v; want %v", got, want)
			}
			if _, ok := listed[name]; !ok && len(got) != 5 {
				t.Fatalf("lists %v; want all five", got)
			}
			if strings.Contains(string(r.body), "CANARY") {
				t.Fatal("a list holds a value")
			}
		})
	}
}

// TestAuditorNeverGetsAValue: an auditor asking for a value gets 403,
// audited under its name, whatever the policy says.
func TestAuditorNeverGetsAValue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, op := range []string{"alice", "rita"} {
		tok := h.login(op)
		for _, path := range []string{"/v1/secrets/llm/openai_api_key", "/v1/secrets/llm/openai_api_key?version=1", "/v1/secrets/db/worker/password"} {
			r := h.do("GET", path, tok, nil)
			if r.status != 403 || strings.Contains(string(r.body), "CANARY") {
				t.Fatalf("%s GET %s: %d %s", op, path, r.status, r.body)
			}
			if ev := h.ev.last(); ev.Actor != "operator:"+op || ev.Reason != reasonDenied || ev.Action != "read" {
				t.Fatalf("event %+v", ev)
			}
		}
		r := h.do("GET", "/v1/secrets", tok, nil)
		if r.status != 200 || strings.Contains(string(r.body), "CANARY") || strings.Contains(string(r.body), `"readable":true`) {
			t.Fatalf("%s list: %d %s", op, r.status, r.body)
		}
	}
}

// TestCredentialStates: an expired, a revoked, a rotated-in-grace and a
// rotated-after-grace credential.
func TestCredentialStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	login := func(cred string) resp { return h.do("POST", "/v1/auth/login", cred, nil) }

	// rotation with a grace: both work until the grace ends, then only the new one
	old := h.creds["gateway"]
	is, err := h.ids.Rotate(ctx, "gateway", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fresh := is.Credential.Reveal()
	if fresh == old || !strings.HasPrefix(fresh, "sa01c_") {
		t.Fatal("rotation returned no new credential")
	}
	for _, c := range []string{old, fresh} {
		if r := login(c); r.status != 200 {
			t.Fatalf("in grace: %d %s", r.status, r.body)
		}
	}
	h.clock.add(time.Hour + time.Second)
	if r := login(old); r.status != 401 || h.ev.last().Reason != reasonExpiredCred {
		t.Fatalf("rotated credential after its grace: %d %s (%+v)", r.status, r.body, h.ev.last())
	}
	if r := login(fresh); r.status != 200 {
		t.Fatalf("new credential: %d %s", r.status, r.body)
	}

	// revocation: every credential and every token, at once
	w := h.login("worker")
	is2, err := h.ids.Rotate(ctx, "worker", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin := h.login("admin")
	r := h.do("POST", "/v1/identities/worker:revoke", admin, nil)
	if r.status != 200 || r.json(t)["revoked_tokens"] != 1.0 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if ev := h.ev.last(); ev.Action != "identity-revoke" || ev.Actor != "operator:admin" || ev.Outcome != audit.Success {
		t.Fatalf("revoke event %+v", ev)
	}
	for _, c := range []string{h.creds["worker"], is2.Credential.Reveal()} {
		if r := login(c); r.status != 401 || h.ev.last().Reason != reasonRevokedIdentity {
			t.Fatalf("revoked credential: %d %s", r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", w, nil); r.status != 401 {
		t.Fatalf("token of a revoked identity: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/identities/worker:rotate", admin, nil); r.status != 409 {
		t.Fatalf("rotating a revoked identity: %d %s", r.status, r.body)
	}

	// expiry: a credential lives 180 days by default
	h.clock.add(identity.DefaultLifetime)
	r = login(fresh)
	if r.status != 401 || !strings.Contains(string(r.body), "expired") || h.ev.last().Actor != "service:gateway" {
		t.Fatalf("expired credential: %d %s", r.status, r.body)
	}

}

// TestRevokeOnEveryNode: a second server over the same store refuses the
// revoked identity's token once its token cache lapses, without being told.
func TestRevokeOnEveryNode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := New(Deps{
		Secrets:    h.sec,
		Tokens:     token.NewManager(h.db, token.Options{CacheTTL: 2 * time.Second, Now: h.clock.now}),
		Identities: identity.NewManager(h.db, identity.Options{Now: h.clock.now}),
		Policy:     h.policy,
		Audit:      h.ev,
		Now:        h.clock.now,
	})
	ts := httptest.NewServer(other)
	defer ts.Close()
	tok := h.login("gateway")
	h2 := *h
	h2.ts = ts
	if r := h2.do("GET", "/v1/secrets/llm/openai_api_key", tok, nil); r.status != 200 {
		t.Fatalf("other node before: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/identities/gateway:revoke", h.login("admin"), nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", tok, nil); r.status != 401 {
		t.Fatalf("this node after: %d", r.status)
	}
	h.clock.add(2 * time.Second) // the other node's cache bound
	if r := h2.do("GET", "/v1/secrets/llm/openai_api_key", tok, nil); r.status != 401 {
		t.Fatalf("other node after: %d %s", r.status, r.body)
	}
}

// TestIdentityRoutes: add, list, rotate and revoke, admin only, audited,
// the credential shown once and never in a list or an event.
func TestIdentityRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := h.login("admin")
	r := h.do("POST", "/v1/identities", admin, map[string]any{"name": "bob", "kind": "operator", "role": "responder"})
	if r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	m := r.json(t)
	cred, _ := m["credential"].(string)
	if identity.ParseCredential(cred) != nil || m["identity"].(map[string]any)["role"] != "responder" {
		t.Fatalf("add answer %v", m)
	}
	if ev := h.ev.last(); ev.Action != "identity-add" || ev.Actor != "operator:admin" || !strings.Contains(ev.Detail, "bob (operator, role responder)") {
		t.Fatalf("add event %+v", ev)
	}
	r = h.do("POST", "/v1/auth/login", cred, nil)
	if r.status != 200 || r.json(t)["role"] != "responder" {
		t.Fatalf("new operator login: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body   any
		status int
	}{
		{map[string]any{"name": "bob", "kind": "operator", "role": "admin"}, 409},
		{map[string]any{"name": "Bob!", "kind": "service"}, 400},
		{map[string]any{"name": "svc", "kind": "service", "role": "admin"}, 400},
		{map[string]any{"name": "op", "kind": "operator", "role": "root"}, 400},
		{map[string]any{"name": "x", "kind": "robot"}, 400},
		{map[string]any{"name": "x", "kind": "service", "lifetime_seconds": -1}, 400},
	} {
		if r := h.do("POST", "/v1/identities", admin, c.body); r.status != c.status {
			t.Errorf("add %v: %d %s; want %d", c.body, r.status, r.body, c.status)
		}
	}
	// nobody but an admin manages identities
	for _, who := range []string{"alice", "rita", "gateway"} {
		tok := h.login(who)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/identities", nil},
			{"POST", "/v1/identities", map[string]any{"name": "evil", "kind": "operator", "role": "admin"}},
			{"POST", "/v1/identities/admin:rotate", nil},
			{"POST", "/v1/identities/admin:revoke", nil},
		} {
			if r := h.do(req.method, req.path, tok, req.body); r.status != 403 || strings.Contains(string(r.body), "sa01c_") {
				t.Errorf("%s %s %s: %d %s", who, req.method, req.path, r.status, r.body)
			}
		}
	}
	r = h.do("POST", "/v1/identities/bob:rotate", admin, map[string]any{"grace_seconds": 0})
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	cred2 := r.json(t)["credential"].(string)
	if r := h.do("POST", "/v1/auth/login", cred, nil); r.status != 401 {
		t.Fatalf("old credential after a rotation without grace: %d", r.status)
	}
	if r := h.do("POST", "/v1/auth/login", cred2, nil); r.status != 200 {
		t.Fatalf("new credential: %d", r.status)
	}
	for _, p := range []string{"/v1/identities/nobody:rotate", "/v1/identities/nobody:revoke"} {
		if r := h.do("POST", p, admin, nil); r.status != 404 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	for _, p := range []string{"/v1/identities/bob:explode", "/v1/identities/bob"} {
		if r := h.do("POST", p, admin, nil); r.status != 404 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	r = h.do("GET", "/v1/identities", admin, nil)
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	body := string(r.body)
	if strings.Contains(body, "sa01c_") || !strings.Contains(body, `"name":"bob"`) || !strings.Contains(body, `"state":"expired"`) || !strings.Contains(body, `"state":"live"`) {
		t.Fatalf("list: %s", body)
	}
	for _, ev := range h.ev.all() {
		for _, c := range []string{cred, cred2, h.creds["admin"]} {
			if strings.Contains(ev.Detail+ev.Reason+ev.Actor, c[6:]) {
				t.Fatalf("an event holds a credential: %+v", ev)
			}
		}
	}
}
