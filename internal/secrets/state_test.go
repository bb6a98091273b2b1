package secrets_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// sealedStore is a store, a service over it that records into the store's
// own chain (in the write's transaction, as serve and the CLI do), and raw,
// which runs SQL on the database as a writer without the keys.
type sealedStore struct {
	db  pairStore
	svc *secrets.Service
	raw func(t *testing.T, q string)
	lit func(b []byte) string // b as an SQL literal of the driver
	key *fernet.Key           // svc's only key
	rec audit.Recorder        // svc's recorder: the store's chain
}

// stateDrivers runs fn over SQLite, and over PostgreSQL when
// SA01_TEST_DB_DSN is set.
func stateDrivers(t *testing.T, fn func(t *testing.T, s *sealedStore)) {
	withSvc := func(t *testing.T, db pairStore, raw func(t *testing.T, q string), lit func([]byte) string) *sealedStore {
		sinks := audit.NewSinks(audit.NewChain(db, nil), nil, 0, func(err error) { t.Log(err) })
		t.Cleanup(func() { db.Close() })
		k := fernet.GenerateKey()
		return &sealedStore{db: db, svc: secrets.New(db, ring(t, k), sinks, clock), raw: raw, lit: lit, key: k, rec: sinks}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "secrets.db")
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, withSvc(t, db, func(t *testing.T, q string) {
			t.Helper()
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(q); err != nil {
				t.Fatal(err)
			}
		}, func(b []byte) string { return "X'" + hex.EncodeToString(b) + "'" }))
	})
	t.Run("postgres", func(t *testing.T) {
		cfg := pgtest.Config(t)
		db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
		if err != nil {
			t.Fatal(err)
		}
		fn(t, withSvc(t, db, func(t *testing.T, q string) {
			t.Helper()
			conn, err := pgx.ConnectConfig(context.Background(), cfg.ConnConfig.Copy())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}, func(b []byte) string { return "'\\x" + hex.EncodeToString(b) + "'::bytea" }))
	})
}

// wantStateRefused checks that get refuses name with a StateError naming
// it, whose reason contains want, and without any value in the message.
func wantStateRefused(t *testing.T, svc *secrets.Service, name, want string) {
	t.Helper()
	v, err := svc.Get(ctxAs("svc"), name, 0)
	var se *secrets.StateError
	if !errors.As(err, &se) || se.Name != name || !errors.Is(err, secrets.ErrStateTampered) {
		t.Fatalf("Get(%s) = %q, %v; want a StateError", name, v.Value.Reveal(), err)
	}
	if !strings.Contains(se.Reason, want) || !strings.Contains(err.Error(), name) {
		t.Errorf("Get(%s): %v; want a reason with %q", name, err, want)
	}
	if strings.Contains(err.Error(), "value-") {
		t.Errorf("the error reveals a value: %v", err)
	}
}

// wantReported checks that verify fails and names name with a state
// failure whose reason contains want.
func wantReported(t *testing.T, svc *secrets.Service, name, want string) {
	t.Helper()
	wantFailure(t, svc, name, "state MAC: ", want)
}

