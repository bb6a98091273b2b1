package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Audit actions and reasons the server records itself.
const (
	actionLogin  = "login"
	actionRenew  = "renew"
	actionRevoke = "revoke"
	actionSelf   = "self" // GET /v1/auth/self, recorded only when refused

	reasonDenied          = secrets.ReasonDenied
	reasonNotFound        = "not found"
	reasonExpired         = "expired token"
	reasonRevoked         = "revoked token"
	reasonInvalid         = "invalid token"
	reasonMissing         = "missing token"
	reasonBadCredential   = "invalid credential"
	reasonExpiredCred     = "expired credential"
	reasonRevokedIdentity = "revoked identity"
	reasonOtherIdentity   = "credential of another identity"
)

// bearer returns the credential of an "Authorization: Bearer X" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// tokenReason names a token failure for audit.
func tokenReason(err error) string {
	switch {
	case errors.Is(err, token.ErrExpired):
		return reasonExpired
	case errors.Is(err, token.ErrRevoked):
		return reasonRevoked
	case errors.Is(err, token.ErrMalformed), errors.Is(err, token.ErrInvalid):
		return reasonInvalid
	}
	return ""
}

// credentialReason names a credential failure for audit.
func credentialReason(err error) string {
	switch {
	case errors.Is(err, identity.ErrExpired):
		return reasonExpiredCred
	case errors.Is(err, identity.ErrRevoked):
		return reasonRevokedIdentity
	case errors.Is(err, identity.ErrBadCredential):
		return reasonBadCredential
	}
	return ""
}

// record writes an audit event stamped from ctx. A failure is logged; the
// caller decides whether it refuses the access.
func (s *Server) record(ctx context.Context, ev audit.Event) error {
	err := s.d.Audit.Record(ctx, audit.Stamp(ctx, ev))
	if err != nil {
		s.log.Error("audit record failed", "action", ev.Action, "outcome", ev.Outcome, "request_id", audit.CallerFrom(ctx).RequestID)
		return audit.ErrNotRecorded
	}
	return nil
}

// routeSubject is the audit action and secret of a request refused before
// its handler ran (no token, a bad one): the action its handler records on
// success, so that audit query --action destroy finds the attempts without
// a token too, and the secret without the path's :op or /history.
func routeSubject(r *http.Request) (action, secret string) {
	route := ""
	if info := infoFrom(r.Context()); info != nil {
		route = info.route
	}
	name := r.PathValue("name")
	switch route {
	case "auth.renew":
		return actionRenew, ""
	case "auth.revoke":
		return actionRevoke, ""
	case "auth.self":
		return actionSelf, ""
	case "identities.list", "identities.op": // an unknown op
		return actionIdentityList, ""
	case "identities.add":
		return actionIdentityAdd, ""
	case "identities.rotate":
		return actionIdentityRotate, ""
	case "identities.revoke":
		return actionIdentityRevoke, ""
	case "secrets.list":
		return secrets.ActionList, ""
	case "secrets.history":
		return secrets.ActionList, strings.TrimSuffix(name, historySuffix) // as the service audits history
	case "secrets.put", "secrets.import":
		return secrets.ActionWrite, name
	case "secrets.delete":
		return secrets.ActionDelete, name
	case "secrets.rollback", "secrets.undelete", "secrets.destroy":
		n, op, _ := cutOp(name)
		return op, n
	case "policy.explain":
		return actionExplain, ""
	case "platform.keys":
		return secrets.ActionPlatformKey, ""
	}
	if a := operatorAction(r); a != "" {
		return a, ""
	}
	return secrets.ActionRead, name
}

// withIdentity returns ctx with the caller's identity set for audit: Actor
// names the identity and its kind ("service:gateway", "operator:alice"),
// Service is the service a service identity acts as ("" for operators).
func withIdentity(ctx context.Context, id identity.Identity) context.Context {
	c := audit.CallerFrom(ctx)
	c.Actor, c.Service = id.Actor(), ""
	if id.Kind == identity.Service {
		c.Service = id.Name
	}
	return audit.WithCaller(ctx, c)
}

type principalKey struct{}

