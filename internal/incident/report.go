package incident

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// Access is one audited access to the compromised secret.
type Access struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Service   string    `json:"service"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Version   int       `json:"version"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Source    string    `json:"source,omitempty"`
}

// ServiceAccess sums up one service's accesses in the window.
type ServiceAccess struct {
	Service     string    `json:"service"`
	Successes   int       `json:"successes"`
	Failures    int       `json:"failures"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	LastVersion int       `json:"last_version_read"` // the newest version it read successfully, 0 if none
	HoldsOld    bool      `json:"holds_old_version"`
}

// Report is the incident report.
type Report struct {
	Incident     *Incident       `json:"incident"`
	GeneratedAt  time.Time       `json:"generated_at"`
	Since        time.Time       `json:"since"`
	Until        time.Time       `json:"until"`
	Accesses     []Access        `json:"accesses"`
	Services     []ServiceAccess `json:"services"`
	StillHoldOld []string        `json:"still_hold_old_version"`
	Status       []StepStatus    `json:"status"`
}

// valueActions are the actions that hand a secret's value to the caller.
var valueActions = map[string]bool{"read": true, "export": true, "run": true}

// BuildReport builds the report of inc from the audit entries of its
// secret (other entries are ignored) in [since, now]. A service still holds
// the old version when it read the compromised version (or an older one)
// and has read no newer version since.
func BuildReport(inc *Incident, entries []audit.Entry, since, now time.Time) *Report {
	r := &Report{Incident: inc, GeneratedAt: now.UTC(), Since: since.UTC(), Until: now.UTC(),
		Accesses: []Access{}, Services: []ServiceAccess{}, StillHoldOld: []string{}}
	by := map[string]*ServiceAccess{}
	readOld := map[string]bool{}
	for _, e := range entries {
		if e.Secret != inc.Secret || e.Time.Before(since) || e.Time.After(now) || strings.HasPrefix(e.Action, "incident-") {
			continue
		}
		r.Accesses = append(r.Accesses, Access{Seq: e.Seq, Time: e.Time, Service: e.Service, Actor: e.Actor, Action: e.Action,
			Version: e.Version, Outcome: e.Outcome, Reason: e.Reason, RequestID: e.RequestID, Source: e.Source})
		name := e.Service
		if name == "" {
			name = "(local operator)"
		}
		s := by[name]
		if s == nil {
			s = &ServiceAccess{Service: name, First: e.Time}
			by[name] = s
		}
		s.Last = e.Time
		if e.Outcome != audit.Success {
			s.Failures++
			continue
		}
		s.Successes++
		if valueActions[e.Action] && e.Version > 0 {
			if e.Version <= inc.Version {
				readOld[name] = true
			}
			s.LastVersion = e.Version
		}
	}
	for name, s := range by {
		s.HoldsOld = readOld[name] && s.LastVersion <= inc.Version
		r.Services = append(r.Services, *s)
	}
	sort.Slice(r.Services, func(i, j int) bool { return r.Services[i].Service < r.Services[j].Service })
	for _, s := range r.Services {
		if s.HoldsOld {
			r.StillHoldOld = append(r.StillHoldOld, s.Service)
		}
	}
	r.Status = inc.Status(now)
	return r
}

// WriteMarkdown renders the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	inc := r.Incident
	tf := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident %s: compromise of %s version %d\n\n", inc.ID, inc.Secret, inc.Version)
	fmt.Fprintf(&b, "- Reason: %s\n- Opened: %s by %s\n", mdEscape(inc.Reason), tf(inc.OpenedAt), mdEscape(inc.OpenedBy))
	if inc.Closed() {
		fmt.Fprintf(&b, "- Closed: %s\n- Review: %s\n", tf(inc.ClosedAt), mdEscape(inc.Review))
	}
	fmt.Fprintf(&b, "- Report generated: %s\n\n", tf(r.GeneratedAt))

	b.WriteString("## Procedure\n\n| Step | Due | Done | State |\n| --- | --- | --- | --- |\n")
	for _, s := range r.Status {
		state := s.State
		if s.State == Due {
			state = fmt.Sprintf("due (%s left)", s.Left.Round(time.Minute))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Title, tf(s.Due), tf(s.Done), state)
	}

	b.WriteString("\n## Timeline\n\n")
	for _, a := range inc.Actions {
		fmt.Fprintf(&b, "- %s %s\n", tf(a.Time), mdEscape(a.What))
	}

	fmt.Fprintf(&b, "\n## Services\n\nAccesses to %s from %s to %s.\n\n", inc.Secret, tf(r.Since), tf(r.Until))
	b.WriteString("| Service | Successes | Failures | First | Last | Newest version read | Holds old version |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Services {
		holds := "no"
		if s.HoldsOld {
			holds = "**yes**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %d | %s |\n", mdEscape(s.Service), s.Successes, s.Failures, tf(s.First), tf(s.Last), s.LastVersion, holds)
	}
	if len(r.StillHoldOld) > 0 {
		fmt.Fprintf(&b, "\nStill holding version %d or older: %s.\n", inc.Version, mdEscape(strings.Join(r.StillHoldOld, ", ")))
	} else {
		b.WriteString("\nNo service still holds the compromised version.\n")
	}

	fmt.Fprintf(&b, "\n## Accesses (%d)\n\n| Time | Service | Actor | Action | Version | Outcome | Reason | Request | Source |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", len(r.Accesses))
	for _, a := range r.Accesses {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", a.Time.UTC().Format(time.RFC3339Nano),
			mdEscape(a.Service), mdEscape(a.Actor), a.Action, a.Version, a.Outcome, mdEscape(a.Reason), mdEscape(a.RequestID), mdEscape(a.Source))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a value inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
