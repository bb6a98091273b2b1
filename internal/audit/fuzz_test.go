package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyFile feeds arbitrary bytes as an audit file: the verifier never
// panics, and it accepts a file only if every line is a correctly linked entry.
func FuzzVerifyFile(f *testing.F) {
	var m Memory
	for _, ev := range testEvents(3) {
		m.Record(context.Background(), ev)
	}
	var buf bytes.Buffer
	for _, e := range m.Entries() {
		b, _ := MarshalLine(e)
		buf.Write(b)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"seq":1,"prev":"` + ZeroHash + `","hash":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _ := VerifyFile(bytes.NewReader(data), nil)
		if !r.OK() {
			return
		}
		// Accepted: re-linking the parsed events must reproduce the hashes.
		var es []Entry
		ReadEntries(bytes.NewReader(data), func(_ int64, e Entry) bool { es = append(es, e); return true })
		head := EmptyHead
		for _, e := range es {
			re, err := Link(head, []Event{e.Event})
			if err != nil || re[0].Hash != e.Hash {
				t.Fatalf("accepted an entry that does not relink: seq %d", e.Seq)
			}
			head = re[0].Head()
		}
	})
}

// FuzzParseTime never panics and never returns a time after now for a relative form.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"4h", "7d", "2026-01-02", "2026-01-02T03:04:05Z", "now", "1.5w ago"} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err == nil {
			if _, ok := parseRelative(s); ok && got.After(now) {
				t.Fatalf("%q gives a time after now", s)
			}
		}
	})
}

// FuzzParseAnchor feeds --anchor's SEQ:HASH. An accepted anchor is the
// form `audit head` prints (Head.Anchor), surrounding space aside, so each
// head has one spelling; a refusal is the fixed message, nothing of the
// input.
func FuzzParseAnchor(f *testing.F) {
	f.Add(Head{Seq: 5, Hash: strings.Repeat("ab", 32)}.Anchor())
	f.Add(EmptyHead.Anchor())
	f.Add(" 12:" + strings.Repeat("0f", 32) + "\n")
	f.Add("5:" + strings.Repeat("AB", 32))
	f.Add("/var/log/sa01/audit.jsonl")
	_, refusal := ParseAnchor("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAnchor(s)
		if err != nil {
			if err.Error() != refusal.Error() {
				t.Fatalf("refusal %q", err)
			}
			return
		}
		if h.Anchor() != strings.TrimSpace(s) {
			t.Fatalf("%q accepted as %q", s, h.Anchor())
		}
		if h2, err := ParseAnchor(h.Anchor()); err != nil || h2 != h {
			t.Fatalf("%q reads back as %v, %v", h.Anchor(), h2, err)
		}
	})
}
