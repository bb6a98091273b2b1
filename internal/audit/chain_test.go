package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func testEvents(n int) []Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Service: "svc", Actor: "acc-1",
			Action: "read", Secret: fmt.Sprintf("db/pass-%d", i%3), Version: i + 1, Outcome: Success, RequestID: fmt.Sprint("r", i), Source: "127.0.0.1"}
	}
	return evs
}

func chain(t *testing.T, n int) []Entry {
	t.Helper()
	es, err := chainKey.Link(EmptyHead, testEvents(n), nil)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// rehash recomputes e's hash and relinks every later entry, as an attacker
// with write access to the chain would.
func rehashFrom(es []Entry, i int) {
	for ; i < len(es); i++ {
		if i > 0 {
			es[i].Prev = es[i-1].Hash
		}
		es[i].Hash, _ = chainKey.HashOf(es[i])
	}
}

// chainKey keys the chains of the tests. The tampering cases below rehash
// with it, as an attacker holding the key could, to show what the
// structure alone catches; TestKeyedChainCatchesARehash shows an attacker
// without it.
var chainKey = &MACKey{ID: "k1", Key: [32]byte{1}}

func TestCanonicalIsStable(t *testing.T) {
	ev := Event{Time: time.Unix(0, 1).UTC(), Action: "read", Outcome: Success}
	c, err := Canonical(1, ZeroHash, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c), FormatVersion) || len(c) != len(FormatVersion)+8+32+8+8+9*4+len("read")+len(Success) {
		t.Fatalf("canonical form has unexpected layout: %d bytes", len(c))
	}
	// Field boundaries are unambiguous: moving a byte between fields changes the hash.
	a := Entry{Seq: 1, Prev: ZeroHash, Event: Event{Time: ev.Time, Service: "ab", Actor: "c", Action: "read", Outcome: Success}}
	b := a
	b.Service, b.Actor = "a", "bc"
	ha, _ := HashOf(a)
	hb, _ := HashOf(b)
	if ha == hb {
		t.Fatal("moving a byte between fields kept the hash")
	}
	if _, err := Canonical(1, "xyz", ev); err == nil {
		t.Fatal("a malformed prev hash was accepted")
	}
}

// An OPA decision ID is hashed into the chain when set, and an event
// without one hashes as in chains written before the field existed.
func TestCanonicalDecisionID(t *testing.T) {
	ev := Event{Time: time.Unix(0, 1).UTC(), Action: "read", Outcome: Success, Detail: "d"}
	without, _ := Canonical(1, ZeroHash, ev)
	if len(without) != len(FormatVersion)+8+32+8+8+9*4+len("read")+len(Success)+len("d") {
		t.Fatalf("an event without a decision ID changed its canonical form: %d bytes", len(without))
	}
	a := Entry{Seq: 1, Prev: ZeroHash, Event: ev}
	b := a
	b.DecisionID = "4ca636c1"
	c := a
	c.Detail, c.DecisionID = "", "d"
	ha, _ := HashOf(a)
	hb, _ := HashOf(b)
	hc, _ := HashOf(c)
	if ha == hb || ha == hc || hb == hc {
		t.Fatal("the decision ID is not hashed apart from the detail")
	}
	es, err := Link(EmptyHead, []Event{b.Event})
	if err != nil {
		t.Fatal(err)
	}
	es[0].DecisionID = "forged"
	if h, _ := HashOf(es[0]); h == es[0].Hash {
		t.Fatal("rewriting the decision ID kept the hash")
	}
}

func TestLinkChains(t *testing.T) {
	es := chain(t, 5)
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		want := ZeroHash
		if i > 0 {
			want = es[i-1].Hash
		}
		if e.Prev != want {
			t.Fatalf("entry %d prev %s, want %s", i, e.Prev, want)
		}
	}
	// Linking in two batches gives the same chain as one.
	a, _ := chainKey.Link(EmptyHead, testEvents(5)[:2], nil)
	b, _ := chainKey.Link(a[1].Head(), testEvents(5)[2:], nil)
	if got := append(a, b...); got[4].Hash != es[4].Hash {
		t.Fatal("linking in batches changed the chain")
	}
}

