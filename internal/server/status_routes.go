package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
)

// Audit actions of the status, key and verify routes (verify is recorded
// by the secrets service).
const (
	actionStatus  = "status"
	actionKeyList = "key-list"
	actionVerify  = "verify"
)

// operatorAction is the audit action of an audit, incident, status, key or
// verify route ("" for another), for a refusal before its handler runs
// (no token).
func operatorAction(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v1/audit/head":
		return actionAuditHead
	case p == "/v1/audit/verify":
		return actionAuditVerify
	case strings.HasPrefix(p, "/v1/audit/"):
		return actionAuditQuery
	case strings.HasPrefix(p, "/v1/incidents") && r.Method == http.MethodGet:
		return actionIncidentStatus
	case strings.HasSuffix(p, ":report") && strings.HasPrefix(p, "/v1/incidents/"):
		return actionIncidentReport
	case strings.HasSuffix(p, ":close") && strings.HasPrefix(p, "/v1/incidents/"):
		return actionIncidentClose
	case p == "/v1/incidents":
		return actionIncidentOpen
	case p == "/v1/status":
		return actionStatus
	case p == "/v1/keys":
		return actionKeyList
	case p == "/v1/verify":
		return actionVerify
	}
	return ""
}

// statusReport runs the schedule check over the server's store with the
// keys the server loaded.
func (s *Server) statusReport(r *http.Request) (*rotate.StatusReport, error) {
	svc, err := s.service()
	if err != nil {
		return nil, err
	}
	return rotate.Status(r.Context(), svc.Store(), svc.Ring(), s.now())
}

// handleStatus: GET /v1/status is `status` on the server: key ages and
// retention, the secrets due, credentials due, rotations left unfinished
// (versions still under a decrypt-only key), judged with the keys the
// server loaded. Never a value or a key. The status right is needed
// (admin, auditor, responder).
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	s.serveStatus(w, r, identity.Status, actionStatus, func(rep *rotate.StatusReport) (string, any) {
		return fmt.Sprintf("compliant %t, %d finding(s)", rep.Compliant, len(rep.Overdue)), rep
	})
}

// handleKeys: GET /v1/keys is `key list` on the server: each key's ID,
// state, whether the server loaded it and how many versions use it; never
// a key. The keys right is needed (admin, auditor).
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	s.serveStatus(w, r, identity.Keys, actionKeyList, func(rep *rotate.StatusReport) (string, any) {
		return fmt.Sprintf("%d keys", len(rep.Keys)), map[string]any{"keys": rep.Keys}
	})
}

// serveStatus answers a request for the status report: with the right
// it needs, the report (statusReport) recorded as action with the detail
// view gives, then the view's body as JSON.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, right identity.Action, action string, view func(*rotate.StatusReport) (detail string, body any)) {
	if err := knownParams(r.URL.Query()); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.permitted(r, right, action, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	rep, err := s.statusReport(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	detail, body := view(rep)
	if err := s.record(r.Context(), audit.Event{Action: action, Outcome: audit.Success, Detail: detail}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// handleVerify: POST /v1/verify is `verify` on the server: every stored
// version is checked to decrypt under the key its key ID names, with its
// row binding; the report names failing versions, never a value. The keys
// right is needed (admin, auditor); the secrets service records the check.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if err := knownParams(r.URL.Query()); err != nil {
		writeError(w, r, err)
		return
	}
	if err := decodeOptionalJSON(r, &struct{}{}, "nothing"); err != nil {
		writeError(w, r, err)
		return
	}
	svc := s.permittedService(w, r, identity.Keys, actionVerify)
	if svc == nil {
		return
	}
	rep, err := svc.Verify(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
