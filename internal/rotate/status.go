package rotate

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// StatusStore is what Status reads.
type StatusStore interface {
	ListKeys(ctx context.Context) ([]store.KeyInfo, error)
	CountByKey(ctx context.Context) (map[string]int64, error)
	List(ctx context.Context, opts store.ListOptions) ([]store.Secret, error)
	History(ctx context.Context, name string) ([]store.Version, error)
}

// KeyStatus is one key's place in the schedule.
type KeyStatus struct {
	ID          string     `json:"key_id"`
	State       string     `json:"state"`
	Loaded      bool       `json:"loaded"`
	Primary     bool       `json:"primary"`
	Versions    int64      `json:"versions"`
	Created     time.Time  `json:"created_at"`
	Activated   *time.Time `json:"activated_at,omitempty"`
	Deactivated *time.Time `json:"deactivated_at,omitempty"`
	Retired     *time.Time `json:"retired_at,omitempty"`
	RetainUntil *time.Time `json:"retain_until,omitempty"`
	AgeDays     int        `json:"age_days"`            // since activation (or creation)
	RotateBy    *time.Time `json:"rotate_by,omitempty"` // the active key: activation + 90 days
	Note        string     `json:"note,omitempty"`
	Overdue     bool       `json:"overdue"`
	Problems    []string   `json:"problems,omitempty"`
}

// SecretStatus is a secret whose class has a rotation period.
type SecretStatus struct {
	Name      string    `json:"name"`
	Class     string    `json:"class"`
	Version   int       `json:"version"`
	Updated   time.Time `json:"current_version_created_at"`
	PeriodDay int       `json:"rotation_period_days"`
	DueAt     time.Time `json:"rotate_by"`
	Overdue   bool      `json:"overdue"`
}

// StatusReport is the schedule check: `status` prints it and exits 1 when
// Compliant is false.
type StatusReport struct {
	Now       time.Time      `json:"now"`
	Compliant bool           `json:"compliant"`
	Keys      []KeyStatus    `json:"keys"`
	Secrets   []SecretStatus `json:"secrets"`
	Overdue   []string       `json:"overdue"` // one line per finding, names and key IDs only
	// Pending are rotations left unfinished that are not overdue yet:
	// versions still under a decrypt-only key within its retention. One
	// line each, naming what to run.
	Pending []string `json:"pending"`
	// Credentials are identities' credentials that expire within 14 days
	// (due) or have expired (overdue), when the store keeps identities.
	Credentials []CredentialStatus `json:"credentials"`
	// Targets: the platform's own data (AddTargets), when a targets file
	// is set.
	Targets []targets.Report `json:"targets,omitempty"`
}