func TestVerifyNamesTheFirstTamperedEvent(t *testing.T) {
	key := chainKey
	keys := []MACKey{*key}
	full := chain(t, 20)
	cpAt := func(es []Entry, i int) []Checkpoint {
		return []Checkpoint{Sign(key, es[i].Head(), time.Unix(1, 0))}
	}
	tests := []struct {
		name   string
		tamper func([]Entry) ([]Entry, []Checkpoint)
		kind   string
		seq    int64
	}{
		{"intact", func(es []Entry) ([]Entry, []Checkpoint) { return es, cpAt(es, 19) }, "", 0},
		{"edited field", func(es []Entry) ([]Entry, []Checkpoint) {
			es[6].Outcome = Failure
			return es, nil
		}, Edited, 7},
		{"edited and rehashed", func(es []Entry) ([]Entry, []Checkpoint) {
			es[6].Service = "other"
			es[6].Hash, _ = chainKey.HashOf(es[6])
			return es, nil
		}, Edited, 7},
		{"replaced with a self-consistent forgery", func(es []Entry) ([]Entry, []Checkpoint) {
			es[6].Service = "other"
			es[6].Prev = strings.Repeat("a", 64)
			es[6].Hash, _ = chainKey.HashOf(es[6])
			return es, nil
		}, Edited, 7},
		{"whole tail rewritten, caught by checkpoint", func(es []Entry) ([]Entry, []Checkpoint) {
			cps := cpAt(es, 15)
			es[10].Secret = "other"
			rehashFrom(es, 10)
			return es, cps
		}, Edited, 16},
		{"deleted one", func(es []Entry) ([]Entry, []Checkpoint) {
			return append(es[:4:4], es[5:]...), nil
		}, Deleted, 5},
		{"deleted three", func(es []Entry) ([]Entry, []Checkpoint) {
			return append(es[:4:4], es[7:]...), nil
		}, Deleted, 5},
		{"deleted the first", func(es []Entry) ([]Entry, []Checkpoint) { return es[1:], nil }, Deleted, 1},
		{"inserted duplicate seq", func(es []Entry) ([]Entry, []Checkpoint) {
			x := es[3]
			x.Service = "intruder"
			x.Hash, _ = chainKey.HashOf(x)
			out := append([]Entry{}, es[:4]...)
			out = append(out, x)
			return append(out, es[4:]...), nil
		}, Inserted, 4},
		{"inserted with a fresh seq", func(es []Entry) ([]Entry, []Checkpoint) {
			x := Entry{Seq: 4, Prev: strings.Repeat("b", 64), Event: Normalize(Event{Action: "read", Outcome: Success})}
			x.Hash, _ = chainKey.HashOf(x)
			out := append([]Entry{}, es[:3]...)
			out = append(out, x)
			return append(out, es[3:]...), nil
		}, Inserted, 4},
		{"reordered", func(es []Entry) ([]Entry, []Checkpoint) {
			es[8], es[9] = es[9], es[8]
			return es, nil
		}, Reordered, 10},
		{"truncated tail", func(es []Entry) ([]Entry, []Checkpoint) {
			cps := cpAt(es, 19)
			return es[:17], cps
		}, Truncated, 18},
		{"all removed", func(es []Entry) ([]Entry, []Checkpoint) {
			return nil, cpAt(es, 9)
		}, Truncated, 1},
		{"forged checkpoint", func(es []Entry) ([]Entry, []Checkpoint) {
			cp := cpAt(es, 19)
			cp[0].Seq = 25
			return es, cp
		}, Forged, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, cps := tc.tamper(append([]Entry(nil), full...))
			r := VerifyEntries(es, cps, keys)
			if tc.kind == "" {
				if !r.OK() || r.Events != 20 || r.Checkpoints != 1 {
					t.Fatalf("intact chain: %+v %v", r, r.Problem)
				}
				return
			}
			if r.OK() {
				t.Fatalf("tampering not detected")
			}
			if r.Problem.Kind != tc.kind || r.Problem.Seq != tc.seq {
				t.Fatalf("got %v, want %s at seq %d", r.Problem, tc.kind, tc.seq)
			}
		})
	}
}

func TestCheckpointUnderUnknownKeyStillCatchesTruncation(t *testing.T) {
	es := chain(t, 10)
	cp := Sign(&MACKey{ID: "old", Key: [32]byte{9}}, es[9].Head(), time.Now())
	r := VerifyEntries(es[:8], []Checkpoint{cp}, []MACKey{{ID: "new", Key: [32]byte{1}}})
	if r.OK() || r.Problem.Kind != Truncated || r.Unauthenticated != 1 {
		t.Fatalf("got %+v", r)
	}
}

func TestLinkerCheckpointsOnMultiples(t *testing.T) {
	l := &Linker{Every: 4}
	var cps []Checkpoint
	head := EmptyHead
	for _, n := range []int{3, 2, 1, 5} {
		es, c, err := l.Link(head, testEvents(n))
		if err != nil {
			t.Fatal(err)
		}
		head = es[len(es)-1].Head()
		cps = append(cps, c...)
	}
	// Batches end at 3, 5, 6, 11: crossings of 4 and 8 happen in the
	// batches ending at 5 and 11.
	if len(cps) != 2 || cps[0].Seq != 5 || cps[1].Seq != 11 {
		t.Fatalf("checkpoints %+v", cps)
	}
}