// principal is who a request acts as: the identity and the token it
// presented.
type principal struct {
	id  identity.Identity
	rec token.Record
}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// requireToken authenticates a token and the live identity it belongs to.
func (s *Server) requireToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		action, subject := routeSubject(r)
		tok, ok := bearer(r)
		if !ok {
			_ = s.record(ctx, audit.Event{Action: action, Secret: subject, Outcome: audit.Failure, Reason: reasonMissing})
			writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "missing token: send Authorization: Bearer <token> (sa01-secrets login makes one)"})
			return
		}
		if strings.HasPrefix(tok, identity.CredentialPrefix) {
			_ = s.record(ctx, audit.Event{Action: action, Secret: subject, Outcome: audit.Failure, Reason: reasonInvalid})
			writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "invalid token: a credential logs in (POST /v1/auth/login); send the token it returns"})
			return
		}
		rec, err := s.d.Tokens.Validate(ctx, tok)
		var id identity.Identity
		if err == nil {
			id, err = s.d.Identities.Lookup(ctx, rec.Service)
			switch {
			case errors.Is(err, identity.ErrNotFound):
				err = token.ErrInvalid
			case err == nil && id.Revoked():
				err = token.ErrRevoked
			}
		}
		if err != nil {
			if reason := tokenReason(err); reason != "" {
				if id.Name != "" {
					ctx = withIdentity(ctx, id)
				}
				_ = s.record(ctx, audit.Event{Action: action, Secret: subject, Outcome: audit.Failure, Reason: reason})
			}
			writeError(w, r, err)
			return
		}
		ctx = withIdentity(ctx, id)
		ctx = context.WithValue(ctx, principalKey{}, principal{id: id, rec: rec})
		next(w, r.WithContext(ctx))
	}
}

