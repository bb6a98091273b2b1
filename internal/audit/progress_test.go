package audit

import (
	"testing"
	"time"
)

// TestProgressFollowsAGrowingChain feeds a chain in two halves: between
// them Progress reports the first half verified and no problem, where
// Finish would call the chain truncated before its last checkpoint.
func TestProgressFollowsAGrowingChain(t *testing.T) {
	key := &MACKey{ID: "0123456789ab", Key: [32]byte{7}}
	l := &Linker{Key: key, Every: 10}
	var evs []Event
	for i := 0; i < 40; i++ {
		evs = append(evs, Event{Time: time.Unix(int64(i), 0).UTC(), Action: "read", Secret: "a", Outcome: Success})
	}
	es, cps, err := l.Link(EmptyHead, evs)
	if err != nil || len(cps) == 0 {
		t.Fatalf("link: %v, %d checkpoints", err, len(cps))
	}
	v := NewVerifier(cps, []MACKey{*key})
	for _, e := range es[:20] {
		v.Add(e)
	}
	p := v.Progress()
	if p.Events != 20 || p.Head.Seq != 20 || p.Problem != nil {
		t.Fatalf("after half: %+v", p)
	}
	for _, e := range es[20:] {
		v.Add(e)
	}
	if p := v.Progress(); p.Events != 40 || p.Problem != nil || p.Head != es[39].Head() {
		t.Fatalf("after all: %+v", p)
	}
	if r := v.Finish(); !r.OK() || r.Events != 40 {
		t.Fatalf("finish: %+v", r)
	}
	// An edited event is a settled problem.
	v = NewVerifier(cps, []MACKey{*key})
	bad := append([]Entry(nil), es...)
	bad[5].Detail = "edited"
	for _, e := range bad {
		if !v.Add(e) {
			break
		}
	}
	if p := v.Progress(); p.Problem == nil || p.Problem.Kind != Edited || p.Problem.Seq != 6 || p.Events != 5 {
		t.Fatalf("edited: %+v", p)
	}
}

func TestCheckpointAuthentic(t *testing.T) {
	key := MACKey{ID: "0123456789ab", Key: [32]byte{1}}
	other := MACKey{ID: "ba9876543210", Key: [32]byte{2}}
	cp := Sign(&key, Head{Seq: 3, Hash: ZeroHash}, time.Unix(100, 0))
	if !cp.Authentic([]MACKey{other, key}) {
		t.Error("a checkpoint signed under a loaded key is not authentic")
	}
	if cp.Authentic([]MACKey{other}) {
		t.Error("authentic without its key")
	}
	forged := cp
	forged.Seq = 4
	if forged.Authentic([]MACKey{key}) {
		t.Error("a changed checkpoint is authentic")
	}
	if Sign(nil, Head{Seq: 3, Hash: ZeroHash}, time.Unix(100, 0)).Authentic([]MACKey{key}) {
		t.Error("an unsigned checkpoint is authentic")
	}
}
