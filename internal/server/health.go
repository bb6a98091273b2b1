package server

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// handleHealth: GET /v1/sys/health. 200 when every check passes, else 503.
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
		"auth_required": true, // authentication is never off
		"checks":        checks,
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
