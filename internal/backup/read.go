package backup

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Summary describes a backup: what wrote it, what it holds, and what a
// reading of it checked.
type Summary struct {
	Format        int              `json:"format"`
	CreatedAt     time.Time        `json:"created_at"`
	Software      string           `json:"software"`
	Source        string           `json:"source"`
	Sections      []SectionSummary `json:"sections"`
	Rows          int64            `json:"rows"`
	Bytes         int64            `json:"bytes"`
	SHA256        string           `json:"sha256"`
	KeyID         string           `json:"key_id,omitempty"` // the key of the MAC
	Authenticated bool             `json:"authenticated"`    // the MAC verified under a loaded key (or was made here)

	// Set by a read: versions whose row binding was checked under a loaded
	// key, and those whose key is not loaded (not checked).
	BindingsChecked   int64 `json:"bindings_checked"`
	BindingsUnchecked int64 `json:"bindings_unchecked"`
	// Audit is the verification of the audit chain the backup holds.
	Audit *audit.Result `json:"audit,omitempty"`
}

// SectionSummary is one section of a backup.
type SectionSummary struct {
	Name     string `json:"name"`
	Rows     int64  `json:"rows"`
	Unknown  bool   `json:"unknown,omitempty"`  // not known to this binary: its rows were skipped
	Critical bool   `json:"critical,omitempty"` // (unknown sections) a restore would refuse it
}

// Section returns the summary of the named section, if present.
func (s Summary) Section(name string) (SectionSummary, bool) {
	for _, x := range s.Sections {
		if x.Name == name {
			return x, true
		}
	}
	return SectionSummary{}, false
}

// readOptions describe one reading of a backup.
type readOptions struct {
	ring        *fernet.Ring
	requireAuth bool         // refuse a backup whose MAC cannot be checked
	requireKeys bool         // refuse a live version whose key is not loaded
	load        store.Loader // nil: check only
	progress    func(Progress)
}

// readState is what a reading keeps between rows: the secrets' names (to
// check bindings and references), the checkpoints, the chain's verifier.
type readState struct {
	o      readOptions
	names  map[int64]string
	idents map[string]bool // identity names, for the credentials' references
	cps    []audit.Checkpoint
	akeys  []audit.WrappedKey // the audit_keys section's wrappings
	chain  *audit.Verifier
	sum    *Summary
	bind   func(key *fernet.Key, name string, version int, keyID, token string) []byte // secrets.NewBinder's
	// The section being read (cur nil between sections; sec nil in an
	// unknown one), the index in Sections of the last known one begun,
	// and the sections seen.
	cur      *SectionSummary
	sec      section
	lastKnow int
	seen     map[string]bool
	// noFile: the rows come from a store, not a file (a migrate), so a
	// fault has no byte offset.
	noFile bool
	// pending is the result of the batch being loaded, nil when none: a
	// batch is inserted on a second goroutine while the next is decoded
	// and checked, one batch at a time, in order.
	pending chan error
}

// start hands load to a second goroutine, once the batch before it is
// loaded; it returns that batch's error.
func (rs *readState) start(load func() error) error {
	if err := rs.wait(); err != nil {
		return err
	}
	rs.pending = make(chan error, 1)
	go func(c chan<- error) { c <- load() }(rs.pending)
	return nil
}

// wait waits for the batch being loaded and returns its error.
func (rs *readState) wait() error {
	if rs.pending == nil {
		return nil
	}
	err := <-rs.pending
	rs.pending = nil
	return err
}

// rowSection decodes the rows of one known section into T, checks each,
// and hands them to the loader in batches.
type rowSection[R, T any] struct {
	fast  func([]byte, *R) bool // nil, or a decoding of plain rows (flat.go)
	conv  func(R) (T, error)
	check func(rs *readState, t T) error
	load  func(l store.Loader, ctx context.Context, ts []T) error
	batch []T
	spare []T // the batch being loaded, filled again once it is
}

