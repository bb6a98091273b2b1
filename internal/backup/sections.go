package backup

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// The sections of format version 1, in the order they are written and
// must be read (docs/backup.md). Each is critical: a restore that meets
// an unknown critical section refuses rather than leave its data behind.
const (
	SectionKeys             = "keys"
	SectionSecrets          = "secrets"
	SectionVersions         = "versions"
	SectionTokens           = "tokens"
	SectionIdentities       = "identities"
	SectionCredentials      = "credentials"
	SectionIncidents        = "incidents"
	SectionAuditKeys        = "audit_keys"
	SectionAuditCheckpoints = "audit_checkpoints"
	SectionAuditEvents      = "audit_events"
	SectionAuditCursors     = "audit_cursors"
)

// Sections lists the known sections in their order.
var Sections = []string{SectionKeys, SectionSecrets, SectionVersions, SectionTokens, SectionIdentities,
	SectionCredentials, SectionIncidents, SectionAuditKeys, SectionAuditCheckpoints, SectionAuditEvents, SectionAuditCursors}

// addedSections came after the first backups were written: a backup
// without them (from an older binary, before identities or before the
// keyed audit chain) is whole.
var addedSections = []string{SectionIdentities, SectionCredentials, SectionAuditKeys}

// meta is the payload of the first record.
type meta struct {
	CreatedAt time.Time `json:"created_at"`
	Software  string    `json:"software"`
	Source    string    `json:"source"` // the driver the store ran on: sqlite, postgres
}

// sectionHead is the payload of a section record.
type sectionHead struct {
	Name     string `json:"name"`
	Critical bool   `json:"critical"`
}

// sectionEnd is the payload of a section's end record.
type sectionEnd struct {
	Rows int64 `json:"rows"`
}

// trailer is the payload of the last record.
type trailer struct {
	Sections int    `json:"sections"`
	Rows     int64  `json:"rows"`
	SHA256   string `json:"sha256"`
	KeyID    string `json:"key_id,omitempty"`
	MAC      string `json:"mac,omitempty"`
}

// Row encodings. Times are RFC 3339 in UTC with their full precision;
// unset times are left out; bytes are standard base64 (bindings) or hex
// (hashes).

type keyRow struct {
	KeyID         string    `json:"key_id"`
	State         string    `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
	ActivatedAt   time.Time `json:"activated_at,omitzero"`
	DeactivatedAt time.Time `json:"deactivated_at,omitzero"`
	RetiredAt     time.Time `json:"retired_at,omitzero"`
	RetainUntil   time.Time `json:"retain_until,omitzero"`
	Note          string    `json:"note,omitempty"`
}

func toKeyRow(k store.KeyInfo) keyRow {
	return keyRow{k.ID, k.State, k.CreatedAt, k.ActivatedAt, k.DeactivatedAt, k.RetiredAt, k.RetainUntil, k.Note}
}

func (r keyRow) value() (store.KeyInfo, error) {
	if r.KeyID == "" {
		return store.KeyInfo{}, fmt.Errorf("a key without key_id")
	}
	return store.KeyInfo{ID: r.KeyID, State: r.State, CreatedAt: r.CreatedAt, ActivatedAt: r.ActivatedAt,
		DeactivatedAt: r.DeactivatedAt, RetiredAt: r.RetiredAt, RetainUntil: r.RetainUntil, Note: r.Note}, nil
}

type secretRow struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Class          string    `json:"class"`
	RotationPeriod int64     `json:"rotation_period_s"`
	Description    string    `json:"description,omitempty"`
	Owner          string    `json:"owner,omitempty"`
	EnvName        string    `json:"env_name,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	DeletedAt      time.Time `json:"deleted_at,omitzero"`
	CurrentVersion int       `json:"current_version"`
	StateMAC       []byte    `json:"state_mac,omitempty"` // under the audit key, which the backup carries wrapped
}

func toSecretRow(s store.Secret) secretRow {
	return secretRow{s.ID, s.Name, s.Class, int64(s.RotationPeriod / time.Second), s.Description, s.Owner, s.EnvName,
		s.CreatedAt, s.UpdatedAt, s.DeletedAt, s.CurrentVersion, s.StateMAC}
}

