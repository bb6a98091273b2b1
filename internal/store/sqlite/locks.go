package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// swapChunk is how many swaps one UPDATE statement carries (5 bound
// values each, well under SQLite's limit of 32766).
const swapChunk = 500

// swapSQL is the dialect's Swap: UPDATE ... FROM (VALUES ...) with
// compare-and-swap on the old token, RETURNING the rows it changed.
func swapSQL(swaps []store.TokenSwap) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 5*len(swaps))
	b.WriteString(`UPDATE versions SET token = u.column3, key_id = u.column4, binding = u.column5 FROM (VALUES `)
	for i, s := range swaps {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("(?,?,?,?,?)")
		args = append(args, s.ID, s.Old, s.New.Token, s.New.KeyID, s.New.Binding)
	}
	b.WriteString(`) AS u WHERE versions.id = u.column1 AND versions.token = u.column2 AND versions.destroyed_at IS NULL RETURNING versions.id`)
	return b.String(), args
}

// LockRotation implements store.Rotation with an flock on a file beside the
// database (FILE.rotate-lock, 0600): every process using a SQLite store
// runs on its host, and the kernel releases the lock when the holder dies.
func (d *DB) LockRotation(ctx context.Context) (func() error, error) {
	unlock, ok, err := tryFlock(d.path + ".rotate-lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: rotation lock: %w", err)
	}
	if !ok {
		return nil, store.ErrLocked
	}
	return unlock, nil
}

// LockPublisher implements audit.Outbox with an flock on a file beside the
// database, one per cursor (FILE.publish-<hash of the cursor name>.lock,
// 0600), as LockRotation does.
func (d *DB) LockPublisher(ctx context.Context, name string) (func() error, bool, error) {
	sum := sha256.Sum256([]byte(name))
	unlock, ok, err := tryFlock(d.path + ".publish-" + hex.EncodeToString(sum[:8]) + ".lock")
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: publisher lock: %w", err)
	}
	return unlock, ok, nil
}

// tryFlock takes an exclusive flock on path (created 0600) without
// waiting; ok is false when another holder has it. unlock closes the file,
// which releases it.
func tryFlock(path string) (unlock func() error, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, notWritable(path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f.Close, true, nil
}
