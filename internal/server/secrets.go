package server

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

type secretView struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	Value     string    `json:"value"`
	Env       string    `json:"env"`
	CreatedAt time.Time `json:"created_at"`
}

type metaView struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	Env       string    `json:"env"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Class     string    `json:"class,omitempty"`                   // in lists
	Rotation  int64     `json:"rotation_period_seconds,omitempty"` // in lists: 0 when none is scheduled
	KeyID     string    `json:"key_id,omitempty"`                  // in histories: the key that encrypted the version
	Readable  *bool     `json:"readable,omitempty"`                // in lists: may the caller read the value
	EnvMapped bool      `json:"env_mapped,omitempty"`              // in lists: env is the caller's own policy mapping
	// DeletedAt is set in lists with deleted=true for a soft-deleted secret.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// DestroyedAt and CompromisedAt mark a version in histories.
	DestroyedAt   *time.Time `json:"destroyed_at,omitempty"`
	CompromisedAt *time.Time `json:"compromised_at,omitempty"`
}

func secretMeta(s store.Secret) metaView {
	return metaView{Name: s.Name, Version: s.CurrentVersion, Env: secrets.EnvName(s.Name, s.EnvName, ""), CreatedAt: s.UpdatedAt.UTC(),
		Class: s.Class, Rotation: int64(s.RotationPeriod / time.Second), DeletedAt: optTime(s.DeletedAt)}
}

func versionMeta(name, env string, v store.Version) metaView {
	return metaView{Name: name, Version: v.Version, Env: secrets.EnvName(name, env, ""), CreatedAt: v.CreatedAt.UTC(), CreatedBy: v.Actor, KeyID: v.KeyID,
		DestroyedAt: optTime(v.DestroyedAt), CompromisedAt: optTime(v.CompromisedAt)}
}

func secretName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if name == "" {
		return "", errInvalid("missing secret name in the path")
	}
	return name, nil
}

// handleGet: GET /v1/secrets/{name}[?version=N], and GET
// /v1/secrets/{name}/history.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if base, ok := strings.CutSuffix(name, historySuffix); ok && base != "" {
		if _, err := query(r); err != nil {
			writeError(w, r, err)
			return
		}
		s.handleHistory(w, r, base)
		return
	}
	q, err := query(r, "version")
	if err != nil {
		writeError(w, r, err)
		return
	}
	version := 0
	if v := q.Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, errInvalid("version: want a positive integer"))
			return
		}
		version = n
	}
	ctx, err := s.authorize(r.Context(), identity.Read, "read", name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	sec, err := s.d.Secrets.Get(ctx, name, version)
	if err == nil {
		// A version stored by an older version as other bytes is refused
		// by name: encoding/json would send U+FFFD in their place.
		err = secrets.CheckText(name, sec.Version.Version, sec.Value.Reveal())
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretView{
		Name:      name,
		Version:   sec.Version.Version,
		Value:     sec.Value.Reveal(),
		Env:       secrets.EnvName(name, sec.Secret.EnvName, ""),
		CreatedAt: sec.Version.CreatedAt.UTC(),
	})
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request, name string) {
	ctx, err := s.authorize(r.Context(), identity.History, "list", name) // as the service audits history
	if err != nil {
		writeError(w, r, err)
		return
	}
	sec, versions, err := s.d.Secrets.History(ctx, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]metaView, 0, len(versions))
	for _, v := range versions {
		out = append(out, versionMeta(name, sec.EnvName, v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "class": sec.Class, "env": secrets.EnvName(name, sec.EnvName, ""),
		"current_version": sec.CurrentVersion, "versions": out})
}

// handlePut: PUT /v1/secrets/{name} with {"value": V, "cas": N}.
func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if strings.HasSuffix(name, historySuffix) {
		writeError(w, r, errInvalid(`a secret name may not end in "/history": that path reads the history`))
		return
	}
	var body struct {
		Value          *string `json:"value"`
		CAS            *int    `json:"cas"`
		Env            string  `json:"env"`
		Class          string  `json:"class"`
		Description    string  `json:"description"`
		Owner          string  `json:"owner"`
		RotationPeriod *int64  `json:"rotation_period_seconds"`
	}
	if err := decodeJSON(r, &body, `{"value": STRING, "cas": VERSION}`); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Value == nil {
		writeError(w, r, errInvalid(`request body: "value" is required`))
		return
	}
	if body.CAS != nil && *body.CAS < 0 {
		writeError(w, r, errInvalid(`cas: want 0 (must not exist) or the current version`))
		return
	}
	ctx, err := s.authorizeWrite(r.Context(), name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	o := secrets.PutOptions{CAS: body.CAS, Env: body.Env, Class: body.Class, Description: body.Description, Owner: body.Owner}
	if body.RotationPeriod != nil {
		if *body.RotationPeriod < 0 || *body.RotationPeriod > math.MaxInt64/int64(time.Second) {
			writeError(w, r, errInvalid("rotation_period_seconds: out of range"))
			return
		}
		d := time.Duration(*body.RotationPeriod) * time.Second
		o.RotationPeriod = &d
	}
	v, err := s.d.Secrets.Put(ctx, name, sensitive.New(*body.Value), o)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionMeta(name, body.Env, v))
}

// handleDelete: DELETE /v1/secrets/{name}.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, err := s.authorize(r.Context(), identity.Delete, "delete", name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.d.Secrets.Delete(ctx, name); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleList: GET /v1/secrets?prefix=P[&deleted=true] lists, without
// values, the secrets the caller may list (read implies list), each decided
// as an access (identity.Decide, then OPA); deleted=true includes the
// soft-deleted ones, with deleted_at. If OPA gives no answer in time for one
// of them, the whole list is refused as unavailable rather than shortened.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "prefix", "deleted")
	if err != nil {
		writeError(w, r, err)
		return
	}
	prefix := q.Get("prefix") // the service checks it, and audits a bad one
	deleted := false
	switch q.Get("deleted") {
	case "", "false":
	case "true":
		deleted = true
	default:
		writeError(w, r, errInvalid("deleted: want true or false"))
		return
	}
	all, err := s.d.Secrets.List(r.Context(), prefix, deleted)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id := principalFrom(r.Context()).id
	var mapped map[string]string // secret → variable, from the caller's own policy entry
	if id.Kind == identity.Service {
		for v, name := range s.d.Policy.Current().EnvMap(id.Name) {
			if mapped == nil {
				mapped = map[string]string{}
			}
			mapped[name] = v
		}
	}
	out := make([]metaView, 0, len(all))
	for _, m := range all {
		lv := s.decide(r.Context(), id, identity.List, m.Name)
		if lv.Unavailable() || lv.Err != nil {
			writeError(w, r, s.refuse(r.Context(), lv, "list", m.Name))
			return
		}
		if !lv.Allow {
			continue
		}
		v := secretMeta(m)
		rv := s.decide(r.Context(), id, identity.Read, m.Name)
		readable := rv.Allow
		v.Readable = &readable
		if env, ok := mapped[m.Name]; ok && readable {
			v.Env, v.EnvMapped = env, true
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

// keyView is one of the store's Fernet keys handed to a service, under the
// variable run injects it as.
type keyView struct {
	Env   string `json:"env"`
	Value string `json:"value"`
}

// handlePlatformKeys: GET /v1/platform-keys. The store's Fernet keys
// (SA01_CRYPTO_FERNET_KEY, SA01_CRYPTO_FERNET_PREVIOUS_KEYS) for a service
// identity whose policy entry says platform_key: true, which run injects;
// recorded first (action platform-key, never a key). Anyone else gets 403,
// audited.
func (s *Server) handlePlatformKeys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := principalFrom(ctx).id
	if id.Kind != identity.Service || !s.d.Policy.Current().PlatformKey(id.Name) {
		_ = s.record(ctx, audit.Event{Action: secrets.ActionPlatformKey, Outcome: audit.Failure, Reason: reasonDenied})
		writeError(w, r, errDeniedOrMissing)
		return
	}
	keys, err := s.d.Secrets.PlatformKeys(ctx)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]keyView, 0, len(keys))
	for _, env := range []string{config.EnvFernetKey, config.EnvFernetPreviousKeys} {
		out = append(out, keyView{Env: env, Value: keys[env].Reveal()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}
