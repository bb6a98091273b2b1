package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// FuzzAnswer feeds the client a server's answer (a status and a body) to
// each kind of call: a secret, a list page, a token, token info, platform
// keys, identities, an issued credential and pages of audit events (the
// same page each time: reading stops). It never panics; a value is
// returned only from a 2xx answer, and one that is not JSON is an error;
// an error answer is an *APIError of its status whose text quotes the
// body's code and message fields and nothing else of it; a 3xx is
// ErrRedirect. A secret read is the one asked for, and a login gives a
// token.
func FuzzAnswer(f *testing.F) {
	secret := `{"name":"llm/openai_api_key","version":3,"env":"OPENAI_API_KEY","created_at":"2026-01-02T03:04:05Z","value":"sk-1"}`
	for op := range uint8(8) {
		f.Add(op, uint16(404), []byte(`{"code":"not_found","message":"no secret llm/x"}`))
		f.Add(op, uint16(403), []byte(`{"code":"denied","message":"no"}`+"\n"))
	}
	f.Add(uint8(0), uint16(200), []byte(secret))
	f.Add(uint8(1), uint16(200), []byte(`{"secrets":[{"name":"a","version":1,"env":"A","created_at":"2026-01-02T03:04:05Z","readable":true}]}`))
	f.Add(uint8(2), uint16(200), []byte(`{"identity":"gateway","kind":"service","accessor":"ac","issued_at":"2026-01-02T03:04:05Z","expires_at":"2026-01-02T04:04:05Z","renewable":true}`))
	f.Add(uint8(3), uint16(200), []byte(`{"token":"sa01s_`+strings.Repeat("A", 43)+`","identity":"gateway","kind":"service"}`))
	f.Add(uint8(4), uint16(200), []byte(`{"keys":[{"env":"SA01_CRYPTO_FERNET_KEY","value":"k"},{"env":"SA01_CRYPTO_FERNET_PREVIOUS_KEYS","value":""}]}`))
	f.Add(uint8(5), uint16(200), []byte(`{"identities":[{"name":"gateway","kind":"service","created_at":"2026-01-02T03:04:05Z"}]}`))
	f.Add(uint8(6), uint16(201), []byte(`{"identity":{"name":"ci","kind":"service"},"credential":"sa01c_x","credential_id":"c1"}`))
	f.Add(uint8(7), uint16(200), []byte(`{"events":[{"seq":1,"prev":"0","hash":"h","time":"2026-01-02T03:04:05Z","action":"read","secret":"a","outcome":"success"}],"more":false}`))
	f.Add(uint8(0), uint16(500), []byte("<html>\x1b[31mproxy error</html>"))
	f.Add(uint8(0), uint16(302), []byte(secret))
	f.Add(uint8(0), uint16(200), []byte(`{"value":`))

	var mu sync.Mutex
	var status int
	var body []byte
	var asked int
	var stop context.CancelFunc
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, b := status, body
		if asked++; asked > 10 {
			stop()
		}
		mu.Unlock()
		w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		w.WriteHeader(st)
		w.Write(b)
	}))
	f.Cleanup(srv.Close)

	f.Fuzz(func(t *testing.T, op uint8, st uint16, b []byte) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mu.Lock()
		status, body, asked, stop = answerStatus(st), b, 0, cancel
		mu.Unlock()
		c, err := New(srv.URL, WithToken("sa01s_"+strings.Repeat("T", 43)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var got any
		switch op % 8 {
		case 0:
			s, e := c.Get(ctx, "llm/openai_api_key")
			got, err = s.value != nil, e
			if e == nil && (s.Name != "llm/openai_api_key" || s.Version < 1) {
				t.Fatalf("status %d, body %q: read as %q version %d", answerStatus(st), b, s.Name, s.Version)
			}
		case 1:
			l, e := c.List(ctx, "llm/")
			got, err = l != nil, e
		case 2:
			i, e := c.Self(ctx)
			got, err = i != TokenInfo{}, e
		case 3:
			c, _ := New(srv.URL)
			defer c.Close()
			e := c.loginAs(ctx, "sa01c_credential", "")
			got, err = c.Token() != "", e
			if e == nil && c.Token() == "" {
				t.Fatalf("status %d, body %q: logged in without a token", answerStatus(st), b)
			}
		case 4:
			k, e := c.PlatformKeys(ctx)
			got, err = k != nil, e
		case 5:
			l, e := c.Identities(ctx)
			got, err = l != nil, e
		case 6:
			i, e := c.AddIdentity(ctx, "ci", "service", "", 0)
			got, err = i.credential != "" || i.CredentialID != "" || i.Identity.Name != "", e
		case 7:
			l, e := c.AuditEvents(ctx, AuditQuery{})
			got, err = l != nil, e
		}
		if ctx.Err() != nil {
			t.Fatalf("status %d, body %q: asked more than 10 times", answerStatus(st), b)
		}
		st2 := answerStatus(st)
		if st2 >= 300 && (err == nil || got == true) {
			t.Fatalf("status %d: %v, a value: %v", st2, err, got)
		}
		if err != nil && got == true {
			t.Fatalf("status %d: an error (%v) and a value", st2, err)
		}
		switch {
		case st2 < 300:
			// (A 204 carries no body: the server drops it.)
			if len(b) > 0 && st2 != http.StatusNoContent && !json.Valid(b) && err == nil {
				t.Fatalf("status %d: %q read as an answer", st2, b)
			}
		case st2 < 400:
			if !errors.Is(err, ErrRedirect) {
				t.Fatalf("status %d: %v", st2, err)
			}
		default:
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != st2 {
				t.Fatalf("status %d: %v (%T)", st2, err, err)
			}
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(b, &e)
			if e.Message == "" {
				e.Message = http.StatusText(st2)
			}
			if want := fmt.Sprintf("sa01-secrets: %s (%d %s)", e.Message, st2, e.Code); err.Error() != want {
				t.Fatalf("status %d, body %q: error %q, want %q", st2, b, err, want)
			}
		}
	})
}

// answerStatus maps a fuzzed number to a final status, 200 to 599.
func answerStatus(n uint16) int {
	if st := int(n) % 600; st >= 200 {
		return st
	}
	return 200 + int(n)%400
}
