package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// redirectPair starts a listener that records every request, and a server
// on another port of the same host that redirects every request to it with
// status code.
func redirectPair(t *testing.T, code int) (front, other *httptest.Server, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// What a thief would answer: a token the client should not take.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token":"sa01s_STOLEN","service":"gateway","value":"thief-value","name":"llm/k","version":1}`))
	}))
	t.Cleanup(other.Close)
	front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, code)
	}))
	t.Cleanup(front.Close)
	return front, other, hits
}

// TestRedirectRefused: a server that redirects to another port gets no
// credential sent there, at login or with a token, with the client's own
// HTTP client or one given to it; the error names the location.
func TestRedirectRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, code := range []int{301, 302, 303, 307, 308} {
		front, other, hits := redirectPair(t, code)
		given := &http.Client{Timeout: 5 * time.Second}
		for _, opts := range [][]Option{nil, {WithHTTPClient(given)}} {
			c, err := New(front.URL, opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Login(ctx, "sa01c_CANARY-credential")
			if !errors.Is(err, ErrRedirect) || !strings.Contains(err.Error(), other.URL+"/v1/auth/login") {
				t.Fatalf("%d: Login through a redirect: %v", code, err)
			}
			if strings.Contains(err.Error(), "CANARY") || c.Token() != "" {
				t.Fatalf("%d: token %q, error %v", code, c.Token(), err)
			}
			c.Close()

			c, _ = New(front.URL, append(opts, WithToken("sa01s_CANARY"))...)
			s, err := c.Get(ctx, "llm/k")
			if !errors.Is(err, ErrRedirect) || !strings.Contains(err.Error(), other.URL+"/v1/secrets/llm/k") || s.Value() != "" {
				t.Fatalf("%d: Get through a redirect: %q, %v", code, s.Value(), err)
			}
			if _, err := c.PutWith(ctx, "llm/k", "CANARY-value", PutOptions{}); !errors.Is(err, ErrRedirect) {
				t.Fatalf("%d: Put through a redirect: %v", code, err)
			}
		}
		if n := hits.Load(); n != 0 {
			t.Fatalf("%d: the other port received %d requests", code, n)
		}
		if given.CheckRedirect != nil {
			t.Fatal("the caller's http.Client was changed")
		}
	}
	// A 3xx without a Location is refused too, not read as a success.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
		_, _ = w.Write([]byte(`{"token":"sa01s_STOLEN"}`))
	}))
	defer bare.Close()
	c, _ := New(bare.URL)
	if err := c.Login(ctx, "sa01c_credential"); !errors.Is(err, ErrRedirect) || c.Token() != "" {
		t.Fatalf("3xx without a Location: %v, token %q", err, c.Token())
	}
}

type holder struct {
	Exported Secret
	hidden   Secret
	Ptr      *Secret
	List     []Secret
	hiddenP  *Secret
}

// TestSecretRedactedEverywhere: a Secret alone, in an exported or an
// unexported field, behind a pointer or in a slice, shows [REDACTED] and
// never its value under every fmt verb, fmt.Errorf, slog's text and JSON
// handlers and encoding/json.
func TestSecretRedactedEverywhere(t *testing.T) {
	t.Parallel()
	v := "CANARY-VALUE"
	s := Secret{Name: "llm/k", Version: 2, value: &v}
	h := holder{Exported: s, hidden: s, Ptr: &s, List: []Secret{s}, hiddenP: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []any{s}))
	}
	outs = append(outs, fmt.Errorf("reading: %v", h).Error(), fmt.Errorf("reading %+v: %w", h, errors.New("x")).Error())
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(newHandler(&buf))
		l.Info("got", "secret", s, "holder", h, "ptr", &h)
		l.Info("got", slog.Any("secret", s), slog.Group("g", "holder", h))
		outs = append(outs, buf.String())
	}
	for _, x := range []any{s, &s, h, []Secret{s}, map[string]Secret{"k": s}} {
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(j))
	}
	for _, out := range outs {
		if strings.Contains(out, "CANARY") || strings.Contains(strings.ToLower(out), "43414e415259") {
			t.Errorf("value printed: %s", out)
		}
		if !strings.Contains(out, Redacted) && !strings.Contains(out, `[REDACTED]`) {
			t.Errorf("no [REDACTED] in %s", out)
		}
	}
	if s.Value() != v || (Secret{}).Value() != "" {
		t.Fatal("Value does not give the value")
	}
}

