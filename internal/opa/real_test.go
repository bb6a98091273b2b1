package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa/opatest"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// platformRego is a platform rule of the kind SomaAgent01 writes: services
// may use any secret except those under llm/blocked; operators may read
// only as admin. maybe is defined for one name only: elsewhere undefined.
const platformRego = `package sa01.secrets

default allow := false

allow if {
	input.identity.kind == "service"
	not startswith(input.secret.name, "llm/blocked")
}

allow if {
	input.identity.kind == "operator"
	input.identity.role == "admin"
}

maybe if input.secret.name == "yes"
`

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestRealOPA runs the cases of the combining rule and of failure against
// a real OPA server.
func TestRealOPA(t *testing.T) {
	t.Parallel()
	srv := opatest.Start(t, map[string]string{"platform.rego": platformRego})
	p, err := policy.Parse("policy.yaml", []byte(gatePolicy))
	if err != nil {
		t.Fatal(err)
	}
	// A long timeout: these cases are about answers, not about time.
	d := mustNew(t, Options{URL: srv.URL, CacheTTL: time.Second})
	clk := withClock(d)
	gate := Gate{Policy: policy.Static(p), OPA: d}
	ctx := context.Background()
	access := func(service, action, name, requestID string) Input {
		in := input(name)
		in.Identity.Name, in.Action, in.Request.ID = service, action, requestID
		return in
	}

	t.Run("allowed by both, with the decision id in OPA's log", func(t *testing.T) {
		v := gate.Decide(ctx, access("gateway", "read", "llm/openai_api_key", "req-both"))
		if !v.Allow || v.DecidedBy != ByOPA || v.Grant == nil || v.Grant.Line != 3 || !uuid.MatchString(v.DecisionID()) {
			t.Fatalf("%+v: %s", v, v.Explain())
		}
		logged := loggedDecision(t, srv, v.DecisionID())
		if logged.Input.Request.ID != "req-both" || logged.Input.Secret.Name != "llm/openai_api_key" || logged.Result != true {
			t.Fatalf("OPA logged %+v for decision %s", logged, v.DecisionID())
		}
	})
	t.Run("denied by YAML, allowed by OPA", func(t *testing.T) {
		in := access("gateway", "write", "llm/openai_api_key", "req-yaml")
		if dec := d.Decide(ctx, in); !dec.Allow {
			t.Fatalf("OPA alone should allow: %v", dec)
		}
		v := gate.Decide(ctx, in)
		if v.Allow || v.DecidedBy != ByPolicy || v.OPA != nil {
			t.Fatalf("%+v: %s", v, v.Explain())
		}
	})
	t.Run("allowed by YAML, denied by OPA", func(t *testing.T) {
		v := gate.Decide(ctx, access("gateway", "read", "llm/blocked_key", "req-opa"))
		if v.Allow || v.DecidedBy != ByOPA || v.Grant == nil || v.OPA.Reason != ReasonDenied || !uuid.MatchString(v.DecisionID()) {
			t.Fatalf("%+v: %s", v, v.Explain())
		}
		if logged := loggedDecision(t, srv, v.DecisionID()); logged.Result != false {
			t.Fatalf("OPA logged %+v", logged)
		}
	})
	t.Run("no YAML: OPA decides alone", func(t *testing.T) {
		alone := Gate{OPA: d}
		if v := alone.Decide(ctx, access("reporter", "write", "db/x", "r")); !v.Allow {
			t.Fatalf("%+v", v)
		}
		op := access("alice", "read", "db/x", "r")
		op.Identity.Kind, op.Identity.Role = KindOperator, "auditor"
		if v := alone.Decide(ctx, op); v.Allow || v.OPA.Reason != ReasonDenied {
			t.Fatalf("%+v", v)
		}
		op.Identity.Role = "admin"
		if v := alone.Decide(ctx, op); !v.Allow {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("undefined", func(t *testing.T) {
		for _, path := range []string{"/v1/data/sa01/secrets/maybe", "/v1/data/sa01/secrets/no_such_rule"} {
			u := mustNew(t, Options{URL: srv.URL, DecisionPath: path})
			dec := u.Decide(ctx, input("no"))
			if dec.Allow || dec.Reason != ReasonUndefined || !uuid.MatchString(dec.DecisionID) {
				t.Fatalf("%s: %+v", path, dec)
			}
			if dec := u.Decide(ctx, input("yes")); path == "/v1/data/sa01/secrets/maybe" && !dec.Allow {
				t.Fatalf("%s: %+v", path, dec)
			}
		}
	})
	t.Run("an object with allow", func(t *testing.T) {
		pkg := mustNew(t, Options{URL: srv.URL, DecisionPath: "/v1/data/sa01/secrets"})
		if dec := pkg.Decide(ctx, input("llm/x")); !dec.Allow {
			t.Fatalf("the package's document {allow: true, …}: %+v", dec)
		}
		if dec := pkg.Decide(ctx, input("llm/blocked")); dec.Allow || dec.Reason != ReasonDenied {
			t.Fatalf("the package's document {allow: false, …}: %+v", dec)
		}
	})
	t.Run("a cache that expires", func(t *testing.T) {
		in := access("gateway", "read", "llm/cached", "req-c1")
		first := d.Decide(ctx, in)
		in.Request.ID = "req-c2"
		again := d.Decide(ctx, in)
		if !first.Allow || first.Cached || !again.Cached || again.DecisionID != first.DecisionID {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		clk.add(time.Second)
		later := d.Decide(ctx, in)
		if !later.Allow || later.Cached || later.DecisionID == first.DecisionID || !uuid.MatchString(later.DecisionID) {
			t.Fatalf("after the TTL: %+v (first %s)", later, first.DecisionID)
		}
		if logged := loggedDecision(t, srv, later.DecisionID); logged.Input.Request.ID != "req-c2" {
			t.Fatalf("OPA logged %+v", logged)
		}
	})
	t.Run("slow: refused within the timeout", func(t *testing.T) {
		slow := delayingProxy(t, srv.URL, 3*time.Second)
		sd := mustNew(t, Options{URL: slow.URL, Timeout: DefaultTimeout, CacheTTL: time.Second})
		for _, g := range []Gate{{Policy: policy.Static(p), OPA: sd}, {OPA: sd}} {
			start := time.Now()
			v := g.Decide(ctx, access("gateway", "read", "llm/openai_api_key", "req-slow"))
			took := time.Since(start)
			if v.Allow || !v.Unavailable() {
				t.Fatalf("%+v", v)
			}
			// 100 ms, and a margin for a loaded machine: far from the 3 s OPA takes.
			if took < DefaultTimeout || took > time.Second {
				t.Fatalf("refused after %v", took)
			}
		}
	})
	t.Run("down, then back", func(t *testing.T) {
		in := access("gateway", "read", "llm/down_back", "req-down")
		srv.Stop()
		start := time.Now()
		v := gate.Decide(ctx, in)
		if v.Allow || !v.Unavailable() || time.Since(start) > time.Second {
			t.Fatalf("OPA down: %+v after %v", v, time.Since(start))
		}
		if err := d.Health(ctx); err == nil {
			t.Fatal("Health of a stopped OPA")
		}
		srv.Restart()
		if err := d.Health(ctx); err != nil {
			t.Fatalf("Health after restart: %v", err)
		}
		if v := gate.Decide(ctx, in); !v.Allow || v.OPA.Cached || !uuid.MatchString(v.DecisionID()) {
			t.Fatalf("OPA back: %+v", v)
		}
	})
}

// delayingProxy forwards to OPA after delay, or not at all when the
// caller gives up first.
func delayingProxy(t *testing.T, target string, delay time.Duration) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice a caller
		// that hangs up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(delay):
			proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s
}

type loggedEvent struct {
	DecisionID string `json:"decision_id"`
	Input      Input  `json:"input"`
	Result     any    `json:"result"`
}

// loggedDecision finds the decision in OPA's console decision log: the
// audit trail and OPA's log join on the id.
func loggedDecision(t *testing.T, srv *opatest.Server, id string) loggedEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(srv.Log(), "\n") {
			if !strings.Contains(line, id) {
				continue
			}
			var ev loggedEvent
			if json.Unmarshal([]byte(line), &ev) == nil && ev.DecisionID == id {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("decision %s is not in OPA's decision log:\n%s", id, srv.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDocExample loads the example module of docs/opa.md into a real OPA
// and checks each of its rules.
func TestDocExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/opa.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(doc), "## Example")
	_, block, ok := strings.Cut(after, "```rego\n")
	module, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/opa.md has no rego block after ## Example")
	}
	srv := opatest.Start(t, map[string]string{"sa01.rego": module})
	d := mustNew(t, Options{URL: srv.URL})
	svc := func(name, action, secret, source string) Input {
		return Input{Identity: Identity{Name: name, Kind: KindService}, Action: action,
			Secret: Secret{Name: secret, Class: "api-key"}, Request: Request{ID: "r", Source: source}}
	}
	op := func(name, role, action, secret, class string) Input {
		return Input{Identity: Identity{Name: name, Kind: KindOperator, Role: role}, Action: action,
			Secret: Secret{Name: secret, Class: class}, Request: Request{ID: "r", Source: "192.0.2.1"}}
	}
	for _, c := range []struct {
		in    Input
		allow bool
	}{
		{svc("gateway", "read", "llm/openai_api_key", "10.0.0.7"), true},
		{svc("gateway", "list", "db/gateway/dsn", "127.0.0.1"), true},
		{svc("gateway", "read", "llm/openai_api_key", "203.0.113.9"), false}, // outside the platform
		{svc("gateway", "write", "llm/openai_api_key", "10.0.0.7"), false},
		{svc("gateway", "read", "db/worker/dsn", "10.0.0.7"), false},
		{svc("worker-2", "read", "llm/openai_api_key", "10.1.2.3"), true},
		{svc("worker", "read", "llm/anthropic_api_key", "10.1.2.3"), false},
		{svc("workerx", "read", "llm/openai_api_key", "10.1.2.3"), false},
		{op("root", "admin", "write", "platform/fernet_key", "encryption-key"), true},
		{op("alice", "auditor", "list", "llm/openai_api_key", "api-key"), true},
		{op("alice", "auditor", "read", "llm/openai_api_key", "api-key"), false},
		{op("bob", "responder", "write", "llm/openai_api_key", "api-key"), true},
		{op("bob", "responder", "write", "platform/fernet_key", "encryption-key"), false},
		{op("gateway", "", "read", "llm/openai_api_key", "api-key"), false}, // an operator is not the service
	} {
		if dec := d.Decide(context.Background(), c.in); dec.Allow != c.allow || dec.Reason != ReasonAllowed && dec.Reason != ReasonDenied {
			t.Errorf("%+v: %v, want allow %v", c.in, dec, c.allow)
		}
	}
	opatest.CheckStrict(t, module)
}

// TestExportedRegoKeepsAccess runs the module policy export-rego writes
// in a real OPA behind the gate: with the YAML policy, and with no YAML
// policy (OPA alone), the gate allows exactly what the YAML policy alone
// allows, for services and for operators of every role.
func TestExportedRegoKeepsAccess(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse("policy.yaml", []byte(gatePolicy))
	if err != nil {
		t.Fatal(err)
	}
	srv := opatest.Start(t, map[string]string{"export.rego": p.Rego()})
	d := mustNew(t, Options{URL: srv.URL})
	yamlAlone := Gate{Policy: policy.Static(p)}
	gates := map[string]Gate{"YAML and OPA": {Policy: policy.Static(p), OPA: d}, "OPA alone": {OPA: d}}
	ids := []identity.Identity{
		{Name: "gateway", Kind: identity.Service}, {Name: "worker", Kind: identity.Service}, {Name: "nobody", Kind: identity.Service},
		{Name: "alice", Kind: identity.Operator, Role: identity.Admin},
		{Name: "gateway", Kind: identity.Operator, Role: identity.Auditor},
		{Name: "bob", Kind: identity.Operator, Role: identity.Responder},
	}
	actions := []identity.Action{identity.Read, identity.List, identity.History, identity.Write, identity.Delete,
		identity.Destroy, identity.Rotate}
	ctx := context.Background()
	allowed := map[identity.Kind]int{}
	for _, id := range ids {
		for _, a := range actions {
			for _, name := range []string{"llm/openai_api_key", "llm/x", "db/gateway/dsn", "llm/a/b"} {
				want := yamlAlone.Access(ctx, id, a, name, Request{}).Allow
				if want {
					allowed[id.Kind]++
				}
				for gname, g := range gates {
					if v := g.Access(ctx, id, a, name, Request{}); v.Allow != want {
						t.Errorf("%s: %s %s %s: %s, the YAML policy alone: %v", gname, id.Actor(), a, name, v.Explain(), want)
					}
				}
			}
		}
	}
	if allowed[identity.Service] == 0 || allowed[identity.Operator] == 0 {
		t.Fatalf("cases allowed by the YAML policy alone: %v; the table tries one side only", allowed)
	}
}
