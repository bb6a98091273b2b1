package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// KeyAge is the age of one loaded Fernet key, for the server's metrics.
type KeyAge struct {
	ID      string
	Primary bool
	Age     time.Duration
}

// KeyAges returns a function that reports each loaded key's age from the
// store's key records, at the time of each call. A key the store has not
// recorded yet has no known age and is left out; a store that cannot be
// read within 2 s reports none.
func KeyAges(st store.Keys, ring *fernet.Ring) func() []KeyAge {
	return func() []KeyAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		infos, err := st.ListKeys(ctx)
		if err != nil {
			return nil
		}
		created := map[string]time.Time{}
		for _, k := range infos {
			created[k.ID] = k.CreatedAt
		}
		var out []KeyAge
		now := time.Now()
		for i, k := range ring.Keys() {
			if c, ok := created[k.ID()]; ok {
				out = append(out, KeyAge{ID: k.ID(), Primary: i == 0, Age: now.Sub(c)})
			}
		}
		return out
	}
}

// ErrNoNewKey is returned by ExplicitRing when no new key is given and
// none is loaded.
var ErrNoNewKey = errors.New("no new key")

// ExplicitRing builds the ring of a re-encryption with keys named
// explicitly (the policy's reencrypt script): the new key first, then the
// old one, then the other loaded keys. newKey nil means the loaded primary;
// loaded may be nil.
func ExplicitRing(oldKey, newKey *fernet.Key, loaded *fernet.Ring) (*fernet.Ring, error) {
	if newKey == nil {
		if loaded == nil {
			return nil, ErrNoNewKey
		}
		newKey = loaded.Primary()
	}
	if newKey.Equal(oldKey) {
		return nil, fmt.Errorf("the old and the new key are the same key (%s)", newKey.ID())
	}
	keys := []*fernet.Key{newKey, oldKey}
	if loaded != nil {
		for _, k := range loaded.Keys() {
			if k.ID() != newKey.ID() && k.ID() != oldKey.ID() {
				keys = append(keys, k)
			}
		}
	}
	return fernet.NewRing(keys...)
}