type section interface {
	// row decodes one row of a file's section and adds it.
	row(ctx context.Context, rs *readState, payload []byte) error
	// value adds one row that is already a value of the section's row
	// type: a migrate's, which never goes through the encoding.
	value(ctx context.Context, rs *readState, row any) error
	flush(ctx context.Context, rs *readState) error
}

const loadBatch = 1000

func (s *rowSection[R, T]) row(ctx context.Context, rs *readState, payload []byte) error {
	var r R
	if s.fast != nil && s.fast(payload, &r) {
		return s.add(ctx, rs, r)
	}
	r = *new(R)
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("malformed row: %v", err)
	}
	if dec.More() {
		return errors.New("malformed row: data after the row")
	}
	return s.add(ctx, rs, r)
}

func (s *rowSection[R, T]) value(ctx context.Context, rs *readState, row any) error {
	switch r := row.(type) {
	case R:
		return s.add(ctx, rs, r)
	case *R: // incidents are handed on by pointer
		return s.add(ctx, rs, *r)
	}
	return fmt.Errorf("a row of type %T, not of the section's", row)
}

// add converts and checks one row, and batches it for the load.
func (s *rowSection[R, T]) add(ctx context.Context, rs *readState, r R) error {
	t, err := s.conv(r)
	if err != nil {
		return fmt.Errorf("malformed row: %v", err)
	}
	if s.check != nil {
		if err := s.check(rs, t); err != nil {
			return err
		}
	}
	if rs.o.load == nil {
		return nil
	}
	if s.batch = append(s.batch, t); len(s.batch) >= loadBatch {
		return s.flush(ctx, rs)
	}
	return nil
}

// flush starts the load of the batch (see readState.start); the caller
// waits for it at the section's end.
func (s *rowSection[R, T]) flush(ctx context.Context, rs *readState) error {
	if len(s.batch) == 0 || rs.o.load == nil {
		return nil
	}
	// Once the previous batch (in spare) is loaded, it is refilled while
	// this one loads.
	if err := rs.wait(); err != nil {
		return err
	}
	b := s.batch
	s.batch, s.spare = s.spare[:0], b
	return rs.start(func() error {
		err := s.load(rs.o.load, ctx, b)
		clear(b)
		return err
	})
}

func same[T any](t T) (T, error) { return t, nil }

// sectionFor returns the decoder of a known section.
func sectionFor(name string) section {
	switch name {
	case SectionKeys:
		return &rowSection[keyRow, store.KeyInfo]{conv: keyRow.value, load: store.Loader.Keys}
	case SectionSecrets:
		return &rowSection[secretRow, store.Secret]{conv: secretRow.value, check: checkSecret, load: store.Loader.Secrets}
	case SectionVersions:
		return &rowSection[versionRow, store.Version]{fast: flatVersion, conv: versionRow.value, check: checkVersion, load: store.Loader.Versions}
	case SectionTokens:
		return &rowSection[tokenRow, token.Record]{conv: tokenRow.value, load: store.Loader.Tokens}
	case SectionIdentities:
		return &rowSection[identityRow, identity.Identity]{conv: identityRow.value, check: checkIdentity, load: store.Loader.Identities}
	case SectionCredentials:
		return &rowSection[credentialRow, identity.Credential]{conv: credentialRow.value, check: checkCredential, load: store.Loader.Credentials}
	case SectionIncidents:
		return &rowSection[incident.Incident, *incident.Incident]{
			conv: func(i incident.Incident) (*incident.Incident, error) {
				if i.ID == "" {
					return nil, errors.New("an incident without id")
				}
				return &i, nil
			},
			load: store.Loader.Incidents}
	case SectionAuditKeys:
		return &rowSection[auditKeyRow, store.AuditKey]{conv: auditKeyRow.value, load: store.Loader.AuditKeys,
			check: func(rs *readState, k store.AuditKey) error { rs.akeys = append(rs.akeys, k.WrappedKey); return nil }}
	case SectionAuditCheckpoints:
		return &rowSection[audit.Checkpoint, audit.Checkpoint]{conv: same[audit.Checkpoint],
			check: func(rs *readState, cp audit.Checkpoint) error { rs.cps = append(rs.cps, cp); return nil },
			load:  store.Loader.AuditCheckpoints}
	case SectionAuditEvents:
		return &rowSection[audit.Entry, audit.Entry]{fast: flatEntry, conv: same[audit.Entry], check: checkEntry, load: store.Loader.AuditEvents}
	case SectionAuditCursors:
		return &rowSection[cursorRow, store.AuditCursor]{
			conv: func(c cursorRow) (store.AuditCursor, error) { return store.AuditCursor(c), nil },
			load: store.Loader.AuditCursors}
	}
	return nil
}

