// Package consoletest implements console.Backend over the real packages of
// sa01-secrets on a SQLite store in a temporary directory: the secrets
// service, the store's audit chain, incidents, the rotation status, the
// YAML policy and OPA's combining rule. Only the identities are its own
// (Identities), until the store keeps them. The console's tests, browser
// tests and benchmarks run on it.
package consoletest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// Backend is console.Backend over a SQLite store.
type Backend struct {
	DB       *sqlite.DB
	Ring     *fernet.Ring
	Service  *secrets.Service // as the server's: reads recorded as read
	Recorder audit.Recorder   // the store's chain, behind group commit, bounded
	Policy   *policy.Holder   // the YAML policy; nil: none
	OPA      *opa.Decider     // nil: none
	IDs      *Identities      // the identity table
	// KafkaTopic, when set, makes ChainState report the Kafka publisher's
	// cursor on it; File, when set, the file sink.
	KafkaTopic string
	File       *audit.File

	dir     string
	ownDir  bool // dir was made by New: Close removes it
	now     func() time.Time
	values  *secrets.Service // Reveal and Diff: reads recorded as the context says
	fp      *console.FingerprintKey
	pages   *pager
	batcher *audit.Batcher
	verify  verifyState
}

var _ console.Backend = (*Backend)(nil)

// Options configure New.
type Options struct {
	// Dir holds the store; "" makes a temporary directory that Close
	// removes.
	Dir string
	// Policy is the YAML policy ("" for none).
	Policy string
	// Now is the clock of the store, the audit and the identities (nil:
	// time.Now).
	Now func() time.Time
}

// New opens a store in o.Dir with a fresh key.
func New(ctx context.Context, o Options) (*Backend, error) {
	b := &Backend{now: o.Now, dir: o.Dir}
	if b.now == nil {
		b.now = time.Now
	}
	if b.dir == "" {
		d, err := os.MkdirTemp("", "sa01-console-")
		if err != nil {
			return nil, err
		}
		b.dir, b.ownDir = d, true
	}
	db, err := sqlite.Open(ctx, filepath.Join(b.dir, "secrets.db"))
	if err != nil {
		b.cleanup()
		return nil, err
	}
	b.DB = db
	if b.pages, err = openPager(filepath.Join(b.dir, "secrets.db")); err != nil {
		b.Close()
		return nil, err
	}
	b.Ring, _ = fernet.NewRing(fernet.GenerateKey())
	key := audit.MACKeys(b.Ring)[0]
	b.batcher = audit.NewBatcher(audit.NewChain(db, &key), audit.BatcherOptions{})
	b.Recorder = audit.NewBounded(b.batcher, audit.DefaultTimeout, nil)
	b.Service = secrets.New(db, b.Ring, b.Recorder, b.now)
	b.values = secrets.New(db, b.Ring, audit.RecorderFunc(b.recordValue), b.now)
	b.fp = console.NewFingerprintKey()
	b.IDs = NewIdentities(b.now)
	if o.Policy != "" {
		p, err := policy.Parse("policy.yaml", []byte(o.Policy))
		if err != nil {
			b.Close()
			return nil, err
		}
		b.Policy = policy.Static(p)
	}
	return b, nil
}

// SetAuditScanWindow sets how many events one page of the audit trail
// examines at most when no index serves its filters.
func (b *Backend) SetAuditScanWindow(n int64) { b.pages.window = n }

// Dir is the directory of the store.
func (b *Backend) Dir() string { return b.dir }

// Close closes the store and removes a temporary directory.
func (b *Backend) Close() error {
	if b.batcher != nil {
		b.batcher.Close()
	}
	if b.pages != nil {
		b.pages.close()
	}
	var err error
	if b.DB != nil {
		err = b.DB.Close()
	}
	b.cleanup()
	return err
}

func (b *Backend) cleanup() {
	if b.ownDir {
		os.RemoveAll(b.dir)
	}
}

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
	return b.Recorder.Record(ctx, ev)
}

// Auth.

// Authenticate implements console.Auth.
func (b *Backend) Authenticate(_ context.Context, cred sensitive.String) (console.Identity, error) {
	return b.IDs.authenticate(cred.Reveal())
}

