package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// pidFeed passes the listener's backend PID to the test, which ends it.
type pidFeed struct {
	store.Revocations
	pids chan uint32
}

func (f pidFeed) WatchRevocations(ctx context.Context, h store.RevocationHandler) error {
	h.Listening = func(pid uint32) {
		select {
		case f.pids <- pid:
		default:
		}
	}
	return f.Revocations.WatchRevocations(ctx, h)
}

// pgNodes starts two servers, each with its own pool, over one PostgreSQL
// schema, with token and identity caches that trust a record for poll, and
// both listening for revocations. The second node's listener reports its
// backend PID on pids.
func pgNodes(t *testing.T, poll time.Duration) (a, b *harness, pid uint32, pids chan uint32) {
	t.Helper()
	cfg := pgtest.Config(t)
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	creds := map[string]string{}
	pids = make(chan uint32, 4)
	node := func(first bool) *harness {
		db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ev := &events{}
		h := &harness{t: t, ev: ev, creds: creds, policy: policy.Static(p)}
		h.sec = secrets.New(db, ring, ev, time.Now)
		h.tokens = token.NewManager(db, token.Options{CacheTTL: poll})
		h.ids = identity.NewManager(db, identity.Options{CacheTTL: poll})
		if first {
			for _, n := range []string{"gateway", "worker"} {
				is, err := h.ids.Add(context.Background(), n, identity.AddOptions{Kind: identity.Service})
				if err != nil {
					t.Fatal(err)
				}
				creds[n] = is.Credential.Reveal()
			}
			is, err := h.ids.Add(context.Background(), "admin", identity.AddOptions{Kind: identity.Operator, Role: identity.Admin})
			if err != nil {
				t.Fatal(err)
			}
			creds["admin"] = is.Credential.Reveal()
		}
		h.srv = New(Deps{Secrets: h.sec, Tokens: h.tokens, Identities: h.ids, Policy: h.policy, Audit: ev})
		h.ts = httptest.NewServer(h.srv)
		t.Cleanup(h.ts.Close)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var feed store.Revocations = db
		if !first {
			feed = pidFeed{db, pids}
		}
		go func() { defer close(done); _ = h.srv.WatchRevocations(ctx, feed) }()
		t.Cleanup(func() { cancel(); <-done })
		return h
	}
	a, b = node(true), node(false)
	select { // B listens
	case pid = <-pids:
	case <-time.After(10 * time.Second):
		t.Fatal("node B never listened")
	}
	return a, b, pid, pids
}

// refusedWithin polls GET /v1/auth/self on h with tok until it answers
// 401, and fails the test if that takes longer than limit.
func refusedWithin(t *testing.T, h *harness, tok string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := h.do("GET", "/v1/auth/self", tok, nil)
		if r.status == 401 {
			return time.Since(start)
		}
		if r.status != 200 {
			t.Fatalf("node B: %d %s", r.status, r.body)
		}
		if time.Since(start) > limit {
			t.Fatalf("node B still accepts the token %v after the revoke on node A (its caches trust a record for a minute)", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevokeReachesEveryNodeAtOnce: with the caches' poll at a minute, a
// revoke of a token, of every token of an identity, of one accessor or of
// the identity itself on node A is refused by node B within a second: the
// store announced it (NOTIFY) and B dropped its cached records.
func TestRevokeReachesEveryNodeAtOnce(t *testing.T) {
	a, b, _, _ := pgNodes(t, time.Minute)
	admin := a.login("admin")
	cases := []struct {
		name   string
		revoke func(tok string)
	}{
		{"own token", func(tok string) { a.mustDo("POST", "/v1/auth/revoke", tok, nil) }},
		{"accessor", func(tok string) {
			acc, _ := b.do("GET", "/v1/auth/self", tok, nil).json(t)["accessor"].(string)
			a.mustDo("POST", "/v1/auth/revoke", admin, map[string]any{"accessor": acc})
		}},
		{"every token of the identity", func(string) {
			a.mustDo("POST", "/v1/auth/revoke", admin, map[string]any{"identity": "worker"})
		}},
		{"identity", func(string) { a.mustDo("POST", "/v1/identities/worker:revoke", admin, nil) }},
	}
	for _, c := range cases {
		tok := a.login("worker")
		if r := b.do("GET", "/v1/auth/self", tok, nil); r.status != 200 { // B caches the token
			t.Fatalf("%s: node B before: %d %s", c.name, r.status, r.body)
		}
		c.revoke(tok)
		d := refusedWithin(t, b, tok, time.Second)
		t.Logf("%s: refused on node B %v after the revoke on node A", c.name, d)
	}
}

// TestRevocationListenerReconnects: when the listener's connection is
// ended, the reconnect is counted and revocations reach the node again.
func TestRevocationListenerReconnects(t *testing.T) {
	a, b, pid, pids := pgNodes(t, time.Minute)
	conn, err := pgx.ConnectConfig(context.Background(), pgtest.Config(t).ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tok := a.login("gateway")
	if r := b.do("GET", "/v1/auth/self", tok, nil); r.status != 200 {
		t.Fatalf("node B before: %d", r.status)
	}
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int64(pid)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pids: // B listens again
	case <-time.After(10 * time.Second):
		t.Fatal("node B's listener did not reconnect")
	}
	if n := counter(t, b.srv.Registry(), "sa01_revocation_listener_reconnects_total"); n < 1 {
		t.Fatalf("reconnects counted: %v", n)
	}
	a.mustDo("POST", "/v1/auth/revoke", tok, nil)
	refusedWithin(t, b, tok, time.Second)
}

func (h *harness) mustDo(method, path, bearer string, body any) resp {
	h.t.Helper()
	r := h.do(method, path, bearer, body)
	if r.status != 200 {
		h.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	return r
}
