package server

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"time"
)

// handleHealth: GET /v1/sys/health. 200 when every check passes, else 503.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	results := map[string]string{}
	ready := true
	checks := map[string]func(context.Context) error{}
	maps.Copy(checks, s.d.Checks)
	if s.d.OPA != nil {
		// an OPA that does not answer refuses every access: not ready
		checks["opa"] = s.d.OPA.Health
	}
	names := slices.Sorted(maps.Keys(checks))
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			results[n] = "unavailable"
			ready = false
			s.log.Warn("health check failed", "check", n, "error", safeErr(err))
		} else {
			results[n] = "ok"
		}
	}
	body := map[string]any{
		"status":        "ok",
		"auth_required": true, // authentication is never off
		"checks":        results,
	}
	if s.d.OPA != nil {
		body["opa"] = map[string]any{"endpoint": s.d.OPA.Endpoint(), "yaml_policy": !s.d.Policy.None(), "timeout_ms": s.d.OPA.Timeout().Milliseconds()}
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
