package backup

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// TestRoundTripInMemory writes the in-memory store and reads it back as a
// restore does: every row comes back as it was.
func TestRoundTripInMemory(t *testing.T) {
	src := memData(t, 20)
	var buf bytes.Buffer
	sum, err := Write(ctx, src, &buf, WriteOptions{Key: k2})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("value 1 of")) || bytes.Contains(buf.Bytes(), []byte(k1.Encode())) || bytes.Contains(buf.Bytes(), []byte(k2.Encode())) {
		t.Fatal("the backup holds a plaintext value or a key")
	}
	got, err := restoreRead(buf.Bytes(), ring(t, k2, k1))
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]any{
		"keys": {src.keys, got.keys}, "secrets": {src.secrets, got.secrets}, "versions": {src.vers, got.vers},
		"tokens": {src.tokens, got.tokens}, "identities": {src.idents, got.idents}, "credentials": {src.creds, got.creds}, "incidents": {src.incs, got.incs}, "checkpoints": {src.cps, got.cps},
		"events": {src.events, got.events}, "cursors": {src.cursors, got.cursors},
	} {
		a, _ := json.Marshal(pair[0])
		b, _ := json.Marshal(pair[1])
		if !bytes.Equal(a, b) {
			t.Errorf("%s differ after a round trip:\n%s\n%s", name, a, b)
		}
	}
	if sum.Rows == 0 || !sum.Authenticated {
		t.Fatalf("summary %+v", sum)
	}
}

// sample is a small authenticated backup.
func sample(t testing.TB) []byte {
	st := memData(t, 20)
	var buf bytes.Buffer
	if _, err := Write(ctx, st, &buf, WriteOptions{Key: k2}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recordStarts returns the offset of every record of a well-formed backup.
func recordStarts(t testing.TB, b []byte) []int64 {
	d, err := newDecoder(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for {
		_, _, off, err := d.next()
		if err != nil {
			return out
		}
		out = append(out, off)
	}
}

func TestCorruptionRefusedWithOffset(t *testing.T) {
	b := sample(t)
	r := ring(t, k2, k1)
	if _, err := Verify(ctx, bytes.NewReader(b), Options{Ring: r}); err != nil {
		t.Fatalf("the sample does not verify: %v", err)
	}
	starts := recordStarts(t, b)
	for _, i := range []int{1, len(starts) / 3, len(starts) / 2, len(starts) - 2, len(starts) - 1} {
		at := starts[i]
		end := int64(len(b))
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		for _, flip := range []int64{at + 2, (at + end) / 2, end - 1} {
			bad := bytes.Clone(b)
			bad[flip] ^= 0x20
			_, err := Verify(ctx, bytes.NewReader(bad), Options{Ring: r})
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("byte %d flipped: %v, want a FormatError", flip, err)
			}
			if fe.Offset != at && !(flip == at+2 && errors.Is(err, ErrTruncated)) {
				t.Fatalf("byte %d flipped (record at %d): error names byte %d: %v", flip, at, fe.Offset, err)
			}
		}
	}
	for _, n := range []int64{0, 5, 10, starts[3] + 3, starts[len(starts)/2], starts[len(starts)-1], int64(len(b)) - 1} {
		_, err := Verify(ctx, bytes.NewReader(b[:n]), Options{Ring: r})
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("truncated to %d bytes: %v, want a FormatError", n, err)
		}
		if n > 0 && !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated to %d bytes: %v, want ErrTruncated", n, err)
		}
		if fe.Offset > n {
			t.Fatalf("truncated to %d bytes: error names byte %d", n, fe.Offset)
		}
	}
	// Appended bytes are refused too.
	if _, err := Verify(ctx, bytes.NewReader(append(bytes.Clone(b), 'x')), Options{Ring: r}); err == nil {
		t.Fatal("a backup with bytes after its trailer verified")
	}
}

