package rotate

import (
	"errors"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// Fault gives the errors of the rotation verbs their fault class, by what
// the caller did wrong or met, and what to do about it, without repeating
// the message; other errors are returned as they are.
func Fault(err error) error {
	var ue *UsageError
	var te *targets.Error
	var ee *dotenv.FileError
	var km *KeyMismatchError
	var mk *MissingKeysError
	var le *LockedError
	var ke *KeyStateError
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return err
	case errors.As(err, &ue):
		return fault.New(fault.Usage, err, ue.Hint)
	case errors.As(err, &te):
		return fault.New(fault.Usage, err, "")
	case errors.Is(err, ErrTargetFailures):
		return fault.New(fault.CheckFailed, err, "'sa01-secrets targets status' counts them; they were left as they are")
	case errors.Is(err, dotenv.ErrChanged):
		return fault.New(fault.Conflict, err, "something else edited the env file; run the command again")
	case errors.Is(err, ErrNoKeyInFile):
		return fault.New(fault.Usage, err, "pass the env file the services load with --env-file FILE")
	case errors.As(err, &ee):
		return fault.New(fault.Usage, err, "pass the env file the services load with --env-file FILE (default .env)")
	case errors.As(err, &km), errors.As(err, &mk):
		return fault.New(fault.InvalidToken, err, "load the keys the data needs (see 'sa01-secrets key list'), or point --env-file at the right file; nothing was changed")
	case errors.As(err, &le):
		return fault.New(fault.Conflict, err, "wait for it to finish, or pass --wait 10m to wait for it")
	case errors.As(err, &ke) && ke.Forceable:
		return fault.New(fault.Conflict, err, "to retire it anyway (for a compromised key): --force --reason \"...\"")
	case errors.As(err, &ke):
		return fault.New(fault.Usage, err, "'sa01-secrets key list' shows every key's state")
	case errors.Is(err, store.ErrNotFound):
		return fault.New(fault.NotFound, err, "'sa01-secrets key list' shows the keys the store knows")
	case errors.Is(err, ErrFailures):
		return fault.New(fault.InvalidToken, err, "the versions listed above were left as they were; 'sa01-secrets verify' shows why")
	}
	return err
}
