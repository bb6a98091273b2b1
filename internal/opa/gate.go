package opa

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// Deciders: what decided an access, for the audit trail and `policy
// explain`.
const (
	ByPolicy = "policy" // the YAML policy: it denied, or it allowed and no OPA is set
	ByOPA    = "opa"    // OPA: the YAML policy granted (or there is none) and OPA answered
	ByNone   = "none"   // neither is configured: everything is denied
)

// Gate is the combining rule of the server's access path. The YAML policy
// is the first gate and deny wins: OPA is asked only about what the YAML
// policy grants, so it can narrow access, never widen it. With no YAML
// policy, OPA decides alone; with no OPA, the YAML policy does; with
// neither, everything is denied.
type Gate struct {
	// Policy is the YAML policy in force, or nil when no policy file is
	// configured. (An empty policy file denies everything: OPA is then
	// never asked.)
	Policy *policy.Holder
	// OPA is the decider, or nil when no OPA is configured.
	OPA *Decider
	// Describe, when set, completes the input (the secret's class and
	// owner) after the YAML policy granted the access and before OPA is
	// asked, so that an access the YAML policy denies reads nothing from
	// the store. An error refuses the access (Verdict.Err).
	Describe func(ctx context.Context, in *Input) error
}

// Verdict is the combined decision on one access, and what made it.
type Verdict struct {
	Allow bool
	// DecidedBy is ByPolicy, ByOPA or ByNone.
	DecidedBy string
	// Grant is the YAML rule that granted the access, when the YAML
	// policy was asked and granted it; OPA may still have denied.
	Grant *policy.Grant
	// OPA is OPA's decision, when OPA was asked; its DecisionID goes in
	// the audit event.
	OPA *Decision
	// Err is why Describe failed; the access is refused and OPA not asked.
	Err error
	// Rule, when set, is the rule other than a YAML grant that decided
	// before OPA was asked (an operator's role), in one line.
	Rule string
}

// Decide decides one access: in.Identity.Name is the YAML policy's service
// and in.Action its action. It returns within OPA's timeout.
func (g Gate) Decide(ctx context.Context, in Input) Verdict {
	var grant *policy.Grant
	if g.Policy != nil {
		gr, ok := g.Policy.Current().Explain(in.Identity.Name, policy.Action(in.Action), in.Secret.Name)
		if !ok {
			return Verdict{DecidedBy: ByPolicy}
		}
		grant = &gr
	}
	if g.OPA == nil {
		if grant == nil {
			return Verdict{DecidedBy: ByNone}
		}
		return Verdict{Allow: true, DecidedBy: ByPolicy, Grant: grant}
	}
	if g.Describe != nil {
		if err := g.Describe(ctx, &in); err != nil {
			return Verdict{DecidedBy: ByOPA, Grant: grant, Err: err}
		}
	}
	dec := g.OPA.Decide(ctx, in)
	return Verdict{Allow: dec.Allow, DecidedBy: ByOPA, Grant: grant, OPA: &dec}
}

// Access decides one access of id: identity.Decide first (the role table;
// a service by the YAML policy), deny wins; then, when configured, OPA,
// which only narrows. With no YAML policy file (Policy nil) and an OPA,
// OPA decides a service's accesses alone; an operator is still decided by
// its role first. A decision that holds only for a secret under incident
// is a denial here: the routes that allow it check the incident
// themselves.
//
// OPA's input names the real identity (name, kind, role). Its action is
// the YAML policy's (read, list, write) where the action maps to one, as
// an exported Rego module expects; else the role table's.
func (g Gate) Access(ctx context.Context, id identity.Identity, a identity.Action, name string, req Request) Verdict {
	return g.AccessUnder(ctx, id, a, name, req, false)
}

