package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runAudit runs the audit and incident suite.
func runAudit(t *testing.T, open opener) {
	runAll(t, open.self, []subtest[opener]{
		{"AppendChainsAndVerifies", testAuditAppend},
		{"ConcurrentNodesKeepOneChain", testAuditConcurrent},
		{"Query", testAuditQuery},
		{"Cursor", testAuditCursor},
		{"PutCommitsItsEvent", testPutCommitsItsEvent},
		{"PublisherLock", testPublisherLock},
		{"Incidents", testIncidents},
	})
}

var auditT0 = time.Date(2026, 2, 3, 4, 5, 6, 123456789, time.UTC)

func auditEvent(i int) audit.Event {
	ev := audit.Event{Time: auditT0.Add(time.Duration(i) * time.Second), Service: fmt.Sprintf("svc-%d", i%3), Actor: "acc",
		Action: "read", Secret: fmt.Sprintf("app/s%d", i%5), Version: i%4 + 1, Outcome: audit.Success,
		RequestID: fmt.Sprint("req-", i), Source: "127.0.0.1:5000", Detail: "k=v"}
	if i%7 == 0 {
		ev.Outcome, ev.Reason = audit.Failure, "denied"
	}
	if i%10 == 9 {
		ev.Action = "write"
	}
	if i%3 == 1 {
		ev.DecisionID = fmt.Sprintf("4ca636c1-55e4-417a-b1d8-%012d", i)
	}
	return ev
}

