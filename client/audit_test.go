package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// TestAuditEventsPages: with Limit 0 AuditEvents reads every page, each
// after the last seq of the one before; a Limit stops it; a follow poll
// says follow and reads one page.
func TestAuditEventsPages(t *testing.T) {
	t.Parallel()
	const total = 12001
	var mu sync.Mutex
	var queries []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audit/events" || r.Header.Get("Authorization") != "Bearer sa01s_test" {
			http.Error(w, `{"code":"denied","message":"no"}`, http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		after, _ := strconv.ParseInt(q.Get("after_seq"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		var es []AuditEvent
		for s := after + 1; s <= total && len(es) < limit; s++ {
			es = append(es, AuditEvent{Seq: s, Action: "read", Outcome: "success"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"events": es, "more": len(es) > 0 && es[len(es)-1].Seq < total})
	}))
	defer ts.Close()
	c, err := New(ts.URL, WithToken("sa01s_test"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	es, err := c.AuditEvents(ctx, AuditQuery{Secret: "llm/openai_api_key"})
	if err != nil || len(es) != total || es[total-1].Seq != total {
		t.Fatalf("all pages: %d events, %v", len(es), err)
	}
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), queries...) }
	if q := seen(); len(q) != 3 || q[1] != "after_seq=5000&limit=5000&secret=llm%2Fopenai_api_key" {
		t.Fatalf("queries %q", q)
	}
	if es, err := c.AuditEvents(ctx, AuditQuery{Limit: 7000}); err != nil || len(es) != 7000 {
		t.Fatalf("limit 7000: %d %v", len(es), err)
	}
	mu.Lock()
	queries = nil
	mu.Unlock()
	if es, err := c.AuditFollow(ctx, AuditQuery{}, 12000); err != nil || len(es) != 1 || es[0].Seq != total {
		t.Fatalf("follow: %v %v", es, err)
	}
	if q := seen(); len(q) != 1 || q[0] != "after_seq=12000&follow=true&limit=1000" {
		t.Fatalf("follow queries %q", q)
	}
}
