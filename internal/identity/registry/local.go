package registry

import (
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store/local"
)

// FromLocal is the Registry of the local store l, each change recorded by
// l's recorder (identity.Audited).
func FromLocal(l *local.Handle) (Registry, error) {
	return Local{Audited: identity.Audited{Manager: identity.NewManager(l.Store, identity.Options{}), Rec: l.Recorder}}, nil
}
