package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions the console records itself; the backend records the
// accesses (reveal, diff, read, write, …).
const (
	ActionSignin      = "console-signin"
	ActionSignout     = "console-signout"
	ActionCSRF        = "console-csrf"
	ActionAuditExport = "audit-export"
	// ActionReveal and ActionDiff are the actions backends record for
	// Reveal and Diff.
	ActionReveal = "reveal"
	ActionDiff   = "diff"
)

// pageTemplate is the layout with one page's content.
type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"ts":      fmtTime,
	"ago":     func(t time.Time, now time.Time) string { return fmtSpan(now.Sub(t)) },
	"until":   fmtUntil,
	"span":    fmtSpan,
	"num":     fmtNum,
	"pct":     fmtPct,
	"parent":  parentPrefix,
	"crumbs":  crumbs,
	"join":    strings.Join,
	"stepfmt": fmtStep,
	"sub":     func(a, b int64) int64 { return a - b },
	"add":     func(a, b int) int { return a + b },
	"q":       url.QueryEscape,
	// text shows free text a request chose (a description, an incident's
	// reason, an audit event's fields) with control and format characters
	// escaped as the CLI shows them: html/template leaves a bidirectional
	// override, which reorders what follows it on the page, as it is.
	"text": scan.Printable,
	"days": func(d time.Duration) string { return fmt.Sprintf("%d days", int(d/(24*time.Hour))) },
	"clock": func(inc *incident.Incident, now time.Time) clockView {
		return clockView{Status: inc.Status(now), Now: now}
	},
}

// clockView is an incident's steps at a moment, for the "steps" template.
type clockView struct {
	Status []incident.StepStatus
	Now    time.Time
}

// mustParsePages parses every page of templates/ with the layout.
func mustParsePages() map[string]*pageTemplate {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "parts.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		out[strings.TrimSuffix(base, ".html")] = &pageTemplate{t: t}
	}
	return out
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the section of the navigation to mark
	Who     Identity
	CSRF    string
	Now     time.Time
	Flash   string
	Error   string
	Data    any
	ctx     context.Context
	console *Console
}

// Can reports whether the signed-in operator may do a on name: it shapes
// what the templates offer.
func (p *page) Can(a string, name string) bool {
	if p.console == nil || p.Who.Name == "" {
		return false
	}
	return p.console.b.Can(p.ctx, p.Who, Action(a), name)
}

// newPage returns the page of a request in a session.
func (c *Console) newPage(r *http.Request, title, nav string) *page {
	p := &page{Title: title, Nav: nav, Now: c.now().UTC(), ctx: r.Context(), console: c}
	if ss := sessionFrom(r.Context()); ss != nil {
		ss.mu.Lock()
		p.Who = ss.who
		ss.mu.Unlock()
		p.CSRF = ss.csrf
	}
	return p
}

// render writes a page with status. It renders into a buffer first, so
// that a template error becomes a clean 500, never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	pt := c.pages[name]
	var b bytes.Buffer
	if err := pt.t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err.Error(), "request_id", audit.CallerFrom(r.Context()).RequestID)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// renderError renders the error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := c.newPage(r, http.StatusText(status), "")
	p.Error = msg
	c.render(w, r, status, "error", p)
}

// fail renders the error page for err. Its message comes from the table
// in classify, never from err, so no value can reach the page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	if status >= 500 {
		c.log.Error("console: request failed", "path_pattern", r.Pattern, "status", status, "err", safeErr(err),
			"request_id", audit.CallerFrom(r.Context()).RequestID)
	}
	c.renderError(w, r, status, msg)
}

