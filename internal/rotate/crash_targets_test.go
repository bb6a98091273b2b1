package rotate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

// TestCrashReencryptTargets kills `reencrypt --targets` with SIGKILL at
// random points over a Redis hash of 6000 fields, one per batch so a run
// lasts long enough on a quiet machine for kills to land inside it: after every kill each
// field still opens under the env file's ring with its original value,
// and a rerun finishes with every field under the new key.
func TestCrashReencryptTargets(t *testing.T) {
	bin := buildBinary(t)
	url, rc, prefix := targetstest.Redis(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "secrets.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	old, next := fernet.GenerateKey(), fernet.GenerateKey()
	now := time.Now().UTC()
	st.EnsureKey(ctx, store.KeyInfo{ID: old.ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now})
	st.EnsureKey(ctx, store.KeyInfo{ID: next.ID(), State: store.KeyPending, CreatedAt: now})
	if err := st.PromoteKey(ctx, next.ID(), now, now.Add(RetentionPeriod)); err != nil {
		t.Fatal(err)
	}
	ring, _ := fernet.NewRing(next, old)
	if _, err := secrets.New(st, ring, nil, nil).Put(ctx, "platform/redis_url", sensitive.New(url), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte("SA01_CRYPTO_FERNET_KEY="+next.Encode()+"\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS="+old.Encode()+"\n"), 0o600)
	hash := prefix + "gateway:secrets"
	tf := filepath.Join(dir, "targets.yaml")
	os.WriteFile(tf, []byte(fmt.Sprintf("targets:\n  gw:\n    redis: {url_secret: platform/redis_url, hash: %q}\n", hash)), 0o600)
	const n = 6000
	want := map[string]string{}
	args := []any{}
	for i := range n {
		f, v := fmt.Sprintf("provider:p%d", i), fmt.Sprintf("sk-%d", i)
		want[f] = v
		args = append(args, f, old.Encrypt([]byte(v)))
	}
	if err := rc.HSet(ctx, hash, args...).Err(); err != nil {
		t.Fatal(err)
	}
	command := func() *exec.Cmd {
		cmd := exec.Command(bin, "reencrypt", "--targets", "--env-file", env, "--batch-size", "1", "--quiet")
		cmd.Env = []string{"SA01_SECRETS_DB_DSN=sqlite://" + db, "SA01_SECRETS_TARGETS_FILE=" + tf,
			"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		return cmd
	}
	moved := func() (underNew int) {
		all, err := rc.HGetAll(ctx, hash).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != n {
			t.Fatalf("%d fields; want %d", len(all), n)
		}
		for f, tok := range all {
			v, k, err := ring.DecryptWithKey([]byte(tok))
			if err != nil || string(v) != want[f] {
				t.Fatalf("%s: %q, %v; want %q", f, v, err, want[f])
			}
			if k == next {
				underNew++
			}
		}
		return underNew
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	mid := 0
	for round := 0; round < 8; round++ {
		before := moved()
		if before == n {
			break
		}
		cmd := command()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// kill once a random number of further fields has moved
		goal := before + 1 + rng.IntN((n-before)/2+1)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if countNew(t, rc, hash, next) >= goal {
				break
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		after := moved()
		t.Logf("round %d: killed (%v) with %d of %d moved", round, err != nil, after, n)
		if err != nil && after > before && after < n {
			mid++
		}
	}
	if mid == 0 {
		t.Fatal("no kill landed mid re-encryption")
	}
	out, err := command().CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if got := moved(); got != n {
		t.Fatalf("after the rerun %d of %d under the new key\n%s", got, n, out)
	}
}

// countNew counts the hash's tokens under k.
func countNew(t *testing.T, rc *redis.Client, hash string, k *fernet.Key) int {
	vals, err := rc.HVals(context.Background(), hash).Result()
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, v := range vals {
		if _, err := k.Decrypt([]byte(v)); err == nil {
			c++
		}
	}
	return c
}