func TestLinkerCheckpointsByAge(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Linker{MaxAge: time.Minute, Now: func() time.Time { return now }}
	head := EmptyHead
	var got []int64
	for i := range 4 {
		es, cps, err := l.Link(head, testEvents(1))
		if err != nil {
			t.Fatal(err)
		}
		head = es[0].Head()
		for _, cp := range cps {
			got = append(got, cp.Seq)
		}
		if i == 1 {
			now = now.Add(2 * time.Minute)
		}
	}
	// The first batch checkpoints (a new process), then only once a minute passed.
	if len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("checkpoints at %v, want [1 3]", got)
	}
}

// TestKeyedChainCatchesARehash: an event deleted and the rest renumbered
// and rehashed by someone without the key (plain SHA-256, or another key)
// fails at the first rewritten event.
func TestKeyedChainCatchesARehash(t *testing.T) {
	full := chain(t, 20)
	var evs []Event
	for _, e := range append(full[:4:4], full[5:]...)[4:] {
		evs = append(evs, e.Event)
	}
	for _, k := range []*MACKey{nil, {ID: "k1", Key: [32]byte{2}}} {
		tail, _ := k.Link(full[3].Head(), evs, nil)
		es := append(append([]Entry(nil), full[:4]...), tail...)
		r := VerifyEntries(es, nil, []MACKey{*chainKey})
		if r.OK() || r.Problem.Kind != Edited || r.Problem.Seq != 5 {
			t.Fatalf("rehash under %v: %+v", k, r)
		}
	}
}

func TestVerifierAnchorAndDueCheckpoints(t *testing.T) {
	l := &Linker{Key: chainKey, Every: 4}
	var es []Entry
	var cps []Checkpoint
	head := EmptyHead
	for _, n := range []int{3, 10, 1, 6} { // the batch of 10 crosses 4 and 8
		b, c, err := l.Link(head, testEvents(n))
		if err != nil {
			t.Fatal(err)
		}
		es, cps, head = append(es, b...), append(cps, c...), b[len(b)-1].Head()
	}
	verify := func(es []Entry, cps []Checkpoint, anchor *Head) Result {
		v := NewVerifier(cps, []MACKey{*chainKey})
		v.Every = 4
		if anchor != nil {
			v.Anchor(*anchor)
		}
		for _, e := range es {
			v.Add(e)
		}
		return v.Finish()
	}
	if r := verify(es, cps, &head); !r.OK() || !r.Anchored || r.Events != 20 {
		t.Fatalf("intact: %+v %v", r, r.Problem)
	}
	for i, cp := range cps {
		rest := append(append([]Checkpoint(nil), cps[:i]...), cps[i+1:]...)
		if r := verify(es, rest, nil); cp.Seq < 16 && (r.OK() || r.Problem.Kind != Missing) {
			t.Fatalf("checkpoint at %d deleted: %+v", cp.Seq, r)
		}
	}
	if r := verify(es[:15], cps[:len(cps)-1], &head); r.OK() || r.Problem.Kind != Truncated || r.Problem.Seq != 16 {
		t.Fatalf("cut tail against the anchor: %+v", r)
	}
	if r := verify(nil, nil, &head); r.OK() || r.Problem.Kind != Truncated || r.Problem.Seq != 1 {
		t.Fatalf("emptied chain against the anchor: %+v", r)
	}
	other := Head{Seq: 20, Hash: strings.Repeat("a", 64)}
	if r := verify(es, cps, &other); r.OK() || r.Problem.Kind != Edited || r.Problem.Seq != 20 {
		t.Fatalf("another anchor: %+v", r)
	}
}

// TestParseAnchorOneSpelling: --anchor takes SEQ:HASH as `audit head`
// prints it; a sign or a leading zero on SEQ is refused, not read as
// another spelling of the same head.
func TestParseAnchorOneSpelling(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for _, s := range []string{"5:" + hash, " 0:" + hash + "\n", "10:" + hash} {
		if h, err := ParseAnchor(s); err != nil || h.Anchor() != strings.TrimSpace(s) {
			t.Errorf("%q: %v %v", s, h, err)
		}
	}
	for _, s := range []string{"05:" + hash, "00:" + hash, "+5:" + hash, "-0:" + hash, ":" + hash, "5:" + strings.ToUpper(hash)} {
		if h, err := ParseAnchor(s); err == nil {
			t.Errorf("%q accepted as %v", s, h)
		}
	}
}
