package rotate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// ErrNoKeyInFile is returned (wrapped in an *EnvFileError) when an env file
// does not assign SA01_CRYPTO_FERNET_KEY.
var ErrNoKeyInFile = errors.New("env file does not set " + config.EnvFernetKey)

// Ring returns the key ring the file configures: SA01_CRYPTO_FERNET_KEY
// first, then SA01_CRYPTO_FERNET_PREVIOUS_KEYS in order. It refuses a file
// without the key, one that names the key through a _FILE variable (rotate
// that file instead), one that assigns a key variable twice, and malformed
// or duplicate keys; errors name the variable, never a value.
func (e *EnvFile) Ring() (*fernet.Ring, error) {
	for _, v := range []string{config.EnvFernetKey, config.EnvFernetPreviousKeys} {
		if e.Count(v+"_FILE") > 0 {
			return nil, &EnvFileError{Path: e.path, Reason: v + "_FILE is set; key rotation edits keys held in the env file itself"}
		}
		if e.Count(v) > 1 {
			return nil, &EnvFileError{Path: e.path, Reason: v + " is assigned more than once; keep one line"}
		}
	}
	primary, ok := e.Lookup(config.EnvFernetKey)
	if !ok || strings.TrimSpace(primary) == "" {
		return nil, &EnvFileError{Path: e.path, Reason: config.EnvFernetKey + " is not set in it", Err: ErrNoKeyInFile}
	}
	pk, err := config.ParseKeyVar(config.EnvFernetKey, primary)
	if err != nil {
		return nil, &EnvFileError{Path: e.path, Reason: err.Error(), Err: err}
	}
	keys := []*fernet.Key{pk}
	if prev, _ := e.Lookup(config.EnvFernetPreviousKeys); strings.TrimSpace(prev) != "" {
		for i, s := range strings.Split(prev, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			k, err := config.ParseKeyVar(fmt.Sprintf("%s (entry %d)", config.EnvFernetPreviousKeys, i+1), s)
			if err != nil {
				return nil, &EnvFileError{Path: e.path, Reason: err.Error(), Err: err}
			}
			keys = append(keys, k)
		}
	}
	ring, err := fernet.NewRing(keys...)
	if err != nil {
		return nil, &EnvFileError{Path: e.path, Reason: "a key appears twice in " + config.EnvFernetKey + " and " + config.EnvFernetPreviousKeys, Err: err}
	}
	return ring, nil
}

// SetRing writes ring into the file: its primary into
// SA01_CRYPTO_FERNET_KEY, the rest, in order, comma-separated into
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS (emptied when there are none). Only the
// buffer changes; call [EnvFile.Write].
func (e *EnvFile) SetRing(ring *fernet.Ring) error {
	ks := ring.Keys()
	if err := e.Set(config.EnvFernetKey, ks[0].Encode()); err != nil {
		return err
	}
	prev := make([]string, 0, len(ks)-1)
	for _, k := range ks[1:] {
		prev = append(prev, k.Encode())
	}
	if len(prev) == 0 && e.Count(config.EnvFernetPreviousKeys) == 0 {
		return nil
	}
	return e.Set(config.EnvFernetPreviousKeys, strings.Join(prev, ","))
}
