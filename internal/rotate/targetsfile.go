package rotate

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// LoadTargets reads the targets file at path for the rotation verbs: nil
// when path is ""; a file that cannot be read gives Targets whose every
// use fails with its error (a retire is refused rather than done blind).
// resolveWith reads the connection strings with the ring a verb loaded.
func LoadTargets(path string, resolveWith func(*fernet.Ring) targets.Resolver) *Targets {
	if path == "" {
		return nil
	}
	f, err := targets.Load(path)
	if err != nil {
		return &Targets{Err: err}
	}
	return &Targets{List: f.Targets, ResolveWith: resolveWith}
}

// CheckTargets adds the targets ts (nil: no targets file) to the report,
// read under ring; with no ring, a finding that they were not checked.
// The error, a usage fault, is the targets file's, or a read that could
// not start.
func (rep *StatusReport) CheckTargets(ctx context.Context, ts *Targets, ring *fernet.Ring) error {
	if ts == nil {
		return nil
	}
	if ring == nil {
		rep.Overdue = append(rep.Overdue, "targets: not checked: no key loaded (set "+config.EnvFernetKey+" or pass --env-file)")
		rep.Compliant = false
		return nil
	}
	reps, err := ts.Status(ctx, ring)
	if err != nil {
		return fault.New(fault.Usage, err, "fix the targets file named by "+config.EnvTargetsFile)
	}
	rep.AddTargets(reps)
	return nil
}
