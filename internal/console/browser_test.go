package console_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// screenshotsEnv names the directory the browser tests write a screenshot
// of each page to (docs/console from the repository's root: `make` it
// with SA01_CONSOLE_SCREENSHOTS=$PWD/docs/console go test -run Browser
// ./internal/console/). Unset, they take none, so that CI rewrites nothing.
const screenshotsEnv = "SA01_CONSOLE_SCREENSHOTS"

// chromium finds Debian's Chromium (or another Chrome) on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SA01_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (apt-get install -y chromium, or set SA01_TEST_CHROMIUM): the browser tests did not run")
	return ""
}

// browser is a headless Chromium on the harness, which records every
// request it makes and every error it logs.
type browser struct {
	t    *testing.T
	h    *harness
	ctx  context.Context
	shot string // screenshot directory, or ""

	mu       sync.Mutex
	requests []string
	problems []string
}

func newBrowser(t *testing.T, h *harness) *browser {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	b := &browser{t: t, h: h, shot: os.Getenv(screenshotsEnv)}
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(cancel2)
	b.ctx = ctx
	// The first call starts Chromium, on a context without a deadline:
	// a deadline there would stop the browser with it; a watchdog ends a
	// start that hangs.
	watchdog := time.AfterFunc(2*time.Minute, cancel2)
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	if !watchdog.Stop() || err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling the log domain: %v", err)
	}
	t.Cleanup(b.check)
	return b
}

// listen records requests and problems; it runs on the tab's reading
// goroutine and only appends.
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *log.EventEntryAdded:
		if strings.Contains(e.Entry.Text, "Content Security Policy") || strings.Contains(e.Entry.Text, "Refused to") {
			b.problems = append(b.problems, "csp: "+e.Entry.Text)
		}
	}
}

// check fails the test on a CSP violation, a script error, or a request
// to another origin than the console's.
func (b *browser) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("in the browser: %s", p)
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, b.h.ts.URL+"/") {
			b.t.Errorf("the browser requested %s, outside the console", u)
		}
	}
}

// stepTimeout bounds each step: the machine may be loaded.
const stepTimeout = 90 * time.Second

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs an action that reads something. A read that lost its node
// (the page replaced it between the query and the read: a redirect
// landing, an htmx swap) is run again until the step's timeout.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, a)
		if err == nil {
			return v
		}
		if !strings.Contains(err.Error(), "No node with given id found") || ctx.Err() != nil {
			b.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) url(p string) string { return b.h.ts.URL + p }

// html returns the whole DOM as it stands.
func (b *browser) html() string {
	b.t.Helper()
	return get(b, "reading the DOM", chromedp.OuterHTML(chromedp.CSS("html")))
}

// screenshot writes docs/console/NAME.png when asked for.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in through the form, as a person would.
func (b *browser) signIn(name string) {
	b.t.Helper()
	b.run("sign in as "+name,
		chromedp.Navigate(b.url("/ui/signin")),
		chromedp.WaitVisible(chromedp.CSS(`#credential`)),
		chromedp.SendKeys(chromedp.CSS(`#credential`), b.h.creds[name]),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#identity`)),
	)
	who := get(b, "who", chromedp.Text(chromedp.CSS(`#identity`)))
	if who != name {
		b.t.Fatalf("signed in as %q, want %q", who, name)
	}
}

