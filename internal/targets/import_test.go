package targets

import (
	"context"
	"errors"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// TestImportFaults: import --from-target of a name the targets file does
// not hold is a not-found fault; of a target it cannot read, a
// check-failed one.
func TestImportFaults(t *testing.T) {
	f := &File{Targets: []Target{{Name: "cache"}}}
	for name, want := range map[string]fault.Class{"nope": fault.NotFound, "cache": fault.CheckFailed} {
		var fe *fault.Error
		if _, err := (&Runner{}).Import(context.Background(), f, name, ""); !errors.As(err, &fe) || fe.Class != want {
			t.Errorf("Import(%q): %v, want a fault of class %v", name, err, want)
		}
	}
}
