package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Audit actions of the jobs.
const (
	ActionBackup  = "backup"
	ActionRestore = "restore"
	ActionMigrate = "migrate"
)

// Options are what every job needs.
type Options struct {
	// Ring holds the keys: the primary authenticates a backup; restore
	// needs every key a live version was encrypted under.
	Ring     *fernet.Ring
	Software string // this binary's version, recorded in a backup
	Source   string // the driver of the store read: sqlite, postgres
	Progress func(Progress)
	Now      func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) primary() *fernet.Key {
	if o.Ring == nil {
		return nil
	}
	return o.Ring.Primary()
}

func (o Options) writeOptions() WriteOptions {
	return WriteOptions{Key: o.primary(), Software: o.Software, Source: o.Source, Now: o.Now, Progress: o.Progress}
}

// ErrNoKeys: a job that needs the keys ran without them.
var ErrNoKeys = errors.New("backup: no key loaded (set SA01_CRYPTO_FERNET_KEY, and SA01_CRYPTO_FERNET_PREVIOUS_KEYS for older keys)")

// ToFile writes a backup of src to path: into a temporary file beside it
// (mode 0600), renamed over path only once the backup is whole and rec has
// recorded it. A backup the audit cannot record is not left behind.
func ToFile(ctx context.Context, src store.Store, rec audit.Recorder, path string, o Options) (Summary, error) {
	if o.Ring == nil {
		return Summary{}, ErrNoKeys
	}
	f, err := safefile.Create(path, safefile.Options{})
	if err != nil {
		return Summary{}, err
	}
	sum, err := Write(ctx, src, f, o.writeOptions())
	ev := audit.Event{Action: ActionBackup, Outcome: audit.Success}
	if err != nil {
		f.Abort()
		ev.Outcome, ev.Reason = audit.Failure, "backup failed"
		return sum, errors.Join(err, record(ctx, rec, ev))
	}
	ev.Detail = fmt.Sprintf("%d rows, %d bytes, sha256 %s, authenticated under key %s", sum.Rows, sum.Bytes, sum.SHA256, sum.KeyID)
	if err := record(ctx, rec, ev); err != nil {
		f.Abort()
		return sum, err
	}
	if err := f.Commit(); err != nil {
		return sum, err
	}
	return sum, nil
}

func record(ctx context.Context, rec audit.Recorder, ev audit.Event) error {
	if err := rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return fmt.Errorf("%w: %w", audit.ErrNotRecorded, err)
	}
	return nil
}

// Verify reads a whole backup and checks it without restoring: framing,
// checksums, the trailer's SHA-256 and (when its key is loaded) MAC, the
// section order and counts, the versions' row bindings under the loaded
// keys, and the audit chain with its checkpoints.
func Verify(ctx context.Context, r io.Reader, o Options) (Summary, error) {
	return read(ctx, r, readOptions{ring: o.Ring, progress: o.Progress})
}

// Report is the outcome of a restore or a migrate.
type Report struct {
	Backup Summary         `json:"backup"`
	Store  *secrets.Report `json:"verify"`       // `verify` on the restored store
	Audit  audit.Result    `json:"audit_verify"` // `audit verify` on the restored store
	Head   audit.Head      `json:"-"`
}

// OK reports whether the restored store verified.
func (r Report) OK() bool { return r.Store != nil && r.Store.OK && r.Audit.OK() }

// OpenRecorder opens the recorder of a store once it is loaded: the
// store's keyed chain needs the audit key the backup brings, so it cannot
// be opened on the empty store (which would make a new key).
type OpenRecorder func(ctx context.Context) (audit.Recorder, error)

// Restore loads the backup r into dst, which must be empty, in one
// transaction: it refuses a backup it cannot authenticate, one holding a
// live version under a key that is not loaded or whose binding does not
// hold, a broken audit chain, and an unknown critical section. The restore
// is recorded in the same transaction, as the next event of the restored
// keyed chain (with a checkpoint), so the chain continues unbroken under
// the audit key the backup holds. Then it runs `verify` (through the
// recorder rec opens, which records it) and `audit verify` on dst.
func Restore(ctx context.Context, r io.Reader, dst store.Store, rec OpenRecorder, o Options) (Report, error) {
	return restore(ctx, dst, rec, o, ActionRestore, "", func(ro readOptions) (Summary, error) { return read(ctx, r, ro) })
}

