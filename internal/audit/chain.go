package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// FormatVersion names the canonical form of an unkeyed chain (hashed with
// plain SHA-256). It is the first bytes of every canonical form, so a future
// format can never collide with this one.
const FormatVersion = "sa01-audit-v1"

// KeyedFormat names the canonical form of a keyed chain: the same fields,
// plus the anchor of a file line, MACed with HMAC-SHA256 under the chain
// subkey of the audit key (MACKey.chainKey). Every chain sa01-secrets keeps
// is keyed; unkeyed chains remain for tests and tools that hold no key.
const KeyedFormat = "sa01-audit-v2"

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

	// Anchor, in a line of the audit file, is the head of the store's
	// chain as this process last committed it: a copy of the store's
	// head where a database writer cannot reach, for verify --anchor. It
	// is part of the keyed canonical form. Store entries have none.
	Anchor *Head `json:"anchor,omitempty"`
}

// Head is the end of a chain: the last sequence number and its hash. The
// head of an empty chain is {0, ZeroHash}.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`

	// Generation is the store's generation counter (store.Generations),
	// read in the same transaction as the head by stores that honour
	// Event.Guard, when the batch holds a guarded event; else 0.
	Generation uint64 `json:"-"`
}

// EmptyHead is the head of a chain with no events.
var EmptyHead = Head{Seq: 0, Hash: ZeroHash}

// Head returns the head a chain has once e is its last entry.
func (e Entry) Head() Head { return Head{Seq: e.Seq, Hash: e.Hash} }

// Canonical returns the bytes hashed for an entry: FormatVersion, then seq
// (8 bytes big-endian), prev (32 raw bytes), time in Unix nanoseconds (8
// bytes big-endian, two's complement), version (8 bytes big-endian), then
// service, actor, action, secret, outcome, reason, request ID, source and
// detail, each as a 4-byte big-endian length followed by its UTF-8 bytes,
// and, only when it is not empty, the OPA decision ID in the same form (so
// that the events of chains written before it hash as they did; the length
// prefix of detail keeps the two forms apart). Hash is not part of it. It fails only when prev is not 64 hex digits.
func Canonical(seq int64, prev string, ev Event) ([]byte, error) {
	return canonical(FormatVersion, seq, prev, ev)
}

func canonical(format string, seq int64, prev string, ev Event) ([]byte, error) {
	var p [32]byte
	if len(prev) != 64 {
		return nil, errors.New("audit: prev hash: want 64 hex digits")
	}
	if _, err := hex.Decode(p[:], []byte(prev)); err != nil {
		return nil, errors.New("audit: prev hash: want 64 hex digits")
	}
	strs := [...]string{ev.Service, ev.Actor, ev.Action, ev.Secret, ev.Outcome, ev.Reason, ev.RequestID, ev.Source, ev.Detail}
	n := len(format) + 8 + 32 + 8 + 8 + 8 + 4 + 64
	for _, s := range strs {
		n += 4 + len(s)
	}
	n += 4 + len(ev.DecisionID)
	b := make([]byte, 0, n)
	b = append(b, format...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = append(b, p[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(int64(ev.Version)))
	for _, s := range strs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	if ev.DecisionID != "" {
		b = binary.BigEndian.AppendUint32(b, uint32(len(ev.DecisionID)))
		b = append(b, ev.DecisionID...)
	}
	return b, nil
}

// HashOf returns the hash an entry of an unkeyed chain must carry: the
// SHA-256 of its canonical form, in hex. It ignores e.Hash.
func HashOf(e Entry) (string, error) { return (*MACKey)(nil).HashOf(e) }

// HashOf returns the hash an entry must carry in the chain keyed with k:
// HMAC-SHA256 under k's chain subkey of the keyed canonical form (the
// canonical form with KeyedFormat, then the anchor's seq, 8 bytes
// big-endian, and its hash as a 4-byte length and its bytes). With a nil k
// it is the unkeyed SHA-256 of Canonical. It ignores e.Hash.
func (k *MACKey) HashOf(e Entry) (string, error) {
	if k == nil {
		c, err := Canonical(e.Seq, e.Prev, e.Event)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(c)
		return hex.EncodeToString(sum[:]), nil
	}
	return keyedHash(k.newMAC(), e)
}

// newMAC returns an HMAC-SHA256 under k's chain subkey, for keyedHash.
func (k *MACKey) newMAC() hash.Hash {
	sub := k.chainKey()
	return hmac.New(sha256.New, sub[:])
}

// keyedHash is MACKey.HashOf with m, an HMAC-SHA256 under the chain
// subkey (MACKey.newMAC), which it resets: one m serves many entries.
func keyedHash(m hash.Hash, e Entry) (string, error) {
	c, err := canonical(KeyedFormat, e.Seq, e.Prev, e.Event)
	if err != nil {
		return "", err
	}
	var a Head
	if e.Anchor != nil {
		a = *e.Anchor
	}
	c = binary.BigEndian.AppendUint64(c, uint64(a.Seq))
	c = binary.BigEndian.AppendUint32(c, uint32(len(a.Hash)))
	c = append(c, a.Hash...)
	m.Reset()
	m.Write(c)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])), nil
}

