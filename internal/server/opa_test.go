package server

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
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/opa/opatest"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// testRego narrows testPolicy: the gateway and the deployer only, never
// the Anthropic key, never a secret owned by "blocked" (an owner OPA
// learns from the store), and an "undefined" rule that never holds.
const testRego = `package sa01.secrets

default allow := false

allow if {
	input.identity.kind == "service"
	input.identity.name in {"gateway", "deployer"}
	input.secret.name != "llm/anthropic_api_key"
	input.secret.owner != "blocked"
}

undefined_rule if input.action == "never"
`

const allowPath = "/v1/data/sa01/secrets/allow"

// opaHarness is a server whose accesses go through the YAML policy (nil:
// none) and a decider of a real OPA at url.
func opaHarness(t *testing.T, url, path string, yaml bool, ttl, timeout time.Duration) (*harness, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := opa.New(opa.Options{URL: url, DecisionPath: path, CacheTTL: ttl, Timeout: timeout, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, func(dp *Deps) {
		dp.OPA, dp.Registry = d, reg
		if !yaml {
			var err error
			if dp.Policy, err = policy.NewHolder(""); err != nil {
				t.Fatal(err)
			}
		}
	})
	if _, err := h.sec.Put(context.Background(), "llm/blocked_key", sensitive.New("sk-blocked-CANARY-6"), secrets.PutOptions{Owner: "blocked"}); err != nil {
		t.Fatal(err)
	}
	return h, reg
}

// lastFor returns the last audit event of action on secret.
func (h *harness) lastFor(action, secret string) audit.Event {
	h.t.Helper()
	all := h.ev.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Action == action && all[i].Secret == secret {
			return all[i]
		}
	}
	h.t.Fatalf("no %s event for %s in %+v", action, secret, all)
	return audit.Event{}
}

