package secrets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// chainState is what the audit chain says of one secret: the state its
// successful state-changing events left. A field is known only once an
// event set it; what the chain cannot say (events before a seal, an
// import's entries, which carry no version) is never compared.
type chainState struct {
	current, currentSeq int64 // current version after the last write/rollback naming one; 0 when unknown
	deletedKnown        bool
	deleted             bool
	deletedSeq          int64
	compromised         map[int]int64 // version -> seq of its compromise event
	destroyed           map[int]int64 // version -> seq of its destroy event
}

// replayChain walks the store's audit chain once, in seq order, and
// returns per secret the state its successful write, rollback, delete,
// undelete, compromise and destroy events say it must have. It trusts the
// chain as stored: `audit verify` proves the chain itself (its keyed MACs,
// checkpoints and head), so that a database writer cannot drop or forge
// the events this replay reads.
func (s *Service) replayChain(ctx context.Context) (map[string]*chainState, error) {
	out := map[string]*chainState{}
	get := func(name string) *chainState {
		c := out[name]
		if c == nil {
			c = &chainState{}
			out[name] = c
		}
		return c
	}
	err := s.st.WalkAudit(ctx, 2000, func(batch []audit.Entry) error {
		for _, e := range batch {
			if e.Outcome != audit.Success || e.Secret == "" {
				continue
			}
			switch e.Action {
			case ActionWrite, ActionRollback:
				if e.Version > 0 {
					c := get(e.Secret)
					c.current, c.currentSeq = int64(e.Version), e.Seq
				} else if c := out[e.Secret]; c != nil {
					c.current = 0 // a write whose version the chain does not name
				}
			case ActionDelete, ActionUndelete:
				c := get(e.Secret)
				c.deletedKnown, c.deleted, c.deletedSeq = true, e.Action == ActionDelete, e.Seq
			case ActionCompromise, ActionDestroy:
				if e.Version < 1 {
					continue
				}
				c := get(e.Secret)
				m := &c.compromised
				if e.Action == ActionDestroy {
					m = &c.destroyed
				}
				if *m == nil {
					*m = map[int]int64{}
				}
				if _, ok := (*m)[e.Version]; !ok {
					(*m)[e.Version] = e.Seq
				}
			}
		}
		return ctx.Err()
	})
	return out, err
}

// chainDiff returns how sec's stored state differs from what the chain
// says, or "" when it agrees (or the chain cannot say).
func chainDiff(c *chainState, sec store.Secret) string {
	if c == nil {
		return ""
	}
	var diffs []string
	for _, l := range []struct {
		what   string
		chain  map[int]int64
		stored []int
	}{{"compromised", c.compromised, sec.Compromised}, {"destroyed", c.destroyed, sec.Destroyed}} {
		vs := make([]int, 0, len(l.chain))
		for v := range l.chain {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		for _, v := range vs {
			if !slices.Contains(l.stored, v) {
				diffs = append(diffs, fmt.Sprintf("version %d marked %s at seq %d, not %s in the store", v, l.what, l.chain[v], l.what))
			}
		}
	}
	if c.deletedKnown && c.deleted != sec.Deleted() {
		if c.deleted {
			diffs = append(diffs, fmt.Sprintf("deleted at seq %d, not deleted in the store", c.deletedSeq))
		} else {
			diffs = append(diffs, fmt.Sprintf("undeleted at seq %d, deleted in the store", c.deletedSeq))
		}
	}
	if c.current > 0 && int64(sec.CurrentVersion) != c.current {
		diffs = append(diffs, fmt.Sprintf("current version %d since seq %d, %d in the store", c.current, c.currentSeq, sec.CurrentVersion))
	}
	return strings.Join(diffs, "; ")
}