// restore loads dst through fill, which reads the rows of a backup with
// the checks and the loader of ro, then records the restore and verifies
// dst.
func restore(ctx context.Context, dst store.Store, openRec OpenRecorder, o Options, action, detail string,
	fill func(ro readOptions) (Summary, error)) (Report, error) {
	var rep Report
	if o.Ring == nil {
		return rep, ErrNoKeys
	}
	l, err := dst.Load(ctx)
	if err != nil {
		return rep, err
	}
	kc := &keyCapture{Loader: l}
	rep.Backup, err = fill(readOptions{ring: o.Ring, requireAuth: true, requireKeys: true, load: kc, progress: o.Progress})
	var key *audit.MACKey
	if err == nil {
		key, err = recordIn(ctx, l, kc.keys, rep.Backup, o, action, detail)
	}
	if err == nil {
		err = l.Commit(ctx)
	}
	if err != nil {
		_ = l.Rollback()
		return rep, err
	}
	rec, err := openRec(ctx)
	if err != nil {
		return rep, fmt.Errorf("restored, but its audit recorder could not open: %w", err)
	}
	// verify replays the whole chain, which audit verify reads too: the
	// chain is verified as verify reads it, then read on from there.
	tee, err := newChainTee(ctx, dst, *key)
	if err != nil {
		return rep, fmt.Errorf("restored, but audit verify could not run: %w", err)
	}
	if rep.Store, err = secrets.New(tee, o.Ring, rec, o.Now).Verify(ctx); err != nil {
		return rep, fmt.Errorf("restored, but verify could not run: %w", err)
	}
	if rep.Audit, err = tee.finish(ctx); err != nil {
		return rep, fmt.Errorf("restored, but audit verify could not run: %w", err)
	}
	rep.Head = rep.Audit.Head
	return rep, nil
}

// chainTee is a store whose WalkAudit also feeds each entry it reads,
// once, to a verification of the chain (audit.VerifyStore's, under key):
// the restored store's verify and audit verify read its chain once.
type chainTee struct {
	store.Store
	key  audit.MACKey
	cps  []audit.Checkpoint // read before the first entry
	v    *audit.Verifier
	last int64 // the seq of the last entry fed
	done bool  // v has settled a problem: nothing more to feed
}

func newChainTee(ctx context.Context, st store.Store, key audit.MACKey) (*chainTee, error) {
	cps, err := st.AuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	v := audit.NewVerifier(cps, []audit.MACKey{key})
	v.Every = audit.CheckpointEvery
	return &chainTee{Store: st, key: key, cps: cps, v: v}, nil
}

// WalkAudit implements store.Audit.
func (c *chainTee) WalkAudit(ctx context.Context, batch int, fn func([]audit.Entry) error) error {
	return c.Store.WalkAudit(ctx, batch, func(es []audit.Entry) error {
		c.feed(es)
		return fn(es)
	})
}

// feed adds the entries after the last one fed (a walk gives them in seq
// order; a second walk gives none again).
func (c *chainTee) feed(es []audit.Entry) {
	for _, e := range es {
		if e.Seq > c.last && !c.done {
			c.done = !c.v.Add(e)
			c.last = e.Seq
		}
	}
}

// finish reads the chain on from the last entry fed (what verify
// recorded, or the whole chain if verify did not walk it) and returns the
// verification. The checkpoints written meanwhile (a process's first
// event comes with one) join it; if any is not after the entries fed, it
// verifies the whole chain again, as audit verify would.
func (c *chainTee) finish(ctx context.Context) (audit.Result, error) {
	cps, err := c.Store.AuditCheckpoints(ctx)
	if err != nil {
		return audit.Result{}, err
	}
	same := func(a, b audit.Checkpoint) bool {
		return a.Seq == b.Seq && a.Hash == b.Hash && a.KeyID == b.KeyID && a.MAC == b.MAC && a.Time.Equal(b.Time)
	}
	if len(cps) < len(c.cps) || !slices.EqualFunc(cps[:len(c.cps)], c.cps, same) || !c.v.AddCheckpoints(cps[len(c.cps):]) {
		return audit.VerifyStore(ctx, c.Store, []audit.MACKey{c.key}, nil)
	}
	for !c.done {
		es, err := c.Store.AuditAfter(ctx, c.last, 5000)
		if err != nil {
			return audit.Result{}, err
		}
		if len(es) == 0 {
			break
		}
		c.feed(es)
	}
	return c.v.Finish(), nil
}

// keyCapture is a Loader that keeps the audit key's wrappings it loads.
type keyCapture struct {
	store.Loader
	keys []audit.WrappedKey
}

func (k *keyCapture) AuditKeys(ctx context.Context, ks []store.AuditKey) error {
	for _, x := range ks {
		k.keys = append(k.keys, x.WrappedKey)
	}
	return k.Loader.AuditKeys(ctx, ks)
}

