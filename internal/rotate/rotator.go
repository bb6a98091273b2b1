package rotate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// Audit actions of the rotation verbs.
const (
	ActionKeyRotate  = "key-rotate"
	ActionKeyStage   = "key-stage"
	ActionKeyPromote = "key-promote"
	ActionKeyRetire  = "key-retire"
	ActionReencrypt  = "reencrypt"
)

// Store is what rotation needs of a store.
type Store interface {
	store.Keys
	store.Rotation
	CountByKey(ctx context.Context) (map[string]int64, error)
}

// Rotator carries out the rotation verbs over a store and env files. Every
// verb takes the env file's lock file (FILE.lock) and the store's rotation
// lock first, checks its input completely, and only then changes anything.
type Rotator struct {
	Store     Store
	Bind      Binder         // secrets.Bind
	NewBinder func() Binder  // secrets.NewBinder: per-worker, faster; nil: Bind
	Recorder  audit.Recorder // nil: audit.Discard
	Now       func() time.Time
	BatchSize int
	Workers   int
	Writers   int
	// Wait is how long to wait for a lock another rotation holds; 0
	// refuses at once.
	Wait time.Duration
	// Progress, if set, is called after every batch of a re-encryption;
	// phase is "reencrypt" or "sweep".
	Progress func(phase string, p Progress)
	// Step, if set, is called as each durable step completes: "staged",
	// "reencrypted", "promoted-env", "promoted-store".
	Step func(step string)
	// Targets, if set, is the platform's own data under the keys: Retire
	// refuses while a target holds a token under the key.
	Targets *Targets
	// Keys is the environment's ring, which reads the targets when no env
	// file is given.
	Keys *fernet.Ring
	// TargetProgress, if set, is called after every batch ReencryptTargets
	// writes.
	TargetProgress func(targets.Progress)
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Rotator) step(s string) {
	if r.Step != nil {
		r.Step(s)
	}
}

func (r *Rotator) record(ctx context.Context, ev audit.Event, err error) error {
	rec := r.Recorder
	if rec == nil {
		rec = audit.Discard{}
	}
	if ev.Time.IsZero() {
		ev.Time = r.now()
	}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, reasonOf(err)
	} else {
		ev.Outcome = audit.Success
	}
	if rerr := rec.Record(ctx, audit.Stamp(ctx, ev)); rerr != nil {
		rerr = fmt.Errorf("%w: %w", audit.ErrNotRecorded, rerr)
		if err != nil {
			return errors.Join(err, rerr)
		}
		return rerr
	}
	return err
}

