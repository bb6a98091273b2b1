package remote

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/inject"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// RunSource opens what run and export --service read as service: the
// server (Open) when cfg names one (SA01_SECRETS_ADDR), else the local
// store that local opens, read as service under the policy file
// (secrets.ServicePolicy) and audited as the service.
func RunSource(ctx context.Context, cfg *config.Config, service string, local func() (*local.Handle, error)) (inject.Session, error) {
	if cfg.SecretsAddr != "" {
		return Open(ctx, cfg, service)
	}
	pol, err := secrets.ServicePolicy(cfg.PolicyFile, service)
	if err != nil {
		return nil, err
	}
	ring, err := cfg.RequireKeys()
	if err != nil {
		return nil, err
	}
	l, err := local()
	if err != nil {
		return nil, err
	}
	return localSource{secrets.New(l.Store, ring, l.Recorder, time.Now).As(pol, service, identity.OSActor()), l}, nil
}

// localSource serves run from the local store under the local policy,
// audited as the service.
type localSource struct {
	*secrets.ServiceReader
	l *local.Handle
}

// Close closes the local store.
func (s localSource) Close() error { return s.l.Close() }
