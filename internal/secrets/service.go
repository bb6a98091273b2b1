// Package secrets is the secret service: it encrypts values with the
// Fernet key ring, binds each token to its row, stores it through a
// store.Store, decrypts and checks on the way out, and records every access
// with an audit.Recorder.
//
// Reads fail closed: a value is returned only after its audit event has
// been recorded; otherwise the error wraps audit.ErrNotRecorded.
package secrets

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions.
const (
	ActionRead     = "read"
	ActionList     = "list"
	ActionWrite    = "write"
	ActionDelete   = "delete"
	ActionUndelete = "undelete"
	ActionDestroy  = "destroy"
	ActionRollback = "rollback"
	ActionExport   = "export"
	ActionVerify   = "verify"
	// ActionRun is a command started with secrets injected (run without
	// a server): one event per start, its reads audited apart.
	ActionRun = "run"
)

// Service is the secret service. It is safe for concurrent use.
type Service struct {
	st   store.Store
	ring *fernet.Ring // nil: only operations that need no key work
	rec  audit.Recorder
	now  func() time.Time

	mu       sync.Mutex
	keysSeen map[string]bool
	stateSub *[32]byte // the state MAC key, once loaded (under mu)
	sealed   bool      // the store's chain records a sealing of states (under mu)

	bindKeys sync.Map // *fernet.Key → [32]byte: its binding subkey, derived once

	cache *readCache // nil unless CacheReads turned it on
}

// bindingKey returns k's binding subkey. Deriving it is an HMAC, as costly
// as checking the binding itself, and every read checks one.
func (s *Service) bindingKey(k *fernet.Key) [32]byte {
	if sub, ok := s.bindKeys.Load(k); ok {
		return sub.([32]byte)
	}
	sub := k.Subkey(BindingLabel)
	s.bindKeys.Store(k, sub)
	return sub
}

// New returns a service over st. ring may be nil: then Put, Get, Rollback,
// Import, Export and Verify fail with ErrNoKeys. now is the clock (time.Now
// if nil).
func New(st store.Store, ring *fernet.Ring, rec audit.Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if rec == nil {
		rec = audit.Discard{}
	}
	return &Service{st: st, ring: ring, rec: rec, now: now, keysSeen: map[string]bool{}}
}

// Store returns the underlying store.
func (s *Service) Store() store.Store { return s.st }

// Ring returns the key ring, or nil.
func (s *Service) Ring() *fernet.Ring { return s.ring }

// PutOptions describe a write. Empty strings leave the secret's field as it
// is (a new secret gets class config).
type PutOptions struct {
	Class          string
	Description    string
	Env            string
	Owner          string
	CAS            *int           // write only if the current version is *CAS (0: only if new)
	RotationPeriod *time.Duration // nil: the class's default when the class is set or changes
}

// Value is a decrypted version.
type Value struct {
	Secret  store.Secret
	Version store.Version // Token and Binding are cleared
	Value   sensitive.String
}

// Entry is a name and a value, for import: a variable of a dotenv file.
type Entry = dotenv.Entry

func (s *Service) record(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	if err := s.rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return fmt.Errorf("%w: %w", audit.ErrNotRecorded, err)
	}
	return nil
}

// finish records ev with the outcome of err and returns err, joined with
// the recording failure if any.
func (s *Service) finish(ctx context.Context, ev audit.Event, err error) error {
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, reasonOf(err)
	} else {
		ev.Outcome = audit.Success
	}
	if rerr := s.record(ctx, ev); rerr != nil {
		if err != nil {
			return errors.Join(err, rerr)
		}
		return rerr
	}
	return err
}

