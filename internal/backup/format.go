// Package backup writes and reads sa01-secrets backups: a versioned,
// portable, checksummed stream of every record of a store (docs/backup.md),
// and restores one into an empty store, or moves a store to another
// (migrate) through the same stream.
//
// A backup holds what the store holds and nothing more: Fernet tokens with
// their key IDs and row bindings, never a plaintext value and never a key;
// token and credential records as hashes. It is read in one pass and in
// bounded memory whatever its size, and every record is framed and
// checksummed, so a corrupted or truncated file is refused with the byte
// offset where it goes wrong.
package backup

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// Magic starts every backup file.
const Magic = "SA01BKUP"

// FormatVersion is the version of the framing and of the known sections'
// row encodings this binary writes and reads. A reader refuses a file with
// a higher one. Adding a section does not change it (docs/backup.md,
// "Sections").
const FormatVersion = 1

// headerLen is the magic and the format version.
const headerLen = len(Magic) + 2

// MaxRecord bounds one record's payload.
const MaxRecord = 16 << 20

// Record kinds.
const (
	kindMeta    = 'M' // first record: what made the backup
	kindSection = 'S' // a section begins
	kindRow     = 'R' // one row of the current section
	kindEnd     = 'E' // the current section ends
	kindTrailer = 'Z' // last record: checksum (and MAC) of everything before it
)

// MACLabel derives the backup MAC key from a Fernet key.
const MACLabel = "sa01-secrets/backup/v1"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FormatError is a file that is not a well-formed backup: Offset is the
// byte where the fault is. Err, when set, is ErrTruncated or ErrCorrupt.
type FormatError struct {
	Offset int64
	Reason string
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("backup: at byte %d: %s", e.Offset, e.Reason)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrTruncated is wrapped by the FormatError of a file that ends early.
var ErrTruncated = errors.New("the file ends early (truncated)")

// ErrCorrupt is wrapped by the FormatError of a record that fails its checksum.
var ErrCorrupt = errors.New("a record does not match its checksum (the file is corrupted)")

func formatErr(off int64, format string, a ...any) error {
	return &FormatError{Offset: off, Reason: fmt.Sprintf(format, a...)}
}

func sentinelErr(off int64, err error, detail string) error {
	reason := err.Error()
	if detail != "" {
		reason += ": " + detail
	}
	return &FormatError{Offset: off, Reason: reason, Err: err}
}

// VersionError is a backup written in a newer format than this binary reads.
type VersionError struct{ Found, Known int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("backup: format version %d is newer than this binary reads (%d); restore it with a newer sa01-secrets", e.Found, e.Known)
}

// macKey returns the backup MAC key of k.
func macKey(k *fernet.Key) []byte {
	sub := k.Subkey(MACLabel)
	return sub[:]
}

// encoder frames records onto w, hashing (and MACing) all it writes.
type encoder struct {
	w   *bufio.Writer
	sum hash.Hash
	mac hash.Hash // nil without a key
	off int64
	hdr [5]byte
}

func newEncoder(w io.Writer, key *fernet.Key) (*encoder, error) {
	e := &encoder{w: bufio.NewWriterSize(w, 1<<20), sum: sha256.New()}
	if key != nil {
		e.mac = hmac.New(sha256.New, macKey(key))
	}
	var h [headerLen]byte
	copy(h[:], Magic)
	binary.BigEndian.PutUint16(h[len(Magic):], FormatVersion)
	return e, e.raw(h[:], true)
}

// raw writes b, hashing it when hashed.
func (e *encoder) raw(b []byte, hashed bool) error {
	if hashed {
		e.sum.Write(b)
		if e.mac != nil {
			e.mac.Write(b)
		}
	}
	e.off += int64(len(b))
	_, err := e.w.Write(b)
	return err
}

// record writes one framed record.
func (e *encoder) record(kind byte, payload []byte) error {
	if len(payload) > MaxRecord {
		return fmt.Errorf("backup: a record of %d bytes is over the %d-byte limit", len(payload), MaxRecord)
	}
	e.hdr[0] = kind
	binary.BigEndian.PutUint32(e.hdr[1:], uint32(len(payload)))
	crc := crc32.Update(0, crcTable, e.hdr[:])
	crc = crc32.Update(crc, crcTable, payload)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc)
	hashed := kind != kindTrailer
	for _, b := range [][]byte{e.hdr[:], payload, tail[:]} {
		if err := e.raw(b, hashed); err != nil {
			return err
		}
	}
	return nil
}

