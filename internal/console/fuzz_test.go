package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary methods, paths and form bodies to the
// console, with no session or a session of each role, with or without the
// session's CSRF token: it never panics and never answers 5xx; it never
// shows a stored value to anyone but an admin, nor logs one; and a
// redirect never leaves the console's origin.
func FuzzRequest(f *testing.F) {
	h := newHarness(f)
	type session struct {
		cookies []*http.Cookie
		csrf    string
	}
	base, _ := url.Parse(h.ts.URL)
	sessions := []session{{}} // 0: none
	for _, name := range []string{auditor, responder, admin} {
		u := h.as(name)
		sessions = append(sessions, session{u.c.Jar.Cookies(base), u.csrf})
	}
	values := h.allValues()
	logged := 0 // of h.logs, checked
	f.Add("GET", "/ui/secrets", "", byte(1), true)
	f.Add("POST", "/ui/signin", "credential=x&next=//evil.example", byte(0), false)
	f.Add("GET", "/ui/signin?next=/ui/secret/llm/openai_api_key", "", byte(0), false)
	f.Add("POST", "/ui/reveal/llm/openai_api_key", "version=1", byte(1), true)
	f.Add("POST", "/ui/reveal/llm/openai_api_key", "version=2", byte(3), false)
	f.Add("GET", "/ui/secret/llm/openai_api_key?version=1", "", byte(2), true)
	f.Add("POST", "/ui/edit/app/web/session_secret", "cas=1&value=v", byte(2), true)
	f.Add("GET", "/ui/audit?secret=llm/*&download=1", "", byte(1), true)
	f.Add("GET", "/ui/static/../../go.mod", "", byte(0), false)
	f.Fuzz(func(t *testing.T, method, path, body string, who byte, withCSRF bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || len(path) > 2048 {
			return
		}
		// Signing out ends a session the later inputs need; its own tests
		// cover it.
		if p, _ := url.PathUnescape(path); strings.Contains(strings.ToLower(p), "signout") {
			return
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE", "HEAD":
		default:
			return
		}
		s := sessions[int(who)%len(sessions)]
		if withCSRF && s.csrf != "" {
			body = "csrf=" + url.QueryEscape(s.csrf) + "&" + body
		}
		req, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range s.cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.c.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if loc := w.Header().Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\")) {
			t.Fatalf("%s %s: redirect to %q", method, path, loc)
		}
		logs := h.logs.String()
		newLogs := logs[logged:]
		logged = len(logs)
		for _, v := range values {
			if who%byte(len(sessions)) != 3 && strings.Contains(w.Body.String(), v) {
				t.Fatalf("%s %s: a stored value shown to session %d", method, path, who%byte(len(sessions)))
			}
			if strings.Contains(newLogs, v) {
				t.Fatalf("%s %s: a stored value logged", method, path)
			}
		}
	})
}
