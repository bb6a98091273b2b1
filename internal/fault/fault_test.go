package fault

import (
	"errors"
	"io/fs"
	"testing"
)

func TestNew(t *testing.T) {
	if New(Usage, nil, "hint") != nil {
		t.Fatal("New(nil) is not nil")
	}
	err := New(Unavailable, fs.ErrNotExist, "check it")
	var fe *Error
	if !errors.As(err, &fe) || fe.Class != Unavailable || fe.Hint != "check it" || !errors.Is(err, fs.ErrNotExist) || err.Error() != fs.ErrNotExist.Error() {
		t.Fatalf("New: %#v", err)
	}
}
