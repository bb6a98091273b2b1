package rotate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// Targets is the platform's own data under the keys (the targets file):
// `key retire` refuses while a target holds a token under the key, `status`
// judges the targets too, and ReencryptTargets moves their tokens.
type Targets struct {
	List    []targets.Target
	Resolve targets.Resolver
	// ResolveWith, if set, is used instead of Resolve: it reads the
	// connection strings with the ring the verb loaded (an env file's).
	ResolveWith func(ring *fernet.Ring) targets.Resolver
	// Err, if set, says why the targets file could not be read: every
	// use of the targets fails with it (a retire is refused).
	Err error
}

func (ts *Targets) runner(ring *fernet.Ring, r *Rotator) *targets.Runner {
	tr := &targets.Runner{Ring: ring, Resolve: ts.Resolve}
	if ts.ResolveWith != nil {
		tr.Resolve = ts.ResolveWith(ring)
	}
	if r != nil {
		tr.Now, tr.BatchSize, tr.Workers, tr.Writers = r.now, r.BatchSize, r.Workers, r.Writers
	}
	return tr
}

// ErrTargetFailures is returned when a target could not be read whole, or
// holds plaintext or tokens no loaded key opens.
var ErrTargetFailures = errors.New("some targets hold plaintext or unreadable tokens, or could not be read")

// keyUse reads every target and says, as TargetUse, how many tokens each
// holds under key id.
func (ts *Targets) keyUse(ctx context.Context, r *Rotator, ring *fernet.Ring, id string) (uses []string, counts map[string]int64, err error) {
	reps, err := ts.runner(ring, r).Status(ctx, ts.List)
	if err != nil {
		return nil, nil, err
	}
	return TargetUse(reps, ring, id)
}

// TargetUse is the targets' part of the rule `key retire` applies: per
// target (reps, read under ring), how many tokens it holds under key id,
// with a sentence per target that does. When id is not in ring the tokens
// no loaded key opens are counted, since they may be under it. A target
// that could not be read is an error: retiring the key could lose its
// tokens unseen. The key may be retired, as far as the targets go, only
// when err is nil and uses is empty.
func TargetUse(reps []targets.Report, ring *fernet.Ring, id string) (uses []string, counts map[string]int64, err error) {
	counts = map[string]int64{}
	for _, rep := range reps {
		if rep.Error != "" {
			return nil, nil, fmt.Errorf("cannot check the targets: %s", rep.Error)
		}
		if n := rep.Tokens[id]; n > 0 {
			counts[rep.Target] = n
			uses = append(uses, fmt.Sprintf("target %s holds %d tokens under it", rep.Target, n))
		} else if ring.Key(id) == nil && rep.Unreadable > 0 {
			counts[rep.Target] = rep.Unreadable
			uses = append(uses, fmt.Sprintf("target %s holds %d tokens no loaded key opens (key %s is not loaded, so they may be under it)", rep.Target, rep.Unreadable, id))
		}
	}
	return uses, counts, nil
}

// checkTargets is Retire's check of the targets: refused (forceable) while
// one holds tokens under the key.
func (r *Rotator) checkTargets(ctx context.Context, ring *fernet.Ring, id string, force bool, rep *RetireReport) error {
	if r.Targets == nil || len(r.Targets.List) == 0 && r.Targets.Err == nil {
		return nil
	}
	if err := r.Targets.Err; err != nil {
		if force {
			return nil
		}
		return &KeyStateError{KeyID: id, Forceable: true, Reason: "cannot check the targets: " + err.Error()}
	}
	if ring == nil {
		ring = r.Keys
	}
	if ring == nil {
		if force {
			return nil
		}
		return &KeyStateError{KeyID: id, Forceable: true,
			Reason: "the targets cannot be checked without the keys; set SA01_CRYPTO_FERNET_KEY or pass --env-file"}
	}
	uses, counts, err := r.Targets.keyUse(ctx, r, ring, id)
	if err != nil {
		if force {
			return nil
		}
		return &KeyStateError{KeyID: id, Forceable: true, Reason: err.Error()}
	}
	rep.TargetTokens = counts
	if len(uses) > 0 && !force {
		return &KeyStateError{KeyID: id, Forceable: true,
			Reason: strings.Join(uses, "; ") + "; run 'reencrypt --targets' first"}
	}
	return nil
}

// TargetsResult is a re-encryption of the targets.
type TargetsResult struct {
	Target  string           `json:"target_key_id"`
	Results []targets.Result `json:"targets"`
}

