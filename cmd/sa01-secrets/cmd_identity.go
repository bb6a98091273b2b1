package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// identityCommands returns init and identity.
func identityCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newInitCommand(g), newIdentityCommand(g)}
}

func newInitCommand(g *globals) *cobra.Command {
	var credFile string
	cmd := verb("init [--credential-file FILE]", "Create the store and its first operator, admin", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if cfg.SecretsAddr != "" {
			return usageError("run init beside the store, with "+config.EnvSecretsAddr+" unset", "init makes a store; it does not run through a server")
		}
		ring, err := requireKeys(g)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		st, err := openStoreFor(ctx, g, true)
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now().UTC()
		if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: ring.Primary().ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now, Note: "init"}); err != nil {
			return err
		}
		rec, err := openRecorder(ctx, g, st)
		if err != nil {
			return err
		}
		ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
		is, err := identity.Audited{Manager: identity.NewManager(st, identity.Options{}), Rec: rec}.Init(ctx)
		if errors.Is(err, identity.ErrInitialized) {
			return withCode(ExitConflict, errors.New("the store has identities already: it is initialized"),
				"an admin adds identities with 'sa01-secrets identity add'")
		}
		if err != nil {
			return identityErr(err)
		}
		fmt.Fprintf(g.stderr, "sa01-secrets: store ready under key %s; operator %s created\n", ring.Primary().ID(), is.Identity.Name)
		return showCredential(g, is.Identity.Name, is.Credential, is.Record.ExpiresAt, credFile)
	})
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write admin's credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityCommand(g *globals) *cobra.Command {
	return group("identity", "Add, list, rotate and revoke identities (services and operators)",
		newIdentityAddCommand(g), newIdentityListCommand(g), newIdentityRotateCommand(g), newIdentityRevokeCommand(g))
}

func newIdentityAddCommand(g *globals) *cobra.Command {
	var svc, op bool
	var role, credFile string
	var lifetime time.Duration
	cmd := verb("add NAME --service | --operator --role ROLE [--credential-file FILE]", "Create an identity and print (or write) its credential, once",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			if svc == op {
				return usageError("give --service, or --operator --role ROLE", "an identity is a service or an operator")
			}
			kind := identity.Service
			if op {
				kind = identity.Operator
			}
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				is, err := b.add(args[0], kind, identity.Role(role), lifetime)
				if err != nil {
					return err
				}
				return showCredential(g, args[0], is.cred, is.expires, credFile)
			})
		})
	f := cmd.Flags()
	f.BoolVar(&svc, "service", false, "a service: the policy grants its access")
	f.BoolVar(&op, "operator", false, "a person, with --role")
	f.StringVar(&role, "role", "", "an operator's role: admin, auditor or responder")
	f.StringVar(&credFile, "credential-file", "", "write the credential to this file (0600) instead of printing it")
	f.DurationVar(&lifetime, "lifetime", 0, "the credential's lifetime (default 180 days, 4320h)")
	return cmd
}

func newIdentityListCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("list [--format table|json]", "List identities and their credentials' expiry, never a credential",
		cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError("", "--format: want table or json")
			}
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				ids, err := b.list()
				if err != nil {
					return err
				}
				return printIdentities(g, ids, format)
			})
		})
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newIdentityRotateCommand(g *globals) *cobra.Command {
	var grace time.Duration
	var credFile string
	cmd := verb("rotate NAME [--grace 24h] [--credential-file FILE]", "Issue a new credential; the old one keeps working for --grace",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				is, err := b.rotate(args[0], grace)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "sa01-secrets: the previous credentials of %s stop working at %s\n", args[0], time.Now().Add(grace).UTC().Format(time.RFC3339))
				return showCredential(g, args[0], is.cred, is.expires, credFile)
			})
		})
	cmd.Flags().DurationVar(&grace, "grace", identity.DefaultGrace, "how long the previous credentials keep working")
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write the new credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityRevokeCommand(g *globals) *cobra.Command {
	return verb("revoke NAME", "Revoke an identity, every credential and every token of it, at once",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				n, err := b.revoke(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "revoked %s: every credential, and %d live token(s)\n", args[0], n)
				return nil
			})
		})
}

// issued is a new credential, for showCredential.
type issued struct {
	cred    sensitive.String
	expires time.Time
}

// identityBackend is where the identity verbs act: the server, or the
// local store.
type identityBackend interface {
	add(name string, kind identity.Kind, role identity.Role, lifetime time.Duration) (issued, error)
	list() ([]client.Identity, error)
	rotate(name string, grace time.Duration) (issued, error)
	revoke(name string) (int, error)
}

// withIdentities runs fn on the server when SA01_SECRETS_ADDR is set, else
// on the local store.
func withIdentities(ctx context.Context, g *globals, fn func(identityBackend) error) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.SecretsAddr != "" {
		c, err := remoteClient(ctx, cfg, "")
		if err != nil {
			return err
		}
		defer c.Close()
		return fn(remoteIdentities{ctx, c})
	}
	st, err := openStore(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		return err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	return fn(localIdentities{ctx, identity.Audited{Manager: identity.NewManager(st, identity.Options{}), Rec: rec}})
}

type remoteIdentities struct {
	ctx context.Context
	c   *client.Client
}