func checkIdentity(rs *readState, id identity.Identity) error {
	if rs.idents[id.Name] {
		return fmt.Errorf("identity %s appears twice", id.Name)
	}
	rs.idents[id.Name] = true
	return nil
}

func checkCredential(rs *readState, c identity.Credential) error {
	if !rs.idents[c.Identity] {
		return fmt.Errorf("credential %s belongs to identity %s, which the backup does not hold", c.ID, c.Identity)
	}
	return nil
}

func checkSecret(rs *readState, s store.Secret) error {
	if _, dup := rs.names[s.ID]; dup {
		return fmt.Errorf("secret id %d appears twice", s.ID)
	}
	rs.names[s.ID] = s.Name
	return nil
}

func checkVersion(rs *readState, v store.Version) error {
	name, ok := rs.names[v.SecretID]
	if !ok {
		return fmt.Errorf("version %d names secret id %d, which is not in the backup", v.Version, v.SecretID)
	}
	if v.Destroyed() {
		return nil
	}
	var k *fernet.Key
	if rs.o.ring != nil {
		k = rs.o.ring.Key(v.KeyID)
	}
	if k == nil {
		if rs.o.requireKeys {
			return fmt.Errorf("%s version %d was encrypted under key %s, which is not loaded: add it to %s",
				name, v.Version, v.KeyID, "SA01_CRYPTO_FERNET_PREVIOUS_KEYS")
		}
		rs.sum.BindingsUnchecked++
		return nil
	}
	if !hmac.Equal(rs.bind(k, name, v.Version, v.KeyID, v.Token), v.Binding) {
		return fmt.Errorf("%s version %d: row binding does not hold under key %s (the row was altered or moved)", name, v.Version, v.KeyID)
	}
	rs.sum.BindingsChecked++
	return nil
}

func checkEntry(rs *readState, e audit.Entry) error {
	if rs.chain == nil {
		rs.chain = audit.NewVerifier(rs.cps, rs.chainKeys())
	}
	rs.chain.Add(e)
	return nil
}

func newReadState(o readOptions, sum *Summary) *readState {
	return &readState{o: o, names: map[int64]string{}, idents: map[string]bool{}, sum: sum, bind: secrets.NewBinder(),
		lastKnow: -1, seen: map[string]bool{}}
}

