package server

import (
	"context"
	"net/http"

	"net/http/httptest"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// BenchmarkGetSecretAudited is BenchmarkGetSecret with the audit trail as
// serve wires it: the store's hash chain behind group commit, failing
// closed within audit.DefaultTimeout, with the read cache (/cached) and
// without it (/store).
func BenchmarkGetSecretAudited(b *testing.B) {
	for _, cached := range []bool{true, false} {
		name := "store"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(b)
			ring, _ := fernet.NewRing(fernet.GenerateKey())
			keys := audit.MACKeys(ring)
			batcher := audit.NewBatcher(audit.NewChain(h.db, &keys[0]), audit.BatcherOptions{})
			rec := audit.NewBounded(batcher, audit.DefaultTimeout, nil)
			sec := secrets.New(h.db, ring, rec, nil)
			if cached && !sec.CacheReads() {
				b.Fatal("the read cache did not turn on")
			}
			if _, err := sec.Put(context.Background(), "llm/openai_api_key", sensitive.New("sk-bench"), secrets.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			h.srv.d.Secrets = sec
			n0, e0 := batcher.Stats()
			benchGet(b, h)
			if n, e := batcher.Stats(); n > n0 {
				b.ReportMetric(float64(e-e0)/float64(n-n0), "events/commit")
			}
			if cached {
				st := sec.CacheStats()
				b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses), "hit-ratio")
			}
		})
	}
}

// BenchmarkGetSecret is one authenticated read through the whole handler
// (no network): token check, policy, store read, decrypt, JSON, with an
// audit recorder that keeps nothing; BenchmarkGetSecretAudited adds the
// audit trail.
func BenchmarkGetSecret(b *testing.B) {
	h := newHarness(b)
	// with an audit recorder that keeps nothing (the audit sink is
	// measured by its own benchmarks), so without the read cache, which
	// needs the audit chain
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	sec := secrets.New(h.db, ring, audit.Discard{}, nil)
	if _, err := sec.Put(context.Background(), "llm/openai_api_key", sensitive.New("sk-bench"), secrets.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	h.srv.d.Secrets = sec
	benchGet(b, h)
}

func benchGet(b *testing.B, h *harness) {
	tok := h.login("gateway")
	req := httptest.NewRequest("GET", "/v1/secrets/llm/openai_api_key", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	// 8 goroutines per GOMAXPROCS: 16 concurrent readers on this 2-core
	// machine, so that audit group commit gets batches as under load
	b.SetParallelism(8)
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
