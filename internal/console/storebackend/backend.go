// Package storebackend is the console's backend over sa01-secrets itself:
// console.Backend over the store (its paged queries), the identities
// (operators sign in with their credentials; roles are identity.Decide's
// one table), the API's access decision (opa.NewGate, then Gate.Access:
// identity.Decide, deny wins, then OPA when configured), the secrets
// service, the audit chain, the key ring's rotation status and the
// Secret Compromise Procedure of package respond. `serve` mounts the
// console over it; consoletest wraps it for the console's tests.
package storebackend

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// Options are the backend's dependencies. Store, Ring, Recorder and
// Identities are required.
type Options struct {
	Store      store.Store
	Ring       *fernet.Ring
	Recorder   audit.Recorder // the server's recorder: every event the console causes
	Identities *identity.Manager
	// Service, when set, is the server's secrets service (its read
	// cache); nil makes one over Store, Ring and Recorder.
	Service *secrets.Service
	Policy  *policy.Holder // the YAML policy; nil: none
	OPA     *opa.Decider   // nil: none
	// File and KafkaTopic, when set, make ChainState report those sinks.
	File       *audit.File
	KafkaTopic string
	// Targets, when set, returns the last background reading of the
	// places outside the store that hold tokens under the keys (a
	// targets.Watch's Last); nil: no targets are configured. The keys page
	// never reads a target itself.
	Targets func() targets.Snapshot
	// AuditWindow bounds the events one audit page examines when no index
	// serves its filters (0: store.DefaultAuditWindow).
	AuditWindow int64
	Now         func() time.Time
}

// Backend is console.Backend over the store.
type Backend struct {
	o       Options
	st      store.Store
	ids     *identity.Manager
	now     func() time.Time
	service *secrets.Service // reads recorded as read
	values  *secrets.Service // Reveal and Diff: reads recorded as the context says
	fp      *console.FingerprintKey
	verify  verifyState
}

var _ console.Backend = (*Backend)(nil)

// New returns the backend.
func New(o Options) *Backend {
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Backend{o: o, st: o.Store, ids: o.Identities, now: o.Now, fp: console.NewFingerprintKey()}
	b.service = o.Service
	if b.service == nil {
		b.service = secrets.New(o.Store, o.Ring, o.Recorder, o.Now)
	}
	b.values = secrets.New(o.Store, o.Ring, audit.RecorderFunc(b.recordValue), o.Now)
	return b
}

// Service is the secrets service the backend writes through.
func (b *Backend) Service() *secrets.Service { return b.service }

// SetAuditWindow changes Options.AuditWindow.
func (b *Backend) SetAuditWindow(n int64) { b.o.AuditWindow = n }

// SetSinks changes Options.File and Options.KafkaTopic.
func (b *Backend) SetSinks(f *audit.File, kafkaTopic string) {
	b.o.File, b.o.KafkaTopic = f, kafkaTopic
}

// SetTargets changes Options.Targets.
func (b *Backend) SetTargets(last func() targets.Snapshot) { b.o.Targets = last }

// valueRead names the audit action of a read made by Reveal or Diff.
type valueRead struct{ action, detail string }

type valueReadKey struct{}

// recordValue records the reads of b.values under the action the context
// names (reveal, diff): one event per access, with the service's
// guarantee that the value is returned only once it is recorded.
func (b *Backend) recordValue(ctx context.Context, ev audit.Event) error {
	if vr, ok := ctx.Value(valueReadKey{}).(valueRead); ok && ev.Action == secrets.ActionRead {
		ev.Action, ev.Detail = vr.action, vr.detail
	}
	return b.o.Recorder.Record(ctx, ev)
}

// Auth.

func fromIdentity(id identity.Identity, cred string) console.Identity {
	return console.Identity{Name: id.Name, Kind: string(id.Kind), Role: string(id.Role), Credential: cred}
}

func toIdentity(who console.Identity) identity.Identity {
	return identity.Identity{Name: who.Name, Kind: identity.Kind(who.Kind), Role: identity.Role(who.Role)}
}

// badCredential maps the identity errors that mean "no" to
// console.ErrBadCredential, and the others to console.ErrUnavailable.
func badCredential(err error) error {
	switch {
	case errors.Is(err, identity.ErrBadCredential), errors.Is(err, identity.ErrExpired), errors.Is(err, identity.ErrRevoked),
		errors.Is(err, identity.ErrNotFound):
		return console.ErrBadCredential
	}
	return fmt.Errorf("%w: identities: %v", console.ErrUnavailable, err)
}