func (r secretRow) value() (store.Secret, error) {
	if r.ID <= 0 || r.Name == "" {
		return store.Secret{}, fmt.Errorf("a secret without id or name")
	}
	return store.Secret{ID: r.ID, Name: r.Name, Class: r.Class, RotationPeriod: time.Duration(r.RotationPeriod) * time.Second,
		Description: r.Description, Owner: r.Owner, EnvName: r.EnvName, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		DeletedAt: r.DeletedAt, CurrentVersion: r.CurrentVersion, StateMAC: r.StateMAC}, nil
}

type versionRow struct {
	ID            int64     `json:"id"`
	SecretID      int64     `json:"secret_id"`
	Version       int       `json:"version"`
	Token         string    `json:"token,omitempty"` // empty once destroyed
	KeyID         string    `json:"key_id"`
	Binding       []byte    `json:"binding,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	Actor         string    `json:"actor,omitempty"`
	DestroyedAt   time.Time `json:"destroyed_at,omitzero"`
	CompromisedAt time.Time `json:"compromised_at,omitzero"`
}

func toVersionRow(v store.Version) versionRow {
	return versionRow{v.ID, v.SecretID, v.Version, v.Token, v.KeyID, v.Binding, v.CreatedAt, v.Actor, v.DestroyedAt, v.CompromisedAt}
}

func (r versionRow) value() (store.Version, error) {
	if r.ID <= 0 || r.SecretID <= 0 || r.Version <= 0 {
		return store.Version{}, fmt.Errorf("a version without id, secret_id or version")
	}
	return store.Version{ID: r.ID, SecretID: r.SecretID, Version: r.Version, Token: r.Token, KeyID: r.KeyID, Binding: r.Binding,
		CreatedAt: r.CreatedAt, Actor: r.Actor, DestroyedAt: r.DestroyedAt, CompromisedAt: r.CompromisedAt}, nil
}

type tokenRow struct {
	Accessor  string    `json:"accessor"`
	Hash      string    `json:"sha256"`
	Service   string    `json:"service"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxExpiry time.Time `json:"max_expiry"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func toTokenRow(t token.Record) tokenRow {
	return tokenRow{t.Accessor, hex.EncodeToString(t.Hash[:]), t.Service, t.IssuedAt, t.ExpiresAt, t.MaxExpiry, t.RevokedAt}
}

func (r tokenRow) value() (token.Record, error) {
	t := token.Record{Accessor: r.Accessor, Service: r.Service, IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, MaxExpiry: r.MaxExpiry, RevokedAt: r.RevokedAt}
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != len(t.Hash) || r.Accessor == "" {
		return t, fmt.Errorf("a token record without accessor or with a malformed hash")
	}
	copy(t.Hash[:], h)
	return t, nil
}

type identityRow struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Role      string    `json:"role,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func toIdentityRow(id identity.Identity) identityRow {
	return identityRow{id.Name, string(id.Kind), string(id.Role), id.CreatedAt, id.RevokedAt}
}

func (r identityRow) value() (identity.Identity, error) {
	if r.Name == "" || (r.Kind != string(identity.Service) && r.Kind != string(identity.Operator)) {
		return identity.Identity{}, fmt.Errorf("an identity without name or with an unknown kind")
	}
	return identity.Identity{Name: r.Name, Kind: identity.Kind(r.Kind), Role: identity.Role(r.Role),
		CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}, nil
}

