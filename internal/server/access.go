package server

import (
	"context"
	"net/http"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/opa"
)

// Audit actions and reasons of the access check.
const (
	actionExplain = "policy-explain"

	reasonOPAUnavailable = "opa unavailable"
	reasonNotDescribed   = "secret metadata unavailable"
)

// errOPAUnavailable answers an access OPA did not decide within its
// timeout: refused, never allowed, and not a denial the caller should
// take as final.
var errOPAUnavailable = &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the access decision point (OPA) gave no answer in time; access refused"}

// describer is what the server needs of the secrets service to complete
// an OPA input: the secret's class and owner (*secrets.Service).
type describer interface {
	Describe(ctx context.Context, name string) (class, owner string, err error)
}

// gate is the server's access decision (opa.Gate.Access): identity.Decide
// first, deny wins, then OPA. With no YAML policy file, OPA decides a
// service's accesses alone.
func (s *Server) gate() opa.Gate {
	var describe func(ctx context.Context, name string) (string, string, error)
	if ds, ok := s.d.Secrets.(describer); ok {
		describe = ds.Describe
	}
	return opa.NewGate(s.d.Policy, s.d.OPA, describe)
}

// decide decides one access of id on the secret name (see opa.Gate.Access).
func (s *Server) decide(ctx context.Context, id identity.Identity, a identity.Action, name string) opa.Verdict {
	c := audit.CallerFrom(ctx)
	return s.gate().Access(ctx, id, a, name, opa.Request{ID: c.RequestID, Source: c.Source})
}

// authorize is the one access check of every route that touches a
// secret: may the request's identity do a on the secret name? It applies
// opa.Gate.Access (identity.Decide, deny wins, then the platform's OPA;
// see docs/opa.md). It runs before the secret is read or written, so a denied
// name and a missing one are answered alike. auditAction is the action
// the refusal is audited as ("read", "write", ...).
//
// Allowed, it returns ctx carrying OPA's decision_id, which the access's
// audit event records: pass that ctx on to the store. Refused, it records
// the refusal and returns the error to answer with: errDeniedOrMissing,
// or a 503 when OPA gave no answer in time or the secret could not be
// described.
func (s *Server) authorize(ctx context.Context, a identity.Action, auditAction, name string) (context.Context, error) {
	v := s.decide(ctx, principalFrom(ctx).id, a, name)
	if !v.Allow {
		return ctx, s.refuse(ctx, v, auditAction, name)
	}
	return withDecision(ctx, v), nil
}

// withDecision returns ctx carrying OPA's decision on the access, for its
// audit event: the decision_id, and whether the decision was made for
// another access (cached).
func withDecision(ctx context.Context, v opa.Verdict) context.Context {
	id := v.DecisionID()
	if id == "" {
		return ctx
	}
	c := audit.CallerFrom(ctx)
	c.DecisionID, c.DecisionCached = id, v.OPA.Cached
	return audit.WithCaller(ctx, c)
}

// authorizeWrite is authorize for a new version of name: the write
// right, or else a responder's rotation of a secret under incident
// (identity.Rotate, whose grant holds only while respond.UnderIncident),
// put to OPA as a rotate and its refusal audited as one.
func (s *Server) authorizeWrite(ctx context.Context, name string) (context.Context, error) {
	id := principalFrom(ctx).id
	p := s.d.Policy.Current()
	if d := identity.Decide(id, identity.Write, name, p); !d.Allowed {
		if r := identity.Decide(id, identity.Rotate, name, p); r.Allowed && r.UnderIncident {
			svc, err := s.service()
			if err != nil {
				return ctx, err
			}
			c := audit.CallerFrom(ctx)
			v := s.gate().AccessUnder(ctx, id, identity.Rotate, name, opa.Request{ID: c.RequestID, Source: c.Source},
				respond.UnderIncident(ctx, svc.Store(), name))
			if !v.Allow {
				return ctx, s.refuse(ctx, v, "rotate", name)
			}
			return withDecision(ctx, v), nil
		}
	}
	return s.authorize(ctx, identity.Write, "write", name)
}

// permitted checks the role table alone for an action on no secret
// (identity management, audit, ...) and audits a denial. OPA decides
// secret accesses only (authorize).
func (s *Server) permitted(r *http.Request, a identity.Action, auditAction, name string) bool {
	if d := identity.Decide(principalFrom(r.Context()).id, a, name, s.d.Policy.Current()); d.Allowed && !d.UnderIncident {
		return true
	}
	_ = s.record(r.Context(), audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: reasonDenied})
	return false
}

