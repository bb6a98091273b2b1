package rotate

import (
	"context"
	"errors"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func TestCheckTargetsUnreadableFileIsAUsageFault(t *testing.T) {
	ring, err := fernet.NewRing(fernet.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("targets file: no such target kind")
	var fe *fault.Error
	if err := (&StatusReport{}).CheckTargets(context.Background(), &Targets{Err: bad}, ring); !errors.As(err, &fe) || fe.Class != fault.Usage || !errors.Is(err, bad) || fe.Hint == "" {
		t.Fatalf("CheckTargets = %v, want a usage fault with a hint wrapping the file's error", err)
	}
	if err := (&StatusReport{}).CheckTargets(context.Background(), nil, ring); err != nil {
		t.Fatalf("no targets file: %v", err)
	}
}
