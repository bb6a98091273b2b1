package kafka

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// FuzzReadPublished feeds the reading of the topic's last record at start
// (anyone who can produce to the topic writes it): headers, one a line as
// KEY=VALUE, and a value. It never panics; the seq is the first seq
// header's; a hash is read only from a JSON value; and a record the
// publisher writes for an entry reads back as that entry's seq and hash.
func FuzzReadPublished(f *testing.F) {
	e := audit.Entry{Seq: 7, Prev: audit.ZeroHash, Hash: strings.Repeat("ab", 32),
		Event: audit.Event{Action: "read", Secret: "db/pass", Version: 1, Outcome: audit.Success, Service: "svc"}}
	r, err := entryRecord(e)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(SeqHeader+"=7", r.Value, int64(7), e.Hash, "db/pass")
	f.Add("other=x\n"+SeqHeader+"=12\n"+SeqHeader+"=13", []byte(`{"seq":12,"hash":"h"}`), int64(-1), "", "")
	f.Add(SeqHeader+"=x", []byte(`{}`), int64(1<<62), "\x00\"", "a\nb")
	f.Add("", []byte(`{"hash":1}`), int64(0), "h", "s")
	f.Add(SeqHeader+"=+5", []byte(`{"hash":"h","seq":"x"}`), int64(5), "h", "s")
	f.Fuzz(func(t *testing.T, headers string, value []byte, seq int64, hash, secret string) {
		r := &kgo.Record{Value: value}
		first := ""
		for _, l := range strings.Split(headers, "\n") {
			k, v, _ := strings.Cut(l, "=")
			if k == SeqHeader && first == "" {
				first = v + "\x00"
			}
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		p, err := readPublished(r)
		if first == "" {
			if err == nil {
				t.Fatalf("no seq header, read as %+v", p)
			}
		} else if n, perr := strconv.ParseInt(strings.TrimSuffix(first, "\x00"), 10, 64); (err == nil) != (perr == nil) || err == nil && p.seq != n {
			t.Fatalf("seq header %q read as %+v, %v", first, p, err)
		}
		if err == nil && p.hash != "" && !json.Valid(value) {
			t.Fatalf("hash %q from a value that is not JSON", p.hash)
		}

		// An entry's hash is hex; any text (JSON carries only UTF-8) must
		// round-trip.
		e := audit.Entry{Seq: seq, Hash: hash, Event: audit.Event{Action: "read", Secret: secret}}
		r, err = entryRecord(e)
		if err != nil || !utf8.ValidString(hash) {
			return
		}
		if p, err := readPublished(r); err != nil || p.seq != seq || p.hash != hash {
			t.Fatalf("entry %d %q read back as %+v, %v", seq, hash, p, err)
		}
	})
}
