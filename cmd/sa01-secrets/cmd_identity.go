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
	cmd := &cobra.Command{
		Use:   "init [--credential-file FILE]",
		Short: "Create the store and its first operator, admin",
		Long: `init creates the store SA01_SECRETS_DB_DSN names (or the default SQLite file),
records the key SA01_CRYPTO_FERNET_KEY as its active key, and creates the
first operator, admin (role admin). admin's credential is written to
--credential-file (created 0600), or printed once on stdout: keep it, it is
not shown again. init refuses a store that has identities. No other verb
creates a store.`,
		Example: `  sa01-secrets init --credential-file ~/.config/sa01/admin.credential`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			is, err := identity.NewManager(st, identity.Options{}).Init(ctx)
			if errors.Is(err, identity.ErrInitialized) {
				return withCode(ExitConflict, errors.New("the store has identities already: it is initialized"),
					"an admin adds identities with 'sa01-secrets identity add'")
			}
			if err != nil {
				return err
			}
			if err := recordLocal(ctx, rec, identityEvent("identity-add", is)); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "sa01-secrets: store ready under key %s; operator %s created\n", ring.Primary().ID(), is.Identity.Name)
			return showCredential(g, is.Identity.Name, is.Credential, is.Record.ExpiresAt, credFile)
		},
	}
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write admin's credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Add, list, rotate and revoke identities (services and operators)",
		Long: `Every caller is an identity with its own credential (sa01c_...): a service,
whose access the policy grants, or an operator with a role: admin
(everything), auditor (audit and reports, never a value) or responder
(incidents and the rotation of a compromised secret, never a value).
Credentials expire after 180 days unless --lifetime says otherwise; 'status'
and 'identity list' show those due. With SA01_SECRETS_ADDR set these verbs go
through the server (admin only); otherwise they work on the local store,
audited as local:USER. docs/identities.md has the details.`,
	}
	cmd.AddCommand(newIdentityAddCommand(g), newIdentityListCommand(g), newIdentityRotateCommand(g), newIdentityRevokeCommand(g))
	return cmd
}

func newIdentityAddCommand(g *globals) *cobra.Command {
	var svc, op bool
	var role, credFile string
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "add NAME --service | --operator --role ROLE [--credential-file FILE]",
		Short: "Create an identity and print (or write) its credential, once",
		Example: `  sa01-secrets identity add gateway --service --credential-file /etc/sa01/gateway.credential
  sa01-secrets identity add alice --operator --role auditor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
		},
	}
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
	cmd := &cobra.Command{
		Use:   "list [--format table|json]",
		Short: "List identities and their credentials' expiry, never a credential",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newIdentityRotateCommand(g *globals) *cobra.Command {
	var grace time.Duration
	var credFile string
	cmd := &cobra.Command{
		Use:   "rotate NAME [--grace 24h] [--credential-file FILE]",
		Short: "Issue a new credential; the old one keeps working for --grace",
		Long: `rotate issues a new credential for NAME and prints it once (or writes it to
--credential-file, 0600). The previous credentials keep working for --grace
(default 24h, so that a rolling restart loses nothing), then expire;
--grace 0 ends them at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				is, err := b.rotate(args[0], grace)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "sa01-secrets: the previous credentials of %s stop working at %s\n", args[0], time.Now().Add(grace).UTC().Format(time.RFC3339))
				return showCredential(g, args[0], is.cred, is.expires, credFile)
			})
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", identity.DefaultGrace, "how long the previous credentials keep working")
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write the new credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityRevokeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an identity, every credential and every token of it, at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd.Context(), g, func(b identityBackend) error {
				n, err := b.revoke(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "revoked %s: every credential, and %d live token(s)\n", args[0], n)
				return nil
			})
		},
	}
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
	return fn(localIdentities{ctx, identity.NewManager(st, identity.Options{}), rec})
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
	m   *identity.Manager
	rec audit.Recorder
}

func (l localIdentities) add(name string, kind identity.Kind, role identity.Role, lifetime time.Duration) (issued, error) {
	is, err := l.m.Add(l.ctx, name, identity.AddOptions{Kind: kind, Role: role, Lifetime: lifetime})
	if err != nil {
		return issued{}, identityErr(err)
	}
	if err := recordLocal(l.ctx, l.rec, identityEvent("identity-add", is)); err != nil {
		_, _ = l.m.Revoke(l.ctx, name) // an unaudited identity must not live
		return issued{}, err
	}
	return issued{is.Credential, is.Record.ExpiresAt}, nil
}

func (l localIdentities) list() ([]client.Identity, error) {
	ids, err := l.m.List(l.ctx)
	if err != nil {
		return nil, err
	}
	creds, err := l.m.Credentials(l.ctx, "")
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
	return out, recordLocal(l.ctx, l.rec, audit.Event{Action: "identity-list", Outcome: audit.Success})
}

func (l localIdentities) rotate(name string, grace time.Duration) (issued, error) {
	is, err := l.m.Rotate(l.ctx, name, grace)
	if err != nil {
		return issued{}, identityErr(err)
	}
	ev := audit.Event{Action: "identity-rotate", Outcome: audit.Success,
		Detail: "identity " + name + ", credential " + is.Record.ID + ", previous ones valid for " + grace.String()}
	if err := recordLocal(l.ctx, l.rec, ev); err != nil {
		return issued{}, err // the new credential is never shown: unusable
	}
	return issued{is.Credential, is.Record.ExpiresAt}, nil
}

func (l localIdentities) revoke(name string) (int, error) {
	n, err := l.m.Revoke(l.ctx, name)
	if err != nil {
		return 0, identityErr(err)
	}
	return n, recordLocal(l.ctx, l.rec, audit.Event{Action: "identity-revoke", Outcome: audit.Success,
		Detail: "identity " + name + ", every credential and token"})
}

func identityErr(err error) error {
	switch {
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

// identityEvent is the audit event of a new identity: never its credential.
func identityEvent(action string, is identity.Issued) audit.Event {
	d := "identity " + is.Identity.Name + " (" + string(is.Identity.Kind)
	if is.Identity.Role != "" {
		d += ", role " + string(is.Identity.Role)
	}
	return audit.Event{Action: action, Outcome: audit.Success, Detail: d + "), credential " + is.Record.ID}
}

// recordLocal records an event of a local verb; an error refuses the verb.
func recordLocal(ctx context.Context, rec audit.Recorder, ev audit.Event) error {
	if err := rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return withCode(ExitUnavailable, audit.ErrNotRecorded, "check the store and "+config.EnvAuditFile)
	}
	return nil
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
