package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBoundCutsAndMarks(t *testing.T) {
	ev := Bound(Event{Service: strings.Repeat("é", 40<<10), Detail: string(bytes.Repeat([]byte{0xff}, 1<<20)), Secret: "ok"})
	if len(ev.Service) > MaxField || !utf8.ValidString(ev.Service) || !strings.HasSuffix(ev.Service, "bytes]") {
		t.Fatalf("service cut to %d bytes: %q", len(ev.Service), ev.Service[len(ev.Service)-30:])
	}
	if ev.Detail != "\uFFFD" || ev.Secret != "ok" {
		t.Fatalf("detail %q, secret %q", ev.Detail, ev.Secret)
	}
}

// TestFileReopensAfterHostileEvents: a 70 KB field used to make a line
// that OpenFile could not resume from; 0xFF bytes a line whose JSON
// (U+FFFD) no longer matched its hash.
func TestFileReopensAfterHostileEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFile(path, nil, testKey)
	if err != nil {
		t.Fatal(err)
	}
	err = f.WriteBatch(context.Background(), []Event{
		{Action: "login", Outcome: Failure, Service: strings.Repeat("A", 70<<10)},
		{Action: "login", Outcome: Failure, Service: string(bytes.Repeat([]byte{0xff}, 1<<20)), Reason: "invalid token"},
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if f, err = OpenFile(path, nil, testKey); err != nil {
		t.Fatalf("reopening: %v", err)
	}
	f.Close()
	data, _ := os.ReadFile(path)
	if r, err := VerifyFile(bytes.NewReader(data), testKey); err != nil || !r.OK() || r.Events != 2 {
		t.Fatalf("verify: %+v %v", r, err)
	}
}
