package storebackend

import (
	"context"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Verification of the chain for the badge: a pass feeds the chain to an
// audit.Verifier from the first event, a bounded slice per call, and then
// follows the new events; every ReverifyEvery a new pass starts from the
// first event again, so that an event edited after it was verified is
// found. While a new pass catches up, the badge shows the last pass that
// reached the head.
const (
	// VerifyBudget bounds the time one ChainState call spends verifying.
	VerifyBudget = 40 * time.Millisecond
	// ReverifyEvery is how often verification starts again from the first
	// event.
	ReverifyEvery = 10 * time.Minute
	verifyBatch   = 2000
)

type verifyState struct {
	mu       sync.Mutex
	cur      *audit.Verifier
	curStart time.Time
	caught   bool // cur has reached the head once
	done     audit.Result
	doneAt   time.Time
	hasDone  bool
}

// ChainState implements console.Audit.
func (b *Backend) ChainState(ctx context.Context, who console.Identity) (console.ChainState, error) {
	if err := b.authorize(ctx, who, console.ActAudit, "audit-verify", ""); err != nil {
		return console.ChainState{}, err
	}
	return b.chainState(ctx, VerifyBudget)
}

// VerifyNow verifies until the head, however long it takes.
func (b *Backend) VerifyNow(ctx context.Context) (console.ChainState, error) {
	return b.chainState(ctx, 0)
}

func (b *Backend) chainState(ctx context.Context, budget time.Duration) (console.ChainState, error) {
	head, err := b.st.AuditHead(ctx)
	if err != nil {
		return console.ChainState{}, err
	}
	cps, err := b.st.AuditCheckpoints(ctx)
	if err != nil {
		return console.ChainState{}, err
	}
	keys := audit.MACKeys(b.o.Ring)
	now := b.now()
	vs := &b.verify
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.cur == nil || vs.caught && now.Sub(vs.curStart) >= ReverifyEvery && vs.cur.Progress().Problem == nil {
		vs.cur, vs.curStart, vs.caught = audit.NewVerifier(cps, keys), now, false
	}
	start := time.Now()
	for {
		res := vs.cur.Progress()
		if res.Problem != nil {
			break
		}
		es, err := b.st.AuditAfter(ctx, res.Head.Seq, verifyBatch)
		if err != nil {
			return console.ChainState{}, err
		}
		for _, e := range es {
			if !vs.cur.Add(e) {
				break
			}
		}
		if len(es) < verifyBatch {
			vs.caught = true
			vs.done, vs.doneAt, vs.hasDone = vs.cur.Progress(), now, true
			break
		}
		if budget > 0 && time.Since(start) >= budget {
			break
		}
	}
	show, at := vs.cur.Progress(), now
	if !vs.caught && vs.hasDone && show.Problem == nil {
		show, at = vs.done, vs.doneAt
	}
	cs := console.ChainState{Head: head.Seq, Verified: show.Events, Problem: show.Problem}
	if vs.caught || vs.hasDone {
		cs.VerifiedAt = at
	}
	if len(cps) > 0 {
		last := cps[len(cps)-1]
		cs.LastCheckpoint = &last
		cs.Authenticated = last.Authentic(keys)
	}
	if b.o.File != nil {
		st := console.SinkState{Name: "file", Shipped: head.Seq}
		if err := b.o.File.Err(); err != nil {
			st.Err = "failed: accesses are refused until it is reopened"
		}
		cs.Sinks = append(cs.Sinks, st)
	}
	if b.o.KafkaTopic != "" {
		cur, err := b.st.AuditCursor(ctx, kafka.CursorName(b.o.KafkaTopic))
		st := console.SinkState{Name: "kafka " + b.o.KafkaTopic, Shipped: cur, Lag: head.Seq - cur}
		if err != nil {
			st.Err = "cursor unreadable"
		}
		cs.Sinks = append(cs.Sinks, st)
	}
	return cs, nil
}

// QueryAudit implements console.Audit, paged in the store.
func (b *Backend) QueryAudit(ctx context.Context, who console.Identity, q console.AuditQuery) (console.AuditPage, error) {
	if err := b.authorize(ctx, who, console.ActAudit, "audit-query", ""); err != nil {
		return console.AuditPage{}, err
	}
	if q.Limit <= 0 {
		q.Limit = console.DefaultPageSize
	}
	q.Limit = min(q.Limit, 1000)
	pg, err := b.st.AuditPage(ctx, store.AuditPageQuery{Secret: q.Secret, Service: q.Identity, Action: q.Action, Outcome: q.Outcome,
		Since: q.Since, Until: q.Until, Before: q.Before, Limit: q.Limit, Window: b.o.AuditWindow})
	if err != nil {
		return console.AuditPage{}, err
	}
	return console.AuditPage{Events: pg.Events, Next: pg.Next, LookedTo: pg.LookedTo}, nil
}
