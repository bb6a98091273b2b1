package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions of the audit routes: reading the trail is itself recorded.
const (
	actionAuditQuery  = "audit-query"
	actionAuditTail   = "audit-tail"
	actionAuditHead   = "audit-head"
	actionAuditVerify = "audit-verify"
)

// MaxAuditPage bounds the events one GET /v1/audit/events returns; a
// longer answer says "more" and the client asks again after the last seq.
const MaxAuditPage = 5000

// errNoOps answers the routes that need the store itself when the server
// was built without it (a test double of Secrets).
var errNoOps = &apiError{http.StatusServiceUnavailable, CodeUnavailable, "this server does not serve the store's audit, incidents and status"}

// service returns the secrets service over the store, which the audit,
// incident, status, key and verify routes work on.
func (s *Server) service() (*secrets.Service, error) {
	svc, ok := s.d.Secrets.(*secrets.Service)
	if !ok || svc == nil || svc.Store() == nil {
		return nil, errNoOps
	}
	return svc, nil
}

// permittedService checks the role table for an action on no secret
// (permitted) and returns the store's service; nil when it answered the
// request (403, or 503 without a store).
func (s *Server) permittedService(w http.ResponseWriter, r *http.Request, a identity.Action, auditAction string) *secrets.Service {
	if !s.permitted(r, a, auditAction, "") {
		writeError(w, r, errDeniedOrMissing)
		return nil
	}
	svc, err := s.service()
	if err != nil {
		writeError(w, r, err)
		return nil
	}
	return svc
}

// knownParams refuses a query string with a parameter outside want, or
// one given twice, or longer than opa.MaxFieldLen.
func knownParams(q url.Values, want ...string) error {
	for k, vs := range q {
		ok := false
		for _, w := range want {
			ok = ok || k == w
		}
		switch {
		case !ok:
			return errInvalid("unknown query parameter " + strconv.Quote(auditField(k)))
		case len(vs) != 1:
			return errInvalid("query parameter " + k + ": give it once")
		case len(vs[0]) > opa.MaxFieldLen:
			return errInvalid("query parameter " + k + ": at most 1024 bytes")
		}
	}
	return nil
}

// query returns r's query parameters when they are among want, each
// given at most once (knownParams); the middleware has refused a query
// string that does not parse.
func query(r *http.Request, want ...string) (url.Values, error) {
	q := r.URL.Query()
	return q, knownParams(q, want...)
}

// auditField bounds a request-supplied string for a message or an event.
func auditField(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errInvalid(name + ": want true or false")
}

func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid(name + ": want an RFC 3339 time (2026-01-02T15:04:05Z)")
	}
	return t.UTC(), nil
}

// auditQuery reads the query of GET /v1/audit/events.
func auditQuery(q url.Values) (aq audit.Query, follow bool, err error) {
	if err := knownParams(q, "secret", "service", "action", "since", "until", "failed", "after_seq", "limit", "newest", "follow"); err != nil {
		return aq, false, err
	}
	aq.Secret, aq.Service, aq.Action = q.Get("secret"), q.Get("service"), q.Get("action")
	if aq.Since, err = timeParam(q, "since"); err != nil {
		return aq, false, err
	}
	if aq.Until, err = timeParam(q, "until"); err != nil {
		return aq, false, err
	}
	if aq.Failed, err = boolParam(q, "failed"); err != nil {
		return aq, false, err
	}
	if aq.Newest, err = boolParam(q, "newest"); err != nil {
		return aq, false, err
	}
	if follow, err = boolParam(q, "follow"); err != nil {
		return aq, false, err
	}
	if v := q.Get("after_seq"); v != "" {
		if aq.AfterSeq, err = strconv.ParseInt(v, 10, 64); err != nil || aq.AfterSeq < 0 {
			return aq, false, errInvalid("after_seq: want 0 or more")
		}
	}
	aq.Limit = MaxAuditPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAuditPage {
			return aq, false, errInvalid(fmt.Sprintf("limit: want 1 to %d", MaxAuditPage))
		}
		aq.Limit = n
	}
	if follow && (aq.AfterSeq == 0 || aq.Newest) {
		return aq, false, errInvalid("follow: give after_seq (the last seq seen), without newest")
	}
	return aq, follow, nil
}

