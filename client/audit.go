package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// AuditEvent is one event of the server's audit chain; it never holds a
// value. Its strings come from requests: escape them before printing them
// to a terminal.
type AuditEvent struct {
	Seq        int64     `json:"seq"`
	Prev       string    `json:"prev"`
	Hash       string    `json:"hash"`
	Time       time.Time `json:"time"`
	Service    string    `json:"service,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Action     string    `json:"action"`
	Secret     string    `json:"secret,omitempty"`
	Version    int       `json:"version,omitempty"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Source     string    `json:"source,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	DecisionID string    `json:"decision_id,omitempty"`
}

// AuditQuery selects audit events. Zero fields match everything.
type AuditQuery struct {
	Secret   string
	Service  string
	Action   string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Failed   bool      // only failures
	AfterSeq int64     // only events after this seq
	// Limit is the most events to return: 0 means all of them, fetched a
	// page (at most 5000) at a time, up to [MaxAuditEvents].
	Limit int
	// Newest returns the newest Limit events (1 to 5000), oldest first.
	Newest bool
}

// maxAuditPage is the server's page size (server.MaxAuditPage).
const maxAuditPage = 5000

// MaxAuditEvents is the most events AuditEvents with Limit 0 reads (200
// full pages): a selection larger than that is [ErrTooManyEvents], not a
// read that grows without end. A Limit reads up to that many instead.
const MaxAuditEvents = 1_000_000

// maxAuditEvents is MaxAuditEvents, lowered by tests.
var maxAuditEvents = MaxAuditEvents

// ErrTooManyEvents is AuditEvents with Limit 0 whose selection holds more
// than [MaxAuditEvents] events: narrow it (Since, Until, AfterSeq, Secret)
// or give a Limit.
var ErrTooManyEvents = errors.New("sa01-secrets: too many audit events for one read")

func (q AuditQuery) values(limit int, follow bool) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("secret", q.Secret)
	set("service", q.Service)
	set("action", q.Action)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Failed {
		v.Set("failed", "true")
	}
	if q.AfterSeq > 0 {
		v.Set("after_seq", strconv.FormatInt(q.AfterSeq, 10))
	}
	if q.Newest {
		v.Set("newest", "true")
	}
	if follow {
		v.Set("follow", "true")
	}
	v.Set("limit", strconv.Itoa(limit))
	return v
}

// AuditEvents returns the audit events q selects, oldest first (admin or
// auditor; never a service). With Limit 0 it reads every page, up to
// [MaxAuditEvents] events, past which it returns [ErrTooManyEvents] and no
// event. Each call is recorded in the audit trail. A page with more events
// than asked for, one that says there is more without being full, or one
// that does not move forward past the last is an error, and nothing of
// the read is returned.
func (c *Client) AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	return c.auditEvents(ctx, q, false)
}

// AuditFollow returns the events after seq (at most 1000), oldest first:
// one poll of a follow, which the server does not record (the follow's
// first AuditEvents call is).
func (c *Client) AuditFollow(ctx context.Context, q AuditQuery, seq int64) ([]AuditEvent, error) {
	q.AfterSeq, q.Limit, q.Newest = seq, 1000, false
	return c.auditEvents(ctx, q, seq > 0)
}

func (c *Client) auditEvents(ctx context.Context, q AuditQuery, follow bool) ([]AuditEvent, error) {
	var all []AuditEvent
	for {
		limit := maxAuditPage
		if q.Limit > 0 {
			limit = min(q.Limit-len(all), maxAuditPage)
		}
		var out struct {
			Events []AuditEvent `json:"events"`
			More   bool         `json:"more"`
		}
		if err := c.authCall(ctx, "GET", "/v1/audit/events?"+q.values(limit, follow).Encode(), nil, &out); err != nil {
			return nil, err
		}
		// The server's page holds at most the limit asked for, and says
		// "more" only when it is full: any other page would let a
		// server have the client ask again and again for a few events.
		if len(out.Events) > limit || (out.More && len(out.Events) < limit) {
			return nil, errAnswer
		}
		if q.Limit <= 0 && len(all)+len(out.Events) > maxAuditEvents {
			return nil, fmt.Errorf("%w: more than %d; narrow the query or give a limit", ErrTooManyEvents, maxAuditEvents)
		}
		all = append(all, out.Events...)
		if !out.More || q.Newest || follow || len(out.Events) == 0 || (q.Limit > 0 && len(all) >= q.Limit) {
			return all, nil
		}
		// The next page starts after this one's last event: a page that
		// does not move forward would be asked for again and again.
		last := out.Events[len(out.Events)-1].Seq
		if last <= q.AfterSeq {
			return nil, errAnswer
		}
		q.AfterSeq = last
	}
}

// AuditHead is the head of the audit chain.
type AuditHead struct {
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"`
	Anchor string `json:"anchor"` // SEQ:HASH, for AuditVerify
}

