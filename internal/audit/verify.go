package audit

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"sort"
)

// Kinds of tampering a verification names.
const (
	Edited    = "edited"    // an event's contents changed, or the chain was rewritten from it on
	Deleted   = "deleted"   // one or more events are missing from the middle of the chain
	Inserted  = "inserted"  // an event that was never appended appears in the chain
	Reordered = "reordered" // events appear out of their sequence order
	Truncated = "truncated" // the chain ends before its last checkpoint
	Forged    = "forged"    // a checkpoint's MAC does not verify under its key
	Missing   = "missing"   // a checkpoint that was due is not there
)

// Problem is the first sign of tampering a verification found.
type Problem struct {
	Kind     string `json:"kind"`
	Seq      int64  `json:"seq"`      // the first event concerned
	Position int64  `json:"position"` // 1-based position of the entry in the input (line of a file), 0 when none
	Detail   string `json:"detail"`
}

func (p *Problem) Error() string {
	if p.Position > 0 {
		return fmt.Sprintf("audit chain %s at seq %d (position %d): %s", p.Kind, p.Seq, p.Position, p.Detail)
	}
	return fmt.Sprintf("audit chain %s at seq %d: %s", p.Kind, p.Seq, p.Detail)
}

// Result is the outcome of a verification.
type Result struct {
	Events          int64    `json:"events"`           // entries that verified, in order
	Head            Head     `json:"-"`                // the last entry that verified
	Checkpoints     int      `json:"checkpoints"`      // checkpoints matched against the chain
	Unauthenticated int      `json:"unauthenticated"`  // checkpoints whose MAC could not be checked (unsigned, or key not loaded)
	Keyed           bool     `json:"keyed"`            // entries were checked as MACs under the audit key
	Anchored        bool     `json:"anchored"`         // the chain was checked against an anchor (a head kept elsewhere)
	Anchor          *Head    `json:"anchor,omitempty"` // of a verified audit file: the highest store head its lines carry
	Problem         *Problem `json:"problem,omitempty"`
}

// OK reports whether the chain verified.
func (r Result) OK() bool { return r.Problem == nil }

// lookahead bounds how far past a gap the verifier searches for the missing
// events before it calls them deleted rather than reordered.
const lookahead = 10000

// Verifier checks a chain fed to it entry by entry, in storage order, in
// constant memory. It stops at the first problem.
type Verifier struct {
	// Every, when not zero, is the checkpoint interval the chain was
	// written with (CheckpointEvery): each span [k·Every, (k+1)·Every)
	// that the chain has passed must hold an authenticated checkpoint, and
	// a span without one is reported Missing (a checkpoint deleted to hide
	// a rewrite). Only a keyed verification checks it.
	Every int64

	key     *MACKey
	keys    []MACKey
	mac     hash.Hash // HMAC under key's chain subkey, reused for every entry
	anchor  *Head
	anchorM bool
	auth    []int64 // seqs of authenticated checkpoints, ascending

	cps     []Checkpoint
	forged  *Checkpoint
	unauth  int
	cpi     int
	matched int

	pos     int64
	events  int64
	head    Head
	prob    *Problem
	pending *pending
}

type pending struct {
	gap      bool
	at       Entry
	pos      int64
	from, to int64 // gap: the missing sequence numbers
	left     int
}

// NewVerifier returns a verifier for a chain with the given checkpoints.
// With keys, each checkpoint's MAC is checked: a checkpoint under a loaded
// key with a wrong MAC is reported as forged and otherwise ignored; one
// under a key that is not loaded (or unsigned) still counts, as
// unauthenticated.
//
// With keys, the chain is keyed with keys[0] (the audit key): every entry's
// hash must be its MAC under it (MACKey.HashOf), so an entry edited and
// rehashed by someone without the key is named.
func NewVerifier(cps []Checkpoint, keys []MACKey) *Verifier {
	v := &Verifier{head: EmptyHead, keys: keys}
	if len(keys) > 0 {
		v.key = &keys[0]
		v.mac = v.key.newMAC()
	}
	v.addCheckpoints(cps)
	return v
}

func (v *Verifier) addCheckpoints(cps []Checkpoint) {
	for _, cp := range cps {
		if cp.Seq <= 0 {
			continue
		}
		err := cp.authentic(v.keys)
		switch err {
		case nil:
			v.auth = append(v.auth, cp.Seq)
		case errBadMAC:
			if v.forged == nil || cp.Seq < v.forged.Seq {
				c := cp
				v.forged = &c
			}
			continue
		default:
			v.unauth++
		}
		v.cps = append(v.cps, cp)
	}
	sort.SliceStable(v.cps, func(i, j int) bool { return v.cps[i].Seq < v.cps[j].Seq })
	sort.Slice(v.auth, func(i, j int) bool { return v.auth[i] < v.auth[j] })
}