// AccessUnder is Access for a caller that has checked whether the secret
// is under incident (an open incident or a compromised current version):
// when underIncident, a grant of the role table that holds only under
// incident (a responder's rotation) holds, and OPA, when set, is asked
// about it as about any other.
func (g Gate) AccessUnder(ctx context.Context, id identity.Identity, a identity.Action, name string, req Request, underIncident bool) Verdict {
	in := Input{
		Identity: Identity{Name: id.Name, Kind: string(id.Kind), Role: string(id.Role)},
		Action:   string(a),
		Secret:   Secret{Name: name},
		Request:  req,
	}
	pa, serviceAction := identity.ServiceAction(a)
	if serviceAction {
		in.Action = string(pa)
	}
	var rule string // an operator's role rule
	if id.Kind == identity.Service && g.Policy == nil && g.OPA != nil {
		if !serviceAction || id.Revoked() {
			return Verdict{DecidedBy: ByPolicy}
		}
	} else {
		var p *policy.Policy
		if g.Policy != nil {
			p = g.Policy.Current()
		} else {
			p = &policy.Policy{}
		}
		d := identity.Decide(id, a, name, p)
		if id.Kind != identity.Service {
			rule = d.Rule
		}
		if !d.Allowed || d.UnderIncident && !underIncident {
			return Verdict{DecidedBy: ByPolicy, Rule: rule}
		}
		if id.Kind != identity.Service {
			g.Policy = nil // decided by the role; OPA, when set, narrows
			if g.OPA == nil {
				return Verdict{Allow: true, DecidedBy: ByPolicy, Rule: rule}
			}
		}
	}
	v := g.Decide(ctx, in)
	v.Rule = rule
	return v
}

// Unavailable reports whether the access is refused because OPA gave no
// answer in time: the server answers 503 unavailable, not 403 denied.
func (v Verdict) Unavailable() bool { return v.OPA != nil && v.OPA.Unavailable() }

// DecisionID returns OPA's decision_id for the audit event, or "".
func (v Verdict) DecisionID() string {
	if v.OPA == nil {
		return ""
	}
	return v.OPA.DecisionID
}

// DecidingRule is the rule that decided before OPA was asked, in one line:
// the YAML grant, else Rule; "" when none did.
func (v Verdict) DecidingRule() string {
	if v.Grant != nil {
		return v.Grant.String()
	}
	return v.Rule
}

// OPAReason is the reason OPA gave, or "" when OPA was not asked.
func (v Verdict) OPAReason() string {
	if v.OPA == nil {
		return ""
	}
	return string(v.OPA.Reason)
}

// Explain says in one line what decided, for `policy explain`:
//
//	allowed: policy.yaml:3: gateway read llm/*; OPA allowed (decision 4ca6…)
//	denied: no rule of the YAML policy grants it
//	denied: policy.yaml:3: gateway read llm/*; OPA denied (decision 4ca6…)
func (v Verdict) Explain() string {
	s := "denied: "
	if v.Allow {
		s = "allowed: "
	}
	switch {
	case v.DecidedBy == ByNone:
		return s + "no YAML policy and no OPA are configured"
	case v.DecidedBy == ByPolicy && v.Grant == nil && v.Rule != "":
		return s + v.Rule
	case v.DecidedBy == ByPolicy && v.Grant == nil:
		return s + "no rule of the YAML policy grants it"
	}
	if v.Grant != nil || v.Rule != "" {
		s += v.DecidingRule()
		if v.OPA == nil && v.Err == nil {
			return s
		}
		s += "; "
	} else {
		s += "no YAML policy; "
	}
	if v.Err != nil {
		return s + "OPA not asked: " + v.Err.Error()
	}
	return s + "OPA " + v.OPA.String()
}

// NewGate returns the access decision of a server: the YAML policy p (nil
// or p.None(), with an OPA set, lets OPA decide a service's accesses
// alone) and o (nil: no OPA). describe, when set and o is, gives OPA the
// secret's class and owner. The API and the console decide through the
// gate this returns, with [Gate.Access].
func NewGate(p *policy.Holder, o *Decider, describe func(ctx context.Context, name string) (class, owner string, err error)) Gate {
	g := Gate{Policy: p, OPA: o}
	if (p == nil || p.None()) && o != nil {
		g.Policy = nil
	}
	if describe != nil && o != nil {
		g.Describe = func(ctx context.Context, in *Input) error {
			var err error
			in.Secret.Class, in.Secret.Owner, err = describe(ctx, in.Secret.Name)
			return err
		}
	}
	return g
}
