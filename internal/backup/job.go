package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Job runs backup, restore and migrate beside a store: Open opens it
// (create: a restore may make a missing one; backup and migrate need one
// that exists), OpenRecorder opens a store's audit recorder, and Options go
// to every run.
type Job struct {
	Open         func(ctx context.Context, create bool) (store.Store, error)
	OpenRecorder func(ctx context.Context, st store.Store) (audit.Recorder, error)
	Options      Options
}

// source opens the store and its recorder.
func (j *Job) source(ctx context.Context) (store.Store, audit.Recorder, error) {
	st, err := j.Open(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	rec, err := j.OpenRecorder(ctx, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, rec, nil
}

// recorderOf opens st's recorder when called: after a restore or migrate
// loaded the audit key into it.
func (j *Job) recorderOf(st store.Store) OpenRecorder {
	return func(ctx context.Context) (audit.Recorder, error) { return j.OpenRecorder(ctx, st) }
}

// Backup writes a backup of the store to path (ToFile).
func (j *Job) Backup(ctx context.Context, path string) (Summary, error) {
	st, rec, err := j.source(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer st.Close()
	return ToFile(ctx, st, rec, path, j.Options)
}

// Restore loads the backup r into the store, which must be empty
// (Restore); a missing store is made. Its recorder opens once the backup,
// and the audit key it holds, are loaded.
func (j *Job) Restore(ctx context.Context, r io.Reader) (Report, error) {
	st, err := j.Open(ctx, true)
	if err != nil {
		return Report{}, err
	}
	defer st.Close()
	return Restore(ctx, r, st, j.recorderOf(st), j.Options)
}

// Migrate moves the store into the empty store openDst opens (Migrate),
// which is opened only once the source is; to names it without a
// password.
func (j *Job) Migrate(ctx context.Context, openDst func(context.Context) (store.Store, error), to string) (Report, error) {
	src, rec, err := j.source(ctx)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	dst, err := openDst(ctx)
	if err != nil {
		return Report{}, err
	}
	defer dst.Close()
	return Migrate(ctx, src, rec, dst, j.recorderOf(dst), to, j.Options)
}

// OpenInput opens the backup at path to read, or stdin for "-" (closing
// it then does nothing).
func OpenInput(path string, stdin io.Reader) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// refused is a destination migrate refuses, a usage fault: what is
// wrong and, in hint, what to do. It never holds the DSN.
func refused(msg, hint string) error { return fault.New(fault.Usage, errors.New(msg), hint) }

// Destination names migrate's destination store. Its DSN holds a password,
// so it never comes from the command line: Env names a variable holding
// it, File a file whose first line is it; DSN is taken only when it holds
// no password (sqlite:///path, or postgres:// with peer or certificate
// authentication).
type Destination struct{ DSN, Env, File string }

// Resolve returns the DSN of exactly one of the fields; getenv reads Env.
// Bad input is a usage fault naming the flag; a file that cannot be
// opened is a not-found fault wrapping its *fs.PathError.
func (d Destination) Resolve(getenv func(string) string) (string, error) {
	n := 0
	for _, s := range []string{d.DSN, d.Env, d.File} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return "", refused("give exactly one of --to-env VAR, --to-file FILE and --to DSN", "")
	case d.Env != "":
		dsn := strings.TrimSpace(getenv(d.Env))
		if dsn == "" {
			return "", refused(fmt.Sprintf("--to-env: %s is unset or empty", d.Env), "")
		}
		return dsn, nil
	case d.File != "":
		return firstLine(d.File)
	case hasPassword(d.DSN):
		return "", refused("--to: the DSN holds a password, which must not appear on the command line",
			"put it in a variable and use --to-env VAR, or in a file and use --to-file FILE")
	}
	return d.DSN, nil
}

// firstLine reads the DSN on the first line of --to-file path.
func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fault.New(fault.Usage, fmt.Errorf("--to-file: %w", err), "")
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 8192)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("--to-file: %v", err) // not wrapped: only an open failure is a *fs.PathError
	}
	dsn := strings.TrimSpace(line)
	if dsn == "" {
		return "", refused("--to-file: the file's first line is empty", "")
	}
	return dsn, nil
}

// hasPassword reports whether a DSN carries a password (user:pass@ or a
// password parameter).
func hasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return true // unparseable: assume the worst
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "password") {
			return true
		}
	}
	return false
}
