package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/scan/corpus"
)

// pemKey is a PEM private key of n lines of body, as a file holds it.
func pemKey(seed uint64, lines int) string {
	var b strings.Builder
	b.WriteString("-----BEGIN RSA PRIVATE KEY-----\n")
	for i := range lines {
		b.WriteString(rnd(alnumSet+"+/", 64, seed*100+uint64(i)) + "\n")
	}
	b.WriteString("-----END RSA PRIVATE KEY-----")
	return b.String()
}

// chunkReader returns its input in the pieces given, one per Read.
type chunkReader struct{ pieces [][]byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	if n < len(r.pieces[0]) {
		r.pieces[0] = r.pieces[0][n:]
	} else {
		r.pieces = r.pieces[1:]
	}
	return n, nil
}

func linesOf(s string) [][]byte {
	var out [][]byte
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			out = append(out, []byte(l))
		}
	}
	return out
}

func streamString(t *testing.T, m *Masker, r io.Reader) string {
	t.Helper()
	var out bytes.Buffer
	if err := m.Stream(r, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestMaskPEMLineByLine: a service that logs a key line by line (each line
// its own write) must not get the key through, line by line.
func TestMaskPEMLineByLine(t *testing.T) {
	t.Parallel()
	key := pemKey(1, 12)
	in := "level=error msg=\"cannot parse key\" contents follow\n" + key + "\nlevel=info msg=next\n"
	m := NewMasker(New(nil))
	whole := m.MaskString(in)
	got := streamString(t, m, &chunkReader{pieces: linesOf(in)})
	for _, l := range strings.Split(key, "\n") {
		if strings.Contains(got, l) {
			t.Fatalf("line %q of the key passed through:\n%s", l, got)
		}
	}
	if got != whole {
		t.Fatalf("line by line:\n%s\nwhole:\n%s", got, whole)
	}
	if strings.Count(got, "\n") != strings.Count(in, "\n") {
		t.Fatalf("masking changed the line count:\n%s", got)
	}
}

// TestMaskAcrossWorkerSplit: a batch large enough to be split across
// workers, with a PEM key and a two-line managed value at every position
// around the split point.
func TestMaskAcrossWorkerSplit(t *testing.T) {
	t.Parallel()
	two := "first-line-" + rnd(alnumSet, 12, 7) + "\nsecond-line-" + rnd(alnumSet, 12, 8)
	s := New(NewKnownSet([]KnownValue{{Name: "cert/pair", Version: 2, Value: []byte(two)}}))
	key := pemKey(2, 6)
	filler := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			fmt.Fprintf(&b, "level=info msg=request path=/v1/models status=200 n=%d\n", b.Len())
		}
		return b.String()
	}
	for _, workers := range []int{2, 3} {
		for shift := -12; shift <= 12; shift++ {
			// The reader splits a batch at len/workers and then at the
			// next newline; put the values around there.
			half := filler(parallelMin*3/2 - 300 + shift*48)
			in := half + key + "\n" + two + "\n" + filler(parallelMin*3/2)
			m := &Masker{s: s, workers: workers}
			var out bytes.Buffer
			if err := m.Stream(bytes.NewReader([]byte(in)), &out); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			for _, v := range append(strings.Split(key, "\n")[1:7], strings.Split(two, "\n")...) {
				if strings.Contains(got, v) {
					t.Fatalf("workers %d shift %d: %q passed through", workers, shift, v)
				}
			}
			if got != m.MaskString(in) {
				t.Fatalf("workers %d shift %d: streamed output differs from masking the whole", workers, shift)
			}
		}
	}
}

// TestMaskStreamChunkingDoesNotMatter: however the input arrives (line by
// line, in random pieces, all at once) and however many workers mask it,
// the output is what masking the whole gives: the generated corpus, with
// multi-line keys, YAML env entries and statement parameters whose names
// are on the line before, and a multi-line managed value.
func TestMaskStreamChunkingDoesNotMatter(t *testing.T) {
	t.Parallel()
	two := "line-one-" + rnd(alnumSet, 10, 30) + "\nline-two-" + rnd(alnumSet, 10, 31) + "\nline-three"
	s := New(NewKnownSet([]KnownValue{{Name: "multi", Version: 1, Value: []byte(two)}}))
	var in bytes.Buffer
	for _, sh := range []string{"k8s", "java-stacktrace", "postgres", "ci", "envdump"} {
		if err := corpus.ShapeNamed(sh).Write(&in, corpus.Options{Seed: corpus.TuneSeed, Size: 96 << 10, SecretEvery: 6}, nil); err != nil {
			t.Fatal(err)
		}
		in.WriteString(two + "\n")
	}
	data := in.Bytes()
	m := NewMasker(s)
	want := m.MaskString(string(data))
	if strings.Contains(want, "line-one-") {
		t.Fatal("the multi-line value is not masked in the whole")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 12 {
		var pieces [][]byte
		switch trial % 3 {
		case 0:
			pieces = linesOf(string(data))
		default:
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+r.IntN(9000))
				pieces = append(pieces, rest[:n])
				rest = rest[n:]
			}
		}
		mm := &Masker{s: s, workers: 1 + trial%4}
		if got := streamString(t, mm, &chunkReader{pieces: pieces}); got != want {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("trial %d: output differs at byte %d: got %q, want %q", trial, i, got[i:min(len(got), i+120)], want[i:min(len(want), i+120)])
		}
	}
}