// wantFailure checks that verify fails with one state failure and names
// name with a reason that starts with prefix and contains want.
func wantFailure(t *testing.T, svc *secrets.Service, name, prefix, want string) {
	t.Helper()
	rep, err := svc.Verify(ctxAs("op"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.StatesFailed != 1 {
		t.Fatalf("verify: ok %v, %d states failed; want one: %+v", rep.OK, rep.StatesFailed, rep.Failures)
	}
	for _, f := range rep.Failures {
		if f.Name == name && strings.HasPrefix(f.Reason, prefix) && strings.Contains(f.Reason, want) {
			return
		}
	}
	t.Errorf("verify does not name %s with %q: %+v", name, want, rep.Failures)
}

func put(t *testing.T, svc *secrets.Service, name, value string) {
	t.Helper()
	if _, err := svc.Put(ctxAs("alice"), name, sensitive.New(value), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestStateRolledBackBySQL: setting current_version back by SQL made get
// return the older value and verify say ok.
func TestStateRolledBackBySQL(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "db/dsn", "value-old")
		put(t, s.svc, "db/dsn", "value-new")
		put(t, s.svc, "other", "value-other")
		s.raw(t, `UPDATE secrets SET current_version = 1 WHERE name = 'db/dsn'`)
		wantStateRefused(t, s.svc, "db/dsn", "rolled back: current version set to 1")
		wantReported(t, s.svc, "db/dsn", "rolled back")
		// an explicit read of version 1 is refused too: the state is not to be trusted
		if _, err := s.svc.Get(ctxAs("svc"), "db/dsn", 1); !errors.Is(err, secrets.ErrStateTampered) {
			t.Errorf("Get(db/dsn, 1) after the rollback: %v", err)
		}
		if v, err := s.svc.Get(ctxAs("svc"), "other", 0); err != nil || v.Value.Reveal() != "value-other" {
			t.Errorf("Get(other): %v", err)
		}
		// the refusal is audited
		es, err := s.db.QueryAudit(context.Background(), audit.Query{Secret: "db/dsn", Action: secrets.ActionRead, Failed: true})
		if err != nil || len(es) == 0 || !strings.Contains(es[len(es)-1].Reason, "state MAC") {
			t.Errorf("refused read not audited: %+v %v", es, err)
		}
		// restored as it was, it reads again
		s.raw(t, `UPDATE secrets SET current_version = 2 WHERE name = 'db/dsn'`)
		if v, err := s.svc.Get(ctxAs("svc"), "db/dsn", 0); err != nil || v.Value.Reveal() != "value-new" {
			t.Errorf("Get(db/dsn) restored: %v", err)
		}
		// a state and its MAC kept from version 1, put back together
		put(t, s.svc, "kept", "value-kept-1")
		old, err := s.db.Secret(context.Background(), "kept")
		if err != nil || len(old.StateMAC) == 0 {
			t.Fatalf("Secret(kept): %+v %v", old, err)
		}
		put(t, s.svc, "kept", "value-kept-2")
		s.raw(t, `UPDATE secrets SET current_version = 1, state_mac = `+s.lit(old.StateMAC)+` WHERE name = 'kept'`)
		wantStateRefused(t, s.svc, "kept", "and version 2 exists")
	})
}

// TestStateUndeletedBySQL: clearing deleted_at by SQL served a deleted
// secret again.
func TestStateUndeletedBySQL(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "gone", "value-gone")
		if err := s.svc.Delete(ctxAs("alice"), "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Get(ctxAs("svc"), "gone", 0); !errors.Is(err, store.ErrDeleted) {
			t.Fatalf("Get after delete: %v", err)
		}
		s.raw(t, `UPDATE secrets SET deleted_at = NULL WHERE name = 'gone'`)
		wantStateRefused(t, s.svc, "gone", "undeleted outside sa01-secrets")
		wantReported(t, s.svc, "gone", "undeleted")
		// and a real undelete reads again
		s.raw(t, `UPDATE secrets SET deleted_at = updated_at WHERE name = 'gone'`)
		if err := s.svc.Undelete(ctxAs("alice"), "gone"); err != nil {
			t.Fatal(err)
		}
		if v, err := s.svc.Get(ctxAs("svc"), "gone", 0); err != nil || v.Value.Reveal() != "value-gone" {
			t.Errorf("Get after undelete: %v", err)
		}
	})
}

// TestStateUncompromisedBySQL: clearing compromised_at by SQL served a
// compromised version again.
func TestStateUncompromisedBySQL(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "leaked", "value-leaked")
		if err := s.svc.MarkCompromised(ctxAs("alice"), "leaked", 1, "incident i-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Get(ctxAs("svc"), "leaked", 0); !errors.Is(err, store.ErrCompromised) {
			t.Fatalf("Get after marking: %v", err)
		}
		s.raw(t, `UPDATE versions SET compromised_at = NULL`)
		wantStateRefused(t, s.svc, "leaked", "version 1 is no longer marked compromised")
		wantReported(t, s.svc, "leaked", "no longer marked compromised")
	})
}

// TestStateMACRemovedBySQL: once a store is sealed, a secret whose state
// MAC was removed (with its state changed: undeleted) is refused, also when the
// store's mark of the sealing is deleted with it: the chain remembers.
func TestStateMACRemovedBySQL(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		if _, err := s.svc.SealStates(ctxAs("op")); err != nil {
			t.Fatal(err)
		}
		put(t, s.svc, "db/dsn", "value-old")
		if err := s.svc.Delete(ctxAs("alice"), "db/dsn"); err != nil {
			t.Fatal(err)
		}
		s.raw(t, `UPDATE secrets SET deleted_at = NULL, state_mac = NULL WHERE name = 'db/dsn'`)
		s.raw(t, `DELETE FROM state_seal`)
		// a fresh process on the same store, with the same key
		fresh := secrets.New(s.db, s.svc.Ring(), nil, clock)
		if n, err := fresh.SealStates(ctxAs("op")); err != nil || n != 0 {
			t.Fatalf("SealStates resealed a removed MAC: %d, %v", n, err)
		}
		wantStateRefused(t, fresh, "db/dsn", secrets.ReasonStateUnsealed)
		wantReported(t, fresh, "db/dsn", secrets.ReasonStateUnsealed)
	})
}

