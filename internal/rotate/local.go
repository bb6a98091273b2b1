package rotate

import (
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// Local returns the rotation engine over the local store l, its rows
// bound as the secrets service binds them (secrets.Bind), with the
// targets of l's targets file (LocalTargets) and l's keys to read them
// when no env file is given.
func Local(l *local.Handle, batchSize int, wait time.Duration) *Rotator {
	return &Rotator{Store: l.Store, Bind: secrets.Bind, NewBinder: func() Binder { return secrets.NewBinder() }, Recorder: l.Recorder,
		BatchSize: batchSize, Wait: wait, Targets: LocalTargets(l), Keys: l.Config.Keys}
}

// LocalTargets is the rotation verbs' view of the targets of l's targets
// file (LoadTargets): nil without one. The connection strings are read
// from the store, each an audited read by the local operator.
func LocalTargets(l *local.Handle) *Targets {
	return LoadTargets(l.Config.TargetsFile, func(ring *fernet.Ring) targets.Resolver { return targets.FromLocal(l, ring) })
}

// LocalStatus is the schedule of the local store l judged under ring
// (Status, ring nil: no key loaded), with the targets of its targets file
// (LocalTargets, CheckTargets).
func LocalStatus(l *local.Handle, ring *fernet.Ring, now time.Time) (*StatusReport, error) {
	rep, err := Status(l.Ctx, l.Store, ring, now)
	if err != nil {
		return nil, err
	}
	return rep, rep.CheckTargets(l.Ctx, LocalTargets(l), ring)
}
