package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/console/consoletest"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// The benchmarks' store: 10,000 secrets in ten folders of 1,000
// (team0/key0000 … team9/key0999) and a chain of 1,000,000 audit events
// over them, made once per test binary (a minute or so) in a temporary
// directory that TestMain removes.
const (
	benchSecrets = 10_000
	benchEvents  = 1_000_000
)

var (
	benchOnce sync.Once
	benchB    *consoletest.Backend
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchB != nil {
		benchB.Close()
	}
	os.Exit(code)
}

func benchBackend(b *testing.B) *consoletest.Backend {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchB, benchErr = buildBenchStore(context.Background())
		if benchErr == nil {
			fmt.Fprintf(os.Stderr, "bench store: %d secrets, %d events in %s\n", benchSecrets, benchEvents, time.Since(start).Round(time.Second))
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchB
}

func buildBenchStore(ctx context.Context) (*consoletest.Backend, error) {
	be, err := consoletest.New(ctx, consoletest.Options{Policy: testPolicy})
	if err != nil {
		return nil, err
	}
	// Seeded without audit: the chain below stands for the history.
	seed := secrets.New(be.DB, be.Ring, audit.Discard{}, nil)
	sctx := audit.WithCaller(ctx, audit.Caller{Actor: "seed"})
	for i := 0; i < benchSecrets; i++ {
		o := secrets.PutOptions{}
		if i%7 == 0 {
			o.Class = "internal-token"
		}
		if _, err := seed.Put(sctx, benchName(i), sensitive.New(fmt.Sprintf("value-%d", i)), o); err != nil {
			be.Close()
			return nil, err
		}
	}
	// The chain: reads by the services, some failures, writes, reveals;
	// spread over the last 30 days, newest last.
	chain := audit.NewChain(be.DB, &audit.MACKeys(be.Ring)[0])
	services := []string{"gateway", "worker", "worker-2", "deployer", "alice"}
	t0 := time.Now().Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / benchEvents
	const batch = 10_000
	evs := make([]audit.Event, 0, batch)
	for i := 0; i < benchEvents; i++ {
		ev := audit.Event{Time: t0.Add(time.Duration(i) * step).UTC(), Service: services[i%len(services)], Actor: "acc_0123456789abcdef",
			Action: "read", Secret: benchName((i * 7919) % benchSecrets), Version: 1, Outcome: audit.Success, RequestID: fmt.Sprintf("%016x", i), Source: "10.0.0.7"}
		switch {
		case i%97 == 0:
			ev.Outcome, ev.Reason = audit.Failure, "denied"
		case i%1009 == 0:
			ev.Action, ev.Detail = "write", "key 0123456789ab"
		case i%50021 == 0:
			ev.Action, ev.Service, ev.Detail = "reveal", "alice", "console: screen"
		}
		evs = append(evs, ev)
		if len(evs) == batch {
			if err := chain.WriteBatch(ctx, evs); err != nil {
				be.Close()
				return nil, err
			}
			evs = evs[:0]
		}
	}
	if _, err := be.VerifyNow(ctx); err != nil {
		be.Close()
		return nil, err
	}
	return be, nil
}

func benchName(i int) string { return fmt.Sprintf("team%d/key%04d", i/1000, i%1000) }

// benchConsole is a console over the bench store with a signed-in admin.
type benchConsole struct {
	c      *console.Console
	cookie *http.Cookie
}

func newBenchConsole(b *testing.B, be *consoletest.Backend) *benchConsole {
	b.Helper()
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	cred := be.IDs.Add(name, console.KindOperator, console.RoleAdmin, 0)
	c := console.New(console.Options{Backend: be})
	ts := httptest.NewServer(c)
	defer ts.Close()
	h := &harness{t: b, ts: ts, creds: map[string]string{name: cred}}
	u := h.newUser()
	if r := u.signIn(name); r.status != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", r.status)
	}
	for _, ck := range u.c.Jar.Cookies(mustURL(ts.URL)) {
		if ck.Name == "sa01-console" {
			return &benchConsole{c: c, cookie: ck}
		}
	}
	b.Fatal("no session cookie")
	return nil
}

// render serves one GET in process and checks it rendered.
func (bc *benchConsole) render(b *testing.B, path, want string) {
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(bc.cookie)
	w := httptest.NewRecorder()
	bc.c.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
		b.Fatalf("%s: %d, want %q in\n%.3000s", path, w.Code, want, w.Body.String())
	}
}

// BenchmarkSecretsPage renders the secrets page over 10,000 secrets: the
// server's time for one page, from the request to the last byte, with its
// audit event committed.
func BenchmarkSecretsPage(b *testing.B) {
	be := benchBackend(b)
	bc := newBenchConsole(b, be)
	for _, tc := range []struct{ name, path, want string }{
		{"top", "/ui/secrets", ">team9/</a>"},
		{"folder", "/ui/secrets?prefix=team3/", "team3/key0049"},
		{"folder-page-19", "/ui/secrets?prefix=team3/&after=team3/key0949", "team3/key0999"},
		{"search-many", "/ui/secrets?q=KEY09", "team0/key0949"},
		{"search-rare", "/ui/secrets?q=key0999", "team9/key0999"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				bc.render(b, tc.path, tc.want)
			}
		})
	}
}

// BenchmarkAuditPage renders the audit page over 1,000,000 events, with
// the chain's badge (verified beforehand: each render verifies only what
// was appended since).
func BenchmarkAuditPage(b *testing.B) {
	be := benchBackend(b)
	bc := newBenchConsole(b, be)
	for _, tc := range []struct{ name, path, want string }{
		{"newest", "/ui/audit", "<strong>Verified</strong>"},
		{"older-page", "/ui/audit?before=500000", ">499999<"},
		{"secret", "/ui/audit?secret=team4/key0123", "team4/key0123"},
		{"identity", "/ui/audit?identity=worker-2&outcome=failure", "denied"},
		{"since-1d", "/ui/audit?since=1d&action=read", "read"},
		{"action-rare", "/ui/audit?action=reveal", `id="looked-to"`},
		{"action-rare-older", "/ui/audit?action=reveal&before=950000", "console: screen"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				bc.render(b, tc.path, tc.want)
			}
		})
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// BenchmarkKeysPage renders the keys and rotation page over the same
// store: rotate.Status reads the history of every secret with a rotation
// period (1,429 of the 10,000 here).
func BenchmarkKeysPage(b *testing.B) {
	be := benchBackend(b)
	bc := newBenchConsole(b, be)
	for b.Loop() {
		bc.render(b, "/ui/keys", `id="keyring"`)
	}
}
