// Package consoletest is the console's backend for its tests, browser
// tests and benchmarks: storebackend.Backend, the backend `serve` mounts,
// over a SQLite store in a temporary directory with a fresh key, the
// store's identities, a YAML policy and the store's audit chain.
package consoletest

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console/storebackend"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// Backend is storebackend.Backend over a SQLite store.
type Backend struct {
	*storebackend.Backend
	DB       *sqlite.DB
	Ring     *fernet.Ring
	Service  *secrets.Service // as the server's: reads recorded as read
	Recorder audit.Recorder   // the store's chain, behind group commit, bounded
	Policy   *policy.Holder   // the YAML policy; nil: none
	IDs      *Identities      // the store's identities

	dir     string
	ownDir  bool // dir was made by New: Close removes it
	batcher *audit.Batcher
}

// Options configure New.
type Options struct {
	// Dir holds the store; "" makes a temporary directory that Close
	// removes.
	Dir string
	// Policy is the YAML policy ("" for none).
	Policy string
	// Now is the clock of the store, the audit and the identities (nil:
	// time.Now).
	Now func() time.Time
	// OPA, when set, is asked as the server asks it.
	OPA *opa.Decider
}

// New opens a store in o.Dir with a fresh key.
func New(ctx context.Context, o Options) (*Backend, error) {
	b := &Backend{dir: o.Dir}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if b.dir == "" {
		d, err := os.MkdirTemp("", "sa01-console-")
		if err != nil {
			return nil, err
		}
		b.dir, b.ownDir = d, true
	}
	path := filepath.Join(b.dir, "secrets.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.cleanup()
		return nil, err
	}
	b.DB = db
	b.Ring, _ = fernet.NewRing(fernet.GenerateKey())
	key := audit.MACKeys(b.Ring)[0]
	b.batcher = audit.NewBatcher(audit.NewChain(db, &key), audit.BatcherOptions{})
	b.Recorder = audit.NewBounded(b.batcher, audit.DefaultTimeout, nil)
	b.IDs = &Identities{M: identity.NewManager(db, identity.Options{Now: now}), path: path}
	if o.Policy != "" {
		p, err := policy.Parse("policy.yaml", []byte(o.Policy))
		if err != nil {
			b.Close()
			return nil, err
		}
		b.Policy = policy.Static(p)
	}
	b.Backend = storebackend.New(storebackend.Options{Store: db, Ring: b.Ring, Recorder: b.Recorder, Identities: b.IDs.M,
		Policy: b.Policy, OPA: o.OPA, Now: now})
	b.Service = b.Backend.Service()
	return b, nil
}

// Dir is the directory of the store.
func (b *Backend) Dir() string { return b.dir }

// Close closes the store and removes a temporary directory.
func (b *Backend) Close() error {
	if b.batcher != nil {
		b.batcher.Close()
	}
	var err error
	if b.DB != nil {
		err = b.DB.Close()
	}
	b.cleanup()
	return err
}

func (b *Backend) cleanup() {
	if b.ownDir {
		os.RemoveAll(b.dir)
	}
}
