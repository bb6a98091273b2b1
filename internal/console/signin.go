package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// maxCredentialLen bounds the credential field: a credential is
// sa01c_ and 43 characters.
const maxCredentialLen = 512

type signinData struct {
	Token   string
	Next    string
	Expired bool
	Out     bool
}

// handleSigninPage: GET /ui/signin shows the form, with a fresh nonce
// cookie for its CSRF token.
func (c *Console) handleSigninPage(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookieName(r)); err == nil {
		if _, state := c.sessions.lookup(ck.Value, c.now()); state == liveSession {
			http.Redirect(w, r, Prefix+"secrets", http.StatusSeeOther)
			return
		}
	}
	q := r.URL.Query()
	d := signinData{Expired: q.Get("expired") == "1", Out: q.Get("signedout") == "1"}
	if n := q.Get("next"); safeNext(n) {
		d.Next = n
	}
	c.renderSignin(w, r, http.StatusOK, d, "")
}

func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, d signinData, msg string) {
	nonce := randomToken()
	c.setCookie(w, r, c.signinCookieName(r), nonce, int(signinWindow.Seconds()))
	d.Token = c.signinToken(nonce)
	p := c.newPage(r, "Sign in", "")
	p.Error = msg
	p.Data = d
	c.render(w, r, status, "signin", p)
}

// handleSignin: POST /ui/signin takes an operator credential and starts a
// session. Every outcome is audited.
func (c *Console) handleSignin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := c.now()
	src := audit.CallerFrom(ctx).Source
	d := signinData{}
	if n := r.PostFormValue("next"); safeNext(n) {
		d.Next = n
	}
	for _, sum := range c.limiter.Summaries(now) {
		_ = c.b.Record(audit.WithCaller(ctx, audit.Caller{Source: sum.Key}), audit.Event{Action: ActionSignin, Outcome: audit.Failure,
			Reason: "too many failures from this address", Detail: fmt.Sprintf("%d more sign-ins refused from %s to %s",
				sum.Refused, sum.First.UTC().Format(time.RFC3339), sum.Last.UTC().Format(time.RFC3339))})
	}
	if wait, first := c.limiter.Blocked(src, now); wait > 0 {
		// Audited once per block, and the later refusals counted into one
		// event when it is over, so that a flood cannot flood the chain.
		if first {
			_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Outcome: audit.Failure, Reason: "too many failures from this address"})
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		c.renderSignin(w, r, http.StatusTooManyRequests, d, "Too many failed sign-ins from this address. Wait a few minutes.")
		return
	}
	if !c.checkSigninToken(r, r.PostFormValue("csrf")) {
		c.limiter.Fail(src, now)
		_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Outcome: audit.Failure, Reason: "missing or wrong CSRF token"})
		c.renderSignin(w, r, http.StatusForbidden, d, "The sign-in form expired. Sign in again.")
		return
	}
	cred := r.PostFormValue("credential")
	if cred == "" || len(cred) > maxCredentialLen {
		c.limiter.Fail(src, now)
		_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Outcome: audit.Failure, Reason: "empty or oversized credential"})
		c.renderSignin(w, r, http.StatusUnauthorized, d, "Sign-in failed: enter your operator credential.")
		return
	}
	who, err := c.b.Authenticate(ctx, sensitive.New(cred))
	if err != nil {
		reason := "invalid credential"
		status, msg := http.StatusUnauthorized, "Sign-in failed: that credential is not valid."
		if !errors.Is(err, ErrBadCredential) {
			reason, status, msg = "authentication unavailable", http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again shortly."
		} else {
			c.limiter.Fail(src, now)
		}
		_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Outcome: audit.Failure, Reason: reason})
		c.renderSignin(w, r, status, d, msg)
		return
	}
	if !who.Operator() {
		c.limiter.Fail(src, now)
		_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Service: who.Name, Outcome: audit.Failure, Reason: "not an operator"})
		c.renderSignin(w, r, http.StatusForbidden, d, "Sign-in failed: the console takes operator credentials only.")
		return
	}
	// A session the browser held before is ended, whoever it was: a
	// sign-in never continues a session (fixation).
	if old, err := r.Cookie(c.cookieName(r)); err == nil {
		c.sessions.end(old.Value)
	}
	id, ss := c.sessions.create(who, now)
	if ss == nil {
		_ = c.b.Record(ctx, audit.Event{Action: ActionSignin, Service: who.Name, Outcome: audit.Failure, Reason: "too many sessions"})
		c.renderSignin(w, r, http.StatusServiceUnavailable, d, "Too many sessions are open on this server.")
		return
	}
	caller := audit.CallerFrom(ctx)
	caller.Service, caller.Actor = who.Name, "console:"+ss.accessor
	if err := c.b.Record(audit.WithCaller(ctx, caller), audit.Event{Action: ActionSignin, Outcome: audit.Success}); err != nil {
		// A session the audit does not know of must not live.
		c.sessions.end(id)
		c.renderSignin(w, r, http.StatusServiceUnavailable, d, "The audit trail cannot record the sign-in right now, so it was refused.")
		return
	}
	c.setCookie(w, r, c.signinCookieName(r), "", -1)
	c.setCookie(w, r, c.cookieName(r), id, int(c.opts.MaxAge.Seconds()))
	to := Prefix + "secrets"
	if d.Next != "" {
		to = d.Next
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// handleSignout: POST /ui/signout ends the session.
func (c *Console) handleSignout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookieName(r)); err == nil {
		c.sessions.end(ck.Value)
	}
	_ = c.b.Record(r.Context(), audit.Event{Action: ActionSignout, Outcome: audit.Success})
	c.setCookie(w, r, c.cookieName(r), "", -1)
	http.Redirect(w, r, Prefix+"signin?signedout=1", http.StatusSeeOther)
}
