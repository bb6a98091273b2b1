// Package ratelimit slows down repeated failures: a token bucket of
// failures per key (a source address, a claimed identity) with exponential
// backoff once it is empty, in bounded memory, and with the refusals it
// makes counted so that the caller can audit them without flooding the
// audit chain.
//
// A key may fail Failures times in a burst, and then once per
// Window/Failures as the bucket refills. When a failure empties the
// bucket, the key is blocked for Window/Failures, doubled at each block
// that follows while the bucket has not filled up again, up to MaxBackoff;
// a block ends with one failure allowed, so a persistent guesser gets one
// attempt per block: 6 s, 12 s, 24 s, ... 15 min with the defaults.
// While blocked, [Limiter.Blocked] refuses it; the first refusal of each
// block is reported as such (the caller audits it), the later ones are
// counted and handed back by [Limiter.Summaries] once the block is over,
// one [Summary] per key and block.
//
// Successes are not counted and nothing here slows them: the caller
// consults the limiter only on the paths it wants to limit. A Limiter
// holds at most MaxKeys keys: a new key evicts the least recently used one
// (whose pending count is still reported). It is per process: nodes do not
// share their counts.
package ratelimit

import (
	"container/list"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits configure a Limiter. The zero Limits is Default; a negative
// Failures turns limiting off.
type Limits struct {
	Failures   int           // failures allowed in a burst, and per Window
	Window     time.Duration // the bucket refills Failures per Window
	MaxBackoff time.Duration // longest block; 0: DefaultMaxBackoff
	MaxKeys    int           // keys held; 0: DefaultMaxKeys
}

// Defaults.
const (
	DefaultFailures   = 10
	DefaultWindow     = time.Minute
	DefaultMaxBackoff = 15 * time.Minute
	DefaultMaxKeys    = 10_000
)

// Default is 10 failures a minute, blocks from 6 s doubling to 15 min.
var Default = Limits{Failures: DefaultFailures, Window: DefaultWindow}

// Off reports whether l limits nothing.
func (l Limits) Off() bool { return l.Failures < 0 }

// Disabled is Limits that limit nothing.
var Disabled = Limits{Failures: -1}

// String is the form Parse reads: "10/1m0s", or "off".
func (l Limits) String() string {
	if l.Off() {
		return "off"
	}
	if l.Failures == 0 {
		l = Default
	}
	return strconv.Itoa(l.Failures) + "/" + l.Window.String()
}

// Parse reads "N/DURATION" (N failures per DURATION, e.g. "10/1m"), or
// "off" (or "0").
func Parse(s string) (Limits, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Disabled, nil
	}
	n, d, ok := strings.Cut(s, "/")
	f, err1 := strconv.Atoi(n)
	w, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || f <= 0 || f > 1_000_000 || w <= 0 || w > 24*time.Hour {
		return Limits{}, fmt.Errorf("want N/DURATION (N failures per DURATION, such as 10/1m), or off")
	}
	return Limits{Failures: f, Window: w}, nil
}

// Summary counts the refusals of one key during one block, after the
// first (which the caller was told of by Blocked).
type Summary struct {
	Key         string
	Refused     int
	First, Last time.Time // of the counted refusals
}

type entry struct {
	key     string
	tokens  float64
	last    time.Time // of the bucket's last refill
	until   time.Time // blocked until
	level   int       // blocks since the bucket was last full
	told    bool      // the first refusal of the block was reported
	refused int       // refusals counted in this block
	first   time.Time
	lastRef time.Time
	elem    *list.Element
}

// Limiter counts failures per key. It is safe for concurrent use.
type Limiter struct {
	l       Limits
	base    time.Duration
	mu      sync.Mutex
	m       map[string]*entry
	lru     *list.List // front: most recently used
	pending []Summary  // of evicted keys
	due     time.Time  // no block with counted refusals ends before
}

// New returns a Limiter; nil when l is off (a nil Limiter limits nothing).
// Zero fields take the defaults.
func New(l Limits) *Limiter {
	if l.Off() {
		return nil
	}
	if l.Failures == 0 {
		l.Failures = DefaultFailures
	}
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = DefaultMaxBackoff
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	base := l.Window / time.Duration(l.Failures)
	if base <= 0 {
		base = time.Nanosecond
	}
	return &Limiter{l: l, base: base, m: map[string]*entry{}, lru: list.New()}
}

