package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// pagingServer answers every GET /v1/audit/events with page(after, limit):
// the events after after_seq and whether there are more.
func pagingServer(t *testing.T, page func(after int64, limit int) ([]AuditEvent, bool)) (*Client, *atomic.Int64) {
	t.Helper()
	asked := new(atomic.Int64)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		q := r.URL.Query()
		after, _ := strconv.ParseInt(q.Get("after_seq"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		es, more := page(after, limit)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"events": es, "more": more})
	}))
	t.Cleanup(ts.Close)
	c, err := New(ts.URL, WithToken("sa01s_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, asked
}

func eventsAfter(after int64, n int) []AuditEvent {
	es := make([]AuditEvent, n)
	for i := range es {
		es[i] = AuditEvent{Seq: after + 1 + int64(i), Action: "read", Outcome: "success"}
	}
	return es
}

// TestAuditEventsBounded: a server that pages forever, each page moving
// forward, does not have AuditEvents with Limit 0 ask forever and hold
// ever more: past maxAuditEvents it is ErrTooManyEvents and no event. A
// selection of exactly that many is read whole, and a caller's Limit above
// it is the bound instead. Not parallel: it lowers maxAuditEvents.
func TestAuditEventsBounded(t *testing.T) {
	old := maxAuditEvents
	maxAuditEvents = 2*maxAuditPage + 10
	t.Cleanup(func() { maxAuditEvents = old })
	// The old code asked forever: the deadline makes it fail, not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	forever, asked := pagingServer(t, func(after int64, limit int) ([]AuditEvent, bool) {
		return eventsAfter(after, limit), true
	})
	es, err := forever.AuditEvents(ctx, AuditQuery{})
	if !errors.Is(err, ErrTooManyEvents) || es != nil || asked.Load() != 3 {
		t.Fatalf("pages forever: %v, %d events, %d requests", err, len(es), asked.Load())
	}
	if !strings.Contains(err.Error(), "more than 10010") {
		t.Errorf("the error does not say the bound: %v", err)
	}
	if es, err := forever.AuditEvents(ctx, AuditQuery{Limit: 12000}); err != nil || len(es) != 12000 || es[11999].Seq != 12000 {
		t.Errorf("a limit above the bound: %d events, %v", len(es), err)
	}

	for _, total := range []int64{int64(maxAuditEvents), int64(maxAuditEvents) + 1} {
		c, _ := pagingServer(t, func(after int64, limit int) ([]AuditEvent, bool) {
			n := min(int64(limit), max(total-after, 0))
			return eventsAfter(after, int(n)), after+n < total
		})
		es, err := c.AuditEvents(ctx, AuditQuery{})
		if total == int64(maxAuditEvents) && (err != nil || int64(len(es)) != total) {
			t.Errorf("%d events: %d read, %v", total, len(es), err)
		}
		if total > int64(maxAuditEvents) && (!errors.Is(err, ErrTooManyEvents) || es != nil) {
			t.Errorf("%d events: %d read, %v", total, len(es), err)
		}
	}
}

// TestAuditPagesNotAsAsked: a page that says "more" but is not full (one
// event at a time, forever), or one with more events than asked for, is
// not what a server answers: an error, nothing returned, no next request.
func TestAuditPagesNotAsAsked(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	trickle, asked := pagingServer(t, func(after int64, _ int) ([]AuditEvent, bool) {
		return eventsAfter(after, 1), true
	})
	if es, err := trickle.AuditEvents(ctx, AuditQuery{}); !errors.Is(err, errAnswer) || es != nil || asked.Load() != 1 {
		t.Errorf("one event a page, forever: %v, %d events, %d requests", err, len(es), asked.Load())
	}
	flood, _ := pagingServer(t, func(after int64, limit int) ([]AuditEvent, bool) {
		return eventsAfter(after, limit+2), false
	})
	for _, q := range []AuditQuery{{Limit: 3}, {Limit: 3, Newest: true}, {}} {
		if es, err := flood.AuditEvents(ctx, q); !errors.Is(err, errAnswer) || es != nil {
			t.Errorf("%+v: a page larger than asked: %v, %d events", q, err, len(es))
		}
	}
	if es, err := flood.AuditFollow(ctx, AuditQuery{}, 5); !errors.Is(err, errAnswer) || es != nil {
		t.Errorf("follow: a page larger than asked: %v, %d events", err, len(es))
	}
}
