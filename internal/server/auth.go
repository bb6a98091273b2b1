package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Audit actions and reasons the server records itself.
const (
	actionLogin  = "login"
	actionRenew  = "renew"
	actionRevoke = "revoke"

	reasonNotFound       = "not found"
	reasonExpired        = "expired token"
	reasonRevoked        = "revoked token"
	reasonInvalid        = "invalid token"
	reasonMissing        = "missing token"
	reasonUnknownService = "unknown service"
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

// routeAction is the audit action of a secrets route.
func routeAction(r *http.Request) string {
	switch r.Method {
	case http.MethodPut:
		return "write"
	case http.MethodDelete:
		return "delete"
	}
	if r.PathValue("name") == "" {
		return "list"
	}
	return "read"
}

// withCaller returns ctx with the caller's service and actor set.
func withCaller(ctx context.Context, service, actor string) context.Context {
	c := audit.CallerFrom(ctx)
	c.Service, c.Actor = service, actor
	return audit.WithCaller(ctx, c)
}

type principalKey struct{}

// principal is who a request acts as. Anonymous only when auth is off and
// no token came.
type principal struct {
	rec       token.Record
	anonymous bool
}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// requireService authenticates a service token. With auth off a request
// with no token acts anonymously, unrestricted by the policy; a token, when
// given, is still checked.
func (s *Server) requireService(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tok, ok := bearer(r)
		if !ok {
			if !s.d.AuthRequired {
				ctx = withCaller(ctx, "", "anonymous")
				ctx = context.WithValue(ctx, principalKey{}, principal{anonymous: true})
				next(w, r.WithContext(ctx))
				return
			}
			_ = s.record(ctx, audit.Event{Action: routeAction(r), Secret: r.PathValue("name"), Outcome: audit.Failure, Reason: reasonMissing})
			writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "missing token: send Authorization: Bearer <service token>"})
			return
		}
		rec, err := s.d.Tokens.Validate(ctx, tok)
		if err != nil {
			if reason := tokenReason(err); reason != "" {
				if rec.Accessor != "" {
					ctx = withCaller(ctx, rec.Service, rec.Accessor)
				}
				_ = s.record(ctx, audit.Event{Action: routeAction(r), Secret: r.PathValue("name"), Outcome: audit.Failure, Reason: reason})
			}
			writeError(w, r, err)
			return
		}
		ctx = withCaller(ctx, rec.Service, rec.Accessor)
		ctx = context.WithValue(ctx, principalKey{}, principal{rec: rec})
		next(w, r.WithContext(ctx))
	}
}

// isInternal reports whether the request carries the internal token,
// compared in constant time.
func (s *Server) isInternal(r *http.Request) bool {
	tok, ok := bearer(r)
	return ok && !s.d.InternalToken.IsZero() && token.Equal(tok, s.d.InternalToken.Reveal())
}

// decodeJSON reads a small JSON body into v. Its errors never quote the
// body.
func decodeJSON(r *http.Request, v any, want string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errInvalid("request body: want JSON " + want)
	}
	if dec.More() {
		return errInvalid("request body: want one JSON object " + want)
	}
	return nil
}

