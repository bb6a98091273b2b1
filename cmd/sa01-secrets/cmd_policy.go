package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

func policyCommands(g *globals) []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Export the YAML policy as Rego; explain an access decision",
	}
	var out string
	export := &cobra.Command{
		Use:   "export-rego",
		Short: "Write the YAML policy (SA01_SECRETS_POLICY_FILE) as a Rego module for the platform's OPA",
		Long: `export-rego writes the policy of SA01_SECRETS_POLICY_FILE as a Rego module (Rego v1,
package sa01.secrets, rule allow) that grants exactly what the YAML grants: a
starting point for the platform's OPA (docs/opa.md). To stdout, or with --out
to a file (mode 0600, replaced atomically).`,
		Example: `  sa01-secrets policy export-rego
  sa01-secrets policy export-rego --out sa01.rego`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if cfg.PolicyFile == "" {
				return usageError("set "+config.EnvPolicyFile+" to the YAML policy", "no policy to export: %s is not set", config.EnvPolicyFile)
			}
			p, err := policy.Load(cfg.PolicyFile)
			if err != nil {
				return withCode(ExitUsage, err, "fix the policy file named by "+config.EnvPolicyFile)
			}
			if out == "" {
				_, err = fmt.Fprint(g.stdout, p.Rego())
				return err
			}
			return withCode(ExitUsage, safefile.WriteFile(out, []byte(p.Rego()), safefile.Options{}), "")
		},
	}
	export.Flags().StringVarP(&out, "out", "o", "", "write the module to this file instead of stdout")

	var q client.ExplainQuery
	explain := &cobra.Command{
		Use:   "explain IDENTITY ACTION SECRET",
		Short: "Say whether IDENTITY may ACTION (read, list, write) SECRET, and which rule or OPA decision says so",
		Long: `explain decides one access as the server does (the role table, where a
service gets what the YAML policy grants; then the platform's OPA: docs/opa.md)
and prints the decision and what made it. Nothing is read or written. With
SA01_SECRETS_ADDR set the server decides it (POST /v1/policy/explain; the
caller's role must allow explain: admin or auditor); otherwise it is decided
here with SA01_SECRETS_POLICY_FILE and SA01_SECRETS_OPA_*. Exits 0 when
allowed, 6 when denied.`,
		Example: `  sa01-secrets policy explain gateway read llm/openai_api_key
  sa01-secrets policy explain --kind operator --role responder alice write db/gateway/dsn`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			q.Identity, q.Action, q.Secret = args[0], args[1], args[2]
			e, err := explainAccess(cmd.Context(), g, q)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, e.Text)
			if !e.Allow {
				return withCode(ExitDenied, errors.New("denied"), "")
			}
			return nil
		},
	}
	explain.Flags().StringVar(&q.Kind, "kind", opa.KindService, "the identity's kind: service or operator")
	explain.Flags().StringVar(&q.Role, "role", "", "an operator's role (admin, auditor, responder)")
	cmd.AddCommand(export, explain)
	return []*cobra.Command{cmd}
}

// explainAccess decides q through the server when SA01_SECRETS_ADDR is
// set, else here, as serve would.
func explainAccess(ctx context.Context, g *globals, q client.ExplainQuery) (client.Explanation, error) {
	cfg, err := g.config()
	if err != nil {
		return client.Explanation{}, err
	}
	if cfg.SecretsAddr != "" {
		c, err := remoteClient(ctx, cfg, "")
		if err != nil {
			return client.Explanation{}, err
		}
		defer c.Close()
		e, err := c.Explain(ctx, q)
		return e, remoteErr(err, "explain")
	}
	switch q.Action {
	case string(policy.Read), string(policy.List), string(policy.Write):
	default:
		return client.Explanation{}, usageError("ACTION is read, list or write (a delete is a write)", "unknown action %q", q.Action)
	}
	gate := opa.Gate{}
	if cfg.PolicyFile != "" {
		if gate.Policy, err = policy.NewHolder(cfg.PolicyFile); err != nil {
			return client.Explanation{}, withCode(ExitUsage, err, "fix the policy file named by "+config.EnvPolicyFile)
		}
	}
	if cfg.OPA.Enabled() {
		st, err := openStore(ctx, g)
		if err != nil {
			return client.Explanation{}, err
		}
		defer st.Close()
		svc := secrets.New(st, cfg.Keys, audit.Discard{}, nil)
		ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
		if gate.OPA, err = openOPA(ctx, cfg, svc, nil); err != nil {
			return client.Explanation{}, err
		}
		gate.Describe = func(ctx context.Context, in *opa.Input) error {
			in.Secret.Class, in.Secret.Owner, err = svc.Describe(ctx, in.Secret.Name)
			return err
		}
	}
	id := identity.Identity{Name: q.Identity, Kind: identity.Kind(q.Kind)}
	switch id.Kind {
	case identity.Service:
	case identity.Operator:
		if id.Role, err = identity.ParseRole(q.Role); err != nil {
			return client.Explanation{}, usageError("--role is admin, auditor or responder", "%v", err)
		}
	default:
		return client.Explanation{}, usageError("--kind is service or operator", "unknown kind %q", q.Kind)
	}
	v := gate.Access(ctx, id, identity.Action(q.Action), q.Secret, opa.Request{ID: "policy-explain", Source: "local"})
	e := client.Explanation{Allow: v.Allow, DecidedBy: v.DecidedBy, DecisionID: v.DecisionID(), Text: v.Explain()}
	if v.Grant != nil {
		e.Rule = v.Grant.String()
	} else {
		e.Rule = v.Rule
	}
	if v.OPA != nil {
		e.OPA = string(v.OPA.Reason)
	}
	return e, nil
}

// openOPA returns the decider of the SA01_SECRETS_OPA_* settings, or nil
// when none is configured. With SA01_SECRETS_OPA_URL_SECRET the URL is
// read (and the read audited) from the store, as the caller in ctx.
func openOPA(ctx context.Context, cfg *config.Config, svc *secrets.Service, reg prometheus.Registerer) (*opa.Decider, error) {
	if !cfg.OPA.Enabled() {
		return nil, nil
	}
	url := cfg.OPA.URL
	if cfg.OPA.URLSecret != "" {
		v, err := svc.Get(ctx, cfg.OPA.URLSecret, 0)
		if err != nil {
			return nil, withCode(ExitUnavailable, fmt.Errorf("%s: cannot read the secret %s: %w", config.EnvOPAURLSecret, cfg.OPA.URLSecret, err),
				"store OPA's URL in that secret, or set "+config.EnvOPAURL)
		}
		url = sensitive.New(strings.TrimSpace(v.Value.Reveal()))
	}
	d, err := opa.New(opa.Options{URL: url.Reveal(), DecisionPath: cfg.OPA.DecisionPath, Token: cfg.OPA.Token,
		Timeout: cfg.OPA.Timeout, CacheTTL: cfg.OPA.CacheTTL, Registerer: reg})
	if err != nil {
		return nil, withCode(ExitUsage, err, "fix "+config.EnvOPAURL+" or "+config.EnvOPADecisionPath)
	}
	return d, nil
}
