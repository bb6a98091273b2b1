package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// Trail is where the audit verbs read: a store beside this process
// ([Local]) or a server (remote.Backend), in the same shapes.
type Trail interface {
	Tail
	HeadReader
	// AuthenticHead is the chain's head, its MAC checked under the audit
	// key ([AuthenticHead]).
	AuthenticHead(ctx context.Context) (Head, error)
	// VerifyAudit verifies the whole chain, up to anchor when it is not ""
	// ([VerifyStore]).
	VerifyAudit(ctx context.Context, anchor string) (Result, error)
}

// TrailStore is what Local reads of a store.
type TrailStore interface {
	Tail
	HeadReader
	ChainReader
}

// Local is the Trail of a store. Key opens its audit key, which the
// chain's MACs need and a query does not: it is called only for them.
type Local struct {
	TrailStore
	Key func() (*MACKey, error)
}

var _ Trail = Local{}

// AnchorError is an anchor that cannot be read or used (a flag's value);
// Hint says what to give instead.
type AnchorError struct {
	Err  error
	Hint string
}

func (e *AnchorError) Error() string { return e.Err.Error() }
func (e *AnchorError) Unwrap() error { return e.Err }

// AuthenticHead is [AuthenticHead] under the store's audit key.
func (l Local) AuthenticHead(ctx context.Context) (Head, error) {
	key, err := l.Key()
	if err != nil {
		return Head{}, err
	}
	return AuthenticHead(ctx, l.TrailStore, key)
}

// VerifyAudit verifies the store's chain under its audit key, up to
// anchor when it is not "": SEQ:HASH or an audit file ([ReadAnchor]).
func (l Local) VerifyAudit(ctx context.Context, anchor string) (Result, error) {
	key, head, err := l.anchored(anchor)
	if err != nil {
		return Result{}, err
	}
	return VerifyStore(ctx, l.TrailStore, []MACKey{*key}, head)
}

// VerifyFile verifies the JSON-lines audit file r (named name) under the
// store's audit key ([VerifyFile]); anchor, when not "", must be
// readable as for VerifyAudit.
func (l Local) VerifyFile(r io.Reader, name, anchor string) (Result, error) {
	key, _, err := l.anchored(anchor)
	if err != nil {
		return Result{}, err
	}
	res, err := VerifyFile(r, key)
	if err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", name, err)
	}
	return res, nil
}

// ErrFileNeedsKey is an audit file given to a Trail that is not Local:
// a file is checked under the audit key, which only the store's side holds.
var ErrFileNeedsKey = errors.New("audit verify --file needs the audit key, beside the store")

// Verify verifies the chain of t, or, when file is not "", the JSON-lines
// audit file it names ("-": in) under t's audit key (Local only:
// ErrFileNeedsKey, a usage fault; a file that cannot be opened is a
// not-found fault), up to anchor when it is not "". It also returns what
// it verified, for [Result.Verdict]: "store", "server", or file.
func Verify(ctx context.Context, t Trail, file string, in io.Reader, anchor string) (Result, string, error) {
	l, local := t.(Local)
	switch {
	case file == "":
		res, err := t.VerifyAudit(ctx, anchor)
		return res, map[bool]string{true: "store", false: "server"}[local], err
	case !local:
		return Result{}, "", fault.New(fault.Usage, ErrFileNeedsKey, "run it on the store's node without "+config.EnvSecretsAddr)
	case file == "-":
		res, err := l.VerifyFile(in, file, anchor)
		return res, file, err
	}
	f, err := os.Open(file)
	if err != nil {
		// A file the caller named that cannot be opened is a usage error,
		// as every other verb's input file.
		return Result{}, "", fault.New(fault.Usage, fmt.Errorf("--file: %w", err), "")
	}
	defer f.Close()
	res, err := l.VerifyFile(f, file, anchor)
	return res, file, err
}

func (l Local) anchored(anchor string) (*MACKey, *Head, error) {
	key, err := l.Key()
	if err != nil || anchor == "" {
		return key, nil, err
	}
	h, err := ReadAnchor(anchor, key)
	if err != nil {
		return nil, nil, &AnchorError{Err: err}
	}
	return key, &h, nil
}

// WriteTail writes the last n events of t to w in format (table, with a
// header, or jsonl), then with follow each new one, looking every
// interval, until ctx ends.
func WriteTail(ctx context.Context, w io.Writer, t Trail, n int, format string, follow bool, every time.Duration) error {
	var es []Entry
	var err error
	if n > 0 {
		if es, err = t.QueryAudit(ctx, Query{Limit: n, Newest: true}); err != nil {
			return err
		}
	}
	if err := WriteEntries(w, es, format, format == "table"); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	return Follow(ctx, t, every, func(es []Entry) error {
		return WriteEntries(w, es, format, false)
	})
}

// Verdict is the JSON form of `audit verify`: the result of verifying
// the chain of source (store, server or a file's name).
type Verdict struct {
	OK     bool   `json:"ok"`
	Source string `json:"source"`
	Result
	HeadSeq int64 `json:"head_seq"`
}

// Verdict returns r as verified in source.
func (r Result) Verdict(source string) Verdict {
	return Verdict{OK: r.OK(), Source: source, Result: r, HeadSeq: r.Head.Seq}
}

// WriteText writes r in a line or two, as `audit verify` prints it;
// isFile says a file was verified, which has no anchor to miss.
func (r Result) WriteText(w io.Writer, isFile bool) {
	if !r.OK() {
		fmt.Fprintf(w, "audit chain BROKEN: %s\n%d events verified before it\n", r.Problem.Error(), r.Events)
		return
	}
	fmt.Fprintf(w, "audit chain intact: %d events, head %s, %d checkpoints matched", r.Events, r.Head, r.Checkpoints)
	if r.Unauthenticated > 0 {
		fmt.Fprintf(w, " (%d not authenticated: no key loaded for them)", r.Unauthenticated)
	}
	if r.Anchored {
		fmt.Fprint(w, ", anchor reached")
	} else if !isFile {
		fmt.Fprint(w, "; no --anchor: a removed tail would not show")
	}
	fmt.Fprintln(w)
}