func appendN(t *testing.T, st audit.Appender, l *audit.Linker, from, n int) []audit.Entry {
	t.Helper()
	evs := make([]audit.Event, n)
	for i := range evs {
		evs[i] = auditEvent(from + i)
	}
	es, err := st.AppendAudit(context.Background(), evs, l.Link)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func verifyStore(t *testing.T, st store.Store, keys []audit.MACKey) audit.Result {
	t.Helper()
	ctx := context.Background()
	cps, err := st.AuditCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier(cps, keys)
	err = st.WalkAudit(ctx, 7, func(es []audit.Entry) error {
		for _, e := range es {
			v.Add(e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v.Finish()
}

func testAuditAppend(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	if h, err := st.AuditHead(ctx); err != nil || h != audit.EmptyHead {
		t.Fatalf("empty head %v, %v", h, err)
	}
	key := &audit.MACKey{ID: "k1", Key: [32]byte{7}}
	l := &audit.Linker{Key: key, Every: 8}
	var all []audit.Entry
	for _, n := range []int{1, 5, 3, 10} {
		all = append(all, appendN(t, st, l, len(all), n)...)
	}
	h, err := st.AuditHead(ctx)
	if err != nil || h != all[len(all)-1].Head() || h.Seq != 19 {
		t.Fatalf("head %v, %v; want seq 19", h, err)
	}
	got, err := st.AuditAfter(ctx, 0, 100)
	if err != nil || len(got) != 19 {
		t.Fatalf("AuditAfter: %d entries, %v", len(got), err)
	}
	for i := range got {
		if got[i] != all[i] {
			t.Fatalf("entry %d read back as %+v, stored %+v", i, got[i], all[i])
		}
	}
	if !got[0].Time.Equal(auditT0) || got[0].Time.Nanosecond() != 123456789 {
		t.Fatalf("time lost precision: %v", got[0].Time)
	}
	cps, _ := st.AuditCheckpoints(ctx)
	if len(cps) != 2 || cps[0].Seq != 9 || cps[1].Seq != 19 {
		t.Fatalf("checkpoints %+v, want at 9 and 19", cps)
	}
	r := verifyStore(t, st, []audit.MACKey{*key})
	if !r.OK() || r.Events != 19 || r.Checkpoints != 2 {
		t.Fatalf("verify: %+v %v", r, r.Problem)
	}
	if es, _ := st.AuditAfter(ctx, 17, 100); len(es) != 2 || es[0].Seq != 18 {
		t.Fatalf("AuditAfter(17): %+v", es)
	}
	if es, err := st.AppendAudit(ctx, nil, l.Link); err != nil || len(es) != 0 {
		t.Fatalf("empty append: %v %v", es, err)
	}
	// A link error aborts the append.
	if _, err := st.AppendAudit(ctx, []audit.Event{auditEvent(0)}, func(audit.Head, []audit.Event) ([]audit.Entry, []audit.Checkpoint, error) {
		return nil, nil, errors.New("refused")
	}); err == nil {
		t.Fatal("a link error was ignored")
	}
	if h2, _ := st.AuditHead(ctx); h2 != h {
		t.Fatal("a failed append moved the head")
	}
	// The store takes appends again after a failed one, and a batch
	// longer than any one INSERT (16, 16 and 1 rows) keeps its order.
	all = append(all, appendN(t, st, l, len(all), 33)...)
	got, err = st.AuditAfter(ctx, 0, 100)
	if err != nil || len(got) != len(all) {
		t.Fatalf("AuditAfter after a failed append: %d entries, %v", len(got), err)
	}
	for i := range got {
		if got[i] != all[i] {
			t.Fatalf("entry %d read back as %+v, stored %+v", i, got[i], all[i])
		}
	}
	if r := verifyStore(t, st, []audit.MACKey{*key}); !r.OK() || r.Events != 52 {
		t.Fatalf("verify after a failed append: %+v %v", r, r.Problem)
	}
}

func testAuditConcurrent(t *testing.T, open opener) {
	st, another := open(t)
	nodes := []store.Store{st, another(), another()}
	l := &audit.Linker{}
	const writers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := nodes[w%len(nodes)]
			for i := range each {
				ev := auditEvent(w*1000 + i)
				if _, err := node.AppendAudit(context.Background(), []audit.Event{ev, ev}, l.Link); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := verifyStore(t, st, nil)
	if !r.OK() || r.Events != writers*each*2 {
		t.Fatalf("after concurrent appends from %d handles: %+v %v", len(nodes), r, r.Problem)
	}
}

func testAuditQuery(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	all := appendN(t, st, &audit.Linker{}, 0, 60)
	tests := []struct {
		name string
		q    audit.Query
	}{
		{"all", audit.Query{}},
		{"secret", audit.Query{Secret: "app/s2"}},
		{"service", audit.Query{Service: "svc-1"}},
		{"action", audit.Query{Action: "write"}},
		{"failed", audit.Query{Failed: true}},
		{"secret and failed", audit.Query{Secret: "app/s0", Failed: true}},
		{"window", audit.Query{Since: auditT0.Add(10 * time.Second), Until: auditT0.Add(20 * time.Second)}},
		{"after", audit.Query{AfterSeq: 55}},
		{"oldest 5", audit.Query{Secret: "app/s1", Limit: 5}},
		{"unknown", audit.Query{Secret: "nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.QueryAudit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var want []audit.Entry
			for _, e := range all {
				if tc.q.Match(e) && (tc.q.Limit == 0 || len(want) < tc.q.Limit) {
					want = append(want, e)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != want[i].Seq {
					t.Fatalf("entry %d has seq %d, want %d", i, got[i].Seq, want[i].Seq)
				}
			}
		})
	}
	got, err := st.QueryAudit(ctx, audit.Query{Service: "svc-2", Limit: 3, Newest: true})
	if err != nil || len(got) != 3 || got[2].Seq != 60 || got[0].Seq >= got[1].Seq {
		t.Fatalf("newest 3 of svc-2: %v %v", got, err)
	}
}

func testAuditCursor(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	if c, err := st.AuditCursor(ctx, "kafka:x"); err != nil || c != 0 {
		t.Fatalf("new cursor %d %v", c, err)
	}
	for _, v := range []int64{5, 9} {
		if err := st.SetAuditCursor(ctx, "kafka:x", v); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := st.AuditCursor(ctx, "kafka:x"); c != 9 {
		t.Fatalf("cursor %d, want 9", c)
	}
	if c, _ := st.AuditCursor(ctx, "kafka:y"); c != 0 {
		t.Fatalf("cursors are not independent: %d", c)
	}
}

// testPublisherLock: one publisher per cursor across nodes, none across
// cursors, and the lock passes on when released.
func testPublisherLock(t *testing.T, open opener) {
	st, other := open(t)
	node2 := other()
	ctx := context.Background()
	lock := func(l audit.Outbox, name string) (func() error, bool) {
		t.Helper()
		unlock, ok, err := l.LockPublisher(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return unlock, ok
	}
	unlock, ok := lock(st, "kafka:x")
	if !ok {
		t.Fatal("a free lock was not taken")
	}
	if _, ok := lock(node2, "kafka:x"); ok {
		t.Fatal("a second node took a held publisher lock")
	}
	if _, ok := lock(st, "kafka:x"); ok {
		t.Fatal("a second publisher of the same node took a held lock")
	}
	unlockY, ok := lock(node2, "kafka:y")
	if !ok {
		t.Fatal("the lock of another cursor was held")
	}
	defer unlockY()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, ok := lock(node2, "kafka:x")
	if !ok {
		t.Fatal("a released lock could not be taken")
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func testIncidents(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	if _, err := st.Incident(ctx, "INC-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown incident: %v", err)
	}
	a := incident.Open("INC-20260203-aaaaaa", "db/pass", 2, "leaked", "alice", auditT0)
	b := incident.Open("INC-20260203-bbbbbb", "api/key", 1, "laptop lost", "bob", auditT0.Add(time.Hour))
	for _, inc := range []*incident.Incident{a, b} {
		if err := st.CreateIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateIncident(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate ID: %v", err)
	}
	got, err := st.Incident(ctx, a.ID)
	if err != nil || got.Secret != "db/pass" || got.Version != 2 || !got.OpenedAt.Equal(a.OpenedAt) || len(got.Steps) != 5 {
		t.Fatalf("read back %+v, %v", got, err)
	}
	got.MarkDone(incident.StepAuditLogs, auditT0.Add(2*time.Hour))
	if err := got.Close("reviewed", auditT0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateIncident(ctx, got); err != nil {
		t.Fatal(err)
	}
	open1, err := st.ListIncidents(ctx, false)
	if err != nil || len(open1) != 1 || open1[0].ID != b.ID {
		t.Fatalf("open incidents %v, %v", open1, err)
	}
	all, _ := st.ListIncidents(ctx, true)
	if len(all) != 2 || all[0].ID != b.ID {
		t.Fatalf("all incidents newest first: %v", all)
	}
	again, _ := st.Incident(ctx, a.ID)
	if !again.Closed() || again.Review != "reviewed" || again.Step(incident.StepAuditLogs).Done.IsZero() {
		t.Fatalf("update lost: %+v", again)
	}
	ghost := incident.Open("INC-ghost", "x", 1, "r", "a", auditT0)
	if err := st.UpdateIncident(ctx, ghost); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("updating an unknown incident: %v", err)
	}
}

// testPutCommitsItsEvent: a write with an Audit commits its event in its
// own transaction, and a copy that refuses it aborts the write.
func testPutCommitsItsEvent(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	key := &audit.MACKey{ID: "k1", Key: [32]byte{5}}
	l := &audit.Linker{Key: key, Every: 8}
	appendN(t, st, l, 0, 3)
	var copied []audit.Event
	var committed audit.Head
	tx := func(fail bool) *audit.InTx {
		return &audit.InTx{
			Event: func(v int) audit.Event {
				return audit.Event{Action: "write", Secret: "tx/a", Version: v, Outcome: audit.Success, Time: auditT0}
			},
			Link: l.Link,
			Copy: func(_ context.Context, ev audit.Event) error {
				if fail {
					return errors.New("disk full")
				}
				copied = append(copied, ev)
				return nil
			},
			Committed: func(h audit.Head) { committed = h },
		}
	}
	w := store.Write{Name: "tx/a", Now: auditT0, Seal: sealed("v1"), Audit: tx(false)}
	if _, v, err := st.Put(ctx, w); err != nil || v.Version != 1 {
		t.Fatalf("put: %v %v", v, err)
	}
	h, _ := st.AuditHead(ctx)
	if h.Seq != 4 || committed != h || len(copied) != 1 || copied[0].Version != 1 {
		t.Fatalf("head %v, committed %v, copied %+v", h, committed, copied)
	}
	es, _ := st.AuditAfter(ctx, 3, 10)
	if len(es) != 1 || es[0].Action != "write" || es[0].Secret != "tx/a" || es[0].Version != 1 {
		t.Fatalf("the write's event: %+v", es)
	}
	w.Audit, w.Seal = tx(true), sealed("v2")
	if _, _, err := st.Put(ctx, w); err == nil {
		t.Fatal("a write whose copy failed was stored")
	}
	if sec, err := st.Secret(ctx, "tx/a"); err != nil || sec.CurrentVersion != 1 {
		t.Fatalf("after a refused write: %+v %v", sec, err)
	}
	if h2, _ := st.AuditHead(ctx); h2 != h {
		t.Fatalf("a refused write moved the chain: %v", h2)
	}
	if r := verifyStore(t, st, []audit.MACKey{*key}); !r.OK() || r.Events != 4 {
		t.Fatalf("verify: %+v %v", r, r.Problem)
	}
	if err := st.PutMany(ctx, []store.Write{w}); err == nil {
		t.Fatal("PutMany took a write with an Audit")
	}
}