// Authenticate implements console.Auth, with identity.Manager.Authenticate.
func (b *Backend) Authenticate(ctx context.Context, cred sensitive.String) (console.Identity, error) {
	id, c, err := b.ids.Authenticate(ctx, cred)
	if err != nil {
		return console.Identity{}, badCredential(err)
	}
	return fromIdentity(id, c.ID), nil
}

// Identify implements console.Auth: the identity and the credential it
// signed in with, read from the store (past the manager's cache), live.
func (b *Backend) Identify(ctx context.Context, who console.Identity) (console.Identity, error) {
	id, err := b.ids.Current(ctx, who.Name)
	if err != nil {
		return console.Identity{}, badCredential(err)
	}
	if id.Revoked() {
		return console.Identity{}, console.ErrBadCredential
	}
	creds, err := b.ids.Credentials(ctx, who.Name)
	if err != nil {
		return console.Identity{}, badCredential(err)
	}
	for _, c := range creds {
		if c.ID == who.Credential {
			if !c.Live(b.now()) {
				return console.Identity{}, console.ErrBadCredential
			}
			return fromIdentity(id, c.ID), nil
		}
	}
	return console.Identity{}, console.ErrBadCredential
}

// Record implements console.Auth.
func (b *Backend) Record(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = b.now().UTC()
	}
	return b.o.Recorder.Record(ctx, audit.Stamp(ctx, ev))
}

// rotationDue is when a secret's current version is due for rotation.
func rotationDue(s store.Secret) time.Time {
	if s.RotationPeriod <= 0 || s.CurrentVersion == 0 {
		return time.Time{}
	}
	return s.UpdatedAt.Add(s.RotationPeriod)
}

// readActions hand a value to the caller; revealActions to an operator.
var (
	readActions   = []string{secrets.ActionRead, console.ActionReveal, secrets.ActionExport, secrets.ActionRun}
	revealActions = []string{console.ActionReveal}
)

func (b *Backend) last(ctx context.Context, name string, actions []string) (console.LastAccess, error) {
	e, ok, err := b.st.LastAccess(ctx, name, actions)
	if err != nil || !ok {
		return console.LastAccess{}, err
	}
	la := console.LastAccess{Identity: e.Service, Time: e.Time, Action: e.Action, Version: e.Version}
	if la.Identity == "" {
		la.Identity = e.Actor
	}
	return la, nil
}

// ListSecrets implements console.Secrets, paged in the store.
func (b *Backend) ListSecrets(ctx context.Context, who console.Identity, q console.SecretQuery) (console.SecretPage, error) {
	if err := b.authorize(ctx, who, console.ActList, secrets.ActionList, q.Prefix); err != nil {
		return console.SecretPage{}, err
	}
	if q.Limit <= 0 {
		q.Limit = console.DefaultPageSize
	}
	q.Limit = min(q.Limit, console.MaxPageSize)
	sp, err := b.st.SecretPage(ctx, store.SecretPageQuery{Prefix: q.Prefix, Search: q.Search, After: q.After, Limit: q.Limit, Deleted: q.Deleted})
	var folders []string
	if err == nil && q.Search == "" && q.After == "" {
		folders, err = b.st.SecretFolders(ctx, q.Prefix, q.Deleted, console.MaxFolders)
	}
	page := console.SecretPage{Folders: folders, Next: sp.Next}
	for i := 0; err == nil && i < len(sp.Secrets); i++ {
		var last console.LastAccess
		last, err = b.last(ctx, sp.Secrets[i].Name, readActions)
		page.Rows = append(page.Rows, console.SecretRow{Secret: sp.Secrets[i], RotationDue: rotationDue(sp.Secrets[i]), LastRead: last})
	}
	ev := audit.Event{Action: secrets.ActionList, Secret: q.Prefix, Detail: fmt.Sprintf("console: %d secrets", len(page.Rows))}
	if q.Search != "" {
		ev.Detail += " matching a search"
	}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, "error"
		_ = b.Record(ctx, ev)
		return console.SecretPage{}, err
	}
	ev.Outcome = audit.Success
	if err := b.Record(ctx, ev); err != nil {
		return console.SecretPage{}, err
	}
	return page, nil
}

