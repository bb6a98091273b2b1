package open

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// RecorderOptions are the audit settings of Recorder.
type RecorderOptions struct {
	File   string        // SA01_SECRETS_AUDIT_FILE: a JSON-lines copy of the chain, "-" for Stdout, "" for none
	Stdout io.Writer     // where File "-" writes
	Bound  time.Duration // how long an access waits for its event before it is refused (audit.DefaultTimeout)
	Logger *slog.Logger  // told of each failed recording
}

// Recorder returns the audit recorder for accesses through st: the store's
// keyed chain, plus the JSON-lines file o.File when set, under o.Bound
// (audit.NewStoreRecorder). Kafka is not a sink here: a publisher ships the
// store's chain, so reads never wait on it. Opening it creates the store's
// audit key, opened by ring, when the store has none, so a new store's
// first event is keyed.
func Recorder(ctx context.Context, st store.Store, ring *fernet.Ring, o RecorderOptions) (*audit.StoreRecorder, error) {
	key, err := AuditKey(ctx, st, ring)
	if err != nil {
		return nil, err
	}
	var file *audit.File
	if o.File != "" {
		if file, err = auditFile(o.File, o.Stdout, key); err != nil {
			return nil, err
		}
	}
	log := o.Logger
	return audit.NewStoreRecorder(st, key, file, o.Bound, func(err error) {
		log.Error("audit: recording failed; the access is refused", "err", err)
	}), nil
}

// auditFiles shares one sink per path within a process, so two recorders
// never interleave two chains in one file.
var (
	auditFilesMu sync.Mutex
	auditFiles   = map[string]*audit.File{}
)

func auditFile(path string, stdout io.Writer, key *audit.MACKey) (*audit.File, error) {
	if path == "-" {
		return audit.OpenFile("-", stdout, key)
	}
	auditFilesMu.Lock()
	defer auditFilesMu.Unlock()
	if f, ok := auditFiles[path]; ok {
		return f, nil
	}
	f, err := audit.OpenFile(path, nil, key)
	if err != nil {
		return nil, fault.New(fault.Unavailable, fmt.Errorf("%s: %w", config.EnvAuditFile, err), "check the file's directory and permissions (the file must be 0600)")
	}
	auditFiles[path] = f
	return f, nil
}

// AuditKey opens the store's audit key with ring (audit.LoadKey), dropping
// its wrappings under keys the store records as retired or compromised.
func AuditKey(ctx context.Context, st store.Store, ring *fernet.Ring) (*audit.MACKey, error) {
	key, err := audit.LoadKey(ctx, st, ring, func(id string) bool {
		k, err := st.Key(ctx, id)
		return err == nil && (k.State == store.KeyRetired || k.State == store.KeyCompromised)
	})
	if errors.Is(err, audit.ErrKeyUnavailable) {
		return nil, fault.New(fault.InvalidToken, err, "load the Fernet key the store was last used with in "+config.EnvFernetPreviousKeys)
	}
	return key, err
}
