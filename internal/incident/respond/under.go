package respond

import (
	"context"
	"errors"

	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// UnderIncidentStore is what UnderIncident reads.
type UnderIncidentStore interface {
	Get(ctx context.Context, name string, version int) (store.Secret, store.Version, error)
	ListIncidents(ctx context.Context, all bool) ([]*incident.Incident, error)
}

// UnderIncident reports whether the secret name has an open incident or a
// compromised current version: where a grant that holds only under
// incident (a responder's rotation, identity.Decide's UnderIncident)
// holds. An error reading the store answers false: the grant does not
// hold when it cannot be shown to.
func UnderIncident(ctx context.Context, st UnderIncidentStore, name string) bool {
	_, _, err := st.Get(ctx, name, 0)
	if errors.Is(err, store.ErrCompromised) {
		return true
	}
	if err != nil {
		return false
	}
	incs, err := st.ListIncidents(ctx, false)
	if err != nil {
		return false
	}
	for _, inc := range incs {
		if inc.Secret == name {
			return true
		}
	}
	return false
}
