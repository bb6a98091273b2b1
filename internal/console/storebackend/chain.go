package consoletest

import (
	"context"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/console"
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
	head, err := b.DB.AuditHead(ctx)
	if err != nil {
		return console.ChainState{}, err
	}
	cps, err := b.DB.AuditCheckpoints(ctx)
	if err != nil {
		return console.ChainState{}, err
	}
	keys := audit.MACKeys(b.Ring)
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
		es, err := b.DB.AuditAfter(ctx, res.Head.Seq, verifyBatch)
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
	if b.File != nil {
		st := console.SinkState{Name: "file", Shipped: head.Seq}
		if err := b.File.Err(); err != nil {
			st.Err = "failed: accesses are refused until it is reopened"
		}
		cs.Sinks = append(cs.Sinks, st)
	}
	if b.KafkaTopic != "" {
		cur, err := b.DB.AuditCursor(ctx, kafka.CursorName(b.KafkaTopic))
		st := console.SinkState{Name: "kafka " + b.KafkaTopic, Shipped: cur, Lag: head.Seq - cur}
		if err != nil {
			st.Err = "cursor unreadable"
		}
		cs.Sinks = append(cs.Sinks, st)
	}
	return cs, nil
}
