package secrets

import (
	"context"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// ActionScanKnown is the audit action of decrypting every version for scan
// or mask: one event per run, with counts, never values.
const ActionScanKnown = "scan-known-values"

// KnownValues returns every current and past value of every stored secret
// that ring decrypts, for the scanner's exact detection and masking:
// deleted secrets and compromised versions included (they are exactly what
// must not turn up anywhere); destroyed versions have no value left. It is
// the one place where the scanner meets the store. Versions the keys cannot
// open (a retired key, a bad row binding) are counted in unreadable. The
// run is recorded with rec as one event with the counts; when it cannot be
// recorded, no value is returned.
func KnownValues(ctx context.Context, st store.Versions, ring *fernet.Ring, rec audit.Recorder) (vals []scan.KnownValue, unreadable int, err error) {
	err = st.WalkVersions(ctx, 256, func(vs []store.Version) error {
		for _, v := range vs {
			if v.Destroyed() || v.Token == "" {
				continue
			}
			k := ring.Key(v.KeyID)
			if k == nil || !CheckBinding(k, v.Secret, v.Version, v.KeyID, v.Token, v.Binding) {
				unreadable++
				continue
			}
			pt, err := k.Decrypt([]byte(v.Token))
			if err != nil {
				unreadable++
				continue
			}
			vals = append(vals, scan.KnownValue{Name: v.Secret, Version: v.Version, Value: pt})
		}
		return nil
	})
	ev := audit.Event{Action: ActionScanKnown, Outcome: audit.Success,
		Detail: fmt.Sprintf("%d versions decrypted for scan or mask, %d not decryptable", len(vals), unreadable)}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, "store read failed"
	}
	if rerr := rec.Record(ctx, audit.Stamp(ctx, ev)); rerr != nil {
		return nil, 0, fmt.Errorf("%w: %v", audit.ErrNotRecorded, rerr)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading the store for known values: %w", err)
	}
	return vals, unreadable, nil
}

// KnownScanner returns a scanner that finds, besides what its rules find,
// every value KnownValues returns. warn is told, by number and name only,
// of the versions the keys do not open and of the secrets whose value is
// too short to be searched for.
func KnownScanner(ctx context.Context, st store.Versions, ring *fernet.Ring, rec audit.Recorder, warn func(string)) (*scan.Scanner, error) {
	vals, unreadable, err := KnownValues(ctx, st, ring, rec)
	if err != nil {
		return nil, err
	}
	if unreadable > 0 {
		warn(fmt.Sprintf("%d secret versions do not decrypt under the loaded keys and are not searched for", unreadable))
	}
	if len(vals) == 0 {
		return scan.New(nil), nil
	}
	k := scan.NewKnownSet(vals)
	for _, name := range k.Skipped() {
		warn(fmt.Sprintf("secret %s has a value shorter than %d bytes; it is not searched for", name, scan.MinKnownLength))
	}
	return scan.New(k), nil
}
