package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// fillChain appends n events to the store's chain the way serve does
// (batches of 100 through the keyed chain), so that checkpoints fall where
// a server's would.
func (e *auditEnv) fillChain(n int) {
	e.t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	key, err := audit.LoadKey(ctx, db, mustRing(e.t, e.vars["SA01_CRYPTO_FERNET_KEY"]), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	chain := audit.NewChain(db, key)
	for i := 0; i < n; i += 100 {
		evs := make([]audit.Event, min(100, n-i))
		for j := range evs {
			evs[j] = audit.Event{Service: "gateway", Actor: "acc-gw", Action: "read", Secret: "llm/openai_api_key",
				Version: 1, Outcome: audit.Success, Source: "10.0.0.7:4242"}
		}
		if err := chain.WriteBatch(ctx, evs); err != nil {
			e.t.Fatal(err)
		}
	}
}

// rewriteChain is an intruder's script with write access to the database
// and without the Fernet key: it deletes the event at seq del, renumbers
// and rehashes every event after it (plain SHA-256, the only hash it can
// compute), and deletes the checkpoints past del.
func (e *auditEnv) rewriteChain(del int64) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlite.Open(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	es, err := st.AuditAfter(context.Background(), 0, 1<<30)
	st.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	kept := append(es[:del-1:del-1], es[del:]...)
	head := kept[del-2].Head()
	var evs []audit.Event
	for _, x := range kept[del-1:] {
		evs = append(evs, x.Event)
	}
	relinked, err := audit.Link(head, evs)
	if err != nil {
		e.t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			e.t.Fatal(err)
		}
	}
	mustExec(`DELETE FROM audit_events WHERE seq >= ?`, del)
	mustExec(`DELETE FROM audit_checkpoints WHERE seq >= ?`, del)
	for _, x := range relinked {
		mustExec(`INSERT INTO audit_events (seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, x.Seq, x.Prev, x.Hash, x.Time.UnixNano(), x.Service, x.Actor, x.Action,
			x.Secret, x.Version, x.Outcome, x.Reason, x.RequestID, x.Source, x.Detail)
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

// TestAuditRewriteWithoutTheKeyIsCaught: one read deleted from a 3,005
// event chain, the 1,505 after it renumbered and rehashed and the
// checkpoint at 2048 deleted used to verify as intact.
func TestAuditRewriteWithoutTheKeyIsCaught(t *testing.T) {
	e := newAuditEnv(t)
	e.must("v", "put", "llm/openai_api_key")
	e.fillChain(3003)
	if out := e.must("", "audit", "verify"); !strings.Contains(out, "intact: 3006 events") {
		t.Fatalf("verify: %s", out)
	}
	e.rewriteChain(1500)
	code, out, errs := e.run("", "audit", "verify")
	if code != ExitCheckFailed || !strings.Contains(out, "edited at seq 1500") {
		t.Fatalf("a chain rewritten without the key: exit %d\n%s%s", code, out, errs)
	}
}

// TestAuditMissingCheckpointIsCaught: a checkpoint that was due and is
// gone fails the verification even when no event was touched.
func TestAuditMissingCheckpointIsCaught(t *testing.T) {
	e := newAuditEnv(t)
	e.fillChain(2100)
	e.must("", "audit", "verify")
	e.sqlExec(`DELETE FROM audit_checkpoints WHERE seq >= 1024 AND seq < 2048`)
	code, out, _ := e.run("", "audit", "verify")
	if code != ExitCheckFailed || !strings.Contains(out, "missing at seq 1024") {
		t.Fatalf("a deleted checkpoint: exit %d\n%s", code, out)
	}
}

// TestAuditAnchorCatchesACutTail: deleting every event, checkpoint and
// wrapped key leaves a chain that verifies alone (0 events), and fails
// against the head an operator kept; so does a tail cut with its
// checkpoints.
func TestAuditAnchorCatchesACutTail(t *testing.T) {
	e := newAuditEnv(t)
	for _, n := range []string{"a", "b", "c"} {
		e.must("v", "put", "app/"+n)
	}
	head := strings.TrimSpace(e.must("", "audit", "head"))
	if h, err := audit.ParseAnchor(head); err != nil || h.Seq != 5 { // init's event is seq 1, the seal of states seq 2
		t.Fatalf("audit head printed %q (%v)", head, err)
	}
	if out := e.must("", "audit", "verify", "--anchor", head); !strings.Contains(out, "anchor reached") {
		t.Fatalf("verify --anchor: %s", out)
	}

	e.sqlExec(`DELETE FROM audit_events WHERE seq = 5`)
	e.sqlExec(`DELETE FROM audit_checkpoints WHERE seq = 5`)
	code, out, _ := e.run("", "audit", "verify", "--anchor", head)
	if code != ExitCheckFailed || !strings.Contains(out, "truncated at seq 5") {
		t.Fatalf("a cut tail against the anchor: exit %d\n%s", code, out)
	}

	e.sqlExec(`DELETE FROM audit_events`)
	e.sqlExec(`DELETE FROM audit_checkpoints`)
	e.sqlExec(`DELETE FROM audit_keys`)
	if out := e.must("", "audit", "verify"); !strings.Contains(out, "intact: 0 events") {
		t.Fatalf("an emptied chain alone: %s", out)
	}
	code, out, _ = e.run("", "audit", "verify", "--anchor", head)
	if code != ExitCheckFailed || !strings.Contains(out, "truncated at seq 1") {
		t.Fatalf("an emptied chain against the anchor: exit %d\n%s", code, out)
	}
}

// TestAuditFileIsKeyedAndAnchors: a line removed from the audit file and
// the rest renumbered and rehashed breaks the file's chain; the file's
// lines carry the store's head, so the file anchors the store's chain.
func TestAuditFileIsKeyedAndAnchors(t *testing.T) {
	e := newAuditEnv(t)
	file := filepath.Join(e.dir, "audit.jsonl")
	e.vars["SA01_SECRETS_AUDIT_FILE"] = file
	e.must("v", "put", "app/a")
	for range 4 {
		e.must("", "get", "app/a")
	}
	if out := e.must("", "audit", "verify", "--anchor", file); !strings.Contains(out, "anchor reached") {
		t.Fatalf("verify --anchor FILE: %s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var es []audit.Entry
	if err := audit.ReadEntries(strings.NewReader(string(data)), func(_ int64, x audit.Entry) bool {
		es = append(es, x)
		return true
	}); err != nil || len(es) != 6 {
		t.Fatalf("%d lines, %v", len(es), err)
	}
	// The store's chain holds init's event (seq 1) before the file was set.
	if es[5].Anchor == nil || es[5].Anchor.Seq != 7 {
		t.Fatalf("the last line carries the store head %+v, want seq 7 (the head with its own event)", es[5].Anchor)
	}

	// The store's tail cut with its checkpoints: the file still holds
	// the head.
	e.sqlExec(`DELETE FROM audit_events WHERE seq >= 4`)
	e.sqlExec(`DELETE FROM audit_checkpoints WHERE seq >= 4`)
	delete(e.vars, "SA01_SECRETS_AUDIT_FILE")
	code, out, _ := e.run("", "audit", "verify", "--anchor", file)
	if code != ExitCheckFailed || !strings.Contains(out, "truncated at seq 4") {
		t.Fatalf("a cut store tail against the file: exit %d\n%s", code, out)
	}

	// Line 2 removed, the rest renumbered and rehashed without the key.
	var evs []audit.Event
	for _, x := range append(es[:1:1], es[2:]...) {
		evs = append(evs, x.Event)
	}
	relinked, err := audit.Link(audit.EmptyHead, evs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, x := range relinked {
		line, _ := audit.MarshalLine(x)
		b.Write(line)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.run("", "audit", "verify", "--file", file)
	if code != ExitCheckFailed || !strings.Contains(out, "edited at seq 1") {
		t.Fatalf("a file rewritten without the key: exit %d\n%s", code, out)
	}
}