// reframe re-encodes b's records (recomputing every CRC, the checksum and,
// with key, the MAC), letting edit change or add records.
func reframe(t testing.TB, b []byte, key *fernet.Key, recompute bool, edit func(kind byte, payload []byte, emit func(byte, []byte))) []byte {
	d, err := newDecoder(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e, err := newEncoder(&out, key)
	if err != nil {
		t.Fatal(err)
	}
	emit := func(k byte, p []byte) {
		if k == kindTrailer && recompute {
			var tr trailer
			_ = json.Unmarshal(p, &tr)
			tr.SHA256, tr.MAC = e.digest()
			if key != nil {
				tr.KeyID = key.ID()
			}
			p, _ = json.Marshal(tr)
		}
		if err := e.record(k, p); err != nil {
			t.Fatal(err)
		}
	}
	for {
		kind, payload, _, err := d.next()
		if err != nil {
			break
		}
		edit(kind, bytes.Clone(payload), emit)
	}
	if err := e.flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestTamperedRowRefused(t *testing.T) {
	b := sample(t)
	r := ring(t, k2, k1)
	// A changed token record with every CRC fixed: the SHA-256 fails.
	edit := func(kind byte, p []byte, emit func(byte, []byte)) {
		if bytes.Contains(p, []byte(`"accessor"`)) {
			p = bytes.Replace(p, []byte(`"service":"gateway"`), []byte(`"service":"intruder"`), 1)
		}
		emit(kind, p)
	}
	raw := bytes.Clone(b)
	// Fix the CRCs but keep the old trailer.
	fixed := reframe(t, raw, nil, false, edit)
	_, err := Verify(ctx, bytes.NewReader(fixed), Options{Ring: r})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("SHA-256")) {
		t.Fatalf("a tampered backup with its CRCs fixed: %v, want a SHA-256 mismatch", err)
	}
	// Checksum and MAC recomputed under a key that is not loaded: the
	// backup verifies as unauthenticated, and no restore takes it.
	forged := reframe(t, b, k1, true, edit)
	sum, err := Verify(ctx, bytes.NewReader(forged), Options{Ring: ring(t, k2)})
	if err != nil || sum.Authenticated {
		t.Fatalf("a backup MACed under an unloaded key: %v, authenticated %v", err, sum.Authenticated)
	}
	if _, err := restoreRead(forged, ring(t, k2)); err == nil {
		t.Fatal("a forged backup was restored")
	}
	// The same, claiming the loaded key: the MAC does not verify.
	claim := reframe(t, forged, nil, false, func(kind byte, p []byte, emit func(byte, []byte)) {
		if kind == kindTrailer {
			p = bytes.Replace(p, []byte(k1.ID()), []byte(k2.ID()), 1)
		}
		emit(kind, p)
	})
	_, err = Verify(ctx, bytes.NewReader(claim), Options{Ring: ring(t, k2)})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("MAC does not verify")) {
		t.Fatalf("a MAC forged under the loaded key's ID: %v", err)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	b := sample(t)
	binary.BigEndian.PutUint16(b[len(Magic):], FormatVersion+1)
	_, err := Verify(ctx, bytes.NewReader(b), Options{})
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Found != FormatVersion+1 {
		t.Fatalf("newer format: %v, want a VersionError", err)
	}
}

func TestUnknownSections(t *testing.T) {
	b := sample(t)
	r := ring(t, k2, k1)
	with := func(critical bool) []byte {
		return reframe(t, b, k2, true, func(kind byte, p []byte, emit func(byte, []byte)) {
			if kind == kindTrailer {
				var tr trailer
				_ = json.Unmarshal(p, &tr)
				tr.Sections++
				tr.Rows++
				p, _ = json.Marshal(tr)
			}
			if kind == kindSection && bytes.Contains(p, []byte(`"audit_cursors"`)) {
				h, _ := json.Marshal(sectionHead{Name: "webhooks", Critical: critical})
				emit(kindSection, h)
				emit(kindRow, []byte(`{"name":"pager","url":"https://example.org"}`))
				emit(kindEnd, []byte(`{"rows":1}`))
			}
			emit(kind, p)
		})
	}
	for _, critical := range []bool{false, true} {
		sum, err := Verify(ctx, bytes.NewReader(with(critical)), Options{Ring: r})
		if err != nil {
			t.Fatalf("critical %v: verify: %v", critical, err)
		}
		s, ok := sum.Section("webhooks")
		if !ok || !s.Unknown || s.Critical != critical || s.Rows != 1 {
			t.Fatalf("critical %v: the unknown section is reported as %+v", critical, s)
		}
		_, err = restoreRead(with(critical), r)
		if critical && err == nil {
			t.Fatal("a restore went past an unknown critical section")
		}
		if !critical && err != nil {
			t.Fatalf("a restore refused an unknown section that is not critical: %v", err)
		}
	}
}