// Labels of the subkeys of an audit key.
const (
	chainLabel = "sa01-audit-chain/v2"
	fileLabel  = "sa01-audit-file/v2"
)

func (k *MACKey) derive(label string) [32]byte {
	m := hmac.New(sha256.New, k.Key[:])
	m.Write([]byte(label))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// chainKey is the subkey that MACs entries; checkpoints use k.Key itself.
func (k *MACKey) chainKey() [32]byte { return k.derive(chainLabel) }

// ForFile returns the key of the audit file's chain: a subkey of k under
// its own label and ID, so that a file line and a store entry can never
// stand for each other.
func (k *MACKey) ForFile() *MACKey {
	if k == nil {
		return nil
	}
	return &MACKey{ID: k.ID + "/file", Key: k.derive(fileLabel)}
}

// Normalize puts an event in the form the chain stores: its fields bounded
// (Bound), time in UTC at nanosecond precision (no monotonic reading), and
// stamped with the current time when it has none.
func Normalize(ev Event) Event {
	ev = Bound(ev)
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = time.Unix(0, ev.Time.UnixNano()).UTC()
	return ev
}

// Link appends evs to the unkeyed chain ending at head and returns the new
// entries, in order.
func Link(head Head, evs []Event) ([]Entry, error) { return (*MACKey)(nil).Link(head, evs, nil) }

// Link appends evs to the chain keyed with k (unkeyed when k is nil) ending
// at head and returns the new entries, in order, each carrying anchor. It
// is what a sink calls while it holds the chain's lock.
func (k *MACKey) Link(head Head, evs []Event, anchor *Head) ([]Entry, error) {
	out := make([]Entry, len(evs))
	var mac hash.Hash
	if k != nil {
		mac = k.newMAC() // once per batch
	}
	for i, ev := range evs {
		e := Entry{Seq: head.Seq + 1, Prev: head.Hash, Event: Normalize(ev), Anchor: anchor}
		e.Guard = 0
		var h string
		var err error
		if mac != nil {
			h, err = keyedHash(mac, e)
		} else {
			h, err = HashOf(e)
		}
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

// MACKey is the audit key: a chain keyed with it has every entry's hash
// an HMAC under a subkey of it (HashOf), and its checkpoints MACed with it.
// A database writer who does not hold it can neither rehash a chain it
// edited nor forge a checkpoint. In a store it is LoadKey's, wrapped under
// every active Fernet key.
type MACKey struct {
	ID  string   // names the key in checkpoints; never secret
	Key [32]byte // the key
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
//
// The entries are keyed with l.Key. A batch that crosses several multiples
// of Every gets a checkpoint at each multiple it passes before its last
// entry, so that every span [k·Every, (k+1)·Every) of a chain holds one:
// the verifier, told Every, takes a span without one for a checkpoint
// deleted.
func (l *Linker) Link(head Head, evs []Event) ([]Entry, []Checkpoint, error) {
	es, err := l.Key.Link(head, evs, nil)
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
	if !due {
		return es, nil, nil
	}
	var cps []Checkpoint
	if l.Every > 0 {
		for m := (head.Seq/l.Every + 1) * l.Every; m < last.Seq/l.Every*l.Every; m += l.Every {
			cps = append(cps, Sign(l.Key, es[m-head.Seq-1].Head(), now))
		}
	}
	return es, append(cps, Sign(l.Key, last.Head(), now)), nil
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
