package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// TestKilledDuringDeletesLeavesNoStateChangeWithoutItsEvent kills serve
// with SIGKILL while six clients delete secrets, and checks that every
// secret deleted in the store has its delete event in the store's chain,
// that every delete event's secret is deleted, that the chain verifies,
// and that every state still matches its state MAC (verify). A delete
// used to commit before its event was recorded.
func TestKilledDuringDeletesLeavesNoStateChangeWithoutItsEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sa01-secrets")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const secretsN = 240
	landed := 0
	for round := 0; round < 4 || landed == 0 && round < 8; round++ {
		srv := startCrashServer(t, bin)
		dir, key, db, cmd, base, tok := srv.dir, srv.key, srv.db, srv.cmd, srv.base, srv.tok
		do := func(ctx context.Context, method, name, body string) error {
			req, _ := http.NewRequestWithContext(ctx, method, base+"/v1/secrets/"+name, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode >= 300 {
				return fmt.Errorf("%s %s: %d", method, name, res.StatusCode)
			}
			return nil
		}
		for i := range secretsN {
			if err := do(context.Background(), "PUT", fmt.Sprintf("crash/d%03d", i), `{"value":"v"}`); err != nil {
				_ = cmd.Process.Kill()
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < secretsN && ctx.Err() == nil; i += 6 {
					if do(ctx, "DELETE", fmt.Sprintf("crash/d%03d", i), "") != nil && ctx.Err() != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()
		cancel()
		wg.Wait()

		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		events := map[string]bool{}
		es, err := st.QueryAudit(context.Background(), audit.Query{Action: "delete"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Outcome == audit.Success {
				events[e.Secret] = true
			}
		}
		list, err := st.List(context.Background(), store.ListOptions{Prefix: "crash/", IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		deleted := 0
		for _, s := range list {
			if s.Deleted() {
				deleted++
				if !events[s.Name] {
					t.Errorf("round %d: %s is deleted with no delete event", round, s.Name)
				}
			} else if events[s.Name] {
				t.Errorf("round %d: a delete event for %s, which is not deleted", round, s.Name)
			}
		}
		st.Close()
		if deleted > 0 && deleted < secretsN {
			landed++
		}
		env := map[string]string{"SA01_CRYPTO_FERNET_KEY": key, "SA01_SECRETS_DB_DSN": "sqlite://" + db, "HOME": dir}
		for _, verb := range [][]string{{"audit", "verify"}, {"verify"}} {
			var out, errb strings.Builder
			if code := run(context.Background(), verb, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] }); code != 0 {
				t.Errorf("round %d: %s after the kill: %d\n%s%s", round, strings.Join(verb, " "), code, out.String(), errb.String())
			}
		}
		t.Logf("round %d: %d of %d deleted, %d delete events", round, deleted, secretsN, len(events))
	}
	if landed == 0 {
		t.Error("no kill landed among the deletes")
	}
}
