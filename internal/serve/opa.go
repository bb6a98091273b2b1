package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// OpenOPA returns the decider of cfg's SA01_SECRETS_OPA_* settings, or nil
// when none is configured. With SA01_SECRETS_OPA_URL_SECRET the URL is read
// (and the read audited) from svc, as the caller in ctx.
func OpenOPA(ctx context.Context, cfg *config.Config, svc *secrets.Service, reg prometheus.Registerer) (*opa.Decider, error) {
	if !cfg.OPA.Enabled() {
		return nil, nil
	}
	url := cfg.OPA.URL
	if cfg.OPA.URLSecret != "" {
		v, err := svc.Get(ctx, cfg.OPA.URLSecret, 0)
		if err != nil {
			class := fault.Unavailable
			if errors.Is(err, store.ErrNotFound) {
				class = fault.NotFound
			}
			return nil, fault.New(class, fmt.Errorf("%s: cannot read the secret %s: %w", config.EnvOPAURLSecret, cfg.OPA.URLSecret, err),
				"store OPA's URL in that secret, or set "+config.EnvOPAURL)
		}
		url = sensitive.New(strings.TrimSpace(v.Value.Reveal()))
	}
	d, err := opa.New(opa.Options{URL: url.Reveal(), DecisionPath: cfg.OPA.DecisionPath, Token: cfg.OPA.Token,
		Timeout: cfg.OPA.Timeout, CacheTTL: cfg.OPA.CacheTTL, Registerer: reg})
	if err != nil {
		urlFrom := config.EnvOPAURL
		if cfg.OPA.URLSecret != "" {
			urlFrom = "the URL in the secret " + cfg.OPA.URLSecret + " (" + config.EnvOPAURLSecret + ")"
		}
		return nil, fault.New(fault.Usage, err, "fix "+urlFrom+" or "+config.EnvOPADecisionPath)
	}
	return d, nil
}

// Explain decides q as a server of cfg would, without one: the role table,
// where a service gets what the YAML policy grants, then the platform's
// OPA. With an OPA, the store that openStore opens describes the secret,
// and actor is the caller of the audited read of OPA's URL. Nothing is
// read or written otherwise.
func Explain(ctx context.Context, cfg *config.Config, q client.ExplainQuery, openStore func(context.Context) (store.Store, error), actor string) (client.Explanation, error) {
	switch q.Action {
	case string(policy.Read), string(policy.List), string(policy.Write):
	default:
		return client.Explanation{}, fault.New(fault.Usage, fmt.Errorf("unknown action %q", q.Action), "ACTION is read, list or write (a delete is a write)")
	}
	var err error
	gate := opa.Gate{}
	if cfg.PolicyFile != "" {
		if gate.Policy, err = policy.NewHolder(cfg.PolicyFile); err != nil {
			return client.Explanation{}, config.PolicyError(err)
		}
	}
	if cfg.OPA.Enabled() {
		st, err := openStore(ctx)
		if err != nil {
			return client.Explanation{}, err
		}
		defer st.Close()
		svc := secrets.New(st, cfg.Keys, audit.Discard{}, nil)
		ctx = audit.WithCaller(ctx, audit.Caller{Actor: actor, Source: "local"})
		if gate.OPA, err = OpenOPA(ctx, cfg, svc, nil); err != nil {
			return client.Explanation{}, err
		}
		gate.Describe = func(ctx context.Context, in *opa.Input) error {
			var err error
			in.Secret.Class, in.Secret.Owner, err = svc.Describe(ctx, in.Secret.Name)
			return err
		}
	}
	id := identity.Identity{Name: q.Identity, Kind: identity.Kind(q.Kind)}
	switch id.Kind {
	case identity.Service:
	case identity.Operator:
		if id.Role, err = identity.ParseRole(q.Role); err != nil {
			return client.Explanation{}, fault.New(fault.Usage, err, "--role is admin, auditor or responder")
		}
	default:
		return client.Explanation{}, fault.New(fault.Usage, fmt.Errorf("unknown kind %q", q.Kind), "--kind is service or operator")
	}
	v := gate.Access(ctx, id, identity.Action(q.Action), q.Secret, opa.Request{ID: "policy-explain", Source: "local"})
	return client.Explanation{Allow: v.Allow, DecidedBy: v.DecidedBy, Rule: v.DecidingRule(), OPA: v.OPAReason(), DecisionID: v.DecisionID(), Text: v.Explain()}, nil
}
