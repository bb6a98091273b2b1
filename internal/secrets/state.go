package secrets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// StateLabel names the subkey of the audit key that state MACs are made
// with.
const StateLabel = "secret-state/v1"

// ActionSeal is the event of sealing the states of secrets written before
// state MACs (one per store, at its first open with a key).
const ActionSeal = "seal"

// ActionCompromise is the event of marking a version compromised.
const ActionCompromise = "compromise"

// ErrStateTampered is wrapped by every *StateError.
var ErrStateTampered = errors.New("state does not match its state MAC")

// StateError reports a secret whose state (current version, deleted, the
// versions marked compromised or destroyed) does not match its state MAC:
// it was changed by something that does not hold the key (a write to the
// database), and is refused. It matches ErrStateTampered.
type StateError struct {
	Name   string
	Reason string // what changed, when it can be told; never a value
}

func (e *StateError) Error() string {
	return fmt.Sprintf("secret %s: %s: %s", e.Name, ErrStateTampered, e.Reason)
}

// Unwrap makes errors.Is(err, ErrStateTampered) hold.
func (e *StateError) Unwrap() error { return ErrStateTampered }

// Reasons of state failures that name no change.
const (
	ReasonStateUnsealed = "it has no state MAC, and this store's states were sealed: the MAC was removed"
	ReasonStateChanged  = "its state was changed outside sa01-secrets"
)

// StateKey derives the state MAC key from a store's audit key:
// HMAC-SHA256(audit key, "secret-state/v1"). The audit key is random,
// stored only wrapped under the Fernet keys and rewrapped under each new
// primary (audit.LoadKey), so the state MACs outlive every key rotation
// and re-encryption without being recomputed.
func StateKey(k *audit.MACKey) [32]byte {
	m := hmac.New(sha256.New, k.Key[:])
	m.Write([]byte(StateLabel))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// StateMAC returns the state MAC of st under key (StateKey): HMAC-SHA256
// over
//
//	len(name) | name | current version | deleted | n | compromised... | n | destroyed...
//
// where len and n are 4-byte big-endian counts, the current version and
// each version number 8 bytes big-endian, deleted one byte (0 or 1), and
// the version lists ascending.
func StateMAC(key [32]byte, st store.State) []byte {
	m := hmac.New(sha256.New, key[:])
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(st.Name)))
	m.Write(b[:4])
	m.Write([]byte(st.Name))
	binary.BigEndian.PutUint64(b[:], uint64(st.CurrentVersion))
	m.Write(b[:])
	if st.Deleted {
		m.Write([]byte{1})
	} else {
		m.Write([]byte{0})
	}
	for _, l := range [][]int{st.Compromised, st.Destroyed} {
		l = slices.Sorted(slices.Values(l))
		binary.BigEndian.PutUint32(b[:4], uint32(len(l)))
		m.Write(b[:4])
		for _, v := range l {
			binary.BigEndian.PutUint64(b[:], uint64(v))
			m.Write(b[:])
		}
	}
	return m.Sum(nil)
}

// stateKey returns the service's state MAC key, loading the store's audit
// key (audit.LoadKey) once.
func (s *Service) stateKey(ctx context.Context) ([32]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stateSub != nil {
		return *s.stateSub, nil
	}
	if s.ring == nil {
		return [32]byte{}, ErrNoKeys
	}
	k, err := audit.LoadKey(ctx, s.st, s.ring, store.KeyEnded(ctx, s.st))
	if err != nil {
		return [32]byte{}, fmt.Errorf("opening the state MAC key: %w", err)
	}
	sub := StateKey(k)
	s.stateSub = &sub
	return sub, nil
}

// sealer returns the store.StateSealer of the service's state key.
func (s *Service) sealer(ctx context.Context) (store.StateSealer, error) {
	key, err := s.stateKey(ctx)
	if err != nil {
		return nil, err
	}
	return func(st store.State) ([]byte, error) { return StateMAC(key, st), nil }, nil
}

// checkState returns a *StateError unless sec's state matches its state
// MAC. A secret with no MAC passes only while the store's chain records no
// sealing (a store written before state MACs, not yet opened with a key).
func (s *Service) checkState(ctx context.Context, sec store.Secret) error {
	return s.checkStateOnce(ctx, sec, nil)
}

// checkStateOnce is checkState; sealed, when not nil, caches across the
// calls of one walk whether the store was sealed (0: not asked yet, 1:
// sealed, -1: not), asked at the first secret without a MAC.
func (s *Service) checkStateOnce(ctx context.Context, sec store.Secret, sealed *int) error {
	if sec.TopVersion > sec.CurrentVersion {
		// Whatever the MAC: a MAC kept from before does not cover this.
		return &StateError{Name: sec.Name, Reason: fmt.Sprintf("rolled back: current version set to %d outside sa01-secrets, and version %d exists",
			sec.CurrentVersion, sec.TopVersion)}
	}
	if len(sec.StateMAC) == 0 {
		var was bool
		if sealed != nil && *sealed != 0 {
			was = *sealed > 0
		} else {
			var err error
			if was, err = s.sealedBefore(ctx); err != nil {
				return err
			}
			if sealed != nil {
				*sealed = -1
				if was {
					*sealed = 1
				}
			}
		}
		if was {
			return &StateError{Name: sec.Name, Reason: ReasonStateUnsealed}
		}
		return nil
	}
	key, err := s.stateKey(ctx)
	if err != nil {
		return err
	}
	if hmac.Equal(StateMAC(key, sec.State()), sec.StateMAC) {
		return nil
	}
	return &StateError{Name: sec.Name, Reason: diagnose(key, sec)}
}

