package rotate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// UsageError is input a rotation verb refuses before it starts: what is
// wrong and, in Hint, what to do ("" when the message says it). It never
// holds a key.
type UsageError struct{ Msg, Hint string }

func (e *UsageError) Error() string { return e.Msg }

func usage(hint, format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...), Hint: hint}
}

// ExplicitKeys name the keys of a re-encryption given explicitly, as the
// policy's reencrypt script does (reencrypt --old-key-file/--old-key-env,
// --new-key-file/--new-key-env): each from a private file or from a named
// environment variable, never from argv. The new key defaults to the
// loaded primary.
type ExplicitKeys struct{ OldFile, OldEnv, NewFile, NewEnv string }

// Given reports whether any key is named.
func (k ExplicitKeys) Given() bool { return k != ExplicitKeys{} }

// Flag names the first flag given ("" when none is), for a message
// refusing them.
func (k ExplicitKeys) Flag() string {
	for i, v := range []string{k.OldFile, k.OldEnv, k.NewFile, k.NewEnv} {
		if v != "" {
			return []string{"--old-key-file", "--old-key-env", "--new-key-file", "--new-key-env"}[i]
		}
	}
	return ""
}

// Options returns the options of a re-encryption: the ring of the keys
// named (Ring) when any is; none with envFile (the Rotator reads that
// file's); else fallback's, the environment's.
func (k ExplicitKeys) Options(envFile string, getenv func(string) string, loaded *fernet.Ring, fallback func() (*fernet.Ring, error)) (ReencryptOptions, error) {
	o := ReencryptOptions{EnvPath: envFile}
	var err error
	switch {
	case k.Given():
		o.Ring, err = k.Ring(envFile, getenv, loaded)
		o.PromoteTarget = true
	case envFile == "":
		o.Ring, err = fallback()
	}
	return o, err
}

// Ring checks the flags (one source per key, no new key without the old,
// not with an env file) and returns ExplicitRing of the keys they name:
// [new, old, the other loaded keys]. getenv reads the named variables;
// loaded, the environment's ring, may be nil. Bad input is a *UsageError.
func (k ExplicitKeys) Ring(envFile string, getenv func(string) string, loaded *fernet.Ring) (*fernet.Ring, error) {
	switch {
	case k.OldFile != "" && k.OldEnv != "":
		return nil, usage("", "--old-key-file and --old-key-env: give one")
	case k.NewFile != "" && k.NewEnv != "":
		return nil, usage("", "--new-key-file and --new-key-env: give one")
	case k.OldFile == "" && k.OldEnv == "":
		return nil, usage("give the old key too: --old-key-file F or --old-key-env VAR", "--new-key-file/--new-key-env need --old-key-file or --old-key-env")
	case envFile != "":
		return nil, usage("", "--env-file and --old-key-*: give one")
	}
	old, err := keyFrom("--old-key-file", k.OldFile, "--old-key-env", k.OldEnv, getenv)
	if err != nil {
		return nil, err
	}
	nk, err := keyFrom("--new-key-file", k.NewFile, "--new-key-env", k.NewEnv, getenv)
	if err != nil {
		return nil, err
	}
	ring, err := ExplicitRing(old, nk, loaded)
	if errors.Is(err, ErrNoNewKey) {
		return nil, usage("give --new-key-file F, or set "+config.EnvFernetKey, "no new key")
	}
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	return ring, nil
}

// keyFrom reads the key of file, else of the variable env; nil when
// neither is given.
func keyFrom(fileFlag, file, envFlag, env string, getenv func(string) string) (*fernet.Key, error) {
	if file != "" || env == "" {
		return ReadKeyFile(fileFlag, file)
	}
	k, err := config.KeyVar(getenv, env)
	if errors.Is(err, config.ErrVarUnset) {
		return nil, usage("export the variable, or use "+fileFlag, "%s: $%s is not set", envFlag, env)
	}
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	return k, nil
}

// ReadKeyFile reads one Fernet key from a file that neither group nor
// others may read or write (safefile.ReadPrivate, as ssh wants of a
// private key); nil when path is "" (none given). Errors are *UsageError
// naming flag, never the key.
func ReadKeyFile(flag, path string) (*fernet.Key, error) {
	if path == "" {
		return nil, nil
	}
	b, err := safefile.ReadPrivate(path, 4096)
	if errors.Is(err, safefile.ErrTooOpen) {
		return nil, usage("chmod 600 "+path, "%s: %v", flag, err)
	}
	if err != nil {
		return nil, usage("write the key to a file readable only by you (mode 0600)", "%s: cannot read %s", flag, path)
	}
	k, err := config.ParseKeyVar(flag, strings.TrimSpace(string(b)))
	if err != nil {
		return nil, &UsageError{Msg: err.Error(), Hint: "the file must hold one key as 'sa01-secrets generate key' prints it"}
	}
	return k, nil
}

// CheckForce checks key retire's --force and --reason: a forced
// retirement says why, and only a forced one gives a reason.
func CheckForce(force bool, reason string) error {
	if force && strings.TrimSpace(reason) == "" {
		return usage("say why: --force --reason \"INC-42: key exposed\"", "--force needs --reason")
	}
	if !force && reason != "" {
		return usage("", "--reason is only for --force")
	}
	return nil
}

// ReadEnvRing reads the env file at path and returns the ring it
// configures (EnvRing).
func ReadEnvRing(path string) (*fernet.Ring, error) {
	ef, err := dotenv.Read(path)
	if err != nil {
		return nil, err
	}
	return EnvRing(ef)
}
