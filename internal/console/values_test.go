package console_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// TestValuesThatAreNotText: Copy sent a version stored as bytes that are
// not UTF-8 text (by an older release) as text/plain, which the page's
// script read with U+FFFD in their place; the edit form let such a value
// through to the preview. Copy refuses it now (422, the value not in the
// answer), Reveal still shows it as base64, and the form refuses it by
// the store's rule, naming the secret.
func TestValuesThatAreNotText(t *testing.T) {
	h := newHarness(t)
	bin := "sk-CANARY\xff\xfe"
	k := h.b.Service.Ring().Primary()
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "legacy", Source: "local"})
	if _, _, err := h.b.Service.Store().Put(ctx, store.Write{Name: "llm/legacy_bin", Actor: "legacy", Now: time.Now(),
		Seal: func(v int) (store.Sealed, error) {
			tok := string(k.Encrypt([]byte(bin)))
			return store.Sealed{Token: tok, KeyID: k.ID(), Binding: secrets.Bind(k, "llm/legacy_bin", v, k.ID(), tok)}, nil
		}}); err != nil {
		t.Fatal(err)
	}
	u := h.as(admin)
	cp := u.post("/ui/copy/llm/legacy_bin", nil)
	if cp.status != http.StatusUnprocessableEntity || strings.Contains(cp.body, "CANARY") || !strings.Contains(cp.body, "base64") {
		t.Fatalf("copy: %d %q; want 422 without the value", cp.status, cp.body)
	}
	rv := u.post("/ui/reveal/llm/legacy_bin", nil)
	if rv.status != http.StatusOK || !strings.Contains(rv.body, base64.StdEncoding.EncodeToString([]byte(bin))) || !strings.Contains(rv.body, "shown as base64") {
		t.Fatalf("reveal: %d, no base64 of the value", rv.status)
	}
	r := u.post("/ui/new", url.Values{"cas": {"0"}, "name": {"llm/new_bin"}, "value": {bin}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "llm/new_bin") || !strings.Contains(r.body, "not UTF-8 text") || strings.Contains(r.body, "CANARY") {
		t.Fatalf("new secret with a value that is not text: %d\n%s", r.status, r.body)
	}
}
