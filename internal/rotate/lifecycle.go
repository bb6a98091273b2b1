package rotate

import (
	"fmt"
	"time"
)

// State is a key's state in its life cycle, as NIST SP 800-57 Part 1
// (section 7) names them. The store keeps each key's state in its key
// table; it never keeps the key.
type State string

// The states. A key goes pending → active → decrypt-only → retired; any
// state but retired may go to compromised, and a compromised key is retired
// once nothing uses it.
const (
	// Pending: generated and loaded everywhere as a previous key
	// (decrypt-only), not yet used to encrypt (NIST "pre-activation").
	Pending State = "pending"
	// Active: the primary; new data is encrypted under it.
	Active State = "active"
	// DecryptOnly: a former primary, retained for RetentionPeriod so
	// existing data still decrypts (NIST "deactivated").
	DecryptOnly State = "decrypt-only"
	// Retired: removed from every env file; no version may use it (NIST
	// "destroyed"). Final.
	Retired State = "retired"
	// Compromised: known or suspected to be disclosed; data under it must be
	// re-encrypted at once and the key retired (NIST "compromised").
	Compromised State = "compromised"
)

// The policy's periods.
const (
	// RotationPeriod is how long a key may stay the primary.
	RotationPeriod = 90 * 24 * time.Hour
	// RetentionPeriod is how long a former primary is kept to decrypt
	// existing data.
	RetentionPeriod = 30 * 24 * time.Hour
)

// States lists every state, in life-cycle order.
var States = []State{Pending, Active, DecryptOnly, Retired, Compromised}

// ParseState returns the State named s, or an error.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("rotate: unknown key state %q", s)
}

var transitions = map[State][]State{
	Pending:     {Active, Retired, Compromised}, // promoted, or abandoned before use
	Active:      {DecryptOnly, Compromised},
	DecryptOnly: {Retired, Compromised},
	Compromised: {Retired},
	Retired:     nil,
}

// CanTransition reports whether a key may go from one state to another.
// Staying in the same state is not a transition. An active key is never
// retired directly: a new key is promoted first, which makes it
// decrypt-only. A decrypt-only key never becomes active again: roll
// forward with a new key instead.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is returned when a key may not move between two states.
type TransitionError struct {
	KeyID    string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("key %s is %s; it cannot become %s", e.KeyID, e.From, e.To)
}

// CheckTransition returns a *TransitionError unless CanTransition(from, to).
func CheckTransition(keyID string, from, to State) error {
	if !CanTransition(from, to) {
		return &TransitionError{KeyID: keyID, From: from, To: to}
	}
	return nil
}

// CanEncrypt reports whether data may be encrypted under a key in state s.
func (s State) CanEncrypt() bool { return s == Active }

// CanDecrypt reports whether a key in state s is still loaded to decrypt.
func (s State) CanDecrypt() bool {
	return s == Pending || s == Active || s == DecryptOnly || s == Compromised
}
