package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
)

// runEntry is a secret granted to the service, without its value.
type runEntry struct {
	Name    string
	Env     string
	Version int
}

// runSource fetches what the policy grants one service: from the server
// (SA01_SECRETS_ADDR) or from the local store under the local policy.
type runSource interface {
	// Granted lists the secrets the service may read, current versions.
	Granted(ctx context.Context) ([]runEntry, error)
	// Value reads the current version of one of them.
	Value(ctx context.Context, name string) (sensitive.String, int, error)
	// Started records that the command is about to start with n secrets
	// injected; an error means it must not start.
	Started(ctx context.Context, command string, n int) error
	Close()
}

// withheldVars are never passed to the command: the launcher's credential,
// the Fernet keys and the store DSN.
var withheldVars = []string{
	config.EnvInternalToken,
	config.EnvFernetKey,
	config.EnvFernetPreviousKeys,
	config.EnvDBDSN,
	envSecretsToken,
}

func withheld(name string) bool {
	for _, w := range withheldVars {
		if name == w || name == w+"_FILE" {
			return true
		}
	}
	return false
}

type runOptions struct {
	service  string
	only     []string
	pristine bool
	watch    bool
	interval time.Duration
}

func newRunCommand(g *globals) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --service NAME [--only GLOB] [--pristine] [--watch] -- CMD [ARGS...]",
		Short: "Run a command with the secrets a service is granted as environment variables",
		Long: `run fetches every secret the policy lets NAME read and runs CMD with each
one in an environment variable: the secret's env name, else its last path
segment upper-cased (llm/openai_api_key → OPENAI_API_KEY). Injected values
override inherited variables of the same name.

With SA01_SECRETS_ADDR set, run logs in to that server as NAME with
SA01_AUTH_INTERNAL_TOKEN; otherwise it reads the local store under the policy
in SA01_POLICY_FILE. Values never appear in CMD's arguments.

CMD never receives SA01_AUTH_INTERNAL_TOKEN, SA01_SECRETS_TOKEN,
SA01_CRYPTO_FERNET_KEY, SA01_CRYPTO_FERNET_PREVIOUS_KEYS or SA01_DB_DSN (nor
their _FILE forms). --pristine passes only the secrets plus PATH and HOME.
Signals are forwarded to CMD, and run exits with CMD's exit code (128+N when
CMD dies of signal N). --watch checks every --watch-interval and restarts
CMD (SIGTERM, then SIGKILL after 10 s) when a secret it uses gets a new
version.`,
		Example: `  sa01-secrets run --service gateway -- ./gateway --port 8080
  sa01-secrets run --service worker --only 'llm/*' --pristine -- python worker.py
  SA01_SECRETS_ADDR=http://127.0.0.1:8200 sa01-secrets run --service gateway --watch -- ./gateway`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.service == "" {
				return usageError("name the service whose grants to inject, as --service gateway", "--service is required")
			}
			if cmd.ArgsLenAtDash() != 0 {
				return usageError("put the command after --, as: sa01-secrets run --service gateway -- ./app", "the command must follow --")
			}
			return runWithSecrets(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().StringVar(&o.service, "service", "", "the service whose grants to inject")
	cmd.Flags().StringArrayVar(&o.only, "only", nil, "inject only secrets matching this glob (repeatable; '*' within a segment, '**' across)")
	cmd.Flags().BoolVar(&o.pristine, "pristine", false, "pass only the secrets and PATH/HOME, nothing inherited")
	cmd.Flags().BoolVar(&o.watch, "watch", false, "restart the command when a secret it uses gets a new version")
	cmd.Flags().DurationVar(&o.interval, "watch-interval", 10*time.Second, "how often --watch checks for new versions")
	return cmd
}

// openRunSource picks the server or the local store.
func openRunSource(ctx context.Context, g *globals, service string) (runSource, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg.SecretsAddr != "" {
		return openRemoteRunSource(ctx, g, cfg, service)
	}
	return openLocalRunSource(ctx, g, cfg, service)
}

// fetchEnv returns the variables to inject and the versions used.
func fetchEnv(ctx context.Context, src runSource, only []policy.Glob) (map[string]string, map[string]int, error) {
	entries, err := src.Granted(ctx)
	if err != nil {
		return nil, nil, err
	}
	vars := map[string]string{}
	from := map[string]string{}
	versions := map[string]int{}
	for _, e := range entries {
		if len(only) > 0 && !matchAny(only, e.Name) {
			continue
		}
		env := server.EnvName(e.Name, e.Env)
		if env == "" || withheld(env) {
			return nil, nil, withCode(ExitUsage, fmt.Errorf("secret %s: env name %q is not allowed", e.Name, env), "set another env name for the secret")
		}
		if prev, dup := from[env]; dup {
			return nil, nil, withCode(ExitUsage, fmt.Errorf("secrets %s and %s both map to %s", prev, e.Name, env), "give one of them its own env name, or narrow with --only")
		}
		v, ver, err := src.Value(ctx, e.Name)
		if err != nil {
			return nil, nil, err
		}
		vars[env] = v.Reveal()
		from[env] = e.Name
		versions[e.Name] = ver
	}
	return vars, versions, nil
}

