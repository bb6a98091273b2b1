package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// TestOperatorRoutesByRole: each audit, incident, status, key and verify
// route answers by the role table: admin everything, auditor audit and
// reports but no incident of its own, responder incidents and status but
// no audit, and no service any of them. Each refusal is audited.
func TestOperatorRoutesByRole(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(d *Deps) {
		d.AuditKey = func(context.Context) (*audit.MACKey, error) { return nil, context.Canceled }
	})
	routes := []struct {
		method, path string
		body         any
		allowed      map[string]bool
	}{
		{"GET", "/v1/audit/events?since=2020-01-01T00:00:00Z", nil, map[string]bool{"admin": true, "alice": true}},
		{"GET", "/v1/status", nil, map[string]bool{"admin": true, "alice": true, "rita": true}},
		{"GET", "/v1/keys", nil, map[string]bool{"admin": true, "alice": true}},
		{"POST", "/v1/verify", nil, map[string]bool{"admin": true, "alice": true}},
		{"GET", "/v1/incidents", nil, map[string]bool{"admin": true, "alice": true, "rita": true}},
		{"POST", "/v1/incidents/INC-20260101-000000:close", map[string]string{"review": "r"}, map[string]bool{}}, // 404 for those allowed
		{"POST", "/v1/incidents", map[string]any{"secret": "app/web/token", "reason": "test"}, map[string]bool{}},
	}
	for _, who := range []string{"gateway", "deployer", "alice", "rita", "admin"} {
		tok := h.login(who)
		for _, rt := range routes {
			r := h.do(rt.method, rt.path, tok, rt.body)
			want := 403
			if rt.allowed[who] {
				want = 200
			}
			if strings.Contains(rt.path, ":close") && (who == "admin" || who == "rita") {
				want = 404
			}
			if rt.method == "POST" && rt.path == "/v1/incidents" {
				continue // opened below, once
			}
			if r.status != want {
				t.Errorf("%s %s %s: %d %s, want %d", who, rt.method, rt.path, r.status, r.body, want)
			}
			if want == 403 && h.ev.last().Outcome != audit.Failure {
				t.Errorf("%s %s %s: refusal not audited: %+v", who, rt.method, rt.path, h.ev.last())
			}
		}
	}
	// Opening an incident: a service and an auditor are refused; a
	// responder stops the server serving the version.
	for _, who := range []string{"gateway", "alice"} {
		if r := h.do("POST", "/v1/incidents", h.login(who), map[string]any{"secret": "llm/openai_api_key", "reason": "leaked"}); r.status != 403 {
			t.Errorf("%s opens an incident: %d %s", who, r.status, r.body)
		}
	}
	gw := h.login("gateway")
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", gw, nil); r.status != 200 {
		t.Fatalf("read before: %d", r.status)
	}
	r := h.do("POST", "/v1/incidents", h.login("rita"), map[string]any{"secret": "llm/openai_api_key", "reason": "leaked in a ticket"})
	if r.status != 201 || r.json(t)["compromised_version"] != float64(1) {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	if ev := h.ev.all(); !hasAction(ev, "incident-open", "operator:rita") {
		t.Errorf("open not audited as rita: %+v", ev)
	}
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key?version=1", gw, nil); r.status != 410 {
		t.Errorf("the compromised version is served: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/incidents/"+id, h.login("alice"), nil); r.status != 200 || !strings.Contains(string(r.body), id) {
		t.Errorf("auditor reads the incident: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/incidents/"+id+":report", h.login("alice"), nil); r.status != 200 || !strings.Contains(string(r.body), `"still_hold_old_version"`) {
		t.Errorf("auditor's report: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/incidents/"+id+":close", h.login("alice"), map[string]string{"review": "x"}); r.status != 403 {
		t.Errorf("auditor closes: %d", r.status)
	}
	if r := h.do("POST", "/v1/incidents/"+id+":close", h.login("rita"), map[string]string{"review": "pre-commit scan"}); r.status != 200 {
		t.Errorf("close: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/incidents/"+id+":close", h.login("rita"), map[string]string{"review": "again"}); r.status != 409 {
		t.Errorf("second close: %d %s", r.status, r.body)
	}
	// The auditor never gets a value.
	if r := h.do("GET", "/v1/secrets/app/web/token", h.login("alice"), nil); r.status != 403 {
		t.Errorf("auditor reads a value: %d", r.status)
	}
}

func hasAction(evs []audit.Event, action, actor string) bool {
	for _, e := range evs {
		if e.Action == action && e.Actor == actor && e.Outcome == audit.Success {
			return true
		}
	}
	return false
}

// TestOperatorRoutesRefuseHostileInput: unknown or repeated parameters,
// out-of-range limits, malformed times, IDs and oversized notes are
// refused before anything is read.
func TestOperatorRoutesRefuseHostileInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login("admin")
	long := strings.Repeat("x", 1025)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/audit/events?limit=0", nil},
		{"GET", "/v1/audit/events?limit=5001", nil},
		{"GET", "/v1/audit/events?since=4h", nil},
		{"GET", "/v1/audit/events?secret=a&secret=b", nil},
		{"GET", "/v1/audit/events?bogus=1", nil},
		{"GET", "/v1/audit/events?secret=" + long, nil},
		{"GET", "/v1/audit/events?follow=true", nil},
		{"GET", "/v1/audit/events?after_seq=-1", nil},
		{"POST", "/v1/audit/verify", map[string]string{"anchor": "nope"}},
		{"POST", "/v1/incidents", map[string]any{"secret": "llm/openai_api_key", "reason": long}},
		{"POST", "/v1/incidents", map[string]any{"secret": "llm/openai_api_key", "reason": " "}},
		{"POST", "/v1/incidents", map[string]any{"secret": "../x\x1b[2J", "reason": "r"}},
		{"POST", "/v1/incidents", map[string]any{"secret": "llm/openai_api_key", "reason": "r", "extra": 1}},
		{"GET", "/v1/incidents/INC%0a1", nil},
		{"GET", "/v1/incidents?all=maybe", nil},
		{"POST", "/v1/incidents/INC-1:close", map[string]string{"review": long}},
		{"POST", "/v1/incidents/INC-1:report", map[string]string{"since": "yesterday"}},
		{"GET", "/v1/status?x=1", nil},
	} {
		if r := h.do(c.method, c.path, tok, c.body); r.status != 400 {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := h.do("POST", "/v1/incidents/INC-1:explode", tok, nil); r.status != 404 {
		t.Errorf("unknown op: %d", r.status)
	}
}

// TestOperatorRoutesWithoutToken: a request without a token is refused
// and audited under the route's own action.
func TestOperatorRoutesWithoutToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for path, action := range map[string]string{
		"GET /v1/audit/events": "audit-query", "POST /v1/incidents": "incident-open", "GET /v1/incidents": "incident-status",
		"POST /v1/incidents/INC-1:close": "incident-close", "GET /v1/status": "status", "GET /v1/keys": "key-list", "POST /v1/verify": "verify",
	} {
		method, p, _ := strings.Cut(path, " ")
		if r := h.do(method, p, "", nil); r.status != 401 {
			t.Errorf("%s: %d", path, r.status)
		}
		if ev := h.ev.last(); ev.Action != action || ev.Outcome != audit.Failure {
			t.Errorf("%s audited as %+v", path, ev)
		}
	}
}

// TestAuditFollowRecordsOthersEvents: a poll of a follow is recorded when
// it returns anyone else's events, so follow=true cannot hide a read of
// the chain; a poll that returns only the caller's own audit reads (what a
// follow would otherwise feed on) is not.
func TestAuditFollowRecordsOthersEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	chain := audit.NewChain(h.db, nil)
	seed := func(evs ...audit.Event) {
		t.Helper()
		if err := chain.WriteBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	seed(audit.Event{Time: time.Now().UTC(), Service: "gateway", Action: "login", Outcome: audit.Success},
		audit.Event{Time: time.Now().UTC(), Service: "gateway", Action: "read", Secret: "llm/openai_api_key", Outcome: audit.Success})
	tok := h.login("alice")
	before := len(h.ev.all())
	if r := h.do("GET", "/v1/audit/events?after_seq=1&follow=true", tok, nil); r.status != 200 || !strings.Contains(string(r.body), "llm/openai_api_key") {
		t.Fatalf("follow poll: %d %s", r.status, r.body)
	}
	evs := h.ev.all()
	if len(evs) != before+1 || evs[len(evs)-1].Action != actionAuditQuery || evs[len(evs)-1].Actor != "operator:alice" {
		t.Fatalf("a follow poll that read the gateway's events was not recorded: %d events before, now %+v", before, evs[before:])
	}
	// The caller's own audit read, as the store's chain would hold it.
	own := evs[len(evs)-1]
	own.Time = time.Now().UTC()
	seed(own)
	for _, after := range []string{"2", "3"} {
		n := len(h.ev.all())
		if r := h.do("GET", "/v1/audit/events?after_seq="+after+"&follow=true", tok, nil); r.status != 200 {
			t.Fatalf("follow poll after %s: %d %s", after, r.status, r.body)
		}
		if got := len(h.ev.all()); got != n {
			t.Errorf("a follow poll after %s that returned only alice's own reads was recorded: %+v", after, h.ev.all()[n:])
		}
	}
}

// TestResponderRotatesUnderIncident: a responder's role grants the
// rotation of a compromised secret; through the server a responder could
// open the incident but not write the replacement (PUT needed the write
// right). It may now, for a secret under incident only.
func TestResponderRotatesUnderIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rita := h.login("rita")
	put := func(name string) int {
		return h.do("PUT", "/v1/secrets/"+name, rita, map[string]any{"value": "sk-replacement-RESPONDER"}).status
	}
	if code := put("llm/openai_api_key"); code != 403 {
		t.Fatalf("responder writes a secret with no incident: %d", code)
	}
	if last := h.ev.last(); last.Action != "rotate" || last.Outcome != audit.Failure || last.Actor != "operator:rita" {
		t.Errorf("refusal not audited as rita's rotate: %+v", last)
	}
	if r := h.do("POST", "/v1/incidents", rita, map[string]any{"secret": "llm/openai_api_key", "reason": "leaked in a ticket"}); r.status != 201 {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	if code := put("llm/openai_api_key"); code != 200 && code != 201 {
		t.Fatalf("responder rotates the compromised secret: %d", code)
	}
	if !hasAction(h.ev.all(), "write", "operator:rita") {
		t.Errorf("the rotation is not audited as rita's write: %+v", h.ev.all())
	}
	if r := h.do("GET", "/v1/secrets/llm/openai_api_key", h.login("gateway"), nil); r.status != 200 || !strings.Contains(string(r.body), "sk-replacement-RESPONDER") {
		t.Errorf("the gateway does not read the replacement: %d", r.status)
	}
	// another secret stays out of reach
	if code := put("app/web/token"); code != 403 {
		t.Errorf("responder writes a secret with no incident: %d", code)
	}
}