// reasonOf gives a short, value-free reason for an audit event.
func reasonOf(err error) string {
	var le *LockedError
	var mk *MissingKeysError
	var ee *dotenv.FileError
	var ke *KeyStateError
	switch {
	case errors.As(err, &le), errors.Is(err, store.ErrLocked):
		return "another rotation is running"
	case errors.As(err, &mk):
		return "keys do not match the data"
	case errors.As(err, &ee):
		return "bad env file"
	case errors.As(err, &ke):
		return ke.Reason
	case errors.Is(err, ErrFailures):
		return "some versions could not be re-encrypted"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// KeyStateError refuses an operation because of a key's state, use or
// retention. It names the key by ID.
type KeyStateError struct {
	KeyID  string
	Reason string
	// Forceable: --force --reason would override it.
	Forceable bool
}

func (e *KeyStateError) Error() string { return "key " + e.KeyID + ": " + e.Reason }

// KeyMismatchError reports an env file whose keys are not the ones the
// store uses.
type KeyMismatchError struct {
	Path   string
	Reason string
}

func (e *KeyMismatchError) Error() string {
	return "the keys in " + e.Path + " do not match the store: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrUnknownKey) hold.
func (e *KeyMismatchError) Unwrap() error { return ErrUnknownKey }

// session is one verb's hold on its locks and its view of the key table.
type session struct {
	r       *Rotator
	env     *dotenv.File // nil when the verb works without an env file
	ring    *fernet.Ring
	infos   map[string]store.KeyInfo
	counts  map[string]int64
	release []func() error
}

func (s *session) close() {
	for i := len(s.release) - 1; i >= 0; i-- {
		_ = s.release[i]()
	}
}

// lock takes the env file's lock file (when envPath is set) and the
// store's rotation lock, waiting up to r.Wait for each.
func (r *Rotator) lock(ctx context.Context, envPath string) (*session, error) {
	s := &session{r: r}
	if envPath != "" {
		// The file must exist and be readable before a lock file is
		// created beside it.
		ef, err := dotenv.Read(envPath)
		if err != nil {
			return nil, err
		}
		fl, err := LockFile(ctx, ef.Path()+".lock", r.Wait)
		if err != nil {
			return nil, err
		}
		s.release = append(s.release, fl.Release)
	}
	deadline := time.Now().Add(r.Wait)
	for {
		unlock, err := r.Store.LockRotation(ctx)
		if err == nil {
			s.release = append(s.release, unlock)
			break
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) {
			s.close()
			if errors.Is(err, store.ErrLocked) {
				return nil, &LockedError{What: "store"}
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return s, nil
}

// lockEnv takes the rotation locks for envPath and loads the env file's
// key ring, as every verb that edits the env file starts; on failure
// nothing is held.
func (r *Rotator) lockEnv(ctx context.Context, envPath string) (*session, error) {
	s, err := r.lock(ctx, envPath)
	if err != nil {
		return nil, err
	}
	if err := s.load(ctx, envPath, nil); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// load reads the env file (under the lock) and the key table, and checks
// that the keys match the data.
func (s *session) load(ctx context.Context, envPath string, ring *fernet.Ring) error {
	if envPath != "" {
		ef, err := dotenv.Read(envPath)
		if err != nil {
			return err
		}
		ring, err = EnvRing(ef)
		if err != nil {
			return err
		}
		s.env = ef
	}
	s.ring = ring
	if err := s.refresh(ctx); err != nil {
		return err
	}
	if ring == nil {
		return nil
	}
	e := &Engine{Source: s.r.Store, Ring: ring}
	if _, err := e.Check(ctx); err != nil {
		var mk *MissingKeysError
		if errors.As(err, &mk) && s.env != nil {
			return &KeyMismatchError{Path: s.env.Path(), Reason: strings.TrimPrefix(err.Error(), "the keys do not match the data: ")}
		}
		return err
	}
	for id, k := range s.infos {
		if k.State == store.KeyActive && ring.Key(id) == nil {
			where := "the loaded keys"
			if s.env != nil {
				where = s.env.Path()
			}
			return &KeyMismatchError{Path: where, Reason: "the store's active key " + id + " is not among them"}
		}
	}
	// A retired key is final: loaded as the primary it would be promoted
	// past as if it were the active key, and stay in the file.
	if id := ring.Primary().ID(); s.state(id) == store.KeyRetired {
		where := "the loaded keys"
		if s.env != nil {
			where = s.env.Path()
		}
		return &KeyMismatchError{Path: where, Reason: "its primary key " + id + " is retired; the store's active key belongs there"}
	}
	return nil
}

func (s *session) refresh(ctx context.Context) error {
	list, err := s.r.Store.ListKeys(ctx)
	if err != nil {
		return err
	}
	s.infos = make(map[string]store.KeyInfo, len(list))
	for _, k := range list {
		s.infos[k.ID] = k
	}
	s.counts, err = s.r.Store.CountByKey(ctx)
	return err
}

func (s *session) state(id string) string { return s.infos[id].State }

// register records the ring's keys the store has not seen: the primary as
// active (unless another key is active: then pending), the others as
// decrypt-only, retained 30 days from now.
func (s *session) register(ctx context.Context) error {
	if s.ring == nil {
		return nil
	}
	now := s.r.now()
	hasActive := false
	for _, k := range s.infos {
		if k.State == store.KeyActive {
			hasActive = true
		}
	}
	changed := false
	for i, k := range s.ring.Keys() {
		if _, ok := s.infos[k.ID()]; ok {
			continue
		}
		info := store.KeyInfo{ID: k.ID(), CreatedAt: now}
		switch {
		case i == 0 && !hasActive:
			info.State, info.ActivatedAt, info.Note = store.KeyActive, now, "registered from "+config.EnvFernetKey
		case i == 0:
			info.State, info.Note = store.KeyPending, "registered from "+config.EnvFernetKey
		default:
			info.State, info.DeactivatedAt, info.RetainUntil = store.KeyDecryptOnly, now, now.Add(RetentionPeriod)
			info.Note = "registered from " + config.EnvFernetPreviousKeys
		}
		if _, err := s.r.Store.EnsureKey(ctx, info); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return s.refresh(ctx)
	}
	return nil
}

// run re-encrypts everything to ring's primary.
func (r *Rotator) run(ctx context.Context, phase string, ring *fernet.Ring) (*Result, error) {
	e := &Engine{Source: r.Store, Ring: ring, Bind: r.Bind, NewBinder: r.NewBinder, BatchSize: r.BatchSize, Workers: r.Workers, Writers: r.Writers}
	if r.Progress != nil {
		e.Progress = func(p Progress) { r.Progress(phase, p) }
	}
	return e.Run(ctx)
}

// withPrimary returns a ring with k first and the other keys of ring after
// it, in order.
func withPrimary(k *fernet.Key, ring *fernet.Ring) *fernet.Ring {
	keys := []*fernet.Key{k}
	for _, o := range ring.Keys() {
		if o.ID() != k.ID() {
			keys = append(keys, o)
		}
	}
	out, err := fernet.NewRing(keys...)
	if err != nil {
		panic("rotate: " + err.Error()) // distinct by construction
	}
	return out
}

// withSecond returns ring with k inserted after the primary.
func withSecond(k *fernet.Key, ring *fernet.Ring) *fernet.Ring {
	ks := ring.Keys()
	keys := []*fernet.Key{ks[0], k}
	for _, o := range ks[1:] {
		if o.ID() != k.ID() {
			keys = append(keys, o)
		}
	}
	out, err := fernet.NewRing(keys...)
	if err != nil {
		panic("rotate: " + err.Error())
	}
	return out
}

// RotateReport is the summary of a rotation: key IDs and counts only.
type RotateReport struct {
	NewKey      string           `json:"new_key_id"`
	OldKey      string           `json:"old_key_id"`
	Resumed     bool             `json:"resumed"`
	Moved       map[string]int64 `json:"moved_by_key_id"`
	Skipped     int64            `json:"skipped"`
	RetainUntil time.Time        `json:"old_key_retain_until"`
	EnvFile     string           `json:"env_file"`
	Elapsed     time.Duration    `json:"elapsed_ns"`
	// Key is the new key, for --print-key; never marshalled.
	Key *fernet.Key `json:"-"`
}

// Rotate is the whole rotation on one node (docs/rotation.md has the steps
// and the crash analysis): stage a new key into the env file as a previous
// key, re-encrypt every version to it, promote it in the env file, promote
// it in the store (the old primary decrypt-only, retained 30 days), and
// sweep. Run again after a crash at any point, it finishes the job.
func (r *Rotator) Rotate(ctx context.Context, envPath string) (rep *RotateReport, err error) {
	start := time.Now()
	rep = &RotateReport{Moved: map[string]int64{}}
	defer func() {
		ev := audit.Event{Action: ActionKeyRotate, Detail: rotateDetail(rep)}
		err = r.record(ctx, ev, err)
	}()
	s, err := r.lockEnv(ctx, envPath)
	if err != nil {
		return rep, err
	}
	defer s.close()
	rep.EnvFile = s.env.Path()
	if err := s.register(ctx); err != nil {
		return rep, err
	}
	primary := s.ring.Primary()
	var target *fernet.Key
	if s.state(primary.ID()) == store.KeyPending {
		target = primary // promoted in the env file, not yet in the store
		rep.Resumed = true
	} else {
		for _, k := range s.ring.Keys()[1:] {
			if s.state(k.ID()) == store.KeyPending {
				target = k
				rep.Resumed = true
				break
			}
		}
	}
	if target == nil {
		target = fernet.GenerateKey()
		now := r.now()
		if err := r.Store.PutKey(ctx, store.KeyInfo{ID: target.ID(), State: store.KeyPending, CreatedAt: now, Note: "key rotate"}); err != nil {
			return rep, err
		}
		if err := SetEnvRing(s.env, withSecond(target, s.ring)); err != nil {
			return rep, err
		}
		if err := s.env.Write(); err != nil {
			return rep, err
		}
		r.step("staged")
	}
	rep.NewKey, rep.Key = target.ID(), target
	old := primary
	if primary.ID() == target.ID() {
		old = nil
		if ks := s.ring.Keys(); len(ks) > 1 {
			old = ks[1]
			rep.OldKey = old.ID()
		}
	} else {
		rep.OldKey = old.ID()
	}
	final := withPrimary(target, s.ring)
	if primary.ID() != target.ID() {
		res, err := r.run(ctx, "reencrypt", final)
		addMoved(rep, res)
		if err != nil {
			return rep, err
		}
		r.step("reencrypted")
		// The old primary goes to the front of the previous keys.
		final = withPrimary(target, withPrimary(old, s.ring))
		if err := SetEnvRing(s.env, final); err != nil {
			return rep, err
		}
		if err := s.env.Write(); err != nil {
			return rep, err
		}
		r.step("promoted-env")
	}
	now := r.now()
	rep.RetainUntil = now.Add(RetentionPeriod)
	if err := r.Store.PromoteKey(ctx, target.ID(), now, rep.RetainUntil); err != nil {
		return rep, err
	}
	r.step("promoted-store")
	res, err := r.run(ctx, "sweep", final)
	addMoved(rep, res)
	rep.Elapsed = time.Since(start)
	return rep, err
}

func addMoved(rep *RotateReport, res *Result) {
	if res == nil {
		return
	}
	for k, v := range res.Moved {
		rep.Moved[k] += v
	}
	rep.Skipped += res.Skipped
}

func rotateDetail(rep *RotateReport) string {
	if rep.NewKey == "" {
		return ""
	}
	var n int64
	for _, v := range rep.Moved {
		n += v
	}
	return fmt.Sprintf("new key %s, old key %s, %d versions re-encrypted", rep.NewKey, rep.OldKey, n)
}

// StageReport is the summary of a stage.
type StageReport struct {
	Key     string `json:"key_id"`
	Already bool   `json:"already_staged"`
	EnvFile string `json:"env_file"`
	// New is the staged key, for --print-key; never marshalled.
	New *fernet.Key `json:"-"`
}

// Stage writes a key into the env file as the first previous key
// (decrypt-only) and records it pending. With key nil it generates one,
// unless the file already holds a pending key (then it reports that one).
// A given key already in the file as a pending key is a no-op; one the
// store records as decrypt-only, retired or compromised is refused.
func (r *Rotator) Stage(ctx context.Context, envPath string, key *fernet.Key) (rep *StageReport, err error) {
	rep = &StageReport{}
	defer func() {
		d := ""
		if rep.Key != "" {
			d = "key " + rep.Key
		}
		err = r.record(ctx, audit.Event{Action: ActionKeyStage, Detail: d}, err)
	}()
	s, err := r.lockEnv(ctx, envPath)
	if err != nil {
		return rep, err
	}
	defer s.close()
	rep.EnvFile = s.env.Path()
	if err := s.register(ctx); err != nil {
		return rep, err
	}
	if key == nil {
		for _, k := range s.ring.Keys() {
			if s.state(k.ID()) == store.KeyPending {
				rep.Key, rep.Already, rep.New = k.ID(), true, k
				return rep, nil
			}
		}
		key = fernet.GenerateKey()
	}
	rep.Key, rep.New = key.ID(), key
	if in := s.ring.Key(key.ID()); in != nil {
		if st := s.state(key.ID()); st == store.KeyPending || st == store.KeyActive && s.ring.Primary().ID() != key.ID() {
			rep.Already = true
			return rep, nil
		}
		return rep, &KeyStateError{KeyID: key.ID(), Reason: "already in " + rep.EnvFile + " and " + s.state(key.ID())}
	}
	switch st := s.state(key.ID()); st {
	case "", store.KeyPending, store.KeyActive:
	default:
		return rep, &KeyStateError{KeyID: key.ID(), Reason: "is " + st + "; stage a new key"}
	}
	if _, err := r.Store.EnsureKey(ctx, store.KeyInfo{ID: key.ID(), State: store.KeyPending, CreatedAt: r.now(), Note: "key stage"}); err != nil {
		return rep, err
	}
	if err := SetEnvRing(s.env, withSecond(key, s.ring)); err != nil {
		return rep, err
	}
	if err := s.env.Write(); err != nil {
		return rep, err
	}
	r.step("staged")
	return rep, nil
}

// PromoteReport is the summary of a promotion.
type PromoteReport struct {
	NewKey      string    `json:"new_key_id"`
	OldKey      string    `json:"old_key_id"`
	Already     bool      `json:"already_promoted"`
	RetainUntil time.Time `json:"old_key_retain_until"`
	EnvFile     string    `json:"env_file"`
}

// Promote makes the env file's staged key (a previous key the store records
// pending, or active because another node promoted it already) its primary,
// the old primary first among the previous keys, and records the promotion
// in the store: the key active, the former active key decrypt-only until 30
// days from now. It re-encrypts nothing (see Reencrypt).
func (r *Rotator) Promote(ctx context.Context, envPath string) (rep *PromoteReport, err error) {
	rep = &PromoteReport{}
	defer func() {
		d := ""
		if rep.NewKey != "" {
			d = fmt.Sprintf("new key %s, old key %s", rep.NewKey, rep.OldKey)
		}
		err = r.record(ctx, audit.Event{Action: ActionKeyPromote, Detail: d}, err)
	}()
	s, err := r.lockEnv(ctx, envPath)
	if err != nil {
		return rep, err
	}
	defer s.close()
	rep.EnvFile = s.env.Path()
	if err := s.register(ctx); err != nil {
		return rep, err
	}
	primary := s.ring.Primary()
	var target *fernet.Key
	switch s.state(primary.ID()) {
	case store.KeyPending:
		target = primary // promoted in the file, not yet in the store
		if len(s.ring.Keys()) > 1 {
			rep.OldKey = s.ring.Keys()[1].ID()
		}
	default:
		for _, k := range s.ring.Keys()[1:] {
			if st := s.state(k.ID()); st == store.KeyPending || st == store.KeyActive {
				target = k
				break
			}
		}
		if target == nil {
			return rep, &KeyStateError{KeyID: primary.ID(), Reason: "is the primary in " + rep.EnvFile + " and no staged key follows it; run 'key stage' first"}
		}
		rep.OldKey = primary.ID()
		if err := SetEnvRing(s.env, withPrimary(target, s.ring)); err != nil {
			return rep, err
		}
		if err := s.env.Write(); err != nil {
			return rep, err
		}
		r.step("promoted-env")
	}
	rep.NewKey = target.ID()
	if s.state(target.ID()) == store.KeyActive {
		rep.Already = true // another node recorded it
		if old, ok := s.infos[rep.OldKey]; ok {
			rep.RetainUntil = old.RetainUntil
		}
		return rep, nil
	}
	now := r.now()
	rep.RetainUntil = now.Add(RetentionPeriod)
	if err := r.Store.PromoteKey(ctx, target.ID(), now, rep.RetainUntil); err != nil {
		return rep, err
	}
	r.step("promoted-store")
	return rep, nil
}

// ReencryptOptions select the keys of a re-encryption.
type ReencryptOptions struct {
	// EnvPath: read the ring from this env file (and lock it); "" to use
	// Ring.
	EnvPath string
	Ring    *fernet.Ring
	// PromoteTarget: the policy's reencrypt script form (old and new key
	// given): record the new key active first if the store does not yet.
	PromoteTarget bool
}

// Reencrypt moves every version under another key to the ring's primary.
// It refuses unless the primary is the store's active key (or, with
// PromoteTarget, a key it may make active), so a node with an out-of-date
// env file never moves data backwards.
func (r *Rotator) Reencrypt(ctx context.Context, o ReencryptOptions) (res *Result, err error) {
	res = &Result{Moved: map[string]int64{}}
	defer func() {
		d := ""
		if res.Target != "" {
			d = fmt.Sprintf("to key %s, %d versions re-encrypted, %d skipped, %d failed", res.Target, res.Total(), res.Skipped, len(res.Failures))
		}
		err = r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: d}, err)
	}()
	s, err := r.lock(ctx, o.EnvPath)
	if err != nil {
		return res, err
	}
	defer s.close()
	if o.PromoteTarget {
		// The check that the store's active key is loaded holds after the
		// promotion; check the data first.
		s.ring = o.Ring
		if err := s.refresh(ctx); err != nil {
			return res, err
		}
		if _, err := (&Engine{Source: r.Store, Ring: o.Ring}).Check(ctx); err != nil {
			return res, err
		}
		target := o.Ring.Primary()
		switch st := s.state(target.ID()); st {
		case store.KeyActive:
		case "", store.KeyPending:
			if st == "" {
				if _, err := r.Store.EnsureKey(ctx, store.KeyInfo{ID: target.ID(), State: store.KeyPending, CreatedAt: r.now(), Note: "reencrypt --new-key"}); err != nil {
					return res, err
				}
			}
			now := r.now()
			if err := r.Store.PromoteKey(ctx, target.ID(), now, now.Add(RetentionPeriod)); err != nil {
				return res, err
			}
			if err := r.record(ctx, audit.Event{Action: ActionKeyPromote, Detail: "key " + target.ID()}, nil); err != nil {
				return res, err
			}
		default:
			return res, &KeyStateError{KeyID: target.ID(), Reason: "is " + st + "; it cannot become the primary again"}
		}
		if err := s.load(ctx, "", o.Ring); err != nil {
			return res, err
		}
	} else {
		if err := s.load(ctx, o.EnvPath, o.Ring); err != nil {
			return res, err
		}
		if err := s.register(ctx); err != nil {
			return res, err
		}
		target := s.ring.Primary()
		if st := s.state(target.ID()); st != store.KeyActive {
			reason := "is " + st + ", not the store's active key"
			for id, k := range s.infos {
				if k.State == store.KeyActive {
					reason += " (" + id + " is)"
				}
			}
			if st == store.KeyPending {
				reason += "; run 'key promote' first"
			} else {
				reason += "; this node's keys are out of date"
			}
			return res, &KeyStateError{KeyID: target.ID(), Reason: reason}
		}
	}
	out, err := r.run(ctx, "reencrypt", s.ring)
	if out != nil {
		res = out
	}
	return res, err
}

// RetireReport is the summary of a retirement.
type RetireReport struct {
	Key            string `json:"key_id"`
	Forced         bool   `json:"forced"`
	Versions       int64  `json:"versions_still_under_key"`
	RemovedFromEnv bool   `json:"removed_from_env_file"`
	Already        bool   `json:"already_retired"`
	// TargetTokens: tokens each target still holds under the key (or,
	// the key not loaded, that no loaded key opens).
	TargetTokens map[string]int64 `json:"target_tokens,omitempty"`
}

// Retire records key id retired and, with envPath, removes it from the env
// file's previous keys. It refuses the active key (and a key that is the
// env file's primary) always; a key still used by a version or still within
// its retention period unless force, which needs a reason.
func (r *Rotator) Retire(ctx context.Context, id, envPath string, force bool, reason string) (rep *RetireReport, err error) {
	rep = &RetireReport{Key: id, Forced: force}
	defer func() {
		ev := audit.Event{Action: ActionKeyRetire, Detail: "key " + id}
		if force {
			ev.Detail += "; forced: " + reason
		}
		err = r.record(ctx, ev, err)
	}()
	if force && strings.TrimSpace(reason) == "" {
		return rep, errors.New("--force needs --reason")
	}
	s, err := r.lock(ctx, envPath)
	if err != nil {
		return rep, err
	}
	defer s.close()
	if envPath != "" {
		ef, err := dotenv.Read(envPath)
		if err != nil {
			return rep, err
		}
		ring, err := EnvRing(ef)
		if err != nil {
			return rep, err
		}
		s.env, s.ring = ef, ring
	}
	if err := s.refresh(ctx); err != nil {
		return rep, err
	}
	info, ok := s.infos[id]
	if !ok {
		return rep, fmt.Errorf("%w: no key %s in the key table", store.ErrNotFound, id)
	}
	rep.Versions = s.counts[id]
	if info.State == store.KeyActive {
		return rep, &KeyStateError{KeyID: id, Reason: "is the active key; rotate to a new key first"}
	}
	if s.ring != nil && s.ring.Primary().ID() == id {
		return rep, &KeyStateError{KeyID: id, Reason: "is the primary in " + s.env.Path() + "; promote another key first"}
	}
	now := r.now()
	if info.State == store.KeyRetired {
		rep.Already = true
	} else {
		if err := CheckTransition(id, State(info.State), Retired); err != nil {
			return rep, &KeyStateError{KeyID: id, Reason: err.Error()}
		}
		if rep.Versions > 0 && !force {
			return rep, &KeyStateError{KeyID: id, Forceable: true,
				Reason: fmt.Sprintf("%d versions still use it; run 'reencrypt' first", rep.Versions)}
		}
		if err := r.checkTargets(ctx, s.ring, id, force, rep); err != nil {
			return rep, err
		}
		if info.RetainUntil.After(now) && !force {
			return rep, &KeyStateError{KeyID: id, Forceable: true,
				Reason: "is retained until " + info.RetainUntil.Format(time.RFC3339) + " (30 days after it was deactivated)"}
		}
		info.State, info.RetiredAt = store.KeyRetired, now
		if force {
			info.Note = "retired with --force: " + reason
		}
		if err := r.Store.PutKey(ctx, info); err != nil {
			return rep, err
		}
	}
	if s.ring != nil && s.ring.Key(id) != nil {
		var keep []*fernet.Key
		for _, k := range s.ring.Keys() {
			if k.ID() != id {
				keep = append(keep, k)
			}
		}
		ring, _ := fernet.NewRing(keep...)
		if err := SetEnvRing(s.env, ring); err != nil {
			return rep, err
		}
		if err := s.env.Write(); err != nil {
			return rep, err
		}
		rep.RemovedFromEnv = true
	}
	return rep, nil
}