// TestMaskHugeLineLongKnownValue: pieces of a line longer than the buffer
// carry the longest known form as context, not 16 KiB: a 20,000-byte
// managed value across a piece boundary is masked whole.
func TestMaskHugeLineLongKnownValue(t *testing.T) {
	t.Parallel()
	long := rnd(alnumSet, 20000, 40)
	s := New(NewKnownSet([]KnownValue{{Name: "big", Version: 1, Value: []byte(long)}}))
	m := NewMasker(s)
	reach := s.reach()
	// The first piece ends reach bytes before the end of the 4 MiB
	// buffer; put copies of the value so that one starts more than 16 KiB
	// before that boundary and crosses it.
	boundary := streamBuf - reach
	for _, start := range []int{boundary - 18000, boundary - 19999, boundary - 16385} {
		in := strings.Repeat("a", start-1) + " " + long + " " + strings.Repeat("b", streamBuf) + "\n"
		got := streamString(t, m, strings.NewReader(in))
		for i := 0; i+64 <= len(long); i += 500 {
			if strings.Contains(got, long[i:i+64]) {
				t.Fatalf("value at %d: bytes %d.. of the 20,000-byte value passed through", start, i)
			}
		}
		if got != m.MaskString(in) {
			t.Fatalf("value at %d: streamed output differs from masking the whole", start)
		}
	}
}

// blockingReader returns its data, then blocks until closed, as a pipe
// from a quiet process does.
type blockingReader struct {
	data   []byte
	closed chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.closed
	return 0, io.EOF
}

// TestMaskStreamContextCancel: when its context ends (SIGINT, SIGTERM),
// StreamContext stops waiting for input, masks and writes what it holds,
// an incomplete last line included, and returns.
func TestMaskStreamContextCancel(t *testing.T) {
	t.Parallel()
	pw := "Zq8!" + rnd(alnumSet, 12, 50)
	r := &blockingReader{data: []byte("line one password=" + pw + "\nline two, no newline yet token=" + pw), closed: make(chan struct{})}
	defer close(r.closed)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- NewMasker(New(nil)).StreamContext(ctx, r, out) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "line one") {
		if time.Now().After(deadline) {
			t.Fatal("the complete line was not written")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StreamContext did not return after its context ended")
	}
	got := out.String()
	if want := "line one password=****\nline two, no newline yet token=****"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}

// TestMaskedLinesCoverScanFindings: a line that scan reports is never
// passed through by mask unchanged, over the whole generated corpus (both
// seeds' shapes, as a log stream).
func TestMaskedLinesCoverScanFindings(t *testing.T) {
	t.Parallel()
	s := New(nil)
	m := NewMasker(s)
	for _, seed := range []uint64{corpus.TuneSeed, corpus.HoldoutSeed} {
		for _, sh := range corpus.Shapes() {
			var in bytes.Buffer
			if err := sh.Write(&in, corpus.Options{Seed: seed, Size: 128 << 10, SecretEvery: 8}, nil); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(in.String(), "\n")
			masked := strings.Split(streamString(t, m, &chunkReader{pieces: linesOf(in.String())}), "\n")
			if len(masked) != len(lines) {
				t.Fatalf("%s: mask wrote %d lines for %d", sh.Name, len(masked), len(lines))
			}
			reported := 0
			_, err := s.Run(context.Background(), 2, func(send func(Unit) bool) error {
				return Chunks(bytes.NewReader(in.Bytes()), sh.Name, 0, send)
			}, nil, func(f Finding) error {
				reported++
				if masked[f.Line-1] == lines[f.Line-1] {
					t.Errorf("%s line %d: scan reports %s, mask passes the line unchanged: %q", sh.Name, f.Line, f.Rule, lines[f.Line-1])
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if reported == 0 {
				t.Errorf("%s: nothing reported", sh.Name)
			}
		}
	}
}

func TestMaskLinePreserving(t *testing.T) {
	t.Parallel()
	key := pemKey(3, 3)
	in := "a\r\n" + strings.ReplaceAll(key, "\n", "\r\n") + "\r\nb\r\n"
	got := NewMasker(New(nil)).MaskString(in)
	if want := "a\r\n****\r\n****\r\n****\r\n****\r\n****\r\nb\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	esc := `{"private_key":"` + strings.ReplaceAll(pemKey(4, 3), "\n", `\n`) + `"}`
	if got := NewMasker(New(nil)).MaskString(esc); got != `{"private_key":"****"}` {
		t.Fatalf("escaped key: %q", got)
	}
}

// FuzzMaskStream: on any input, however it is cut into reads and however
// many workers mask it, the stream writes what masking the whole does, and
// never a known value.
func FuzzMaskStream(f *testing.F) {
	f.Add([]byte("a password=Zq8!abcdefgh12\n"+pemKey(1, 3)+"\nb\n"), uint64(1))
	f.Add([]byte("    - name: DB_PASSWORD\n      value: \"Zq8!abcdefgh12\"\nx\n"), uint64(2))
	f.Add([]byte("line-one-0123456789\nline-two-0123456789\n"), uint64(3))
	f.Add([]byte("LOG:  execute <unnamed>: INSERT INTO t (a, api_key) VALUES ($1, $2)\nDETAIL:  parameters: $1 = '1', $2 = 'Zq8!abcdefgh12xy'\n"), uint64(4))
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte("known-value-1")}, {Name: "m", Version: 1, Value: []byte("line-one-0123456789\nline-two-0123456789")}}))
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		whole := NewMasker(s).MaskString(string(b))
		r := rand.New(rand.NewPCG(seed, 1))
		var pieces [][]byte
		for rest := b; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(64))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		var out bytes.Buffer
		m := &Masker{s: s, workers: 1 + int(seed%3)}
		if err := m.Stream(&chunkReader{pieces: pieces}, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != whole {
			t.Fatalf("stream %q, whole %q", out.String(), whole)
		}
		if strings.Contains(whole, "known-value-1") && !strings.Contains(strings.ReplaceAll(string(b), "known-value-1", ""), "known-value-1") {
			t.Fatalf("known value survived: %q", whole)
		}
	})
}
