package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// The format's tests run on a store held in memory: no database driver is
// linked into this package's tests, so its fuzz target runs at full speed
// (a driver's code would swamp the fuzzer's coverage map). Round trips
// through real stores are in ./roundtrip.

var ctx = context.Background()

// k1 is an old key, k2 the primary after a rotation.
var k1, k2 = fernet.GenerateKey(), fernet.GenerateKey()

func ring(t testing.TB, keys ...*fernet.Key) *fernet.Ring {
	r, err := fernet.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// memStore is every table of a store, as slices.
type memStore struct {
	akeys   []store.AuditKey
	keys    []store.KeyInfo
	secrets []store.Secret
	vers    []store.Version
	tokens  []token.Record
	idents  []identity.Identity
	creds   []identity.Credential
	incs    []*incident.Incident
	cps     []audit.Checkpoint
	events  []audit.Entry
	cursors []store.AuditCursor
}

// memData makes a store of n secrets with two versions each (the first
// under k1, the second under k2), a deleted secret, a destroyed and a
// compromised version, a token record, two identities (one revoked)
// with a credential each, an incident, a chain of 3n events
// checkpointed every 4 under k2, and a cursor.
func memData(t testing.TB, n int) *memStore {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	m := &memStore{keys: []store.KeyInfo{
		{ID: k1.ID(), State: store.KeyDecryptOnly, CreatedAt: t0, ActivatedAt: t0, DeactivatedAt: t0.Add(time.Hour), RetainUntil: t0.Add(30 * 24 * time.Hour)},
		{ID: k2.ID(), State: store.KeyActive, CreatedAt: t0.Add(time.Hour), ActivatedAt: t0.Add(time.Hour), Note: "rotated"},
	}}
	vid := int64(0)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("app/s%03d", i)
		s := store.Secret{ID: int64(i), Name: name, Class: store.ClassAPIKey, CreatedAt: t0, UpdatedAt: t0, CurrentVersion: 2}
		if i == n {
			s.DeletedAt = t0.Add(2 * time.Hour)
		}
		m.secrets = append(m.secrets, s)
		for v, k := range []*fernet.Key{k1, k2} {
			vid++
			tok := string(k.Encrypt([]byte(fmt.Sprintf("value %d of %s", v+1, name))))
			ver := store.Version{ID: vid, SecretID: s.ID, Version: v + 1, Token: tok, KeyID: k.ID(),
				Binding: secrets.Bind(k, name, v+1, k.ID(), tok), CreatedAt: t0, Actor: "alice"}
			if i == 1 && v == 0 {
				ver.Token, ver.Binding, ver.DestroyedAt = "", nil, t0.Add(time.Hour)
			}
			if i == 2 && v == 1 {
				ver.CompromisedAt = t0.Add(3 * time.Hour)
			}
			m.vers = append(m.vers, ver)
		}
	}
	m.tokens = []token.Record{{Accessor: "acc_0123456789abcdef", Hash: [32]byte{1, 2, 3}, Service: "gateway",
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), MaxExpiry: t0.Add(24 * time.Hour)}}
	m.idents = []identity.Identity{{Name: "alice", Kind: identity.Operator, Role: identity.Admin, CreatedAt: t0},
		{Name: "gateway", Kind: identity.Service, CreatedAt: t0, RevokedAt: t0.Add(time.Hour)}}
	m.creds = []identity.Credential{{ID: "cred_0123456789abcdef", Identity: "alice", Hash: [32]byte{4, 5, 6},
		CreatedAt: t0, ExpiresAt: t0.Add(180 * 24 * time.Hour)},
		{ID: "cred_fedcba9876543210", Identity: "gateway", Hash: [32]byte{7, 8, 9}, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Hour), RevokedAt: t0.Add(time.Hour)}}
	m.incs = []*incident.Incident{incident.Open(incident.NewID(t0), "app/s002", 2, "leaked", "alice", t0)}
	mk := audit.MACKeys(ring(t, k2))[0]
	head := audit.EmptyHead
	for i := 0; i < 3*n; i++ {
		es, err := audit.Link(head, []audit.Event{{Time: t0.Add(time.Duration(i) * time.Second), Service: "gateway",
			Action: "read", Secret: fmt.Sprintf("app/s%03d", 1+i%n), Version: 1, Outcome: audit.Success}})
		if err != nil {
			t.Fatal(err)
		}
		m.events = append(m.events, es...)
		head = es[0].Head()
		if head.Seq%4 == 0 {
			m.cps = append(m.cps, audit.Sign(&mk, head, t0.Add(time.Duration(i)*time.Second)))
		}
	}
	m.cursors = []store.AuditCursor{{Name: "kafka:sa01.audit", Seq: 3}}
	return m
}

func (m *memStore) Snapshot(context.Context) (store.Snapshot, error) { return m, nil }
func (m *memStore) Load(context.Context) (store.Loader, error) {
	return nil, errors.New("memStore: no loads")
}
func (m *memStore) Close() error { return nil }

