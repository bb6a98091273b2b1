package opa

import (
	"container/list"
	"sync"
	"time"
)

// lookup is how the cache answered, as the metric's label.
type lookup string

const (
	lookupHit    lookup = "hit"    // a decision OPA made within the TTL
	lookupMiss   lookup = "miss"   // none: this access makes the call
	lookupShared lookup = "shared" // a concurrent identical access is making the call: wait for it
)

// cache holds decisions by input (without request fields) for a TTL, at
// most max of them. An entry is in flight from the miss that creates it
// until its call returns; accesses that find it in flight wait for that
// call instead of making their own.
type cache struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	m     map[string]*entry
	order list.List // of *entry, oldest first: with one TTL, the first to expire
}

type entry struct {
	key     string
	done    chan struct{} // closed when dec is set
	dec     Decision
	expires time.Time
	el      *list.Element // nil once out of the cache
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, m: make(map[string]*entry)}
}

// get returns the entry for key and how it was found. On a miss the entry
// is new and in flight: the caller makes the call and calls put.
func (c *cache) get(key string, now time.Time) (*entry, lookup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		select {
		case <-e.done:
			if now.Before(e.expires) {
				return e, lookupHit
			}
			c.remove(e)
		default:
			return e, lookupShared
		}
	}
	// Drop expired entries from the front, then the oldest while full.
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*entry)
		if !e.ready() || now.Before(e.expires) {
			break
		}
		c.remove(e)
	}
	for len(c.m) >= c.max {
		c.remove(c.order.Front().Value.(*entry))
	}
	e := &entry{key: key, done: make(chan struct{})}
	e.el = c.order.PushBack(e)
	c.m[key] = e
	return e, lookupMiss
}

// put publishes the call's decision to everyone waiting on e, and keeps it
// for the TTL when OPA made it; a failure leaves the cache.
func (c *cache) put(e *entry, dec Decision, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.dec = dec
	e.expires = now.Add(c.ttl)
	if !dec.cacheable() {
		c.remove(e)
	}
	close(e.done)
}

// remove takes e out of the cache; waiters keep their pointer.
func (c *cache) remove(e *entry) {
	if e.el == nil {
		return
	}
	c.order.Remove(e.el)
	e.el = nil
	if c.m[e.key] == e {
		delete(c.m, e.key)
	}
}

func (e *entry) ready() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// len returns how many entries the cache holds, in flight included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
