package secrets

import (
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// FromLocal is the Backend of the local store l under its keys, for the
// secret verbs without a server: it first seals the states of the
// versions written before state MACs (SealOlder).
func FromLocal(l *local.Handle) (Backend, error) {
	svc := New(l.Store, l.Config.Keys, l.Recorder, time.Now)
	_, err := svc.SealOlder(l.Ctx)
	return Local{Service: svc, Closer: l.Close}, err
}
