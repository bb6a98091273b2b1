package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLifecycleMethods: Rollback, Destroy, Delete, ListDeleted, Undelete,
// Import and HistoryOf against a real server, with a cached read dropped by
// each write.
func TestLifecycleMethods(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	c, _ := New(srv.URL, WithCacheTTL(time.Hour))
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "llm/openai_api_key", "sk-2", nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Get(ctx, "llm/openai_api_key"); s.Value() != "sk-2" {
		t.Fatal("get")
	}
	one := 1
	if _, err := c.Rollback(ctx, "llm/openai_api_key", 1, &one); !errors.Is(err, ErrConflict) {
		t.Fatalf("rollback with a stale cas: %v", err)
	}
	m, err := c.Rollback(ctx, "llm/openai_api_key", 1, nil)
	if err != nil || m.Version != 3 {
		t.Fatalf("Rollback = %+v, %v", m, err)
	}
	if s, _ := c.Get(ctx, "llm/openai_api_key"); s.Value() != "sk-1" {
		t.Fatal("a cached read survived the rollback")
	}
	if err := c.Destroy(ctx, "llm/openai_api_key", 2); err != nil {
		t.Fatal(err)
	}
	h, err := c.HistoryOf(ctx, "llm/openai_api_key")
	if err != nil || len(h.Versions) != 3 || h.Versions[1].DestroyedAt == nil || h.Class == "" || h.CurrentVersion != 3 {
		t.Fatalf("HistoryOf = %+v, %v", h, err)
	}
	if err := c.Delete(ctx, "llm/openai_api_key"); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.ListDeleted(ctx, "llm/"); err != nil || len(ms) != 1 || ms[0].DeletedAt == nil {
		t.Fatalf("ListDeleted = %+v, %v", ms, err)
	}
	if err := c.Undelete(ctx, "llm/openai_api_key"); err != nil {
		t.Fatal(err)
	}
	n, err := c.Import(ctx, []ImportEntry{{"a", "v-CANARY-a"}, {"b", "v-CANARY-b"}}, ImportOptions{Prefix: "llm/"})
	if err != nil || n != 2 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if s, _ := c.Get(ctx, "llm/b"); s.Value() != "v-CANARY-b" {
		t.Fatal("imported value")
	}
	if _, err := c.Import(ctx, []ImportEntry{{"x", "v"}}, ImportOptions{Prefix: "db/"}); !errors.Is(err, ErrDenied) {
		t.Fatalf("import outside the grant: %v", err)
	}
	if _, err := c.Import(ctx, nil, ImportOptions{}); err == nil {
		t.Fatal("an empty import was sent")
	}
}

// TestImportEntryNeverPrintsValue: an ImportEntry shows [REDACTED] under
// every verb and in slog.
func TestImportEntryNeverPrintsValue(t *testing.T) {
	t.Parallel()
	e := ImportEntry{Name: "llm/a", Value: "v-CANARY"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "entry", e)
	out := fmt.Sprintf("%v %+v %#v %s %q", e, e, e, e, e) + fmt.Sprint(e) + buf.String()
	if strings.Contains(out, "CANARY") || !strings.Contains(out, "llm/a") {
		t.Fatalf("%s", out)
	}
}
