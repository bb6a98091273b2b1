package scan

import "sync/atomic"

// workCounter, when set (by tests only), adds up the bytes the matchers
// look at around keyword hits, so that a test can check that the work
// grows linearly with the input without timing anything.
var workCounter *atomic.Int64

func countWork(n int) {
	if c := workCounter; c != nil {
		c.Add(int64(n))
	}
}
