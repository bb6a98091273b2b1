package rotate

import (
	"errors"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// ErrorKind sorts the errors of the rotation verbs by what the caller did
// wrong or met; the CLI maps each to its exit status.
type ErrorKind int

// The kinds Advise returns.
const (
	KindOther        ErrorKind = iota // anything else: the error as it is
	KindUsage                         // bad flags, env file or targets file
	KindConflict                      // another rotation, an edit meanwhile, a key state --force overrides
	KindInvalidToken                  // the keys do not match the data
	KindNotFound                      // no such key
	KindCheckFailed                   // the job ran, and left what it could not do
)

// Advise says what kind of error err is and what to do about it, without
// repeating the message.
func Advise(err error) (ErrorKind, string) {
	var ue *UsageError
	var te *targets.Error
	var ee *dotenv.FileError
	var km *KeyMismatchError
	var mk *MissingKeysError
	var le *LockedError
	var ke *KeyStateError
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return KindOther, ""
	case errors.As(err, &ue):
		return KindUsage, ue.Hint
	case errors.As(err, &te):
		return KindUsage, ""
	case errors.Is(err, ErrTargetFailures):
		return KindCheckFailed, "'sa01-secrets targets status' counts them; they were left as they are"
	case errors.Is(err, dotenv.ErrChanged):
		return KindConflict, "something else edited the env file; run the command again"
	case errors.Is(err, ErrNoKeyInFile):
		return KindUsage, "pass the env file the services load with --env-file FILE"
	case errors.As(err, &ee):
		return KindUsage, "pass the env file the services load with --env-file FILE (default .env)"
	case errors.As(err, &km), errors.As(err, &mk):
		return KindInvalidToken, "load the keys the data needs (see 'sa01-secrets key list'), or point --env-file at the right file; nothing was changed"
	case errors.As(err, &le):
		return KindConflict, "wait for it to finish, or pass --wait 10m to wait for it"
	case errors.As(err, &ke) && ke.Forceable:
		return KindConflict, "to retire it anyway (for a compromised key): --force --reason \"...\""
	case errors.As(err, &ke):
		return KindUsage, "'sa01-secrets key list' shows every key's state"
	case errors.Is(err, store.ErrNotFound):
		return KindNotFound, "'sa01-secrets key list' shows the keys the store knows"
	case errors.Is(err, ErrFailures):
		return KindInvalidToken, "the versions listed above were left as they were; 'sa01-secrets verify' shows why"
	}
	return KindOther, ""
}
