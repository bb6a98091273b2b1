package storebackend

import (
	"context"
	"sort"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// actions maps the console's actions to the role table's
// (identity.Decide): the console has no table of its own.
var actions = map[console.Action]identity.Action{
	console.ActList:            identity.List,
	console.ActReveal:          identity.Read,
	console.ActWrite:           identity.Write,
	console.ActRotate:          identity.Rotate,
	console.ActIncidentRespond: identity.IncidentOpen,
	console.ActIncidentReport:  identity.IncidentRead,
	console.ActAudit:           identity.Audit,
	console.ActKeys:            identity.Status, // the key ring and what is due for rotation: the rotation status
	console.ActExplain:         identity.Explain,
}

// onSecret are the actions OPA is asked about, as the API asks it: those
// on a secret. The others are the role table's alone (server.permitted).
var onSecret = map[identity.Action]bool{
	identity.Read: true, identity.List: true, identity.History: true, identity.Write: true,
	identity.Delete: true, identity.Destroy: true, identity.Rotate: true,
}

// gate is the API's access decision.
func (b *Backend) gate() opa.Gate {
	return opa.NewGate(b.o.Policy, b.o.OPA, b.service.Describe)
}

// currentPolicy is the YAML policy in force (empty when there is none).
func (b *Backend) currentPolicy() *policy.Policy {
	if b.o.Policy == nil {
		return &policy.Policy{}
	}
	return b.o.Policy.Current()
}

// decide decides whether id may do a on the secret name as the API
// decides it: opa.Gate.Access (identity.Decide, deny wins, then OPA) for
// an action on a secret, identity.Decide alone for the others. A grant
// that holds only under incident (a responder's rotation) holds when the
// secret has an open incident or a compromised current version.
func (b *Backend) decide(ctx context.Context, id identity.Identity, a identity.Action, name string) opa.Verdict {
	d := identity.Decide(id, a, name, b.currentPolicy())
	under := false
	if d.Allowed && d.UnderIncident {
		if name == "" || !respond.UnderIncident(ctx, b.st, name) {
			return opa.Verdict{DecidedBy: opa.ByPolicy, Rule: d.Rule + "; " + name + " has no open incident and no compromised current version"}
		}
		under = true
	}
	if name == "" || !onSecret[a] {
		return opa.Verdict{Allow: d.Allowed, DecidedBy: opa.ByPolicy, Rule: d.Rule}
	}
	c := audit.CallerFrom(ctx)
	return b.gate().AccessUnder(ctx, id, a, name, opa.Request{ID: c.RequestID, Source: c.Source}, under)
}

// Can implements console.Auth.
func (b *Backend) Can(ctx context.Context, who console.Identity, a console.Action, name string) bool {
	ia, ok := actions[a]
	if !ok || !who.Operator() {
		return false
	}
	return b.decide(ctx, toIdentity(who), ia, name).Allow
}

// authorize refuses, and audits the refusal of, what who may not do.
func (b *Backend) authorize(ctx context.Context, who console.Identity, a console.Action, auditAction, name string) error {
	ia, ok := actions[a]
	if !ok {
		return console.ErrDenied
	}
	return b.authorizeAs(ctx, who, ia, auditAction, name)
}

func (b *Backend) authorizeAs(ctx context.Context, who console.Identity, a identity.Action, auditAction, name string) error {
	if who.Operator() {
		v := b.decide(ctx, toIdentity(who), a, name)
		if v.Allow {
			return nil
		}
		ev := audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: "denied", DecisionID: v.DecisionID(), Detail: "role " + who.Role}
		err := console.ErrDenied
		switch {
		case v.Err != nil:
			ev.Reason, err = "secret metadata unavailable", console.ErrUnavailable
		case v.Unavailable():
			ev.Reason, err = "opa unavailable", console.ErrUnavailable
		case v.DecidedBy == opa.ByOPA:
			ev.Reason = "denied by opa: " + string(v.OPA.Reason)
		}
		if rerr := b.Record(ctx, ev); rerr != nil {
			return rerr
		}
		return err
	}
	_ = b.Record(ctx, audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: "denied", Detail: "not an operator"})
	return console.ErrDenied
}

// identities returns the live identities and the services the YAML policy
// names that are not identities, by name.
func (b *Backend) identities(ctx context.Context) ([]identity.Identity, error) {
	ids, err := b.ids.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []identity.Identity
	known := map[string]bool{}
	for _, id := range ids {
		known[id.Name] = true
		if !id.Revoked() {
			out = append(out, id)
		}
	}
	for _, s := range b.currentPolicy().Services() {
		if !known[s] {
			out = append(out, identity.Identity{Name: s, Kind: identity.Service})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Readers implements console.Access: every identity the API would let
// read the secret's value.
func (b *Backend) Readers(ctx context.Context, who console.Identity, name string) ([]console.Reader, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", name); err != nil {
		return nil, err
	}
	ids, err := b.identities(ctx)
	if err != nil {
		return nil, err
	}
	var out []console.Reader
	for _, id := range ids {
		if v := b.decide(ctx, id, identity.Read, name); v.Allow {
			out = append(out, console.Reader{Identity: fromIdentity(id, ""), Rule: rule(v)})
		}
	}
	return out, nil
}

// Explain implements console.Access: the API's decision on the access.
func (b *Backend) Explain(ctx context.Context, who console.Identity, q console.AccessQuery) (console.Decision, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", q.Secret); err != nil {
		return console.Decision{}, err
	}
	ids, err := b.identities(ctx)
	if err != nil {
		return console.Decision{}, err
	}
	var id identity.Identity
	for _, x := range ids {
		if x.Name == q.Identity {
			id = x
		}
	}
	if id.Name == "" {
		return console.Decision{DecidedBy: opa.ByNone, Rule: "no such identity", Identity: console.Identity{Name: q.Identity}}, nil
	}
	a := identity.Action(q.Action)
	known := false
	for _, x := range identity.Actions {
		known = known || x == a
	}
	if !known {
		return console.Decision{DecidedBy: opa.ByNone, Rule: "unknown action " + q.Action, Identity: fromIdentity(id, "")}, nil
	}
	v := b.decide(ctx, id, a, q.Secret)
	by := v.DecidedBy
	if id.Kind == identity.Operator && by == opa.ByPolicy {
		by = "role"
	}
	return console.Decision{Allowed: v.Allow, Unavailable: v.Unavailable(), DecidedBy: by, Rule: rule(v), Identity: fromIdentity(id, "")}, nil
}

// rule is a verdict's explanation without its "allowed: " or "denied: ",
// which the console says itself.
func rule(v opa.Verdict) string {
	s := v.Explain()
	if v.Rule != "" && v.DecidedBy == opa.ByPolicy {
		s = v.Rule
	}
	for _, p := range []string{"allowed: ", "denied: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// Identities implements console.Access.
func (b *Backend) Identities(ctx context.Context, who console.Identity) ([]console.Identity, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", ""); err != nil {
		return nil, err
	}
	ids, err := b.identities(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.Identity, 0, len(ids))
	for _, id := range ids {
		out = append(out, fromIdentity(id, ""))
	}
	return out, nil
}
