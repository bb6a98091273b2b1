package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runDumps checks Snapshot and Load: a snapshot does not see writes made
// after it began; a load keeps row IDs and sequence numbers, leaves the
// store empty when rolled back, refuses a store that is not empty, and
// moves the ID sequences so that later writes get new IDs.
func runDumps(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("SnapshotIsolated", func(t *testing.T) {
		st, _ := open(t)
		put(t, st, "a", "1")
		sn, err := st.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		put(t, st, "a", "2")
		put(t, st, "b", "1")
		var vs []store.Version
		if err := sn.Versions(ctx, func(b []store.Version) error { vs = append(vs, b...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].Token != "tok:a:1:1" || vs[0].SecretID == 0 {
			t.Fatalf("snapshot saw %+v; want only a's first version", vs)
		}
	})
	t.Run("LoadKeepsIDs", func(t *testing.T) {
		src, _ := open(t)
		put(t, src, "a", "1")
		put(t, src, "b", "1")
		put(t, src, "a", "2")
		if err := src.Destroy(ctx, "b", 1, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := src.AppendAudit(ctx, []audit.Event{{Action: "read", Outcome: audit.Success, Time: t0}}, (&audit.Linker{Every: 1}).Link); err != nil {
			t.Fatal(err)
		}
		dst, _ := open(t)
		// A rolled-back load leaves the store empty: a second load works.
		l, err := dst.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		copyAll(t, src, l)
		if err := l.Rollback(); err != nil {
			t.Fatal(err)
		}
		loadAll(t, src, dst, "a rollback")
		for _, name := range []string{"a", "b"} {
			want, err := src.History(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dst.History(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d versions, want %d", name, len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || got[i].Destroyed() != want[i].Destroyed() || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
					t.Fatalf("%s version %d: got %+v, want %+v", name, i+1, got[i], want[i])
				}
			}
		}
		_, v, err := dst.Get(ctx, "a", 0)
		if err != nil || v.Token != "tok:a:2:2" {
			t.Fatalf("Get a: %+v, %v", v, err)
		}
		h1, _ := src.AuditHead(ctx)
		h2, _ := dst.AuditHead(ctx)
		if h1 != h2 {
			t.Fatalf("audit head %v, want %v", h2, h1)
		}
		// The sequences moved past the loaded IDs.
		nv := put(t, dst, "c", "1")
		if nv.ID <= 3 {
			t.Fatalf("a write after the load got version ID %d, not past the loaded ones", nv.ID)
		}
		if _, err := dst.Load(ctx); !errors.Is(err, store.ErrNotEmpty) {
			t.Fatalf("load into a store with secrets: %v, want ErrNotEmpty", err)
		}
	})
	t.Run("FailedLoadLeavesNothing", func(t *testing.T) {
		src, _ := open(t)
		put(t, src, "a", "1")
		sn, err := src.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ss []store.Secret
		err = sn.Secrets(ctx, func(b []store.Secret) error { ss = append(ss, b...); return nil })
		_ = sn.Close()
		if err != nil {
			t.Fatal(err)
		}
		dst, _ := open(t)
		l, err := dst.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The same secret twice: the second batch breaks its primary key.
		if err := l.Secrets(ctx, ss); err != nil {
			t.Fatal(err)
		}
		if err := l.Secrets(ctx, ss); err == nil {
			t.Fatal("loading a secret twice: no error")
		}
		if err := l.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := dst.Get(ctx, "a", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after a failed load: %v, want ErrNotFound", err)
		}
		loadAll(t, src, dst, "a failed one")
		if _, v, err := dst.Get(ctx, "a", 0); err != nil || v.Token != "tok:a:1:1" {
			t.Fatalf("Get a: %+v, %v", v, err)
		}
	})
	t.Run("LoadRefusesAuditOnly", func(t *testing.T) {
		st, _ := open(t)
		if _, err := st.AppendAudit(ctx, []audit.Event{{Action: "read", Outcome: audit.Success, Time: t0}}, (&audit.Linker{}).Link); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx); !errors.Is(err, store.ErrNotEmpty) {
			t.Fatalf("load into a store with audit events: %v, want ErrNotEmpty", err)
		}
	})
}

// loadAll loads every table of src's snapshot into dst, empty, in one Load
// it commits; after names what came before, for the failure message.
func loadAll(t *testing.T, src, dst store.Store, after string) {
	t.Helper()
	ctx := context.Background()
	l, err := dst.Load(ctx)
	if err != nil {
		t.Fatalf("load after %s: %v", after, err)
	}
	copyAll(t, src, l)
	if err := l.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// copyAll loads every table of src's snapshot into l.
func copyAll(t *testing.T, src store.Store, l store.Loader) {
	t.Helper()
	ctx := context.Background()
	sn, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	for _, err := range []error{
		sn.Keys(ctx, func(b []store.KeyInfo) error { return l.Keys(ctx, b) }),
		sn.Secrets(ctx, func(b []store.Secret) error { return l.Secrets(ctx, b) }),
		sn.Versions(ctx, func(b []store.Version) error { return l.Versions(ctx, b) }),
		sn.AuditCheckpoints(ctx, func(b []audit.Checkpoint) error { return l.AuditCheckpoints(ctx, b) }),
		sn.AuditEvents(ctx, func(b []audit.Entry) error { return l.AuditEvents(ctx, b) }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}
