// Package audit records every access to a secret: who, what, when, and the
// outcome; never a value, a key or a token.
package audit

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
)

// Event is one audited access. It never holds a secret value, a key, a
// token or a DSN password.
type Event struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Action    string    `json:"action"`
	Secret    string    `json:"secret,omitempty"`
	Version   int       `json:"version,omitempty"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Source    string    `json:"source,omitempty"`
	Detail    string    `json:"detail,omitempty"` // non-secret context: key IDs, counts
	// DecisionID is the decision_id of the OPA decision that let the
	// access through or refused it (docs/opa.md), so that OPA's decision
	// log and the audit trail join; "" when OPA was not asked.
	DecisionID string `json:"decision_id,omitempty"`

	// Guard, when not zero, makes the event conditional on the store not
	// having changed: the store's chain records it only if the store's
	// generation (store.Generations) still equals Guard inside the
	// transaction that would commit it; otherwise nothing is recorded and
	// Record returns ErrStale. It is how a read served from a cache is
	// proven current at its commit. Only recorders for which Guards is
	// true may be given one. It is never stored or hashed.
	Guard uint64 `json:"-"`
}

// Recorder records events durably. Record returns only once the event is
// stored; an error means the access it describes must be refused.
type Recorder interface {
	Record(ctx context.Context, ev Event) error
}

// ErrNotRecorded is returned (wrapped) when an access is refused because
// its audit event could not be recorded.
var ErrNotRecorded = errors.New("audit: event could not be recorded; access refused")

// ErrStale is returned by Record for a guarded event (Event.Guard) whose
// generation is no longer the store's: nothing was recorded, and the access
// it describes must not be served as it stands.
var ErrStale = errors.New("audit: the store changed; guarded event not recorded")

// Guarding is implemented by recorders and sinks that can say whether they
// honour Event.Guard.
type Guarding interface {
	// Guards reports whether guarded events are checked against the
	// store's generation, and refused with ErrStale when it moved.
	Guards() bool
}

// Guards reports whether r honours Event.Guard.
func Guards(r any) bool {
	g, ok := r.(Guarding)
	return ok && g.Guards()
}

// Caller identifies who is acting, carried in a context so every layer can
// stamp its events the same way.
type Caller struct {
	Service   string // the service the token belongs to, or "" for the local operator
	Actor     string // a token's accessor, or the local OS user; never a token
	RequestID string
	Source    string // remote address, or "local"
	// DecisionID is OPA's decision_id for the access in progress, set by
	// the server's access check; "" when OPA was not asked.
	DecisionID string
	// DecisionCached reports that OPA made that decision for another
	// access (it came from the decision cache, or from a concurrent
	// identical access's call): the event's detail says so, since OPA's
	// decision log holds the other access's request.
	DecisionCached bool
}

// DecisionCachedDetail ends the detail of an event whose OPA decision was
// made for another access (Caller.DecisionCached).
const DecisionCachedDetail = "opa decision cached"

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx, or the zero Caller.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// Stamp fills an event's time and caller fields from ctx where they are empty.
func Stamp(ctx context.Context, ev Event) Event {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	c := CallerFrom(ctx)
	if ev.Service == "" {
		ev.Service = c.Service
	}
	if ev.Actor == "" {
		ev.Actor = c.Actor
	}
	if ev.RequestID == "" {
		ev.RequestID = c.RequestID
	}
	if ev.Source == "" {
		ev.Source = c.Source
	}
	if ev.DecisionID == "" {
		ev.DecisionID = c.DecisionID
	}
	if c.DecisionCached && c.DecisionID != "" && ev.DecisionID == c.DecisionID && !strings.HasSuffix(ev.Detail, DecisionCachedDetail) {
		if ev.Detail != "" {
			ev.Detail += "; "
		}
		ev.Detail += DecisionCachedDetail
	}
	return ev
}

// Discard is a Recorder that keeps nothing, for tests and benchmarks that
// measure the cost of auditing.
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, Event) error { return nil }
