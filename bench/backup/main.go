// Command backup fills a SQLite store for the backup, restore and migrate
// benchmarks (bench/backup/run.sh): -versions versions over secrets of
// -per versions each, with real Fernet tokens and row bindings under the
// key in SA01_CRYPTO_FERNET_KEY, and -events audit events linked into a
// chain with a signed checkpoint every 1,024, written through the store's
// bulk load.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

func main() {
	db := flag.String("db", "", "SQLite file to create")
	versions := flag.Int("versions", 1000000, "versions to write")
	per := flag.Int("per", 10, "versions per secret")
	events := flag.Int("events", 1000000, "audit events to write")
	flag.Parse()
	key, err := fernet.ParseKey(os.Getenv("SA01_CRYPTO_FERNET_KEY"))
	if err != nil {
		log.Fatal("SA01_CRYPTO_FERNET_KEY: ", err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	l, err := st.Load(ctx)
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(l.Keys(ctx, []store.KeyInfo{{ID: key.ID(), State: store.KeyActive, CreatedAt: t0, ActivatedAt: t0}}))
	nsec := (*versions + *per - 1) / *per
	var ss []store.Secret
	var vs []store.Version
	vid := int64(0)
	for i := 1; i <= nsec; i++ {
		name := fmt.Sprintf("bench/app%03d/secret%07d", i%1000, i)
		n := min(*per, *versions-(i-1)**per)
		ss = append(ss, store.Secret{ID: int64(i), Name: name, Class: store.ClassAPIKey, CreatedAt: t0, UpdatedAt: t0, CurrentVersion: n})
		if len(ss) == 1000 {
			must(l.Secrets(ctx, ss))
			ss = ss[:0]
		}
	}
	if len(ss) > 0 {
		must(l.Secrets(ctx, ss))
	}
	for i := 1; i <= nsec; i++ {
		name := fmt.Sprintf("bench/app%03d/secret%07d", i%1000, i)
		n := min(*per, *versions-(i-1)**per)
		for v := 1; v <= n; v++ {
			vid++
			tok := string(key.Encrypt([]byte(fmt.Sprintf("sk-bench-%07d-%02d-0123456789abcdefghijklmnop", i, v))))
			vs = append(vs, store.Version{ID: vid, SecretID: int64(i), Version: v, Token: tok, KeyID: key.ID(),
				Binding: secrets.Bind(key, name, v, key.ID(), tok), CreatedAt: t0, Actor: "bench"})
			if len(vs) == 1000 {
				must(l.Versions(ctx, vs))
				vs = vs[:0]
			}
		}
	}
	if len(vs) > 0 {
		must(l.Versions(ctx, vs))
	}
	// The keyed chain of a store of today: an audit key wrapped under the
	// Fernet key (in audit_keys), every event keyed, a checkpoint on each
	// multiple of audit.CheckpointEvery.
	kb := &keyBuffer{}
	mk, err := audit.LoadKey(ctx, kb, mustRing(key), nil)
	must(err)
	aks := make([]store.AuditKey, 0, len(kb.ws))
	for _, w := range kb.ws {
		aks = append(aks, store.AuditKey{WrappedKey: w, CreatedAt: t0})
	}
	must(l.AuditKeys(ctx, aks))
	head := audit.EmptyHead
	batch := make([]audit.Event, 0, audit.CheckpointEvery)
	flush := func() {
		lk := &audit.Linker{Key: mk, Every: audit.CheckpointEvery, Now: func() time.Time { return t0.Add(time.Duration(head.Seq) * time.Millisecond) }}
		es, cps, err := lk.Link(head, batch)
		must(err)
		must(l.AuditEvents(ctx, es))
		head = es[len(es)-1].Head()
		if len(cps) == 0 {
			cps = []audit.Checkpoint{lk.Checkpoint(head)}
		}
		must(l.AuditCheckpoints(ctx, cps))
		batch = batch[:0]
	}
	for i := 1; i <= *events; i++ {
		batch = append(batch, audit.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Service: "gateway", Actor: "acc_0123456789abcdef",
			Action: "read", Secret: fmt.Sprintf("bench/app%03d/secret%07d", i%1000, 1+i%nsec), Version: 1, Outcome: audit.Success,
			RequestID: fmt.Sprintf("req-%08d", i), Source: "127.0.0.1"})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	must(l.Commit(ctx))
	fi, _ := os.Stat(*db)
	fmt.Printf("filled %s: %d secrets, %d versions, %d audit events in %v (%d MB)\n", *db, nsec, *versions, *events,
		time.Since(start).Round(time.Second), fi.Size()>>20)
}

func mustRing(k *fernet.Key) *fernet.Ring {
	r, err := fernet.NewRing(k)
	if err != nil {
		log.Fatal(err)
	}
	return r
}

// keyBuffer is an audit.KeyStore in memory: LoadKey's new audit key, for
// the load.
type keyBuffer struct{ ws []audit.WrappedKey }

func (b *keyBuffer) AuditKeys(context.Context) ([]audit.WrappedKey, error) { return b.ws, nil }

func (b *keyBuffer) AddAuditKey(_ context.Context, w audit.WrappedKey) (bool, error) {
	b.ws = append(b.ws, w)
	return true, nil
}

func (b *keyBuffer) DeleteAuditKey(context.Context, string) error { return nil }
