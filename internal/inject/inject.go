// Package inject runs a command with the secrets a service is granted in
// its environment: it fetches them from a Source (the server, or the local
// store under the local policy), builds the child's environment without
// the launcher's own credentials, forwards signals, and with a watch
// interval restarts the command when a secret it uses gets a new version.
package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Source fetches what the policy grants one service.
type Source interface {
	// Granted lists the secrets the service may read, current versions,
	// under the env names the service's own policy entry maps (Mapped).
	Granted(ctx context.Context) ([]secrets.Grant, error)
	// Value reads the current version of one of them.
	Value(ctx context.Context, name string) (sensitive.String, int, error)
	// PlatformKeys returns the store's Fernet keys by variable when the
	// service's policy entry says platform_key: true (audited), else nil.
	PlatformKeys(ctx context.Context) (map[string]sensitive.String, error)
	// Started records that the command is about to start with n secrets
	// injected; an error means it must not start.
	Started(ctx context.Context, command string, n int) error
}

// Withheld reports whether the variable name is kept from the command's
// inherited environment: sa01-secrets' own settings (SA01_SECRETS_*, its
// credential and token among them) and the store's Fernet keys, with their
// _FILE forms (secrets.ToolEnv). The platform's own names (SA01_DB_DSN,
// SA01_AUTH_INTERNAL_TOKEN, ...) are not among them: they are secrets like
// any other. The Fernet keys reach a command only as PlatformKeys.
func Withheld(name string) bool { return secrets.ToolEnv(name) }

// StartError is a command that could not be started; NotFound says it
// was not found on PATH.
type StartError struct {
	Err      error
	NotFound bool
}