// ReencryptTargets moves every token of the named targets (all when names
// is empty) under an older key to the ring's primary. Like Reencrypt it
// refuses unless the primary is the store's active key, so a node with an
// out-of-date env file never moves the platform's data backwards; it takes
// the rotation lock and records a `reencrypt` audit event per target.
// Plaintext and unreadable values are left and counted; with any, the
// error is ErrTargetFailures after every target has been done.
func (r *Rotator) ReencryptTargets(ctx context.Context, o ReencryptOptions, names []string) (res *TargetsResult, err error) {
	res = &TargetsResult{}
	if r.Targets != nil && r.Targets.Err != nil {
		return res, r.Targets.Err
	}
	if r.Targets == nil || len(r.Targets.List) == 0 {
		return res, errors.New("no targets: set SA01_SECRETS_TARGETS_FILE to the targets file")
	}
	list := r.Targets.List
	if len(names) > 0 {
		f := &targets.File{Targets: r.Targets.List}
		if list, err = f.Select(names...); err != nil {
			return res, err
		}
	}
	s, err := r.lock(ctx, o.EnvPath)
	if err != nil {
		return res, r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: "targets"}, err)
	}
	defer s.close()
	if err := s.load(ctx, o.EnvPath, o.Ring); err != nil {
		return res, r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: "targets"}, err)
	}
	if err := s.register(ctx); err != nil {
		return res, r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: "targets"}, err)
	}
	target := s.ring.Primary()
	res.Target = target.ID()
	if st := s.state(target.ID()); st != store.KeyActive {
		err := &KeyStateError{KeyID: target.ID(), Reason: "is " + st + ", not the store's active key; run 'key promote' first, or this node's keys are out of date"}
		return res, r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: "targets"}, err)
	}
	tr := r.Targets.runner(s.ring, r)
	tr.Progress = r.TargetProgress
	bad := false
	for _, t := range list {
		out, err := tr.Reencrypt(ctx, []targets.Target{t})
		one := targets.Result{Target: t.Name}
		if len(out) > 0 {
			one = out[0]
		}
		res.Results = append(res.Results, one)
		d := fmt.Sprintf("target %s to key %s: %s, %d skipped (changed meanwhile), %d plaintext, %d unreadable",
			t.Name, target.ID(), movedDetail(one.Moved), one.Skipped, one.Plaintext, one.Unreadable)
		if rerr := r.record(ctx, audit.Event{Action: ActionReencrypt, Detail: d}, err); rerr != nil {
			return res, rerr
		}
		bad = bad || one.Plaintext > 0 || one.Unreadable > 0
	}
	if bad {
		return res, ErrTargetFailures
	}
	return res, nil
}

func movedDetail(m map[string]int64) string {
	if len(m) == 0 {
		return "0 moved"
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%d moved from key %s", m[id], id))
	}
	return strings.Join(parts, ", ")
}

// TargetsStatus reads every target under ring.
func (ts *Targets) Status(ctx context.Context, ring *fernet.Ring) ([]targets.Report, error) {
	if ts.Err != nil {
		return nil, ts.Err
	}
	return ts.runner(ring, nil).Status(ctx, ts.List)
}

// AddTargets adds the targets' reports to a status report. Non-compliant:
// a target that cannot be read, plaintext where a token belongs, tokens no
// loaded key opens, and tokens under a key past its retention (or retired
// or compromised).
func (rep *StatusReport) AddTargets(reps []targets.Report) {
	rep.Targets = reps
	past := map[string]bool{}
	for _, k := range rep.Keys {
		switch k.State {
		case store.KeyRetired, store.KeyCompromised:
			past[k.ID] = true
		case store.KeyDecryptOnly:
			past[k.ID] = k.RetainUntil != nil && rep.Now.After(*k.RetainUntil)
		}
	}
	add := func(s string) { rep.Overdue = append(rep.Overdue, s) }
	for _, t := range reps {
		if t.Error != "" {
			add("target " + t.Target + ": cannot be read: " + t.Error)
		}
		if t.Plaintext > 0 {
			add(fmt.Sprintf("target %s: %d values are not Fernet tokens (plaintext where a token belongs)", t.Target, t.Plaintext))
		}
		if t.Unreadable > 0 {
			add(fmt.Sprintf("target %s: %d tokens no loaded key opens", t.Target, t.Unreadable))
		}
		ids := make([]string, 0, len(t.Tokens))
		for id := range t.Tokens {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if past[id] && t.Tokens[id] > 0 {
				add(fmt.Sprintf("target %s: %d tokens under key %s after its retention; run 'sa01-secrets reencrypt --targets'", t.Target, t.Tokens[id], id))
			}
		}
	}
	rep.Compliant = len(rep.Overdue) == 0
}