// reasonOf gives a short, value-free reason for an audit event.
func reasonOf(err error) string {
	var kn *KeyNotLoadedError
	var ie *IntegrityError
	var se *StateError
	switch {
	case errors.As(err, &kn):
		return "key " + kn.KeyID + " not loaded"
	case errors.As(err, &ie):
		return ie.Reason
	case errors.As(err, &se):
		return "state MAC: " + se.Reason
	case errors.Is(err, ErrInvalid):
		return "invalid input"
	case errors.Is(err, ErrNoKeys):
		return "no key loaded"
	case errors.Is(err, store.ErrNotFound):
		return "not found"
	case errors.Is(err, store.ErrConflict):
		return "check-and-set conflict"
	case errors.Is(err, store.ErrDeleted):
		return "deleted"
	case errors.Is(err, store.ErrDestroyed):
		return "destroyed"
	case errors.Is(err, store.ErrCompromised):
		return "compromised"
	case errors.Is(err, audit.ErrNotRecorded):
		return "audit not recorded"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}

func (s *Service) needRing() error {
	if s.ring == nil {
		return ErrNoKeys
	}
	return nil
}

// ensureKey checks that the primary key k may write: a key the store
// records as active or decrypt-only (a retained key, on a node not yet
// given the new one), or, on a store that has no active key (a new store),
// a key it then records as active. Any other key (one generated afresh and
// never staged, a pending, retired or compromised one) is refused with a
// *KeyNotExpectedError naming the keys the store expects: data written
// under it would be unreadable by every other node.
func (s *Service) ensureKey(ctx context.Context, k *fernet.Key) error {
	s.mu.Lock()
	seen := s.keysSeen[k.ID()]
	s.mu.Unlock()
	if seen {
		return nil
	}
	first, err := s.keyExpected(ctx, k)
	if err != nil {
		return err
	}
	if first {
		now := s.now().UTC()
		if _, err := s.st.EnsureKey(ctx, store.KeyInfo{ID: k.ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.keysSeen[k.ID()] = true
	s.mu.Unlock()
	return nil
}

// CheckPrimary reports, changing nothing, whether the loaded primary key
// may write (ensureKey's rule): nil, or a *KeyNotExpectedError. A server
// says so at start instead of at the first write.
func (s *Service) CheckPrimary(ctx context.Context) error {
	if err := s.needRing(); err != nil {
		return err
	}
	_, err := s.keyExpected(ctx, s.ring.Primary())
	return err
}

// keyExpected applies ensureKey's rule to k: nil when the store records k
// as active or decrypt-only, first when the store has no active key and
// has never seen k, else a *KeyNotExpectedError.
func (s *Service) keyExpected(ctx context.Context, k *fernet.Key) (first bool, err error) {
	list, err := s.st.ListKeys(ctx)
	if err != nil {
		return false, err
	}
	var expected []string
	state, hasActive := "", false
	for _, info := range list {
		if info.ID == k.ID() {
			state = info.State
		}
		if info.State == store.KeyActive || info.State == store.KeyDecryptOnly {
			expected = append(expected, info.ID)
		}
		hasActive = hasActive || info.State == store.KeyActive
	}
	switch {
	case state == store.KeyActive || state == store.KeyDecryptOnly:
		return false, nil
	case state == "" && !hasActive:
		return true, nil
	}
	return false, &KeyNotExpectedError{KeyID: k.ID(), State: state, Expected: expected}
}

// checkDerivedEnv checks the env name a secret written without one gets
// from its name (EnvName), unless the secret already has a name of its
// own: a secret named llm/bash_env would otherwise reach readers as
// BASH_ENV.
func (s *Service) checkDerivedEnv(ctx context.Context, name string) error {
	derived := EnvName(name, "", "")
	why := envProblem(derived)
	if why == "" {
		return nil
	}
	cur, lerr := s.st.Secret(ctx, name)
	if lerr == nil && cur.EnvName != "" {
		return nil
	}
	if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
		return lerr
	}
	return invalid("env %s, which the secret's name gives it: %s; or give the secret another with --env", derived, why)
}

func (s *Service) meta(ctx context.Context, name string, o PutOptions) (store.Meta, error) {
	var m store.Meta
	if o.Class != "" {
		if !ValidClass(o.Class) {
			return m, invalid("class: unknown; want one of encryption-key, api-key, internal-token, db-credential, config")
		}
		c := o.Class
		m.Class = &c
	}
	if o.Env != "" {
		if err := CheckEnvName(o.Env); err != nil {
			return m, err
		}
		e := o.Env
		m.EnvName = &e
	} else if err := s.checkDerivedEnv(ctx, name); err != nil {
		return m, err
	}
	if o.Description != "" {
		d := o.Description
		m.Description = &d
	}
	if o.Owner != "" {
		w := o.Owner
		m.Owner = &w
	}
	if o.RotationPeriod != nil {
		if *o.RotationPeriod < 0 {
			return m, invalid("rotation period: negative")
		}
		r := *o.RotationPeriod
		m.RotationPeriod = &r
	} else if m.Class != nil {
		cur, err := s.st.Secret(ctx, name)
		if errors.Is(err, store.ErrNotFound) || err == nil && cur.Class != *m.Class {
			r := DefaultRotation(*m.Class)
			m.RotationPeriod = &r
		} else if err != nil {
			return m, err
		}
	}
	return m, nil
}

// write builds the store write of one value under the primary key. The
// token is made here; only the binding, which needs the version number, is
// computed inside the store's transaction.
// The secret's new state MAC is made in the transaction too (seal).
func (s *Service) write(ctx context.Context, name string, value []byte, m store.Meta, cas *int, seal store.StateSealer) store.Write {
	k := s.ring.Primary()
	tok := string(k.Encrypt(value))
	id := k.ID()
	return store.Write{
		Name: name, Meta: m, CAS: cas, Actor: audit.CallerFrom(ctx).Actor, Now: s.now().UTC(),
		Seal: func(version int) (store.Sealed, error) {
			return store.Sealed{Token: tok, KeyID: id, Binding: Bind(k, name, version, id, tok)}, nil
		},
		SealState: seal,
	}
}

// Put stores value as a new version of name, creating the secret if needed.
// The value is 1 byte to 64 KiB of UTF-8 text (CheckValue).
//
// With a recorder whose first sink is the store's chain (audit.TxRecorder),
// the write's event commits in the write's own transaction, and the audit
// file holds it before that commit: a write whose event cannot be recorded
// everywhere is not stored, and no version is ever stored without its
// event, whatever crash comes. A write that fails is recorded after, as
// any refused access.
func (s *Service) Put(ctx context.Context, name string, value sensitive.String, o PutOptions) (store.Version, error) {
	ev := audit.Event{Action: ActionWrite, Secret: name}
	var tx *audit.InTx
	if tr, ok := s.rec.(audit.TxRecorder); ok {
		tx = tr.InTx(ctx, func(version int) audit.Event {
			e := ev
			e.Version, e.Outcome, e.Time = version, audit.Success, s.now().UTC()
			if k := s.ring; k != nil {
				e.Detail = "key " + k.Primary().ID()
			}
			return e
		})
	}
	v, err := s.put(ctx, name, []byte(value.Reveal()), o, tx)
	if err == nil && tx != nil {
		return v, nil // its event committed with it
	}
	ev.Version = v.Version
	if err == nil {
		ev.Detail = "key " + v.KeyID
	}
	if err != nil && errors.Is(err, ErrInvalid) && ValidateName(name) != nil {
		ev.Secret = ""
	}
	return v, s.finish(ctx, ev, err)
}

// PutBytes is Put for a value held in a byte slice.
func (s *Service) PutBytes(ctx context.Context, name string, value []byte, o PutOptions) (store.Version, error) {
	return s.Put(ctx, name, sensitive.FromBytes(value), o)
}

func (s *Service) put(ctx context.Context, name string, value []byte, o PutOptions, tx *audit.InTx) (store.Version, error) {
	if err := ValidateName(name); err != nil {
		return store.Version{}, err
	}
	if err := CheckValue(name, value); err != nil {
		return store.Version{}, err
	}
	if err := s.needRing(); err != nil {
		return store.Version{}, err
	}
	m, err := s.meta(ctx, name, o)
	if err != nil {
		return store.Version{}, err
	}
	if err := s.ensureKey(ctx, s.ring.Primary()); err != nil {
		return store.Version{}, err
	}
	seal, err := s.sealer(ctx)
	if err != nil {
		return store.Version{}, err
	}
	w := s.write(ctx, name, value, m, o.CAS, seal)
	w.Audit = tx
	_, v, err := s.st.Put(ctx, w)
	v.Token, v.Binding = "", nil
	return v, err
}

// Get returns version (0: the current one) of name, decrypted after its row
// binding is checked. A compromised, destroyed or deleted version is refused.
func (s *Service) Get(ctx context.Context, name string, version int) (Value, error) {
	if version == 0 && s.cache != nil {
		if val, ok, err := s.getCached(ctx, name); ok {
			return val, err
		}
	}
	ev := audit.Event{Action: ActionRead, Secret: name, Version: version}
	val, err := s.get(ctx, name, version)
	if val.Version.Version != 0 {
		ev.Version = val.Version.Version
	}
	if err != nil && errors.Is(err, ErrInvalid) {
		ev.Secret = ""
	}
	if err := s.finish(ctx, ev, err); err != nil {
		return Value{}, err
	}
	return val, nil
}

func (s *Service) get(ctx context.Context, name string, version int) (Value, error) {
	if err := ValidateName(name); err != nil {
		return Value{}, err
	}
	if version < 0 {
		return Value{}, invalid("version: negative")
	}
	if err := s.needRing(); err != nil {
		return Value{}, err
	}
	var sec store.Secret
	var v store.Version
	var gen uint64 // with the cache on: the store generation v was read at
	var err error
	if version == 0 && s.cache != nil {
		sec, v, gen, err = s.getCurrent(ctx, name)
	} else {
		sec, v, err = s.st.Get(ctx, name, version)
	}
	if err != nil {
		return Value{Version: store.Version{Version: v.Version}}, err
	}
	pt, err := s.open(v)
	if err == nil {
		// After open, so that a version under a key not loaded says so.
		if err = s.checkState(ctx, sec); err != nil {
			clear(pt)
			pt = nil
		}
	}
	if err == nil && gen != 0 {
		s.cache.put(name, sec, v, gen)
	}
	v.Token, v.Binding = "", nil
	if err != nil {
		return Value{Version: v}, err
	}
	return Value{Secret: sec, Version: v, Value: sensitive.FromBytes(pt)}, nil
}

// open checks v's row binding and decrypts its token under the key it names.
func (s *Service) open(v store.Version) ([]byte, error) {
	k := s.ring.Key(v.KeyID)
	if k == nil {
		return nil, &KeyNotLoadedError{Name: v.Secret, Version: v.Version, KeyID: v.KeyID, Loaded: ringIDs(s.ring)}
	}
	if !hmac.Equal(bindWith(s.bindingKey(k), v.Secret, v.Version, v.KeyID, v.Token), v.Binding) {
		return nil, &IntegrityError{Name: v.Secret, Version: v.Version, Reason: ReasonBinding}
	}
	pt, err := k.Decrypt([]byte(v.Token))
	if err != nil {
		reason := ReasonCorrupted
		if !wellFormed(v.Token) {
			reason = ReasonMalformed
		}
		return nil, &IntegrityError{Name: v.Secret, Version: v.Version, Reason: reason}
	}
	return pt, nil
}

func ringIDs(r *fernet.Ring) []string {
	var ids []string
	for _, k := range r.Keys() {
		ids = append(ids, k.ID())
	}
	return ids
}

// List returns the secrets whose names start with prefix.
func (s *Service) List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error) {
	ev := audit.Event{Action: ActionList, Secret: prefix}
	var out []store.Secret
	err := ValidatePrefix(prefix)
	if err == nil {
		out, err = s.st.List(ctx, store.ListOptions{Prefix: prefix, IncludeDeleted: includeDeleted})
	} else {
		ev.Secret = ""
	}
	ev.Detail = fmt.Sprintf("%d secrets", len(out))
	if err := s.finish(ctx, ev, err); err != nil {
		return nil, err
	}
	return out, nil
}

// History returns the versions of name, oldest first, without tokens.
func (s *Service) History(ctx context.Context, name string) (store.Secret, []store.Version, error) {
	ev := audit.Event{Action: ActionList, Secret: name, Detail: "history"}
	var sec store.Secret
	var vs []store.Version
	err := ValidateName(name)
	if err == nil {
		sec, err = s.st.Secret(ctx, name)
	} else {
		ev.Secret = ""
	}
	if err == nil {
		vs, err = s.st.History(ctx, name)
	}
	if err := s.finish(ctx, ev, err); err != nil {
		return store.Secret{}, nil, err
	}
	return sec, vs, nil
}

// Rollback writes the value of version to as a new version of name.
// Its event commits in the write's transaction, as Put's.
func (s *Service) Rollback(ctx context.Context, name string, to int, cas *int) (store.Version, error) {
	ev := audit.Event{Action: ActionRollback, Secret: name, Detail: fmt.Sprintf("to version %d", to)}
	tx := s.inTx(ctx, ev)
	v, err := s.rollback(ctx, name, to, cas, tx)
	if err == nil && tx != nil {
		return v, nil // its event committed with it
	}
	ev.Version = v.Version
	return v, s.finish(ctx, ev, err)
}

// inTx returns the InTx that commits ev (with the version the store
// gives, when it gives one) as a success in a change's transaction; nil
// when the recorder cannot.
func (s *Service) inTx(ctx context.Context, ev audit.Event) *audit.InTx {
	tr, ok := s.rec.(audit.TxRecorder)
	if !ok {
		return nil
	}
	return tr.InTx(ctx, func(version int) audit.Event {
		e := ev
		if version != 0 {
			e.Version = version
		}
		e.Outcome, e.Time = audit.Success, s.now().UTC()
		return e
	})
}

func (s *Service) rollback(ctx context.Context, name string, to int, cas *int, tx *audit.InTx) (store.Version, error) {
	if err := ValidateName(name); err != nil {
		return store.Version{}, err
	}
	if to < 1 {
		return store.Version{}, invalid("--to: want a version of 1 or more")
	}
	if err := s.needRing(); err != nil {
		return store.Version{}, err
	}
	sec, old, err := s.st.Get(ctx, name, to)
	if err == nil {
		err = s.checkState(ctx, sec)
	}
	if err != nil {
		return store.Version{}, err
	}
	pt, err := s.open(old)
	if err != nil {
		return store.Version{}, err
	}
	if err := s.ensureKey(ctx, s.ring.Primary()); err != nil {
		return store.Version{}, err
	}
	seal, err := s.sealer(ctx)
	if err != nil {
		return store.Version{}, err
	}
	w := s.write(ctx, name, pt, store.Meta{}, cas, seal)
	w.Audit = tx
	_, v, err := s.st.Put(ctx, w)
	v.Token, v.Binding = "", nil
	return v, err
}

// Delete soft-deletes name; Undelete restores it.
//
// Delete, Undelete, Destroy and MarkCompromised change a secret's state:
// each makes the new state MAC and, with a recorder whose first sink is
// the store's chain, commits its audit event in the change's own
// transaction, so that no state changes without its event, whatever
// crash comes. A change that fails is recorded after, as any refused
// access.
func (s *Service) Delete(ctx context.Context, name string) error {
	return s.change(ctx, store.Change{Op: store.OpDelete, Name: name}, audit.Event{Action: ActionDelete})
}

// Undelete restores a soft-deleted secret.
func (s *Service) Undelete(ctx context.Context, name string) error {
	return s.change(ctx, store.Change{Op: store.OpUndelete, Name: name}, audit.Event{Action: ActionUndelete})
}

// Destroy erases one version of name for good.
func (s *Service) Destroy(ctx context.Context, name string, version int) error {
	return s.change(ctx, store.Change{Op: store.OpDestroy, Name: name, Version: version}, audit.Event{Action: ActionDestroy})
}

// MarkCompromised marks one version of name compromised: it is never
// served again. detail says why (an incident's ID); never a value.
func (s *Service) MarkCompromised(ctx context.Context, name string, version int, detail string) error {
	return s.change(ctx, store.Change{Op: store.OpCompromise, Name: name, Version: version},
		audit.Event{Action: ActionCompromise, Detail: detail})
}

// change applies c, recording ev (its secret and version filled from c).
func (s *Service) change(ctx context.Context, c store.Change, ev audit.Event) error {
	ev.Secret, ev.Version = nameIfValid(c.Name), c.Version
	err := ValidateName(c.Name)
	if err == nil && (c.Op == store.OpDestroy || c.Op == store.OpCompromise) && c.Version < 1 {
		err = invalid("--version: want a version of 1 or more")
	}
	if err == nil {
		err = s.needRing()
	}
	if err == nil {
		c.SealState, err = s.sealer(ctx)
	}
	if err == nil {
		c.Now = s.now().UTC()
		c.Audit = s.inTx(ctx, ev)
		err = s.st.Change(ctx, c)
		if err == nil && c.Audit != nil {
			return nil // its event committed with it
		}
	}
	return s.finish(ctx, ev, err)
}

func nameIfValid(name string) string {
	if ValidateName(name) != nil {
		return ""
	}
	return name
}

// ImportOptions describe an import.
type ImportOptions struct {
	Prefix string // prepended to every entry's name
	Class  string // class of new secrets (default config)
}

// Import stores every entry as a new version of prefix+name in one
// transaction: all or none. It checks every name and value before writing.
func (s *Service) Import(ctx context.Context, entries []Entry, o ImportOptions) (int, error) {
	err := s.importAll(ctx, entries, o)
	ev := audit.Event{Action: ActionWrite, Secret: o.Prefix, Detail: fmt.Sprintf("import of %d secrets", len(entries))}
	if err != nil {
		return 0, s.finish(ctx, ev, err)
	}
	for _, e := range entries {
		if err := s.finish(ctx, audit.Event{Action: ActionWrite, Secret: o.Prefix + e.Name, Detail: "import"}, nil); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
}

func (s *Service) importAll(ctx context.Context, entries []Entry, o ImportOptions) error {
	if err := s.needRing(); err != nil {
		return err
	}
	var m store.Meta
	if o.Class != "" {
		if !ValidClass(o.Class) {
			return invalid("class: unknown")
		}
		c, r := o.Class, DefaultRotation(o.Class)
		m.Class, m.RotationPeriod = &c, &r
	}
	for _, e := range entries {
		where := ""
		if e.Line > 0 {
			where = fmt.Sprintf("line %d: ", e.Line)
		}
		if err := ValidateName(o.Prefix + e.Name); err != nil {
			return fmt.Errorf("%s%w", where, err)
		}
		if err := CheckValue(o.Prefix+e.Name, []byte(e.Value.Reveal())); err != nil {
			return fmt.Errorf("%s%w", where, err)
		}
		if err := s.checkDerivedEnv(ctx, o.Prefix+e.Name); err != nil {
			return fmt.Errorf("%s%s: %w", where, o.Prefix+e.Name, err)
		}
	}
	if err := s.ensureKey(ctx, s.ring.Primary()); err != nil {
		return err
	}
	seal, err := s.sealer(ctx)
	if err != nil {
		return err
	}
	ws := make([]store.Write, len(entries))
	for i, e := range entries {
		ws[i] = s.write(ctx, o.Prefix+e.Name, []byte(e.Value.Reveal()), m, nil, seal)
	}
	return s.st.PutMany(ctx, ws)
}

// Export decrypts the current version of every live secret under prefix.
// Each value is audited as an export before it is returned; any failure
// returns no values at all.
func (s *Service) Export(ctx context.Context, prefix string) ([]Value, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, s.finish(ctx, audit.Event{Action: ActionExport}, err)
	}
	if err := s.needRing(); err != nil {
		return nil, s.finish(ctx, audit.Event{Action: ActionExport, Secret: prefix}, err)
	}
	list, err := s.st.List(ctx, store.ListOptions{Prefix: prefix})
	if err != nil {
		return nil, s.finish(ctx, audit.Event{Action: ActionExport, Secret: prefix}, err)
	}
	out := make([]Value, 0, len(list))
	for _, sec := range list {
		val, err := s.get(ctx, sec.Name, 0)
		ev := audit.Event{Action: ActionExport, Secret: sec.Name, Version: val.Version.Version}
		if err := s.finish(ctx, ev, err); err != nil {
			return nil, err
		}
		out = append(out, val)
	}
	return out, nil
}

// Describe returns the class and owner of name, for an access decision
// (docs/opa.md), without auditing: it is part of the access it decides,
// which is audited. A secret that does not exist (yet), is deleted or has
// an invalid name has neither.
func (s *Service) Describe(ctx context.Context, name string) (class, owner string, err error) {
	if ValidateName(name) != nil {
		return "", "", nil
	}
	sec, err := s.st.Secret(ctx, name)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDeleted) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	return sec.Class, sec.Owner, nil
}