// AddCheckpoints adds checkpoints written after the verification began,
// for the entries still to come: the verification goes on as if
// NewVerifier had been given them too. It adds none and returns false
// when one is not after the last entry added, or a problem is pending or
// found (verify the chain again).
func (v *Verifier) AddCheckpoints(cps []Checkpoint) bool {
	if v.prob != nil || v.pending != nil {
		return false
	}
	for _, cp := range cps {
		if cp.Seq <= v.head.Seq {
			return false
		}
	}
	v.addCheckpoints(cps)
	return true
}

// Anchor makes the verification check the chain against a head kept
// where the chain's writer cannot reach (audit head, the anchor of the
// audit file, the last Kafka record): the chain must hold an entry at
// h.Seq whose hash is h.Hash. A chain cut before it is Truncated, one
// rewritten at it Edited. Call it before Add.
func (v *Verifier) Anchor(h Head) { v.anchor = &h }

func (v *Verifier) fail(kind string, seq, pos int64, format string, a ...any) {
	v.prob = &Problem{Kind: kind, Seq: seq, Position: pos, Detail: fmt.Sprintf(format, a...)}
	v.pending = nil
}

// Add feeds the next entry. It returns false once a problem is settled and
// further entries would change nothing.
func (v *Verifier) Add(e Entry) bool {
	if v.prob != nil {
		return false
	}
	v.pos++
	if v.pending != nil {
		v.resolve(e)
		return v.prob == nil
	}
	if h, err := v.hashOf(e); err != nil || !hmacEqual(h, e.Hash) {
		if v.key != nil {
			v.fail(Edited, e.Seq, v.pos, "its MAC does not verify under audit key %s: it was changed, or written without the key", v.key.ID)
		} else {
			v.fail(Edited, e.Seq, v.pos, "its hash does not match its contents")
		}
		return false
	}
	exp := v.head.Seq + 1
	switch {
	case e.Seq == exp && e.Prev == v.head.Hash:
		for v.cpi < len(v.cps) && v.cps[v.cpi].Seq < e.Seq {
			v.cpi++
		}
		for v.cpi < len(v.cps) && v.cps[v.cpi].Seq == e.Seq {
			cp := v.cps[v.cpi]
			if cp.Hash != e.Hash {
				v.fail(Edited, e.Seq, v.pos, "it does not match the checkpoint of %s: the chain was rewritten at or before it",
					cp.Time.Format("2006-01-02T15:04:05Z07:00"))
				return false
			}
			v.matched++
			v.cpi++
		}
		if v.anchor != nil && v.anchor.Seq == e.Seq {
			if !hmacEqual(v.anchor.Hash, e.Hash) {
				v.fail(Edited, e.Seq, v.pos, "it does not match the anchor (%s): the chain was rewritten at or before it", *v.anchor)
				return false
			}
			v.anchorM = true
		}
		v.head = e.Head()
		v.events++
		return true
	case e.Seq == exp:
		v.pending = &pending{at: e, pos: v.pos}
	case e.Seq > exp:
		if e.Prev == v.head.Hash {
			v.fail(Edited, e.Seq, v.pos, "its sequence number was changed (it follows event %d directly)", v.head.Seq)
			return false
		}
		v.pending = &pending{gap: true, at: e, pos: v.pos, from: exp, to: e.Seq - 1, left: lookahead}
	default:
		v.fail(Inserted, e.Seq, v.pos, "sequence number %d appears again after event %d", e.Seq, v.head.Seq)
		return false
	}
	return true
}

// resolve settles a pending break with the entry that follows it.
func (v *Verifier) resolve(f Entry) {
	p := v.pending
	if p.gap {
		if f.Seq >= p.from && f.Seq <= p.to {
			v.fail(Reordered, p.at.Seq, p.pos, "event %d appears before event %d", p.at.Seq, f.Seq)
			return
		}
		if p.left--; p.left <= 0 {
			v.settleGap()
		}
		return
	}
	switch {
	case f.Prev == v.head.Hash:
		v.fail(Inserted, p.at.Seq, p.pos, "it does not link to event %d, and the entry after it does", v.head.Seq)
	case f.Prev == p.at.Hash && v.head.Seq > 0:
		v.fail(Edited, v.head.Seq, p.pos-1, "event %d records another hash for it (it was changed and rehashed)", p.at.Seq)
	default:
		v.fail(Edited, p.at.Seq, p.pos, "it does not link to event %d, nor does the entry after it link to it (it was replaced)", v.head.Seq)
	}
}

