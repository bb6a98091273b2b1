package server

import (
	"context"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server/readcache"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetSecret is one authenticated, audited read through the whole
// handler (no network): token check, policy, store read, decrypt, JSON.
func BenchmarkGetSecret(b *testing.B) {
	h := newHarness(b, true)
	// as serve wires it: the read cache in front of the store, and an audit
	// recorder that keeps nothing (the audit sink is measured by its own
	// benchmarks)
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	sec := secrets.New(readcache.New(h.db, time.Second, nil), ring, audit.Discard{}, nil)
	if _, err := sec.Put(context.Background(), "llm/openai_api_key", sensitive.New("sk-bench"), secrets.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	h.srv.d.Secrets = sec
	tok := h.login("gateway")
	req := httptest.NewRequest("GET", "/v1/secrets/llm/openai_api_key", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, req.Clone(req.Context()))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