// refuse records a refused access and returns the error it is answered
// with.
func (s *Server) refuse(ctx context.Context, v opa.Verdict, auditAction, name string) error {
	ev := audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: reasonDenied, DecisionID: v.DecisionID()}
	if v.OPA != nil && v.OPA.Cached && ev.DecisionID != "" {
		ev.Detail = audit.DecisionCachedDetail
	}
	err := error(errDeniedOrMissing)
	switch {
	case v.Err != nil:
		ev.Reason, err = reasonNotDescribed, &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the store is unavailable; access refused"}
		s.log.Warn("access refused: the secret's class and owner could not be read", "error", safeErr(v.Err))
	case v.Unavailable():
		ev.Reason, err = reasonOPAUnavailable, errOPAUnavailable
		s.log.Warn("access refused: OPA gave no answer in time", "opa", s.d.OPA.Endpoint(), "error", safeErr(v.OPA.Err))
	case v.DecidedBy == opa.ByOPA:
		ev.Reason = "denied by opa: " + string(v.OPA.Reason)
	}
	if rerr := s.record(ctx, ev); rerr != nil {
		return rerr
	}
	return err
}

// explainView is the answer of POST /v1/policy/explain.
type explainView struct {
	Allow      bool   `json:"allow"`
	DecidedBy  string `json:"decided_by"`
	Rule       string `json:"rule,omitempty"`
	OPA        string `json:"opa,omitempty"`
	DecisionID string `json:"decision_id,omitempty"`
	Text       string `json:"explanation"`
}

// explainOf renders a verdict as POST /v1/policy/explain answers it.
func explainOf(v opa.Verdict) explainView {
	return explainView{Allow: v.Allow, DecidedBy: v.DecidedBy, Rule: v.DecidingRule(), OPA: v.OPAReason(), DecisionID: v.DecisionID(), Text: v.Explain()}
}

// handleExplain: POST /v1/policy/explain with {"identity", "kind", "role",
// "action", "secret"} says how the server decides that access
// (identity.Decide, then OPA) and what decided it. The caller needs the
// explain right (admin or auditor): it tells who may read what. Nothing is
// read or written; the question is audited, with OPA's decision_id.
func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	if !s.permitted(r, identity.Explain, actionExplain, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	ctx := r.Context()
	var q struct {
		Identity string `json:"identity"`
		Kind     string `json:"kind"`
		Role     string `json:"role"`
		Action   string `json:"action"`
		Secret   string `json:"secret"`
	}
	if err := decodeJSON(r, &q, `{"identity": NAME, "kind": "service"|"operator", "role": ROLE, "action": "read"|"list"|"write", "secret": NAME}`); err != nil {
		writeError(w, r, err)
		return
	}
	if q.Kind == "" {
		q.Kind = opa.KindService
	}
	switch {
	case q.Identity == "" || q.Secret == "":
		writeError(w, r, errInvalid(`request body: "identity" and "secret" are required`))
		return
	case q.Action != string(identity.Read) && q.Action != string(identity.List) && q.Action != string(identity.Write):
		writeError(w, r, errInvalid(`action: want read, list or write`))
		return
	case q.Kind != opa.KindService && q.Kind != opa.KindOperator:
		writeError(w, r, errInvalid(`kind: want service or operator`))
		return
	case len(q.Identity) > opa.MaxFieldLen || len(q.Role) > opa.MaxFieldLen || len(q.Secret) > opa.MaxFieldLen:
		writeError(w, r, errInvalid("identity, role and secret: at most 1024 bytes each"))
		return
	}
	id := identity.Identity{Name: q.Identity, Kind: identity.Kind(q.Kind)}
	if id.Kind == identity.Operator {
		role, err := identity.ParseRole(q.Role)
		if err != nil {
			writeError(w, r, errInvalid("role: want admin, auditor or responder"))
			return
		}
		id.Role = role
	}
	v := s.decide(ctx, id, identity.Action(q.Action), q.Secret)
	e := explainOf(v)
	ev := audit.Event{Action: actionExplain, Secret: q.Secret, Outcome: audit.Success, DecisionID: e.DecisionID,
		Detail: q.Kind + " " + q.Identity + " " + q.Action + ": " + v.DecidedBy}
	if err := s.record(ctx, ev); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}