// Blocked reports how long key must still wait (0: it may try now). When
// it is blocked, first says whether this is the block's first refusal,
// which the caller records; later ones are counted for Summaries.
func (lim *Limiter) Blocked(key string, now time.Time) (wait time.Duration, first bool) {
	if lim == nil {
		return 0, false
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	e := lim.m[key]
	if e == nil || !now.Before(e.until) {
		return 0, false
	}
	lim.lru.MoveToFront(e.elem)
	if !e.told {
		e.told = true
		return e.until.Sub(now), true
	}
	if e.refused == 0 {
		e.first = now
		if lim.due.IsZero() || e.until.Before(lim.due) {
			lim.due = e.until
		}
	}
	e.refused++
	e.lastRef = now
	return e.until.Sub(now), false
}

// Fail records a failure of key and returns the block it starts (0: none).
func (lim *Limiter) Fail(key string, now time.Time) time.Duration {
	if lim == nil {
		return 0
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	e := lim.m[key]
	if e == nil {
		lim.evict(now)
		e = &entry{key: key, tokens: float64(lim.l.Failures), last: now}
		e.elem = lim.lru.PushFront(e)
		lim.m[key] = e
	} else {
		lim.lru.MoveToFront(e.elem)
		lim.refill(e, now)
	}
	if e.tokens >= float64(lim.l.Failures) && now.Sub(e.until) >= lim.l.Window {
		e.level = 0 // quiet for a window since its last block: start over
	}
	e.tokens--
	if e.tokens >= 1 {
		return 0
	}
	d := lim.l.MaxBackoff
	if e.level < 30 && lim.base<<e.level < d {
		d = lim.base << e.level
	}
	lim.flush(e) // a block still counting (a failure let through meanwhile) is over
	e.until, e.told = now.Add(d), false
	e.level++
	// The block ends with one failure allowed; the bucket refills from
	// there, so a longer block earns no more attempts than a short one.
	e.tokens, e.last = 1, e.until
	return d
}

func (lim *Limiter) refill(e *entry, now time.Time) {
	if el := now.Sub(e.last); el > 0 {
		e.tokens = min(float64(lim.l.Failures), e.tokens+float64(lim.l.Failures)*el.Seconds()/lim.l.Window.Seconds())
		e.last = now
	}
}

// flush moves e's counted refusals to pending.
func (lim *Limiter) flush(e *entry) {
	if e.refused > 0 {
		lim.pending = append(lim.pending, Summary{Key: e.key, Refused: e.refused, First: e.first, Last: e.lastRef})
		e.refused = 0
	}
}

// evict makes room for one key: it drops the least recently used key,
// reporting its counted refusals.
func (lim *Limiter) evict(now time.Time) {
	for len(lim.m) >= lim.l.MaxKeys {
		back := lim.lru.Back()
		e := back.Value.(*entry)
		lim.flush(e)
		lim.lru.Remove(back)
		delete(lim.m, e.key)
	}
	// Keys idle long enough to have a full bucket and no block are as good
	// as new: drop a few from the back on every insertion.
	for i := 0; i < 4; i++ {
		back := lim.lru.Back()
		if back == nil {
			return
		}
		e := back.Value.(*entry)
		lim.refill(e, now)
		if e.tokens < float64(lim.l.Failures) || now.Before(e.until) || e.refused > 0 {
			return
		}
		lim.lru.Remove(back)
		delete(lim.m, e.key)
	}
}

// Summaries returns, once each, the counts of refusals of blocks that are
// over at now and of evicted keys. It is cheap when there are none.
func (lim *Limiter) Summaries(now time.Time) []Summary {
	if lim == nil {
		return nil
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if !lim.due.IsZero() && !now.Before(lim.due) {
		lim.due = time.Time{}
		for _, e := range lim.m {
			if e.refused == 0 {
				continue
			}
			if !now.Before(e.until) {
				lim.flush(e)
			} else if lim.due.IsZero() || e.until.Before(lim.due) {
				lim.due = e.until
			}
		}
	}
	out := lim.pending
	lim.pending = nil
	return out
}

// Len returns how many keys the limiter holds.
func (lim *Limiter) Len() int {
	if lim == nil {
		return 0
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	return len(lim.m)
}

// Limits returns the limiter's limits.
func (lim *Limiter) Limits() Limits {
	if lim == nil {
		return Limits{}
	}
	return lim.l
}
