package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/serve"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

func policyCommands(g *globals) []*cobra.Command {
	var out string
	export := verb("export-rego", "Write the YAML policy (SA01_SECRETS_POLICY_FILE) as a Rego module for the platform's OPA", cobra.NoArgs, func(cmd *cobra.Command, _ []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if cfg.PolicyFile == "" {
			return usageError("set "+config.EnvPolicyFile+" to the YAML policy", "no policy to export: %s is not set", config.EnvPolicyFile)
		}
		p, err := policy.Load(cfg.PolicyFile)
		if err != nil {
			return config.PolicyError(err)
		}
		if out == "" {
			_, err = fmt.Fprint(g.stdout, p.Rego())
			return err
		}
		return withCode(ExitUsage, safefile.WriteFile(out, []byte(p.Rego()), safefile.Options{}), "")
	})
	export.Flags().StringVarP(&out, "out", "o", "", "write the module to this file instead of stdout")

	var q client.ExplainQuery
	explain := verb("explain IDENTITY ACTION SECRET", "Say whether IDENTITY may ACTION (read, list, write) SECRET, and which rule or OPA decision says so", cobra.ExactArgs(3), func(cmd *cobra.Command, args []string) error {
		q.Identity, q.Action, q.Secret = args[0], args[1], args[2]
		e, err := explainAccess(cmd.Context(), g, q)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, e.Text)
		if !e.Allow && e.OPA == string(opa.ReasonUnavailable) {
			return withCode(ExitUnavailable, errors.New("refused: OPA gave no answer in time"), "the real access is refused the same way until OPA answers")
		}
		if !e.Allow {
			return withCode(ExitDenied, errors.New("denied"), "")
		}
		return nil
	})
	explain.Flags().StringVar(&q.Kind, "kind", opa.KindService, "the identity's kind: service or operator")
	explain.Flags().StringVar(&q.Role, "role", "", "an operator's role (admin, auditor, responder)")
	return []*cobra.Command{cli.Group("policy", "Export the YAML policy as Rego; explain an access decision", export, explain)}
}

// explainAccess decides q through the server when SA01_SECRETS_ADDR is
// set (remote.Explain), else here, as serve would (serve.Explain).
func explainAccess(ctx context.Context, g *globals, q client.ExplainQuery) (client.Explanation, error) {
	cfg, err := g.config()
	if err != nil {
		return client.Explanation{}, err
	}
	if cfg.SecretsAddr == "" {
		return serve.Explain(ctx, cfg, q, func(ctx context.Context) (store.Store, error) { return openStore(ctx, g, false) }, identity.OSActor())
	}
	return remote.Explain(ctx, cfg, q)
}
