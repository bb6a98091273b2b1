package scan

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// pathological inputs: each repeats a piece that makes a matcher look
// around every keyword hit.
var pathological = []struct{ name, unit string }{
	{"name-run", "key"},                                   // one long name full of keywords
	{"sa01-name-run", "SA01_"},                            // one long SA01_ name
	{"pem-begin", "-----BEGIN PRIVATE KEY-----"},          // BEGIN lines without END
	{"allow-lines", "known-value-1 sa01-secrets:allow\n"}, // many candidates, many markers
	{"openai-run", " sk-" + strings.Repeat("a", 40)},      // tokens
	{"close-parens", "password=" + strings.Repeat(")", 500) + " "},
	{"dsn", "a://u:p@"},
	{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJ."},
}

func pathologicalInput(unit string, n int) []byte {
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

func BenchmarkPathological(b *testing.B) {
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte("known-value-1")}}))
	for _, p := range pathological {
		for _, n := range []int{16 << 10, 256 << 10} {
			data := pathologicalInput(p.unit, n)
			b.Run(fmt.Sprintf("%s/%dKiB", p.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					s.Find(data, nil)
				}
			})
		}
	}
}

// TestFindLinear checks, by counting the bytes the matchers look at (not
// by timing), that the work of Find on each pathological input grows in
// proportion to its size: a matcher that walks an unbounded distance from
// every keyword hit makes a long run of hits quadratic. Not parallel: the
// counter is global.
func TestFindLinear(t *testing.T) {
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte("known-value-1")}}))
	var c atomic.Int64
	workCounter = &c
	defer func() { workCounter = nil }()
	work := func(data []byte) int64 {
		c.Store(0)
		s.Find(data, nil)
		return c.Load()
	}
	for _, p := range pathological {
		small := work(pathologicalInput(p.unit, 8<<10))
		large := work(pathologicalInput(p.unit, 64<<10))
		// 8 times the input: at most 8 times the work (and a little).
		if large > 9*small+4096 {
			t.Errorf("%s: %d units of work on 8 KiB, %d on 64 KiB: not linear", p.name, small, large)
		}
		if large > 64<<10*100 {
			t.Errorf("%s: %d units of work on 64 KiB: more than 100 per byte", p.name, large)
		}
	}
}

func TestMaskIgnoresAllowMarker(t *testing.T) {
	t.Parallel()
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte("known-value-1")}}))
	line := "token known-value-1 password=Zq8!xK2mP9vL4wR7 # " + AllowMarker + "\n"
	if ms := s.Find([]byte(line), nil); len(ms) != 0 {
		t.Fatalf("Find reported %+v on an allowed line", ms)
	}
	want := "token **** password=**** # " + AllowMarker + "\n"
	if got := NewMasker(s).MaskString(line); got != want {
		t.Errorf("MaskString = %q, want %q", got, want)
	}
	var out strings.Builder
	if err := NewMasker(s).Stream(strings.NewReader(line), &out); err != nil || out.String() != want {
		t.Errorf("Stream = %q, %v; want %q", out.String(), err, want)
	}
}

// TestPEMEndAtLimit: a PEM body is walked at most pemReach bytes past the
// BEGIN line. An END line that starts within reach closes the block, which
// is reported whole, up to the END line's last dash; one that starts at or
// past the limit is not looked for, and the block (one body line without a
// line ending, never whole) is dropped with nothing reported past the limit.
func TestPEMEndAtLimit(t *testing.T) {
	t.Parallel()
	s := New(nil)
	head := "-----BEGIN PRIVATE KEY-----"
	for d := -10; d <= 2; d++ {
		body := strings.Repeat("A", pemReach+d)
		in := head + body + "-----END PRIVATE KEY-----\n"
		var drops []Drop
		ms := s.Find([]byte(in), func(dr Drop) { drops = append(drops, dr) })
		if d < 0 {
			if len(ms) != 1 || ms[0].Rule != "private-key" || ms[0].Start != 0 || ms[0].End != len(in)-1 {
				t.Errorf("END %d bytes before the limit: matches %+v, want the whole block [0, %d)", -d, ms, len(in)-1)
			}
			continue
		}
		if len(ms) != 0 {
			t.Errorf("END %d bytes past the limit: matches %+v, want none", d, ms)
		}
		if len(drops) != 1 || drops[0].Rule != "private-key" || drops[0].End > len(head)+pemReach {
			t.Errorf("END %d bytes past the limit: drops %+v, want one private-key drop within reach", d, drops)
		}
	}
}
