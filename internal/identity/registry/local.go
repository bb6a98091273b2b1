package registry

import (
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// FromLocal is the Registry of the local store l, each change recorded by
// l's recorder (identity.Audited).
func FromLocal(l *open.Local) (Registry, error) {
	return Local{Audited: identity.Audited{Manager: identity.NewManager(l.Store, identity.Options{}), Rec: l.Recorder}}, nil
}