// TestBrowser drives the console in Chromium: sign in, search, reveal,
// edit with a stale version, open an incident, sign out, an expired
// session; and takes the screenshots of docs/console when asked.
func TestBrowser(t *testing.T) {
	h := newHarness(t)
	seedForScreens(t, h)
	b := newBrowser(t, h)
	const value = "sk-openai-CANARY-v2-77d0e1"

	t.Run("sign in", func(t *testing.T) {
		b.run("sign-in page", chromedp.Navigate(b.url("/ui/signin")), chromedp.WaitVisible(chromedp.CSS(`#credential`)))
		label := get(b, "label", chromedp.Text(chromedp.CSS(`label[for="credential"]`)))
		if label != "Credential" {
			t.Errorf("the credential field is labelled %q", label)
		}
		b.screenshot("signin")
		// A wrong credential first: refused, and audited.
		b.run("wrong credential",
			chromedp.SendKeys(chromedp.CSS(`#credential`), "sa01c_not-a-credential"),
			chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign in"]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.error`)))
		if ev := h.lastEvent(console.ActionSignin); ev.Outcome != audit.Failure {
			t.Errorf("failed sign-in event %+v", ev)
		}
		b.signIn(admin)
		if ev := h.lastEvent(console.ActionSignin); ev.Outcome != audit.Success || ev.Service != admin {
			t.Errorf("sign-in event %+v", ev)
		}
		b.run("a folder", chromedp.Navigate(b.url("/ui/secrets?prefix=llm/")), chromedp.WaitVisible(chromedp.CSS(`table.rows`)))
		b.screenshot("secrets")
	})

	t.Run("search", func(t *testing.T) {
		b.run("search as you type",
			chromedp.Navigate(b.url("/ui/secrets")),
			chromedp.WaitVisible(chromedp.CSS(`input[name="q"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "passw"),
			// htmx replaces #results without a page load.
			chromedp.WaitVisible(chromedp.Search(`//div[@id="results"]//a[text()="db/gateway/password"]`)),
		)
		results := get(b, "results", chromedp.Text(chromedp.CSS(`#results`)))
		if strings.Contains(results, "llm/openai_api_key") || !strings.Contains(results, "db/worker/password") {
			t.Errorf("search results:\n%s", results)
		}
		b.screenshot("search")
	})

	t.Run("reveal", func(t *testing.T) {
		b.run("secret page", chromedp.Navigate(b.url("/ui/secret/llm/openai_api_key")), chromedp.WaitVisible(chromedp.CSS(`#reveal`)))
		if strings.Contains(b.html(), value) {
			t.Fatal("the value is in the DOM before Reveal")
		}
		b.screenshot("secret")
		before := len(h.events())
		b.run("reveal", chromedp.Click(chromedp.CSS(`#reveal`)), chromedp.WaitVisible(chromedp.CSS(`#secret-value`)))
		shown := get(b, "the value", chromedp.Text(chromedp.CSS(`#secret-value`)))
		last := get(b, "last revealed", chromedp.Text(chromedp.CSS(`#last-revealed`)))
		if shown != value || !strings.Contains(b.html(), value) {
			t.Fatalf("revealed %q", shown)
		}
		if !strings.HasPrefix(last, "last revealed by alice at ") {
			t.Errorf("last revealed: %q", last)
		}
		var reveals []audit.Entry
		for _, e := range h.events()[before:] {
			if e.Action == console.ActionReveal {
				reveals = append(reveals, e)
			}
		}
		if len(reveals) != 1 || reveals[0].Service != admin || reveals[0].Secret != "llm/openai_api_key" || reveals[0].Version != 2 || reveals[0].Outcome != audit.Success {
			t.Errorf("reveal events %+v", reveals)
		}
		b.screenshot("secret-revealed")
		b.run("hide", chromedp.Click(chromedp.CSS(`#hide-value`)), chromedp.WaitVisible(chromedp.CSS(`#reveal`)))
		if strings.Contains(b.html(), value) {
			t.Error("the value stays in the DOM after Hide")
		}
	})

	t.Run("edit with a stale version", func(t *testing.T) {
		b.run("edit", chromedp.Navigate(b.url("/ui/edit/llm/openai_api_key")), chromedp.WaitVisible(chromedp.CSS(`#value`)))
		b.screenshot("edit")
		b.run("review",
			chromedp.SendKeys(chromedp.CSS(`#value`), "sk-openai-edited-in-the-browser"),
			chromedp.Click(chromedp.CSS(`#preview`)),
			chromedp.WaitVisible(chromedp.CSS(`#diff`)))
		if strings.Contains(b.html(), "sk-openai-edited-in-the-browser") || strings.Contains(b.html(), value) {
			t.Fatal("the review page holds a value")
		}
		b.screenshot("edit-review")
		// Someone else writes a version meanwhile.
		other := audit.WithCaller(context.Background(), audit.Caller{Service: "deployer", Source: "10.0.0.9"})
		if _, err := h.b.Service.Put(other, "llm/openai_api_key", sensitive.New("written-elsewhere"), secrets.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		b.run("save", chromedp.Click(chromedp.CSS(`#save`)), chromedp.WaitVisible(chromedp.CSS(`#conflict`)))
		msg := get(b, "conflict", chromedp.Text(chromedp.CSS(`#conflict`)))
		if !strings.Contains(msg, "Conflict: you edited version 2, but the current version is 3") {
			t.Errorf("conflict message %q", msg)
		}
		v, err := h.b.Service.Get(context.Background(), "llm/openai_api_key", 0)
		if err != nil || v.Value.Reveal() != "written-elsewhere" {
			t.Errorf("the stale edit was written: %v", err)
		}
		b.screenshot("edit-conflict")
	})

	t.Run("open an incident", func(t *testing.T) {
		b.run("secret page", chromedp.Navigate(b.url("/ui/secret/db/gateway/password")), chromedp.WaitVisible(chromedp.CSS(`#open-incident`)))
		b.run("open",
			chromedp.Click(chromedp.CSS(`#open-incident`)),
			chromedp.WaitVisible(chromedp.CSS(`#reason`)),
			chromedp.SendKeys(chromedp.CSS(`#reason`), "pasted in a support ticket"),
			chromedp.Click(chromedp.CSS(`#open-incident-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`table.clock`)))
		clock := get(b, "clock", chromedp.Text(chromedp.CSS(`table.clock`)))
		for _, want := range []string{"revoke the compromised secret", "met", "due in 1h 00m", "due in 4h 00m", "due in 24h 00m", "due in 7d 00h"} {
			if !strings.Contains(clock, want) {
				t.Errorf("the clock lacks %q:\n%s", want, clock)
			}
		}
		if ev := h.lastEvent("incident-open"); ev.Service != admin || ev.Secret != "db/gateway/password" {
			t.Errorf("incident event %+v", ev)
		}
		b.screenshot("incident")
	})

	t.Run("other pages", func(t *testing.T) {
		for _, p := range []struct{ path, wait, shot string }{
			{"/ui/history/llm/openai_api_key", `table.rows`, "history"},
			{"/ui/access/llm/openai_api_key?identity=worker&action=read&secret=llm/anthropic_api_key", `#decision`, "access"},
			{"/ui/audit", `#chain-badge`, "audit"},
			{"/ui/keys", `#keyring`, "keys"},
			{"/ui/incidents", `table.clock`, "incidents"},
		} {
			b.run(p.path, chromedp.Navigate(b.url(p.path)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
			b.screenshot(p.shot)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		b.run("sign out",
			chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign out"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#credential`)))
		if !strings.Contains(b.html(), "You are signed out.") {
			t.Error("no signed-out notice")
		}
		b.run("back to a page", chromedp.Navigate(b.url("/ui/secrets")), chromedp.WaitVisible(chromedp.CSS(`#credential`)))
		if ev := h.lastEvent(console.ActionSignout); ev.Service != admin {
			t.Errorf("sign-out event %+v", ev)
		}
	})

	t.Run("expired session", func(t *testing.T) {
		b.signIn(auditor)
		b.run("keys", chromedp.Navigate(b.url("/ui/keys")), chromedp.WaitVisible(chromedp.CSS(`#keyring`)))
		h.clock.add(console.DefaultIdleTimeout + time.Second)
		b.run("after 15 idle minutes", chromedp.Navigate(b.url("/ui/audit")), chromedp.WaitVisible(chromedp.CSS(`#credential`)))
		loc := get(b, "where", chromedp.Location())
		if !strings.Contains(b.html(), "Your session expired. Sign in again.") || !strings.Contains(loc, "next="+url.QueryEscape("/ui/audit")) {
			t.Errorf("after expiry: %s", loc)
		}
		// Signing in again leads back to the page asked for.
		b.run("sign in again",
			chromedp.SendKeys(chromedp.CSS(`#credential`), h.creds[auditor]),
			chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign in"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#chain-badge`)))
		// The auditor's view of a secret: no Reveal, no Edit.
		b.run("auditor's secret page", chromedp.Navigate(b.url("/ui/secret/llm/openai_api_key")), chromedp.WaitVisible(chromedp.CSS(`#value-slot`)))
		if html := b.html(); strings.Contains(html, `id="reveal"`) || strings.Contains(html, `id="edit"`) {
			t.Error("an auditor is offered Reveal or Edit")
		}
		b.screenshot("secret-auditor")
	})
}

// seedForScreens adds what makes the pages worth a look: reads by the
// services, a secret due for rotation, a second key's worth of history.
func seedForScreens(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	for _, svc := range []string{"gateway", "worker"} {
		c := audit.WithCaller(ctx, audit.Caller{Service: svc, Actor: "acc_" + svc, Source: "10.0.0.7"})
		if _, err := h.b.Service.Get(c, "llm/openai_api_key", 0); err != nil {
			t.Fatal(err)
		}
	}
	c := audit.WithCaller(ctx, audit.Caller{Service: "gateway", Actor: "acc_gateway", Source: "10.0.0.7"})
	for _, n := range []string{"db/gateway/password", "llm/anthropic_api_key"} {
		if _, err := h.b.Service.Get(c, n, 0); err != nil {
			t.Fatal(err)
		}
	}
	seed := audit.WithCaller(ctx, audit.Caller{Service: "seed", Source: "local"})
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("llm/eu/provider_%d_key", i+1)
		if _, err := h.b.Service.Put(seed, name, sensitive.New(fmt.Sprintf("sk-eu-demo-%d", i)), secrets.PutOptions{Class: "api-key", Owner: "platform", Description: "EU provider key"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.b.Service.Put(seed, "db/gateway/fernet_key", sensitive.New("demo-fernet-key-not-real"), secrets.PutOptions{Class: "encryption-key"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.VerifyNow(ctx); err != nil {
		t.Fatal(err)
	}
}