// Secret implements console.Secrets.
func (b *Backend) Secret(ctx context.Context, who console.Identity, name string) (console.SecretDetail, error) {
	if err := b.authorizeAs(ctx, who, identity.History, secrets.ActionList, name); err != nil {
		return console.SecretDetail{}, err
	}
	sec, vs, err := b.service.History(ctx, name)
	if err != nil {
		return console.SecretDetail{}, err
	}
	d := console.SecretDetail{Row: console.SecretRow{Secret: sec, RotationDue: rotationDue(sec)}, Versions: vs}
	if d.Row.LastRead, err = b.last(ctx, name, readActions); err != nil {
		return console.SecretDetail{}, err
	}
	if d.LastRevealed, err = b.last(ctx, name, revealActions); err != nil {
		return console.SecretDetail{}, err
	}
	incs, err := b.st.ListIncidents(ctx, false)
	if err != nil {
		return console.SecretDetail{}, err
	}
	for _, inc := range incs {
		if inc.Secret == name {
			d.Incidents = append(d.Incidents, inc)
		}
	}
	return d, nil
}

// Reveal implements console.Secrets: one event, a reveal by who.
func (b *Backend) Reveal(ctx context.Context, who console.Identity, name string, version int, how console.RevealHow) (console.Revealed, error) {
	if err := b.authorize(ctx, who, console.ActReveal, console.ActionReveal, name); err != nil {
		return console.Revealed{}, err
	}
	ctx = context.WithValue(ctx, valueReadKey{}, valueRead{console.ActionReveal, "console: " + string(how)})
	v, err := b.values.Get(ctx, name, version)
	if err != nil {
		return console.Revealed{}, err
	}
	return console.Revealed{Version: v.Version, Value: v.Value}, nil
}

// Diff implements console.Secrets.
func (b *Backend) Diff(ctx context.Context, who console.Identity, name string, value sensitive.String) (console.Diff, error) {
	if err := b.authorize(ctx, who, console.ActWrite, console.ActionDiff, name); err != nil {
		return console.Diff{}, err
	}
	nv := []byte(value.Reveal())
	sec, err := b.st.Secret(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return console.MaskedDiff(b.fp, name, 0, nil, nv), nil
	}
	if err != nil {
		return console.Diff{}, err
	}
	if sec.Deleted() {
		d := console.MaskedDiff(b.fp, name, 0, nil, nv)
		d.Current, d.Deleted = sec.CurrentVersion, true
		return d, nil
	}
	ctx = context.WithValue(ctx, valueReadKey{}, valueRead{console.ActionDiff, "console: masked diff"})
	old, err := b.values.Get(ctx, name, sec.CurrentVersion)
	if errors.Is(err, store.ErrCompromised) || errors.Is(err, store.ErrDestroyed) {
		d := console.MaskedDiff(b.fp, name, 0, nil, nv)
		d.Current, d.Note = sec.CurrentVersion, "the current version is not served (compromised or destroyed): not compared"
		return d, nil
	}
	if err != nil {
		return console.Diff{}, err
	}
	return console.MaskedDiff(b.fp, name, old.Version.Version, []byte(old.Value.Reveal()), nv), nil
}

// Put implements console.Secrets.
func (b *Backend) Put(ctx context.Context, who console.Identity, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error) {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionWrite, name); err != nil {
		return store.Version{}, err
	}
	if o.CAS == nil {
		return store.Version{}, fmt.Errorf("%w: cas: required", secrets.ErrInvalid)
	}
	return b.service.Put(ctx, name, value, o)
}

// Rollback implements console.Secrets.
func (b *Backend) Rollback(ctx context.Context, who console.Identity, name string, to, cas int) (store.Version, error) {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionRollback, name); err != nil {
		return store.Version{}, err
	}
	return b.service.Rollback(ctx, name, to, &cas)
}

// Delete implements console.Secrets.
func (b *Backend) Delete(ctx context.Context, who console.Identity, name string) error {
	if err := b.authorizeAs(ctx, who, identity.Delete, secrets.ActionDelete, name); err != nil {
		return err
	}
	return b.service.Delete(ctx, name)
}

// Undelete implements console.Secrets.
func (b *Backend) Undelete(ctx context.Context, who console.Identity, name string) error {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionUndelete, name); err != nil {
		return err
	}
	return b.service.Undelete(ctx, name)
}

