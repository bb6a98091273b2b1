package secrets

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// secretJSON is one secret in list --format json: metadata, never a value.
type secretJSON struct {
	Name           string     `json:"name"`
	Version        int        `json:"version"`
	Class          string     `json:"class"`
	Description    string     `json:"description,omitempty"`
	Owner          string     `json:"owner,omitempty"`
	Env            string     `json:"env,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RotationPeriod string     `json:"rotation_period,omitempty"`
	RotationDue    *time.Time `json:"rotation_due,omitempty"`
	Overdue        bool       `json:"overdue,omitempty"`
	Deleted        bool       `json:"deleted,omitempty"`
}

func toSecretJSON(s store.Secret, now time.Time) secretJSON {
	j := secretJSON{Name: s.Name, Version: s.CurrentVersion, Class: s.Class, Description: s.Description, Owner: s.Owner,
		Env: s.EnvName, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Deleted: s.Deleted()}
	if s.RotationPeriod > 0 {
		j.RotationPeriod = formatPeriod(s.RotationPeriod)
		due := s.UpdatedAt.Add(s.RotationPeriod)
		j.RotationDue = &due
		j.Overdue = now.After(due)
	}
	return j
}

func formatPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// age renders a duration compactly: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// WriteList writes secrets' metadata, never a value, as `list` shows them:
// format "json" (an array of objects) or a table, judging rotation at now.
func WriteList(w io.Writer, list []store.Secret, format string, now time.Time) error {
	if format == "json" {
		out := make([]secretJSON, 0, len(list))
		for _, s := range list {
			out = append(out, toSecretJSON(s, now))
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCLASS\tAGE\tROTATION DUE")
	for _, s := range list {
		due := "-"
		if s.RotationPeriod > 0 {
			d := s.UpdatedAt.Add(s.RotationPeriod)
			if now.After(d) {
				due = "overdue since " + d.Format("2006-01-02")
			} else {
				due = d.Format("2006-01-02")
			}
		}
		name := s.Name
		if s.Deleted() {
			name += " (deleted)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", name, s.CurrentVersion, s.Class, age(now.Sub(s.UpdatedAt)), due)
	}
	return tw.Flush()
}

// versionJSON is one version in history --format json.
type versionJSON struct {
	Version       int        `json:"version"`
	CreatedAt     time.Time  `json:"created_at"`
	Actor         string     `json:"actor,omitempty"`
	KeyID         string     `json:"key_id"`
	Current       bool       `json:"current"`
	DestroyedAt   *time.Time `json:"destroyed_at,omitempty"`
	CompromisedAt *time.Time `json:"compromised_at,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// WriteHistory writes the versions of sec as `history` shows them: format
// "json" (an array of objects) or a table.
func WriteHistory(w io.Writer, sec store.Secret, vs []store.Version, format string) error {
	if format == "json" {
		out := make([]versionJSON, 0, len(vs))
		for _, v := range vs {
			out = append(out, versionJSON{Version: v.Version, CreatedAt: v.CreatedAt, Actor: v.Actor, KeyID: v.KeyID,
				Current: v.Version == sec.CurrentVersion, DestroyedAt: timePtr(v.DestroyedAt), CompromisedAt: timePtr(v.CompromisedAt)})
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tACTOR\tKEY\tSTATE")
	for _, v := range vs {
		state := "live"
		switch {
		case v.Destroyed():
			state = "destroyed"
		case v.Compromised():
			state = "compromised"
		}
		if v.Version == sec.CurrentVersion {
			state += ", current"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.CreatedAt.Format(time.RFC3339), v.Actor, v.KeyID, state)
	}
	return tw.Flush()
}

// WriteText writes the report as `verify` shows it: the counts, a table by
// key ID, every failure by name and version, and the verdict.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "versions: %d, passed: %d, failed: %d\n", rep.Versions, rep.Passed, rep.Failed)
	fmt.Fprintf(w, "secret states: %d, failed: %d\n", rep.Secrets, rep.StatesFailed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tVERSIONS\tLOADED\tSTATE\tRETENTION")
	for _, k := range rep.Keys {
		loaded := "yes"
		if !k.Loaded {
			loaded = "NO"
		}
		ret := "-"
		if k.RetainUntil != nil {
			ret = "until " + k.RetainUntil.Format("2006-01-02")
			if k.PastRetention {
				ret = "PAST (" + k.RetainUntil.Format("2006-01-02") + ")"
			}
		}
		state := k.State
		if state == "" {
			state = "unrecorded"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", k.KeyID, k.Versions, loaded, state, ret)
	}
	tw.Flush()
	for _, f := range rep.Failures {
		if f.KeyID == "" { // a state
			fmt.Fprintf(w, "FAIL %s (state at version %d): %s\n", f.Name, f.Version, f.Reason)
			continue
		}
		fmt.Fprintf(w, "FAIL %s version %d (key %s): %s\n", f.Name, f.Version, f.KeyID, f.Reason)
	}
	if rep.Truncated {
		fmt.Fprintf(w, "(only the first %d failures are listed)\n", len(rep.Failures))
	}
	if rep.OK {
		fmt.Fprintln(w, "ok: every version and every secret's state passes")
	} else {
		fmt.Fprintln(w, "verification FAILED")
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteJSON writes v as `get --format json` prints it: the value with its
// name, version, class, key ID and time of writing. A value JSON cannot
// carry unchanged is refused (CheckText).
func (v Value) WriteJSON(w io.Writer) error {
	if err := CheckText(v.Secret.Name, v.Version.Version, v.Value.Reveal()); err != nil {
		return err
	}
	return writeJSON(w, map[string]any{
		"name":       v.Secret.Name,
		"version":    v.Version.Version,
		"value":      v.Value.Reveal(),
		"class":      v.Secret.Class,
		"key_id":     v.Version.KeyID,
		"created_at": v.Version.CreatedAt,
	})
}
