package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Error codes on the wire, in {"code","message"}.
const (
	CodeUnauthenticated = "unauthenticated"
	CodeDenied          = "denied"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeInvalid         = "invalid_request"
	CodeTooLarge        = "too_large"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
	CodeMethod          = "method_not_allowed"
)

// apiError is an error with its wire form decided.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errInvalid(msg string) error { return &apiError{http.StatusBadRequest, CodeInvalid, msg} }

// errDeniedOrMissing is the one answer to a read the caller may not make,
// whether the secret exists or not.
var errDeniedOrMissing = &apiError{http.StatusForbidden, CodeDenied, "permission denied"}

// Sentinels the secrets service returns, matched by the adapter in cmd
// through these variables so that this file is the one mapping.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("version conflict")
	ErrInvalidName = errors.New("invalid secret name")
	ErrInvalidBody = errors.New("invalid value")
)

// classify maps an error to status, code and a message that never holds a
// value: messages come from this table, not from err.
func classify(err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &apiError{http.StatusRequestEntityTooLarge, CodeTooLarge, "request body too large"}
	case errors.Is(err, token.ErrExpired):
		return &apiError{http.StatusUnauthorized, CodeUnauthenticated, "token expired: log in again"}
	case errors.Is(err, token.ErrRevoked):
		return &apiError{http.StatusUnauthorized, CodeUnauthenticated, "token revoked"}
	case errors.Is(err, token.ErrMalformed), errors.Is(err, token.ErrInvalid):
		return &apiError{http.StatusUnauthorized, CodeUnauthenticated, "invalid token"}
	case errors.Is(err, policy.ErrDenied):
		return errDeniedOrMissing
	case errors.Is(err, ErrNotFound):
		return &apiError{http.StatusNotFound, CodeNotFound, "no such secret or version"}
	case errors.Is(err, ErrConflict):
		return &apiError{http.StatusConflict, CodeConflict, "check-and-set failed: the current version differs from cas"}
	case errors.Is(err, ErrInvalidName):
		return &apiError{http.StatusBadRequest, CodeInvalid, "invalid secret name"}
	case errors.Is(err, ErrInvalidBody):
		return &apiError{http.StatusBadRequest, CodeInvalid, "invalid value: empty or over the size limit"}
	case errors.Is(err, audit.ErrNotRecorded):
		return &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the audit sink is unavailable; access refused"}
	}
	return &apiError{http.StatusInternalServerError, CodeInternal, "internal error"}
}

// writeError writes err as {"code","message"}.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	if info := infoFrom(r.Context()); info != nil {
		info.code = e.code
		if e.status >= 500 {
			info.err = err
		}
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sa01-secrets"`)
	}
	writeJSON(w, e.status, struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.code, e.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// outcome names a response for metrics and audit: success or the code.
func outcome(status int, code string) string {
	if status < 400 {
		return "success"
	}
	if code == "" {
		return "error"
	}
	return code
}