type tokenView struct {
	Token        string    `json:"token,omitempty"`
	Service      string    `json:"service"`
	Accessor     string    `json:"accessor"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
	Renewable    bool      `json:"renewable"`
	TTL          int64     `json:"ttl_seconds"`
}

func (s *Server) view(rec token.Record) tokenView {
	now := s.now()
	ttl := int64(rec.ExpiresAt.Sub(now) / time.Second)
	if ttl < 0 {
		ttl = 0
	}
	return tokenView{
		Service:      rec.Service,
		Accessor:     rec.Accessor,
		IssuedAt:     rec.IssuedAt.UTC(),
		ExpiresAt:    rec.ExpiresAt.UTC(),
		MaxExpiresAt: rec.MaxExpiry.UTC(),
		Renewable:    rec.Renewable(now),
		TTL:          ttl,
	}
}

// handleLogin: POST /v1/auth/login with the internal token and
// {"service": NAME} issues a service token.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var body struct {
		Service string `json:"service"`
	}
	if err := decodeJSON(r, &body, `{"service": NAME}`); err != nil {
		writeError(w, r, err)
		return
	}
	ctx = withCaller(ctx, body.Service, "internal-token")
	if !s.isInternal(r) {
		_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonInvalid})
		writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "login needs Authorization: Bearer <SA01_AUTH_INTERNAL_TOKEN>"})
		return
	}
	if body.Service == "" {
		writeError(w, r, errInvalid(`request body: "service" is required`))
		return
	}
	if s.d.AuthRequired && !s.d.Policy.Current().HasService(body.Service) {
		_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonUnknownService})
		writeError(w, r, &apiError{http.StatusForbidden, CodeDenied, "the policy names no such service"})
		return
	}
	tok, rec, err := s.d.Tokens.Issue(ctx, body.Service)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx = withCaller(ctx, rec.Service, rec.Accessor)
	if err := s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Success}); err != nil {
		_ = s.d.Tokens.RevokeAccessor(ctx, rec.Accessor) // an unaudited token must not live
		writeError(w, r, err)
		return
	}
	v := s.view(rec)
	v.Token = tok.Reveal()
	writeJSON(w, http.StatusOK, v)
}

// handleRenew: POST /v1/auth/renew extends the caller's token.
func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	if p.anonymous {
		writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "renew needs a service token"})
		return
	}
	tok, _ := bearer(r)
	rec, err := s.d.Tokens.Renew(ctx, tok)
	if err != nil {
		if reason := tokenReason(err); reason != "" {
			_ = s.record(ctx, audit.Event{Action: actionRenew, Outcome: audit.Failure, Reason: reason})
		}
		writeError(w, r, err)
		return
	}
	if err := s.record(ctx, audit.Event{Action: actionRenew, Outcome: audit.Success}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(rec))
}

// handleSelf: GET /v1/auth/self describes the caller's token.
func (s *Server) handleSelf(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if p.anonymous {
		writeJSON(w, http.StatusOK, map[string]any{"service": "", "accessor": "anonymous", "auth_required": false})
		return
	}
	writeJSON(w, http.StatusOK, s.view(p.rec))
}

// handleRevoke: POST /v1/auth/revoke. With a service token, revokes that
// token. With the internal token and {"service": NAME}, revokes every token
// of the service; with {"accessor": ID}, that one token.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.isInternal(r) {
		var body struct {
			Service  string `json:"service"`
			Accessor string `json:"accessor"`
		}
		if err := decodeJSON(r, &body, `{"service": NAME} or {"accessor": ID}`); err != nil {
			writeError(w, r, err)
			return
		}
		ctx = withCaller(ctx, "", "internal-token")
		switch {
		case body.Service != "" && body.Accessor == "":
			n, err := s.d.Tokens.RevokeService(ctx, body.Service)
			if err != nil {
				writeError(w, r, err)
				return
			}
			_ = s.record(ctx, audit.Event{Action: actionRevoke, Service: body.Service, Outcome: audit.Success, Detail: "all tokens of the service"})
			writeJSON(w, http.StatusOK, map[string]any{"service": body.Service, "revoked": n})
		case body.Accessor != "" && body.Service == "":
			err := s.d.Tokens.RevokeAccessor(ctx, body.Accessor)
			if errors.Is(err, token.ErrNotFound) {
				_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Failure, Reason: reasonNotFound, Detail: "accessor " + body.Accessor})
				writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no token with that accessor"})
				return
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
			_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Success, Detail: "accessor " + body.Accessor})
			writeJSON(w, http.StatusOK, map[string]any{"accessor": body.Accessor, "revoked": 1})
		default:
			writeError(w, r, errInvalid(`request body: want {"service": NAME} or {"accessor": ID}`))
		}
		return
	}
	tok, ok := bearer(r)
	if !ok {
		_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Failure, Reason: reasonMissing})
		writeError(w, r, &apiError{http.StatusUnauthorized, CodeUnauthenticated, "revoke needs a service token or the internal token"})
		return
	}
	rec, err := s.d.Tokens.Revoke(ctx, tok)
	if rec.Accessor != "" {
		ctx = withCaller(ctx, rec.Service, rec.Accessor)
	}
	if err != nil {
		if reason := tokenReason(err); reason != "" {
			_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Failure, Reason: reason})
		}
		writeError(w, r, err)
		return
	}
	_ = s.record(ctx, audit.Event{Action: actionRevoke, Outcome: audit.Success})
	writeJSON(w, http.StatusOK, map[string]any{"accessor": rec.Accessor, "revoked": 1})
}
