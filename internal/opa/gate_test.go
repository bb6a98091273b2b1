package opa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/policy"
)

const gatePolicy = `services:
  gateway:
    read: ["llm/*"]
  worker:
    read: ["llm/openai_api_key"]
`

// opaDenying answers like a platform rule that allows everything but the
// names under llm/blocked, and 503 for llm/down.
func opaDenying(t *testing.T) *fakeOPA {
	var f *fakeOPA
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Input Input }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(400)
			return
		}
		switch name := body.Input.Secret.Name; {
		case name == "llm/down":
			w.WriteHeader(503)
		case strings.HasPrefix(name, "llm/blocked"):
			fmt.Fprintf(w, `{"result": false, "decision_id": "d%d"}`, f.calls.Load())
		default:
			fmt.Fprintf(w, `{"result": true, "decision_id": "d%d"}`, f.calls.Load())
		}
	})
	return f
}

func TestGate(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse("policy.yaml", []byte(gatePolicy))
	if err != nil {
		t.Fatal(err)
	}
	yaml := policy.Static(p)
	f := opaDenying(t)
	d := mustNew(t, Options{URL: f.URL})
	access := func(service, action, name string) Input {
		in := input(name)
		in.Identity.Name, in.Action = service, action
		return in
	}
	cases := []struct {
		name    string
		gate    Gate
		in      Input
		allow   bool
		by      string
		asked   bool // OPA was asked
		explain string
	}{
		{"both allow", Gate{Policy: yaml, OPA: d}, access("gateway", "read", "llm/openai_api_key"), true, ByOPA, true,
			"allowed: policy.yaml:3: gateway read llm/*; OPA allowed (decision d"},
		{"list by a read grant", Gate{Policy: yaml, OPA: d}, access("gateway", "list", "llm/x"), true, ByOPA, true,
			"allowed: policy.yaml:3: gateway read llm/*; OPA allowed"},
		{"YAML denies, OPA would allow", Gate{Policy: yaml, OPA: d}, access("gateway", "write", "llm/openai_api_key"), false, ByPolicy, false,
			"denied: no rule of the YAML policy grants it"},
		{"YAML denies an unknown service", Gate{Policy: yaml, OPA: d}, access("nobody", "read", "llm/x"), false, ByPolicy, false,
			"denied: no rule of the YAML policy grants it"},
		{"YAML allows, OPA denies", Gate{Policy: yaml, OPA: d}, access("gateway", "read", "llm/blocked_key"), false, ByOPA, true,
			"denied: policy.yaml:3: gateway read llm/*; OPA denied (decision d"},
		{"YAML allows, OPA unavailable", Gate{Policy: yaml, OPA: d}, access("gateway", "read", "llm/down"), false, ByOPA, true,
			"denied: policy.yaml:3: gateway read llm/*; OPA unavailable: opa: unavailable: status 503"},
		{"no YAML, OPA allows", Gate{OPA: d}, access("anyone", "write", "db/x"), true, ByOPA, true,
			"allowed: no YAML policy; OPA allowed (decision d"},
		{"no YAML, OPA denies", Gate{OPA: d}, access("anyone", "read", "llm/blocked"), false, ByOPA, true,
			"denied: no YAML policy; OPA denied (decision d"},
		{"no OPA, YAML allows", Gate{Policy: yaml}, access("worker", "read", "llm/openai_api_key"), true, ByPolicy, false,
			"allowed: policy.yaml:5: worker read llm/openai_api_key"},
		{"no OPA, YAML denies", Gate{Policy: yaml}, access("worker", "read", "llm/other"), false, ByPolicy, false,
			"denied: no rule of the YAML policy grants it"},
		{"neither", Gate{}, access("gateway", "read", "llm/x"), false, ByNone, false,
			"denied: no YAML policy and no OPA are configured"},
		{"empty YAML file, OPA allows", Gate{Policy: policy.Static(&policy.Policy{}), OPA: d}, access("gateway", "read", "llm/x"), false, ByPolicy, false,
			"denied: no rule of the YAML policy grants it"},
	}
	for _, c := range cases {
		before := f.calls.Load()
		v := c.gate.Decide(context.Background(), c.in)
		asked := f.calls.Load() > before
		if v.Allow != c.allow || v.DecidedBy != c.by || asked != c.asked || (v.OPA != nil) != c.asked {
			t.Errorf("%s: %+v (OPA asked: %v)", c.name, v, asked)
		}
		if !strings.HasPrefix(v.Explain(), c.explain) {
			t.Errorf("%s: Explain = %q, want prefix %q", c.name, v.Explain(), c.explain)
		}
		if c.asked && v.OPA.DecisionID != v.DecisionID() {
			t.Errorf("%s: DecisionID", c.name)
		}
		if v.Unavailable() != (c.name == "YAML allows, OPA unavailable") {
			t.Errorf("%s: Unavailable = %v", c.name, v.Unavailable())
		}
	}
}

// TestGateFollowsReload: the gate reads the policy in force at each
// decision.
func TestGateFollowsReload(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("services:\n  gateway: {read: [\"llm/*\"]}\n")
	h, err := policy.NewHolder(file)
	if err != nil {
		t.Fatal(err)
	}
	g := Gate{Policy: h}
	in := input("llm/x")
	if !g.Decide(context.Background(), in).Allow {
		t.Fatal("denied before reload")
	}
	write("services:\n  gateway: {read: [\"db/*\"]}\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if g.Decide(context.Background(), in).Allow {
		t.Fatal("allowed after a reload that took the grant away")
	}
}

// TestGateDescribe: the input is completed only for what the YAML policy
// grants, and a failure to complete it refuses the access.
func TestGateDescribe(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse("policy.yaml", []byte(gatePolicy))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen Input
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Input Input }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		seen = body.Input
		mu.Unlock()
		_, _ = io.WriteString(w, `{"result": true}`)
	})
	described := 0
	g := Gate{Policy: policy.Static(p), OPA: mustNew(t, Options{URL: f.URL}), Describe: func(ctx context.Context, in *Input) error {
		described++
		if in.Secret.Name == "llm/broken" {
			return errors.New("store unavailable")
		}
		in.Secret.Class, in.Secret.Owner = "api-key", "ml-team"
		return nil
	}}
	in := input("llm/openai_api_key")
	in.Secret.Class, in.Secret.Owner = "", ""
	v := g.Decide(context.Background(), in)
	mu.Lock()
	got := seen.Secret
	mu.Unlock()
	if !v.Allow || got.Class != "api-key" || got.Owner != "ml-team" {
		t.Fatalf("%+v; OPA saw %+v", v, got)
	}
	in.Action = "write" // the YAML policy denies: nothing read
	if v := g.Decide(context.Background(), in); v.Allow || described != 1 {
		t.Fatalf("%+v after %d descriptions", v, described)
	}
	calls := f.calls.Load()
	v = g.Decide(context.Background(), input("llm/broken"))
	if v.Allow || v.Err == nil || v.OPA != nil || f.calls.Load() != calls {
		t.Fatalf("%+v", v)
	}
	if want := "denied: policy.yaml:3: gateway read llm/*; OPA not asked: store unavailable"; v.Explain() != want {
		t.Fatalf("Explain = %q, want %q", v.Explain(), want)
	}
}
