package audit

import "github.com/somaagent01/sa01-secrets/internal/fernet"

// MACKeys derives the checkpoint keys of a key ring, primary first. The
// primary signs new checkpoints; every key of the ring verifies old ones,
// so checkpoints outlive a key rotation for as long as the old key is kept.
func MACKeys(r *fernet.Ring) []MACKey {
	if r == nil {
		return nil
	}
	var out []MACKey
	for _, k := range r.Keys() {
		out = append(out, MACKey{ID: k.ID(), Key: k.Subkey(CheckpointLabel)})
	}
	return out
}
