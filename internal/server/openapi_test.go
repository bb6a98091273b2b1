package server

import (
	"encoding/json"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes: every documented operation is served by the
// route of the same name, and every route is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	s := New(Deps{})
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			documented[op.OperationID] = true
			url := strings.ReplaceAll(path, "{name}", "llm/openai_api_key")
			if strings.HasPrefix(path, "/v1/identities/") {
				url = strings.ReplaceAll(path, "{name}", "gateway")
			}
			url = strings.ReplaceAll(url, "{id}", "INC-20260102-abcdef")
			req := httptest.NewRequest(strings.ToUpper(method), url, nil)
			_, pattern := s.mux.Handler(req)
			if pattern == "" || pattern == "/" {
				t.Errorf("%s %s: no route", method, path)
				continue
			}
			got := ""
			for _, rt := range s.routeTable() {
				if rt.method+" "+rt.pattern == pattern {
					got = rt.name
				}
			}
			if got == "secrets.get" && strings.HasSuffix(url, historySuffix) {
				got = "secrets.history"
			}
			if prefix, ok := strings.CutSuffix(got, ".op"); ok {
				_, op, _ := strings.Cut(url, ":")
				got = prefix + "." + op
			}
			if got != op.OperationID {
				t.Errorf("%s %s: served by %q, documented as %q", method, path, got, op.OperationID)
			}
		}
	}
	var names []string
	for _, rt := range s.routeTable() {
		if !strings.HasSuffix(rt.name, ".op") {
			names = append(names, rt.name)
		}
	}
	names = append(names, "secrets.history", "identities.rotate", "identities.revoke", "incidents.report", "incidents.close",
		"secrets.rollback", "secrets.undelete", "secrets.destroy")
	sort.Strings(names)
	for _, n := range names {
		if !documented[n] {
			t.Errorf("route %s is not in openapi.json", n)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/v1/openapi.json", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || !json.Valid(r.body) {
		t.Fatalf("%d", r.status)
	}
}