// TestClientNeverPrintsTokens: a Client prints and logs as its address.
func TestClientNeverPrintsTokens(t *testing.T) {
	t.Parallel()
	c, _ := New("http://127.0.0.1:1", WithToken("sa01s_CANARY"))
	c.cred = "sa01c_CANARY-credential"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("client", "c", c, "h", struct{ C *Client }{c})
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%+v", struct{ C *Client }{c}), buf.String()} {
		if strings.Contains(out, "CANARY") || !strings.Contains(out, "client.Client(http://127.0.0.1:1)") {
			t.Errorf("printed: %s", out)
		}
	}
}

// flakyProxy stands in front of a server: while down it drops every
// connection, as a server that is not running would, and records what
// was asked.
type flakyProxy struct {
	*httptest.Server
	up   atomic.Bool
	mu   sync.Mutex
	down []string // "METHOD path" asked while down
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.up.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		p.down = append(p.down, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *flakyProxy) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.down...)
}

// TestRenewalRetriesWhenDownAtStart: a client given a token starts renewal
// while the server is down; it retries, and renews the token once the
// server is back, before the token expires.
func TestRenewalRetriesWhenDownAtStart(t *testing.T) {
	t.Parallel()
	srv, err := servertest.StartWith(testPolicy, nil, token.Options{TTL: 6 * time.Second, MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	direct, _ := New(srv.URL)
	if err := direct.login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	tok := direct.Token()
	first, err := direct.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := newFlakyProxy(t, srv.URL)
	c, _ := New(p.URL, WithToken(tok))
	c.retryMin, c.retryMax = 20*time.Millisecond, 100*time.Millisecond
	c.StartRenewal()
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); len(p.asked()) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the client stopped trying while the server was down: %v", p.asked())
		}
	}
	p.up.Store(true)
	for deadline := first.ExpiresAt; ; time.Sleep(50 * time.Millisecond) {
		info, err := direct.Self(ctx)
		if err == nil && info.ExpiresAt.After(first.ExpiresAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token was not renewed before it expired (asked while down: %v; now: %v, %v)", p.asked(), info, err)
		}
	}
}

// TestRenewalLogsInAfterExpiry: the server goes down after login; the
// client retries renewal until the token's expiry, then tries to log in
// (not to renew a dead token), and logs in again once the server is back.
func TestRenewalLogsInAfterExpiry(t *testing.T) {
	t.Parallel()
	srv, err := servertest.StartWith(testPolicy, nil, token.Options{TTL: 2 * time.Second, MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-1"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := newFlakyProxy(t, srv.URL)
	p.up.Store(true)
	c, _ := New(p.URL, WithCacheTTL(0))
	c.retryMin, c.retryMax = 20*time.Millisecond, 100*time.Millisecond
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, exp := c.Token(), c.tokenInfo().ExpiresAt
	p.up.Store(false)
	time.Sleep(time.Until(exp) + time.Second)
	asked := p.asked()
	p.up.Store(true)
	var renews, logins int
	for _, a := range asked {
		switch a {
		case "POST /v1/auth/renew":
			renews++
		case "POST /v1/auth/login":
			logins++
		}
	}
	if renews+logins < 3 || logins == 0 {
		t.Fatalf("while down: %d renewals and %d logins tried (%v), want retries and a login after the expiry", renews, logins, asked)
	}
	if last := asked[len(asked)-1]; last != "POST /v1/auth/login" {
		t.Fatalf("after the expiry the client tried %q, want a login", last)
	}
	for deadline := time.Now().Add(30 * time.Second); c.Token() == first; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no login once the server was back")
		}
	}
	if s, err := c.Get(ctx, "llm/openai_api_key"); err != nil || s.Value() != "sk-1" {
		t.Fatalf("read after the new login: %v", err)
	}
}

