package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
)

// Audit actions of the identity routes.
const (
	actionIdentityList   = identity.ActionList
	actionIdentityAdd    = identity.ActionAdd
	actionIdentityRotate = identity.ActionRotate
	actionIdentityRevoke = identity.ActionRevoke
)

type credentialView struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	State     string     `json:"state"` // live, due (expires within 14 days), expired, revoked
}

type identityView struct {
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`
	Role        string           `json:"role,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	RevokedAt   *time.Time       `json:"revoked_at,omitempty"`
	Credentials []credentialView `json:"credentials,omitempty"`
}

// issuedView answers an add or a rotation: the credential, shown once.
type issuedView struct {
	Identity     identityView `json:"identity"`
	Credential   string       `json:"credential"`
	CredentialID string       `json:"credential_id"`
	ExpiresAt    time.Time    `json:"expires_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func identityOf(id identity.Identity) identityView {
	return identityView{Name: id.Name, Kind: string(id.Kind), Role: string(id.Role), CreatedAt: id.CreatedAt.UTC(), RevokedAt: optTime(id.RevokedAt)}
}

// CredentialState names a credential's state at now ([identity.Credential.State]).
func CredentialState(c identity.Credential, now time.Time) string { return c.State(now) }

// identityError maps the identity package's errors for writeError.
func identityError(err error) error {
	switch {
	case errors.Is(err, identity.ErrInvalid):
		return errInvalid(strings.TrimPrefix(err.Error(), identity.ErrInvalid.Error()+": "))
	case errors.Is(err, identity.ErrExists):
		return &apiError{http.StatusConflict, CodeConflict, "an identity of that name exists (names are never reused)"}
	case errors.Is(err, identity.ErrNotFound):
		return &apiError{http.StatusNotFound, CodeNotFound, "no such identity"}
	case errors.Is(err, identity.ErrRevoked):
		return &apiError{http.StatusConflict, CodeConflict, "the identity is revoked"}
	}
	return err
}

// handleIdentities: GET /v1/identities lists every identity with its
// credentials' IDs, expiries and states; never a credential. Admin only.
func (s *Server) handleIdentities(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.permitted(r, identity.ManageIdentities, actionIdentityList, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	ids, err := s.d.Identities.List(ctx)
	if err != nil {
		writeError(w, r, err)
		return
	}
	creds, err := s.d.Identities.Credentials(ctx, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	by := map[string][]credentialView{}
	now := s.now()
	for _, c := range creds {
		by[c.Identity] = append(by[c.Identity], credentialView{ID: c.ID, CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
			RevokedAt: optTime(c.RevokedAt), State: CredentialState(c, now)})
	}
	out := make([]identityView, 0, len(ids))
	for _, id := range ids {
		v := identityOf(id)
		v.Credentials = by[id.Name]
		out = append(out, v)
	}
	if err := s.record(ctx, audit.Event{Action: actionIdentityList, Outcome: audit.Success}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"identities": out})
}

// handleAddIdentity: POST /v1/identities {"name", "kind", "role",
// "lifetime_seconds"} creates an identity and returns its first
// credential, once. Admin only.
func (s *Server) handleAddIdentity(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var body struct {
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		Role     string `json:"role"`
		Lifetime int64  `json:"lifetime_seconds"`
	}
	if err := decodeJSON(r, &body, `{"name": NAME, "kind": "service"|"operator", "role": ROLE}`); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.permitted(r, identity.ManageIdentities, actionIdentityAdd, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	if body.Lifetime < 0 || body.Lifetime > int64(identity.MaxLifetime/time.Second) {
		writeError(w, r, errInvalid("lifetime_seconds: out of range"))
		return
	}
	is, err := s.d.Identities.Add(ctx, body.Name, identity.AddOptions{Kind: identity.Kind(body.Kind), Role: identity.Role(body.Role),
		Lifetime: time.Duration(body.Lifetime) * time.Second})
	if err != nil {
		if errors.Is(err, identity.ErrExists) {
			_ = s.record(ctx, audit.Event{Action: actionIdentityAdd, Outcome: audit.Failure, Reason: "exists", Detail: "identity " + auditName(body.Name)})
		}
		writeError(w, r, identityError(err))
		return
	}
	if err := s.record(ctx, identity.AddedEvent(is)); err != nil {
		_, _ = s.d.Identities.Revoke(ctx, is.Identity.Name) // an unaudited identity must not live
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, issuedView{Identity: identityOf(is.Identity), Credential: is.Credential.Reveal(),
		CredentialID: is.Record.ID, ExpiresAt: is.Record.ExpiresAt.UTC()})
}

// handleIdentityOp: POST /v1/identities/{name}:rotate (body {"grace_seconds":
// N}, default a day) issues a new credential and lets the previous ones
// work for the grace; POST /v1/identities/{name}:revoke revokes the
// identity, every credential and every token of it. Admin only.
func (s *Server) handleIdentityOp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, op, ok := strings.Cut(r.PathValue("op"), ":")
	if !ok || (op != "rotate" && op != "revoke") {
		writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no such route: want /v1/identities/NAME:rotate or :revoke"})
		return
	}
	if err := identity.CheckName(name); err != nil {
		writeError(w, r, identityError(err))
		return
	}
	action := actionIdentityRotate
	if op == "revoke" {
		action = actionIdentityRevoke
	}
	var body struct {
		Grace *int64 `json:"grace_seconds"`
	}
	if err := decodeOptionalJSON(r, &body, `{"grace_seconds": N} or nothing`); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.permitted(r, identity.ManageIdentities, action, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	if op == "revoke" {
		n, err := s.d.Identities.Revoke(ctx, name)
		s.d.Tokens.ForgetService(name)
		if err != nil {
			if errors.Is(err, identity.ErrNotFound) {
				_ = s.record(ctx, audit.Event{Action: action, Outcome: audit.Failure, Reason: reasonNotFound, Detail: "identity " + name})
			}
			writeError(w, r, identityError(err))
			return
		}
		_ = s.record(ctx, identity.RevokedEvent(name))
		writeJSON(w, http.StatusOK, map[string]any{"identity": name, "revoked_tokens": n})
		return
	}
	grace := identity.DefaultGrace
	if body.Grace != nil {
		if *body.Grace < 0 || *body.Grace > int64(identity.MaxLifetime/time.Second) {
			writeError(w, r, errInvalid("grace_seconds: out of range"))
			return
		}
		grace = time.Duration(*body.Grace) * time.Second
	}
	is, err := s.d.Identities.Rotate(ctx, name, grace)
	if err != nil {
		if errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrRevoked) {
			_ = s.record(ctx, audit.Event{Action: action, Outcome: audit.Failure, Reason: reasonNotFound, Detail: "identity " + name})
		}
		writeError(w, r, identityError(err))
		return
	}
	if err := s.record(ctx, identity.RotatedEvent(name, is, grace)); err != nil {
		writeError(w, r, err) // the new credential is never shown: unusable
		return
	}
	writeJSON(w, http.StatusOK, issuedView{Identity: identityOf(is.Identity), Credential: is.Credential.Reveal(),
		CredentialID: is.Record.ID, ExpiresAt: is.Record.ExpiresAt.UTC()})
}
