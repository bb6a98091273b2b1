package rotate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// buildBinary builds cmd/sa01-secrets once for the crash tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and kills it many times; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sa01-secrets")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/somaagent01/sa01-secrets/cmd/sa01-secrets")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashCase is one kind of run to kill.
type crashCase struct {
	t    *testing.T
	bin  string
	d    driver
	st   fullStore
	n    int
	vals map[string]string
	env  string
	k1   *fernet.Key
	orig []byte
	args []string
	// moved reports how many versions are under keys other than start.
	start string
}

func (c *crashCase) command(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, c.args...)
	cmd.Env = []string{"SA01_SECRETS_DB_DSN=" + c.d.dsn, "HOME=" + filepath.Dir(c.env), "PATH=" + os.Getenv("PATH")}
	// reencrypt without --env-file reads the keys from the environment.
	if ef, err := dotenv.Read(c.env); err == nil {
		for _, v := range []string{"SA01_CRYPTO_FERNET_KEY", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS"} {
			if val, ok := ef.Lookup(v); ok && !contains(c.args, "--env-file") {
				cmd.Env = append(cmd.Env, v+"="+val)
			}
		}
	}
	return cmd
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// moved counts the versions no longer under the starting key.
func (c *crashCase) moved() int64 {
	counts, err := c.st.CountByKey(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	var n int64
	for id, v := range counts {
		if id != c.start {
			n += v
		}
	}
	return n
}

// checkReadable asserts the env file on disk is one whole file of the
// rotation (its ring parses) and that every version decrypts, its binding
// holding, under that ring. It returns the ring.
func (c *crashCase) checkReadable(when string) *fernet.Ring {
	c.t.Helper()
	ef, err := dotenv.Read(c.env)
	if err != nil {
		c.t.Fatalf("%s: env file: %v", when, err)
	}
	ring, err := EnvRing(ef)
	if err != nil {
		c.t.Fatalf("%s: env file is not whole: %v", when, err)
	}
	svc := secrets.New(c.st, ring, nil, nil)
	rep, err := svc.Verify(context.Background())
	if err != nil {
		c.t.Fatalf("%s: verify: %v", when, err)
	}
	if rep.Failed != 0 || rep.Versions != int64(c.n) {
		c.t.Fatalf("%s: %d of %d versions fail under the env file on disk: %+v", when, rep.Failed, rep.Versions, rep.Failures)
	}
	for _, kr := range rep.Keys {
		if !kr.Loaded {
			c.t.Fatalf("%s: versions under key %s, not in the env file", when, kr.KeyID)
		}
	}
	return ring
}

// run starts the command and kills it with SIGKILL when kill says so (or
// lets it finish); it reports whether the kill landed before the end.
func (c *crashCase) runKilled(kill func(start time.Time) bool) (killed bool) {
	c.t.Helper()
	cmd := c.command(context.Background())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	for {
		select {
		case err := <-done:
			if err != nil {
				c.t.Fatalf("%v exited before the kill: %v\n%s", c.args, err, stderr.String())
			}
			return false
		default:
		}
		if kill(start) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err := <-done
			return err != nil
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// finish reruns the command to completion.
func (c *crashCase) finish() string {
	c.t.Helper()
	out, err := c.command(context.Background()).CombinedOutput()
	if err != nil {
		c.t.Fatalf("rerun of %v failed: %v\n%s", c.args, err, out)
	}
	return string(out)
}

// killPlan picks, at random, when to kill: after a random delay (early
// steps: lock, check, stage), after a random number of versions moved
// (mid re-encryption, batch by batch), or a random delay after the last
// version moved (promotion in the env file and the store, sweep). With
// early set it always kills in the first quarter of the re-encryption: the
// extra rounds a test adds when no random kill landed there (on a fast
// machine the whole re-encryption can fit between two polls).
func killPlan(rng *rand.Rand, c *crashCase, calib time.Duration, early bool) (string, func(time.Time) bool) {
	if early {
		target := 1 + rng.Int64N(int64(c.n/4))
		return "early batches", func(time.Time) bool { return c.moved() >= target }
	}
	switch rng.IntN(4) {
	case 0:
		d := time.Duration(rng.Int64N(int64(calib)))
		return "delay", func(s time.Time) bool { return time.Since(s) >= d }
	case 1, 2: // the most informative: twice as likely
		target := 1 + rng.Int64N(int64(c.n-1))
		return "batches", func(time.Time) bool { return c.moved() >= target }
	default:
		d := time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
		var at time.Time
		return "after-moves", func(time.Time) bool {
			if at.IsZero() {
				if c.moved() < int64(c.n) {
					return false
				}
				at = time.Now()
			}
			return time.Since(at) >= d
		}
	}
}

// TestCrashKeyRotate kills `key rotate` with SIGKILL at random points, many
// times, on SQLite and PostgreSQL. After every kill the env file is one
// whole file (original, staged or final) under which every version
// decrypts; rerunning completes the rotation.
func TestCrashKeyRotate(t *testing.T) {
	bin := buildBinary(t)
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			iters := 20
			if d.name == "postgres" {
				iters = 8
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
			st := d.open(t)
			c := &crashCase{t: t, bin: bin, d: d, st: st, n: 300}
			c.k1 = fernet.GenerateKey()
			c.vals = seedStore(t, st, mustRing(t, c.k1), c.n)
			c.env = filepath.Join(t.TempDir(), ".env")
			c.orig = []byte("# node settings\nSA01_AUTH_REQUIRED=true\nSA01_CRYPTO_FERNET_KEY=" + c.k1.Encode() + "\n")
			if err := os.WriteFile(c.env, c.orig, 0o600); err != nil {
				t.Fatal(err)
			}
			c.args = []string{"key", "rotate", "--env-file", c.env, "--batch-size", "3", "--quiet"}
			// Calibrate: one full rotation, timed.
			c.start = c.k1.ID()
			t0 := time.Now()
			c.finish()
			calib := time.Since(t0)
			stats := map[string]int{}
			// Past iters, rounds go on (at most 40 more) until a kill lands
			// mid re-encryption.
			i := 0
			for ; i < iters || (i < iters+40 && stats["killed mid-reencrypt"] == 0); i++ {
				ring := c.checkReadable("before iteration")
				before, _ := os.ReadFile(c.env)
				c.start = ring.Primary().ID()
				plan, kill := killPlan(rng, c, calib, i >= iters)
				killed := c.runKilled(kill)
				moved := c.moved()
				after := c.checkReadable(fmt.Sprintf("iteration %d (%s), after the kill", i, plan))
				// The file is wholly one of: as before, staged, final.
				nowBytes, _ := os.ReadFile(c.env)
				phase := "final"
				switch {
				case bytes.Equal(nowBytes, before):
					phase = "original"
				case after.Primary().ID() == ring.Primary().ID():
					phase = "staged"
					if len(after.Keys()) != len(ring.Keys())+1 {
						t.Fatalf("iteration %d: staged file has %d keys, want %d", i, len(after.Keys()), len(ring.Keys())+1)
					}
				case len(after.Keys()) != len(ring.Keys())+1 || after.Keys()[1].ID() != ring.Primary().ID():
					t.Fatalf("iteration %d: env file is neither old, staged nor final", i)
				}
				if killed && moved > 0 && moved < int64(c.n) {
					stats["killed mid-reencrypt"]++
				}
				stats["env file "+phase]++
				if !killed {
					stats["finished before the kill"]++
				}
				for _, e := range mustReadDir(t, filepath.Dir(c.env)) {
					if strings.Contains(e, ".tmp-") && !killed {
						t.Errorf("temporary file %s left by a run that finished", e)
					}
				}
				c.finish()
				final := c.checkReadable(fmt.Sprintf("iteration %d, after the rerun", i))
				counts, _ := st.CountByKey(context.Background())
				if counts[final.Primary().ID()] != int64(c.n) {
					t.Fatalf("iteration %d: after the rerun, %v; want all %d under %s", i, counts, c.n, final.Primary().ID())
				}
				keys, _ := st.ListKeys(context.Background())
				active := 0
				for _, k := range keys {
					if k.State == store.KeyActive {
						active++
						if k.ID != final.Primary().ID() {
							t.Fatalf("iteration %d: the store's active key %s is not the env file's primary", i, k.ID)
						}
					}
				}
				if active != 1 {
					t.Fatalf("iteration %d: %d active keys", i, active)
				}
				// Keep the ring from growing without bound: retire the oldest
				// previous keys (none of them holds a version now).
				if len(final.Keys()) > 3 {
					oldest := final.Keys()[len(final.Keys())-1]
					r := &Rotator{Store: st, Now: func() time.Time { return time.Now().Add(RetentionPeriod + time.Hour) }}
					if _, err := r.Retire(context.Background(), oldest.ID(), c.env, false, ""); err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Logf("%d kills on %s: %v", i, d.name, stats)
			if stats["killed mid-reencrypt"] == 0 {
				t.Errorf("no kill landed in the middle of the re-encryption: %v", stats)
			}
			// Every value still reads back exactly.
			ef, _ := dotenv.Read(c.env)
			ring, _ := EnvRing(ef)
			svc := secrets.New(st, ring, nil, nil)
			for name, want := range c.vals {
				v, err := svc.Get(context.Background(), name, 0)
				if err != nil || v.Value.Reveal() != want {
					t.Fatalf("%s: %v", name, err)
				}
			}
		})
	}
}

// TestCrashReencrypt kills `reencrypt` at random points; the rerun moves
// what is left and every version decrypts throughout.
func TestCrashReencrypt(t *testing.T) {
	bin := buildBinary(t)
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			iters := 12
			if d.name == "postgres" {
				iters = 8
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
			st := d.open(t)
			c := &crashCase{t: t, bin: bin, d: d, st: st, n: 300}
			c.k1 = fernet.GenerateKey()
			c.vals = seedStore(t, st, mustRing(t, c.k1), c.n)
			c.env = filepath.Join(t.TempDir(), ".env")
			ctx := context.Background()
			stats := map[string]int{}
			prev := c.k1
			var calib time.Duration
			// Past iters, rounds go on (at most 40 more) until a kill lands
			// mid re-encryption.
			i := 0
			for ; i < iters || (i < iters+40 && stats["killed mid-reencrypt"] == 0); i++ {
				// A new key, promoted; the versions are all under prev.
				k := fernet.GenerateKey()
				if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: k.ID(), State: store.KeyPending, CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
				if err := st.PromoteKey(ctx, k.ID(), time.Now(), time.Now().Add(RetentionPeriod)); err != nil {
					t.Fatal(err)
				}
				content := "SA01_CRYPTO_FERNET_KEY=" + k.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + prev.Encode() + "\n"
				if err := os.WriteFile(c.env, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				c.start = prev.ID()
				if i%2 == 0 {
					c.args = []string{"reencrypt", "--env-file", c.env, "--batch-size", "2", "--quiet"}
				} else {
					c.args = []string{"reencrypt", "--batch-size", "2", "--quiet"} // keys from the environment
				}
				if i == 0 {
					t0 := time.Now()
					c.finish()
					calib = time.Since(t0)
				} else {
					plan, kill := killPlan(rng, c, calib, i >= iters)
					killed := c.runKilled(kill)
					moved := c.moved()
					c.checkReadable(fmt.Sprintf("iteration %d (%s), after the kill", i, plan))
					if killed && moved > 0 && moved < int64(c.n) {
						stats["killed mid-reencrypt"]++
					}
					c.finish()
				}
				c.checkReadable(fmt.Sprintf("iteration %d, after the rerun", i))
				counts, _ := st.CountByKey(ctx)
				if counts[k.ID()] != int64(c.n) {
					t.Fatalf("iteration %d: %v, want all under %s", i, counts, k.ID())
				}
				prev = k
			}
			t.Logf("%d kills on %s: %v", i-1, d.name, stats)
			if stats["killed mid-reencrypt"] == 0 {
				t.Errorf("no kill landed in the middle of the re-encryption: %v", stats)
			}
		})
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
