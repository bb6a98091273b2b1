package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
)

// Login limiting (docs/server.md, "Login rate limit"): failed logins are
// counted per source address (an IPv6 address by its /64) and per identity
// the attempt claims or whose credential it presented, in one
// ratelimit.Limiter per node. A source that failed too often is refused
// with 429 and Retry-After before its credential is read; a failure for an
// identity that failed too often is answered 429 instead of 401, but a
// valid credential always logs in, so that nobody can lock a service out
// by failing in its name. Successes are never limited.
//
// Audit: every checked failure is recorded as before; of the refusals of
// one block, the first is recorded, and the others are counted into one
// summarising event once the block is over.

const (
	reasonRateLimited = "rate limited"
	srcPrefix         = "source "
	idPrefix          = "identity "
)

// sourceKey is the limiter's key of a caller's address: an IPv4 address,
// or the /64 of an IPv6 address (one host usually holds a whole /64).
func sourceKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip != nil && ip.To4() == nil {
		return srcPrefix + (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
	}
	return srcPrefix + addr
}

// what names a limiter key in an event's detail.
func what(key string) string {
	if name, ok := strings.CutPrefix(key, idPrefix); ok {
		return "for identity " + name
	}
	return "from this address"
}

// refuseLogin answers 429 to a login of a blocked key; first says whether
// this refusal is the block's first, which is recorded (the later ones are
// counted into a summary).
func (s *Server) refuseLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, key string, wait time.Duration, first bool) {
	secs := int((wait + time.Second - 1) / time.Second)
	if first {
		_ = s.record(ctx, audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonRateLimited,
			Detail: fmt.Sprintf("too many failed logins %s: refused for %d s; further refusals are counted", what(key), secs)})
	} else {
		s.armLoginSummaries(wait)
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, r, &apiError{http.StatusTooManyRequests, CodeRateLimited,
		fmt.Sprintf("too many failed logins %s: retry after %d s", what(key), secs)})
}

// loginFailed counts a failed login of the source and, when name is a
// well-formed identity name, of that identity. It returns true when it
// answered (429: the identity is blocked); otherwise the caller records
// the failure and answers it.
func (s *Server) loginFailed(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) bool {
	now := s.now()
	s.logins.Fail(sourceKey(audit.CallerFrom(ctx).Source), now)
	if name == "" || identity.CheckName(name) != nil {
		return false
	}
	key := idPrefix + name
	if wait, first := s.logins.Blocked(key, now); wait > 0 {
		s.refuseLogin(ctx, w, r, key, wait, first)
		return true
	}
	s.logins.Fail(key, now)
	return false
}

// armLoginSummaries makes sure the counted refusals are recorded when the
// block is over, even if no login comes after it.
func (s *Server) armLoginSummaries(wait time.Duration) {
	if !s.summaryArmed.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(wait+100*time.Millisecond, func() {
		s.summaryArmed.Store(false)
		s.recordLoginSummaries(context.Background())
	})
}

// recordLoginSummaries records one event per key and block for the
// refusals counted after the block's first.
func (s *Server) recordLoginSummaries(ctx context.Context) {
	for _, sum := range s.logins.Summaries(s.now()) {
		c := audit.Caller{Source: "local"}
		if addr, ok := strings.CutPrefix(sum.Key, srcPrefix); ok {
			c.Source = addr
		}
		_ = s.record(audit.WithCaller(ctx, c), audit.Event{Action: actionLogin, Outcome: audit.Failure, Reason: reasonRateLimited,
			Detail: fmt.Sprintf("%d more logins %s refused by the rate limit from %s to %s", sum.Refused, what(sum.Key),
				sum.First.UTC().Format(time.RFC3339), sum.Last.UTC().Format(time.RFC3339))})
	}
}
