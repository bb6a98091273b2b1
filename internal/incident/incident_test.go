package incident

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func states(inc *Incident, now time.Time) map[string]string {
	m := map[string]string{}
	for _, s := range inc.Status(now) {
		m[s.Name] = s.State
	}
	return m
}

func TestClock(t *testing.T) {
	inc := Open(NewID(t0), "db/pass", 3, "leaked in a ticket", "alice", t0)
	if !strings.HasPrefix(inc.ID, "INC-20260301-") || len(inc.ID) != len("INC-20260301-")+6 {
		t.Fatalf("id %q", inc.ID)
	}
	s := states(inc, t0.Add(30*time.Minute))
	if s[StepRevoke] != Met || s[StepNewSecret] != Due || s[StepReview] != Due {
		t.Fatalf("at 30m: %v", s)
	}
	if inc.AnyMissed(t0.Add(30 * time.Minute)) {
		t.Fatal("missed at 30m")
	}
	// 2 hours in, no new secret: missed.
	if s := states(inc, t0.Add(2*time.Hour)); s[StepNewSecret] != Missed || s[StepAuditLogs] != Due {
		t.Fatalf("at 2h: %v", s)
	}
	// Done late is still missed; done in time is met.
	inc.MarkDone(StepNewSecret, t0.Add(90*time.Minute))
	inc.MarkDone(StepAuditLogs, t0.Add(3*time.Hour))
	s = states(inc, t0.Add(5*time.Hour))
	if s[StepNewSecret] != Missed || s[StepAuditLogs] != Met || s[StepReport] != Due {
		t.Fatalf("at 5h: %v", s)
	}
	for _, st := range inc.Status(t0.Add(5 * time.Hour)) {
		if st.Name == StepReport && st.Left != 19*time.Hour {
			t.Fatalf("report time left %s", st.Left)
		}
	}
	// Marking twice keeps the first time.
	inc.MarkDone(StepAuditLogs, t0.Add(10*time.Hour))
	if inc.Step(StepAuditLogs).Done != t0.Add(3*time.Hour) {
		t.Fatal("MarkDone moved a done step")
	}
	if err := inc.Close("rotated; added scanning to CI", t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := inc.Close("again", t0.Add(49*time.Hour)); err != ErrClosed {
		t.Fatalf("second close: %v", err)
	}
	if s := states(inc, t0.Add(30*24*time.Hour)); s[StepReview] != Met || s[StepReport] != Missed {
		t.Fatalf("after close: %v", s)
	}
}

func ev(seq int64, at time.Duration, svc, action string, version int, outcome string) audit.Entry {
	return audit.Entry{Seq: seq, Event: audit.Event{Time: t0.Add(at), Service: svc, Actor: "acc-" + svc, Action: action,
		Secret: "db/pass", Version: version, Outcome: outcome}}
}

func TestReportFindsServicesHoldingTheOldVersion(t *testing.T) {
	inc := Open("INC-1", "db/pass", 3, "leak | with pipe", "alice", t0.Add(10*time.Hour))
	es := []audit.Entry{
		ev(1, 0, "", "write", 3, audit.Success),
		ev(2, time.Hour, "api", "read", 3, audit.Success),
		ev(3, 2*time.Hour, "worker", "read", 3, audit.Success),
		ev(4, 3*time.Hour, "intruder", "read", 0, audit.Failure),
		ev(5, 11*time.Hour, "", "write", 4, audit.Success),
		ev(6, 12*time.Hour, "api", "read", 4, audit.Success),
		ev(7, 12*time.Hour, "batch", "read", 4, audit.Success),
		{Seq: 8, Event: audit.Event{Time: t0.Add(12 * time.Hour), Service: "api", Action: "read", Secret: "other", Version: 1, Outcome: audit.Success}},
	}
	es[3].Reason = "denied"
	r := BuildReport(inc, es, t0, t0.Add(13*time.Hour))
	if len(r.Accesses) != 7 {
		t.Fatalf("%d accesses, want 7 (other secrets excluded)", len(r.Accesses))
	}
	if len(r.StillHoldOld) != 1 || r.StillHoldOld[0] != "worker" {
		t.Fatalf("still hold old: %v", r.StillHoldOld)
	}
	for _, s := range r.Services {
		if s.Service == "intruder" && (s.Failures != 1 || s.Successes != 0 || s.HoldsOld) {
			t.Fatalf("intruder: %+v", s)
		}
		if s.Service == "batch" && s.HoldsOld {
			t.Fatal("a service that only read the new version holds the old one")
		}
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{"# Incident INC-1", "| worker |", "**yes**", `leak \| with pipe`, "denied", "Still holding version 3 or older: worker."} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// A window excludes earlier accesses.
	r = BuildReport(inc, es, t0.Add(11*time.Hour), t0.Add(13*time.Hour))
	if len(r.Accesses) != 3 || len(r.StillHoldOld) != 0 {
		t.Fatalf("windowed: %d accesses, holders %v", len(r.Accesses), r.StillHoldOld)
	}
}