func (r remoteIdentities) add(name string, kind identity.Kind, role identity.Role, lifetime time.Duration) (issued, error) {
	is, err := r.c.AddIdentity(r.ctx, name, string(kind), string(role), lifetime)
	return issued{sensitive.New(is.Credential()), is.ExpiresAt}, identityRemoteErr(err, "add "+name)
}

func (r remoteIdentities) list() ([]client.Identity, error) {
	ids, err := r.c.Identities(r.ctx)
	return ids, identityRemoteErr(err, "list identities")
}

func (r remoteIdentities) rotate(name string, grace time.Duration) (issued, error) {
	is, err := r.c.RotateIdentity(r.ctx, name, grace)
	return issued{sensitive.New(is.Credential()), is.ExpiresAt}, identityRemoteErr(err, "rotate "+name)
}

func (r remoteIdentities) revoke(name string) (int, error) {
	n, err := r.c.RevokeIdentity(r.ctx, name)
	return n, identityRemoteErr(err, "revoke "+name)
}

func identityRemoteErr(err error, what string) error {
	if errors.Is(err, client.ErrDenied) {
		return withCode(ExitDenied, err, "only an admin manages identities")
	}
	return remoteErr(err, what)
}

type localIdentities struct {
	ctx context.Context
	a   identity.Audited
}

func (l localIdentities) add(name string, kind identity.Kind, role identity.Role, lifetime time.Duration) (issued, error) {
	is, err := l.a.Add(l.ctx, name, identity.AddOptions{Kind: kind, Role: role, Lifetime: lifetime})
	return issued{is.Credential, is.Record.ExpiresAt}, identityErr(err)
}

func (l localIdentities) list() ([]client.Identity, error) {
	ids, err := l.a.List(l.ctx)
	if err != nil {
		return nil, err
	}
	creds, err := l.a.Credentials(l.ctx, "")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	by := map[string][]client.CredentialInfo{}
	for _, c := range creds {
		by[c.Identity] = append(by[c.Identity], client.CredentialInfo{ID: c.ID, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt,
			RevokedAt: optTime(c.RevokedAt), State: server.CredentialState(c, now)})
	}
	out := make([]client.Identity, 0, len(ids))
	for _, id := range ids {
		out = append(out, client.Identity{Name: id.Name, Kind: string(id.Kind), Role: string(id.Role), CreatedAt: id.CreatedAt,
			RevokedAt: optTime(id.RevokedAt), Credentials: by[id.Name]})
	}
	return out, identityErr(l.a.Listed(l.ctx))
}

func (l localIdentities) rotate(name string, grace time.Duration) (issued, error) {
	is, err := l.a.Rotate(l.ctx, name, grace)
	return issued{is.Credential, is.Record.ExpiresAt}, identityErr(err)
}

func (l localIdentities) revoke(name string) (int, error) {
	n, err := l.a.Revoke(l.ctx, name)
	return n, identityErr(err)
}

func identityErr(err error) error {
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return withCode(ExitUnavailable, err, "check the store and "+config.EnvAuditFile)
	case errors.Is(err, identity.ErrInvalid):
		return withCode(ExitUsage, err, "")
	case errors.Is(err, identity.ErrExists):
		return withCode(ExitConflict, err, "names are never reused, even once revoked: pick another")
	case errors.Is(err, identity.ErrNotFound):
		return withCode(ExitNotFound, err, "list identities with 'sa01-secrets identity list'")
	case errors.Is(err, identity.ErrRevoked):
		return withCode(ExitConflict, err, "a revoked identity stays revoked; add a new one")
	}
	return err
}

// showCredential writes a new credential to file (0600, atomically) or
// prints it once on stdout, with what to do with it on stderr.
func showCredential(g *globals, name string, cred sensitive.String, expires time.Time, file string) error {
	exp := expires.UTC().Format("2006-01-02")
	if file != "" {
		if err := safefile.WriteFile(file, []byte(cred.Reveal()+"\n"), safefile.Options{}); err != nil {
			return withCode(ExitError, err, "the credential was made but not saved: rotate it with 'sa01-secrets identity rotate "+name+" --grace 0'")
		}
		fmt.Fprintf(g.stderr, "sa01-secrets: the credential of %s is in %s (0600); it expires on %s\n", name, file, exp)
		fmt.Fprintf(g.stderr, "hint: export %s=%s\n", config.EnvCredentialFile, file)
		return nil
	}
	fmt.Fprintf(g.stderr, "sa01-secrets: the credential of %s, shown once (it expires on %s); keep it in a 0600 file named by %s\n", name, exp, config.EnvCredentialFile)
	_, err := fmt.Fprintln(g.stdout, cred.Reveal())
	return err
}

func printIdentities(g *globals, ids []client.Identity, format string) error {
	if format == "json" {
		if ids == nil {
			ids = []client.Identity{}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ids)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tROLE\tSTATE\tCREDENTIAL\tEXPIRES")
	for _, id := range ids {
		state := "live"
		if id.RevokedAt != nil {
			state = "revoked"
		}
		cred, exp := "-", "-"
		// the newest unrevoked credential says when it is due
		for i := len(id.Credentials) - 1; i >= 0; i-- {
			c := id.Credentials[i]
			if c.State != "revoked" {
				cred, exp = c.ID+" ("+c.State+")", c.ExpiresAt.UTC().Format("2006-01-02")
				break
			}
		}
		role := id.Role
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id.Name, id.Kind, role, state, cred, exp)
	}
	return tw.Flush()
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
