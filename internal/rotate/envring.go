package rotate

import (
	"errors"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// ErrNoKeyInFile is returned (wrapped in a *dotenv.FileError) when an env file
// does not assign SA01_CRYPTO_FERNET_KEY.
var ErrNoKeyInFile = errors.New("env file does not set " + config.EnvFernetKey)

// EnvRing returns the key ring the file configures: SA01_CRYPTO_FERNET_KEY
// first, then SA01_CRYPTO_FERNET_PREVIOUS_KEYS in order. It refuses a file
// without the key, one that names the key through a _FILE variable (rotate
// that file instead), one that assigns a key variable twice, and malformed
// or duplicate keys; errors name the variable, never a value.
func EnvRing(e *dotenv.File) (*fernet.Ring, error) {
	for _, v := range []string{config.EnvFernetKey, config.EnvFernetPreviousKeys} {
		if e.Count(v+"_FILE") > 0 {
			return nil, &dotenv.FileError{Path: e.Path(), Reason: v + "_FILE is set; key rotation edits keys held in the env file itself"}
		}
		if e.Count(v) > 1 {
			return nil, &dotenv.FileError{Path: e.Path(), Reason: v + " is assigned more than once; keep one line"}
		}
	}
	primary, ok := e.Lookup(config.EnvFernetKey)
	if !ok || strings.TrimSpace(primary) == "" {
		return nil, &dotenv.FileError{Path: e.Path(), Reason: config.EnvFernetKey + " is not set in it", Err: ErrNoKeyInFile}
	}
	prev, _ := e.Lookup(config.EnvFernetPreviousKeys)
	ring, err := config.ParseRing(primary, prev)
	if err != nil {
		return nil, &dotenv.FileError{Path: e.Path(), Reason: err.Error(), Err: err}
	}
	return ring, nil
}

// SetEnvRing writes ring into the file: its primary into
// SA01_CRYPTO_FERNET_KEY, the rest, in order, comma-separated into
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS (emptied when there are none). Only the
// buffer changes; call [dotenv.File.Write].
func SetEnvRing(e *dotenv.File, ring *fernet.Ring) error {
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

// EnvKeys returns getenv with the Fernet keys (SA01_CRYPTO_FERNET_KEY,
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS) answered by the env file at path, as
// EnvRing reads them (the primary must be set there, each once, no _FILE
// indirection), and never by getenv: one ring, from one place. Every other
// variable is getenv's. It is config.Load's getenv under --env-file.
func EnvKeys(path string, getenv func(string) string) (func(string) string, error) {
	ef, err := dotenv.Read(path)
	if err != nil {
		return nil, err
	}
	if _, err := EnvRing(ef); err != nil {
		return nil, err
	}
	return func(name string) string {
		switch name {
		case config.EnvFernetKey, config.EnvFernetPreviousKeys:
			v, _ := ef.Lookup(name)
			return v
		case config.EnvFernetKey + "_FILE", config.EnvFernetPreviousKeys + "_FILE":
			return ""
		}
		return getenv(name)
	}, nil
}
