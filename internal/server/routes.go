package server

import (
	"net/http"
	"strings"
)

// authKind says what credential a route takes.
type authKind int

const (
	authNone       authKind = iota // health, metrics, the OpenAPI document
	authCredential                 // an identity's credential: login
	authToken                      // a token of a live identity
)

// route is one entry of the API. Name labels metrics; OpenAPI is the path
// as documented, which a test checks against the mux.
type route struct {
	method  string
	pattern string // Go 1.22 mux pattern, without the method
	name    string
	auth    authKind
	handler http.HandlerFunc
}

// historySuffix ends a secret path that asks for the secret's history. The
// mux's {name...} wildcard must end a pattern, so GET /v1/secrets/{name...}
// dispatches on it; no secret may have "history" as its last segment.
const historySuffix = "/history"

func (s *Server) routeTable() []route {
	return []route{
		{"POST", "/v1/auth/login", "auth.login", authCredential, s.handleLogin},
		{"POST", "/v1/auth/renew", "auth.renew", authToken, s.handleRenew},
		{"POST", "/v1/auth/revoke", "auth.revoke", authToken, s.handleRevoke},
		{"GET", "/v1/auth/self", "auth.self", authToken, s.handleSelf},
		{"GET", "/v1/identities", "identities.list", authToken, s.handleIdentities},
		{"POST", "/v1/identities", "identities.add", authToken, s.handleAddIdentity},
		{"POST", "/v1/identities/{op}", "identities.op", authToken, s.handleIdentityOp}, // NAME:rotate, NAME:revoke
		{"GET", "/v1/secrets", "secrets.list", authToken, s.handleList},
		{"GET", "/v1/secrets/{name...}", "secrets.get", authToken, s.handleGet}, // and .../history
		{"PUT", "/v1/secrets/{name...}", "secrets.put", authToken, s.handlePut},
		{"DELETE", "/v1/secrets/{name...}", "secrets.delete", authToken, s.handleDelete},
		{"POST", "/v1/secrets/{name...}", "secrets.op", authToken, s.handleSecretOp}, // NAME:rollback, :undelete, :destroy
		{"POST", "/v1/secrets:import", "secrets.import", authToken, s.handleImport},
		{"POST", "/v1/policy/explain", "policy.explain", authToken, s.handleExplain},
		{"GET", "/v1/platform-keys", "platform.keys", authToken, s.handlePlatformKeys},
		{"GET", "/v1/audit/events", "audit.events", authToken, s.handleAuditEvents},
		{"GET", "/v1/audit/head", "audit.head", authToken, s.handleAuditHead},
		{"POST", "/v1/audit/verify", "audit.verify", authToken, s.handleAuditVerify},
		{"POST", "/v1/incidents", "incidents.open", authToken, s.handleIncidentOpen},
		{"GET", "/v1/incidents", "incidents.list", authToken, s.handleIncidents},
		{"GET", "/v1/incidents/{id}", "incidents.get", authToken, s.handleIncidents},
		{"POST", "/v1/incidents/{op}", "incidents.op", authToken, s.handleIncidentOp}, // ID:report, ID:close
		{"GET", "/v1/status", "status", authToken, s.handleStatus},
		{"GET", "/v1/keys", "keys.list", authToken, s.handleKeys},
		{"POST", "/v1/verify", "verify", authToken, s.handleVerify},
		{"GET", "/v1/sys/health", "sys.health", authNone, s.handleHealth},
		{"GET", "/metrics", "metrics", authNone, s.handleMetrics},
		{"GET", "/v1/openapi.json", "openapi", authNone, s.handleOpenAPI},
	}
}

func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		name, h := rt.name, rt.handler
		switch rt.auth {
		case authToken:
			h = s.requireToken(h)
		case authCredential:
			// login reads the credential itself
		}
		s.mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			if info := infoFrom(r.Context()); info != nil {
				info.route = name
				if name == "secrets.get" && strings.HasSuffix(r.PathValue("name"), historySuffix) {
					info.route = "secrets.history"
				}
				if name == "identities.op" {
					if _, op, _ := strings.Cut(r.PathValue("op"), ":"); op == "rotate" || op == "revoke" {
						info.route = "identities." + op
					}
				}
				if name == "incidents.op" {
					if _, op, _ := strings.Cut(r.PathValue("op"), ":"); op == "report" || op == "close" {
						info.route = "incidents." + op
					}
				}
				if name == "secrets.op" {
					if _, op, ok := cutOp(r.PathValue("name")); ok {
						info.route = "secrets." + op
					}
				}
			}
			h(w, r)
		})
	}
	s.mux.HandleFunc("/", s.notFound)
}

// notFound answers, in JSON, what no route serves: the mux sends here
// every request no other pattern matches, wrong methods included.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "" && p != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, &apiError{http.StatusMethodNotAllowed, CodeMethod, "method not allowed; see /v1/openapi.json"})
		return
	}
	writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no such route; see /v1/openapi.json"})
}
