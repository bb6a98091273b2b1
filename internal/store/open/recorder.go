package open

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	key, err := audit.LoadKey(ctx, st, ring, store.KeyEnded(ctx, st))
	var ku *audit.KeyUnavailableError
	if errors.As(err, &ku) {
		return nil, fault.New(fault.InvalidToken, err, auditKeyHint(ctx, st, ring, ku))
	}
	return key, err
}

// auditKeyHint says which key to load when none of ring's keys opens the
// store's audit key. A primary the store knows as its active or pending
// key means a rotation's old key was dropped before a process opened the
// store with the new one: the old key goes back among the previous keys.
// Any other primary (generated afresh, retired, compromised, another
// store's) is the wrong key: the store's key goes in its place.
func auditKeyHint(ctx context.Context, st store.Store, ring *fernet.Ring, ku *audit.KeyUnavailableError) string {
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return "load the Fernet key the store was last used with (key " + strings.Join(ku.Stored, " or ") + ")"
	}
	primary, active := "", []string(nil)
	for _, k := range keys {
		if k.ID == ring.Primary().ID() {
			primary = k.State
		}
		if k.State == store.KeyActive {
			active = append(active, k.ID)
		}
	}
	if primary == store.KeyActive || primary == store.KeyPending || len(active) == 0 {
		return "add key " + strings.Join(ku.Stored, " or ") + " to " + config.EnvFernetPreviousKeys +
			": a rotation's old key stays loaded until 'sa01-secrets reencrypt' has moved its versions and its 30 days are over"
	}
	return "this store's key is " + strings.Join(active, " or ") + ": load it as " + config.EnvFernetKey +
		"; a new key enters a store through 'sa01-secrets key rotate', or 'key stage' and 'key promote'"
}
