package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

// consoleUser is a browser-like client of the console: cookies kept,
// redirects not followed, the CSRF token of the last page remembered.
type consoleUser struct {
	t    *testing.T
	base string // http://host:port/ui/
	c    *http.Client
	csrf string
}

var (
	consoleMetaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	consoleFormCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func newConsoleUser(t *testing.T, base string) *consoleUser {
	jar, _ := cookiejar.New(nil)
	return &consoleUser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (u *consoleUser) do(method, path string, form url.Values) (int, string) {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := consoleMetaCSRF.FindSubmatch(b); m != nil {
		u.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

// signIn signs in with a credential as the sign-in page asks.
func (u *consoleUser) signIn(cred string) {
	u.t.Helper()
	_, page := u.do("GET", "signin", nil)
	m := consoleFormCSRF.FindStringSubmatch(page)
	if m == nil {
		u.t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	if code, body := u.do("POST", "signin", url.Values{"csrf": {m[1]}, "credential": {cred}}); code != http.StatusSeeOther {
		u.t.Fatalf("sign-in: %d\n%s", code, body)
	}
}

func (u *consoleUser) post(path string) (int, string) {
	return u.do("POST", path, url.Values{"csrf": {u.csrf}})
}

// TestServeConsole: serve with SA01_SECRETS_UI_LISTEN serves the console
// over the real store and identities. The operator made by init signs in
// with its credential, lists the secrets (no value), reveals one (the
// store's audit chain has the reveal by that operator); an auditor added
// with `identity add` sees no Reveal and is refused one; the loopback
// listener refuses a foreign Host.
func TestServeConsole(t *testing.T) {
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	const canary = "sk-console-CANARY-5d1e07"
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"identity", "add", "audrey", "--operator", "--role", "auditor", "--credential-file", filepath.Join(dir, "audrey.credential")}},
		{canary, []string{"put", "llm/openai_api_key"}},
		{"pw", []string{"put", "db/gateway/password"}},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), c.args, strings.NewReader(c.stdin), &o, &e, func(k string) string { return env[k] }); code != 0 {
			t.Fatalf("%v: %d %s", c.args, code, e.String())
		}
	}
	env["SA01_SECRETS_UI_LISTEN"] = "127.0.0.1:0"
	ui := make(chan string, 1)
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0", UIReady: func(u string) { ui <- u }})
	defer s.stop()
	var base string
	select {
	case base = <-ui:
	default:
		t.Fatalf("serve did not start the console\n%s", s.stderr)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/ui/") || strings.HasPrefix(base, s.addr+"/") {
		t.Fatalf("console URL %q (API %s)", base, s.addr)
	}
	// The API's listener does not serve the console.
	if resp, err := http.Get(s.addr + "/ui/signin"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the API listener answers /ui/: %v %v", resp.StatusCode, err)
	}

	admin := newConsoleUser(t, base)
	admin.signIn(credOf(t, dir, "admin"))
	code, page := admin.do("GET", "secrets?prefix=llm/", nil)
	if code != 200 || !strings.Contains(page, "openai_api_key") || strings.Contains(page, canary) {
		t.Fatalf("secrets page: %d, has the name %v, has the value %v", code, strings.Contains(page, "openai_api_key"), strings.Contains(page, canary))
	}
	code, page = admin.do("GET", "secret/llm/openai_api_key", nil)
	if code != 200 || !strings.Contains(page, `id="reveal"`) || strings.Contains(page, canary) {
		t.Fatalf("secret page: %d\n%s", code, page)
	}
	code, page = admin.post("reveal/llm/openai_api_key")
	if code != 200 || !strings.Contains(page, canary) {
		t.Fatalf("reveal: %d, value shown %v", code, strings.Contains(page, canary))
	}

	auditor := newConsoleUser(t, base)
	auditor.signIn(credOf(t, dir, "audrey"))
	code, page = auditor.do("GET", "secret/llm/openai_api_key", nil)
	if code != 200 || strings.Contains(page, `id="reveal"`) || strings.Contains(page, canary) {
		t.Fatalf("auditor's secret page: %d, Reveal shown %v", code, strings.Contains(page, `id="reveal"`))
	}
	if code, page = auditor.post("reveal/llm/openai_api_key"); code != http.StatusForbidden || strings.Contains(page, canary) {
		t.Fatalf("auditor's reveal: %d", code)
	}

	// The store's chain: one reveal, by admin, and the auditor's refused.
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.QueryAudit(context.Background(), audit.Query{Secret: "llm/openai_api_key", Action: "reveal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Service != "admin" || es[0].Outcome != audit.Success || es[1].Service != "audrey" || es[1].Outcome != audit.Failure {
		t.Fatalf("reveal events: %+v", es)
	}
	if signins, _ := st.QueryAudit(context.Background(), audit.Query{Action: "console-signin"}); len(signins) != 2 {
		t.Errorf("sign-in events: %+v", signins)
	}

	// DNS rebinding: a foreign Host is refused on the loopback listener.
	req, _ := http.NewRequest("GET", base+"signin", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("foreign Host: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// TestServeConsoleOff: without SA01_SECRETS_UI_LISTEN (or --ui-listen)
// there is no console.
func TestServeConsoleOff(t *testing.T) {
	env, _ := serveEnv(t, t.TempDir())
	started := false
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0", UIReady: func(string) { started = true }})
	defer s.stop()
	if started || strings.Contains(s.stderr.String(), "web console") {
		t.Fatalf("a console without SA01_SECRETS_UI_LISTEN\n%s", s.stderr)
	}
}

// TestServeDevConsole: serve --dev turns the console on at a loopback
// address and prints its URL.
func TestServeDevConsole(t *testing.T) {
	ui := make(chan string, 1)
	s := startServe(t, map[string]string{"HOME": t.TempDir()}, serveOptions{Dev: true, Listen: "127.0.0.1:0", UIReady: func(u string) { ui <- u }})
	defer s.stop()
	var base string
	select {
	case base = <-ui:
	default:
		t.Fatal("serve --dev started no console")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.Contains(s.stdout.String(), "Web console: "+base) {
		t.Fatalf("console %q; banner:\n%s", base, s.stdout)
	}
	if code, _ := newConsoleUser(t, base).do("GET", "signin", nil); code != 200 {
		t.Fatalf("sign-in page: %d", code)
	}
}

// TestServeConsoleTLSAndPlainRefused: the console's listener follows the
// API's transport rule: with --tls-cert/--tls-key it serves TLS and its
// cookies are Secure with the __Host- prefix; plain HTTP on a non-loopback
// address is refused with a hint, and serve does not start.
func TestServeConsoleTLSAndPlainRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	env, _ := serveEnv(t, dir)
	env["SA01_SECRETS_UI_LISTEN"] = "127.0.0.1:0"
	ui := make(chan string, 1)
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, UIReady: func(u string) { ui <- u }})
	base := <-ui
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("console URL %q under TLS", base)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(base + "signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "__Host-") {
			found = true
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
			}
		}
	}
	if resp.StatusCode != 200 || !found {
		t.Fatalf("sign-in page over TLS: %d, cookies %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	env["SA01_SECRETS_UI_LISTEN"] = "0.0.0.0:0"
	var o, e bytes.Buffer
	code := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, nil, &o, &e, func(k string) string { return env[k] })
	if code != ExitUsage || !strings.Contains(e.String(), "SA01_SECRETS_UI_LISTEN: refusing plain HTTP on 0.0.0.0:0") || !strings.Contains(e.String(), "hint:") {
		t.Fatalf("plain HTTP off loopback: %d %s", code, e.String())
	}
}

// TestServeConsoleTargets: with SA01_SECRETS_TARGETS_FILE set, serve reads
// the targets in the background at start, and the keys page shows per key
// the tokens a real Redis hash holds, with when it was checked, and no
// token or connection string.
func TestServeConsoleTargets(t *testing.T) {
	redisURL, rc, prefix := targetstest.Redis(t)
	dir := t.TempDir()
	env, _ := serveEnv(t, dir)
	key, err := fernet.ParseKey(env["SA01_CRYPTO_FERNET_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	hash := prefix + "gateway:secrets"
	toks := []string{string(key.Encrypt([]byte("sk-a"))), string(key.Encrypt([]byte("sk-b"))), string(key.Encrypt([]byte("sk-c")))}
	if err := rc.HSet(context.Background(), hash, "a", toks[0], "b", toks[1], "c", toks[2]).Err(); err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "targets.yaml")
	if err := os.WriteFile(tf, []byte(fmt.Sprintf("targets:\n  gateway-redis:\n    redis: {url_secret: platform/redis_url, hash: %q}\n", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"put", "platform/redis_url"}, strings.NewReader(redisURL), &o, &e, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("put: %d %s", code, e.String())
	}
	env[config.EnvTargetsFile] = tf
	env["SA01_SECRETS_UI_LISTEN"] = "127.0.0.1:0"
	ui := make(chan string, 1)
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0", TargetsEvery: time.Hour, UIReady: func(u string) { ui <- u }})
	defer s.stop()
	admin := newConsoleUser(t, <-ui)
	admin.signIn(credOf(t, dir, "admin"))
	var page string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, page = admin.do("GET", "keys", nil); strings.Contains(page, `id="targets-checked">Checked at`) {
			break
		}
	}
	for _, want := range []string{`id="targets-checked">Checked at`, "every 1h", "<td>gateway-redis</td>", "<code>" + key.ID() + "</code>: 3"} {
		if !strings.Contains(page, want) {
			t.Errorf("keys page lacks %q:\n%s", want, page)
		}
	}
	for _, v := range append(toks, redisURL) {
		if strings.Contains(page, v) {
			t.Errorf("keys page contains a token or the connection string")
		}
	}
}
