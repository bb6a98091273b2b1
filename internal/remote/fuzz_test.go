package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// FuzzBackendAnswer feeds the remote backend (the CLI against a server) a
// server's answer, a status and a body, to the calls whose answers it
// turns into the store's types: grants for run, a list page, a version's
// history, audit events, the audit chain's verification, the schedule.
// It never panics; nothing is returned but from a 2xx; a grant names a
// variable an environment can hold (run sets it in a child); an audit
// verification passes only when the answer says ok.
func FuzzBackendAnswer(f *testing.F) {
	f.Add(uint8(0), uint16(200), []byte(`{"secrets":[{"name":"llm/openai_api_key","version":3,"env":"OPENAI_API_KEY","created_at":"2026-01-02T03:04:05Z","readable":true},{"name":"app/x","version":1,"env":"X","readable":true,"env_mapped":true}]}`))
	f.Add(uint8(1), uint16(200), []byte(`{"secrets":[{"name":"a/b","version":1,"env":"B","created_at":"2026-01-02T03:04:05Z","class":"password","rotation_period_seconds":86400,"deleted_at":"2026-01-03T00:00:00Z"}]}`))
	f.Add(uint8(2), uint16(200), []byte(`{"name":"a/b","class":"password","env":"B","current_version":2,"versions":[{"version":1,"created_at":"2026-01-02T03:04:05Z","key_id":"k1"},{"version":2,"destroyed_at":"2026-01-03T00:00:00Z"}]}`))
	f.Add(uint8(3), uint16(200), []byte(`{"events":[{"seq":1,"prev":"0","hash":"h","time":"2026-01-02T03:04:05Z","action":"read","secret":"a","outcome":"success"}],"more":false}`))
	f.Add(uint8(4), uint16(200), []byte(`{"ok":true,"source":"store","events":3,"keyed":true,"head_seq":3,"head_hash":"h"}`))
	f.Add(uint8(4), uint16(200), []byte(`{"ok":false,"problem":{"kind":"mac","seq":2,"detail":"x"}}`))
	f.Add(uint8(5), uint16(200), []byte(`{"secrets":[],"keys":[]}`))
	for op := range uint8(6) {
		f.Add(op, uint16(403), []byte(`{"code":"denied","message":"no"}`))
		f.Add(op, uint16(502), []byte("<html>bad gateway</html>"))
	}
	var mu sync.Mutex
	var status int
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, b := status, body
		mu.Unlock()
		w.WriteHeader(st)
		w.Write(b)
	}))
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, op uint8, st uint16, b []byte) {
		code := int(st)%400 + 200
		if n := int(st) % 600; n >= 200 {
			code = n
		}
		mu.Lock()
		status, body = code, b
		mu.Unlock()
		c, err := client.New(srv.URL, client.WithToken("sa01s_"+strings.Repeat("T", 43)))
		if err != nil {
			t.Fatal(err)
		}
		be := New(c, false)
		defer be.Close()
		ctx := context.Background()
		var got bool
		switch op % 6 {
		case 0:
			gs, e := be.Granted(ctx)
			got, err = gs != nil, e
			for _, g := range gs {
				if !secrets.ValidEnvName(g.Env) {
					t.Fatalf("status %d, body %q: a grant of %q as %q", code, b, g.Name, g.Env)
				}
			}
		case 1:
			l, e := be.List(ctx, "", op%2 == 1)
			got, err = l != nil, e
		case 2:
			s, vs, e := be.History(ctx, "a/b")
			got, err = vs != nil || s.Name != "", e
		case 3:
			es, e := be.QueryAudit(ctx, audit.Query{})
			got, err = es != nil, e
		case 4:
			res, e := be.VerifyAudit(ctx, "")
			got, err = res != (audit.Result{}), e
			if e == nil && res.OK() && !strings.Contains(string(b), "true") {
				t.Fatalf("status %d, body %q: verified", code, b)
			}
		case 5:
			rep, e := be.Status(ctx)
			got, err = rep != nil, e
		}
		if code >= 300 && (err == nil || got) {
			t.Fatalf("status %d, body %q: %v, a value: %v", code, b, err, got)
		}
	})
}