// read reads a whole backup from r, checking its framing, checksums,
// section order, row counts, references, bindings (under loaded keys) and
// audit chain, and hands the rows to o.load when set. It fails at the
// first fault, naming its byte offset.
func read(ctx context.Context, r io.Reader, o readOptions) (Summary, error) {
	d, err := newDecoder(r, o.ring)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Format: FormatVersion}
	rs := newReadState(o, &sum)
	// No load goes on once read returns, whatever it returns.
	defer func() { _ = rs.wait() }()
	sawMeta := false
	for {
		kind, payload, off, err := d.next()
		if err == io.EOF {
			return sum, sentinelErr(off, ErrTruncated, "the file ends before its trailer")
		}
		if err != nil {
			return sum, err
		}
		if !sawMeta && kind != kindMeta {
			return sum, formatErr(off, "the first record is not the backup's description")
		}
		switch kind {
		case kindMeta:
			if sawMeta {
				return sum, formatErr(off, "a second description record")
			}
			sawMeta = true
			var m meta
			if err := json.Unmarshal(payload, &m); err != nil {
				return sum, formatErr(off, "malformed description record")
			}
			sum.CreatedAt, sum.Software, sum.Source = m.CreatedAt, m.Software, m.Source
		case kindSection:
			if rs.cur != nil {
				return sum, formatErr(off, "section begins inside section %s", rs.cur.Name)
			}
			var h sectionHead
			if err := json.Unmarshal(payload, &h); err != nil || h.Name == "" {
				return sum, formatErr(off, "malformed section record")
			}
			if err := rs.begin(h, off); err != nil {
				return sum, err
			}
		case kindRow:
			if err := rs.row(ctx, off, d.off, func(sec section) error { return sec.row(ctx, rs, payload) }); err != nil {
				return sum, err
			}
		case kindEnd:
			if rs.cur == nil {
				return sum, formatErr(off, "a section end outside any section")
			}
			var e sectionEnd
			if err := json.Unmarshal(payload, &e); err != nil {
				return sum, formatErr(off, "malformed section end")
			}
			if err := rs.end(ctx, e.Rows, off, d.off); err != nil {
				return sum, err
			}
		case kindTrailer:
			if rs.cur != nil {
				return sum, formatErr(off, "the trailer comes inside section %s", rs.cur.Name)
			}
			if err := finish(d, rs, payload, off); err != nil {
				return sum, err
			}
			sum.Bytes = d.off
			if _, _, eoff, err := d.next(); err != io.EOF {
				if err != nil {
					return sum, err
				}
				return sum, formatErr(eoff, "data after the trailer")
			}
			return sum, nil
		default:
			return sum, formatErr(off, "unknown record kind 0x%02x", kind)
		}
	}
}

// begin starts the section h, whose record is at off, between sections.
func (rs *readState) begin(h sectionHead, off int64) error {
	if rs.seen[h.Name] {
		return rs.fault(off, "section %s appears twice", h.Name)
	}
	rs.seen[h.Name] = true
	rs.sum.Sections = append(rs.sum.Sections, SectionSummary{Name: h.Name})
	rs.cur = &rs.sum.Sections[len(rs.sum.Sections)-1]
	if i := slices.Index(Sections, h.Name); i >= 0 {
		if i < rs.lastKnow {
			return rs.fault(off, "section %s comes after section %s", h.Name, Sections[rs.lastKnow])
		}
		rs.lastKnow = i
		rs.sec = sectionFor(h.Name)
		return nil
	}
	rs.cur.Unknown, rs.cur.Critical, rs.sec = true, h.Critical, nil
	if h.Critical && rs.o.load != nil {
		return rs.fault(off, "section %s is not known to this binary, and a restore would lose what it holds: restore with a newer sa01-secrets", h.Name)
	}
	return nil
}

// row counts one row of the current section, at off, and hands it to add
// when the section is known; at is how far the stream got, for progress.
func (rs *readState) row(ctx context.Context, off, at int64, add func(section) error) error {
	cur := rs.cur
	if cur == nil {
		return rs.fault(off, "a row outside any section")
	}
	cur.Rows++
	if rs.sec != nil {
		if err := add(rs.sec); err != nil {
			return rs.fault(off, "section %s, row %d: %v", cur.Name, cur.Rows, err)
		}
	}
	if cur.Rows%progressEvery == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if rs.o.progress != nil {
			rs.o.progress(Progress{Section: cur.Name, Rows: cur.Rows, Bytes: at})
		}
	}
	return nil
}

// end ends the current section, which records rows, at off: its last
// batch is loaded before it returns.
func (rs *readState) end(ctx context.Context, rows, off, at int64) error {
	cur := rs.cur
	if rows != cur.Rows {
		return rs.fault(off, "section %s ends with %d rows but records %d", cur.Name, cur.Rows, rows)
	}
	if rs.sec != nil {
		err := rs.sec.flush(ctx, rs)
		if werr := rs.wait(); err == nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("restoring section %s: %w", cur.Name, err)
		}
	}
	rs.sum.Rows += cur.Rows
	if rs.o.progress != nil {
		rs.o.progress(Progress{Section: cur.Name, Rows: cur.Rows, Bytes: at, Done: true})
	}
	rs.cur, rs.sec = nil, nil
	return nil
}

