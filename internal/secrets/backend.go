package secrets

import (
	"context"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Backend is what the secret verbs work on: a store beside this process
// ([Local]) or a server (remote.Backend), in the same shapes. Close ends
// the session.
type Backend interface {
	Put(ctx context.Context, name string, value sensitive.String, o PutOptions) (store.Version, error)
	Get(ctx context.Context, name string, version int) (Value, error)
	List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error)
	History(ctx context.Context, name string) (store.Secret, []store.Version, error)
	Rollback(ctx context.Context, name string, to int, cas *int) (store.Version, error)
	Delete(ctx context.Context, name string) error
	Undelete(ctx context.Context, name string) error
	Destroy(ctx context.Context, name string, version int) error
	Import(ctx context.Context, entries []Entry, o ImportOptions) (int, error)
	Export(ctx context.Context, prefix string) ([]Value, error)
	Verify(ctx context.Context) (*Report, error)
	Close() error
}

// Local is the Backend of a store: the Service works on it directly, and
// Close closes what Closer says (the store).
type Local struct {
	*Service
	Closer func() error
}

var _ Backend = Local{}

// Close closes the store.
func (l Local) Close() error { return l.Closer() }

// SealOlder is SealStates when a key is loaded, and a no-op without one:
// the state MACs of a store written before them, given by every process
// that opens it with a key.
func (s *Service) SealOlder(ctx context.Context) (int, error) {
	if s.ring == nil {
		return 0, nil
	}
	n, err := s.SealStates(ctx)
	if err != nil {
		return 0, fmt.Errorf("sealing the states of secrets written before state MACs: %w", err)
	}
	return n, nil
}