// AuditHead returns the head of the server's audit chain, its last MAC
// checked under the audit key (admin or auditor): keep it elsewhere as an
// anchor.
func (c *Client) AuditHead(ctx context.Context) (AuditHead, error) {
	var out AuditHead
	err := c.authCall(ctx, "GET", "/v1/audit/head", nil, &out)
	return out, err
}

// AuditVerification is the server's check of its audit chain. Problem is
// set when OK is false.
type AuditVerification struct {
	OK              bool   `json:"ok"`
	Source          string `json:"source"`
	Events          int64  `json:"events"`
	Checkpoints     int    `json:"checkpoints"`
	Unauthenticated int    `json:"unauthenticated"`
	Keyed           bool   `json:"keyed"`
	Anchored        bool   `json:"anchored"`
	Problem         *struct {
		Kind     string `json:"kind"`
		Seq      int64  `json:"seq"`
		Position int64  `json:"position"`
		Detail   string `json:"detail"`
	} `json:"problem,omitempty"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// AuditVerify has the server verify its whole audit chain under the audit
// key (admin or auditor); anchor, when not "", is a head (SEQ:HASH) the
// chain must still reach.
func (c *Client) AuditVerify(ctx context.Context, anchor string) (AuditVerification, error) {
	var in any
	if anchor != "" {
		in = map[string]string{"anchor": anchor}
	}
	var out AuditVerification
	err := c.authCall(ctx, "POST", "/v1/audit/verify", in, &out)
	return out, err
}

// OpenIncident declares the current version of secret compromised on the
// server (admin or responder): it is never served again, a generated
// replacement is written for the classes that have one, and with
// revokeTokens the tokens of every service that read it are revoked. The
// answer is the JSON document of `sa01-secrets incident open --format
// json`, with "warnings" (see openapi.json).
func (c *Client) OpenIncident(ctx context.Context, secret, reason string, revokeTokens bool) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.authCall(ctx, "POST", "/v1/incidents", map[string]any{"secret": secret, "reason": reason, "revoke_tokens": revokeTokens}, &out)
	return out, err
}

// Incidents returns the state of the incident id, or with id "" of every
// open incident (all: closed ones too), as {"incidents": [...]} (admin,
// auditor or responder).
func (c *Client) Incidents(ctx context.Context, id string, all bool) (json.RawMessage, error) {
	path := "/v1/incidents"
	if id != "" {
		path += "/" + url.PathEscape(id)
	} else if all {
		path += "?all=true"
	}
	var out json.RawMessage
	err := c.authCall(ctx, "GET", path, nil, &out)
	return out, err
}

// IncidentReport produces the report of incident id over the accesses
// since since (zero: since the compromised version was written), which
// marks the access-log step done (admin, auditor or responder). The answer
// is the JSON of `sa01-secrets incident report --format json`.
func (c *Client) IncidentReport(ctx context.Context, id string, since time.Time) (json.RawMessage, error) {
	var in any
	if !since.IsZero() {
		in = map[string]string{"since": since.UTC().Format(time.RFC3339Nano)}
	}
	var out json.RawMessage
	err := c.authCall(ctx, "POST", "/v1/incidents/"+url.PathEscape(id)+":report", in, &out)
	return out, err
}

// CloseIncident closes incident id with the review of procedures (admin
// or responder), and reports whether some deadline was missed. ErrConflict
// when it is already closed.
func (c *Client) CloseIncident(ctx context.Context, id, review string) (missed bool, err error) {
	var out struct {
		Missed bool `json:"missed"`
	}
	err = c.authCall(ctx, "POST", "/v1/incidents/"+url.PathEscape(id)+":close", map[string]string{"review": review}, &out)
	return out.Missed, err
}

// Status returns the server's rotation schedule check with the keys it
// loaded: the JSON of `sa01-secrets status --format json` (admin, auditor
// or responder).
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.authCall(ctx, "GET", "/v1/status", nil, &out)
	return out, err
}

// Keys returns the server's key table, {"keys": [...]}: IDs, states,
// versions under each, never a key (admin or auditor).
func (c *Client) Keys(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.authCall(ctx, "GET", "/v1/keys", nil, &out)
	return out, err
}

// Verify has the server check that every stored version decrypts under
// the key its key ID names: the JSON of `sa01-secrets verify --format
// json` (admin or auditor).
func (c *Client) Verify(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.authCall(ctx, "POST", "/v1/verify", nil, &out)
	return out, err
}
