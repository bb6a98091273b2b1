package opa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

const path = "/v1/data/sa01/secrets/allow"

func input(name string) Input {
	return Input{
		Identity: Identity{Name: "gateway", Kind: KindService},
		Action:   "read",
		Secret:   Secret{Name: name, Class: "api-key", Owner: "platform"},
		Request:  Request{ID: "req-1", Source: "10.0.0.7"},
	}
}

// fakeOPA answers every decision with status and body, and counts calls.
type fakeOPA struct {
	*httptest.Server
	calls atomic.Int64
}

func newFake(t *testing.T, h http.HandlerFunc) *fakeOPA {
	t.Helper()
	f := &fakeOPA{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// blocking answers body (nothing when empty) once release is closed, or
// gives up with the caller.
func blocking(release <-chan struct{}, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, body)
	}
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// mustNew returns a decider; unless the test sets one, the timeout is long,
// so that a loaded machine does not turn an answer into a refusal.
func mustNew(t *testing.T, o Options) *Decider {
	t.Helper()
	if o.DecisionPath == "" {
		o.DecisionPath = path
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAnswers: every shape of answer, and what it decides.
func TestAnswers(t *testing.T) {
	t.Parallel()
	big := `{"result": true, "pad": "` + strings.Repeat("x", DefaultMaxResponseBytes) + `"}`
	cases := []struct {
		name   string
		status int
		body   string
		reason Reason
		id     string
		errHas string
	}{
		{"true", 200, `{"result": true, "decision_id": "4ca636c1-55e4-417a-b1d8-4aceb67960d1"}`, ReasonAllowed, "4ca636c1-55e4-417a-b1d8-4aceb67960d1", ""},
		{"true without decision id", 200, `{"result": true}`, ReasonAllowed, "", ""},
		{"allow true", 200, `{"result": {"allow": true, "reasons": ["x"]}, "decision_id": "d1"}`, ReasonAllowed, "d1", ""},
		{"false", 200, `{"result": false, "decision_id": "d2"}`, ReasonDenied, "d2", ""},
		{"allow false", 200, `{"result": {"allow": false}}`, ReasonDenied, "", ""},
		{"undefined", 200, `{}`, ReasonUndefined, "", ""},
		{"undefined with id", 200, `{"decision_id": "d3"}`, ReasonUndefined, "d3", ""},
		{"empty object", 200, `{"result": {}}`, ReasonUndefined, "", ""},
		{"object without allow", 200, `{"result": {"deny": false}}`, ReasonUndefined, "", ""},
		{"string true", 200, `{"result": "true"}`, ReasonBadResult, "", "result is a string"},
		{"number", 200, `{"result": 1}`, ReasonBadResult, "", "result is a number"},
		{"null", 200, `{"result": null}`, ReasonBadResult, "", "result is null"},
		{"array", 200, `{"result": [true]}`, ReasonBadResult, "", "result is an array"},
		{"allow string", 200, `{"result": {"allow": "true"}}`, ReasonBadResult, "", "allow is a string"},
		{"allow number", 200, `{"result": {"allow": 1}}`, ReasonBadResult, "", "allow is a number"},
		{"allow null", 200, `{"result": {"allow": null}}`, ReasonBadResult, "", "allow is null"},
		{"not json", 200, `allow`, ReasonMalformed, "", "not a JSON object"},
		{"truncated", 200, `{"result": tru`, ReasonMalformed, "", "not a JSON object"},
		{"bare true", 200, `true`, ReasonMalformed, "", "not a JSON object"},
		{"array answer", 200, `[true]`, ReasonMalformed, "", "not a JSON object"},
		{"trailing data", 200, `{"result": true} {"result": true}`, ReasonMalformed, "", "not a JSON object"},
		{"empty body", 200, ``, ReasonMalformed, "", "not a JSON object"},
		{"decision id number", 200, `{"result": true, "decision_id": 5}`, ReasonMalformed, "", "not a JSON object"},
		{"decision id with space", 200, `{"result": true, "decision_id": "a b"}`, ReasonMalformed, "", "decision_id"},
		{"decision id too long", 200, `{"result": true, "decision_id": "` + strings.Repeat("a", 129) + `"}`, ReasonMalformed, "", "decision_id"},
		{"too large", 200, big, ReasonTooLarge, "", "larger than 65536 bytes"},
		{"500", 500, `{"code": "internal_error", "message": "eval_conflict_error on llm/openai_api_key"}`, ReasonBadStatus, "", "status 500 (internal_error)"},
		{"400", 400, `{"code": "invalid_parameter", "message": "x"}`, ReasonBadStatus, "", "status 400 (invalid_parameter)"},
		{"404 odd code", 404, `{"code": "Not Found <x>"}`, ReasonBadStatus, "", "status 404"},
		{"401", 401, `{"code": "unauthorized"}`, ReasonBadStatus, "", "status 401 (unauthorized)"},
		{"200 then 204", 204, ``, ReasonBadStatus, "", "status 204"},
		{"502", 502, `bad gateway`, ReasonUnavailable, "", "status 502"},
		{"503", 503, ``, ReasonUnavailable, "", "status 503"},
		{"504", 504, ``, ReasonUnavailable, "", "status 504"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, answer(c.status, c.body))
			d := mustNew(t, Options{URL: f.URL})
			got := d.Decide(context.Background(), input("llm/openai_api_key"))
			if got.Reason != c.reason || got.Allow != (c.reason == ReasonAllowed) || got.DecisionID != c.id {
				t.Fatalf("Decide = %+v; want reason %s, id %q", got, c.reason, c.id)
			}
			if c.errHas == "" && got.Err != nil || c.errHas != "" && (got.Err == nil || !strings.Contains(got.Err.Error(), c.errHas)) {
				t.Fatalf("Err = %v; want one holding %q", got.Err, c.errHas)
			}
			if got.Err != nil && strings.Contains(got.Err.Error(), "llm/openai_api_key") {
				t.Fatalf("Err quotes OPA's message: %v", got.Err)
			}
			if got.Unavailable() != (c.reason == ReasonUnavailable) || got.Unavailable() != errors.Is(got.Err, ErrUnavailable) {
				t.Fatalf("Unavailable() = %v, Err %v", got.Unavailable(), got.Err)
			}
		})
	}
}

// TestRequest: what goes to OPA, where, and how it is authenticated.
func TestRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, ctype, auth string
		body                      map[string]any
	}
	var mu sync.Mutex
	var last seen
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.method, s.path, s.ctype, s.auth = r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&s.body)
		mu.Lock()
		last = s
		mu.Unlock()
		_, _ = io.WriteString(w, `{"result": true}`)
	})
	in := Input{
		Identity: Identity{Name: "alice", Kind: KindOperator, Role: "responder"},
		Action:   "write",
		Secret:   Secret{Name: "llm/openai_api_key", Class: "api-key", Owner: "ml-team"},
		Request:  Request{ID: "r-9", Source: "192.0.2.1"},
	}
	want := `{"input":{"action":"write","identity":{"kind":"operator","name":"alice","role":"responder"},"request":{"id":"r-9","source":"192.0.2.1"},"secret":{"class":"api-key","name":"llm/openai_api_key","owner":"ml-team"}}}`
	host := strings.TrimPrefix(f.URL, "http://")
	for _, c := range []struct {
		name, url string
		token     string
		path      string
		auth      string
	}{
		{"plain", f.URL, "", path, ""},
		{"prefix", f.URL + "/opa/", "", "/opa" + path, ""},
		{"basic", "http://svc:pa%3Ass@" + host, "", path, "Basic c3ZjOnBhOnNz"}, // svc:pa:ss
		{"bearer", f.URL, "t0ken", path, "Bearer t0ken"},
	} {
		d := mustNew(t, Options{URL: c.url, Token: sensitive.New(c.token)})
		if dec := d.Decide(context.Background(), in); !dec.Allow {
			t.Fatalf("%s: %v", c.name, dec)
		}
		mu.Lock()
		got := last
		mu.Unlock()
		body, _ := json.Marshal(got.body)
		if got.method != "POST" || got.path != c.path || got.ctype != "application/json" || got.auth != c.auth || string(body) != want {
			t.Errorf("%s: OPA saw %s %s (%s, auth %q) %s", c.name, got.method, got.path, got.ctype, got.auth, body)
		}
	}
}