// Rotate implements console.Secrets: a given value, or one generated as
// package secrets generates the class's values.
func (b *Backend) Rotate(ctx context.Context, who console.Identity, name string, value sensitive.String, cas int) (store.Version, error) {
	if err := b.authorize(ctx, who, console.ActRotate, "rotate", name); err != nil {
		return store.Version{}, err
	}
	if value.IsZero() || value.Reveal() == "" {
		sec, err := b.st.Secret(ctx, name)
		if err != nil {
			return store.Version{}, err
		}
		kind := secrets.GeneratedKind(sec.Class)
		if kind == "" {
			return store.Version{}, fmt.Errorf("%w: value: a %s is not generated here; give the new value", secrets.ErrInvalid, sec.Class)
		}
		if value, err = secrets.Generate(kind, 32); err != nil {
			return store.Version{}, err
		}
	}
	return b.service.Put(ctx, name, value, secrets.PutOptions{CAS: &cas})
}

// Keys implements console.Keys.
func (b *Backend) Keys(ctx context.Context, who console.Identity) (console.KeyReport, error) {
	if err := b.authorize(ctx, who, console.ActKeys, "status", ""); err != nil {
		return console.KeyReport{}, err
	}
	now := b.now().UTC()
	st, err := rotate.Status(ctx, b.st, b.o.Ring, now)
	if err != nil {
		return console.KeyReport{}, err
	}
	sort.SliceStable(st.Secrets, func(i, j int) bool { return st.Secrets[i].DueAt.Before(st.Secrets[j].DueAt) })
	kr := console.KeyReport{Status: st, Retire: map[string]string{}, CredentialsWindow: identity.DueWindow}
	due, err := b.ids.Due(ctx, identity.DueWindow)
	if err != nil {
		return console.KeyReport{}, err
	}
	for _, c := range due {
		kr.Credentials = append(kr.Credentials, console.CredentialDue{Identity: c.Identity, Credential: c.ID, ExpiresAt: c.ExpiresAt})
	}
	var snap *targets.Snapshot
	if b.o.Targets != nil {
		s := b.o.Targets()
		snap = &s
		b.addTargets(&kr, s)
	}
	for _, k := range st.Keys {
		if k.State == store.KeyRetired {
			continue
		}
		kr.Retire[k.ID] = retireBlocker(k, now, b.o.Ring, snap)
		kr.Live += k.Versions
		if k.Primary {
			kr.UnderPrimary += k.Versions
		}
	}
	return kr, nil
}

// addTargets puts the last reading of the targets in the report: names,
// counts and value-free locations only.
func (b *Backend) addTargets(kr *console.KeyReport, s targets.Snapshot) {
	kr.TargetsConfigured = true
	kr.TargetsCheckedAt, kr.TargetsEvery, kr.TargetsErr = s.At, s.Every, s.Err
	kr.TargetTokens = map[string]int64{}
	primary := ""
	if b.o.Ring != nil {
		primary = b.o.Ring.Primary().ID()
	}
	for _, r := range s.Reports {
		t := console.Target{Name: r.Target, Kind: r.Kind, Location: r.Location, Tokens: r.Tokens,
			Plaintext: r.Plaintext, Unreadable: r.Unreadable, CheckedAt: s.At, Err: r.Error}
		for id, n := range r.Tokens {
			kr.TargetTokens[id] += n
			if id != primary {
				t.UnderOldKeys += n
			}
		}
		kr.Targets = append(kr.Targets, t)
	}
}

// retireBlocker says why a key may not be retired yet, or "" when it may,
// as rotate.Rotator.Retire decides without --force: the store's rule, then
// the targets' (rotate.TargetUse over the last reading, snap; nil: no
// targets configured). A reading not taken yet, or failed, blocks.
func retireBlocker(k rotate.KeyStatus, now time.Time, ring *fernet.Ring, snap *targets.Snapshot) string {
	switch {
	case k.State == store.KeyActive:
		return "it is the active key; rotate first"
	case k.Primary:
		return "it is the primary key loaded here"
	case k.Versions > 0:
		return fmt.Sprintf("%d versions still use it; run reencrypt", k.Versions)
	}
	if snap != nil {
		switch {
		case snap.At.IsZero():
			return "the targets have not been checked yet"
		case snap.Err != "":
			return "cannot check the targets: " + snap.Err
		}
		uses, _, err := rotate.TargetUse(snap.Reports, ring, k.ID)
		if err != nil {
			return err.Error()
		}
		if len(uses) > 0 {
			return strings.Join(uses, "; ") + "; run 'reencrypt --targets' first"
		}
	}
	if k.RetainUntil != nil && k.RetainUntil.After(now) {
		return "retained until " + k.RetainUntil.UTC().Format(time.RFC3339)
	}
	return ""
}