// Identify implements console.Auth.
func (b *Backend) Identify(_ context.Context, who console.Identity) (console.Identity, error) {
	return b.IDs.identify(who)
}

// Record implements console.Auth.
func (b *Backend) Record(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = b.now().UTC()
	}
	return b.Recorder.Record(ctx, audit.Stamp(ctx, ev))
}

// Can implements console.Auth.
func (b *Backend) Can(ctx context.Context, who console.Identity, a console.Action, name string) bool {
	if !who.Operator() || !roleAllows(who.Role, a) {
		return false
	}
	if a == console.ActRotate && who.Role != console.RoleAdmin {
		return name != "" && b.underIncident(ctx, name)
	}
	return true
}

// underIncident reports whether name has an open incident or a compromised
// current version.
func (b *Backend) underIncident(ctx context.Context, name string) bool {
	_, _, err := b.DB.Get(ctx, name, 0)
	if errors.Is(err, store.ErrCompromised) {
		return true
	}
	if err != nil {
		return false
	}
	incs, err := b.DB.ListIncidents(ctx, false)
	if err != nil {
		return false
	}
	for _, inc := range incs {
		if inc.Secret == name {
			return true
		}
	}
	return false
}

// authorize refuses, and audits the refusal of, what who may not do.
func (b *Backend) authorize(ctx context.Context, who console.Identity, a console.Action, auditAction, name string) error {
	if b.Can(ctx, who, a, name) {
		return nil
	}
	_ = b.Record(ctx, audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: "denied",
		Detail: fmt.Sprintf("role %s", who.Role)})
	return console.ErrDenied
}

// Secrets.

// rotationDue is when a secret's current version is due for rotation.
func rotationDue(s store.Secret) time.Time {
	if s.RotationPeriod <= 0 || s.CurrentVersion == 0 {
		return time.Time{}
	}
	return s.UpdatedAt.Add(s.RotationPeriod)
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
	rows, next, err := b.pages.listSecrets(ctx, q)
	var folders []string
	if err == nil && q.Search == "" && q.After == "" {
		folders, err = b.pages.folders(ctx, q.Prefix, q.Deleted)
	}
	page := console.SecretPage{Folders: folders, Next: next}
	for i := 0; err == nil && i < len(rows); i++ {
		var last console.LastAccess
		last, err = b.pages.last(ctx, rows[i].Name, readActions)
		page.Rows = append(page.Rows, console.SecretRow{Secret: rows[i], RotationDue: rotationDue(rows[i]), LastRead: last})
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

// readActions hand a value to the caller; revealActions to an operator.
var (
	readActions   = []string{secrets.ActionRead, console.ActionReveal, secrets.ActionExport, "run"}
	revealActions = []string{console.ActionReveal}
)

// Secret implements console.Secrets.
func (b *Backend) Secret(ctx context.Context, who console.Identity, name string) (console.SecretDetail, error) {
	if err := b.authorize(ctx, who, console.ActList, secrets.ActionList, name); err != nil {
		return console.SecretDetail{}, err
	}
	sec, vs, err := b.Service.History(ctx, name)
	if err != nil {
		return console.SecretDetail{}, err
	}
	d := console.SecretDetail{Row: console.SecretRow{Secret: sec, RotationDue: rotationDue(sec)}, Versions: vs}
	if d.Row.LastRead, err = b.pages.last(ctx, name, readActions); err != nil {
		return console.SecretDetail{}, err
	}
	if d.LastRevealed, err = b.pages.last(ctx, name, revealActions); err != nil {
		return console.SecretDetail{}, err
	}
	incs, err := b.DB.ListIncidents(ctx, false)
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
	sec, err := b.DB.Secret(ctx, name)
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
	return b.Service.Put(ctx, name, value, o)
}

// Rollback implements console.Secrets.
func (b *Backend) Rollback(ctx context.Context, who console.Identity, name string, to, cas int) (store.Version, error) {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionRollback, name); err != nil {
		return store.Version{}, err
	}
	return b.Service.Rollback(ctx, name, to, &cas)
}

// Delete implements console.Secrets.
func (b *Backend) Delete(ctx context.Context, who console.Identity, name string) error {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionDelete, name); err != nil {
		return err
	}
	return b.Service.Delete(ctx, name)
}

