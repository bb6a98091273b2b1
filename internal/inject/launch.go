package inject

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// Flags are run's options as the command line gives them.
type Flags struct {
	Service  string        // the service whose grants are injected
	Only     []string      // globs of the secrets to inject (none: all granted)
	Pristine bool          // pass only the secrets and PATH/HOME
	Watch    bool          // restart the command on a new version
	Interval time.Duration // how often Watch checks
	User     string        // start the command as this user (name or uid)
}

// Options checks f and returns base with the options f gives: a bad glob,
// a watch interval under a second or a user that cannot be used is a
// fault.Usage error.
func (f Flags) Options(base Options) (Options, error) {
	o := base
	o.Pristine, o.Service = f.Pristine, f.Service
	for _, s := range f.Only {
		gl, err := policy.ParseGlob(s)
		if err != nil {
			return o, fault.New(fault.Usage, fmt.Errorf("--only: %v", err), "")
		}
		o.Only = append(o.Only, gl)
	}
	if f.Watch {
		if f.Interval < time.Second {
			return o, fault.New(fault.Usage, errors.New("--watch-interval: want at least 1s"), "")
		}
		o.Watch = f.Interval
	}
	if f.User != "" {
		u, err := LookupUser(f.User)
		if err != nil {
			return o, fault.New(fault.Usage, err, "run --user as root, or drop --user")
		}
		o.User = u
	}
	return o, nil
}

// Session is a Source whose Close ends its session.
type Session interface {
	Source
	Close() error
}

// Launch runs the command args as Run does, with the secrets of the Source
// open returns. It first finds the command on PATH (a *StartError with
// NotFound when it is not there), then makes the launcher non-dumpable
// before open reads the credential, so the command cannot read the
// launcher's memory or /proc/PID/environ; with dropEnv it removes the
// credential from its own environment once the source is open
// (DropCredentialEnv). The Session is closed when the command has ended.
func Launch(ctx context.Context, open func() (Session, error), args []string, o Options, dropEnv bool) (int, error) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return 0, &StartError{Err: fmt.Errorf("%s: command not found", args[0]), NotFound: true}
	}
	if err := Harden(); err != nil {
		return 0, fmt.Errorf("run: cannot make the launcher non-dumpable: %v", err)
	}
	src, err := open()
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if dropEnv {
		DropCredentialEnv()
	}
	return Run(ctx, src, path, args, o)
}
