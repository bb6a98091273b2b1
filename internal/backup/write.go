package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Progress is how far a backup, restore or migrate got.
type Progress struct {
	Section string
	Rows    int64 // rows of Section so far
	Bytes   int64 // bytes of the stream so far
	Done    bool  // Section is complete
}

// progressEvery is how many rows pass between two Progress calls.
const progressEvery = 50000

// WriteOptions describe a backup.
type WriteOptions struct {
	// Key authenticates the backup: an HMAC-SHA256 of the whole stream
	// under a subkey of it (MACLabel) goes into the trailer, with its key
	// ID. Restore requires it; nil writes an unauthenticated backup.
	Key      *fernet.Key
	Software string // the writing binary's version
	Source   string // the store's driver: sqlite, postgres
	Now      func() time.Time
	Progress func(Progress) // nil: none
}

// Write streams a consistent snapshot of src to w in the backup format and
// returns what it wrote. Memory stays bounded by one batch of rows.
func Write(ctx context.Context, src store.Dumps, w io.Writer, o WriteOptions) (Summary, error) {
	sn, err := src.Snapshot(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer sn.Close()
	return writeSnapshot(ctx, sn, w, o)
}

func writeSnapshot(ctx context.Context, sn store.Snapshot, w io.Writer, o WriteOptions) (Summary, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	e, err := newEncoder(w, o.Key)
	if err != nil {
		return Summary{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	put := func(kind byte, v any) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("backup: encoding a record: %w", err)
		}
		return e.record(kind, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	m := meta{CreatedAt: now().UTC(), Software: o.Software, Source: o.Source}
	if err := put(kindMeta, m); err != nil {
		return Summary{}, err
	}
	sum := Summary{Format: FormatVersion, CreatedAt: m.CreatedAt, Software: m.Software, Source: m.Source}
	var cur *SectionSummary
	report := func(done bool) {
		if o.Progress != nil {
			o.Progress(Progress{Section: cur.Name, Rows: cur.Rows, Bytes: e.off, Done: done})
		}
	}
	begin := func(name string) error {
		sum.Sections = append(sum.Sections, SectionSummary{Name: name})
		cur = &sum.Sections[len(sum.Sections)-1]
		return put(kindSection, sectionHead{Name: name, Critical: true})
	}
	emit := func(row any) error {
		cur.Rows++
		if cur.Rows%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			report(false)
		}
		return put(kindRow, row)
	}
	end := func() error {
		sum.Rows += cur.Rows
		report(true)
		return put(kindEnd, sectionEnd{Rows: cur.Rows})
	}
	if err := writeSections(ctx, sn, begin, emit, end); err != nil {
		return Summary{}, err
	}
	t := trailer{Sections: len(sum.Sections), Rows: sum.Rows}
	t.SHA256, t.MAC = e.digest()
	if o.Key != nil {
		t.KeyID = o.Key.ID()
		sum.KeyID, sum.Authenticated = t.KeyID, true
	}
	if err := put(kindTrailer, t); err != nil {
		return Summary{}, err
	}
	if err := e.flush(); err != nil {
		return Summary{}, err
	}
	sum.SHA256, sum.Bytes = t.SHA256, e.off
	return sum, nil
}
