package open

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// Local is the handle of the local store (local.Handle).
type Local = local.Handle

// OpenLocal opens the existing store at loc (Existing) and its audit
// recorder (Recorder), with the audit key opened by ring, or when ring is
// nil by cfg's keys (config.ErrNoKey when none is loaded).
func OpenLocal(ctx context.Context, cfg *config.Config, loc Location, ring *fernet.Ring, o RecorderOptions) (*Local, error) {
	st, err := Existing(ctx, loc)
	if err != nil {
		return nil, err
	}
	if ring == nil {
		ring, err = cfg.RequireKeys()
	}
	var rec *audit.StoreRecorder
	if err == nil {
		rec, err = Recorder(ctx, st, ring, o)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Local{Ctx: identity.AsLocalOperator(ctx), Config: cfg, Store: st, Recorder: rec}, nil
}

// Trail is the audit trail of the local store st; its audit key is opened
// (AuditKey), on first need, by the keys ring returns.
func Trail(ctx context.Context, st store.Store, ring func() (*fernet.Ring, error)) audit.Local {
	key := func() (*audit.MACKey, error) {
		r, err := ring()
		if err != nil {
			return nil, err
		}
		return AuditKey(ctx, st, r)
	}
	return audit.Local{TrailStore: st, Key: key}
}