// credentialRow is a credential as stored: its SHA-256, never the
// credential.
type credentialRow struct {
	ID        string    `json:"id"`
	Identity  string    `json:"identity"`
	Hash      string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func toCredentialRow(c identity.Credential) credentialRow {
	return credentialRow{c.ID, c.Identity, hex.EncodeToString(c.Hash[:]), c.CreatedAt, c.ExpiresAt, c.RevokedAt}
}

func (r credentialRow) value() (identity.Credential, error) {
	c := identity.Credential{ID: r.ID, Identity: r.Identity, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt}
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != len(c.Hash) || r.ID == "" || r.Identity == "" {
		return c, fmt.Errorf("a credential without id or identity, or with a malformed hash")
	}
	copy(c.Hash[:], h)
	return c, nil
}

// auditKeyRow is the audit key wrapped under one Fernet key, as stored:
// a Fernet token that only that key opens, never the audit key itself.
type auditKeyRow struct {
	KeyID     string    `json:"key_id"`
	Wrapped   string    `json:"wrapped"`
	CreatedAt time.Time `json:"created_at"`
}

func toAuditKeyRow(k store.AuditKey) auditKeyRow { return auditKeyRow{k.KeyID, k.Wrapped, k.CreatedAt} }

func (r auditKeyRow) value() (store.AuditKey, error) {
	if r.KeyID == "" || r.Wrapped == "" {
		return store.AuditKey{}, fmt.Errorf("an audit key without key_id or wrapped")
	}
	return store.AuditKey{WrappedKey: audit.WrappedKey{KeyID: r.KeyID, Wrapped: r.Wrapped}, CreatedAt: r.CreatedAt}, nil
}

type cursorRow struct {
	Name string `json:"name"`
	Seq  int64  `json:"seq"`
}

// writer is how a section's rows reach the encoder.
type emitFunc func(row any) error

// writeSections streams every section of the snapshot through emit, each
// between begin and end calls.
func writeSections(ctx context.Context, sn store.Snapshot, begin func(name string) error, emit emitFunc, end func() error) error {
	each := func(name string, read func() error) error {
		if err := begin(name); err != nil {
			return err
		}
		if err := read(); err != nil {
			return err
		}
		return end()
	}
	steps := []struct {
		name string
		read func() error
	}{
		{SectionKeys, func() error {
			return sn.Keys(ctx, func(ks []store.KeyInfo) error { return emitAll(ks, toKeyRow, emit) })
		}},
		{SectionSecrets, func() error {
			return sn.Secrets(ctx, func(ss []store.Secret) error { return emitAll(ss, toSecretRow, emit) })
		}},
		{SectionVersions, func() error {
			return sn.Versions(ctx, func(vs []store.Version) error { return emitAll(vs, toVersionRow, emit) })
		}},
		{SectionTokens, func() error {
			return sn.Tokens(ctx, func(ts []token.Record) error { return emitAll(ts, toTokenRow, emit) })
		}},
		{SectionIdentities, func() error {
			return sn.Identities(ctx, func(ids []identity.Identity) error { return emitAll(ids, toIdentityRow, emit) })
		}},
		{SectionCredentials, func() error {
			return sn.Credentials(ctx, func(cs []identity.Credential) error { return emitAll(cs, toCredentialRow, emit) })
		}},
		{SectionIncidents, func() error {
			return sn.Incidents(ctx, func(is []*incident.Incident) error {
				return emitAll(is, func(i *incident.Incident) *incident.Incident { return i }, emit)
			})
		}},
		{SectionAuditKeys, func() error {
			return sn.AuditKeys(ctx, func(ks []store.AuditKey) error { return emitAll(ks, toAuditKeyRow, emit) })
		}},
		{SectionAuditCheckpoints, func() error {
			return sn.AuditCheckpoints(ctx, func(cps []audit.Checkpoint) error {
				return emitAll(cps, func(c audit.Checkpoint) audit.Checkpoint { return c }, emit)
			})
		}},
		{SectionAuditEvents, func() error {
			return sn.AuditEvents(ctx, func(es []audit.Entry) error {
				return emitAll(es, func(e audit.Entry) audit.Entry { return e }, emit)
			})
		}},
		{SectionAuditCursors, func() error {
			return sn.AuditCursors(ctx, func(cs []store.AuditCursor) error {
				return emitAll(cs, func(c store.AuditCursor) cursorRow { return cursorRow(c) }, emit)
			})
		}},
	}
	for _, s := range steps {
		if err := each(s.name, s.read); err != nil {
			return err
		}
	}
	return nil
}

func emitAll[T, R any](xs []T, conv func(T) R, emit emitFunc) error {
	for _, x := range xs {
		if err := emit(conv(x)); err != nil {
			return err
		}
	}
	return nil
}
