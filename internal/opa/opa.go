package opa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// Defaults and bounds of [Options].
const (
	DefaultTimeout          = 100 * time.Millisecond
	MaxTimeout              = 10 * time.Second
	DefaultCacheTTL         = time.Second // what the server uses when nothing is set; Options' zero turns the cache off
	DefaultMaxCacheEntries  = 10000
	DefaultMaxResponseBytes = 64 << 10
	DefaultDecisionPath     = "/v1/data/sa01/secrets/allow"
)

// Options configure a [Decider]. URL and DecisionPath are required; every
// other zero value picks the default or the safe choice.
type Options struct {
	// URL is OPA's base URL: http or https, a host, optionally a path
	// prefix (OPA behind a proxy), no query or fragment. Userinfo in it
	// is sent as basic authentication and never shown: see Endpoint.
	URL string
	// DecisionPath is the Data API path of the decision, as
	// "/v1/data/sa01/secrets/allow": /v1/data/ and one or more segments of
	// A-Z a-z 0-9 _ . -, none of them "." or "..".
	DecisionPath string
	// Token, when set, is sent as "Authorization: Bearer" (OPA's
	// --authentication=token). It excludes userinfo in URL.
	Token sensitive.String
	// Timeout bounds each decision and each health check: 0 means
	// DefaultTimeout; at most MaxTimeout.
	Timeout time.Duration
	// CacheTTL is how long a decision OPA made is reused for the same
	// input (without its request fields). 0 turns the cache off: every
	// access is its own call, with its own decision_id.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache: 0 means DefaultMaxCacheEntries.
	// When full, the oldest entry goes first.
	MaxCacheEntries int
	// MaxResponseBytes bounds OPA's answer: 0 means
	// DefaultMaxResponseBytes. A larger answer denies (ReasonTooLarge).
	MaxResponseBytes int64
	// Transport, when set, carries the requests (a custom TLS
	// configuration, a test). Nil uses a transport of our own, with no
	// proxy: HTTP(S)_PROXY in the environment does not apply to OPA.
	Transport http.RoundTripper
	// Registerer receives the metrics (see docs/opa.md); nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
}

// Decider asks OPA for decisions. It is safe for concurrent use.
type Decider struct {
	client      *http.Client
	decisionURL string // without credentials
	healthURL   string // without credentials
	endpoint    string // for humans: credentials masked
	insecure    bool
	auth        sensitive.String // the Authorization header value, or zero
	timeout     time.Duration
	maxBody     int64
	cache       *cache // nil when off
	metrics     *metrics
	now         func() time.Time
}

var decisionPath = regexp.MustCompile(`^/v1/data(/[A-Za-z0-9_.-]+)+$`)