// handleAuditEvents: GET /v1/audit/events?secret=&service=&action=&since=
// &until=&failed=&after_seq=&limit=&newest=&follow= lists audit events,
// oldest first, at most limit (MaxAuditPage) of them; "more" says the
// next page starts after the last seq. The audit right (admin, auditor)
// is needed; a service never has it. Each query is recorded. A poll of a
// follow (follow=true, after the first request of `audit tail -f`, which
// is recorded as audit-tail) is recorded too, unless every event it returns
// is one of the caller's own audit reads: recording those would feed the
// poll its own events, and they tell nothing new. follow=true therefore
// never hides a read of anyone else's events.
func (s *Server) handleAuditEvents(w http.ResponseWriter, r *http.Request) {
	aq, follow, err := auditQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	action := actionAuditQuery
	if aq.Newest {
		action = actionAuditTail
	}
	svc := s.permittedService(w, r, identity.Audit, action)
	if svc == nil {
		return
	}
	ctx := r.Context()
	page := aq.Limit
	if !aq.Newest {
		aq.Limit++ // one more says whether there is a next page
	}
	es, err := svc.Store().QueryAudit(ctx, aq)
	if err != nil {
		writeError(w, r, err)
		return
	}
	more := len(es) > page
	if more {
		es = es[:page]
	}
	if !follow || !onlyOwnAuditReads(ctx, es) {
		ev := audit.Event{Action: action, Secret: auditField(aq.Secret), Outcome: audit.Success, Detail: fmt.Sprintf("%d events", len(es))}
		if err := s.record(ctx, ev); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if es == nil {
		es = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": es, "more": more})
}

// onlyOwnAuditReads reports whether es is empty or holds nothing but the
// caller's own audit-query and audit-tail records.
func onlyOwnAuditReads(ctx context.Context, es []audit.Entry) bool {
	c := audit.CallerFrom(ctx)
	for _, e := range es {
		if e.Service != c.Service || e.Actor != c.Actor || (e.Action != actionAuditQuery && e.Action != actionAuditTail) {
			return false
		}
	}
	return true
}

// auditKey opens the audit key, or answers 503.
func (s *Server) auditKey(r *http.Request) (*audit.MACKey, error) {
	if s.d.AuditKey == nil {
		return nil, errNoOps
	}
	k, err := s.d.AuditKey(r.Context())
	if err != nil {
		s.log.Warn("the audit key could not be opened", "error", safeErr(err))
		return nil, &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the server cannot open the audit key"}
	}
	return k, nil
}

// headView is the answer of GET /v1/audit/head.
type headView struct {
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"`
	Anchor string `json:"anchor"` // SEQ:HASH, for audit verify --anchor
}

// handleAuditHead: GET /v1/audit/head returns the chain's head after
// checking its last event's MAC under the audit key. The audit right is
// needed.
func (s *Server) handleAuditHead(w http.ResponseWriter, r *http.Request) {
	svc := s.permittedService(w, r, identity.Audit, actionAuditHead)
	if svc == nil {
		return
	}
	key, err := s.auditKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	h, err := audit.AuthenticHead(r.Context(), svc.Store(), key)
	if err != nil {
		s.log.Warn("audit head", "error", safeErr(err))
		writeError(w, r, &apiError{http.StatusConflict, CodeIntegrity, "the chain's last event fails its MAC check: run audit verify"})
		return
	}
	if err := s.record(r.Context(), audit.Event{Action: actionAuditHead, Outcome: audit.Success, Detail: "seq " + strconv.FormatInt(h.Seq, 10)}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, headView{Seq: h.Seq, Hash: h.Hash, Anchor: h.Anchor()})
}

// verifyView is the answer of POST /v1/audit/verify, as `audit verify
// --format json` prints it.
type verifyView struct {
	OK     bool   `json:"ok"`
	Source string `json:"source"`
	audit.Result
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// handleAuditVerify: POST /v1/audit/verify with {"anchor": "SEQ:HASH"}
// or nothing verifies the store's whole chain under the audit key, and
// says where it first breaks. The audit right is needed; the check is
// recorded with its outcome.
func (s *Server) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Anchor string `json:"anchor"`
	}
	if err := decodeOptionalJSON(r, &body, `{"anchor": "SEQ:HASH"} or nothing`); err != nil {
		writeError(w, r, err)
		return
	}
	var anchor *audit.Head
	if body.Anchor != "" {
		if len(body.Anchor) > 200 {
			writeError(w, r, errInvalid("anchor: want SEQ:HASH"))
			return
		}
		h, err := audit.ParseAnchor(body.Anchor)
		if err != nil {
			writeError(w, r, errInvalid("anchor: want SEQ:HASH as audit head prints it"))
			return
		}
		anchor = &h
	}
	svc := s.permittedService(w, r, identity.Audit, actionAuditVerify)
	if svc == nil {
		return
	}
	key, err := s.auditKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := audit.VerifyStore(r.Context(), svc.Store(), []audit.MACKey{*key}, anchor)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ev := audit.Event{Action: actionAuditVerify, Outcome: audit.Success, Detail: fmt.Sprintf("%d events", res.Events)}
	if !res.OK() {
		ev.Outcome, ev.Reason = audit.Failure, "chain broken"
	}
	if err := s.record(r.Context(), ev); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, verifyView{OK: res.OK(), Source: "store", Result: res, HeadSeq: res.Head.Seq, HeadHash: res.Head.Hash})
}

var _ audit.ChainReader = store.Store(nil)
