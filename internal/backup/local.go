package backup

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// Local returns the job beside the local store at loc (Location.Open),
// each store's audit recorder opened under cfg's keys (open.Recorder with
// rec: config.ErrNoKey when none is loaded), and o with the store's driver
// as Source.
func Local(loc open.Location, cfg *config.Config, rec open.RecorderOptions, o Options) *Job {
	o.Source = loc.Driver()
	openRecorder := func(ctx context.Context, st store.Store) (audit.Recorder, error) {
		ring, err := cfg.RequireKeys()
		if err != nil {
			return nil, err
		}
		return open.Recorder(ctx, st, ring, rec)
	}
	return &Job{Open: loc.Open, OpenRecorder: openRecorder, Options: o}
}
