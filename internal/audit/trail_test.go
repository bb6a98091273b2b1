package audit

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// emptyTrail is a store with an empty chain.
type emptyTrail struct{}

func (emptyTrail) AuditHead(context.Context) (Head, error)                 { return EmptyHead, nil }
func (emptyTrail) AuditAfter(context.Context, int64, int) ([]Entry, error) { return nil, nil }
func (emptyTrail) QueryAudit(context.Context, Query) ([]Entry, error)      { return nil, nil }
func (emptyTrail) WalkAudit(context.Context, int, func([]Entry) error) error {
	return nil
}
func (emptyTrail) AuditCheckpoints(context.Context) ([]Checkpoint, error) { return nil, nil }

// TestLocalTrail: a query and a tail never open the audit key (an auditor
// without the Fernet keys reads the trail); verifying does, and an anchor
// that is neither SEQ:HASH nor a readable file is an AnchorError.
func TestLocalTrail(t *testing.T) {
	ctx := context.Background()
	noKey := Local{TrailStore: emptyTrail{}, Key: func() (*MACKey, error) { return nil, errors.New("no key loaded") }}
	var out bytes.Buffer
	if err := WriteTail(ctx, &out, noKey, 5, "table", false, 0); err != nil {
		t.Fatalf("tail without a key: %v", err)
	}
	if _, err := noKey.VerifyAudit(ctx, ""); err == nil || err.Error() != "no key loaded" {
		t.Fatalf("verify without a key: %v", err)
	}
	keyed := Local{TrailStore: emptyTrail{}, Key: func() (*MACKey, error) { return chainKey, nil }}
	var ae *AnchorError
	if _, err := keyed.VerifyAudit(ctx, "/no/such/anchor"); !errors.As(err, &ae) {
		t.Fatalf("bad anchor: %v, want an AnchorError", err)
	}
	res, err := keyed.VerifyAudit(ctx, "")
	if err != nil || !res.OK() {
		t.Fatalf("empty chain: %+v, %v", res, err)
	}
	out.Reset()
	res.WriteText(&out, false)
	if !strings.HasPrefix(out.String(), "audit chain intact: 0 events") || !strings.Contains(out.String(), "no --anchor") {
		t.Errorf("text = %q", out.String())
	}
}

func TestVerifyRefusesAFileItCannotCheck(t *testing.T) {
	type remoteTrail struct{ Trail }
	if _, _, err := Verify(context.Background(), remoteTrail{}, "audit.jsonl", nil, ""); !errors.Is(err, ErrFileNeedsKey) {
		t.Fatalf("a file through a server: %v, want ErrFileNeedsKey", err)
	}
	var fe *fault.Error
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	if _, _, err := Verify(context.Background(), Local{}, missing, nil, ""); !errors.As(err, &fe) || fe.Class != fault.Usage || !strings.HasPrefix(err.Error(), "--file: ") {
		t.Fatalf("a missing file: %v, want a usage fault naming --file", err)
	}
}
