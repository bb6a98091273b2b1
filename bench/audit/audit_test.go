// Package audit_bench measures the audit trail: the cost it adds to a read,
// and audit query and verify over a million events.
//
//	flock /tmp/sa01-bench.lock go test -run '^$' -bench . -benchtime 3s ./bench/audit/
//
// The million-event store is built once per run in a temporary directory
// (SA01_BENCH_AUDIT_DB names a file to keep and reuse it between runs).
package audit_bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// benchReads measures Service.Get at 16 concurrent clients with rec.
func benchReads(b *testing.B, withAudit bool) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	var rec audit.Recorder = audit.Discard{}
	if withAudit {
		mk := audit.MACKeys(ring)[0]
		batcher := audit.NewBatcher(audit.NewChain(db, &mk), audit.BatcherOptions{})
		defer batcher.Close()
		rec = audit.NewBounded(audit.Tee{batcher}, audit.DefaultTimeout, nil)
	}
	svc := secrets.New(db, ring, rec, time.Now)
	ctx = audit.WithCaller(ctx, audit.Caller{Service: "bench", Actor: "acc-bench", Source: "127.0.0.1"})
	for i := range 10 {
		if _, err := svc.Put(ctx, fmt.Sprintf("app/s%d", i), sensitive.New("value"), secrets.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(8) // 16 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := svc.Get(ctx, fmt.Sprintf("app/s%d", i%10), 0); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

func BenchmarkReadAuditOff(b *testing.B) { benchReads(b, false) }
func BenchmarkReadAuditOn(b *testing.B)  { benchReads(b, true) }

const million = 1_000_000

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	binPath string
	tmpDirs []string // removed when the run ends
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// bigStore builds (once) a store with a million events over 1,000 secrets
// and 50 services, as 200 batches of 5,000.
func bigStore(b *testing.B) string {
	bigOnce.Do(func() {
		bigPath = os.Getenv("SA01_BENCH_AUDIT_DB")
		if bigPath == "" {
			dir, err := os.MkdirTemp("", "sa01-bench-audit-")
			if err != nil {
				bigErr = err
				return
			}
			tmpDirs = append(tmpDirs, dir)
			bigPath = filepath.Join(dir, "audit.db")
		}
		ctx := context.Background()
		db, err := sqlite.Open(ctx, bigPath)
		if err != nil {
			bigErr = err
			return
		}
		defer db.Close()
		head, err := db.AuditHead(ctx)
		if err != nil || head.Seq >= million {
			bigErr = err
			return
		}
		start := time.Now()
		l := &audit.Linker{Every: audit.CheckpointEvery}
		t0 := time.Now().Add(-30 * 24 * time.Hour)
		for i := int(head.Seq); i < million; i += 5000 {
			evs := make([]audit.Event, 0, 5000)
			for j := i; j < min(i+5000, million); j++ {
				ev := audit.Event{Time: t0.Add(time.Duration(j) * 2 * time.Second), Service: fmt.Sprintf("svc-%02d", j%50),
					Actor: fmt.Sprintf("acc-%04d", j%977), Action: "read", Secret: fmt.Sprintf("app/secret-%04d", j%1000),
					Version: 1 + j%3, Outcome: audit.Success, RequestID: fmt.Sprintf("req-%08d", j), Source: "10.1.2.3:5555"}
				if j%97 == 0 {
					ev.Outcome, ev.Reason = audit.Failure, "denied"
				}
				evs = append(evs, ev)
			}
			if _, err := db.AppendAudit(ctx, evs, l.Link); err != nil {
				bigErr = err
				return
			}
		}
		fmt.Fprintf(os.Stderr, "built %d audit events in %s at %s\n", million, time.Since(start).Round(time.Millisecond), bigPath)
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

// cli builds the binary once.
func cli(b *testing.B) string {
	if binPath != "" {
		return binPath
	}
	dir, err := os.MkdirTemp("", "sa01-bench-bin-")
	if err != nil {
		b.Fatal(err)
	}
	tmpDirs = append(tmpDirs, dir)
	binPath = filepath.Join(dir, "sa01-secrets")
	out, err := exec.Command("go", "build", "-o", binPath, "github.com/somaagent01/sa01-secrets/cmd/sa01-secrets").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return binPath
}

func runCLI(b *testing.B, dbPath string, args ...string) []byte {
	cmd := exec.Command(cli(b), args...)
	cmd.Env = []string{"SA01_SECRETS_DB_DSN=sqlite://" + dbPath, "HOME=" + os.TempDir(), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v", args, err)
	}
	return out
}

// BenchmarkAuditQuerySecret1M runs `sa01-secrets audit query --secret S
// --format json` (a whole process) over a million events; S has 1,000.
func BenchmarkAuditQuerySecret1M(b *testing.B) {
	p := bigStore(b)
	cli(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out := runCLI(b, p, "audit", "query", "--secret", fmt.Sprintf("app/secret-%04d", i%1000), "--format", "json")
		if len(out) < 1000 {
			b.Fatalf("query returned %d bytes", len(out))
		}
	}
}

// BenchmarkAuditVerify1M runs `sa01-secrets audit verify` over a million events.
func BenchmarkAuditVerify1M(b *testing.B) {
	p := bigStore(b)
	cli(b)
	b.ResetTimer()
	for b.Loop() {
		out := runCLI(b, p, "audit", "verify")
		if !bytes.Contains(out, []byte("intact: 1000000 events")) {
			b.Fatalf("verify said %s", out)
		}
	}
}

// BenchmarkStoreAppend measures one group-commit transaction on SQLite by
// batch size: the cost the Batcher spreads over the events of a batch.
func BenchmarkStoreAppend(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			l := &audit.Linker{Every: audit.CheckpointEvery}
			evs := make([]audit.Event, n)
			for i := range evs {
				evs[i] = audit.Event{Time: time.Now(), Service: "bench", Actor: "acc", Action: "read", Secret: fmt.Sprintf("app/s%d", i%10), Version: 1, Outcome: audit.Success, Source: "127.0.0.1"}
			}
			for b.Loop() {
				if _, err := db.AppendAudit(ctx, evs, l.Link); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
