package audit

// Progress returns the verification so far without finishing it: the
// entries that verified in order, the head they reach, the checkpoints
// matched, and the problem found, if one is settled. Unlike Finish it
// reports no truncation (the chain may simply not have been fed yet) and
// leaves the verifier usable, so that a chain can be verified as it grows,
// batch after batch.
func (v *Verifier) Progress() Result {
	return Result{Events: v.events, Head: v.head, Checkpoints: v.matched, Unauthenticated: v.unauth, Problem: v.prob}
}

// Authentic reports whether the checkpoint's MAC verifies under one of
// keys (false when it is unsigned, its key is not among them, or its MAC
// is wrong).
func (cp Checkpoint) Authentic(keys []MACKey) bool { return cp.authentic(keys) == nil }