// New validates o and returns a Decider. Its errors name the option that
// is wrong and never quote the URL, which may hold credentials.
func New(o Options) (*Decider, error) {
	base, err := parseBase(o.URL)
	if err != nil {
		return nil, err
	}
	if !decisionPath.MatchString(o.DecisionPath) || len(o.DecisionPath) > 512 ||
		strings.Contains(o.DecisionPath+"/", "/./") || strings.Contains(o.DecisionPath+"/", "/../") {
		return nil, fmt.Errorf("opa: decision path %q: want /v1/data/ and the rule's path, as %q", truncate(o.DecisionPath, 80), DefaultDecisionPath)
	}
	d := &Decider{timeout: o.Timeout, maxBody: o.MaxResponseBytes, now: time.Now}
	switch {
	case d.timeout == 0:
		d.timeout = DefaultTimeout
	case d.timeout < 0 || d.timeout > MaxTimeout:
		return nil, fmt.Errorf("opa: timeout %v: want more than 0 and at most %v", o.Timeout, MaxTimeout)
	}
	switch {
	case d.maxBody == 0:
		d.maxBody = DefaultMaxResponseBytes
	case d.maxBody < 0:
		return nil, errors.New("opa: max response bytes: want more than 0")
	}
	if o.CacheTTL < 0 {
		return nil, errors.New("opa: cache TTL: want 0 (off) or more")
	}
	if o.MaxCacheEntries < 0 {
		return nil, errors.New("opa: max cache entries: want 0 (the default) or more")
	}
	if o.CacheTTL > 0 {
		n := o.MaxCacheEntries
		if n == 0 {
			n = DefaultMaxCacheEntries
		}
		d.cache = newCache(o.CacheTTL, n)
	}

	hadUser := base.User != nil
	if u := base.User; u != nil {
		if !o.Token.IsZero() {
			return nil, errors.New("opa: URL: credentials in the URL and a token: set one")
		}
		pw, _ := u.Password()
		d.auth = sensitive.New("Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
		base.User = nil
	} else if !o.Token.IsZero() {
		if strings.ContainsAny(o.Token.Reveal(), "\r\n") {
			return nil, errors.New("opa: token: holds a line break")
		}
		d.auth = sensitive.New("Bearer " + o.Token.Reveal())
	}
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	d.decisionURL = base.Scheme + "://" + base.Host + prefix + o.DecisionPath
	d.healthURL = base.Scheme + "://" + base.Host + prefix + "/health"
	d.endpoint = d.decisionURL
	if hadUser {
		d.endpoint = base.Scheme + "://****@" + base.Host + prefix + o.DecisionPath
	}
	d.insecure = base.Scheme == "http" && !loopback(base.Hostname())

	rt := o.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	d.client = &http.Client{
		Transport: rt,
		// A redirect is an answer that is not 200: it denies.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.metrics, err = newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// parseBase checks the base URL without ever putting it in an error.
func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("opa: URL: empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("opa: URL: not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("opa: URL: want http:// or https://")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, errors.New("opa: URL: want a host, as http://127.0.0.1:8181")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("opa: URL: want no query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("opa: URL: port out of range")
		}
	}
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Endpoint returns the decision URL with any credentials masked, safe for
// a log line, `config` or health.
func (d *Decider) Endpoint() string { return d.endpoint }

// Insecure reports whether decisions travel in plain HTTP to a host other
// than loopback, where they can be read and forged: the server warns at
// start.
func (d *Decider) Insecure() bool { return d.insecure }

// Timeout returns the bound of each decision.
func (d *Decider) Timeout() time.Duration { return d.timeout }

// Decide asks OPA about one access, through the cache when it is on. It
// always returns within the timeout (or ctx's deadline, if sooner), and
// allows only on OPA's explicit allow.
func (d *Decider) Decide(ctx context.Context, in Input) Decision {
	if err := in.check(); err != nil {
		return d.done(Decision{Reason: ReasonBadInput, Err: err})
	}
	if d.cache == nil {
		return d.done(d.call(ctx, in))
	}
	e, res := d.cache.get(in.cacheKey(), d.now())
	d.metrics.cache.WithLabelValues(string(res)).Inc()
	switch res {
	case lookupHit:
		dec := e.dec
		dec.Cached = true
		return d.done(dec)
	case lookupMiss:
		// The call outlives a caller that gives up: others may share it.
		go d.fill(context.WithoutCancel(ctx), e, in)
	}
	select {
	case <-e.done:
		dec := e.dec
		dec.Cached = res == lookupShared
		return d.done(dec)
	case <-ctx.Done():
		return d.done(unavailable(ctx.Err()))
	}
}

// fill makes the call for a cache entry and publishes its decision.
func (d *Decider) fill(ctx context.Context, e *entry, in Input) {
	dec := d.call(ctx, in)
	d.cache.put(e, dec, d.now())
}

// done counts the decision an access gets.
func (d *Decider) done(dec Decision) Decision {
	d.metrics.decisions.WithLabelValues(string(dec.Reason)).Inc()
	if dec.Unavailable() {
		d.metrics.unavailable.Inc()
	}
	return dec
}

// call asks OPA once, within the timeout.
func (d *Decider) call(ctx context.Context, in Input) Decision {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	dec := d.ask(ctx, in)
	d.metrics.latency.WithLabelValues(string(dec.Reason)).Observe(time.Since(start).Seconds())
	return dec
}

func (d *Decider) ask(ctx context.Context, in Input) Decision {
	body, err := json.Marshal(struct {
		Input *Input `json:"input"`
	}{&in})
	if err != nil {
		return Decision{Reason: ReasonBadInput, Err: errors.New("opa: input does not encode")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.decisionURL, bytes.NewReader(body))
	if err != nil {
		return unavailable(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	d.authorize(req)
	resp, err := d.client.Do(req)
	if err != nil {
		return unavailable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, d.maxBody+1))
	if err != nil {
		return unavailable(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return unavailable(fmt.Errorf("status %d", resp.StatusCode))
	default:
		return Decision{Reason: ReasonBadStatus, Err: fmt.Errorf("opa: status %d%s", resp.StatusCode, errorCode(data))}
	}
	if int64(len(data)) > d.maxBody {
		return Decision{Reason: ReasonTooLarge, Err: fmt.Errorf("opa: the answer is larger than %d bytes", d.maxBody)}
	}
	return parseAnswer(data)
}

func (d *Decider) authorize(req *http.Request) {
	if !d.auth.IsZero() {
		req.Header.Set("Authorization", d.auth.Reveal())
	}
}

// errorCode returns OPA's error code from an error body ({"code": ...}),
// as " (code)", when it is a plain word. The message is left out: it may
// quote the input.
func errorCode(body []byte) string {
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" || len(e.Code) > 64 {
		return ""
	}
	for i := 0; i < len(e.Code); i++ {
		if c := e.Code[i]; !('a' <= c && c <= 'z' || c == '_') {
			return ""
		}
	}
	return " (" + e.Code + ")"
}

// Health asks OPA's /health, within the timeout or ctx's deadline, and
// at least a second: nil when OPA is up and ready.
func (d *Decider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(d.timeout, time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.healthURL, nil)
	if err != nil {
		return unavailable(err).Err
	}
	d.authorize(req)
	resp, err := d.client.Do(req)
	if err != nil {
		return unavailable(err).Err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, d.maxBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: health: status %d", ErrUnavailable, resp.StatusCode)
	}
	return nil
}
