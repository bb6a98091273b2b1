package rotate

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockFileExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env.lock")
	ctx := context.Background()
	l1, err := LockFile(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockFile(ctx, p, 0)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || !strings.Contains(le.Holder, "pid ") {
		t.Fatalf("second lock: %v", err)
	}
	// A waiter gets it once the first is released.
	done := make(chan error, 1)
	go func() {
		l, err := LockFile(ctx, p, time.Minute)
		if err == nil {
			err = l.Release()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v", st.Mode().Perm())
	}
}

// TestLockHelper is the child process of TestLockFileReleasedByKill.
func TestLockHelper(t *testing.T) {
	p := os.Getenv("SA01_TEST_LOCK_HELPER")
	if p == "" {
		t.Skip("helper process only")
	}
	if _, err := LockFile(context.Background(), p, 0); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
}

// The kernel drops the lock of a process killed with SIGKILL.
func TestLockFileReleasedByKill(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), "SA01_TEST_LOCK_HELPER="+p)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("helper: %q, %v", buf, err)
	}
	if _, err := LockFile(context.Background(), p, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("while the helper holds it: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l, err := LockFile(context.Background(), p, 0)
	if err != nil {
		t.Fatalf("after kill: %v", err)
	}
	l.Release()
}