// Undelete implements console.Secrets.
func (b *Backend) Undelete(ctx context.Context, who console.Identity, name string) error {
	if err := b.authorize(ctx, who, console.ActWrite, secrets.ActionUndelete, name); err != nil {
		return err
	}
	return b.Service.Undelete(ctx, name)
}

// Rotate implements console.Secrets.
func (b *Backend) Rotate(ctx context.Context, who console.Identity, name string, value sensitive.String, cas int) (store.Version, error) {
	if err := b.authorize(ctx, who, console.ActRotate, "rotate", name); err != nil {
		return store.Version{}, err
	}
	if value.IsZero() || value.Reveal() == "" {
		sec, err := b.DB.Secret(ctx, name)
		if err != nil {
			return store.Version{}, err
		}
		switch sec.Class {
		case store.ClassEncryptionKey:
			value = sensitive.New(fernet.GenerateKey().Encode())
		case store.ClassInternalToken:
			var raw [32]byte
			_, _ = rand.Read(raw[:])
			value = sensitive.New(base64.RawURLEncoding.EncodeToString(raw[:]))
		default:
			return store.Version{}, fmt.Errorf("%w: value: a %s is not generated here; give the new value", secrets.ErrInvalid, sec.Class)
		}
	}
	return b.Service.Put(ctx, name, value, secrets.PutOptions{CAS: &cas})
}

// Access.

