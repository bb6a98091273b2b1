package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// plant stores value as a new version of name straight into the store,
// as a write made before values had to be text.
func (h *harness) plant(name, value string) {
	h.t.Helper()
	k := h.sec.Ring().Primary()
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "legacy", Source: "local"})
	_, _, err := h.db.Put(ctx, store.Write{Name: name, Actor: "legacy", Now: time.Now(),
		Seal: func(v int) (store.Sealed, error) {
			tok := string(k.Encrypt([]byte(value)))
			return store.Sealed{Token: tok, KeyID: k.ID(), Binding: secrets.Bind(k, name, v, k.ID(), tok)}, nil
		}})
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestGetRefusesValueNotText: a version stored as bytes that are not
// UTF-8 text (by a local put of an older version) was sent with U+FFFD in
// place of each bad byte. The server refuses it now, 422 not_text, naming
// the secret and version, never the value; a text version of the same
// secret is served as before.
func TestGetRefusesValueNotText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.plant("llm/legacy_bin", "sk-CANARY\xff\xfe")
	gw := h.login("gateway")
	r := h.do("GET", "/v1/secrets/llm/legacy_bin", gw, nil)
	if r.status != 422 || r.code(t) != CodeNotText {
		t.Fatalf("GET: %d %s, want 422 %s", r.status, r.body, CodeNotText)
	}
	msg, _ := r.json(t)["message"].(string)
	if !strings.Contains(msg, "llm/legacy_bin version 1") || !strings.Contains(msg, "not UTF-8 text") {
		t.Errorf("message %q: want the secret and version named", msg)
	}
	if bytes.Contains(r.body, []byte("CANARY")) || bytes.Contains(r.body, []byte("\ufffd")) || bytes.Contains(r.body, []byte(`\ufffd`)) {
		t.Fatalf("the answer holds the value, or a changed one: %s", r.body)
	}
	if _, err := h.sec.Put(context.Background(), "llm/legacy_bin", sensitive.New("sk-text"), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := h.do("GET", "/v1/secrets/llm/legacy_bin", gw, nil); r.status != 200 || r.json(t)["value"] != "sk-text" {
		t.Fatalf("GET of the text version: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/secrets/llm/legacy_bin?version=1", gw, nil); r.status != 422 {
		t.Fatalf("GET of the old version: %d %s", r.status, r.body)
	}
}