func (m *memStore) Keys(_ context.Context, fn func([]store.KeyInfo) error) error { return fn(m.keys) }
func (m *memStore) Secrets(_ context.Context, fn func([]store.Secret) error) error {
	return fn(m.secrets)
}
func (m *memStore) Versions(_ context.Context, fn func([]store.Version) error) error {
	return fn(m.vers)
}
func (m *memStore) Tokens(_ context.Context, fn func([]token.Record) error) error {
	return fn(m.tokens)
}
func (m *memStore) Identities(_ context.Context, fn func([]identity.Identity) error) error {
	return fn(m.idents)
}
func (m *memStore) Credentials(_ context.Context, fn func([]identity.Credential) error) error {
	return fn(m.creds)
}
func (m *memStore) Incidents(_ context.Context, fn func([]*incident.Incident) error) error {
	return fn(m.incs)
}
func (m *memStore) AuditKeys(_ context.Context, fn func([]store.AuditKey) error) error {
	return fn(m.akeys)
}
func (m *memStore) AuditCheckpoints(_ context.Context, fn func([]audit.Checkpoint) error) error {
	return fn(m.cps)
}
func (m *memStore) AuditEvents(_ context.Context, fn func([]audit.Entry) error) error {
	return fn(m.events)
}
func (m *memStore) AuditCursors(_ context.Context, fn func([]store.AuditCursor) error) error {
	return fn(m.cursors)
}

// memLoader is a Loader that keeps what it is given.
type memLoader struct {
	memStore
	committed bool
}

func (l *memLoader) Keys(_ context.Context, x []store.KeyInfo) error {
	l.keys = append(l.keys, x...)
	return nil
}
func (l *memLoader) Secrets(_ context.Context, x []store.Secret) error {
	l.secrets = append(l.secrets, x...)
	return nil
}
func (l *memLoader) Versions(_ context.Context, x []store.Version) error {
	l.vers = append(l.vers, x...)
	return nil
}
func (l *memLoader) Tokens(_ context.Context, x []token.Record) error {
	l.tokens = append(l.tokens, x...)
	return nil
}
func (l *memLoader) Identities(_ context.Context, x []identity.Identity) error {
	l.idents = append(l.idents, x...)
	return nil
}
func (l *memLoader) Credentials(_ context.Context, x []identity.Credential) error {
	l.creds = append(l.creds, x...)
	return nil
}
func (l *memLoader) Incidents(_ context.Context, x []*incident.Incident) error {
	l.incs = append(l.incs, x...)
	return nil
}
func (l *memLoader) AuditKeys(_ context.Context, x []store.AuditKey) error {
	l.akeys = append(l.akeys, x...)
	return nil
}

func (l *memLoader) AuditCheckpoints(_ context.Context, x []audit.Checkpoint) error {
	l.cps = append(l.cps, x...)
	return nil
}
func (l *memLoader) AuditEvents(_ context.Context, x []audit.Entry) error {
	l.events = append(l.events, x...)
	return nil
}
func (l *memLoader) AuditCursors(_ context.Context, x []store.AuditCursor) error {
	l.cursors = append(l.cursors, x...)
	return nil
}
func (l *memLoader) Commit(context.Context) error { l.committed = true; return nil }
func (l *memLoader) Rollback() error              { return nil }

// restoreRead reads b as a restore does, into a memLoader.
func restoreRead(b []byte, r *fernet.Ring) (*memLoader, error) {
	l := &memLoader{}
	_, err := read(ctx, bytesReader(b), readOptions{ring: r, requireAuth: true, requireKeys: true, load: l})
	return l, err
}

// seqLoader is a memLoader that fails the load of versions at its
// failAt-th batch, and records whether two loads ever ran at once.
type seqLoader struct {
	memLoader
	mu       sync.Mutex
	active   int
	overlap  bool
	vbatches int
	failAt   int
}

func (l *seqLoader) enter() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active++; l.active > 1 {
		l.overlap = true
	}
}

func (l *seqLoader) leave() { l.mu.Lock(); l.active--; l.mu.Unlock() }

func (l *seqLoader) Versions(ctx context.Context, x []store.Version) error {
	l.enter()
	defer l.leave()
	time.Sleep(time.Millisecond) // the reading goes on meanwhile
	if l.vbatches++; l.vbatches == l.failAt {
		return errors.New("disk full")
	}
	return l.memLoader.Versions(ctx, x)
}

func (l *seqLoader) AuditEvents(ctx context.Context, x []audit.Entry) error {
	l.enter()
	defer l.leave()
	time.Sleep(time.Millisecond)
	return l.memLoader.AuditEvents(ctx, x)
}

// TestLoadBesideReading: batches are loaded on a second goroutine while
// the next is read, yet one at a time and in order, each as it was read
// (no batch reused while loading); a failing batch fails the read at once,
// and nothing after it is loaded.
func TestLoadBesideReading(t *testing.T) {
	src := memData(t, 1600) // 3,200 versions and 4,800 events: several batches each
	var buf bytes.Buffer
	if _, err := Write(ctx, src, &buf, WriteOptions{Key: k2}); err != nil {
		t.Fatal(err)
	}
	l := &seqLoader{}
	if _, err := read(ctx, bytesReader(buf.Bytes()), readOptions{ring: ring(t, k2, k1), requireAuth: true, requireKeys: true, load: l}); err != nil {
		t.Fatal(err)
	}
	if l.overlap {
		t.Error("two batches were loaded at once")
	}
	for name, pair := range map[string][2]any{"versions": {src.vers, l.vers}, "events": {src.events, l.events}} {
		a, _ := json.Marshal(pair[0])
		b, _ := json.Marshal(pair[1])
		if !bytes.Equal(a, b) {
			t.Errorf("%s differ after loading them in batches", name)
		}
	}

	l = &seqLoader{failAt: 2}
	_, err := read(ctx, bytesReader(buf.Bytes()), readOptions{ring: ring(t, k2, k1), requireAuth: true, requireKeys: true, load: l})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "section versions") {
		t.Fatalf("a failing load: %v", err)
	}
	if len(l.vers) != loadBatch || len(l.events) != 0 || l.vbatches != 2 {
		t.Fatalf("after a failing batch: %d versions, %d events loaded, %d version batches tried", len(l.vers), len(l.events), l.vbatches)
	}
}