// gate returns the combining rule over the policy and OPA.
func (b *Backend) gate() opa.Gate {
	return opa.Gate{Policy: b.Policy, OPA: b.OPA, Describe: func(ctx context.Context, in *opa.Input) error {
		sec, err := b.DB.Secret(ctx, in.Secret.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		in.Secret.Class, in.Secret.Owner = sec.Class, sec.Owner
		return nil
	}}
}

// services are the services the YAML policy names and those of the
// identity table.
func (b *Backend) services() []string {
	set := map[string]bool{}
	if b.Policy != nil {
		for _, s := range b.Policy.Current().Services() {
			set[s] = true
		}
	}
	for _, id := range b.IDs.list() {
		if id.Kind == console.KindService {
			set[id.Name] = true
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Readers implements console.Access.
func (b *Backend) Readers(ctx context.Context, who console.Identity, name string) ([]console.Reader, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", name); err != nil {
		return nil, err
	}
	var out []console.Reader
	for _, id := range b.IDs.list() {
		if id.Operator() && roleAllows(id.Role, console.ActReveal) {
			out = append(out, console.Reader{Identity: id, Rule: roleRule(id.Role, "read", true)})
		}
	}
	g := b.gate()
	for _, s := range b.services() {
		v := g.Decide(ctx, opa.Input{Identity: opa.Identity{Name: s, Kind: opa.KindService}, Action: string(policy.Read),
			Secret: opa.Secret{Name: name}, Request: opa.Request{ID: audit.CallerFrom(ctx).RequestID, Source: audit.CallerFrom(ctx).Source}})
		if v.Allow {
			out = append(out, console.Reader{Identity: console.Identity{Name: s, Kind: console.KindService}, Rule: rule(v)})
		}
	}
	return out, nil
}

// Explain implements console.Access.
func (b *Backend) Explain(ctx context.Context, who console.Identity, q console.AccessQuery) (console.Decision, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", q.Secret); err != nil {
		return console.Decision{}, err
	}
	id, ok := b.IDs.lookup(q.Identity)
	if !ok {
		for _, s := range b.services() {
			if s == q.Identity {
				id, ok = console.Identity{Name: s, Kind: console.KindService}, true
			}
		}
	}
	if !ok {
		return console.Decision{DecidedBy: opa.ByNone, Rule: "no such identity", Identity: console.Identity{Name: q.Identity}}, nil
	}
	if id.Operator() {
		if q.Action == "destroy" {
			ok := id.Role == console.RoleAdmin
			return console.Decision{Allowed: ok, DecidedBy: "role", Rule: roleRule(id.Role, q.Action, ok), Identity: id}, nil
		}
		a, known := simulated[q.Action]
		if !known {
			return console.Decision{DecidedBy: "role", Rule: "unknown action " + q.Action, Identity: id}, nil
		}
		ok := b.Can(ctx, id, a, q.Secret)
		return console.Decision{Allowed: ok, DecidedBy: "role", Rule: roleRule(id.Role, q.Action, ok), Identity: id}, nil
	}
	action := q.Action
	switch action {
	case "read", "list", "write":
	case "rotate":
		action = "write" // a service rotates what it may write
	default:
		return console.Decision{DecidedBy: "role", Rule: "services do not " + q.Action, Identity: id}, nil
	}
	v := b.gate().Decide(ctx, opa.Input{Identity: opa.Identity{Name: id.Name, Kind: opa.KindService}, Action: action,
		Secret: opa.Secret{Name: q.Secret}, Request: opa.Request{ID: audit.CallerFrom(ctx).RequestID, Source: audit.CallerFrom(ctx).Source}})
	return console.Decision{Allowed: v.Allow, Unavailable: v.Unavailable(), DecidedBy: v.DecidedBy, Rule: rule(v), Identity: id}, nil
}

// rule is a verdict's explanation without its "allowed: " or "denied: ",
// which the console says itself.
func rule(v opa.Verdict) string {
	s := v.Explain()
	for _, p := range []string{"allowed: ", "denied: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// Identities implements console.Access.
func (b *Backend) Identities(ctx context.Context, who console.Identity) ([]console.Identity, error) {
	if err := b.authorize(ctx, who, console.ActExplain, "explain", ""); err != nil {
		return nil, err
	}
	out := b.IDs.list()
	known := map[string]bool{}
	for _, id := range out {
		known[id.Name] = true
	}
	for _, s := range b.services() {
		if !known[s] {
			out = append(out, console.Identity{Name: s, Kind: console.KindService})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Audit.

// QueryAudit implements console.Audit, paged in the store.
func (b *Backend) QueryAudit(ctx context.Context, who console.Identity, q console.AuditQuery) (console.AuditPage, error) {
	if err := b.authorize(ctx, who, console.ActAudit, "audit-query", ""); err != nil {
		return console.AuditPage{}, err
	}
	if q.Limit <= 0 {
		q.Limit = console.DefaultPageSize
	}
	q.Limit = min(q.Limit, 1000)
	return b.pages.audit(ctx, q)
}

// Keys.

// Keys implements console.Keys.
func (b *Backend) Keys(ctx context.Context, who console.Identity) (console.KeyReport, error) {
	if err := b.authorize(ctx, who, console.ActKeys, "status", ""); err != nil {
		return console.KeyReport{}, err
	}
	now := b.now().UTC()
	st, err := rotate.Status(ctx, b.DB, b.Ring, now)
	if err != nil {
		return console.KeyReport{}, err
	}
	sort.SliceStable(st.Secrets, func(i, j int) bool { return st.Secrets[i].DueAt.Before(st.Secrets[j].DueAt) })
	kr := console.KeyReport{Status: st, Retire: map[string]string{}, Credentials: b.IDs.due(30 * 24 * time.Hour)}
	for _, k := range st.Keys {
		if k.State == store.KeyRetired {
			continue
		}
		kr.Retire[k.ID] = retireBlocker(k, now)
		kr.Live += k.Versions
		if k.Primary {
			kr.UnderPrimary += k.Versions
		}
	}
	return kr, nil
}

// retireBlocker says why a key may not be retired yet, or "" when it may,
// as rotate.Rotator.Retire decides without --force.
func retireBlocker(k rotate.KeyStatus, now time.Time) string {
	switch {
	case k.State == store.KeyActive:
		return "it is the active key; rotate first"
	case k.Primary:
		return "it is the primary key loaded here"
	case k.Versions > 0:
		return fmt.Sprintf("%d versions still use it; run reencrypt", k.Versions)
	case k.RetainUntil != nil && k.RetainUntil.After(now):
		return "retained until " + k.RetainUntil.UTC().Format(time.RFC3339)
	}
	return ""
}