func TestOPAGate(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": testRego})
	h, _ := opaHarness(t, srv.URL, allowPath, true, 0, 5*time.Second)
	gw := h.login("gateway")

	t.Run("allowed by both", func(t *testing.T) {
		r := h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "CANARY-1") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		ev := h.lastFor("read", "llm/openai_api_key")
		if ev.Outcome != audit.Success || ev.DecisionID == "" {
			t.Fatalf("the read's audit event carries no decision ID: %+v", ev)
		}
		// OPA's decision log holds the same ID, with the request's ID.
		if !logged(t, srv, ev.DecisionID, ev.RequestID) {
			t.Fatalf("decision %s (request %s) is not in OPA's decision log:\n%s", ev.DecisionID, ev.RequestID, srv.Log())
		}
	})
	t.Run("YAML denies, OPA would allow: denied, OPA not asked", func(t *testing.T) {
		before := strings.Count(srv.Log(), `"decision_id"`)
		r := h.do("GET", "/v1/secrets/db/worker/password", gw, nil)
		if r.status != 403 || r.code(t) != CodeDenied {
			t.Fatalf("%d %s", r.status, r.body)
		}
		ev := h.lastFor("read", "db/worker/password")
		if ev.Outcome != audit.Failure || ev.Reason != reasonDenied || ev.DecisionID != "" {
			t.Fatalf("event %+v", ev)
		}
		if after := strings.Count(srv.Log(), `"decision_id"`); after != before {
			t.Fatalf("OPA was asked about an access the YAML policy denies (%d → %d decisions)", before, after)
		}
	})
	t.Run("YAML allows, OPA denies: denied", func(t *testing.T) {
		r := h.do("GET", "/v1/secrets/llm/anthropic_api_key", gw, nil)
		if r.status != 403 || r.code(t) != CodeDenied || strings.Contains(string(r.body), "CANARY") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		ev := h.lastFor("read", "llm/anthropic_api_key")
		if ev.Outcome != audit.Failure || ev.Reason != "denied by opa: denied" || ev.DecisionID == "" {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("OPA sees the secret's owner from the store", func(t *testing.T) {
		r := h.do("GET", "/v1/secrets/llm/blocked_key", gw, nil)
		if r.status != 403 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("every verb goes through OPA", func(t *testing.T) {
		dep := h.login("deployer")
		if r := h.do("PUT", "/v1/secrets/app/new", dep, map[string]any{"value": "v"}); r.status != 200 {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
		if ev := h.lastFor("write", "app/new"); ev.DecisionID == "" {
			t.Fatalf("write event %+v", ev)
		}
		if r := h.do("GET", "/v1/secrets/app/new/history", dep, nil); r.status != 403 { // YAML: the deployer lists, never reads
			t.Fatalf("history: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/v1/secrets/app/new", dep, nil); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		// The list holds what both grant: OPA drops the Anthropic key.
		r := h.do("GET", "/v1/secrets?prefix=llm/", gw, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "llm/openai_api_key") || strings.Contains(string(r.body), "anthropic") {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
	})
	t.Run("operators: the role first, then OPA with the real identity", func(t *testing.T) {
		// an auditor never reads a value: denied by the role table, OPA not asked
		before := strings.Count(srv.Log(), `"decision_id"`)
		if r := h.do("GET", "/v1/secrets/llm/openai_api_key", h.login("alice"), nil); r.status != 403 {
			t.Fatalf("auditor read: %d %s", r.status, r.body)
		}
		if after := strings.Count(srv.Log(), `"decision_id"`); after != before {
			t.Fatalf("OPA was asked about an access the role table denies (%d → %d decisions)", before, after)
		}
		// admin may read by role; testRego grants services only, so OPA denies
		if r := h.do("GET", "/v1/secrets/llm/openai_api_key", h.login("admin"), nil); r.status != 403 || strings.Contains(string(r.body), "CANARY") {
			t.Fatalf("admin read, OPA denies: %d %s", r.status, r.body)
		}
		ev := h.lastFor("read", "llm/openai_api_key")
		if ev.Actor != "operator:admin" || ev.Reason != "denied by opa: denied" || ev.DecisionID == "" {
			t.Fatalf("event %+v", ev)
		}
		if !inputOf(t, srv, ev.DecisionID, `"identity":{"kind":"operator","name":"admin","role":"admin"}`) {
			t.Fatalf("OPA's input for decision %s does not name operator admin with role admin:\n%s", ev.DecisionID, srv.Log())
		}
	})
	t.Run("explain", func(t *testing.T) {
		q := map[string]string{"identity": "gateway", "action": "read", "secret": "llm/anthropic_api_key"}
		if r := h.do("POST", "/v1/policy/explain", gw, q); r.status != 403 {
			t.Fatalf("explain with a service's token: %d", r.status)
		}
		if r := h.do("POST", "/v1/policy/explain", h.login("rita"), q); r.status != 403 {
			t.Fatalf("explain by a responder: %d", r.status)
		}
		auditor := h.login("alice")
		r := h.do("POST", "/v1/policy/explain", auditor, q)
		var e explainView
		if r.status != 200 || json.Unmarshal(r.body, &e) != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if e.Allow || e.DecidedBy != opa.ByOPA || e.OPA != "denied" || e.DecisionID == "" || !strings.Contains(e.Rule, "test.yaml:2") ||
			!strings.HasPrefix(e.Text, "denied: test.yaml:2: gateway read llm/*; OPA denied (decision ") {
			t.Fatalf("explanation %+v", e)
		}
		if ev := h.lastFor(actionExplain, "llm/anthropic_api_key"); ev.DecisionID != e.DecisionID {
			t.Fatalf("explain event %+v", ev)
		}
		r = h.do("POST", "/v1/policy/explain", auditor, map[string]string{"identity": "gateway", "action": "read", "secret": "db/worker/password"})
		if json.Unmarshal(r.body, &e) != nil || e.Allow || e.DecidedBy != opa.ByPolicy || e.Text != "denied: no rule of the YAML policy grants it" {
			t.Fatalf("%s", r.body)
		}
		r = h.do("POST", "/v1/policy/explain", auditor, map[string]string{"identity": "alice", "kind": "operator", "role": "auditor", "action": "read", "secret": "llm/openai_api_key"})
		if json.Unmarshal(r.body, &e) != nil || e.Allow || e.DecidedBy != opa.ByPolicy || e.Text != "denied: role auditor: never a value" {
			t.Fatalf("%s", r.body)
		}
		r = h.do("POST", "/v1/policy/explain", auditor, map[string]string{"identity": "root", "kind": "operator", "role": "admin", "action": "read", "secret": "llm/openai_api_key"})
		if json.Unmarshal(r.body, &e) != nil || e.Allow || e.DecidedBy != opa.ByOPA || !strings.HasPrefix(e.Text, "denied: role admin: everything; OPA denied") {
			t.Fatalf("%s", r.body)
		}
		r = h.do("POST", "/v1/policy/explain", auditor, map[string]string{"identity": "gateway", "action": "delete", "secret": "x"})
		if r.status != 400 {
			t.Fatalf("unknown action: %d", r.status)
		}
	})
}

func TestOPAUndefined(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": testRego})
	h, _ := opaHarness(t, srv.URL, "/v1/data/sa01/secrets/undefined_rule", true, 0, 5*time.Second)
	r := h.do("GET", "/v1/secrets/llm/openai_api_key", h.login("gateway"), nil)
	if r.status != 403 || r.code(t) != CodeDenied {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if ev := h.lastFor("read", "llm/openai_api_key"); ev.Reason != "denied by opa: undefined" {
		t.Fatalf("event %+v", ev)
	}
}

// With no YAML policy, OPA decides alone: it may grant what no YAML rule
// names, and any service may log in.
func TestOPAAlone(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": testRego})
	h, _ := opaHarness(t, srv.URL, allowPath, false, 0, 5*time.Second)
	gw := h.login("gateway")
	if r := h.do("GET", "/v1/secrets/db/worker/password", gw, nil); r.status != 200 {
		t.Fatalf("OPA alone: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/secrets/llm/anthropic_api_key", gw, nil); r.status != 403 {
		t.Fatalf("OPA alone, denied: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", h.login("worker"), nil); r.status != 403 {
		t.Fatalf("a service OPA does not grant: %d %s", r.status, r.body)
	}
	var e explainView
	r := h.do("POST", "/v1/policy/explain", h.login("admin"), map[string]string{"identity": "gateway", "action": "read", "secret": "db/worker/password"})
	if json.Unmarshal(r.body, &e) != nil || !e.Allow || !strings.HasPrefix(e.Text, "allowed: no YAML policy; OPA allowed") {
		t.Fatalf("%s", r.body)
	}
}

// slowProxy forwards to target after delay.
func slowProxy(t *testing.T, target string, delay time.Duration) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

func TestOPASlowIsRefusedWithinTheTimeout(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": testRego})
	slow := slowProxy(t, srv.URL, 10*time.Second)
	h, reg := opaHarness(t, slow.URL, allowPath, true, time.Second, 100*time.Millisecond)
	gw := h.login("gateway")
	start := time.Now()
	r := h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil)
	took := time.Since(start)
	if r.status != 503 || r.code(t) != CodeUnavailable || strings.Contains(string(r.body), "CANARY") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if took > 3*time.Second { // far below OPA's 10 s, with room for a loaded machine
		t.Fatalf("refused after %v; the timeout is 100ms", took)
	}
	if ev := h.lastFor("read", "llm/openai_api_key"); ev.Outcome != audit.Failure || ev.Reason != reasonOPAUnavailable {
		t.Fatalf("event %+v", ev)
	}
	if n := counter(t, reg, "sa01_opa_unavailable_total"); n < 1 {
		t.Fatalf("sa01_opa_unavailable_total = %v", n)
	}
}

func TestOPADownBackAndCache(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": testRego})
	const ttl = 400 * time.Millisecond
	h, reg := opaHarness(t, srv.URL, allowPath, true, ttl, 5*time.Second) // an up OPA always answers in time, even on a loaded machine
	gw := h.login("gateway")
	read := func() (int, string) {
		r := h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil)
		return r.status, h.lastFor("read", "llm/openai_api_key").DecisionID
	}
	if st, _ := read(); st != 200 {
		t.Fatalf("up: %d", st)
	}
	if ev := h.lastFor("read", "llm/openai_api_key"); strings.Contains(ev.Detail, audit.DecisionCachedDetail) {
		t.Fatalf("the first read's decision is not cached: %+v", ev)
	}
	// Within the TTL the decision is reused, with the ID of the call that
	// made it, and the audit event says so; after it, OPA is asked again.
	_, id1 := read()
	_, id2 := read()
	if id1 == "" || id1 != id2 {
		t.Fatalf("within the TTL: decision IDs %q and %q", id1, id2)
	}
	if ev := h.lastFor("read", "llm/openai_api_key"); ev.Detail != audit.DecisionCachedDetail {
		t.Fatalf("a read decided from the cache: %+v", ev)
	}
	for range 2 {
		if r := h.do("GET", "/v1/secrets/llm/anthropic_api_key", gw, nil); r.status != 403 {
			t.Fatalf("denied by OPA: %d", r.status)
		}
	}
	if ev := h.lastFor("read", "llm/anthropic_api_key"); ev.Detail != audit.DecisionCachedDetail || ev.DecisionID == "" {
		t.Fatalf("a refusal decided from the cache: %+v", ev)
	}
	if counter(t, reg, "sa01_opa_cache_lookups_total") < 2 {
		t.Fatal("no cache lookups counted")
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if _, id3 := read(); id3 == "" || id3 == id1 {
		t.Fatalf("after the TTL: decision ID %q, before %q", id3, id1)
	}

	srv.Stop()
	time.Sleep(ttl + 100*time.Millisecond) // the cached decision expires
	start := time.Now()
	if st, _ := read(); st != 503 {
		t.Fatalf("OPA down: %d", st)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("OPA down: refused after %v, not at once", took)
	}
	r := h.do("GET", "/v1/sys/health", "", nil)
	if m := r.json(t); r.status != 503 || m["checks"].(map[string]any)["opa"] != "unavailable" {
		t.Fatalf("health with OPA down: %d %s", r.status, r.body)
	}

	srv.Restart()
	if st, _ := read(); st != 200 {
		t.Fatalf("OPA back: %d", st)
	}
	r = h.do("GET", "/v1/sys/health", "", nil)
	if m := r.json(t); r.status != 200 || m["checks"].(map[string]any)["opa"] != "ok" || m["opa"] == nil {
		t.Fatalf("health with OPA back: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/metrics", "", nil)
	for _, name := range []string{"sa01_opa_decision_duration_seconds_bucket", "sa01_opa_cache_lookups_total{result=\"hit\"}", "sa01_opa_unavailable_total"} {
		if !strings.Contains(string(r.body), name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
}

// counter sums a counter family of reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// inputOf reports whether OPA's decision log line of decision id holds
// want in its input.
func inputOf(t *testing.T, srv *opatest.Server, id, want string) bool {
	t.Helper()
	for _, line := range strings.Split(srv.Log(), "\n") {
		var e struct {
			DecisionID string          `json:"decision_id"`
			Input      json.RawMessage `json:"input"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.DecisionID == id {
			var buf bytes.Buffer
			if json.Compact(&buf, e.Input) == nil && strings.Contains(buf.String(), want) {
				return true
			}
		}
	}
	return false
}

// logged reports whether OPA's decision log holds decision id for request
// rid.
func logged(t *testing.T, srv *opatest.Server, id, rid string) bool {
	t.Helper()
	for _, line := range strings.Split(srv.Log(), "\n") {
		var e struct {
			DecisionID string `json:"decision_id"`
			Input      struct {
				Request struct {
					ID string `json:"id"`
				} `json:"request"`
			} `json:"input"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.DecisionID == id && e.Input.Request.ID == rid {
			return true
		}
	}
	return false
}