// TestAnswersThatAreNotAnswers: a 2xx from a broken server or a proxy that
// lacks what makes it an answer gives an error and no value: a login
// without a token, a secret other than the one asked for (or none, an
// empty 200), a list that fails to decode half-way; and audit pages that
// do not move forward end the reading instead of being asked for again.
func TestAnswersThatAreNotAnswers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var body string
	var asked int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if asked++; asked > 5 {
			http.Error(w, `{"code":"enough","message":"enough"}`, http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	answer := func(b string) {
		mu.Lock()
		body, asked = b, 0
		mu.Unlock()
	}
	ctx := context.Background()
	c, _ := New(srv.URL, WithToken("sa01s_"+strings.Repeat("T", 43)))
	defer c.Close()

	l, _ := New(srv.URL)
	defer l.Close()
	for _, b := range []string{"", `{}`, `{"token":""}`} {
		answer(b)
		if err := l.login(ctx, "sa01c_credential"); !errors.Is(err, errAnswer) || l.Token() != "" {
			t.Errorf("login answered %q: %v, token %q", b, err, l.Token())
		}
	}
	for _, b := range []string{"", `{}`, `{"name":"other","version":1,"value":"v"}`, `{"name":"app/x","version":0,"value":"v"}`} {
		answer(b)
		if s, err := c.Get(ctx, "app/x"); !errors.Is(err, errAnswer) || s.value != nil {
			t.Errorf("Get answered %q: %v, value %v", b, err, s.value != nil)
		}
	}
	answer(`{"name":"app/x","version":2,"value":"v"}`)
	if s, err := c.GetVersion(ctx, "app/x", 3); !errors.Is(err, errAnswer) || s.value != nil {
		t.Errorf("version 3 answered with 2: %v", err)
	}
	answer(`{"identities":[{"name":"a","created_at":"x"}]}`)
	if ids, err := c.Identities(ctx); !errors.Is(err, errAnswer) || ids != nil {
		t.Errorf("a list that does not decode: %v, %d identities", err, len(ids))
	}
	// A full page (as a page that says "more" is), the same one again.
	answer(`{"events":[` + strings.Repeat(`{"seq":7},`, maxAuditPage-1) + `{"seq":7}],"more":true}`)
	es, err := c.AuditEvents(ctx, AuditQuery{})
	mu.Lock()
	n := asked
	mu.Unlock()
	if !errors.Is(err, errAnswer) || es != nil || n != 2 {
		t.Errorf("the same page again: %v, %d events, %d requests", err, len(es), n)
	}
}

// TestAnswerTooLarge: an answer longer than maxAnswer is an error saying so
// (here one that decodes, after blanks), not read whole; an error status
// keeps its status.
func TestAnswerTooLarge(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(bytes.Repeat([]byte(" "), maxAnswer))
		_, _ = io.WriteString(w, `{"token":"sa01s_from-a-long-answer","identities":[]}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := New(srv.URL)
	defer c.Close()
	err := c.login(ctx, "sa01c_credential")
	if !errors.Is(err, errAnswer) || !strings.Contains(err.Error(), "larger than 16777216 bytes") || c.Token() != "" {
		t.Errorf("a long login answer: %v, token %q", err, c.Token())
	}
	status.Store(http.StatusServiceUnavailable)
	var api *APIError
	if err := c.login(ctx, "sa01c_credential"); !errors.As(err, &api) || api.Status != http.StatusServiceUnavailable {
		t.Errorf("a long error answer: %v", err)
	}
}
