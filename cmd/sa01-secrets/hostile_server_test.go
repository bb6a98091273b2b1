package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
)

// TestErrorsFromAServerArePrintedEscaped: a server (hostile, or a proxy in
// front of one) chooses the message of its error answers. The CLI prints
// it with every character a terminal would act on escaped, and cut to a
// line a terminal can show, as it prints names.
func TestErrorsFromAServerArePrintedEscaped(t *testing.T) {
	long := strings.Repeat("A", 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"code":"denied","message":"\u001b]0;owned\u0007\u001b[2J\u202eevil ` + long + `"}`))
	}))
	defer srv.Close()
	env := map[string]string{
		"HOME":                 t.TempDir(),
		config.EnvSecretsAddr:  srv.URL,
		config.EnvSecretsToken: "sa01s_" + strings.Repeat("A", 43),
	}
	r := cliWith(env)("", "get", "app/x")
	if r.code == 0 {
		t.Fatalf("get: exit 0 on a 403")
	}
	for _, raw := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(r.stderr, raw) {
			t.Errorf("stderr holds %q raw: %q", raw, r.stderr[:min(len(r.stderr), 200)])
		}
	}
	if !strings.Contains(r.stderr, `\x1b]0;owned\a`) && !strings.Contains(r.stderr, `\x1b]0;owned\x07`) {
		t.Errorf("stderr does not show the escape escaped: %q", r.stderr[:min(len(r.stderr), 200)])
	}
	if len(r.stderr) > 8<<10 {
		t.Errorf("stderr is %d bytes: a server's message is printed whole", len(r.stderr))
	}
}
