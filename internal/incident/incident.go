// Package incident keeps the policy's Secret Compromise Procedure as a
// clock: an incident is opened when a secret is compromised, and each step
// of the procedure has a deadline counted from that moment.
//
//  1. revoke: immediately (done when the incident is opened)
//  2. new-secret: a new version deployed within 1 hour
//  3. audit-logs: every access audited within 4 hours (done by the first report)
//  4. report: the incident report within 24 hours (done by the first report
//     produced once the new secret is in place)
//  5. review: procedures reviewed within 1 week (done when the incident is closed)
package incident

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Step names, in the policy's order.
const (
	StepRevoke    = "revoke"
	StepNewSecret = "new-secret"
	StepAuditLogs = "audit-logs"
	StepReport    = "report"
	StepReview    = "review"
)

// Deadlines of the policy, counted from the incident's opening.
var Deadlines = []struct {
	Step  string
	Title string
	After time.Duration
}{
	{StepRevoke, "revoke the compromised secret", 0},
	{StepNewSecret, "generate and deploy a new secret", time.Hour},
	{StepAuditLogs, "audit all access logs", 4 * time.Hour},
	{StepReport, "complete the incident report", 24 * time.Hour},
	{StepReview, "review and update security procedures", 7 * 24 * time.Hour},
}

// Step is one step of the procedure.
type Step struct {
	Name  string    `json:"name"`
	Title string    `json:"title"`
	Due   time.Time `json:"due"`
	Done  time.Time `json:"done,omitzero"`
}

// Action is one thing done in response, for the timeline.
type Action struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// Incident is one compromise and the response to it.
type Incident struct {
	ID       string    `json:"id"`
	Secret   string    `json:"secret"`
	Version  int       `json:"version"` // the compromised version
	Reason   string    `json:"reason"`
	OpenedAt time.Time `json:"opened_at"`
	OpenedBy string    `json:"opened_by"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	Review   string    `json:"review,omitempty"`
	Steps    []Step    `json:"steps"`
	Actions  []Action  `json:"actions"`
}

// ErrNotFound is returned for an unknown incident ID.
var ErrNotFound = errors.New("incident: not found")

// ErrClosed is returned when changing a closed incident.
var ErrClosed = errors.New("incident: already closed")

// NewID returns a new incident ID: INC-YYYYMMDD-xxxxxx.
func NewID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("INC-%s-%s", now.UTC().Format("20060102"), hex.EncodeToString(b[:]))
}

// Open starts the clock for a compromise of version of secret at now. The
// revoke step is done at once.
func Open(id, secret string, version int, reason, by string, now time.Time) *Incident {
	now = now.UTC()
	inc := &Incident{ID: id, Secret: secret, Version: version, Reason: reason, OpenedAt: now, OpenedBy: by}
	for _, d := range Deadlines {
		inc.Steps = append(inc.Steps, Step{Name: d.Step, Title: d.Title, Due: now.Add(d.After)})
	}
	inc.MarkDone(StepRevoke, now)
	return inc
}

// Step returns the named step, or nil.
func (inc *Incident) Step(name string) *Step {
	for i := range inc.Steps {
		if inc.Steps[i].Name == name {
			return &inc.Steps[i]
		}
	}
	return nil
}

// MarkDone marks a step done at t unless it is done already.
func (inc *Incident) MarkDone(name string, t time.Time) {
	if s := inc.Step(name); s != nil && s.Done.IsZero() {
		s.Done = t.UTC()
	}
}

// Log adds an action to the timeline.
func (inc *Incident) Log(t time.Time, format string, a ...any) {
	inc.Actions = append(inc.Actions, Action{Time: t.UTC(), What: fmt.Sprintf(format, a...)})
}

// Closed reports whether the incident is closed.
func (inc *Incident) Closed() bool { return !inc.ClosedAt.IsZero() }

// Close ends the incident with the review note; it marks the review step.
func (inc *Incident) Close(review string, now time.Time) error {
	if inc.Closed() {
		return ErrClosed
	}
	inc.ClosedAt = now.UTC()
	inc.Review = review
	inc.MarkDone(StepReview, now)
	inc.Log(now, "closed after review: %s", review)
	return nil
}

// States of a step.
const (
	Met    = "met"
	Due    = "due"
	Missed = "missed"
)

// StepStatus is a step's state at some moment.
type StepStatus struct {
	Step
	State string        `json:"state"`
	Left  time.Duration `json:"-"` // time left when due; overdue time (negative) when missed and not done
}

// Status returns every step's state at now: met (done by its deadline),
// due (not done, deadline ahead) or missed (done late, or not done and past
// its deadline).
func (inc *Incident) Status(now time.Time) []StepStatus {
	var out []StepStatus
	for _, s := range inc.Steps {
		st := StepStatus{Step: s}
		switch {
		case !s.Done.IsZero() && !s.Done.After(s.Due):
			st.State = Met
		case !s.Done.IsZero():
			st.State = Missed
		case now.After(s.Due):
			st.State, st.Left = Missed, s.Due.Sub(now)
		default:
			st.State, st.Left = Due, s.Due.Sub(now)
		}
		out = append(out, st)
	}
	return out
}

// AnyMissed reports whether a deadline was missed at now.
func (inc *Incident) AnyMissed(now time.Time) bool {
	for _, s := range inc.Status(now) {
		if s.State == Missed {
			return true
		}
	}
	return false
}
