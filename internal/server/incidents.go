package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// Audit actions of the incident routes the responder does not record
// itself (it records open, report and close).
const (
	actionIncidentOpen   = respond.ActionOpen
	actionIncidentStatus = "incident-status"
	actionIncidentReport = respond.ActionReport
	actionIncidentClose  = respond.ActionClose
)

// maxNoteLen bounds an incident's reason and review note.
const maxNoteLen = 1024

// responder returns the Secret Compromise Procedure over the server's
// store, acting as the request's identity.
func (s *Server) responder(r *http.Request) (*respond.Responder, error) {
	svc, err := s.service()
	if err != nil {
		return nil, err
	}
	return &respond.Responder{Store: svc.Store(), Secrets: svc, Recorder: s.d.Audit, Now: s.now,
		Actor: principalFrom(r.Context()).id.Actor()}, nil
}

// incidentError maps the responder's errors for writeError.
func incidentError(err error) error {
	var nf *respond.NotFoundError
	switch {
	case errors.As(err, &nf) && strings.HasPrefix(nf.What, "no incident"):
		return &apiError{http.StatusNotFound, CodeNotFound, "no such incident"}
	case errors.As(err, &nf):
		return &apiError{http.StatusNotFound, CodeNotFound, "the secret has no version to mark compromised"}
	case errors.Is(err, incident.ErrClosed):
		return &apiError{http.StatusConflict, CodeConflict, "the incident is already closed"}
	}
	return err
}

// checkIncidentID refuses what cannot be an incident ID
// (INC-YYYYMMDD-hex, incident.NewID).
func checkIncidentID(id string) error {
	if id == "" || len(id) > 64 {
		return errInvalid("incident ID: want INC-YYYYMMDD-XXXXXX")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return errInvalid("incident ID: want INC-YYYYMMDD-XXXXXX")
		}
	}
	return nil
}

// checkNote refuses an empty or oversized reason or review.
func checkNote(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errInvalid(field + ": required")
	case len(v) > maxNoteLen:
		return errInvalid(field + ": at most 1024 bytes")
	}
	return nil
}

// openedView is the answer of POST /v1/incidents.
type openedView struct {
	*respond.Opened
	Warnings []string `json:"warnings"`
}

// handleIncidentOpen: POST /v1/incidents {"secret", "reason",
// "revoke_tokens"} declares the secret's current version compromised: the
// server never serves it again, writes a generated replacement for the
// classes it can generate, and with revoke_tokens revokes the tokens of
// every service that read it (respond.Responder.Open). The incident-open
// right is needed (admin, responder).
func (s *Server) handleIncidentOpen(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Secret string `json:"secret"`
		Reason string `json:"reason"`
		Revoke bool   `json:"revoke_tokens"`
	}
	if err := decodeJSON(r, &body, `{"secret": NAME, "reason": TEXT, "revoke_tokens": BOOL}`); err != nil {
		writeError(w, r, err)
		return
	}
	if err := secrets.ValidateName(body.Secret); err != nil {
		writeError(w, r, errInvalid("secret: not a secret name"))
		return
	}
	if err := checkNote("reason", body.Reason); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.permitted(r, identity.IncidentOpen, actionIncidentOpen, body.Secret) {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	rs, err := s.responder(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := rs.Open(r.Context(), body.Secret, body.Reason, body.Revoke)
	if err != nil {
		writeError(w, r, incidentError(err))
		return
	}
	if body.Revoke && out.RevokedTokens > 0 {
		for _, svc := range out.RevokedServices {
			s.d.Tokens.ForgetService(svc) // this node at once; others within the cache's TTL
		}
	}
	warnings := out.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, openedView{Opened: out, Warnings: warnings})
}

// handleIncidents: GET /v1/incidents[?all=true] lists the open incidents
// (all: closed ones too) with each step's deadline and state; GET
// /v1/incidents/{id} one incident. The incident-read right is needed
// (admin, auditor, responder).
func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	if err := knownParams(q, "all"); err != nil {
		writeError(w, r, err)
		return
	}
	all, err := boolParam(q, "all")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if id != "" {
		if err := checkIncidentID(id); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if !s.permitted(r, identity.IncidentRead, actionIncidentStatus, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	rs, err := s.responder(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := rs.Status(r.Context(), id, all, s.now())
	if err != nil {
		writeError(w, r, incidentError(err))
		return
	}
	detail := "open incidents"
	if id != "" {
		detail = "incident " + id
	}
	if err := s.record(r.Context(), audit.Event{Action: actionIncidentStatus, Outcome: audit.Success, Detail: detail}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

// handleIncidentOp: POST /v1/incidents/{id}:report (body {"since":
// RFC3339} or nothing) produces the incident report, which marks the
// access-log step done (incident-read right: admin, auditor, responder);
// POST /v1/incidents/{id}:close {"review": TEXT} closes the incident
// (incident-open right: admin, responder).
func (s *Server) handleIncidentOp(w http.ResponseWriter, r *http.Request) {
	id, op, ok := strings.Cut(r.PathValue("op"), ":")
	if !ok || (op != "report" && op != "close") {
		writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no such route: want /v1/incidents/ID:report or :close"})
		return
	}
	if err := checkIncidentID(id); err != nil {
		writeError(w, r, err)
		return
	}
	var body struct {
		Since  string `json:"since"`
		Review string `json:"review"`
	}
	want := `{"since": RFC3339} or nothing`
	if op == "close" {
		want = `{"review": TEXT}`
	}
	if err := decodeOptionalJSON(r, &body, want); err != nil {
		writeError(w, r, err)
		return
	}
	a, action := identity.IncidentRead, actionIncidentReport
	if op == "close" {
		a, action = identity.IncidentOpen, actionIncidentClose
	}
	var since time.Time
	switch op {
	case "report":
		if body.Review != "" {
			writeError(w, r, errInvalid("review: for :close only"))
			return
		}
		if body.Since != "" {
			t, err := time.Parse(time.RFC3339Nano, body.Since)
			if err != nil {
				writeError(w, r, errInvalid("since: want an RFC 3339 time"))
				return
			}
			since = t
		}
	case "close":
		if body.Since != "" {
			writeError(w, r, errInvalid("since: for :report only"))
			return
		}
		if err := checkNote("review", body.Review); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if !s.permitted(r, a, action, "") {
		writeError(w, r, errDeniedOrMissing)
		return
	}
	rs, err := s.responder(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if op == "report" {
		rep, err := rs.Report(r.Context(), id, since)
		if err != nil {
			writeError(w, r, incidentError(err))
			return
		}
		writeJSON(w, http.StatusOK, rep)
		return
	}
	inc, err := rs.Close(r.Context(), id, body.Review)
	if err != nil {
		writeError(w, r, incidentError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": inc.ID, "closed": true, "missed": inc.AnyMissed(s.now())})
}
