package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// FuzzRead feeds arbitrary bytes to the backup reader: it must return a
// FormatError, a VersionError or a summary, never panic, and never read
// past a record's declared length into memory it did not bound.
func FuzzRead(f *testing.F) {
	b := smallSample(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(Magic + "\x00\x01"))
	f.Add([]byte(Magic + "\x00\x01M\x00\x00\x00\x02{}\x00\x00\x00\x00"))
	r := ring(f, k2, k1)
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := Verify(ctx, bytes.NewReader(data), Options{Ring: r})
		if err == nil {
			if sum.Bytes != int64(len(data)) {
				t.Fatalf("verified %d bytes of %d", sum.Bytes, len(data))
			}
			return
		}
		var fe *FormatError
		var ve *VersionError
		if !errors.As(err, &fe) && !errors.As(err, &ve) && !bytes.Contains([]byte(err.Error()), []byte("audit chain")) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if fe != nil && (fe.Offset < 0 || fe.Offset > int64(len(data))) {
			t.Fatalf("error names byte %d of %d", fe.Offset, len(data))
		}
	})
}

// smallSample is a backup of a store with two secrets: small enough for
// the fuzzer to mutate quickly.
func smallSample(t testing.TB) []byte {
	var buf bytes.Buffer
	if _, err := Write(ctx, memData(t, 2), &buf, WriteOptions{Key: k2}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzFlatRows checks flat.go against encoding/json: a row the flat
// decoding accepts is one encoding/json (as a read decodes rows: unknown
// fields refused, nothing after the row) decodes to the same value.
func FuzzFlatRows(f *testing.F) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	for _, v := range []any{
		toVersionRow(store.Version{ID: 7, SecretID: 3, Version: 2, Token: "gAAAAABtok-en_=", KeyID: "4b66887c9968", Binding: []byte{1, 2, 250},
			CreatedAt: t0, Actor: "ops", CompromisedAt: t0.Add(time.Hour)}),
		toVersionRow(store.Version{ID: 8, SecretID: 3, Version: 3, KeyID: "4b66887c9968", CreatedAt: t0, DestroyedAt: t0}),
		audit.Entry{Seq: 12, Prev: audit.ZeroHash, Hash: "ab12", Event: audit.Event{Time: t0, Service: "gateway", Actor: "acc_1",
			Action: "read", Secret: "app/db", Version: 3, Outcome: audit.Success, Reason: "r", RequestID: "req-1", Source: "127.0.0.1",
			Detail: "d", DecisionID: "dec"}},
		audit.Entry{Seq: 1, Prev: audit.ZeroHash, Event: audit.Event{Time: t0, Action: "restore", Outcome: audit.Failure}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		// What a writer emits takes the flat decoding.
		var vr versionRow
		var e audit.Entry
		if !flatVersion(b, &vr) && !flatEntry(b, &e) {
			f.Fatalf("the flat decoding declines %s", b)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"id":2}`))
	f.Add([]byte(`{"seq":-0,"version":12345678901234567890}`))
	f.Add([]byte(`{"binding":"","time":"2026-01-01T00:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		checkFlat(t, p, flatVersion)
		checkFlat(t, p, flatEntry)
	})
}

func checkFlat[R any](t *testing.T, p []byte, fast func([]byte, *R) bool) {
	var got R
	if !fast(p, &got) {
		return
	}
	var want R
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil || dec.More() {
		t.Fatalf("flat decoding accepted %q, which encoding/json refuses: %v", p, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: flat decoding gives %+v, encoding/json %+v", p, got, want)
	}
}
