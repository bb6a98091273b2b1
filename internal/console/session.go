package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Session lifetimes (docs/console.md).
const (
	// DefaultIdleTimeout ends a session this long after its last request.
	DefaultIdleTimeout = 15 * time.Minute
	// DefaultMaxAge ends a session this long after sign-in, however busy.
	DefaultMaxAge = 8 * time.Hour
)

// Limits on what sessions hold.
const (
	maxSessions       = 10000 // sign-in is refused past it
	maxPendingEdits   = 8     // per session; the oldest goes first
	pendingEditMaxAge = 10 * time.Minute
)

// Cookie names. Under TLS the session cookie takes the __Host- prefix: the
// browser then accepts it only when Secure, with Path=/ and no Domain, so
// no other host or path can set or shadow it.
const (
	cookieName       = "sa01-console"
	cookieNameSecure = "__Host-sa01-console"
	signinCookie     = "sa01-console-signin"
	signinCookieTLS  = "__Host-sa01-console-signin"
)

// session is one signed-in operator. Its ID (the cookie) is kept only as
// SHA-256, like every other credential of sa01-secrets.
type session struct {
	accessor string // "ses_" + 16 hex digits: names the session in audit events; not secret
	who      Identity
	csrf     string
	created  time.Time

	mu      sync.Mutex // guards seen and pending
	seen    time.Time
	pending map[string]*pendingEdit
}

// pendingEdit is a value an operator submitted and has not confirmed yet:
// held here, so that the confirmation page never carries the value.
type pendingEdit struct {
	name    string
	value   sensitive.String
	opts    secrets.PutOptions
	diff    Diff
	created time.Time
}

// sessions keeps the signed-in operators of one process in memory.
type sessions struct {
	idle, maxAge time.Duration

	mu sync.Mutex
	m  map[[32]byte]*session
}

func newSessions(idle, maxAge time.Duration) *sessions {
	return &sessions{idle: idle, maxAge: maxAge, m: map[[32]byte]*session{}}
}

// randomToken returns 32 random bytes as unpadded URL-safe base64.
func randomToken() string { return token.Random(32) }

// create starts a session for who and returns its cookie value, or "" when
// the process holds too many sessions.
func (s *sessions) create(who Identity, now time.Time) (string, *session) {
	id := randomToken()
	var acc [8]byte
	_, _ = rand.Read(acc[:])
	ss := &session{accessor: "ses_" + hex.EncodeToString(acc[:]), who: who, csrf: randomToken(),
		created: now, seen: now, pending: map[string]*pendingEdit{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now)
	if len(s.m) >= maxSessions {
		return "", nil
	}
	s.m[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

// sessionState is what a cookie leads to.
type sessionState int

const (
	noSession sessionState = iota
	liveSession
	expiredSession
)

// lookup returns the live session of a cookie value and marks it used; an
// expired session is removed.
func (s *sessions) lookup(id string, now time.Time) (*session, sessionState) {
	if len(id) != 43 {
		return nil, noSession
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[k]
	if ss == nil {
		return nil, noSession
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.expired(ss, now) {
		delete(s.m, k)
		return nil, expiredSession
	}
	ss.seen = now
	return ss, liveSession
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) >= s.idle || now.Sub(ss.created) >= s.maxAge
}

// end removes the session of a cookie value.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

// purgeLocked removes expired sessions; s.mu is held.
func (s *sessions) purgeLocked(now time.Time) {
	for k, ss := range s.m {
		ss.mu.Lock()
		exp := s.expired(ss, now)
		ss.mu.Unlock()
		if exp {
			delete(s.m, k)
		}
	}
}

// checkCSRF compares a submitted token with the session's in constant
// time.
func (ss *session) checkCSRF(tok string) bool {
	return len(tok) == len(ss.csrf) && subtle.ConstantTimeCompare([]byte(tok), []byte(ss.csrf)) == 1
}

// hold keeps an edit until it is confirmed and returns its ID.
func (ss *session) hold(e *pendingEdit) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var oldest string
	for id, p := range ss.pending {
		if e.created.Sub(p.created) >= pendingEditMaxAge {
			delete(ss.pending, id)
			continue
		}
		if oldest == "" || p.created.Before(ss.pending[oldest].created) {
			oldest = id
		}
	}
	if len(ss.pending) >= maxPendingEdits {
		delete(ss.pending, oldest)
	}
	id := randomToken()[:22]
	ss.pending[id] = e
	return id
}

// take returns and forgets a held edit of name.
func (ss *session) take(id, name string, now time.Time) *pendingEdit {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p := ss.pending[id]
	if p == nil || p.name != name {
		return nil
	}
	delete(ss.pending, id)
	if now.Sub(p.created) >= pendingEditMaxAge {
		return nil
	}
	return p
}

// signinToken is the CSRF token of the sign-in form, which comes before
// any session: an HMAC, under the console's key, of a nonce that a
// short-lived cookie carries (a signed double submit). A page of another
// site can neither read the cookie nor make the token.
func (c *Console) signinToken(nonce string) string {
	m := hmac.New(sha256.New, c.csrfKey[:])
	m.Write([]byte("sa01-secrets console sign-in\x00"))
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) checkSigninToken(r *http.Request, tok string) bool {
	ck, err := r.Cookie(c.signinCookieName(r))
	if err != nil || len(ck.Value) != 43 {
		return false
	}
	want := c.signinToken(ck.Value)
	return len(tok) == len(want) && subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1
}

// secure reports whether cookies are marked Secure for r.
func (c *Console) secure(r *http.Request) bool { return c.opts.Secure || r.TLS != nil }

func (c *Console) cookieName(r *http.Request) string {
	if c.secure(r) {
		return cookieNameSecure
	}
	return cookieName
}

func (c *Console) signinCookieName(r *http.Request) string {
	if c.secure(r) {
		return signinCookieTLS
	}
	return signinCookie
}

// setCookie sets an HttpOnly, SameSite=Strict cookie for the whole
// listener, Secure under TLS; maxAge < 0 deletes it.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
}