// TestNewRefuses: bad options are refused with an error that names the
// option and never the URL's credentials.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	const pw = "s3cretpw"
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"empty URL", Options{}, "URL: empty"},
		{"no scheme", Options{URL: "127.0.0.1:8181"}, "URL: not a valid URL"},
		{"ftp", Options{URL: "ftp://u:" + pw + "@h"}, "URL: want http:// or https://"},
		{"bad escape", Options{URL: "http://u:" + pw + "%zz@h"}, "URL: not a valid URL"},
		{"no host", Options{URL: "http://u:" + pw + "@"}, "URL: want a host"},
		{"opaque", Options{URL: "http:u:" + pw}, "URL: want a host"},
		{"query", Options{URL: "http://u:" + pw + "@h/?token=" + pw}, "URL: want no query or fragment"},
		{"empty query", Options{URL: "http://h/?"}, "URL: want no query or fragment"},
		{"fragment", Options{URL: "http://h/#" + pw}, "URL: want no query or fragment"},
		{"port", Options{URL: "http://u:" + pw + "@h:99999"}, "URL: port out of range"},
		{"userinfo and token", Options{URL: "http://u:" + pw + "@h", Token: sensitive.New(pw)}, "credentials in the URL and a token"},
		{"token with newline", Options{URL: "http://h", Token: sensitive.New(pw + "\r\nX: y")}, "token: holds a line break"},
		{"path missing", Options{URL: "http://h", DecisionPath: "-"}, "decision path"},
		{"relative path", Options{URL: "http://h", DecisionPath: "v1/data/x"}, "decision path"},
		{"data root", Options{URL: "http://h", DecisionPath: "/v1/data"}, "decision path"},
		{"trailing slash", Options{URL: "http://h", DecisionPath: "/v1/data/x/"}, "decision path"},
		{"v0", Options{URL: "http://h", DecisionPath: "/v0/data/x"}, "decision path"},
		{"dot dot", Options{URL: "http://h", DecisionPath: "/v1/data/x/../y"}, "decision path"},
		{"dot", Options{URL: "http://h", DecisionPath: "/v1/data/x/."}, "decision path"},
		{"query in path", Options{URL: "http://h", DecisionPath: "/v1/data/x?pretty"}, "decision path"},
		{"double slash", Options{URL: "http://h", DecisionPath: "/v1/data//x"}, "decision path"},
		{"negative timeout", Options{URL: "http://h", Timeout: -1}, "timeout"},
		{"huge timeout", Options{URL: "http://h", Timeout: time.Minute}, "timeout"},
		{"negative TTL", Options{URL: "http://h", CacheTTL: -time.Second}, "cache TTL"},
		{"negative entries", Options{URL: "http://h", MaxCacheEntries: -1}, "max cache entries"},
		{"negative body", Options{URL: "http://h", MaxResponseBytes: -1}, "max response bytes"},
	}
	for _, c := range cases {
		o := c.o
		if o.DecisionPath == "" {
			o.DecisionPath = path
		} else if o.DecisionPath == "-" {
			o.DecisionPath = ""
		}
		d, err := New(o)
		if err == nil || d != nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "opa: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q; want one holding %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error shows the credentials: %q", c.name, err)
		}
	}
}

