package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWriteEntriesDecisionID checks that every format of audit query and
// audit tail prints OPA's decision_id, the field that joins the audit
// trail to OPA's decision log (docs/opa.md), and json and csv print it
// when it is empty too (docs/audit.md: every field, empty or not).
func TestWriteEntriesDecisionID(t *testing.T) {
	t.Parallel()
	const id = "4ca636c1-55e4-417a-b1d8-4aceb67960d1"
	es := []Entry{
		{Seq: 1, Event: Event{Time: time.Unix(0, 0), Action: "read", Secret: "llm/k", Outcome: Success, DecisionID: id}},
		{Seq: 2, Event: Event{Time: time.Unix(0, 0), Action: "read", Secret: "llm/k", Outcome: Failure, Reason: "denied"}},
	}
	write := func(format string) string {
		var b bytes.Buffer
		if err := WriteEntries(&b, es, format, true); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.String()
	}

	var objs []map[string]any
	if err := json.Unmarshal([]byte(write("json")), &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0]["decision_id"] != id {
		t.Errorf("json: %v", objs)
	}
	if v, ok := objs[1]["decision_id"]; !ok || v != "" {
		t.Errorf("json: an empty decision_id is left out: %v", objs[1])
	}

	lines := strings.Split(strings.TrimSpace(write("jsonl")), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["decision_id"] != id {
		t.Errorf("jsonl: %q (%v)", lines[0], err)
	}

	recs, err := csv.NewReader(strings.NewReader(write("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == "decision_id" {
			col = i
		}
	}
	if col < 0 || recs[1][col] != id || recs[2][col] != "" {
		t.Errorf("csv: %q", recs)
	}

	table := write("table")
	if !strings.Contains(table, "OPA DECISION") || !strings.Contains(table, id) {
		t.Errorf("table:\n%s", table)
	}
}