// TestStateUpgrade: a store written before state MACs (state_mac NULL)
// keeps working, is sealed at its first open with a key (one seal event),
// and is protected from then on.
func TestStateUpgrade(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "a", "value-a1")
		put(t, s.svc, "a", "value-a2")
		put(t, s.svc, "b", "value-b")
		if err := s.svc.Delete(ctxAs("alice"), "b"); err != nil {
			t.Fatal(err)
		}
		// as the previous binary left it: no MACs, no seal
		s.raw(t, `UPDATE secrets SET state_mac = NULL`)
		old := s.svc
		if v, err := old.Get(ctxAs("svc"), "a", 0); err != nil || v.Value.Reveal() != "value-a2" {
			t.Fatalf("Get before sealing: %v", err)
		}
		if rep, err := old.Verify(ctxAs("op")); err != nil || !rep.OK || rep.Secrets != 2 {
			t.Fatalf("verify before sealing: %+v %v", rep, err)
		}
		n, err := old.SealStates(ctxAs("op"))
		if err != nil || n != 2 {
			t.Fatalf("SealStates = %d, %v; want 2", n, err)
		}
		if n, err := old.SealStates(ctxAs("op")); err != nil || n != 0 {
			t.Fatalf("second SealStates = %d, %v", n, err)
		}
		es, err := s.db.QueryAudit(context.Background(), audit.Query{Action: secrets.ActionSeal})
		if err != nil || len(es) != 1 || es[0].Detail != "state MACs of 2 secrets" {
			t.Fatalf("seal events %+v %v", es, err)
		}
		if v, err := old.Get(ctxAs("svc"), "a", 0); err != nil || v.Value.Reveal() != "value-a2" {
			t.Fatalf("Get after sealing: %v", err)
		}
		s.raw(t, `UPDATE secrets SET current_version = 1 WHERE name = 'a'`)
		wantStateRefused(t, old, "a", "rolled back")
	})
}

// failingCopy is an audit copy (the file) that fails while fail is set.
type failingCopy struct{ fail atomic.Bool }

func (c *failingCopy) WriteBatch(context.Context, []audit.Event) error {
	if c.fail.Load() {
		return errors.New("disk full")
	}
	return nil
}

// TestStateChangesCommitWithTheirEvent: delete, undelete, destroy,
// rollback and compromise marking each commit with their event in the
// store's chain, and one whose audit copy fails is not made (a delete used
// to be stored, then refused).
func TestStateChangesCommitWithTheirEvent(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		db := open(t).(pairStore)
		cp := &failingCopy{}
		sinks := audit.NewSinks(audit.NewChain(db, nil), []audit.BatchWriter{cp}, 0, func(err error) { t.Log(err) })
		svc := secrets.New(db, ring(t, fernet.GenerateKey()), sinks, clock)
		ctx := ctxAs("alice")
		put(t, svc, "x", "value-1")
		put(t, svc, "x", "value-2")
		steps := []struct {
			what string
			do   func() error
		}{
			{"rollback", func() error { _, err := svc.Rollback(ctx, "x", 1, nil); return err }},
			{"compromise", func() error { return svc.MarkCompromised(ctx, "x", 2, "incident i-1") }},
			{"destroy", func() error { return svc.Destroy(ctx, "x", 1) }},
			{"delete", func() error { return svc.Delete(ctx, "x") }},
			{"undelete", func() error { return svc.Undelete(ctx, "x") }},
		}
		for _, s := range steps {
			before, _ := db.Secret(context.Background(), "x")
			head, _ := db.AuditHead(context.Background())
			cp.fail.Store(true)
			if err := s.do(); !errors.Is(err, audit.ErrNotRecorded) {
				t.Fatalf("%s with the audit copy failing: %v", s.what, err)
			}
			cp.fail.Store(false)
			after, _ := db.Secret(context.Background(), "x")
			if after.CurrentVersion != before.CurrentVersion || after.Deleted() != before.Deleted() || !bytes.Equal(after.StateMAC, before.StateMAC) {
				t.Fatalf("%s refused by the audit was made: %+v", s.what, after.State())
			}
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
			es, err := db.AuditAfter(context.Background(), head.Seq, 100)
			if err != nil {
				t.Fatal(err)
			}
			var ok []string
			for _, e := range es {
				if e.Outcome == audit.Success {
					ok = append(ok, e.Action)
				}
			}
			if len(ok) != 1 || ok[0] != s.what {
				t.Fatalf("%s: successful events since %v", s.what, ok)
			}
		}
		if rep, err := svc.Verify(ctx); err != nil || !rep.OK || rep.StatesFailed != 0 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}

