package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/ratelimit"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// badCredential is well formed and matches no identity.
var badCredential = identity.CredentialPrefix + token.Random(32)

func loginEvents(h *harness) (failures, limited []audit.Event) {
	for _, ev := range h.ev.all() {
		if ev.Action != actionLogin || ev.Outcome != audit.Failure {
			continue
		}
		if ev.Reason == reasonRateLimited {
			limited = append(limited, ev)
		} else {
			failures = append(failures, ev)
		}
	}
	return failures, limited
}

// TestLoginRateLimitPerSource: 300 bad credentials from one address are
// mostly answered 429 with Retry-After, and the audit chain holds the
// checked failures, the first refusal and one summary of the others, not
// 300 events.
func TestLoginRateLimitPerSource(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	n401, n429 := 0, 0
	for i := 0; i < 300; i++ {
		r := h.do("POST", "/v1/auth/login", badCredential, nil)
		switch r.status {
		case 401:
			n401++
		case 429:
			n429++
			if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After: %q", ra)
			}
			if c := r.code(t); c != CodeRateLimited {
				t.Fatalf("429 code %q", c)
			}
		default:
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	if n429 < 280 || n401 > 10 {
		t.Fatalf("300 bad credentials: %d answered 401, %d 429; want at most 10 checked", n401, n429)
	}
	failures, limited := loginEvents(h)
	if len(failures) != n401 || len(limited) != 1 {
		t.Fatalf("audit: %d failures, %d rate-limit events; want %d and 1", len(failures), len(limited), n401)
	}
	if !strings.Contains(limited[0].Detail, "refused for 6 s") || limited[0].Source != "127.0.0.1" {
		t.Fatalf("first refusal: %+v", limited[0])
	}
	// A valid credential from the blocked address waits too.
	if r := h.do("POST", "/v1/auth/login", h.creds["gateway"], nil); r.status != 429 {
		t.Fatalf("valid credential from a blocked address: %d", r.status)
	}
	// Once the block is over, the refusals are summarised in one event,
	// and the next attempt is checked.
	h.clock.add(7 * time.Second)
	if r := h.do("POST", "/v1/auth/login", h.creds["gateway"], nil); r.status != 200 {
		t.Fatalf("after the block: %d %s", r.status, r.body)
	}
	_, limited = loginEvents(h)
	if len(limited) != 2 || !strings.Contains(limited[1].Detail, fmt.Sprintf("%d more logins from this address refused", n429)) {
		t.Fatalf("summary: %+v", limited)
	}
	// the backoff doubles: one more failure blocks for 12 s
	h.do("POST", "/v1/auth/login", badCredential, nil)
	r := h.do("POST", "/v1/auth/login", badCredential, nil)
	if r.status != 429 || r.header.Get("Retry-After") != "12" {
		t.Fatalf("second block: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
}

// TestLoginRateLimitPerIdentity: bad credentials naming one identity from
// many addresses are answered 429 once the identity failed too often, and
// audited once, while the identity's own credential still logs in.
func TestLoginRateLimitPerIdentity(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	n429 := 0
	for i := 0; i < 300; i++ {
		req := httptest.NewRequest("POST", "/v1/auth/login", strings.NewReader(`{"identity":"gateway"}`))
		req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:4000", i/200, i%200)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+badCredential)
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, req)
		switch rec.Code {
		case 401:
		case 429:
			n429++
		default:
			t.Fatalf("attempt %d: %d", i, rec.Code)
		}
	}
	if n429 < 280 {
		t.Fatalf("300 bad credentials for gateway from 300 addresses: %d answered 429", n429)
	}
	failures, limited := loginEvents(h)
	if len(failures) > 10 || len(limited) != 1 || !strings.Contains(limited[0].Detail, "for identity gateway") {
		t.Fatalf("audit: %d failures, rate-limit events %+v", len(failures), limited)
	}
	if r := h.do("POST", "/v1/auth/login", h.creds["gateway"], nil); r.status != 200 {
		t.Fatalf("gateway's own credential: %d %s", r.status, r.body)
	}
}

// TestLoginSuccessesNotLimited: many logins with a valid credential from
// one address all succeed, and a disabled limiter limits nothing.
func TestLoginSuccessesNotLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := 0; i < 100; i++ {
		h.login("gateway")
	}
	off := newHarnessWith(t, func(d *Deps) { d.LoginRate = ratelimit.Disabled })
	for i := 0; i < 50; i++ {
		if r := off.do("POST", "/v1/auth/login", badCredential, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("limiter off, attempt %d: %d", i, r.status)
		}
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":               "source 192.0.2.1",
		"2001:db8:1:2:3:4:5:6":    "source 2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:4:5:6": "source 2001:db8:1:2::/64",
		"local":                   "source local",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}
