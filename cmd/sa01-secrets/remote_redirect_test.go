package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRemoteRefusesRedirect: with SA01_SECRETS_ADDR pointing at a server
// that redirects to another port, the CLI sends no credential there (not
// the credential at login, not SA01_SECRETS_TOKEN), fails, and names the
// location.
func TestRemoteRefusesRedirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token":"sa01s_STOLEN","name":"llm/k","version":1,"value":"thief-value"}`))
	}))
	defer other.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	credFile := filepath.Join(t.TempDir(), "cred")
	if err := os.WriteFile(credFile, []byte("sa01c_CANARY"+strings.Repeat("x", 37)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cred := range []map[string]string{
		{"SA01_SECRETS_CREDENTIAL_FILE": credFile},
		{"SA01_SECRETS_TOKEN": "sa01s_CANARY"},
	} {
		env := map[string]string{"SA01_SECRETS_ADDR": front.URL, "HOME": t.TempDir()}
		for k, v := range cred {
			env[k] = v
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"get", "llm/k"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		if code == 0 || out.Len() != 0 || !strings.Contains(errb.String(), other.URL) || strings.Contains(errb.String(), "CANARY") {
			t.Fatalf("get through a redirect: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the other port received %d requests", n)
	}
}