// TestStateMACOutlivesRotation: state MACs are made under the audit key,
// which a rotation rewraps under the new primary: after the versions are
// re-encrypted and the old key is gone, states still verify, and a state
// changed in the database is still refused.
func TestStateMACOutlivesRotation(t *testing.T) {
	drivers(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		st := open(t)
		ctx := context.Background()
		k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
		before := secrets.New(st, ring(t, k1), nil, clock)
		put(t, before, "a", "value-a1")
		put(t, before, "a", "value-a2")
		put(t, before, "b", "value-b")
		if err := before.Delete(ctxAs("alice"), "b"); err != nil {
			t.Fatal(err)
		}
		// the new key primary, the old one previous (the staged rotation):
		// the first process opens the audit key and rewraps it under k2
		during := secrets.New(st, ring(t, k2, k1), nil, clock)
		if v, err := during.Get(ctxAs("svc"), "a", 0); err != nil || v.Value.Reveal() != "value-a2" {
			t.Fatalf("Get during the rotation: %v", err)
		}
		// re-encryption, as rotate does it: token, key ID and binding anew
		if err := st.WalkVersions(ctx, 100, func(vs []store.Version) error {
			for _, v := range vs {
				pt, err := k1.Decrypt([]byte(v.Token))
				if err != nil {
					return err
				}
				tok := string(k2.Encrypt(pt))
				if ok, err := st.UpdateToken(ctx, v.ID, v.Token, store.Sealed{Token: tok, KeyID: k2.ID(), Binding: secrets.Bind(k2, v.Secret, v.Version, k2.ID(), tok)}); !ok || err != nil {
					return fmt.Errorf("swap %d: %v %v", v.ID, ok, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		after := secrets.New(st, ring(t, k2), nil, clock)
		if v, err := after.Get(ctxAs("svc"), "a", 0); err != nil || v.Value.Reveal() != "value-a2" {
			t.Fatalf("Get with only the new key: %v", err)
		}
		if rep, err := after.Verify(ctxAs("op")); err != nil || !rep.OK || rep.Secrets != 2 || rep.StatesFailed != 0 {
			t.Fatalf("verify with only the new key: %+v %v", rep, err)
		}
		if _, err := after.Get(ctxAs("svc"), "b", 0); !errors.Is(err, store.ErrDeleted) {
			t.Fatalf("Get(b): %v", err)
		}
		if err := after.Undelete(ctxAs("alice"), "b"); err != nil {
			t.Fatal(err)
		}
		if v, err := after.Get(ctxAs("svc"), "b", 0); err != nil || v.Value.Reveal() != "value-b" {
			t.Fatalf("Get(b) after undelete under the new key: %v", err)
		}
	})
}

// stateMAC returns the stored state MAC of name, as a database writer
// would save it.
func stateMAC(t *testing.T, db pairStore, name string) []byte {
	t.Helper()
	var mac []byte
	err := db.WalkStates(context.Background(), 100, func(b []store.Secret) error {
		for _, sec := range b {
			if sec.Name == name {
				mac = sec.StateMAC
			}
		}
		return nil
	})
	if err != nil || mac == nil {
		t.Fatalf("state MAC of %s: %v", name, err)
	}
	return mac
}

// wantChainReported checks that verify fails and names name with an audit
// chain failure whose reason contains want.
func wantChainReported(t *testing.T, svc *secrets.Service, name, want string) {
	t.Helper()
	wantFailure(t, svc, name, "audit chain: ", want)
}

// TestStateReplayUncompromised: a database writer who saved a secret's
// row (its state and state MAC) before a compromise put it back after:
// the MAC verified, and verify said ok. The chain's compromise event
// names it.
func TestStateReplayUncompromised(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "leaked", "value-leaked")
		old := stateMAC(t, s.db, "leaked")
		if err := s.svc.MarkCompromised(ctxAs("alice"), "leaked", 1, "incident i-1"); err != nil {
			t.Fatal(err)
		}
		s.raw(t, `UPDATE versions SET compromised_at = NULL`)
		s.raw(t, `UPDATE secrets SET state_mac = `+s.lit(old)+` WHERE name = 'leaked'`)
		if _, err := s.svc.Get(ctxAs("svc"), "leaked", 0); err != nil {
			t.Fatalf("the replayed row does not pass its MAC (the test replays wrong): %v", err)
		}
		wantChainReported(t, s.svc, "leaked", "version 1 marked compromised at seq ")
		wantChainReported(t, s.svc, "leaked", "not compromised in the store")
	})
}

// TestStateReplayUndeleted: the same with a row saved before a delete.
func TestStateReplayUndeleted(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		put(t, s.svc, "gone", "value-gone")
		old := stateMAC(t, s.db, "gone")
		if err := s.svc.Delete(ctxAs("alice"), "gone"); err != nil {
			t.Fatal(err)
		}
		s.raw(t, `UPDATE secrets SET deleted_at = NULL, state_mac = `+s.lit(old)+` WHERE name = 'gone'`)
		if _, err := s.svc.Get(ctxAs("svc"), "gone", 0); err != nil {
			t.Fatalf("the replayed row does not pass its MAC (the test replays wrong): %v", err)
		}
		wantChainReported(t, s.svc, "gone", "deleted at seq ")
		wantChainReported(t, s.svc, "gone", "not deleted in the store")
	})
}

