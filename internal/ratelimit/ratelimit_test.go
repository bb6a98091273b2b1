package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBurstThenExponentialBackoff(t *testing.T) {
	lim := New(Limits{Failures: 10, Window: time.Minute})
	now := time.Unix(1_700_000_000, 0)
	for i := 1; i <= 9; i++ {
		if d := lim.Fail("a", now); d != 0 {
			t.Fatalf("failure %d blocked for %v", i, d)
		}
		if w, _ := lim.Blocked("a", now); w != 0 {
			t.Fatalf("after failure %d: blocked", i)
		}
	}
	if d := lim.Fail("a", now); d != 6*time.Second {
		t.Fatalf("10th failure: block %v, want 6s", d)
	}
	if w, first := lim.Blocked("a", now); w != 6*time.Second || !first {
		t.Fatalf("blocked: %v %v", w, first)
	}
	if w, first := lim.Blocked("b", now); w != 0 || first {
		t.Fatal("another key is blocked")
	}
	for i := 0; i < 5; i++ {
		if w, first := lim.Blocked("a", now.Add(time.Second)); w != 5*time.Second || first {
			t.Fatalf("later refusal: %v %v", w, first)
		}
	}
	if s := lim.Summaries(now.Add(5 * time.Second)); len(s) != 0 {
		t.Fatalf("summary before the block ends: %v", s)
	}
	s := lim.Summaries(now.Add(6 * time.Second))
	if len(s) != 1 || s[0].Key != "a" || s[0].Refused != 5 {
		t.Fatalf("summaries: %+v", s)
	}
	if s := lim.Summaries(now.Add(7 * time.Second)); len(s) != 0 {
		t.Fatalf("summary reported twice: %v", s)
	}
	// the bucket holds one failure after 6 s: the next block is 12 s, then 24 s
	now = now.Add(6 * time.Second)
	if w, _ := lim.Blocked("a", now); w != 0 {
		t.Fatal("still blocked after the block")
	}
	if d := lim.Fail("a", now); d != 12*time.Second {
		t.Fatalf("second block %v, want 12s", d)
	}
	now = now.Add(12 * time.Second)
	if d := lim.Fail("a", now); d != 24*time.Second {
		t.Fatalf("third block %v, want 24s", d)
	}
	// a full bucket starts over
	now = now.Add(time.Hour)
	for i := 1; i <= 9; i++ {
		if d := lim.Fail("a", now); d != 0 {
			t.Fatalf("after an hour, failure %d blocked", i)
		}
	}
	if d := lim.Fail("a", now); d != 6*time.Second {
		t.Fatalf("after an hour the block is %v, want 6s", d)
	}
}

func TestMaxBackoff(t *testing.T) {
	lim := New(Limits{Failures: 1, Window: time.Second, MaxBackoff: 10 * time.Second})
	now := time.Unix(0, 0)
	var d time.Duration
	for i := 0; i < 40; i++ {
		d = lim.Fail("a", now)
		now = now.Add(d)
	}
	if d != 10*time.Second {
		t.Fatalf("block %v, want the 10 s cap", d)
	}
}

func TestBoundedKeys(t *testing.T) {
	lim := New(Limits{Failures: 1, Window: time.Hour, MaxKeys: 100})
	now := time.Unix(0, 0)
	for i := 0; i < 10_000; i++ {
		k := fmt.Sprint(i)
		lim.Fail(k, now)
		lim.Blocked(k, now)
		lim.Blocked(k, now) // counted
	}
	if n := lim.Len(); n > 100 {
		t.Fatalf("%d keys held, want at most 100", n)
	}
	total := 0
	for _, s := range lim.Summaries(now) {
		total += s.Refused
	}
	if total != 10_000-100 { // the evicted keys' counts are not lost
		t.Fatalf("evicted refusals reported: %d", total)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]string{"10/1m": "10/1m0s", "off": "off", "0": "off", " 3/30s ": "3/30s"} {
		l, err := Parse(in)
		if err != nil || l.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, l, err, want)
		}
	}
	for _, in := range []string{"", "10", "x/1m", "10/x", "-1/1m", "10/0s", "10/-1m"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
	if New(Disabled) != nil || New(Limits{}).Limits().Failures != DefaultFailures {
		t.Fatal("Disabled makes a limiter, or the zero Limits is not the default")
	}
	var lim *Limiter
	if w, _ := lim.Blocked("a", time.Now()); w != 0 || lim.Fail("a", time.Now()) != 0 {
		t.Fatal("a nil limiter limits")
	}
}
