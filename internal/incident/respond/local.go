package respond

import (
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// FromLocal is the Desk of the local store l: the responder over it,
// writing replacements under l's keys, acting as the local operator
// (identity.OSActor).
func FromLocal(l *local.Handle) (Desk, error) {
	r := &Responder{Store: l.Store, Secrets: secrets.New(l.Store, l.Config.Keys, l.Recorder, time.Now), Recorder: l.Recorder, Now: time.Now, Actor: identity.OSActor()}
	return Local{Responder: r}, nil
}
