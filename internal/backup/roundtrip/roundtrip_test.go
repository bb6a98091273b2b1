// Package roundtrip_test runs backup, restore and migrate on real stores
// (SQLite, and PostgreSQL when SA01_TEST_DB_DSN is set). It is apart from
// package backup so that the backup parser's fuzz target does not link a
// database driver.
package roundtrip_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

var ctx = context.Background()

// keys: k1 the old key, k2 the primary after a rotation.
var k1, k2 = fernet.GenerateKey(), fernet.GenerateKey()

func ring(t testing.TB, keys ...*fernet.Key) *fernet.Ring {
	r, err := fernet.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openSQLite(t testing.TB) store.Store {
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t testing.TB) store.Store { return pgtest.Open(t) }

var drivers = []struct {
	name string
	open func(testing.TB) store.Store
}{{"sqlite", openSQLite}, {"postgres", openPostgres}}

// recorder records into st's chain, checkpointed under r's primary key.
// recorder is st's keyed chain, under the audit key r opens (made when st
// has none).
func recorder(t testing.TB, st store.Store, r *fernet.Ring) audit.Recorder {
	key, err := audit.LoadKey(context.Background(), st, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The recorder serve and the CLI use: a write commits with its event,
	// so a backup's one snapshot holds both or neither. Its bound is
	// generous: on a busy shared database an append may take longer than
	// audit.DefaultTimeout, which would refuse an access these tests need.
	return audit.NewStoreRecorder(st, key, nil, recordBound, nil)
}

// recordBound bounds how long an access of these tests waits for its event.
const recordBound = time.Minute

// opener is recorder, opened once a restore has loaded st.
func opener(t testing.TB, st store.Store, r *fernet.Ring) backup.OpenRecorder {
	return func(context.Context) (audit.Recorder, error) { return recorder(t, st, r), nil }
}

// fill gives st a bit of everything: versions under two keys, a deleted
// secret, a destroyed and a compromised version, key records, a token
// record, an incident, audit events with checkpoints and a publisher's
// cursor. It returns every live value by name and version.
func fill(t testing.TB, st store.Store) map[string]string {
	values := map[string]string{}
	old := secrets.New(st, ring(t, k1), recorder(t, st, ring(t, k1)), nil)
	for i := range 20 {
		name := fmt.Sprintf("app/s%02d", i)
		for v := 1; v <= 2; v++ {
			val := fmt.Sprintf("value %d of %s", v, name)
			if _, err := old.Put(ctx, name, sensitive.New(val), secrets.PutOptions{Class: store.ClassAPIKey, Owner: "team"}); err != nil {
				t.Fatal(err)
			}
			values[fmt.Sprintf("%s@%d", name, v)] = val
		}
	}
	// k2 becomes the store's active key and k1 a retained one, as a rotation
	// leaves them: a write under a key the store does not expect is refused
	at := time.Now().UTC().Truncate(time.Microsecond)
	for _, k := range []store.KeyInfo{
		{ID: k1.ID(), State: store.KeyDecryptOnly, CreatedAt: at, DeactivatedAt: at},
		{ID: k2.ID(), State: store.KeyActive, CreatedAt: at, ActivatedAt: at},
	} {
		if err := st.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	svc := secrets.New(st, ring(t, k2, k1), recorder(t, st, ring(t, k2, k1)), nil)
	for i := range 5 {
		name := fmt.Sprintf("app/s%02d", i)
		val := "new " + name
		if _, err := svc.Put(ctx, name, sensitive.New(val), secrets.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		values[name+"@3"] = val
		if _, err := svc.Get(ctx, name, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Delete(ctx, "app/s19"); err != nil {
		t.Fatal(err)
	}
	delete(values, "app/s19@1")
	delete(values, "app/s19@2")
	if err := svc.Destroy(ctx, "app/s18", 1); err != nil {
		t.Fatal(err)
	}
	delete(values, "app/s18@1")
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := svc.MarkCompromised(ctx, "app/s17", 2, "incident i-test"); err != nil {
		t.Fatal(err)
	}
	delete(values, "app/s17@2")
	if err := st.CreateToken(ctx, token.Record{Accessor: "acc_0123456789abcdef", Hash: [32]byte{1, 2, 3}, Service: "gateway",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiry: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	inc := incident.Open(incident.NewID(now), "app/s17", 2, "leaked in a log", "alice", now)
	if err := st.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAuditCursor(ctx, "kafka:sa01.audit", 3); err != nil {
		t.Fatal(err)
	}
	return values
}

// people are st's identities: the first operator, a service, and a
// revoked one; it returns a live credential of each kind and the revoked
// identity's.
type people struct{ admin, gateway, revoked sensitive.String }

func addIdentities(t testing.TB, st store.Store) people {
	m := identity.NewManager(st.(identity.Store), identity.Options{})
	admin, err := m.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := m.Add(ctx, "gateway", identity.AddOptions{Kind: identity.Service})
	if err != nil {
		t.Fatal(err)
	}
	old, err := m.Add(ctx, "bob", identity.AddOptions{Kind: identity.Operator, Role: identity.Auditor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Revoke(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	return people{admin.Credential, gw.Credential, old.Credential}
}

// loginsHold checks that the credentials of p log in to st as before the
// backup: the live ones as their identity, the revoked one not at all.
func loginsHold(t *testing.T, st store.Store, p people) {
	t.Helper()
	m := identity.NewManager(st.(identity.Store), identity.Options{})
	for cred, want := range map[*sensitive.String]string{&p.admin: "operator:" + identity.FirstOperator, &p.gateway: "service:gateway"} {
		id, _, err := m.Authenticate(ctx, *cred)
		if err != nil || id.Actor() != want {
			t.Fatalf("a restored credential of %s: %v, %v", want, id.Actor(), err)
		}
	}
	if _, _, err := m.Authenticate(ctx, p.revoked); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("a revoked credential after the restore: %v, want ErrRevoked", err)
	}
}

// dump is every row of a store, as JSON, by backup section.
func dump(t testing.TB, st store.Store) map[string][]string {
	sn, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	out := map[string][]string{}
	for _, err := range []error{
		sn.Keys(ctx, collect[store.KeyInfo](out, backup.SectionKeys)),
		sn.Secrets(ctx, collect[store.Secret](out, backup.SectionSecrets)),
		sn.Versions(ctx, collect[store.Version](out, backup.SectionVersions)),
		sn.Tokens(ctx, collect[token.Record](out, backup.SectionTokens)),
		sn.Identities(ctx, collect[identity.Identity](out, backup.SectionIdentities)),
		sn.Credentials(ctx, collect[identity.Credential](out, backup.SectionCredentials)),
		sn.Incidents(ctx, collect[*incident.Incident](out, backup.SectionIncidents)),
		sn.AuditCheckpoints(ctx, collect[audit.Checkpoint](out, backup.SectionAuditCheckpoints)),
		sn.AuditEvents(ctx, collect[audit.Entry](out, backup.SectionAuditEvents)),
		sn.AuditCursors(ctx, collect[store.AuditCursor](out, backup.SectionAuditCursors)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func collect[T any](out map[string][]string, section string) func([]T) error {
	out[section] = []string{}
	return func(rows []T) error {
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			out[section] = append(out[section], string(b))
		}
		return nil
	}
}

// sameStore checks that dst holds src's rows, plus the restore's event
// (and verify's) after src's chain, and a checkpoint of it.
func sameStore(t *testing.T, src, dst store.Store, values map[string]string, r *fernet.Ring) {
	t.Helper()
	a, b := dump(t, src), dump(t, dst)
	for _, sec := range backup.Sections {
		x, y := a[sec], b[sec]
		switch sec {
		case backup.SectionAuditEvents, backup.SectionAuditCheckpoints:
			if len(y) < len(x) {
				t.Fatalf("%s: %d rows, want at least %d", sec, len(y), len(x))
			}
			y = y[:len(x)]
		}
		if fmt.Sprint(x) != fmt.Sprint(y) {
			t.Fatalf("section %s differs:\nsource   %v\nrestored %v", sec, x, y)
		}
	}
	if n := len(b[backup.SectionAuditEvents]) - len(a[backup.SectionAuditEvents]); n < 2 {
		t.Fatalf("the restored chain has %d events past the source's; want the restore's and verify's", n)
	}
	svc := secrets.New(dst, r, audit.Discard{}, nil)
	for key, want := range values {
		var name string
		var v int
		fmt.Sscanf(key[len(key)-1:], "%d", &v)
		name = key[:len(key)-2]
		got, err := svc.Get(ctx, name, v)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got.Value.Reveal() != want {
			t.Fatalf("%s: the restored value differs", key)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	for _, from := range drivers {
		for _, to := range drivers {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				src := from.open(t)
				values := fill(t, src)
				who := addIdentities(t, src)
				r := ring(t, k2, k1)
				// An access OPA decided: its decision_id is in the chain.
				if err := recorder(t, src, r).Record(ctx, audit.Event{Action: "read", Secret: "app/db", Outcome: audit.Success,
					DecisionID: "decision-4711"}); err != nil {
					t.Fatal(err)
				}
				srcKey, err := audit.LoadKey(ctx, src, r, nil)
				if err != nil {
					t.Fatal(err)
				}
				srcWraps, _ := src.AuditKeys(ctx)
				var buf bytes.Buffer
				sum, err := backup.Write(ctx, src, &buf, backup.WriteOptions{Key: k2, Software: "test", Source: from.name})
				if err != nil {
					t.Fatal(err)
				}
				if !sum.Authenticated || sum.KeyID != k2.ID() {
					t.Fatalf("summary %+v: want authenticated under k2", sum)
				}
				if bytes.Contains(buf.Bytes(), []byte("value 1 of")) || bytes.Contains(buf.Bytes(), []byte(k1.Encode())) ||
					bytes.Contains(buf.Bytes(), []byte(k2.Encode())) {
					t.Fatal("the backup holds a plaintext value or a key")
				}
				if s, ok := sum.Section(backup.SectionAuditKeys); !ok || s.Rows != int64(len(srcWraps)) || len(srcWraps) == 0 {
					t.Fatalf("audit_keys section %+v (%v), want %d wrappings", s, ok, len(srcWraps))
				}
				if bytes.Contains(buf.Bytes(), srcKey.Key[:]) || bytes.Contains(buf.Bytes(), []byte(hex.EncodeToString(srcKey.Key[:]))) ||
					bytes.Contains(buf.Bytes(), []byte(base64.StdEncoding.EncodeToString(srcKey.Key[:]))) {
					t.Fatal("the backup holds the audit key in plaintext")
				}
				dst := to.open(t)
				rep, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst, opener(t, dst, r), backup.Options{Ring: r})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() {
					t.Fatalf("restored store does not verify: %+v %+v", rep.Store, rep.Audit)
				}
				sameStore(t, src, dst, values, r)
				loginsHold(t, dst, who)
				// The same wrappings, so the chain verifies under the source's
				// audit key, the restore's event included; decision_id kept.
				dstWraps, _ := dst.AuditKeys(ctx)
				if !reflect.DeepEqual(dstWraps, srcWraps) {
					t.Fatalf("audit keys %+v, want %+v", dstWraps, srcWraps)
				}
				if res, err := audit.VerifyStore(ctx, dst, []audit.MACKey{*srcKey}, nil); err != nil || !res.OK() || res.Unauthenticated != 0 {
					t.Fatalf("audit verify under the source's key: %+v, %v", res, err)
				}
				if es, err := dst.QueryAudit(ctx, audit.Query{Secret: "app/db", Action: "read"}); err != nil || len(es) == 0 ||
					es[len(es)-1].DecisionID != "decision-4711" {
					t.Fatalf("the OPA-decided read after restore: %+v, %v", es, err)
				}
				// The chain continued: the first event past the source's
				// head is the restore, linked to it.
				srcHead, _ := src.AuditHead(ctx)
				es, err := dst.QueryAudit(ctx, audit.Query{AfterSeq: srcHead.Seq, Limit: 1})
				if err != nil || len(es) != 1 || es[0].Action != backup.ActionRestore || es[0].Prev != srcHead.Hash {
					t.Fatalf("event after the source's head: %+v, %v", es, err)
				}
				// A second restore into the now full store is refused.
				if _, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst, opener(t, dst, r), backup.Options{Ring: r}); !errors.Is(err, store.ErrNotEmpty) {
					t.Fatalf("restore into a full store: %v, want ErrNotEmpty", err)
				}
			})
		}
	}
}

func TestMigrate(t *testing.T) {
	src := openSQLite(t)
	values := fill(t, src)
	who := addIdentities(t, src)
	r := ring(t, k2, k1)
	dst := openPostgres(t)
	var progress atomic.Int64
	rep, err := backup.Migrate(ctx, src, recorder(t, src, r), dst, opener(t, dst, r), "postgres", backup.Options{Ring: r, Source: "sqlite",
		Progress: func(backup.Progress) { progress.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("migrated store does not verify: %+v %+v", rep.Store, rep.Audit)
	}
	if progress.Load() == 0 {
		t.Fatal("no progress reported")
	}
	es, err := src.QueryAudit(ctx, audit.Query{Action: backup.ActionMigrate})
	if err != nil || len(es) != 1 || es[0].Outcome != audit.Success {
		t.Fatalf("the source records %+v, %v; want one successful migrate event", es, err)
	}
	// The source's migrate event came after the move: compare without it.
	last := es[0].Seq
	a := dump(t, src)
	a[backup.SectionAuditEvents] = a[backup.SectionAuditEvents][:last-1]
	b := dump(t, dst)
	for _, sec := range []string{backup.SectionSecrets, backup.SectionVersions, backup.SectionKeys, backup.SectionTokens,
		backup.SectionIdentities, backup.SectionCredentials, backup.SectionIncidents, backup.SectionAuditCursors} {
		if fmt.Sprint(a[sec]) != fmt.Sprint(b[sec]) {
			for i := range min(len(a[sec]), len(b[sec])) {
				if a[sec][i] != b[sec][i] {
					t.Fatalf("section %s differs after migrate:\n%v\n%v", sec, a[sec][i], b[sec][i])
				}
			}
			t.Fatalf("section %s: %d rows, want %d", sec, len(b[sec]), len(a[sec]))
		}
	}
	if fmt.Sprint(a[backup.SectionAuditEvents]) != fmt.Sprint(b[backup.SectionAuditEvents][:last-1]) {
		t.Fatal("the migrated chain does not start with the source's")
	}
	svc := secrets.New(dst, r, audit.Discard{}, nil)
	got, err := svc.Get(ctx, "app/s03", 3)
	if err != nil || got.Value.Reveal() != values["app/s03@3"] {
		t.Fatalf("app/s03@3 after migrate: %v", err)
	}
	loginsHold(t, dst, who)
}

func TestRestoreRefusesMissingKey(t *testing.T) {
	src := openSQLite(t)
	fill(t, src)
	var buf bytes.Buffer
	if _, err := backup.Write(ctx, src, &buf, backup.WriteOptions{Key: k2}); err != nil {
		t.Fatal(err)
	}
	dst := openSQLite(t)
	_, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst, opener(t, dst, ring(t, k2)), backup.Options{Ring: ring(t, k2)})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("which is not loaded")) {
		t.Fatalf("restore without k1: %v", err)
	}
	// Nothing was left behind: a restore with both keys works.
	r := ring(t, k2, k1)
	if rep, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst, opener(t, dst, r), backup.Options{Ring: r}); err != nil || !rep.OK() {
		t.Fatalf("restore with both keys after a refused one: %v", err)
	}
	// Without the MAC's key, the backup cannot be authenticated.
	dst2 := openSQLite(t)
	if _, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst2, opener(t, dst2, r), backup.Options{Ring: ring(t, k1)}); err == nil {
		t.Fatal("restore without the MAC's key succeeded")
	}
	var unauth bytes.Buffer
	if _, err := backup.Write(ctx, src, &unauth, backup.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, &unauth, dst2, opener(t, dst2, r), backup.Options{Ring: r}); err == nil {
		t.Fatal("restore of an unauthenticated backup succeeded")
	}
}

// TestBackupUnderLoad takes a backup while a writer and 16 readers work
// on the store, and restores it into a store that verifies.
func TestBackupUnderLoad(t *testing.T) {
	for _, drv := range drivers {
		t.Run(drv.name, func(t *testing.T) {
			src := drv.open(t)
			r := ring(t, k2, k1)
			svc := secrets.New(src, r, recorder(t, src, r), nil)
			for i := range 50 {
				if _, err := svc.Put(ctx, fmt.Sprintf("load/s%02d", i), sensitive.New("v0"), secrets.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var writes, reads atomic.Int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := svc.Put(ctx, fmt.Sprintf("load/s%02d", i%50), sensitive.New(fmt.Sprint("v", i)), secrets.PutOptions{}); err != nil {
						t.Error(err)
						return
					}
					writes.Add(1)
				}
			}()
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := svc.Get(ctx, fmt.Sprintf("load/s%02d", (i+g)%50), 0); err != nil {
							t.Error(err)
							return
						}
						reads.Add(1)
					}
				}()
			}
			// A worker stops at its first error: then the counts stop
			// growing, and the test ends with its error rather than wait.
			waitFor := func(w, r int64) bool {
				for writes.Load() < w || reads.Load() < r {
					if t.Failed() {
						return false
					}
					time.Sleep(5 * time.Millisecond)
				}
				return true
			}
			var buf bytes.Buffer
			var sum backup.Summary
			var err error
			if waitFor(50, 200) {
				sum, err = backup.Write(ctx, src, &buf, backup.WriteOptions{Key: k2})
				waitFor(writes.Load()+20, reads.Load()+100) // the load went on past the snapshot
			}
			close(stop)
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := openSQLite(t)
			rep, err := backup.Restore(ctx, &buf, dst, opener(t, dst, r), backup.Options{Ring: r})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("restored store does not verify: %+v %+v", rep.Store, rep.Audit)
			}
			ev, _ := sum.Section(backup.SectionAuditEvents)
			if ev.Rows < 200 {
				t.Fatalf("backup holds %d audit events; the readers made more", ev.Rows)
			}
		})
	}
}
