// Package fault classifies the errors that stop a workflow before it can
// do its work (a setting that cannot work, a store that cannot be
// reached), and carries with each what the operator can do about it. The
// CLI turns a class into an exit code and prints the hint on its own line;
// the packages that assemble a store, a server or a client say which class
// and which hint, as they know the remedy.
package fault

// Class is the kind of failure: it decides the CLI's exit code.
type Class int

// The classes, each one of the CLI's exit codes.
const (
	Usage        Class = iota + 1 // a flag, a variable or a file the operator gave cannot work
	InvalidToken                  // a key that is needed is not loaded
	Denied                        // no credential, or not allowed
	NotFound                      // no such thing
	Conflict                      // a check-and-set write lost
	Unavailable                   // the store, the server or an audit sink cannot be reached
	CheckFailed                   // a check or a job ran, and found or left something wrong
	Failed                        // any other failure, with its hint
)

// Error is an error of a class, with an optional hint.
type Error struct {
	Class Class
	Err   error
	Hint  string // what to do about it; "" when nothing useful can be said
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New returns err as an error of class c with hint, or nil when err is nil.
func New(c Class, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Err: err, Hint: hint}
}
