package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of the API. TestOpenAPIMatchesRoutes
// keeps it in step with routes.go.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI: GET /v1/openapi.json.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
