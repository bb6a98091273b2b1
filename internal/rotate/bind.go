package rotate

import (
	"encoding/base64"
	"encoding/binary"
	"time"
)

// tokenTime reads the timestamp of a token that has already been
// authenticated (decrypted): the 8 bytes after the version byte.
func tokenTime(tok []byte) (time.Time, bool) {
	if len(tok) < 16 {
		return time.Time{}, false
	}
	var head [12]byte
	if _, err := base64.URLEncoding.Decode(head[:], tok[:16]); err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(head[1:9])), 0), true
}
