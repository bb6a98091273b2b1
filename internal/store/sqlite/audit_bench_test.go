package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// BenchmarkAppendAudit appends batches of 1, 7 and 16 read events to the
// store's chain: one transaction per batch, as the Batcher drives it.
func BenchmarkAppendAudit(b *testing.B) {
	for _, n := range []int{1, 7, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			db, err := Open(context.Background(), filepath.Join(b.TempDir(), "secrets.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			l := &audit.Linker{Every: audit.CheckpointEvery, MaxAge: audit.CheckpointMaxAge}
			evs := make([]audit.Event, n)
			for i := range evs {
				evs[i] = audit.Event{Time: time.Now().UTC(), Service: "gateway", Actor: "tok_0123456789ab",
					Action: "read", Secret: "llm/openai_api_key", Version: 3, Outcome: audit.Success,
					RequestID: "01JDZ8Q4X7M0000000000000", Source: "127.0.0.1:54321"}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := db.AppendAudit(context.Background(), evs, l.Link); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