// sealedBefore reports whether the store's states were sealed: from then
// on, a secret without a state MAC had it removed. The store's mark says
// so cheaply; without it (a store not yet opened with a key, or a mark
// deleted with the MACs) the store's audit chain, which a database writer
// cannot rewrite unseen, is asked for a seal event.
func (s *Service) sealedBefore(ctx context.Context) (bool, error) {
	s.mu.Lock()
	done := s.sealed
	s.mu.Unlock()
	if done {
		return true, nil
	}
	sealed, err := s.st.StatesSealed(ctx)
	if err != nil {
		return false, err
	}
	if !sealed {
		es, err := s.st.QueryAudit(ctx, audit.Query{Action: ActionSeal, Limit: 1})
		if err != nil {
			return false, err
		}
		sealed = len(es) > 0
	}
	if sealed {
		s.mu.Lock()
		s.sealed = true
		s.mu.Unlock()
	}
	return sealed, nil
}

// maxTried bounds the versions diagnose tries past the current one.
const maxTried = 1000

// diagnose tells what single change to sec's state its MAC was made over:
// a rolled-back current version, an undeleted secret, a cleared
// compromised or destroyed mark. ReasonStateChanged when none is found.
func diagnose(key [32]byte, sec store.Secret) string {
	st := sec.State()
	try := func(t store.State) bool { return hmac.Equal(StateMAC(key, t), sec.StateMAC) }
	{
		t := st
		t.Deleted = !st.Deleted
		if try(t) {
			if st.Deleted {
				return "deleted outside sa01-secrets (sealed as live)"
			}
			return "undeleted outside sa01-secrets (sealed as deleted)"
		}
	}
	for v := 0; v <= st.CurrentVersion+maxTried; v++ {
		if v == st.CurrentVersion {
			continue
		}
		t := st
		t.CurrentVersion = v
		if try(t) {
			if v > st.CurrentVersion {
				return fmt.Sprintf("rolled back: current version set to %d outside sa01-secrets (sealed at %d)", st.CurrentVersion, v)
			}
			return fmt.Sprintf("current version set to %d outside sa01-secrets (sealed at %d)", st.CurrentVersion, v)
		}
	}
	top := st.CurrentVersion
	for _, l := range [][]int{st.Compromised, st.Destroyed} {
		if len(l) > 0 {
			top = max(top, l[len(l)-1])
		}
	}
	for i, what := range []string{"compromised", "destroyed"} {
		cur := [][]int{st.Compromised, st.Destroyed}[i]
		for v := 1; v <= top; v++ {
			t := st
			var l []int
			had := slices.Contains(cur, v)
			if had {
				l = slices.DeleteFunc(slices.Clone(cur), func(x int) bool { return x == v })
			} else {
				l = append(slices.Clone(cur), v)
			}
			if i == 0 {
				t.Compromised = l
			} else {
				t.Destroyed = l
			}
			if try(t) {
				if had {
					return fmt.Sprintf("version %d marked %s outside sa01-secrets", v, what)
				}
				return fmt.Sprintf("version %d is no longer marked %s: cleared outside sa01-secrets", v, what)
			}
		}
	}
	return ReasonStateChanged
}

// SealStates gives a state MAC to every secret that has none and marks
// the store's states sealed: the upgrade of a store written before state
// MACs, run by every process that opens a store with a key (one small
// query once done). It records one seal event, in the sealing's
// transaction where the recorder allows, also when there was nothing to
// seal (a new store): the event is what tells, past any edit of the
// database, that from then on a secret without a state MAC had it
// removed. Once the store is sealed it seals nothing again: such a secret
// stays refused, and verify names it. It returns how many secrets it
// sealed.
func (s *Service) SealStates(ctx context.Context) (int, error) {
	s.mu.Lock()
	done := s.sealed
	s.mu.Unlock()
	if done {
		return 0, nil
	}
	marked, err := s.st.StatesSealed(ctx)
	if err != nil {
		return 0, err
	}
	if !marked {
		if sealed, err := s.sealedBefore(ctx); err != nil {
			return 0, err
		} else if sealed {
			// Sealed before, the mark lost (a restored store, or a
			// deleted row): mark it again, sealing nothing; with a
			// secret left without a MAC, leave it all as it is.
			errUnsealed := errors.New("a secret without a state MAC")
			_, err := s.st.SealUnsealed(ctx, func(store.State) ([]byte, error) { return nil, errUnsealed }, nil)
			if err != nil && !errors.Is(err, errUnsealed) {
				return 0, err
			}
			return 0, nil
		}
	}
	if marked {
		s.mu.Lock()
		s.sealed = true
		s.mu.Unlock()
		return 0, nil
	}
	seal, err := s.sealer(ctx)
	if err != nil {
		return 0, err
	}
	ev := audit.Event{Action: ActionSeal}
	detail := func(n int) string { return fmt.Sprintf("state MACs of %d secrets", n) }
	var tx *audit.InTx
	if tr, ok := s.rec.(audit.TxRecorder); ok {
		tx = tr.InTx(ctx, func(n int) audit.Event {
			e := ev
			e.Outcome, e.Time, e.Detail = audit.Success, s.now().UTC(), detail(n)
			return e
		})
	}
	n, err := s.st.SealUnsealed(ctx, seal, tx)
	if err != nil {
		return 0, err
	}
	if tx == nil {
		ev.Outcome, ev.Detail = audit.Success, detail(n)
		if err := s.record(ctx, ev); err != nil {
			return n, err
		}
	}
	s.mu.Lock()
	s.sealed = true
	s.mu.Unlock()
	return n, nil
}
