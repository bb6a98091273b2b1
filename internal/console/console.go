package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/ratelimit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*.js static/*.css static/*.svg
var staticFS embed.FS

// Options configure a Console.
type Options struct {
	// Backend is the rest of sa01-secrets. Required.
	Backend Backend
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Secure marks cookies Secure (and gives the session cookie the
	// __Host- prefix) even for requests that arrive over plain HTTP: set
	// it behind a proxy that terminates TLS. Requests over TLS get it
	// anyway.
	Secure bool
	// DownloadLimit bounds the events of one audit download (0:
	// MaxDownloadEvents).
	DownloadLimit int
	// IdleTimeout and MaxAge bound a session: DefaultIdleTimeout and
	// DefaultMaxAge when zero.
	IdleTimeout, MaxAge time.Duration
}

// Console is the operators' web console: an http.Handler serving /ui/.
type Console struct {
	opts     Options
	b        Backend
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	pages    map[string]*pageTemplate
	static   fs.FS
	csrfKey  [32]byte
	limiter  *ratelimit.Limiter
	handler  http.Handler
}

// Prefix is where the console lives on its listener.
const Prefix = "/ui/"

// maxFormBytes bounds a request body: a value is at most 64 KiB, and a
// form holds little else.
const maxFormBytes = 256 << 10

// New returns the console. It panics if o.Backend is nil or an embedded
// template does not parse (both programmer errors).
func New(o Options) *Console {
	if o.Backend == nil {
		panic("console: Options.Backend is nil")
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.DownloadLimit <= 0 {
		o.DownloadLimit = MaxDownloadEvents
	}
	c := &Console{opts: o, b: o.Backend, log: o.Logger, now: o.Now,
		sessions: newSessions(o.IdleTimeout, o.MaxAge), limiter: ratelimit.New(ratelimit.Limits{Failures: maxSigninFailures, Window: signinWindow})}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	_, _ = rand.Read(c.csrfKey[:])
	c.pages = mustParsePages()
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	c.static = sub
	mux := http.NewServeMux()
	for _, rt := range c.routeTable() {
		h := rt.h
		if rt.auth {
			h = c.requireSession(h, rt.method != http.MethodGet)
		}
		mux.Handle(rt.method+" "+rt.pattern, h)
	}
	mux.HandleFunc("/", c.notFound)
	c.handler = c.middleware(http.NewCrossOriginProtection().Handler(mux))
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// route is one entry of the console.
type route struct {
	method  string
	pattern string
	auth    bool // needs a session (and, unless GET, its CSRF token)
	h       http.HandlerFunc
}

// routeTable lists every route. Secret names hold '/', so every pattern
// that takes one ends in {name...}; the action comes first.
func (c *Console) routeTable() []route {
	return []route{
		{"GET", "/{$}", false, c.redirectTo(Prefix + "secrets")},
		{"GET", "/ui/{$}", false, c.redirectTo(Prefix + "secrets")},
		{"GET", "/ui/static/{file}", false, c.handleStatic},
		{"GET", "/ui/signin", false, c.handleSigninPage},
		{"POST", "/ui/signin", false, c.handleSignin},
		{"POST", "/ui/signout", true, c.handleSignout},

		{"GET", "/ui/secrets", true, c.handleSecrets},
		{"GET", "/ui/secret/{name...}", true, c.secretPage("secret", "secrets", "", nil)},
		{"POST", "/ui/reveal/{name...}", true, c.onSecret(c.handleReveal)},
		{"POST", "/ui/copy/{name...}", true, c.onSecret(c.handleCopy)},
		{"GET", "/ui/new", true, c.handleNewForm},
		{"POST", "/ui/new", true, c.handleNewPreview},
		{"GET", "/ui/edit/{name...}", true, c.secretPage("edit", "secrets", "Edit", editFormData)},
		{"POST", "/ui/edit/{name...}", true, c.onSecret(c.preview)},
		{"POST", "/ui/save/{name...}", true, c.onSecret(c.handleSave)},
		{"GET", "/ui/history/{name...}", true, c.secretPage("history", "secrets", "History of", nil)},
		{"GET", "/ui/rollback/{name...}", true, c.secretPage("confirm", "secrets", "Roll back", confirmFormData(opRollback))},
		{"POST", "/ui/rollback/{name...}", true, c.secretAction(c.rollback)},
		{"GET", "/ui/delete/{name...}", true, c.secretPage("confirm", "secrets", "Delete", confirmFormData(opDelete))},
		{"POST", "/ui/delete/{name...}", true, c.secretAction(c.deleteSecret)},
		{"GET", "/ui/undelete/{name...}", true, c.secretPage("confirm", "secrets", "Undelete", confirmFormData(opUndelete))},
		{"POST", "/ui/undelete/{name...}", true, c.secretAction(c.undeleteSecret)},
		{"GET", "/ui/rotate/{name...}", true, c.secretPage("rotate", "secrets", "Rotate", rotateFormData)},
		{"POST", "/ui/rotate/{name...}", true, c.secretAction(c.rotate)},

		{"GET", "/ui/access", true, c.handleAccess},
		{"GET", "/ui/access/{name...}", true, c.handleAccess},

		{"GET", "/ui/audit", true, c.handleAudit},
		{"GET", "/ui/audit.csv", true, c.handleAuditDownload("csv")},
		{"GET", "/ui/audit.json", true, c.handleAuditDownload("json")},

		{"GET", "/ui/keys", true, c.handleKeys},

		{"GET", "/ui/incidents", true, c.handleIncidents},
		{"GET", "/ui/incident/{id}", true, c.onIncident("", false, c.handleIncident)},
		{"GET", "/ui/incidents/open/{name...}", true, c.secretPage("incident-open", "incidents", "Open an incident on", nil)},
		{"POST", "/ui/incidents/open/{name...}", true, c.secretAction(c.openIncident)},
		{"POST", "/ui/incident/{id}/report", true, c.onIncident("note", false, c.handleReportIncident)},
		{"POST", "/ui/incident/{id}/close", true, c.onIncident("review", true, c.handleCloseIncident)},
	}
}

// Routes returns "METHOD PATTERN" of every route, for tests and docs.
func (c *Console) Routes() []string {
	var out []string
	for _, rt := range c.routeTable() {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

func (c *Console) redirectTo(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusSeeOther) }
}

// contentSecurityPolicy allows this origin's scripts, styles, images and
// requests only: no inline script or style, no eval, no frame of the
// console anywhere, forms posted here only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// middleware composes, outermost first: recovery, request ID and caller
// source, security headers on every answer, the body limit.
func (c *Console) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestID()
		ctx := audit.WithCaller(r.Context(), audit.Caller{RequestID: rid, Source: sourceOf(r)})
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("X-Request-Id", rid)
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.log.Error("console: handler panic", "path_pattern", r.Pattern, "request_id", rid)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type sessionKey struct{}

// sessionFrom returns the request's session (set by requireSession).
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// requireSession admits a request of a live session whose identity still
// stands; with mutating, only with the session's CSRF token too. It stamps
// the operator into the audit caller of the request.
func (c *Console) requireSession(next http.HandlerFunc, mutating bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := c.now()
		ck, err := r.Cookie(c.cookieName(r))
		var ss *session
		state := noSession
		if err == nil {
			ss, state = c.sessions.lookup(ck.Value, now)
		}
		if state != liveSession {
			if state == expiredSession {
				c.setCookie(w, r, c.cookieName(r), "", -1)
			}
			c.toSignin(w, r, state == expiredSession)
			return
		}
		ctx := r.Context()
		who, err := c.b.Identify(ctx, ss.who)
		if err != nil && !errors.Is(err, ErrBadCredential) {
			// The identities cannot be read now: neither serve the
			// request nor end the session.
			c.fail(w, r, err)
			return
		}
		if err != nil || !who.Operator() {
			c.sessions.end(ck.Value)
			c.setCookie(w, r, c.cookieName(r), "", -1)
			c.toSignin(w, r, true)
			return
		}
		ss.mu.Lock()
		ss.who = who
		ss.mu.Unlock()
		caller := audit.CallerFrom(ctx)
		caller.Service, caller.Actor = who.Name, "console:"+ss.accessor
		ctx = audit.WithCaller(ctx, caller)
		ctx = context.WithValue(ctx, sessionKey{}, ss)
		r = r.WithContext(ctx)
		if mutating {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if !ss.checkCSRF(tok) {
				_ = c.b.Record(ctx, audit.Event{Action: ActionCSRF, Outcome: audit.Failure, Reason: "missing or wrong CSRF token", Detail: "console " + r.Pattern})
				c.renderError(w, r, http.StatusForbidden, "This form has expired or did not come from the console. Go back, reload the page and try again.")
				return
			}
		}
		next(w, r)
	}
}

// toSignin sends a request without a live session to the sign-in page:
// htmx requests by HX-Redirect, others by a redirect that remembers where
// they were going (GET only).
func (c *Console) toSignin(w http.ResponseWriter, r *http.Request, expired bool) {
	to := Prefix + "signin"
	q := []string{}
	if expired {
		q = append(q, "expired=1")
	}
	if r.Method == http.MethodGet && safeNext(r.URL.RequestURI()) {
		q = append(q, "next="+urlQueryEscape(r.URL.RequestURI()))
	}
	if len(q) > 0 {
		to += "?" + strings.Join(q, "&")
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeNext reports whether a path may be returned to after sign-in: a
// console path of this origin, not the sign-in page.
func safeNext(p string) bool {
	return strings.HasPrefix(p, Prefix) && !strings.HasPrefix(p, Prefix+"signin") && !strings.HasPrefix(p, Prefix+"static/") &&
		!strings.ContainsAny(p, "\\\r\n") && !strings.HasPrefix(p, "//") && len(p) <= 2048
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusNotFound, "There is no such page.")
}

// staticTypes are the content types of the embedded files.
var staticTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// handleStatic serves the embedded scripts and style sheet.
func (c *Console) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ext := name[strings.LastIndexByte(name, '.')+1:]
	typ, ok := staticTypes["."+ext]
	if !ok || strings.Contains(name, "..") {
		c.notFound(w, r)
		return
	}
	b, err := fs.ReadFile(c.static, name)
	if err != nil {
		c.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	_, _ = w.Write(b)
}

// Sign-in limiting: maxSigninFailures failed sign-ins per source address
// per signinWindow, then blocks doubling from signinWindow/maxSigninFailures
// (internal/ratelimit, as the API's login).
const (
	maxSigninFailures = 10
	signinWindow      = 5 * time.Minute
)
