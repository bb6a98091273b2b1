package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary methods, paths, bodies and credentials to the
// handler: it never panics, never answers 5xx, always answers JSON with a
// code on errors, and never returns a value to a caller without a token.
func FuzzRequest(f *testing.F) {
	h := newHarness(f)
	f.Add("GET", "/v1/secrets/llm/openai_api_key", "", "")
	f.Add("PUT", "/v1/secrets/app/x", `{"value":"v","cas":0}`, "sa01s_"+strings.Repeat("A", 43))
	f.Add("POST", "/v1/auth/login", `{"service":"gateway"}`, h.creds["worker"])
	f.Add("POST", "/v1/identities", `{"name":"x","kind":"operator","role":"admin"}`, h.creds["admin"])
	f.Add("POST", "/v1/identities/gateway:revoke", `{"grace_seconds":-1}`, "sa01s_"+strings.Repeat("B", 43))
	f.Add("GET", "/v1/secrets/a/history?version=2", "", "Bearer")
	f.Add("DELETE", "/v1/secrets/%2e%2e/x", "{", "x")
	f.Add("POST", "/v1/auth/revoke", `{"service":"gateway","accessor":"a"}`, h.creds["admin"])
	f.Add("POST", "/v1/policy/explain", `{"identity":"gateway","kind":"operator","role":"admin","action":"read","secret":"llm/openai_api_key"}`, h.creds["admin"])
	f.Fuzz(func(t *testing.T, method, path, body, bearer string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || len(path) > 2048 {
			return
		}
		switch method {
		case "GET", "PUT", "POST", "DELETE", "HEAD", "PATCH":
		default:
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" && !strings.ContainsAny(bearer, "\r\n\x00") {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "CANARY") && bearer == "" {
			t.Fatalf("%s %s: a value without a token", method, path)
		}
		if w.Code >= 400 && method != "HEAD" && !strings.Contains(w.Body.String(), `"code"`) {
			t.Fatalf("%s %s: error without a code: %s", method, path, w.Body)
		}
	})
}