// digest returns the SHA-256 and the MAC (or "") of all written so far.
func (e *encoder) digest() (sum, mac string) {
	sum = hex.EncodeToString(e.sum.Sum(nil))
	if e.mac != nil {
		mac = hex.EncodeToString(e.mac.Sum(nil))
	}
	return sum, mac
}

func (e *encoder) flush() error { return e.w.Flush() }

// decoder reads framed records, checking each record's CRC and hashing
// everything before the trailer.
type decoder struct {
	r    *bufio.Reader
	off  int64 // offset of the next byte
	sum  hash.Hash
	macs map[string]hash.Hash // by key ID: one MAC per loaded key
	buf  []byte
}

func newDecoder(r io.Reader, ring *fernet.Ring) (*decoder, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10), sum: sha256.New()}
	if ring != nil {
		d.macs = map[string]hash.Hash{}
		for _, k := range ring.Keys() {
			d.macs[k.ID()] = hmac.New(sha256.New, macKey(k))
		}
	}
	var h [headerLen]byte
	n, err := io.ReadFull(d.r, h[:])
	if err != nil {
		if n == 0 {
			return nil, formatErr(0, "empty file: not a backup")
		}
		if string(h[:min(n, len(Magic))]) != Magic[:min(n, len(Magic))] {
			return nil, formatErr(0, "not an sa01-secrets backup (no %q at its start)", Magic)
		}
		return nil, sentinelErr(int64(n), ErrTruncated, "inside the header")
	}
	if string(h[:len(Magic)]) != Magic {
		return nil, formatErr(0, "not an sa01-secrets backup (no %q at its start)", Magic)
	}
	if v := int(binary.BigEndian.Uint16(h[len(Magic):])); v > FormatVersion {
		return nil, &VersionError{Found: v, Known: FormatVersion}
	} else if v == 0 {
		return nil, formatErr(int64(len(Magic)), "format version 0 is not a version")
	}
	d.hash(h[:])
	d.off = int64(headerLen)
	return d, nil
}

func (d *decoder) hash(b []byte) {
	d.sum.Write(b)
	for _, m := range d.macs {
		m.Write(b)
	}
}

// next returns the next record: its kind, payload (valid until the next
// call) and offset. io.EOF when the file ends cleanly between records.
func (d *decoder) next() (kind byte, payload []byte, off int64, err error) {
	off = d.off
	var hdr [5]byte
	n, err := io.ReadFull(d.r, hdr[:])
	if err == io.EOF {
		return 0, nil, off, io.EOF
	}
	if err != nil {
		return 0, nil, off, d.readErr(off, off+int64(n), err)
	}
	size := binary.BigEndian.Uint32(hdr[1:])
	if size > MaxRecord {
		return 0, nil, off, sentinelErr(off, ErrCorrupt, fmt.Sprintf("a record claims %d bytes, over the %d-byte limit", size, MaxRecord))
	}
	if cap(d.buf) < int(size)+4 {
		d.buf = make([]byte, int(size)+4)
	}
	body := d.buf[:size+4]
	n, err = io.ReadFull(d.r, body)
	if err != nil {
		return 0, nil, off, d.readErr(off, off+5+int64(n), err)
	}
	crc := crc32.Update(0, crcTable, hdr[:])
	crc = crc32.Update(crc, crcTable, body[:size])
	if crc != binary.BigEndian.Uint32(body[size:]) {
		return 0, nil, off, sentinelErr(off, ErrCorrupt, "")
	}
	if hdr[0] != kindTrailer {
		d.hash(hdr[:])
		d.hash(body)
	}
	d.off += 5 + int64(size) + 4
	return hdr[0], body[:size], off, nil
}

func (d *decoder) readErr(start, at int64, err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return sentinelErr(at, ErrTruncated, fmt.Sprintf("inside the record that starts at byte %d", start))
	}
	return fmt.Errorf("backup: reading at byte %d: %w", at, err)
}

// digest returns the SHA-256 of everything before the trailer, and the MAC
// under the key keyID ("" when that key is not loaded).
func (d *decoder) digest(keyID string) (sum, mac string) {
	sum = hex.EncodeToString(d.sum.Sum(nil))
	if m, ok := d.macs[keyID]; ok {
		mac = hex.EncodeToString(m.Sum(nil))
	}
	return sum, mac
}