// Code is the shell's exit status for it: 127 for a command not found,
// else 126.
func (e *StartError) Code() int {
	if e.NotFound {
		return 127
	}
	return 126
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Options say how to run the command.
type Options struct {
	Only     []policy.Glob // inject only these secrets (none: all granted)
	Pristine bool          // pass only the secrets and PATH/HOME
	Watch    time.Duration // how often to check for new versions; 0: never
	Environ  []string      // the parent environment (os.Environ())
	User     *User         // run the command as this user (LookupUser); nil: as the launcher
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Log      *slog.Logger
	Service  string // for log lines
}

func (o *Options) wanted(name string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, g := range o.Only {
		if g.Match(name) {
			return true
		}
	}
	return false
}

// Skip says why a grant is not injected, or "" when it is: its env name
// is sa01-secrets' own (Withheld), or changes how a program runs
// (secrets.RunsProgram) and the reader's own policy entry does not map it.
// export --service applies the same rule.
func Skip(g secrets.Grant) string {
	switch {
	case Withheld(g.Env):
		return "its env name is sa01-secrets' own"
	case secrets.RunsProgram(g.Env) && !g.Mapped:
		return "its env name changes how programs run, and the service's policy entry does not map it (env: {" + g.Env + ": " + g.Name + "})"
	}
	return ""
}

// Fetch returns the variables to inject and the versions used. A grant
// under one of sa01-secrets' own names (Withheld), or under a variable that
// changes how a program runs (secrets.RunsProgram) that the reader's own
// policy entry does not map, is skipped with a warning naming it: a
// writer does not decide what runs in a reader.
func Fetch(ctx context.Context, src Source, o *Options) (map[string]string, map[string]int, error) {
	entries, err := src.Granted(ctx)
	if err != nil {
		return nil, nil, err
	}
	vars := map[string]string{}
	from := map[string]string{}
	versions := map[string]int{}
	for _, e := range entries {
		if !o.wanted(e.Name) {
			continue
		}
		env := e.Env
		if env == "" {
			return nil, nil, fault.New(fault.Usage, fmt.Errorf("secret %s: no env name", e.Name), "set an env name for the secret")
		}
		if why := Skip(e); why != "" {
			o.Log.Warn("run: secret not injected: "+why, "service", o.Service, "secret", e.Name, "env", env)
			continue
		}
		if prev, dup := from[env]; dup {
			return nil, nil, fault.New(fault.Usage, fmt.Errorf("secrets %s and %s both map to %s", prev, e.Name, env), "give one of them its own env name, or narrow with --only")
		}
		v, ver, err := src.Value(ctx, e.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", e.Name, err)
		}
		if err := secrets.CheckEnv(e.Name, env, v.Reveal()); err != nil {
			return nil, nil, err // exec would refuse the whole environment, naming nothing
		}
		vars[env] = v.Reveal()
		from[env] = e.Name
		versions[e.Name] = ver
	}
	keys, err := src.PlatformKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range keys {
		vars[k] = v.Reveal()
	}
	return vars, versions, nil
}

// ChildEnv builds the command's environment from the parent's, without
// the withheld variables, with the secrets on top.
func ChildEnv(parent []string, secrets map[string]string, pristine bool) []string {
	base := map[string]string{}
	var order []string
	for _, kv := range parent {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || Withheld(k) {
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

// Run fetches the secrets, records the start, and runs path with args
// until it exits; it returns the command's exit code (128+N when signal N
// ended it). An error means the command did not run.
//
// The command runs in a process group of its own (the terminal's
// foreground group when stdin is a terminal): each signal the launcher gets
// is forwarded once, to that whole group, and a restart under Watch ends
// the whole group, so no grandchild keeps an old value running. The
// launcher keeps watching until the command exits, whatever signals it
// forwarded and whether ctx was cancelled by one of them.
func Run(ctx context.Context, src Source, path string, args []string, o Options) (int, error) {
	vars, versions, err := Fetch(ctx, src, &o)
	if err != nil {
		return 0, err
	}
	switch {
	case len(vars) == 0 && len(o.Only) > 0:
		o.Log.Warn("run: no secret injected: --only matches none of the secrets the policy grants the service", "service", o.Service)
	case len(vars) == 0:
		o.Log.Warn("run: the policy grants the service no secret", "service", o.Service)
	}
	if err := src.Started(ctx, args[0], len(vars)); err != nil {
		return 0, err
	}
	// From here the command's life decides: a signal that cancelled ctx
	// was forwarded to it, and the watch goes on until it exits.
	ctx = context.WithoutCancel(ctx)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	var tick <-chan time.Time
	if o.Watch > 0 {
		t := time.NewTicker(o.Watch)
		defer t.Stop()
		tick = t.C
	}
	tty := terminalFD(o.Stdin)
	for {
		child := exec.Command(path, args[1:]...)
		child.Env = ChildEnv(o.Environ, vars, o.Pristine)
		child.Stdin, child.Stdout, child.Stderr = o.Stdin, o.Stdout, o.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if tty >= 0 {
			child.SysProcAttr.Foreground, child.SysProcAttr.Ctty = true, tty
		}
		if o.User != nil {
			child.SysProcAttr.Credential = o.User.credential()
			child.Env = o.User.env(child.Env)
		}
		if err := child.Start(); err != nil {
			cause := errors.Unwrap(err) // *exec.Error or *fs.PathError: the cause without the path
			if cause == nil {
				cause = err
			}
			return 0, &StartError{Err: fmt.Errorf("%s: cannot start: %v", args[0], cause)}
		}
		pgid := child.Process.Pid
		done := make(chan error, 1)
		go func() { done <- child.Wait() }()
		var restart bool
		for !restart {
			select {
			case err := <-done:
				takeTerminal(tty)
				return exitStatus(child, err), nil
			case s := <-sigs:
				_ = syscall.Kill(-pgid, s.(syscall.Signal))
			case <-tick:
				var nv map[string]string
				var nver map[string]int
				if nv, nver, restart = refetch(ctx, src, &o, versions); restart {
					vars, versions = nv, nver
					err, quit := stopGroup(pgid, done, 10*time.Second, sigs)
					takeTerminal(tty)
					if quit {
						return exitStatus(child, err), nil
					}
				}
			}
		}
	}
}

// refetch checks for new versions and, when there are, fetches them; it
// reports whether the command is to restart with them. A check or fetch
// that fails keeps the command running.
func refetch(ctx context.Context, src Source, o *Options, used map[string]int) (map[string]string, map[string]int, bool) {
	changed, err := versionsChanged(ctx, src, o, used)
	if err != nil {
		o.Log.Warn("run --watch: cannot check versions", "service", o.Service, "error", err)
		return nil, nil, false
	}
	if !changed {
		return nil, nil, false
	}
	nv, nver, err := Fetch(ctx, src, o)
	if err != nil {
		o.Log.Warn("run --watch: cannot fetch the new versions; keeping the command running", "error", err)
		return nil, nil, false
	}
	o.Log.Info("run --watch: a secret has a new version; restarting the command", "service", o.Service)
	return nv, nver, true
}

// stopGroup ends the command's process group for a restart: SIGTERM to
// the group, SIGKILL to it when the command has not exited within grace;
// what is left of the group once the command exited gets the rest of grace
// to follow, then SIGKILL. A signal the launcher gets meanwhile goes to
// the group being stopped, never to the next instance; SIGINT, SIGTERM or
// SIGQUIT also cancel the restart (quit): the user asked run to end. It
// returns the command's Wait error.
func stopGroup(pgid int, done <-chan error, grace time.Duration, sigs <-chan os.Signal) (err error, quit bool) {
	deadline := time.Now().Add(grace)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	kill := time.After(grace)
wait:
	for {
		select {
		case err = <-done:
			break wait
		case s := <-sigs:
			_ = syscall.Kill(-pgid, s.(syscall.Signal))
			quit = quit || ends(s)
		case <-kill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-done
			break wait
		}
	}
	for groupAlive(pgid) && time.Now().Before(deadline) {
		select {
		case s := <-sigs:
			_ = syscall.Kill(-pgid, s.(syscall.Signal))
			quit = quit || ends(s)
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return err, quit
}

// ends reports whether s asks the launcher to end rather than to pass
// something on (a log reopen, a window size).
func ends(s os.Signal) bool {
	return s == syscall.SIGINT || s == syscall.SIGTERM || s == syscall.SIGQUIT
}

// versionsChanged reports whether the granted set or a version differs.
func versionsChanged(ctx context.Context, src Source, o *Options, used map[string]int) (bool, error) {
	entries, err := src.Granted(ctx)
	if err != nil {
		return false, err
	}
	n := 0
	for _, e := range entries {
		if !o.wanted(e.Name) {
			continue
		}
		n++
		if v, ok := used[e.Name]; !ok || v != e.Version {
			return true, nil
		}
	}
	return n != len(used), nil
}

// exitStatus is the command's exit code, or 128+N when a signal N ended it.
func exitStatus(c *exec.Cmd, err error) int {
	if c.ProcessState == nil {
		return 8
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := c.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	if err != nil {
		return 8
	}
	return 0
}

// Export returns the current value of every secret src grants, named as
// Fetch names them, for export --service: a grant Skip refuses is left
// out with a warning on log naming it, as run leaves it out.
func Export(ctx context.Context, src Source, service string, log *slog.Logger) ([]secrets.Value, error) {
	entries, err := src.Granted(ctx)
	if err != nil {
		return nil, err
	}
	var vals []secrets.Value
	for _, e := range entries {
		if why := Skip(e); why != "" {
			log.Warn("export: secret not exported: "+why, "service", service, "secret", e.Name, "env", e.Env)
			continue
		}
		v, ver, err := src.Value(ctx, e.Name)
		if err != nil {
			return nil, err
		}
		vals = append(vals, secrets.Value{
			Secret:  store.Secret{Name: e.Name, EnvName: e.Env, CurrentVersion: ver},
			Version: store.Version{Secret: e.Name, Version: ver},
			Value:   v,
		})
	}
	return vals, nil
}
