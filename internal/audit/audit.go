// Package audit records every access to a secret: who, what, when, and the
// outcome; never a value, a key or a token.
package audit

import (
	"context"
	"errors"
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
}

// Recorder records events durably. Record returns only once the event is
// stored; an error means the access it describes must be refused.
type Recorder interface {
	Record(ctx context.Context, ev Event) error
}

// ErrNotRecorded is returned (wrapped) when an access is refused because
// its audit event could not be recorded.
var ErrNotRecorded = errors.New("audit: event could not be recorded; access refused")

// Caller identifies who is acting, carried in a context so every layer can
// stamp its events the same way.
type Caller struct {
	Service   string // the service the token belongs to, or "" for the local operator
	Actor     string // a token's accessor, or the local OS user; never a token
	RequestID string
	Source    string // remote address, or "local"
}

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
	return ev
}

// Discard is a Recorder that keeps nothing, for tests and benchmarks that
// measure the cost of auditing.
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, Event) error { return nil }