// CredentialStatus is a credential due for rotation: never the credential.
type CredentialStatus struct {
	Identity   string    `json:"identity"`
	Credential string    `json:"credential_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	Expired    bool      `json:"expired"`
}

// Status checks the schedule: the primary key older than RotationPeriod, a
// previous key past its retention still loaded (in ring) or still used by a
// version, a version under a key that is not loaded, and every secret whose
// current version is older than its rotation period. ring may be nil (no key
// loaded): then only the store is judged.
func Status(ctx context.Context, st StatusStore, ring *fernet.Ring, now time.Time) (*StatusReport, error) {
	now = now.UTC()
	rep := &StatusReport{Now: now, Keys: []KeyStatus{}, Secrets: []SecretStatus{}, Overdue: []string{}, Pending: []string{}}
	infos, err := st.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := st.CountByKey(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	tp := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	for _, k := range infos {
		seen[k.ID] = true
		ks := KeyStatus{ID: k.ID, State: k.State, Versions: counts[k.ID], Created: k.CreatedAt,
			Activated: tp(k.ActivatedAt), Deactivated: tp(k.DeactivatedAt), Retired: tp(k.RetiredAt),
			RetainUntil: tp(k.RetainUntil), Note: k.Note}
		if ring != nil {
			ks.Loaded = ring.Key(k.ID) != nil
			ks.Primary = ring.Primary().ID() == k.ID
		}
		since := k.CreatedAt
		if !k.ActivatedAt.IsZero() {
			since = k.ActivatedAt
		}
		ks.AgeDays = int(now.Sub(since) / (24 * time.Hour))
		problem := func(s string) {
			ks.Overdue = true
			ks.Problems = append(ks.Problems, s)
			rep.Overdue = append(rep.Overdue, "key "+k.ID+": "+s)
		}
		switch k.State {
		case store.KeyActive:
			due := since.Add(RotationPeriod)
			ks.RotateBy = &due
			if now.After(due) {
				problem("active for more than 90 days; run 'sa01-secrets key rotate'")
			}
		case store.KeyDecryptOnly, store.KeyCompromised, store.KeyRetired:
			past := !k.RetainUntil.IsZero() && now.After(k.RetainUntil)
			if k.State == store.KeyRetired || k.State == store.KeyCompromised {
				past = true
			}
			if past && ks.Versions > 0 {
				problem("still used by versions after its retention; run 'sa01-secrets reencrypt'")
			} else if ks.Versions > 0 {
				rep.Pending = append(rep.Pending, fmt.Sprintf("key %s: decrypt-only, still used by %d version(s); run 'sa01-secrets reencrypt'", k.ID, ks.Versions))
			}
			if past && ks.Loaded {
				problem("still loaded after its retention; run 'sa01-secrets key retire " + k.ID + "'")
			}
		}
		rep.Keys = append(rep.Keys, ks)
	}
	// Versions under keys the table does not know, and loaded keys it does
	// not know.
	var unknown []string
	for id := range counts {
		if !seen[id] && counts[id] > 0 {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		ks := KeyStatus{ID: id, State: "unregistered", Versions: counts[id]}
		if ring != nil {
			ks.Loaded = ring.Key(id) != nil
			ks.Primary = ring.Primary().ID() == id
		}
		rep.Keys = append(rep.Keys, ks)
	}
	for i := range rep.Keys {
		ks := &rep.Keys[i]
		if ring != nil && ks.Versions > 0 && !ks.Loaded {
			ks.Overdue = true
			msg := "versions use it but it is not loaded"
			ks.Problems = append(ks.Problems, msg)
			rep.Overdue = append(rep.Overdue, "key "+ks.ID+": "+msg)
		}
	}
	secrets, err := st.List(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		if s.RotationPeriod <= 0 || s.CurrentVersion == 0 {
			continue
		}
		hist, err := st.History(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		var cur store.Version
		for _, v := range hist {
			if v.Version == s.CurrentVersion {
				cur = v
			}
		}
		if cur.Version == 0 {
			continue
		}
		ss := SecretStatus{Name: s.Name, Class: s.Class, Version: cur.Version, Updated: cur.CreatedAt,
			PeriodDay: int(s.RotationPeriod / (24 * time.Hour)), DueAt: cur.CreatedAt.Add(s.RotationPeriod)}
		ss.Overdue = now.After(ss.DueAt)
		if ss.Overdue {
			rep.Overdue = append(rep.Overdue, fmt.Sprintf("secret %s: current version older than its %d-day rotation period; run 'sa01-secrets rotate %s'",
				s.Name, ss.PeriodDay, s.Name))
		}
		rep.Secrets = append(rep.Secrets, ss)
	}
	if ids, ok := st.(identity.Store); ok {
		due, err := identity.NewManager(ids, identity.Options{Now: func() time.Time { return now }}).Due(ctx, identity.DueWindow)
		if err != nil {
			return nil, err
		}
		rep.Credentials = []CredentialStatus{}
		for _, c := range due {
			expired := !now.Before(c.ExpiresAt)
			rep.Credentials = append(rep.Credentials, CredentialStatus{Identity: c.Identity, Credential: c.ID, ExpiresAt: c.ExpiresAt, Expired: expired})
			if expired {
				rep.Overdue = append(rep.Overdue, fmt.Sprintf("identity %s: credential %s expired on %s; run 'sa01-secrets identity rotate %s'",
					c.Identity, c.ID, c.ExpiresAt.Format("2006-01-02"), c.Identity))
			}
		}
	}
	rep.Compliant = len(rep.Overdue) == 0
	return rep, nil
}