// TestCredentialsNeverShown: the URL's credentials stay out of Endpoint,
// of every decision's error and of the decider's own formatting.
func TestCredentialsNeverShown(t *testing.T) {
	t.Parallel()
	const pw = "s3cretpw"
	f := newFake(t, answer(200, `{"result": true}`))
	host := strings.TrimPrefix(f.URL, "http://")
	f.Close() // nobody listens: the call fails with a transport error

	d := mustNew(t, Options{URL: "http://svc:" + pw + "@" + host + "/opa"})
	if got, want := d.Endpoint(), "http://****@"+host+"/opa"+path; got != want {
		t.Errorf("Endpoint = %q, want %q", got, want)
	}
	dec := d.Decide(context.Background(), input("x"))
	if !dec.Unavailable() {
		t.Fatalf("Decide on a closed port = %v", dec)
	}
	herr := d.Health(context.Background())
	for _, s := range []string{dec.Err.Error(), dec.String(), herr.Error(), fmt.Sprintf("%v %+v %#v", d, *d, *d), d.Endpoint()} {
		if strings.Contains(s, pw) || strings.Contains(s, "svc:") {
			t.Errorf("shows the credentials: %s", s)
		}
	}
	d2 := mustNew(t, Options{URL: "http://" + host, Token: sensitive.New(pw)})
	if s := fmt.Sprintf("%v %+v %#v %s", *d2, *d2, *d2, d2.Endpoint()); strings.Contains(s, pw) {
		t.Errorf("shows the token: %s", s)
	}
}

