package identity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// SaveError is a credential that was issued but could not be written to
// its file.
type SaveError struct{ Err error }

func (e *SaveError) Error() string { return e.Err.Error() }
func (e *SaveError) Unwrap() error { return e.Err }

// Deliver hands the new credential over once: written to file (0600,
// atomically; a *SaveError when it cannot be) when file is not "", else
// printed on out. It says on notes what to do with it: keep it in the file
// the variable env names.
func (is Issued) Deliver(out, notes io.Writer, file, env string) error {
	name, exp := is.Identity.Name, is.Record.ExpiresAt.UTC().Format("2006-01-02")
	if file != "" {
		if err := PrepareFile(file, true); err != nil {
			return &SaveError{err}
		}
		if err := safefile.WriteFile(file, []byte(is.Credential.Reveal()+"\n"), safefile.Options{}); err != nil {
			return &SaveError{err}
		}
		fmt.Fprintf(notes, "sa01-secrets: the credential of %s is in %s (0600); it expires on %s\n", name, file, exp)
		fmt.Fprintf(notes, "hint: export %s=%s\n", env, file)
		return nil
	}
	fmt.Fprintf(notes, "sa01-secrets: the credential of %s, shown once (it expires on %s); keep it in a 0600 file named by %s\n", name, exp, env)
	_, err := fmt.Fprintln(out, is.Credential.Reveal())
	return err
}

// PrepareFile makes ready the directory of a credential file, before the
// credential is issued, so that a file in a directory not yet made (the
// first ~/.config/sa01/admin.credential) does not lose it: the directory
// and its missing parents are created 0700. A file that is a directory, or
// a directory that cannot be made, is an error naming file; so is a file
// that exists unless replace (a rotation replaces its identity's file; a
// new identity would overwrite another's credential). The error is a
// fault.Usage, for --credential-file, with a hint.
func PrepareFile(file string, replace bool) error {
	if err := prepareFile(file, replace); err != nil {
		return fault.New(fault.Usage, fmt.Errorf("--credential-file: %w", err),
			"give --credential-file the path of a file, in a directory you can create or write to")
	}
	return nil
}

func prepareFile(file string, replace bool) error {
	if file == "" {
		return nil
	}
	if _, err := os.Lstat(file); err == nil && !replace {
		return fmt.Errorf("%s: exists: a new identity's credential goes to a new file (identity rotate replaces its own)", file)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot create its directory %s: %w", file, dir, err)
	}
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory, not a file", file)
	}
	return nil
}