func safeErr(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// classify maps an error to a status and a message.
func classify(err error) (int, string) {
	switch {
	case errors.Is(err, ErrDenied), errors.Is(err, policy.ErrDenied):
		return http.StatusForbidden, "You may not do this. The refusal is in the audit trail."
	case errors.Is(err, audit.ErrNotRecorded):
		return http.StatusServiceUnavailable, "The audit trail cannot record this access right now, so it was refused. Try again shortly."
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "Another version was written since you opened this page; nothing was changed."
	case errors.Is(err, store.ErrDeleted):
		return http.StatusConflict, "The secret is deleted; undelete it first."
	case errors.Is(err, store.ErrNotFound), errors.Is(err, incident.ErrNotFound):
		return http.StatusNotFound, "There is no such secret, version or incident."
	case errors.Is(err, store.ErrDestroyed):
		return http.StatusGone, "That version is destroyed."
	case errors.Is(err, store.ErrCompromised):
		return http.StatusGone, "That version is marked compromised and is never served."
	case errors.Is(err, incident.ErrClosed):
		return http.StatusConflict, "The incident is closed already."
	case errors.Is(err, secrets.ErrInvalid):
		// The service's input errors name the input, never its value.
		return http.StatusBadRequest, "Invalid input: " + strings.TrimPrefix(err.Error(), secrets.ErrInvalid.Error()+": ")
	case errors.Is(err, secrets.ErrNotCarried):
		return http.StatusUnprocessableEntity, "The value is not UTF-8 text, so it cannot be copied as text; Reveal shows it as base64."
	case errors.Is(err, errInput):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), errInput.Error()+": ")
	case errors.Is(err, ErrUnavailable), errors.Is(err, store.ErrUnavailable), errors.Is(err, secrets.ErrNoKeys):
		return http.StatusServiceUnavailable, "The store, its key or the policy decision point is unavailable. Try again shortly."
	}
	return http.StatusInternalServerError, "Something went wrong; the error is in the server's log."
}

// errInput is a console input error; its message names the input.
var errInput = errors.New("console: invalid input")

func inputError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInput}, a...)...)
}

// Formatting for templates.

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// fmtSpan prints a duration coarsely: 45s, 12m, 3h 05m, 6d 23h.
func fmtSpan(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dd %02dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
}

// fmtUntil says how far t is from now: "in 3h 05m" or "5d 02h ago".
func fmtUntil(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if t.After(now) {
		return "in " + fmtSpan(t.Sub(now))
	}
	return fmtSpan(now.Sub(t)) + " ago"
}

func fmtNum(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	default:
		return fmt.Sprint(n)
	}
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtPct(part, whole int64) string {
	if whole <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", part*100/whole)
}

// fmtStep says where a step of the incident clock stands.
func fmtStep(s incident.StepStatus, now time.Time) string {
	switch {
	case s.State == incident.Met:
		return "met " + fmtTime(s.Done)
	case s.State == incident.Due:
		return "due in " + fmtSpan(s.Due.Sub(now))
	case s.Done.IsZero():
		return "missed: overdue by " + fmtSpan(now.Sub(s.Due))
	}
	return "missed: done " + fmtSpan(s.Done.Sub(s.Due)) + " late"
}

// parentPrefix returns the folder above prefix ("llm/eu/" → "llm/").
func parentPrefix(prefix string) string {
	p := strings.TrimSuffix(prefix, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// crumb is one folder of a breadcrumb.
type crumb struct{ Name, Prefix string }

func crumbs(prefix string) []crumb {
	var out []crumb
	p := ""
	for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if seg == "" {
			continue
		}
		p += seg + "/"
		out = append(out, crumb{seg, p})
	}
	return out
}

// shown is a revealed value as the page prints it: the text when it is
// UTF-8 without control characters other than tab and newline, else a
// note and its base64.
type shown struct {
	Text   string
	Binary bool
}

func showValue(v []byte) shown {
	if utf8.Valid(v) {
		ok := true
		for _, r := range string(v) {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
				ok = false
				break
			}
		}
		if ok {
			return shown{Text: string(v)}
		}
	}
	return shown{Text: base64Std(v), Binary: true}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func base64Std(v []byte) string { return base64.StdEncoding.EncodeToString(v) }
