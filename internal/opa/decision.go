package opa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// Reason says why a decision is what it is. Each way of not being allowed
// has its own reason; only ReasonAllowed allows.
type Reason string

// Reasons.
const (
	ReasonAllowed     Reason = "allowed"     // a result of true, or {"allow": true}
	ReasonDenied      Reason = "denied"      // a result of false, or {"allow": false}
	ReasonUndefined   Reason = "undefined"   // no result, or an object without "allow": the rule does not apply
	ReasonBadResult   Reason = "bad_result"  // a result of another shape (a string, a number, null, "allow": "yes", …)
	ReasonBadStatus   Reason = "bad_status"  // OPA answered with a status other than 200 (and not 502, 503, 504)
	ReasonTooLarge    Reason = "too_large"   // the answer is larger than the bound
	ReasonMalformed   Reason = "malformed"   // the answer is not a JSON object, or its decision_id is not one
	ReasonUnavailable Reason = "unavailable" // no answer within the timeout: down, slow, or a proxy's 502, 503, 504
	ReasonBadInput    Reason = "bad_input"   // the input has a field longer than MaxFieldLen; OPA not asked
)

// ErrUnavailable wraps the cause of every ReasonUnavailable decision.
var ErrUnavailable = errors.New("opa: unavailable")

// Decision is OPA's answer to one access.
type Decision struct {
	// Allow is true only for ReasonAllowed.
	Allow  bool
	Reason Reason
	// DecisionID is OPA's decision_id, which its decision log records:
	// empty when OPA logs no decisions or gave no answer. A decision from
	// the cache, or shared with a concurrent identical access, carries the
	// ID of the call that made it.
	DecisionID string
	// Cached reports that the decision was not made for this access: it
	// came from the cache or from a concurrent identical access's call.
	Cached bool
	// Err is why the decision is not ReasonAllowed, ReasonDenied or
	// ReasonUndefined. It never holds the URL or its credentials, nor the
	// body of OPA's answer.
	Err error
}

// Unavailable reports whether the access is refused because OPA gave no
// answer in time: the server answers it as unavailable, not as denied.
func (d Decision) Unavailable() bool { return d.Reason == ReasonUnavailable }

// String describes the decision for a log line or `policy explain`.
func (d Decision) String() string {
	s := string(d.Reason)
	if d.DecisionID != "" {
		s += " (decision " + d.DecisionID
		if d.Cached {
			s += ", cached"
		}
		s += ")"
	}
	if d.Err != nil {
		s += ": " + d.Err.Error()
	}
	return s
}

// cacheable reports whether the decision is one OPA made, which a later
// identical access may reuse. Failures to get one are asked again.
func (d Decision) cacheable() bool {
	switch d.Reason {
	case ReasonAllowed, ReasonDenied, ReasonUndefined, ReasonBadResult:
		return true
	}
	return false
}

// unavailable is the decision for an access OPA did not answer. The cause
// loses its *url.Error wrapper, whose text would carry the URL.
func unavailable(err error) Decision {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errors.New("no answer within the timeout")
	} else if errors.Is(err, context.Canceled) {
		err = errors.New("the access was cancelled")
	}
	return Decision{Reason: ReasonUnavailable, Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
}

// maxDecisionIDLen bounds the decision_id kept for the audit trail.
const maxDecisionIDLen = 128

// parseAnswer reads the body of a 200 answer from the Data API:
// {"result": R, "decision_id": ID}, with result absent when undefined.
func parseAnswer(body []byte) Decision {
	var ans map[string]json.RawMessage
	var id string
	if err := json.Unmarshal(body, &ans); err != nil || ans == nil {
		return Decision{Reason: ReasonMalformed, Err: errors.New("opa: the answer is not a JSON object with result and decision_id")}
	}
	if raw, ok := ans["decision_id"]; ok {
		if err := json.Unmarshal(raw, &id); err != nil {
			return Decision{Reason: ReasonMalformed, Err: errors.New("opa: the answer is not a JSON object with result and decision_id")}
		}
	}
	if !validDecisionID(id) {
		return Decision{Reason: ReasonMalformed, Err: fmt.Errorf("opa: decision_id: want at most %d of A-Z a-z 0-9 . _ : -", maxDecisionIDLen)}
	}
	d := Decision{DecisionID: id}
	raw, ok := ans["result"]
	if !ok {
		d.Reason = ReasonUndefined
		return d
	}
	var result any
	if err := json.Unmarshal(raw, &result); err != nil {
		d.Reason, d.Err = ReasonMalformed, errors.New("opa: result is not JSON")
		return d
	}
	allow := result
	if obj, isObj := result.(map[string]any); isObj {
		a, ok := obj["allow"]
		if !ok {
			d.Reason = ReasonUndefined
			return d
		}
		allow = a
	}
	switch allow {
	case true:
		d.Allow, d.Reason = true, ReasonAllowed
	case false:
		d.Reason = ReasonDenied
	default:
		d.Reason, d.Err = ReasonBadResult, fmt.Errorf("opa: result is %s; want true or {\"allow\": true}", shape(result))
	}
	return d
}

// shape names a JSON value's shape without quoting it.
func shape(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object whose allow is " + shape(v["allow"])
	}
	return "a boolean"
}

func validDecisionID(id string) bool {
	if len(id) > maxDecisionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