func TestInsecure(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"http://127.0.0.1:8181":    false,
		"http://localhost:8181":    false,
		"http://[::1]:8181":        false,
		"https://opa.internal":     false,
		"http://opa.internal:8181": true,
		"http://10.0.0.5:8181":     true,
	} {
		if got := mustNew(t, Options{URL: url}).Insecure(); got != want {
			t.Errorf("Insecure(%s) = %v", url, got)
		}
	}
}

// TestTimeout: an OPA that does not answer is refused as unavailable when
// the timeout ends, not when OPA answers.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, blocking(release, ""))
	defer close(release)
	d := mustNew(t, Options{URL: f.URL, Timeout: 50 * time.Millisecond})
	start := time.Now()
	dec := d.Decide(context.Background(), input("x"))
	took := time.Since(start)
	if dec.Allow || !dec.Unavailable() || !strings.Contains(dec.Err.Error(), "no answer within the timeout") {
		t.Fatalf("Decide = %v", dec)
	}
	if took < 50*time.Millisecond || took > 2*time.Second {
		t.Fatalf("refused after %v; want the 50ms timeout", took)
	}
	if d2, err := New(Options{URL: f.URL, DecisionPath: path}); err != nil || d2.Timeout() != DefaultTimeout || d.Timeout() != 50*time.Millisecond {
		t.Fatal("Timeout")
	}
}

// TestCallerGivesUp: a caller whose context ends is refused at once.
func TestCallerGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, blocking(release, `{"result": true}`))
	defer close(release)
	for _, ttl := range []time.Duration{0, time.Second} {
		d := mustNew(t, Options{URL: f.URL, Timeout: 5 * time.Second, CacheTTL: ttl})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		dec := d.Decide(ctx, input("x"))
		cancel()
		if dec.Allow || !dec.Unavailable() {
			t.Fatalf("ttl %v: Decide = %v", ttl, dec)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFake(t, answer(200, `{"result": true}`))
	d := mustNew(t, Options{URL: f.URL})
	in := input(strings.Repeat("a", MaxFieldLen+1))
	dec := d.Decide(context.Background(), in)
	if dec.Allow || dec.Reason != ReasonBadInput || !strings.Contains(dec.Err.Error(), "secret.name") || f.calls.Load() != 0 {
		t.Fatalf("Decide = %v after %d calls", dec, f.calls.Load())
	}
	if dec := d.Decide(context.Background(), input(strings.Repeat("a", MaxFieldLen))); !dec.Allow {
		t.Fatalf("a field of MaxFieldLen: %v", dec)
	}
}

// TestRedirectNotFollowed: a redirect is an answer that is not 200, even
// to somewhere that would allow.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	allow := newFake(t, answer(200, `{"result": true}`))
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, allow.URL+path, http.StatusTemporaryRedirect)
	})
	dec := mustNew(t, Options{URL: f.URL}).Decide(context.Background(), input("x"))
	if dec.Allow || dec.Reason != ReasonBadStatus || allow.calls.Load() != 0 {
		t.Fatalf("Decide = %v", dec)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	var status atomic.Int64
	status.Store(200)
	var auth atomic.Value
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if r.URL.Path != "/opa/health" || r.Method != "GET" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "{}")
	})
	d := mustNew(t, Options{URL: f.URL + "/opa", Token: sensitive.New("tk")})
	if err := d.Health(context.Background()); err != nil || auth.Load() != "Bearer tk" {
		t.Fatalf("Health = %v (auth %v)", err, auth.Load())
	}
	status.Store(500)
	if err := d.Health(context.Background()); err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("Health of a 500 = %v", err)
	}
	f.Close()
	if err := d.Health(context.Background()); err == nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Health of a closed port = %v", err)
	}
}