type tokenView struct {
	Token        string    `json:"token,omitempty"`
	Identity     string    `json:"identity"`
	Kind         string    `json:"kind,omitempty"`
	Role         string    `json:"role,omitempty"`
	Service      string    `json:"service,omitempty"` // a service identity's name, as before identities
	Accessor     string    `json:"accessor"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
	Renewable    bool      `json:"renewable"`
	TTL          int64     `json:"ttl_seconds"`
	PlatformKey  bool      `json:"platform_key,omitempty"` // a service whose policy entry says platform_key: true
}

func (s *Server) view(id identity.Identity, rec token.Record) tokenView {
	now := s.now()
	ttl := int64(rec.ExpiresAt.Sub(now) / time.Second)
	if ttl < 0 {
		ttl = 0
	}
	v := tokenView{
		Identity:     rec.Service,
		Kind:         string(id.Kind),
		Role:         string(id.Role),
		Accessor:     rec.Accessor,
		IssuedAt:     rec.IssuedAt.UTC(),
		ExpiresAt:    rec.ExpiresAt.UTC(),
		MaxExpiresAt: rec.MaxExpiry.UTC(),
		Renewable:    rec.Renewable(now),
		TTL:          ttl,
	}
	if id.Kind == identity.Service {
		v.Service = id.Name
		v.PlatformKey = s.d.Policy.Current().PlatformKey(id.Name)
	}
	return v
}

// auditName bounds a name taken from a request before it enters an audit
// event: a well-formed identity name, or a placeholder.
func auditName(name string) string {
	if identity.CheckName(name) != nil {
		return "(malformed name)"
	}
	return name
}

// handleLogin: POST /v1/auth/login with an identity's own credential as
// the bearer issues a token for that identity, and for no other: a body
// naming another identity ({"identity": X}, or {"service": X} as before
// identities) is refused with 403 and audited. Failed logins are
// rate-limited per source and per identity (loginlimit.go).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.recordLoginSummaries(ctx)
	src := sourceKey(audit.CallerFrom(ctx).Source)
	if wait, first := s.logins.Blocked(src, s.now()); wait > 0 {
		s.refuseLogin(ctx, w, r, src, wait, first)
		return
	}
	var body struct {
		Identity string `json:"identity"`
		Service  string `json:"service"`
	}
	if err := decodeOptionalJSON(r, &body, `{"identity": NAME} or nothing`); err != nil {
		writeError(w, r, err)
		return
	}
	claimed := body.Identity
	if claimed == "" {
		claimed = body.Service
	}
	cred, ok := bearer(r)
	if !ok {
		if s.loginFailed(ctx, w, r, claimed) {
			return
		}
		_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonMissing})
		writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "login needs Authorization: Bearer <credential> (sa01c_...)"})
		return
	}
	id, _, err := s.d.Identities.Authenticate(ctx, sensitive.New(cred))
	if err != nil {
		reason := credentialReason(err)
		if reason == "" {
			writeError(w, r, err) // the store: 503 or 500
			return
		}
		name := claimed
		if id.Name != "" {
			ctx = withIdentity(ctx, id)
			name = id.Name
		}
		if s.loginFailed(ctx, w, r, name) {
			return
		}
		_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reason})
		msg := "invalid credential"
		switch reason {
		case reasonExpiredCred:
			msg = "credential expired: ask an admin to rotate it (sa01-secrets identity rotate)"
		case reasonRevokedIdentity:
			msg = "credential revoked"
		}
		writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, msg})
		return
	}
	ctx = withIdentity(ctx, id)
	for _, claimed := range []string{body.Identity, body.Service} {
		if claimed != "" && claimed != id.Name {
			if s.loginFailed(ctx, w, r, id.Name) {
				return
			}
			_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonOtherIdentity,
				Detail: "asked for " + auditName(claimed)})
			writeError(w, r, &apiError{http.StatusForbidden, CodeDenied, "a credential logs in only as its own identity"})
			return
		}
	}
	tok, rec, err := s.d.Tokens.Issue(ctx, id.Name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A revocation that ran while the token was issued may have missed it:
	// read the identity again, past any cache.
	if cur, err := s.d.Identities.Current(ctx, id.Name); err != nil || cur.Revoked() {
		_ = s.d.Tokens.RevokeAccessor(ctx, rec.Accessor)
		if err == nil {
			err = &apiError{http.StatusUnauthorized, CodeUnauthenticated, "credential revoked"}
		}
		writeError(w, r, err)
		return
	}
	if err := s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Success, Detail: "token " + rec.Accessor}); err != nil {
		_ = s.d.Tokens.RevokeAccessor(ctx, rec.Accessor) // an unaudited token must not live
		writeError(w, r, err)
		return
	}
	v := s.view(id, rec)
	v.Token = tok.Reveal()
	writeJSON(w, http.StatusOK, v)
}

// handleRenew: POST /v1/auth/renew extends the caller's token.
func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	tok, _ := bearer(r)
	rec, err := s.d.Tokens.Renew(ctx, tok)
	if err != nil {
		if reason := tokenReason(err); reason != "" {
			_ = s.record(ctx, audit.Event{Action: actionRenew, Outcome: audit.Failure, Reason: reason})
		}
		writeError(w, r, err)
		return
	}
	if err := s.record(ctx, audit.Event{Action: actionRenew, Outcome: audit.Success, Detail: "token " + rec.Accessor}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(p.id, rec))
}

// handleSelf: GET /v1/auth/self describes the caller's token and identity.
func (s *Server) handleSelf(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	writeJSON(w, http.StatusOK, s.view(p.id, p.rec))
}

// handleRevoke: POST /v1/auth/revoke. With no body, revokes the caller's
// token. An admin may name {"identity": NAME} (or {"service": NAME}) to
// revoke every token of that identity, or {"accessor": ID} for one token;
// anyone else naming either is refused.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var body struct {
		Identity string `json:"identity"`
		Service  string `json:"service"`
		Accessor string `json:"accessor"`
	}
	if err := decodeOptionalJSON(r, &body, `{"identity": NAME} or {"accessor": ID} or nothing`); err != nil {
		writeError(w, r, err)
		return
	}
	name := body.Identity
	if name == "" {
		name = body.Service
	}
	if name == "" && body.Accessor == "" {
		tok, _ := bearer(r)
		rec, err := s.d.Tokens.Revoke(ctx, tok)
		if err != nil {
			if reason := tokenReason(err); reason != "" {
				_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Failure, Reason: reason})
			}
			writeError(w, r, err)
			return
		}
		_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Success, Detail: "token " + rec.Accessor})
		writeJSON(w, http.StatusOK, map[string]any{"accessor": rec.Accessor, "revoked": 1})
		return
	}
	if !s.permitted(r, identity.ManageIdentities, actionRevoke, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	switch {
	case name != "" && body.Accessor == "":
		n, err := s.d.Tokens.RevokeService(ctx, name)
		if err != nil {
			writeError(w, r, err)
			return
		}
		_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Success, Detail: "every token of " + auditName(name)})
		writeJSON(w, http.StatusOK, map[string]any{"identity": name, "revoked": n})
	case body.Accessor != "" && name == "":
		acc := body.Accessor
		if !validAccessor(acc) {
			writeError(w, r, errInvalid("accessor: want acc_ and 16 hex digits"))
			return
		}
		err := s.d.Tokens.RevokeAccessor(ctx, acc)
		if errors.Is(err, token.ErrNotFound) {
			_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Failure, Reason: reasonNotFound, Detail: "token " + acc})
			writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no token with that accessor"})
			return
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Success, Detail: "token " + acc})
		writeJSON(w, http.StatusOK, map[string]any{"accessor": acc, "revoked": 1})
	default:
		writeError(w, r, errInvalid(`request body: want {"identity": NAME} or {"accessor": ID}`))
	}
}

func validAccessor(a string) bool {
	if len(a) != 20 || !strings.HasPrefix(a, "acc_") {
		return false
	}
	for _, c := range a[4:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
