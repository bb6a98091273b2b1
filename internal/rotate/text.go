package rotate

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
)

// The rotation verbs' text reports. Each writes the summary on w and what
// to do next on hints (the CLI's stdout and stderr).

// WriteText writes rep as `key rotate` shows it.
func (rep *RotateReport) WriteText(w, hints io.Writer) {
	fmt.Fprintf(w, "new primary key:  %s\n", rep.NewKey)
	if rep.OldKey != "" {
		fmt.Fprintf(w, "old primary key:  %s (decrypt-only until %s)\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
	}
	if rep.Resumed {
		fmt.Fprintln(w, "resumed an interrupted rotation")
	}
	var n int64
	for _, id := range SortedKeys(rep.Moved) {
		n += rep.Moved[id]
		fmt.Fprintf(w, "re-encrypted:     %d versions from key %s\n", rep.Moved[id], id)
	}
	fmt.Fprintf(w, "total:            %d versions re-encrypted, %d skipped, in %s\n", n, rep.Skipped, rep.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "env file:         %s (previous kept as %s.bak)\n", rep.EnvFile, rep.EnvFile)
	fmt.Fprintln(hints, "hint: restart the services that load this env file")
}

// WriteText writes rep as `key stage` shows it, on w alone (stdout may
// carry the key): keyFile is the --key-file staged, printed whether the
// key was printed; the hint says how to stage the same key on the other
// nodes.
func (rep *StageReport) WriteText(w io.Writer, keyFile string, printed bool) {
	msg := "staged key %s in %s (pending)\n"
	if rep.Already {
		msg = "key %s is already staged in %s\n"
	}
	fmt.Fprintf(w, msg, rep.Key, rep.EnvFile)
	fmt.Fprintln(w, "hint: "+stageHint(keyFile, printed))
}

// stageHint says how to stage the same key on the other nodes: with
// --key-file, from the file given or from what --print-key printed; a key
// neither given nor printed is printed by running stage again with
// --print-key (it prints the key already staged).
func stageHint(keyFile string, printed bool) string {
	const then = ", restart each, then run 'sa01-secrets key promote' on each"
	switch {
	case keyFile != "":
		return "stage the same key on every node with --key-file " + keyFile + then
	case printed:
		return "save the printed key to a 0600 file and stage it on every node with 'sa01-secrets key stage --key-file FILE'" + then
	}
	return "the key was not printed: run 'sa01-secrets key stage --print-key' here to print the staged key (a secret), save it to a 0600 file " +
		"and stage it on every other node with 'sa01-secrets key stage --key-file FILE'" + then
}

// WriteText writes rep as `key promote` shows it.
func (rep *PromoteReport) WriteText(w, hints io.Writer) {
	fmt.Fprintf(w, "primary key in %s: %s (was %s)\n", rep.EnvFile, rep.NewKey, rep.OldKey)
	if rep.Already {
		fmt.Fprintln(w, "the store already records it active")
	} else if !rep.RetainUntil.IsZero() {
		fmt.Fprintf(w, "key %s is decrypt-only until %s\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
	}
	fmt.Fprintln(hints, "hint: restart this node's services; once every node is promoted, run 'sa01-secrets reencrypt'")
}

// WriteText writes rep as `key retire --env-file envFile` shows it;
// without an env file the hint says to remove the key from the nodes'.
func (rep *RetireReport) WriteText(w, hints io.Writer, envFile string) {
	if rep.Already {
		fmt.Fprintf(w, "key %s was already retired\n", rep.Key)
	} else {
		fmt.Fprintf(w, "key %s retired\n", rep.Key)
	}
	if rep.RemovedFromEnv {
		fmt.Fprintf(w, "removed from %s\n", envFile)
	} else if envFile == "" {
		fmt.Fprintln(hints, "hint: remove it from "+config.EnvFernetPreviousKeys+" on every node (key retire --env-file FILE does it)")
	}
	if rep.Versions > 0 {
		fmt.Fprintf(hints, "sa01-secrets: warning: %d versions under key %s can no longer be decrypted once it is removed\n", rep.Versions, rep.Key)
	}
}

// WriteText writes res as `reencrypt --targets` shows it: a line per
// target.
func (res *TargetsResult) WriteText(w io.Writer) {
	for _, t := range res.Results {
		fmt.Fprintf(w, "target %s: %d tokens re-encrypted to key %s", t.Target, t.MovedTotal(), res.Target)
		for _, id := range slices.Sorted(maps.Keys(t.Moved)) {
			fmt.Fprintf(w, " (%d from key %s)", t.Moved[id], id)
		}
		fmt.Fprintf(w, ", %d skipped (changed meanwhile, left to the application), %d plaintext, %d unreadable, in %.1fs\n",
			t.Skipped, t.Plaintext, t.Unreadable, t.Seconds)
	}
}

// MarshalJSON writes r in its JSON form (JSON).
func (r *Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.JSON()) }

// WriteFailures writes a line per version res could not re-encrypt, as
// `reencrypt` reports them (on stderr, in either format).
func (res *Result) WriteFailures(w io.Writer) {
	for _, fl := range res.Failures {
		fmt.Fprintf(w, "sa01-secrets: %s version %d (key %s): %s\n", fl.Name, fl.Version, fl.KeyID, fl.Reason)
	}
}
