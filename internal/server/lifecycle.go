package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// MaxImportEntries bounds the entries of one POST /v1/secrets:import; the
// body is bounded by MaxBodyBytes too.
const MaxImportEntries = 1000

// Lifecycle operations of POST /v1/secrets/{name}:{op}.
const (
	opRollback = "rollback"
	opUndelete = "undelete"
	opDestroy  = "destroy"
)

// handleSecretOp: POST /v1/secrets/{name}:rollback {"to": N, "cas": M},
// :undelete and :destroy {"version": N}. Each needs the right to write the
// secret (identity.Write; destroy, identity.Destroy, which the policy grants
// a service with write) and runs the one method of the secrets service,
// which audits it.
func (s *Server) handleSecretOp(w http.ResponseWriter, r *http.Request) {
	name, op, ok := cutOp(r.PathValue("name"))
	if !ok {
		writeError(w, r, &apiError{http.StatusNotFound, CodeNotFound, "no such route: want /v1/secrets/NAME:rollback, :undelete or :destroy"})
		return
	}
	if err := secrets.ValidateName(name); err != nil {
		writeError(w, r, err)
		return
	}
	var body struct {
		To      *int `json:"to"`
		CAS     *int `json:"cas"`
		Version *int `json:"version"`
	}
	if err := decodeOptionalJSON(r, &body, `{"to": N, "cas": M} (rollback), {"version": N} (destroy) or nothing (undelete)`); err != nil {
		writeError(w, r, err)
		return
	}
	switch op {
	case opRollback:
		switch {
		case body.To == nil || *body.To < 1:
			writeError(w, r, errInvalid(`to: required, a version of 1 or more`))
			return
		case body.CAS != nil && *body.CAS < 0:
			writeError(w, r, errInvalid(`cas: want 0 (must not exist) or the current version`))
			return
		case body.Version != nil:
			writeError(w, r, errInvalid(`version: not a field of rollback (want "to")`))
			return
		}
	case opDestroy:
		switch {
		case body.Version == nil || *body.Version < 1:
			writeError(w, r, errInvalid(`version: required, 1 or more`))
			return
		case body.To != nil || body.CAS != nil:
			writeError(w, r, errInvalid(`destroy takes "version" only`))
			return
		}
	case opUndelete:
		if body.To != nil || body.CAS != nil || body.Version != nil {
			writeError(w, r, errInvalid("undelete takes no field"))
			return
		}
	}
	action, auditAction := identity.Write, secrets.ActionRollback
	switch op {
	case opUndelete:
		auditAction = secrets.ActionUndelete
	case opDestroy:
		action, auditAction = identity.Destroy, secrets.ActionDestroy
	}
	ctx, err := s.authorize(r.Context(), action, auditAction, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch op {
	case opRollback:
		v, err := s.d.Secrets.Rollback(ctx, name, *body.To, body.CAS)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, versionMeta(name, "", v))
	case opUndelete:
		if err := s.d.Secrets.Undelete(ctx, name); err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "restored": true})
	case opDestroy:
		if err := s.d.Secrets.Destroy(ctx, name, *body.Version); err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "version": *body.Version, "destroyed": true})
	}
}

// cutOp splits "NAME:op" for the lifecycle operations.
func cutOp(p string) (name, op string, ok bool) {
	i := strings.LastIndexByte(p, ':')
	if i < 1 {
		return "", "", false
	}
	name, op = p[:i], p[i+1:]
	switch op {
	case opRollback, opUndelete, opDestroy:
		return name, op, true
	}
	return "", "", false
}

// importEntry is one entry of POST /v1/secrets:import.
type importEntry struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// handleImport: POST /v1/secrets:import {"prefix": P, "class": C,
// "entries": [{"name", "value"}]} writes every entry as a new version of
// prefix+name in one transaction, all or none (secrets.Service.Import). The
// caller needs the right to write each of them; one refusal refuses the
// whole import, before anything is written.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prefix  string        `json:"prefix"`
		Class   string        `json:"class"`
		Entries []importEntry `json:"entries"`
	}
	if err := decodeJSON(r, &body, `{"prefix": P, "class": C, "entries": [{"name": NAME, "value": V}]}`); err != nil {
		writeError(w, r, err)
		return
	}
	switch {
	case len(body.Entries) == 0:
		writeError(w, r, errInvalid(`entries: at least one`))
		return
	case len(body.Entries) > MaxImportEntries:
		writeError(w, r, errInvalid("entries: at most 1000 per request"))
		return
	case body.Prefix != "" && secrets.ValidatePrefix(body.Prefix) != nil:
		writeError(w, r, secrets.ValidatePrefix(body.Prefix))
		return
	case body.Class != "" && !secrets.ValidClass(body.Class):
		writeError(w, r, errInvalid("class: unknown"))
		return
	}
	entries := make([]secrets.Entry, 0, len(body.Entries))
	seen := make(map[string]bool, len(body.Entries))
	for i, e := range body.Entries {
		full := body.Prefix + e.Name
		if err := secrets.ValidateName(full); err != nil {
			writeError(w, r, errInvalid("entries["+strconv.Itoa(i)+"]: "+strings.TrimPrefix(err.Error(), secrets.ErrInvalid.Error()+": ")))
			return
		}
		if e.Value == nil {
			writeError(w, r, errInvalid("entries["+strconv.Itoa(i)+"]: \"value\" is required"))
			return
		}
		if seen[full] {
			writeError(w, r, errInvalid("entries["+strconv.Itoa(i)+"]: a name given twice"))
			return
		}
		seen[full] = true
		entries = append(entries, secrets.Entry{Name: e.Name, Value: sensitive.New(*e.Value)})
	}
	ctx := r.Context()
	for _, e := range entries {
		c, err := s.authorize(r.Context(), identity.Write, secrets.ActionWrite, body.Prefix+e.Name)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx = c
	}
	n, err := s.d.Secrets.Import(ctx, entries, secrets.ImportOptions{Prefix: body.Prefix, Class: body.Class})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": n})
}
