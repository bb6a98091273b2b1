package targets

import (
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// Configured reads the targets file SA01_SECRETS_TARGETS_FILE names
// (path, as config gives it): a usage fault with its remedy as hint when
// path is "" or the file does not load.
func Configured(path string) (*File, error) {
	if path == "" {
		return nil, fault.New(fault.Usage, fmt.Errorf("%s is not set", config.EnvTargetsFile), "set "+config.EnvTargetsFile+" to the targets file (docs/rotation.md shows one)")
	}
	f, err := Load(path)
	if err != nil {
		return nil, fault.New(fault.Usage, err, "fix the targets file named by "+config.EnvTargetsFile)
	}
	return f, nil
}

// FromLocal reads each connection string from the local store l, opened
// by ring (FromService): an audited read by the local operator.
func FromLocal(l *local.Handle, ring *fernet.Ring) Resolver {
	return FromService(secrets.New(l.Store, ring, l.Recorder, time.Now), nil)
}

// ImportLocal imports the values of the target of f named name into the
// local store l under r's ring, as o says (Import, then the secrets
// service's Import), and returns how many it imported; an error of the
// store's import names the target.
func (r *Runner) ImportLocal(l *local.Handle, f *File, name string, o secrets.ImportOptions) (int, error) {
	entries, err := r.Import(l.Ctx, f, name, o.Prefix)
	if err != nil {
		return 0, err
	}
	n, err := secrets.New(l.Store, r.Ring, l.Recorder, time.Now).Import(l.Ctx, entries, o)
	if err != nil {
		return 0, fmt.Errorf("target %s: %w", name, err)
	}
	return n, nil
}