func (v *Verifier) settleGap() {
	p := v.pending
	if p.from == p.to {
		v.fail(Deleted, p.from, p.pos, "event %d is missing (event %d follows event %d)", p.from, p.at.Seq, v.head.Seq)
	} else {
		v.fail(Deleted, p.from, p.pos, "events %d to %d are missing (event %d follows event %d)", p.from, p.to, p.at.Seq, v.head.Seq)
	}
}

// Finish ends the verification and returns its result.
func (v *Verifier) Finish() Result {
	if v.pending != nil {
		if v.pending.gap {
			v.settleGap()
		} else {
			p := v.pending
			v.fail(Edited, p.at.Seq, p.pos, "it does not link to event %d (it, or event %d, was changed)", v.head.Seq, v.head.Seq)
		}
	}
	if v.prob == nil && len(v.cps) > 0 {
		last := v.cps[len(v.cps)-1]
		if last.Seq > v.head.Seq {
			v.fail(Truncated, v.head.Seq+1, 0, "the chain ends at event %d but the checkpoint of %s records event %d: its tail was removed",
				v.head.Seq, last.Time.Format("2006-01-02T15:04:05Z07:00"), last.Seq)
		}
	}
	if v.prob == nil && v.anchor != nil && !v.anchorM {
		if v.anchor.Seq > v.head.Seq {
			v.fail(Truncated, v.head.Seq+1, 0, "the chain ends at event %d but the anchor records event %d (%s): its tail was removed",
				v.head.Seq, v.anchor.Seq, *v.anchor)
		} else if v.anchor.Seq > 0 {
			v.fail(Edited, v.anchor.Seq, 0, "the anchor's event %d is not in the chain", v.anchor.Seq)
		}
	}
	if v.prob == nil && v.key != nil && v.Every > 0 {
		v.checkDue()
	}
	if v.prob == nil && v.forged != nil {
		v.fail(Forged, v.forged.Seq, 0, "the checkpoint of %s for event %d has a MAC that does not verify under key %s",
			v.forged.Time.Format("2006-01-02T15:04:05Z07:00"), v.forged.Seq, v.forged.KeyID)
	}
	return Result{Events: v.events, Head: v.head, Checkpoints: v.matched, Unauthenticated: v.unauth,
		Keyed: v.key != nil, Anchored: v.anchor != nil, Problem: v.prob}
}

func (v *Verifier) hashOf(e Entry) (string, error) {
	if v.key == nil {
		return HashOf(e)
	}
	return keyedHash(v.mac, e)
}

// checkDue fails the verification when a span [k·Every, (k+1)·Every) the
// chain has passed holds no authenticated checkpoint.
func (v *Verifier) checkDue() {
	i := 0
	for lo := v.Every; lo+v.Every-1 <= v.head.Seq; lo += v.Every {
		for i < len(v.auth) && v.auth[i] < lo {
			i++
		}
		if i == len(v.auth) || v.auth[i] >= lo+v.Every {
			v.fail(Missing, lo, 0, "no authenticated checkpoint between events %d and %d, where one is written: it was deleted",
				lo, lo+v.Every-1)
			return
		}
	}
}

// hmacEqual compares two hex MACs in constant time.
func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// VerifyEntries verifies a whole chain held in memory.
func VerifyEntries(es []Entry, cps []Checkpoint, keys []MACKey) Result {
	v := NewVerifier(cps, keys)
	for _, e := range es {
		if !v.Add(e) {
			break
		}
	}
	return v.Finish()
}

// ChainReader is the store's side of verification: the chain in seq order,
// in batches, and its checkpoints.
type ChainReader interface {
	WalkAudit(ctx context.Context, batch int, fn func([]Entry) error) error
	AuditCheckpoints(ctx context.Context) ([]Checkpoint, error)
}

// VerifyStore verifies the store's whole chain in bounded memory, reading
// it in batches of 5,000, and stops at the first problem. A checkpoint is
// due in every CheckpointEvery events; anchor, when not nil, is a head the
// chain must still reach (ReadAnchor).
func VerifyStore(ctx context.Context, r ChainReader, keys []MACKey, anchor *Head) (Result, error) {
	cps, err := r.AuditCheckpoints(ctx)
	if err != nil {
		return Result{}, err
	}
	v := NewVerifier(cps, keys)
	v.Every = CheckpointEvery
	if anchor != nil {
		v.Anchor(*anchor)
	}
	stop := errors.New("stop")
	err = r.WalkAudit(ctx, 5000, func(es []Entry) error {
		for _, e := range es {
			if !v.Add(e) {
				return stop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return Result{}, err
	}
	return v.Finish(), nil
}
