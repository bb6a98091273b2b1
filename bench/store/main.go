// Command store measures the secret store: put and get ops/s, list over
// many secrets, and verify over many versions (time and peak RSS). Run it
// under flock so benchmark runs do not overlap, and under /usr/bin/time -v
// for an outside view of peak RSS:
//
//	flock /tmp/sa01-bench.lock /usr/bin/time -v go run ./bench/store -mode verify -n 1000000 -db /tmp/bench.db
//
// With -dsn postgres://... it measures PostgreSQL instead of SQLite.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// benchKey is a fixed key so a filled store can be verified by a later run.
const benchKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

func main() {
	mode := flag.String("mode", "get", "put, get, list, import, fill or verify")
	n := flag.Int("n", 100000, "operations (put, get), secrets (list) or versions (fill, verify)")
	conc := flag.Int("c", 1, "concurrent goroutines for put and get")
	dbPath := flag.String("db", "", "SQLite file (default: a new temporary file)")
	dsn := flag.String("dsn", "", "PostgreSQL DSN instead of SQLite")
	versions := flag.Int("versions", 10, "fill: versions per secret")
	flag.Parse()
	ctx := context.Background()

	var st store.Store
	var err error
	driver := "sqlite"
	if *dsn != "" {
		driver = "postgres"
		st, err = openPostgres(ctx, *dsn)
	} else {
		p := *dbPath
		if p == "" {
			dir, _ := os.MkdirTemp("", "sa01-bench-")
			defer os.RemoveAll(dir)
			p = filepath.Join(dir, "secrets.db")
		}
		st, err = sqlite.Open(ctx, p)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	key, err := fernet.ParseKey(benchKey)
	if err != nil {
		log.Fatal(err)
	}
	ring, _ := fernet.NewRing(key)
	svc := secrets.New(st, ring, audit.Discard{}, time.Now)
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: "bench", Source: "local"})
	value := sensitive.New(strings.Repeat("v", 64))

	switch *mode {
	case "put":
		cpuAtStart = cpuTime()
		start := time.Now()
		parallel(*n, *conc, func(i int) {
			if _, err := svc.Put(ctx, fmt.Sprintf("bench/put/%d", i%1000), value, secrets.PutOptions{}); err != nil {
				log.Fatal(err)
			}
		})
		report(driver, "put", *n, *conc, time.Since(start))
	case "get":
		fill(ctx, svc, 1000, 1)
		cpuAtStart = cpuTime()
		start := time.Now()
		parallel(*n, *conc, func(i int) {
			if _, err := svc.Get(ctx, fmt.Sprintf("bench/%07d", i%1000), 0); err != nil {
				log.Fatal(err)
			}
		})
		report(driver, "get", *n, *conc, time.Since(start))
	case "list":
		fill(ctx, svc, *n, 1)
		start := time.Now()
		l, err := svc.List(ctx, "", false)
		if err != nil || len(l) != *n {
			log.Fatalf("list: %d secrets, %v", len(l), err)
		}
		d := time.Since(start)
		fmt.Printf("%s list %d secrets: %.3f s, peak RSS %d MB\n", driver, len(l), d.Seconds(), peakRSS())
	case "import":
		entries := make([]secrets.Entry, *n)
		for i := range entries {
			entries[i] = secrets.Entry{Name: fmt.Sprintf("VAR_%06d", i), Value: sensitive.New(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", 24)))}
		}
		start := time.Now()
		if _, err := svc.Import(ctx, entries, secrets.ImportOptions{Prefix: "app/"}); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s import %d entries in one transaction: %.1f s, %.0f entries/s\n", driver, *n, time.Since(start).Seconds(), float64(*n)/time.Since(start).Seconds())
	case "fill":
		start := time.Now()
		fill(ctx, svc, *n / *versions, *versions)
		fmt.Printf("%s fill %d versions: %.1f s\n", driver, *n, time.Since(start).Seconds())
	case "verify":
		start := time.Now()
		rep, err := svc.Verify(ctx)
		if err != nil {
			log.Fatal(err)
		}
		d := time.Since(start)
		fmt.Printf("%s verify %d versions (%d failed, ok=%v): %.1f s, %.0f versions/s, peak RSS %d MB\n",
			driver, rep.Versions, rep.Failed, rep.OK, d.Seconds(), float64(rep.Versions)/d.Seconds(), peakRSS())
	default:
		log.Fatalf("unknown -mode %s", *mode)
	}
}

// fill stores secrets × versions values, 10,000 per transaction.
func fill(ctx context.Context, svc *secrets.Service, secretsN, versions int) {
	const batch = 10000
	var entries []secrets.Entry
	flush := func() {
		if len(entries) == 0 {
			return
		}
		if _, err := svc.Import(ctx, entries, secrets.ImportOptions{Prefix: "bench/"}); err != nil {
			log.Fatal(err)
		}
		entries = entries[:0]
	}
	for v := 0; v < versions; v++ {
		for i := 0; i < secretsN; i++ {
			entries = append(entries, secrets.Entry{Name: fmt.Sprintf("%07d", i), Value: sensitive.New(fmt.Sprintf("value-%d-%d-%s", i, v, strings.Repeat("x", 32)))})
			if len(entries) == batch {
				flush()
			}
		}
		flush()
	}
}

func parallel(n, conc int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func report(driver, op string, n, conc int, d time.Duration) {
	cpu := cpuTime() - cpuAtStart
	fmt.Printf("%s %s: %d ops, %d goroutines, GOMAXPROCS %d: %.2f s, %.0f ops/s (process CPU %.2f s: %.1f µs CPU/op)\n",
		driver, op, n, conc, runtime.GOMAXPROCS(0), d.Seconds(), float64(n)/d.Seconds(), cpu.Seconds(), float64(cpu.Microseconds())/float64(n))
}

// cpuAtStart is the process CPU time when the timed part began.
var cpuAtStart time.Duration

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads VmHWM from /proc/self/status, in MB.
func peakRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb / 1024
		}
	}
	return -1
}

// openPostgres opens the store in a new schema, dropped when the process
// exits normally, so runs start empty and leave nothing behind.
func openPostgres(ctx context.Context, dsn string) (store.Store, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	schema := fmt.Sprintf("sa01_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, err
	}
	cfg, err := postgres.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	db, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &dropOnClose{DB: db, conn: conn, schema: schema}, nil
}

type dropOnClose struct {
	*postgres.DB
	conn   *pgx.Conn
	schema string
}

func (d *dropOnClose) Close() error {
	d.DB.Close()
	_, err := d.conn.Exec(context.Background(), "DROP SCHEMA "+d.schema+" CASCADE")
	d.conn.Close(context.Background())
	return err
}
