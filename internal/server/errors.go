package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
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
	CodeGone            = "gone"
	CodeCompromised     = "compromised"      // 410: the version is marked compromised (destroyed: gone)
	CodeKeyNotExpected  = "key_not_expected" // 503: the server's key is not one its store expects; writes refused
	CodeKeyNotLoaded    = "key_not_loaded"   // 500: the version is under a key the server has not loaded
	CodeIntegrity       = "integrity"
	CodeRateLimited     = "rate_limited"
	CodeNotText         = "not_text" // 422: the stored value is not UTF-8 text, which JSON cannot carry unchanged
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

// classify maps an error to status, code and a message that never holds a
// value: messages come from this table, not from err.
func classify(err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	var kn *secrets.KeyNotLoadedError
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
	case errors.Is(err, audit.ErrNotRecorded):
		return &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the audit sink is unavailable; access refused"}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDeleted):
		return &apiError{http.StatusNotFound, CodeNotFound, "no such secret or version"}
	case errors.Is(err, store.ErrDestroyed):
		return &apiError{http.StatusGone, CodeGone, "the version is destroyed"}
	case errors.Is(err, store.ErrCompromised):
		// Named as the local store names it ("NAME version N"): the caller
		// was granted the secret before it was read.
		msg := "the version is marked compromised and is never served"
		if _, which, ok := strings.Cut(err.Error(), store.ErrCompromised.Error()+": "); ok {
			msg = "version is marked compromised and is never served: " + which
		}
		return &apiError{http.StatusGone, CodeCompromised, msg}
	case errors.Is(err, store.ErrConflict):
		return &apiError{http.StatusConflict, CodeConflict, "check-and-set failed: the current version differs from cas"}
	case errors.Is(err, secrets.ErrInvalid):
		// The service's input errors name the input and never its value.
		return &apiError{http.StatusBadRequest, CodeInvalid, strings.TrimPrefix(err.Error(), secrets.ErrInvalid.Error()+": ")}
	case errors.Is(err, secrets.ErrNotCarried):
		// Names the secret and its version, never the value.
		return &apiError{http.StatusUnprocessableEntity, CodeNotText, err.Error()}
	case errors.Is(err, secrets.ErrKeyNotExpected):
		// key IDs only, never a key; the server's operator loads the right key
		return &apiError{http.StatusServiceUnavailable, CodeKeyNotExpected, err.Error()}
	case errors.Is(err, secrets.ErrNoKeys), errors.Is(err, store.ErrUnavailable):
		return &apiError{http.StatusServiceUnavailable, CodeUnavailable, "the store or its key is unavailable"}
	case errors.Is(err, secrets.ErrStateTampered):
		return &apiError{http.StatusInternalServerError, CodeIntegrity, "the secret's state fails its state MAC: it was changed outside sa01-secrets"}
	case errors.As(err, &kn):
		// The secret, its version and the key it needs, by ID: the caller
		// was granted the secret before it was read; the keys the server
		// did load stay in its log.
		return &apiError{http.StatusInternalServerError, CodeKeyNotLoaded,
			fmt.Sprintf("secret %s version %d is encrypted under key %s, which the server has not loaded", kn.Name, kn.Version, kn.KeyID)}
	case errors.Is(err, fernet.ErrInvalidToken):
		return &apiError{http.StatusInternalServerError, CodeIntegrity, "the stored version fails its integrity check or needs a key that is not loaded"}
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