func matchAny(gs []policy.Glob, name string) bool {
	for _, g := range gs {
		if g.Match(name) {
			return true
		}
	}
	return false
}

// childEnv builds CMD's environment from the parent's, without the
// withheld variables, with the secrets on top.
func childEnv(parent []string, secrets map[string]string, pristine bool) []string {
	base := map[string]string{}
	var order []string
	for _, kv := range parent {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || withheld(k) {
			continue
		}
		if pristine && k != "PATH" && k != "HOME" {
			continue
		}
		if _, seen := base[k]; !seen {
			order = append(order, k)
		}
		base[k] = v
	}
	if pristine {
		if _, ok := base["PATH"]; !ok {
			base["PATH"], order = "/usr/local/bin:/usr/bin:/bin", append(order, "PATH")
		}
	}
	names := make([]string, 0, len(secrets))
	for k := range secrets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, seen := base[k]; !seen {
			order = append(order, k)
		}
		base[k] = secrets[k]
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+base[k])
	}
	return out
}

// childExit carries CMD's exit code out of run without a message.
func childExit(code int) error {
	if code == 0 {
		return nil
	}
	return &cliError{code: code, err: checkFailed{}}
}

func runWithSecrets(ctx context.Context, g *globals, o runOptions, args []string) error {
	var only []policy.Glob
	for _, s := range o.only {
		gl, err := policy.ParseGlob(s)
		if err != nil {
			return usageError("", "--only: %v", err)
		}
		only = append(only, gl)
	}
	if o.watch && o.interval < time.Second {
		return usageError("", "--watch-interval: want at least 1s")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return withCode(127, fmt.Errorf("%s: command not found", args[0]), "")
	}
	src, err := openRunSource(ctx, g, o.service)
	if err != nil {
		return err
	}
	defer src.Close()
	vars, versions, err := fetchEnv(ctx, src, only)
	if err != nil {
		return err
	}
	if len(vars) == 0 {
		g.log().Warn("run: the policy grants the service no secret", "service", o.service)
	}
	if err := src.Started(ctx, args[0], len(vars)); err != nil {
		return err
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)

	var tick <-chan time.Time
	if o.watch {
		t := time.NewTicker(o.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		child := exec.Command(path, args[1:]...)
		child.Env = childEnv(os.Environ(), vars, o.pristine)
		child.Stdin, child.Stdout, child.Stderr = g.stdin, g.stdout, g.stderr
		if err := child.Start(); err != nil {
			return withCode(126, fmt.Errorf("%s: cannot start: %v", args[0], errors.Unwrap(err)), "")
		}
		done := make(chan error, 1)
		go func() { done <- child.Wait() }()
		restart := false
	wait:
		for {
			select {
			case err := <-done:
				return childExit(exitStatus(child, err))
			case s := <-sigs:
				_ = child.Process.Signal(s)
			case <-tick:
				changed, err := versionsChanged(ctx, src, versions, only)
				if err != nil {
					g.log().Warn("run --watch: cannot check versions", "service", o.service, "error", err)
					continue
				}
				if !changed {
					continue
				}
				nv, nver, err := fetchEnv(ctx, src, only)
				if err != nil {
					g.log().Warn("run --watch: cannot fetch the new versions; keeping the command running", "error", err)
					continue
				}
				g.log().Info("run --watch: a secret has a new version; restarting the command", "service", o.service)
				vars, versions = nv, nver
				_ = child.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					_ = child.Process.Kill()
					<-done
				}
				restart = true
				break wait
			}
		}
		if !restart {
			return nil
		}
	}
}

// versionsChanged reports whether the granted set or a version differs.
func versionsChanged(ctx context.Context, src runSource, used map[string]int, only []policy.Glob) (bool, error) {
	entries, err := src.Granted(ctx)
	if err != nil {
		return false, err
	}
	n := 0
	for _, e := range entries {
		if len(only) > 0 && !matchAny(only, e.Name) {
			continue
		}
		n++
		if v, ok := used[e.Name]; !ok || v != e.Version {
			return true, nil
		}
	}
	return n != len(used), nil
}

// exitStatus is CMD's exit code, or 128+N when a signal N ended it.
func exitStatus(c *exec.Cmd, err error) int {
	if c.ProcessState == nil {
		return ExitError
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := c.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	if err != nil {
		return ExitError
	}
	return 0
}