// TestMetrics: the series land on the caller's registry.
func TestMetrics(t *testing.T) {
	t.Parallel()
	allow := newFake(t, answer(200, `{"result": true}`))
	down := newFake(t, answer(503, ``))
	reg, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	d := mustNew(t, Options{URL: allow.URL, CacheTTL: time.Hour, Registerer: reg})
	for range 3 {
		d.Decide(context.Background(), input("x"))
	}
	mustNew(t, Options{URL: down.URL, Registerer: reg2}).Decide(context.Background(), input("x"))
	if _, err := New(Options{URL: allow.URL, DecisionPath: path, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "opa: metrics") {
		t.Fatalf("a second decider on one registry: %v", err)
	}
	for _, c := range []struct {
		reg   *prometheus.Registry
		name  string
		label string
		want  float64
	}{
		{reg, "sa01_opa_cache_lookups_total", "hit", 2},
		{reg, "sa01_opa_cache_lookups_total", "miss", 1},
		{reg, "sa01_opa_cache_lookups_total", "shared", 0},
		{reg, "sa01_opa_decisions_total", "allowed", 3},
		{reg, "sa01_opa_decision_duration_seconds", "allowed", 1}, // one call: the histogram's count
		{reg, "sa01_opa_unavailable_total", "", 0},
		{reg2, "sa01_opa_unavailable_total", "", 1},
		{reg2, "sa01_opa_decisions_total", "unavailable", 1},
		{reg2, "sa01_opa_decision_duration_seconds", "unavailable", 1},
	} {
		if got := metricValue(t, c.reg, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
}

// metricValue returns a counter's value, or a histogram's count, of the
// series whose one label has the value label ("" for none).
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); label == "" && len(l) == 0 || len(l) == 1 && l[0].GetValue() == label {
				if h := m.GetHistogram(); h != nil {
					return float64(h.GetSampleCount())
				}
				return m.GetCounter().GetValue()
			}
		}
		return 0
	}
	t.Fatalf("registry lacks %s", name)
	return 0
}

// FuzzParseAnswer: any answer parses without panic, and allows only on an
// explicit true.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{`{"result": true, "decision_id": "a-1"}`, `{"result": {"allow": true}}`, `{}`, `{"result": false}`,
		`{"result": null}`, `{"result": {"allow": "true"}}`, `[true]`, `{"result": true, "result": false}`, `{"decision_id": 1}`, `{"Result": true}`, `{"result": {"Allow": true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := parseAnswer(body)
		if dec.Allow != (dec.Reason == ReasonAllowed) {
			t.Fatalf("Allow %v with reason %s", dec.Allow, dec.Reason)
		}
		if (dec.Err == nil) != (dec.Reason == ReasonAllowed || dec.Reason == ReasonDenied || dec.Reason == ReasonUndefined) {
			t.Fatalf("reason %s with error %v", dec.Reason, dec.Err)
		}
		if !validDecisionID(dec.DecisionID) {
			t.Fatalf("decision id %q kept", dec.DecisionID)
		}
		if !dec.Allow {
			return
		}
		// An independent reading of the same body finds an explicit true
		// under the exact key "result" (OPA's; not "Result").
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatalf("allowed an answer that is not JSON: %q", body)
		}
		result := ans["result"]
		if obj, ok := result.(map[string]any); ok {
			result = obj["allow"]
		}
		if result != true {
			t.Fatalf("allowed %q", body)
		}
	})
}
