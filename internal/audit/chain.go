package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FormatVersion names the canonical form hashed into the chain. It is the
// first bytes of every canonical form, so a future format can never collide
// with this one.
const FormatVersion = "sa01-audit-v1"

// ZeroHash is the prev of the first event of a chain: 64 hex zeros.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is an event in a chain: its sequence number (1 for the first event),
// the hash of the event before it, and its own hash. Hashes are lower-case
// hex SHA-256. The JSON form is one flat object; it is both a line of the
// audit file and a Kafka record value.
type Entry struct {
	Seq  int64  `json:"seq"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
	Event
}

// Head is the end of a chain: the last sequence number and its hash. The
// head of an empty chain is {0, ZeroHash}.
type Head struct {
	Seq  int64
	Hash string

	// Generation is the store's generation counter (store.Generations),
	// read in the same transaction as the head by stores that honour
	// Event.Guard, when the batch holds a guarded event; else 0.
	Generation uint64
}

// EmptyHead is the head of a chain with no events.
var EmptyHead = Head{Seq: 0, Hash: ZeroHash}

// Head returns the head a chain has once e is its last entry.
func (e Entry) Head() Head { return Head{Seq: e.Seq, Hash: e.Hash} }

// Canonical returns the bytes hashed for an entry: FormatVersion, then seq
// (8 bytes big-endian), prev (32 raw bytes), time in Unix nanoseconds (8
// bytes big-endian, two's complement), version (8 bytes big-endian), then
// service, actor, action, secret, outcome, reason, request ID, source and
// detail, each as a 4-byte big-endian length followed by its UTF-8 bytes.
// Hash is not part of it. It fails only when prev is not 64 hex digits.
func Canonical(seq int64, prev string, ev Event) ([]byte, error) {
	var p [32]byte
	if len(prev) != 64 {
		return nil, errors.New("audit: prev hash: want 64 hex digits")
	}
	if _, err := hex.Decode(p[:], []byte(prev)); err != nil {
		return nil, errors.New("audit: prev hash: want 64 hex digits")
	}
	strs := [...]string{ev.Service, ev.Actor, ev.Action, ev.Secret, ev.Outcome, ev.Reason, ev.RequestID, ev.Source, ev.Detail}
	n := len(FormatVersion) + 8 + 32 + 8 + 8
	for _, s := range strs {
		n += 4 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, FormatVersion...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = append(b, p[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(int64(ev.Version)))
	for _, s := range strs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// HashOf returns the hash an entry must carry: the SHA-256 of its canonical
// form, in hex. It ignores e.Hash.
func HashOf(e Entry) (string, error) {
	c, err := Canonical(e.Seq, e.Prev, e.Event)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// Normalize puts an event in the form the chain stores: time in UTC at
// nanosecond precision (no monotonic reading), and stamped with the current
// time when it has none.
func Normalize(ev Event) Event {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = time.Unix(0, ev.Time.UnixNano()).UTC()
	return ev
}

// Link appends evs to the chain ending at head and returns the new entries,
// in order. It is what a sink calls while it holds the chain's lock.
func Link(head Head, evs []Event) ([]Entry, error) {
	out := make([]Entry, len(evs))
	for i, ev := range evs {
		e := Entry{Seq: head.Seq + 1, Prev: head.Hash, Event: Normalize(ev)}
		e.Guard = 0
		h, err := HashOf(e)
		if err != nil {
			return nil, err
		}
		e.Hash = h
		out[i] = e
		head = e.Head()
	}
	return out, nil
}

// Checkpoint records the head of the chain at some moment, authenticated
// with a key the store does not hold: an HMAC-SHA256 under a subkey of a
// Fernet key (label "sa01-audit-checkpoint"), named by that key's ID. A
// chain shorter than its last checkpoint has lost its tail; a chain whose
// event at a checkpoint's seq has another hash was rewritten.
type Checkpoint struct {
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	Time  time.Time `json:"time"`
	KeyID string    `json:"key_id,omitempty"`
	MAC   string    `json:"mac,omitempty"`
}

// CheckpointLabel derives the checkpoint MAC key from a Fernet key.
const CheckpointLabel = "sa01-audit-checkpoint"

// MACKey is a key that authenticates checkpoints.
type MACKey struct {
	ID  string   // the Fernet key ID it was derived from
	Key [32]byte // the subkey
}

func checkpointMAC(k [32]byte, seq int64, hash string, t time.Time) string {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(CheckpointLabel))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seq))
	binary.BigEndian.PutUint64(b[8:], uint64(t.UnixNano()))
	m.Write(b[:])
	m.Write([]byte(hash))
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns a checkpoint for head at time t, authenticated with k (or
// unauthenticated when k is nil).
func Sign(k *MACKey, head Head, t time.Time) Checkpoint {
	t = time.Unix(0, t.UnixNano()).UTC()
	cp := Checkpoint{Seq: head.Seq, Hash: head.Hash, Time: t}
	if k != nil {
		cp.KeyID = k.ID
		cp.MAC = checkpointMAC(k.Key, head.Seq, head.Hash, t)
	}
	return cp
}

// Authentic reports whether cp carries a valid MAC under one of keys. It
// returns errUnknownKey when cp names a key that is not among keys.
func (cp Checkpoint) authentic(keys []MACKey) error {
	if cp.MAC == "" {
		return errUnsigned
	}
	for _, k := range keys {
		if k.ID == cp.KeyID {
			want := checkpointMAC(k.Key, cp.Seq, cp.Hash, cp.Time)
			if hmac.Equal([]byte(want), []byte(cp.MAC)) {
				return nil
			}
			return errBadMAC
		}
	}
	return errUnknownKey
}

var (
	errUnsigned   = errors.New("unsigned")
	errBadMAC     = errors.New("bad MAC")
	errUnknownKey = errors.New("unknown key")
)

// Linker chains events for a sink and decides when to checkpoint: when a
// batch crosses a multiple of Every, and when the last checkpoint this
// Linker made is older than MaxAge (so the first batch of each process
// checkpoints too). The zero Linker chains without checkpoints. A Linker
// is safe for concurrent use; share one per sink.
type Linker struct {
	Key    *MACKey       // authenticates checkpoints; nil: unauthenticated ones
	Every  int64         // checkpoint on crossing a multiple of Every; 0: never
	MaxAge time.Duration // checkpoint when the last one is older; 0: never
	Now    func() time.Time

	mu   sync.Mutex
	last time.Time
}

// Link chains evs after head and returns the entries and, when one is due,
// a checkpoint of the new head.
func (l *Linker) Link(head Head, evs []Event) ([]Entry, []Checkpoint, error) {
	es, err := Link(head, evs)
	if err != nil || len(es) == 0 {
		return es, nil, err
	}
	last := es[len(es)-1]
	now := l.now()
	l.mu.Lock()
	due := (l.Every > 0 && last.Seq/l.Every > head.Seq/l.Every) ||
		(l.MaxAge > 0 && now.Sub(l.last) >= l.MaxAge)
	if due {
		l.last = now
	}
	l.mu.Unlock()
	if due {
		return es, []Checkpoint{Sign(l.Key, last.Head(), now)}, nil
	}
	return es, nil, nil
}

func (l *Linker) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Checkpoint signs head now.
func (l *Linker) Checkpoint(head Head) Checkpoint {
	return Sign(l.Key, head, l.now())
}

// String describes a head for messages.
func (h Head) String() string { return fmt.Sprintf("seq %d (hash %.12s)", h.Seq, h.Hash) }