// TestStateVerifyNormalLife: a life of every state change verifies clean
// against the chain, on both drivers.
func TestStateVerifyNormalLife(t *testing.T) {
	stateDrivers(t, func(t *testing.T, s *sealedStore) {
		ctx := ctxAs("alice")
		put(t, s.svc, "app/a", "value-a1")
		put(t, s.svc, "app/a", "value-a2")
		if _, err := s.svc.Rollback(ctx, "app/a", 1, nil); err != nil {
			t.Fatal(err)
		}
		put(t, s.svc, "app/b", "value-b1")
		if err := s.svc.Delete(ctx, "app/b"); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.Undelete(ctx, "app/b"); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.Undelete(ctx, "app/b"); err != nil { // a no-op undelete
			t.Fatal(err)
		}
		if err := s.svc.Destroy(ctx, "app/a", 2); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.MarkCompromised(ctx, "app/a", 3, "incident i-1"); err != nil {
			t.Fatal(err)
		}
		put(t, s.svc, "app/a", "value-a4") // the replacement
		if _, err := s.svc.Import(ctx, []secrets.Entry{{Name: "A", Value: sensitive.New("value-i")}, {Name: "B", Value: sensitive.New("value-j")}}, secrets.ImportOptions{Prefix: "imp/"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Import(ctx, []secrets.Entry{{Name: "A", Value: sensitive.New("value-i2")}}, secrets.ImportOptions{Prefix: "imp/"}); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.Delete(ctx, "imp/B"); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.Delete(ctx, "imp/B"); err == nil { // refused: recorded as a failure
			t.Fatal("deleting a deleted secret succeeded")
		}
		// rotation and re-encryption: a new primary, every token anew
		k2 := fernet.GenerateKey()
		during := secrets.New(s.db, ring(t, k2, s.key), s.rec, clock)
		if err := s.db.WalkVersions(context.Background(), 100, func(vs []store.Version) error {
			for _, v := range vs {
				if v.Token == "" { // destroyed
					continue
				}
				pt, err := s.key.Decrypt([]byte(v.Token))
				if err != nil {
					return err
				}
				tok := string(k2.Encrypt(pt))
				if ok, err := s.db.UpdateToken(context.Background(), v.ID, v.Token, store.Sealed{Token: tok, KeyID: k2.ID(), Binding: secrets.Bind(k2, v.Secret, v.Version, k2.ID(), tok)}); !ok || err != nil {
					return fmt.Errorf("swap %d: %v %v", v.ID, ok, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if v, err := during.Get(ctxAs("svc"), "app/b", 0); err != nil || v.Value.Reveal() != "value-b1" {
			t.Fatalf("Get during the rotation: %v", err)
		}
		after := secrets.New(s.db, ring(t, k2), s.rec, clock)
		rep, err := after.Verify(ctxAs("op"))
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.StatesFailed != 0 || rep.Secrets != 4 {
			t.Fatalf("verify after a normal life: ok %v, %d of %d states failed: %+v", rep.OK, rep.StatesFailed, rep.Secrets, rep.Failures)
		}
	})
}
