package secrets

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// MaxReportedFailures bounds the failing rows a Report lists; Failed counts
// them all.
const MaxReportedFailures = 10000

// Report is the result of Verify: the policy's verify-encryption check.
type Report struct {
	Versions int64 `json:"versions"`
	Passed   int64 `json:"passed"`
	Failed   int64 `json:"failed"`
	// Secrets counts the secrets whose state was checked against its
	// state MAC and the audit chain's events; StatesFailed those that
	// failed (each also in Failures, with the current version and no key
	// ID).
	Secrets      int64       `json:"secrets"`
	StatesFailed int64       `json:"states_failed"`
	Keys         []KeyReport `json:"keys"`
	Failures     []Failure   `json:"failures"`
	Truncated    bool        `json:"failures_truncated,omitempty"`
	OK           bool        `json:"ok"`
}

// KeyReport counts the versions under one key ID.
type KeyReport struct {
	KeyID         string     `json:"key_id"`
	Versions      int64      `json:"versions"`
	Loaded        bool       `json:"loaded"`
	State         string     `json:"state,omitempty"`
	RetainUntil   *time.Time `json:"retain_until,omitempty"`
	PastRetention bool       `json:"past_retention"`
}

// Failure is one version that failed verification; it never holds a value.
type Failure struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	KeyID   string `json:"key_id"`
	Reason  string `json:"reason"`
}

// Verify checks every stored version, streaming the store in batches: the
// token is a well-formed Fernet token, it decrypts under the loaded key its
// key ID names, and its row binding holds. It checks every secret's state
// against its state MAC, and against the state the audit chain's
// successful state-changing events say it must have (an older row put
// back with its older MAC), naming a rolled-back, undeleted or
// un-compromised secret. It also flags versions under
// keys that are not loaded or are past their retention. Verify returns an
// error only when it could not run; a failing store gives a Report with OK
// false.
func (s *Service) Verify(ctx context.Context) (*Report, error) {
	rep, err := s.verify(ctx)
	ev := audit.Event{Action: ActionVerify}
	if rep != nil {
		ev.Detail = fmt.Sprintf("%d versions, %d failed; %d states, %d failed", rep.Versions, rep.Failed, rep.Secrets, rep.StatesFailed)
		if err == nil && !rep.OK {
			ev.Outcome, ev.Reason = audit.Failure, "verification failed"
			if rerr := s.record(ctx, ev); rerr != nil {
				return nil, rerr
			}
			return rep, nil
		}
	}
	if err := s.finish(ctx, ev, err); err != nil {
		return nil, err
	}
	return rep, nil
}

func (s *Service) verify(ctx context.Context) (*Report, error) {
	if err := s.needRing(); err != nil {
		return nil, err
	}
	infos, err := s.st.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]store.KeyInfo{}
	for _, k := range infos {
		known[k.ID] = k
	}
	rep := &Report{Failures: []Failure{}}
	counts := map[string]int64{}
	var mu sync.Mutex
	fail := func(f Failure) {
		mu.Lock()
		rep.Failed++
		if len(rep.Failures) < MaxReportedFailures {
			rep.Failures = append(rep.Failures, f)
		} else {
			rep.Truncated = true
		}
		mu.Unlock()
	}
	workers := runtime.GOMAXPROCS(0)
	err = s.st.WalkVersions(ctx, 2000, func(batch []store.Version) error {
		for _, v := range batch {
			counts[v.KeyID]++
		}
		rep.Versions += int64(len(batch))
		var wg sync.WaitGroup
		chunk := (len(batch) + workers - 1) / workers
		for lo := 0; lo < len(batch); lo += chunk {
			part := batch[lo:min(lo+chunk, len(batch))]
			wg.Add(1)
			go func() {
				defer wg.Done()
				bind := NewBinder()
				for _, v := range part {
					if reason := s.check(v, bind); reason != "" {
						fail(Failure{Name: v.Secret, Version: v.Version, KeyID: v.KeyID, Reason: reason})
					}
				}
			}()
		}
		wg.Wait()
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	rep.Passed = rep.Versions - rep.Failed
	if err := s.verifyStates(ctx, rep); err != nil {
		return nil, err
	}
	now := s.now()
	rep.OK = rep.Failed == 0 && rep.StatesFailed == 0
	for id, n := range counts {
		kr := KeyReport{KeyID: id, Versions: n, Loaded: s.ring.Key(id) != nil}
		if info, ok := known[id]; ok {
			kr.State = info.State
			if !info.RetainUntil.IsZero() {
				t := info.RetainUntil
				kr.RetainUntil = &t
				kr.PastRetention = now.After(t)
			}
		}
		if !kr.Loaded || kr.PastRetention {
			rep.OK = false
		}
		rep.Keys = append(rep.Keys, kr)
	}
	sort.Slice(rep.Keys, func(i, j int) bool { return rep.Keys[i].KeyID < rep.Keys[j].KeyID })
	sort.Slice(rep.Failures, func(i, j int) bool {
		a, b := rep.Failures[i], rep.Failures[j]
		return a.Name < b.Name || a.Name == b.Name && a.Version < b.Version
	})
	return rep, nil
}

// verifyStates checks the state of every secret against its state MAC,
// then against the state the audit chain's events say it must have (the
// MAC has no freshness: an older row put back with its older MAC passes
// it, but not the chain).
func (s *Service) verifyStates(ctx context.Context, rep *Report) error {
	chain, err := s.replayChain(ctx)
	if err != nil {
		return err
	}
	sealed := 0 // not asked yet
	failState := func(sec store.Secret, reason string) {
		rep.StatesFailed++
		if len(rep.Failures) < MaxReportedFailures {
			rep.Failures = append(rep.Failures, Failure{Name: sec.Name, Version: sec.CurrentVersion, Reason: reason})
		} else {
			rep.Truncated = true
		}
	}
	return s.st.WalkStates(ctx, 2000, func(batch []store.Secret) error {
		for _, sec := range batch {
			rep.Secrets++
			err := s.checkStateOnce(ctx, sec, &sealed)
			var se *StateError
			if errors.As(err, &se) {
				failState(sec, "state MAC: "+se.Reason)
			} else if err != nil {
				return err
			} else if d := chainDiff(chain[sec.Name], sec); d != "" {
				failState(sec, "audit chain: "+d)
			}
		}
		return ctx.Err()
	})
}

// check verifies one version with bind (NewBinder's) and returns why it
// fails, or "".
func (s *Service) check(v store.Version, bind func(*fernet.Key, string, int, string, string) []byte) string {
	k := s.ring.Key(v.KeyID)
	if k == nil {
		return "key " + v.KeyID + " is not loaded"
	}
	if !hmac.Equal(bind(k, v.Secret, v.Version, v.KeyID, v.Token), v.Binding) {
		return ReasonBinding
	}
	if _, err := k.Decrypt([]byte(v.Token)); err != nil {
		if _, other, err := s.ring.DecryptWithKey([]byte(v.Token)); err == nil {
			return "key ID mismatch: recorded " + v.KeyID + ", decrypts under " + other.ID()
		}
		if !wellFormed(v.Token) {
			return ReasonMalformed
		}
		return ReasonCorrupted
	}
	return ""
}

// wellFormed reports whether tok has the structure of a Fernet token:
// canonical URL-safe base64, version byte 0x80, whole AES blocks and a MAC.
func wellFormed(tok string) bool {
	raw, err := base64.URLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) < 1+8+16+16+32 || raw[0] != fernet.Version {
		return false
	}
	return (len(raw)-1-8-16-32)%16 == 0
}
