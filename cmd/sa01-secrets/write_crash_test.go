package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// TestKilledDuringWritesLeavesNoVersionWithoutItsEvent kills serve with
// SIGKILL while six clients write, six times, and checks that every
// version in the store has its write event in the store's chain (4 runs
// of 6 used to leave versions with no event anywhere), and that the chain
// verifies.
func TestKilledDuringWritesLeavesNoVersionWithoutItsEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sa01-secrets")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for round := range 6 {
		srv := startCrashServer(t, bin)
		dir, key, db, cmd, base, tok := srv.dir, srv.key, srv.db, srv.cmd, srv.base, srv.tok
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					body := fmt.Sprintf(`{"value":"v-%d-%d"}`, w, i)
					req, _ := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/v1/secrets/crash/s%d", base, w%3), strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					if res, err := http.DefaultClient.Do(req); err == nil {
						res.Body.Close()
					} else {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(150+rand.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()
		cancel()
		wg.Wait()

		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		events := map[string]bool{}
		es, err := st.QueryAudit(context.Background(), audit.Query{Action: "write"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Outcome == audit.Success {
				events[fmt.Sprintf("%s@%d", e.Secret, e.Version)] = true
			}
		}
		versions := 0
		for s := range 3 {
			name := fmt.Sprintf("crash/s%d", s)
			vs, err := st.History(context.Background(), name)
			if err != nil {
				continue // never written before the kill
			}
			for _, v := range vs {
				versions++
				if !events[fmt.Sprintf("%s@%d", name, v.Version)] {
					t.Errorf("round %d: %s version %d is stored with no write event", round, name, v.Version)
				}
			}
		}
		st.Close()
		if versions == 0 {
			t.Logf("round %d: killed before any write", round)
		}
		env := map[string]string{"SA01_CRYPTO_FERNET_KEY": key, "SA01_SECRETS_DB_DSN": "sqlite://" + db, "HOME": dir}
		var out, errb strings.Builder
		if code := run(context.Background(), []string{"audit", "verify"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] }); code != 0 {
			t.Errorf("round %d: audit verify after the kill: %d\n%s%s", round, code, out.String(), errb.String())
		}
		t.Logf("round %d: %d versions, %d write events", round, versions, len(events))
	}
}

// TestRefusedWriteIsNotStored: with the audit file not answering (a FIFO
// whose buffer is full), put is refused, and the value it carried was
// stored anyway: get then returned it.
func TestRefusedWriteIsNotStored(t *testing.T) {
	e := newAuditEnv(t)
	e.must("v1", "put", "app/a")
	fifo := filepath.Join(e.dir, "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	for {
		if _, err := syscall.Write(fd, make([]byte, 4096)); err != nil {
			break // the pipe is full
		}
	}
	e.vars["SA01_SECRETS_AUDIT_FILE"] = fifo
	if code, out, errs := e.run("v2", "put", "app/a"); code != ExitUnavailable {
		t.Fatalf("put with a hanging audit file: exit %d\n%s%s", code, out, errs)
	}
	delete(e.vars, "SA01_SECRETS_AUDIT_FILE")
	if out := e.must("", "get", "app/a"); out != "v1" {
		t.Fatalf("after a refused put, get returned %q, want the value before it", out)
	}
	if out := e.must("", "audit", "verify"); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %s", out)
	}
}

// crashServer is a `serve` started from bin over a new SQLite store (with
// an audit file) and an admin token for it: what the kill -9 harnesses
// write through and kill.
type crashServer struct {
	dir, key, db, base, tok string
	cmd                     *exec.Cmd
}

func startCrashServer(t *testing.T, bin string) crashServer {
	t.Helper()
	dir := t.TempDir()
	key := fernet.GenerateKey().Encode()
	db := filepath.Join(dir, "s.db")
	vars := []string{"SA01_CRYPTO_FERNET_KEY=" + key, "SA01_SECRETS_DB_DSN=sqlite://" + db,
		"SA01_SECRETS_AUDIT_FILE=" + filepath.Join(dir, "audit.jsonl"), "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	credFile := filepath.Join(dir, "admin.credential")
	initCmd := exec.Command(bin, "init", "--credential-file", credFile)
	initCmd.Env = vars
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cred, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = vars
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`addr=(http://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not start")
	}
	code, m := getJSON(t, http.DefaultClient, "POST", base+"/v1/auth/login", strings.TrimSpace(string(cred)), "")
	tok, _ := m["token"].(string)
	if code != 200 || tok == "" {
		_ = cmd.Process.Kill()
		t.Fatalf("login: %d %v", code, m)
	}
	return crashServer{dir: dir, key: key, db: db, cmd: cmd, base: base, tok: tok}
}
