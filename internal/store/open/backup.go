package open

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// BackupJob returns the job of backup, restore and migrate beside the
// local store at loc (Location.Open), each store's audit recorder opened
// under cfg's keys (Recorder with rec: config.ErrNoKey when none is
// loaded), and o with the store's driver as Source.
func BackupJob(loc Location, cfg *config.Config, rec RecorderOptions, o backup.Options) *backup.Job {
	o.Source = loc.Driver()
	openRecorder := func(ctx context.Context, st store.Store) (audit.Recorder, error) {
		ring, err := cfg.RequireKeys()
		if err != nil {
			return nil, err
		}
		return Recorder(ctx, st, ring, rec)
	}
	return &backup.Job{Open: loc.Open, OpenRecorder: openRecorder, Options: o}
}
