package backup

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the backup reader: it must return a
// FormatError, a VersionError or a summary, never panic, and never read
// past a record's declared length into memory it did not bound.
func FuzzRead(f *testing.F) {
	b := smallSample(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(Magic + "\x00\x01"))
	f.Add([]byte(Magic + "\x00\x01M\x00\x00\x00\x02{}\x00\x00\x00\x00"))
	r := ring(f, k2, k1)
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := Verify(ctx, bytes.NewReader(data), Options{Ring: r})
		if err == nil {
			if sum.Bytes != int64(len(data)) {
				t.Fatalf("verified %d bytes of %d", sum.Bytes, len(data))
			}
			return
		}
		var fe *FormatError
		var ve *VersionError
		if !errors.As(err, &fe) && !errors.As(err, &ve) && !bytes.Contains([]byte(err.Error()), []byte("audit chain")) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if fe != nil && (fe.Offset < 0 || fe.Offset > int64(len(data))) {
			t.Fatalf("error names byte %d of %d", fe.Offset, len(data))
		}
	})
}

// smallSample is a backup of a store with two secrets: small enough for
// the fuzzer to mutate quickly.
func smallSample(t testing.TB) []byte {
	var buf bytes.Buffer
	if _, err := Write(ctx, memData(t, 2), &buf, WriteOptions{Key: k2}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