// fault is a fault of the rows at off: in a file, a FormatError naming
// the offset.
func (rs *readState) fault(off int64, format string, a ...any) error {
	if rs.noFile {
		return fmt.Errorf("migrate: "+format, a...)
	}
	return formatErr(off, format, a...)
}

// missing returns the first known section not read, other than those
// older backups lack, or "".
func (rs *readState) missing() string {
	for _, name := range Sections {
		if !rs.seen[name] && !slices.Contains(addedSections, name) {
			return name
		}
	}
	return ""
}

// finishChain ends the verification of the audit chain read.
func (rs *readState) finishChain() error {
	v := rs.chain
	if v == nil {
		v = audit.NewVerifier(rs.cps, rs.chainKeys())
	}
	res := v.Finish()
	rs.sum.Audit = &res
	if !res.OK() {
		return fmt.Errorf("backup: the audit chain it holds is broken: %w", res.Problem)
	}
	return nil
}

// finish checks the trailer at off against what was read.
func finish(d *decoder, rs *readState, payload []byte, off int64) error {
	sum := rs.sum
	var t trailer
	if err := json.Unmarshal(payload, &t); err != nil {
		return formatErr(off, "malformed trailer")
	}
	if name := rs.missing(); name != "" {
		return formatErr(off, "section %s is missing", name)
	}
	if t.Sections != len(sum.Sections) || t.Rows != sum.Rows {
		return formatErr(off, "the trailer records %d sections and %d rows; the file holds %d and %d", t.Sections, t.Rows, len(sum.Sections), sum.Rows)
	}
	gotSum, gotMAC := d.digest(t.KeyID)
	if !hmac.Equal([]byte(gotSum), []byte(t.SHA256)) {
		return formatErr(off, "the file's SHA-256 does not match the one its trailer records: it was altered")
	}
	sum.SHA256, sum.KeyID = t.SHA256, t.KeyID
	switch {
	case t.MAC != "" && gotMAC != "":
		if !hmac.Equal([]byte(gotMAC), []byte(t.MAC)) {
			return formatErr(off, "the backup's MAC does not verify under key %s: it was altered", t.KeyID)
		}
		sum.Authenticated = true
	case rs.o.requireAuth && t.MAC == "":
		return formatErr(off, "the backup carries no MAC (it was written without a key), so it cannot be authenticated")
	case rs.o.requireAuth:
		return formatErr(off, "the backup is authenticated under key %s, which is not loaded", t.KeyID)
	}
	return rs.finishChain()
}

// chainKeys are the keys the backup's chain is verified under: its audit
// key, opened from the audit_keys section with the loaded Fernet keys.
// With no key that opens it (a check without keys), none: the chain's
// links are still checked, not their MACs.
func (rs *readState) chainKeys() []audit.MACKey {
	if rs.o.ring == nil || len(rs.akeys) == 0 {
		return nil
	}
	key, err := audit.LoadKey(context.Background(), &keyBuffer{ws: slices.Clone(rs.akeys)}, rs.o.ring, nil)
	if err != nil {
		return nil
	}
	return []audit.MACKey{*key}
}

// keyBuffer is an audit.KeyStore over the wrappings of a backup: what
// audit.LoadKey adds (a wrapping under the primary, or a new audit key
// for a backup without one) is kept in added, for a restore to load.
type keyBuffer struct {
	ws    []audit.WrappedKey
	added []audit.WrappedKey
}

func (b *keyBuffer) AuditKeys(context.Context) ([]audit.WrappedKey, error) { return b.ws, nil }

func (b *keyBuffer) AddAuditKey(_ context.Context, w audit.WrappedKey) (bool, error) {
	for _, x := range b.ws {
		if x.KeyID == w.KeyID {
			return false, nil
		}
	}
	b.ws = append(b.ws, w)
	b.added = append(b.added, w)
	return true, nil
}

func (b *keyBuffer) DeleteAuditKey(context.Context, string) error { return nil }