// recordIn opens the restored store's audit key from its wrappings ws
// (audit.LoadKey: a wrapping under the primary is added when missing; a
// backup from before the keyed chain gets a new key), and appends the
// restore's event, linked after the backup's chain head under that key,
// with a checkpoint of it, to the load. It returns the key.
func recordIn(ctx context.Context, l store.Loader, ws []audit.WrappedKey, sum Summary, o Options, action, detail string) (*audit.MACKey, error) {
	kb := &keyBuffer{ws: ws}
	key, err := audit.LoadKey(ctx, kb, o.Ring, nil)
	if err != nil {
		return nil, err
	}
	if len(kb.added) > 0 {
		var ks []store.AuditKey
		for _, w := range kb.added {
			ks = append(ks, store.AuditKey{WrappedKey: w, CreatedAt: o.now().UTC()})
		}
		if err := l.AuditKeys(ctx, ks); err != nil {
			return nil, err
		}
	}
	head := audit.EmptyHead
	if sum.Audit != nil {
		head = sum.Audit.Head
	}
	if detail == "" {
		detail = fmt.Sprintf("from a backup of %s made %s", sum.Source, sum.CreatedAt.Format(time.RFC3339))
	}
	digest := ""
	if sum.SHA256 != "" { // a migrate's rows come through no file
		digest = ", sha256 " + sum.SHA256
	}
	ev := audit.Stamp(ctx, audit.Event{Action: action, Outcome: audit.Success, Time: o.now().UTC(),
		Detail: fmt.Sprintf("%s: %d rows%s, chain continued after seq %d", detail, sum.Rows, digest, head.Seq)})
	lk := &audit.Linker{Key: key, Every: audit.CheckpointEvery, Now: o.now}
	es, cps, err := lk.Link(head, []audit.Event{ev})
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		cps = []audit.Checkpoint{lk.Checkpoint(es[len(es)-1].Head())}
	}
	if err := l.AuditEvents(ctx, es); err != nil {
		return nil, err
	}
	return key, l.AuditCheckpoints(ctx, cps)
}

// Migrate moves the whole of src into dst, which must be empty: the rows
// of a consistent snapshot of src, as a backup of it would hold them,
// handed straight to a restore on dst with every check a restore makes on
// the rows (references, row bindings under the loaded keys, the audit
// chain). They are not encoded into a backup stream and decoded again:
// in one process nothing comes between the two stores for the stream's
// checksums and MAC to guard against. dst's chain continues src's: its
// events, then a migrate event. src records the migration through srcRec.
func Migrate(ctx context.Context, src store.Store, srcRec audit.Recorder, dst store.Store, dstRec OpenRecorder, to string, o Options) (Report, error) {
	if o.Ring == nil {
		return Report{}, ErrNoKeys
	}
	rep, err := restore(ctx, dst, dstRec, o, ActionMigrate, "from "+o.Source+" to "+to, func(ro readOptions) (Summary, error) {
		sn, err := src.Snapshot(ctx)
		if err != nil {
			return Summary{}, err
		}
		defer sn.Close()
		return transfer(ctx, sn, ro, o)
	})
	ev := audit.Event{Action: ActionMigrate, Outcome: audit.Success, Detail: "to " + to}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, "migrate failed"
	} else {
		ev.Detail += fmt.Sprintf(": %d rows, chain head seq %d moved", rep.Backup.Rows, rep.Head.Seq)
	}
	return rep, errors.Join(err, record(ctx, srcRec, ev))
}

// transfer reads every section of the snapshot sn, in a backup's order,
// and hands each row, as the value a backup would encode, to the checks
// and the load of ro: a read of a backup without the file.
func transfer(ctx context.Context, sn store.Snapshot, ro readOptions, o Options) (Summary, error) {
	// Made here from the store itself: authentic as a backup whose MAC
	// this process made.
	sum := Summary{Format: FormatVersion, CreatedAt: o.now().UTC(), Software: o.Software, Source: o.Source, Authenticated: true}
	rs := newReadState(ro, &sum)
	rs.noFile = true
	defer func() { _ = rs.wait() }()
	begin := func(name string) error { return rs.begin(sectionHead{Name: name, Critical: true}, 0) }
	emit := func(row any) error {
		return rs.row(ctx, 0, 0, func(sec section) error { return sec.value(ctx, rs, row) })
	}
	end := func() error { return rs.end(ctx, rs.cur.Rows, 0, 0) }
	if err := writeSections(ctx, sn, begin, emit, end); err != nil {
		return sum, err
	}
	return sum, rs.finishChain()
}
