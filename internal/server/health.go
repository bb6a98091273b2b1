package server

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// handleHealth: GET /v1/sys/health. 200 when every check passes, else 503.
// It says when authentication is off.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	names := make([]string, 0, len(s.d.Checks))
	for n := range s.d.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.d.Checks[n](ctx); err != nil {
			checks[n] = "unavailable"
			ready = false
			s.log.Warn("health check failed", "check", n, "error", safeErr(err))
		} else {
			checks[n] = "ok"
		}
	}
	body := map[string]any{
		"status":        "ok",
		"auth_required": s.d.AuthRequired,
		"checks":        checks,
	}
	if !s.d.AuthRequired {
		body["warning"] = "authentication is disabled (SA01_AUTH_REQUIRED=false): any caller can read every secret"
	}
	status := http.StatusOK
	if !ready {
		body["status"] = "unavailable"
		status = http.StatusServiceUnavailable
		if info := infoFrom(r.Context()); info != nil {
			info.code = CodeUnavailable
		}
	}
	writeJSON(w, status, body)
}
