package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// keyCommands returns the verbs of this group.
func keyCommands(g *globals) []*cobra.Command {
	key := &cobra.Command{
		Use:   "key",
		Short: "Manage the Fernet keys: list, rotate, stage, promote, retire, status",
		Long: `key manages the life cycle of the Fernet keys (NIST SP 800-57 states:
pending, active, decrypt-only, retired, compromised). The store keeps each
key's ID, state and dates, never the key; the keys live in the env file
(SA01_CRYPTO_FERNET_KEY, SA01_CRYPTO_FERNET_PREVIOUS_KEYS).

One node:  key rotate --env-file .env
Many nodes: key stage, rolling restart, key promote on each node, reencrypt,
and after 30 days key retire. docs/rotation.md has the procedure.`,
		Example: `  sa01-secrets key list
  sa01-secrets key rotate --env-file /etc/sa01/.env
  sa01-secrets key status --format json`,
	}
	key.AddCommand(
		newKeyListCommand(g),
		newKeyRotateCommand(g),
		newKeyStageCommand(g),
		newKeyPromoteCommand(g),
		newKeyRetireCommand(g),
		newStatusCommand(g, "status"),
	)
	return []*cobra.Command{key, newReencryptCommand(g), newStatusCommand(g, "status"), newRotateSecretCommand(g)}
}

// rotationFlags are shared by the verbs that change keys.
type rotationFlags struct {
	envFile   string
	batchSize int
	wait      time.Duration
	quiet     bool
	format    string
}

func (f *rotationFlags) add(cmd *cobra.Command, envDefault string, reencrypts bool) {
	cmd.Flags().StringVar(&f.envFile, "env-file", envDefault, "the env file holding "+config.EnvFernetKey+" and "+config.EnvFernetPreviousKeys)
	cmd.Flags().DurationVar(&f.wait, "wait", 0, "wait this long for another rotation to finish (default: refuse at once)")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	if reencrypts {
		cmd.Flags().IntVar(&f.batchSize, "batch-size", 1000, "versions re-encrypted per transaction")
		cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
	}
}

func (f *rotationFlags) check() error {
	if f.format != "text" && f.format != "json" {
		return usageError("", "--format: want text or json")
	}
	if f.batchSize < 0 || f.batchSize > 100000 {
		return usageError("", "--batch-size: want 1 to 100000")
	}
	return nil
}

// rotationEnv is an open store with what the rotation verbs need.
type rotationEnv struct {
	ctx context.Context
	st  store.Store
	rec audit.Recorder
}

func openRotation(cmd *cobra.Command, g *globals) (*rotationEnv, error) {
	ctx := cmd.Context()
	st, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	return &rotationEnv{ctx: ctx, st: st, rec: rec}, nil
}

func (e *rotationEnv) rotator(g *globals, f *rotationFlags) *rotate.Rotator {
	r := &rotate.Rotator{Store: e.st, Bind: secrets.Bind, NewBinder: rotate.NewCachedBinder, Recorder: e.rec, BatchSize: f.batchSize, Wait: f.wait}
	if !f.quiet {
		r.Progress = newProgress(g.stderr).update
	}
	return r
}

// rotationError turns the rotation package's errors into a message, a hint
// and an exit code.
func rotationError(err error, envFile string) error {
	if err == nil {
		return nil
	}
	var ee *rotate.EnvFileError
	var km *rotate.KeyMismatchError
	var mk *rotate.MissingKeysError
	var le *rotate.LockedError
	var ke *rotate.KeyStateError
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return err
	case errors.Is(err, rotate.ErrEnvFileChanged):
		return withCode(ExitConflict, err, "something else edited the env file; run the command again")
	case errors.Is(err, rotate.ErrNoKeyInFile):
		return withCode(ExitUsage, err, "pass the env file the services load with --env-file FILE")
	case errors.As(err, &ee):
		return withCode(ExitUsage, err, "pass the env file the services load with --env-file FILE (default .env)")
	case errors.As(err, &km), errors.As(err, &mk):
		return withCode(ExitInvalidToken, err, "load the keys the data needs (see 'sa01-secrets key list'), or point --env-file at the right file; nothing was changed")
	case errors.As(err, &le):
		return withCode(ExitConflict, err, "wait for it to finish, or pass --wait 10m to wait for it")
	case errors.As(err, &ke) && ke.Forceable:
		return withCode(ExitConflict, err, "to retire it anyway (for a compromised key): --force --reason \"...\"")
	case errors.As(err, &ke):
		return withCode(ExitUsage, err, "'sa01-secrets key list' shows every key's state")
	case errors.Is(err, store.ErrNotFound):
		return withCode(ExitNotFound, err, "'sa01-secrets key list' shows the keys the store knows")
	case errors.Is(err, rotate.ErrFailures):
		return withCode(ExitInvalidToken, err, "the versions listed above were left as they were; 'sa01-secrets verify' shows why")
	}
	return err
}

// progress draws re-encryption progress on stderr: a bar redrawn in place
// on a terminal, otherwise a plain line at most every second and at the end.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  time.Time
	phase string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(phase string, pr rotate.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := pr.Done+pr.Skipped+pr.Failed >= pr.Total
	if pr.Total == 0 {
		return
	}
	now := time.Now()
	if p.tty {
		const width = 30
		frac := float64(pr.Done+pr.Skipped+pr.Failed) / float64(pr.Total)
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d versions %3.0f%%", phase, strings.Repeat("#", n), strings.Repeat(".", width-n),
			pr.Done+pr.Skipped+pr.Failed, pr.Total, 100*frac)
		if end {
			fmt.Fprintln(p.w)
		}
		return
	}
	if !end && now.Sub(p.last) < time.Second && phase == p.phase {
		return
	}
	p.last, p.phase = now, phase
	fmt.Fprintf(p.w, "%s: %d/%d versions (%d%%), %d skipped, %d failed\n", phase, pr.Done+pr.Skipped+pr.Failed, pr.Total,
		100*(pr.Done+pr.Skipped+pr.Failed)/pr.Total, pr.Skipped, pr.Failed)
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func newKeyListCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the key table with the number of versions under each key",
		Long: `list shows every key the store knows: ID, state, dates, retention deadline
and how many versions each key encrypted. Keys are named by key ID only.`,
		Example: `  sa01-secrets key list
  sa01-secrets key list --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			var ring *fernet.Ring
			if cfg, err := g.config(); err == nil {
				ring = cfg.Keys
			}
			rep, err := rotate.Status(e.ctx, e.st, ring, time.Now())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(g.stdout, rep.Keys)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tSTATE\tLOADED\tVERSIONS\tCREATED\tACTIVATED\tDEACTIVATED\tRETAIN UNTIL\tRETIRED")
			for _, k := range rep.Keys {
				loaded := "no"
				if k.Primary {
					loaded = "primary"
				} else if k.Loaded {
					loaded = "previous"
				}
				if ring == nil {
					loaded = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, loaded, k.Versions, day(k.Created),
					dayp(k.Activated), dayp(k.Deactivated), dayp(k.RetainUntil), dayp(k.Retired))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func dayp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return day(*t)
}

func newKeyRotateCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var printKey bool
	cmd := &cobra.Command{
		Use:   "rotate [--env-file FILE]",
		Short: "Rotate the Fernet key on one node: new key, re-encrypt everything, rewrite the env file",
		Long: `rotate generates a new key, writes it into the env file as a previous key,
re-encrypts every version under the other keys to it (keeping each token's
original timestamp), makes it SA01_CRYPTO_FERNET_KEY with the old key at the
front of SA01_CRYPTO_FERNET_PREVIOUS_KEYS, records the old key's 30-day
retention deadline, and prints a summary by key ID.

The env file is replaced atomically (temporary file 0600, fsync, rename,
fsync of the directory); the file it replaces is kept as FILE.bak (0600).
Interrupted at any point (even by kill -9), running it again finishes the
rotation. Restart the services that load the env file afterwards. For
several replicas with no downtime, use key stage / key promote / reencrypt.

The new key is never printed unless --print-key is given.`,
		Example: `  sa01-secrets key rotate
  sa01-secrets key rotate --env-file /etc/sa01/.env --quiet
  sa01-secrets key rotate --env-file .env --wait 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			rep, err := e.rotator(g, &f).Rotate(e.ctx, f.envFile)
			if err != nil {
				return rotationError(err, f.envFile)
			}
			if f.format == "json" {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.stdout, "new primary key:  %s\n", rep.NewKey)
				if rep.OldKey != "" {
					fmt.Fprintf(g.stdout, "old primary key:  %s (decrypt-only until %s)\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
				}
				if rep.Resumed {
					fmt.Fprintln(g.stdout, "resumed an interrupted rotation")
				}
				var total int64
				for _, id := range sortedKeys(rep.Moved) {
					fmt.Fprintf(g.stdout, "re-encrypted:     %d versions from key %s\n", rep.Moved[id], id)
					total += rep.Moved[id]
				}
				fmt.Fprintf(g.stdout, "total:            %d versions re-encrypted, %d skipped, in %s\n", total, rep.Skipped, rep.Elapsed.Round(time.Millisecond))
				fmt.Fprintf(g.stdout, "env file:         %s (previous kept as %s.bak)\n", rep.EnvFile, rep.EnvFile)
				fmt.Fprintln(g.stderr, "hint: restart the services that load this env file")
			}
			if printKey {
				fmt.Fprintln(g.stdout, rep.Key.Encode())
			}
			return nil
		},
	}
	f.add(cmd, ".env", true)
	cmd.Flags().BoolVar(&printKey, "print-key", false, "also print the new key on stdout (it is a secret)")
	return cmd
}

// readKeyFile reads one Fernet key from a file; errors name the flag.
func readKeyFile(flag, path string) (*fernet.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError("write the key to a file readable only by you (mode 0600)", "%s: cannot read %s", flag, path)
	}
	k, err := config.ParseKeyVar(flag, strings.TrimSpace(string(b)))
	if err != nil {
		return nil, withCode(ExitUsage, err, "the file must hold one key as 'sa01-secrets generate key' prints it")
	}
	return k, nil
}

func newKeyStageCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var keyFile string
	var printKey bool
	cmd := &cobra.Command{
		Use:   "stage [--env-file FILE] [--key-file K]",
		Short: "Stage a new key: written into the env file as decrypt-only, recorded pending",
		Long: `stage is the first step of a rotation across several replicas. It puts a new
key (generated, or read from --key-file to stage the same key on another
node) at the front of SA01_CRYPTO_FERNET_PREVIOUS_KEYS in the env file, and
records it pending in the store. Nothing is encrypted under it yet. Then
restart each replica, so every one can decrypt under the new key, and run
'key promote' on each.`,
		Example: `  sa01-secrets key stage --env-file .env --print-key > new.key   # first node
  sa01-secrets key stage --env-file .env --key-file new.key      # every other node`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			var key *fernet.Key
			if keyFile != "" {
				k, err := readKeyFile("--key-file", keyFile)
				if err != nil {
					return err
				}
				key = k
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			rep, err := e.rotator(g, &f).Stage(e.ctx, f.envFile, key)
			if err != nil {
				return rotationError(err, f.envFile)
			}
			if printKey {
				fmt.Fprintln(g.stdout, rep.New.Encode())
			}
			if f.format == "json" {
				return writeJSON(g.stdout, rep)
			}
			msg := "staged key %s in %s (pending)\n"
			if rep.Already {
				msg = "key %s is already staged in %s\n"
			}
			fmt.Fprintf(g.stderr, msg, rep.Key, rep.EnvFile)
			fmt.Fprintln(g.stderr, "hint: stage the same key on every node (--key-file), restart each, then run 'sa01-secrets key promote' on each")
			return nil
		},
	}
	f.add(cmd, ".env", false)
	cmd.Flags().StringVar(&keyFile, "key-file", "", "stage the key in this file instead of a new one")
	cmd.Flags().BoolVar(&printKey, "print-key", false, "print the staged key on stdout, to stage it on other nodes (it is a secret)")
	return cmd
}

func newKeyPromoteCommand(g *globals) *cobra.Command {
	var f rotationFlags
	cmd := &cobra.Command{
		Use:   "promote [--env-file FILE]",
		Short: "Make the staged key the primary: in the env file, and in the store",
		Long: `promote makes the staged key SA01_CRYPTO_FERNET_KEY in the env file, with the
old primary at the front of SA01_CRYPTO_FERNET_PREVIOUS_KEYS, and records it
active in the store (the old key decrypt-only, retained 30 days). Run it on
every node after every node has the staged key; then restart each node, and
run 'sa01-secrets reencrypt' once from any node.`,
		Example: `  sa01-secrets key promote --env-file .env`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			rep, err := e.rotator(g, &f).Promote(e.ctx, f.envFile)
			if err != nil {
				return rotationError(err, f.envFile)
			}
			if f.format == "json" {
				return writeJSON(g.stdout, rep)
			}
			fmt.Fprintf(g.stdout, "primary key in %s: %s (was %s)\n", rep.EnvFile, rep.NewKey, rep.OldKey)
			if rep.Already {
				fmt.Fprintln(g.stdout, "the store already records it active")
			} else if !rep.RetainUntil.IsZero() {
				fmt.Fprintf(g.stdout, "key %s is decrypt-only until %s\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
			}
			fmt.Fprintln(g.stderr, "hint: restart this node's services; once every node is promoted, run 'sa01-secrets reencrypt'")
			return nil
		},
	}
	f.add(cmd, ".env", false)
	return cmd
}

func newKeyRetireCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var force bool
	var reason string
	cmd := &cobra.Command{
		Use:   "retire KEYID [--env-file FILE] [--force --reason R]",
		Short: "Retire a key after its 30 days: recorded retired, removed from the env file",
		Long: `retire records the key retired in the store and, with --env-file, removes it
from SA01_CRYPTO_FERNET_PREVIOUS_KEYS there. It is refused while any version
still uses the key (run 'reencrypt' first) or before its 30-day retention
has passed, unless --force --reason R (for a compromised key; audited with
the reason). The active key is never retired: rotate first.`,
		Example: `  sa01-secrets key retire 1a2b3c4d5e6f --env-file .env
  sa01-secrets key retire 1a2b3c4d5e6f --force --reason "INC-42: key exposed"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("sa01-secrets key retire KEYID (see 'sa01-secrets key list')", "want one KEYID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if force && strings.TrimSpace(reason) == "" {
				return usageError("say why: --force --reason \"INC-42: key exposed\"", "--force needs --reason")
			}
			if !force && reason != "" {
				return usageError("", "--reason is only for --force")
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			rep, err := e.rotator(g, &f).Retire(e.ctx, args[0], f.envFile, force, reason)
			if err != nil {
				return rotationError(err, f.envFile)
			}
			if f.format == "json" {
				return writeJSON(g.stdout, rep)
			}
			if rep.Already {
				fmt.Fprintf(g.stdout, "key %s was already retired\n", rep.Key)
			} else {
				fmt.Fprintf(g.stdout, "key %s retired\n", rep.Key)
			}
			if rep.RemovedFromEnv {
				fmt.Fprintf(g.stdout, "removed from %s\n", f.envFile)
			} else if f.envFile == "" {
				fmt.Fprintln(g.stderr, "hint: remove it from "+config.EnvFernetPreviousKeys+" on every node (key retire --env-file FILE does it)")
			}
			if rep.Versions > 0 {
				fmt.Fprintf(g.stderr, "sa01-secrets: warning: %d versions under key %s can no longer be decrypted once it is removed\n", rep.Versions, rep.Key)
			}
			return nil
		},
	}
	f.add(cmd, "", false)
	cmd.Flags().BoolVar(&force, "force", false, "retire even if versions use it or its retention has not passed")
	cmd.Flags().StringVar(&reason, "reason", "", "why --force is needed (recorded in the audit trail)")
	return cmd
}

func newReencryptCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var oldFile, newFile, oldEnv, newEnv string
	cmd := &cobra.Command{
		Use:   "reencrypt [--env-file FILE | --old-key-file F [--new-key-file F]]",
		Short: "Re-encrypt every version under an older key to the primary key",
		Long: `reencrypt moves every version that is not under the primary key to it, in
batches (--batch-size per transaction), with the crypto spread over every
core. Each update is a compare-and-swap on the old token, so it is safe to
run from any node, from two nodes at once, and to interrupt: run it again
and it moves only what is left. Readers see every version, old or new, at
all times. It refuses to start, changing nothing, when versions use keys it
does not hold, or when its primary is not the store's active key.

Keys come from the environment (SA01_CRYPTO_FERNET_KEY,
SA01_CRYPTO_FERNET_PREVIOUS_KEYS), from --env-file, or, as the policy's
reencrypt script, from --old-key-file/--old-key-env and
--new-key-file/--new-key-env (default: SA01_CRYPTO_FERNET_KEY): then the new
key is recorded active if it is not yet. Keys are never taken from argv.`,
		Example: `  sa01-secrets reencrypt
  sa01-secrets reencrypt --env-file /etc/sa01/.env --batch-size 5000
  sa01-secrets reencrypt --old-key-file old.key --new-key-file new.key
  OLD_KEY=... sa01-secrets reencrypt --old-key-env OLD_KEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if oldFile != "" && oldEnv != "" {
				return usageError("", "--old-key-file and --old-key-env: give one")
			}
			if newFile != "" && newEnv != "" {
				return usageError("", "--new-key-file and --new-key-env: give one")
			}
			explicit := oldFile != "" || oldEnv != ""
			if !explicit && (newFile != "" || newEnv != "") {
				return usageError("give the old key too: --old-key-file F or --old-key-env VAR", "--new-key-file/--new-key-env need --old-key-file or --old-key-env")
			}
			if explicit && f.envFile != "" {
				return usageError("", "--env-file and --old-key-*: give one")
			}
			o := rotate.ReencryptOptions{EnvPath: f.envFile}
			if explicit {
				ring, err := explicitRing(g, oldFile, oldEnv, newFile, newEnv)
				if err != nil {
					return err
				}
				o.Ring, o.PromoteTarget = ring, true
			} else if f.envFile == "" {
				ring, err := requireKeys(g)
				if err != nil {
					return err
				}
				o.Ring = ring
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			res, err := e.rotator(g, &f).Reencrypt(e.ctx, o)
			if res != nil && len(res.Failures) > 0 {
				for _, fl := range res.Failures {
					fmt.Fprintf(g.stderr, "sa01-secrets: %s version %d (key %s): %s\n", fl.Name, fl.Version, fl.KeyID, fl.Reason)
				}
			}
			if err != nil && !errors.Is(err, rotate.ErrFailures) {
				return rotationError(err, f.envFile)
			}
			if f.format == "json" {
				if werr := writeJSON(g.stdout, reencryptJSON(res)); werr != nil {
					return werr
				}
			} else {
				var total int64
				for _, id := range sortedKeys(res.Moved) {
					fmt.Fprintf(g.stdout, "re-encrypted %d versions from key %s to key %s\n", res.Moved[id], id, res.Target)
					total += res.Moved[id]
				}
				fmt.Fprintf(g.stdout, "total: %d versions re-encrypted, %d skipped (changed meanwhile), %d failed, in %s\n",
					total, res.Skipped, len(res.Failures), res.Elapsed.Round(time.Millisecond))
			}
			return rotationError(err, f.envFile)
		},
	}
	f.add(cmd, "", true)
	cmd.Flags().StringVar(&oldFile, "old-key-file", "", "file holding the old key")
	cmd.Flags().StringVar(&newFile, "new-key-file", "", "file holding the new key (default: "+config.EnvFernetKey+")")
	cmd.Flags().StringVar(&oldEnv, "old-key-env", "", "name of the environment variable holding the old key")
	cmd.Flags().StringVar(&newEnv, "new-key-env", "", "name of the environment variable holding the new key")
	return cmd
}

type reencryptOut struct {
	Target   string           `json:"target_key_id"`
	Moved    map[string]int64 `json:"moved_by_key_id"`
	Skipped  int64            `json:"skipped"`
	Failures []rotate.Failure `json:"failures"`
	Seconds  float64          `json:"seconds"`
}

func reencryptJSON(r *rotate.Result) reencryptOut {
	f := r.Failures
	if f == nil {
		f = []rotate.Failure{}
	}
	return reencryptOut{Target: r.Target, Moved: r.Moved, Skipped: r.Skipped, Failures: f, Seconds: r.Elapsed.Seconds()}
}

// explicitRing builds [new, old, other loaded keys] from the flags.
func explicitRing(g *globals, oldFile, oldEnv, newFile, newEnv string) (*fernet.Ring, error) {
	keyFrom := func(fileFlag, file, envFlag, env string) (*fernet.Key, error) {
		if file != "" {
			return readKeyFile(fileFlag, file)
		}
		v := g.getenv(env)
		if strings.TrimSpace(v) == "" {
			return nil, usageError("export the variable, or use "+fileFlag, "%s: $%s is not set", envFlag, env)
		}
		k, err := config.ParseKeyVar(env, v)
		if err != nil {
			return nil, withCode(ExitUsage, err, "")
		}
		return k, nil
	}
	old, err := keyFrom("--old-key-file", oldFile, "--old-key-env", oldEnv)
	if err != nil {
		return nil, err
	}
	var loaded *fernet.Ring
	if cfg, err := g.config(); err == nil {
		loaded = cfg.Keys
	}
	var nk *fernet.Key
	switch {
	case newFile != "" || newEnv != "":
		nk, err = keyFrom("--new-key-file", newFile, "--new-key-env", newEnv)
		if err != nil {
			return nil, err
		}
	case loaded != nil:
		nk = loaded.Primary()
	default:
		return nil, usageError("give --new-key-file F, or set "+config.EnvFernetKey, "no new key")
	}
	if nk.Equal(old) {
		return nil, usageError("", "the old and the new key are the same key (%s)", nk.ID())
	}
	keys := []*fernet.Key{nk, old}
	if loaded != nil {
		for _, k := range loaded.Keys() {
			if k.ID() != nk.ID() && k.ID() != old.ID() {
				keys = append(keys, k)
			}
		}
	}
	return fernet.NewRing(keys...)
}

func newStatusCommand(g *globals, use string) *cobra.Command {
	var format, envFile string
	cmd := &cobra.Command{
		Use:   use,
		Short: "Check the rotation schedule: key ages, retention deadlines, secrets due (exit 1 if overdue)",
		Long: `status reports each key's age against the 90-day rotation period, each
retention deadline, and every secret whose current version is older than its
class's rotation period (encryption keys 90 days, internal tokens 180 days,
API keys as set per secret). It exits 0 when everything is on schedule, and
1 when anything is overdue:

  - the primary key has been active more than 90 days;
  - a previous key is past its 30-day retention and is still loaded or
    still used by a version;
  - versions use a key that is not loaded;
  - a secret's current version is older than its rotation period.

The loaded keys are those of the environment, or of --env-file.`,
		Example: `  sa01-secrets status
  sa01-secrets status --format json   # for cron and CI: exit 1 when overdue`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			var ring *fernet.Ring
			if envFile != "" {
				ef, err := rotate.ReadEnvFile(envFile)
				if err != nil {
					return rotationError(err, envFile)
				}
				if ring, err = ef.Ring(); err != nil {
					return rotationError(err, envFile)
				}
			} else if cfg, err := g.config(); err == nil {
				ring = cfg.Keys
			} else {
				return err
			}
			e, err := openRotation(cmd, g)
			if err != nil {
				return err
			}
			defer e.st.Close()
			rep, err := rotate.Status(e.ctx, e.st, ring, time.Now())
			if err != nil {
				return err
			}
			if format == "json" {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printStatus(g.stdout, rep, ring != nil)
			}
			if !rep.Compliant {
				return checkFailed{}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&envFile, "env-file", "", "judge the keys loaded from this env file instead of the environment")
	return cmd
}

func printStatus(w io.Writer, rep *rotate.StatusReport, haveRing bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSTATE\tLOADED\tVERSIONS\tAGE\tROTATE BY\tRETAIN UNTIL\tSTATUS")
	for _, k := range rep.Keys {
		loaded := "no"
		switch {
		case !haveRing:
			loaded = "-"
		case k.Primary:
			loaded = "primary"
		case k.Loaded:
			loaded = "previous"
		}
		st := "ok"
		if k.Overdue {
			st = "OVERDUE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%dd\t%s\t%s\t%s\n", k.ID, k.State, loaded, k.Versions, k.AgeDays, dayp(k.RotateBy), dayp(k.RetainUntil), st)
	}
	tw.Flush()
	if len(rep.Secrets) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SECRET\tCLASS\tVERSION\tPERIOD\tROTATE BY\tSTATUS")
		for _, s := range rep.Secrets {
			st := "ok"
			if s.Overdue {
				st = "OVERDUE"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%dd\t%s\t%s\n", s.Name, s.Class, s.Version, s.PeriodDay, day(s.DueAt), st)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if rep.Compliant {
		fmt.Fprintln(w, "compliant: every key and secret is within its rotation period")
		return
	}
	fmt.Fprintf(w, "overdue: %d finding(s)\n", len(rep.Overdue))
	for _, o := range rep.Overdue {
		fmt.Fprintf(w, "  %s\n", o)
	}
}

func newRotateSecretCommand(g *globals) *cobra.Command {
	var gen, fromFile string
	var n int
	cmd := &cobra.Command{
		Use:   "rotate NAME [--generate key|token|password] [--from-file F]",
		Short: "Write a new version of one secret: generated by class, or read from stdin",
		Long: `rotate writes the next version of NAME. For the classes that can be generated
the value is new and random, made by the same generators as 'generate':

  encryption-key   a new Fernet key           (generate key)
  internal-token   a URL-safe random token    (generate token, --bytes 32)
  db-credential    read from stdin, or --generate password (a random token)
  api-key, config  read from stdin, --from-file, or a hidden prompt

The new value is never printed; services get it with get, export or serve.`,
		Example: `  sa01-secrets rotate auth/internal_token
  sa01-secrets rotate db/gateway/password --generate password
  printf %s "$NEW_KEY" | sa01-secrets rotate llm/openai_api_key`,
		Args: oneName("rotate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			switch gen {
			case "", "key", "token", "password":
			default:
				return usageError("", "--generate: want key, token or password")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				sec, _, err := b.History(ctx, name)
				if err != nil {
					return err
				}
				kind := gen
				if kind == "" {
					switch sec.Class {
					case store.ClassEncryptionKey:
						kind = "key"
					case store.ClassInternalToken:
						kind = "token"
					}
				}
				var val sensitive.String
				switch kind {
				case "key":
					val = sensitive.New(fernet.GenerateKey().Encode())
				case "token", "password":
					s, err := generateToken(n)
					if err != nil {
						return err
					}
					val = sensitive.New(s)
				default:
					if val, err = readValue(g, name, fromFile); err != nil {
						return err
					}
				}
				cur := sec.CurrentVersion
				v, err := b.Put(ctx, name, val, secrets.PutOptions{CAS: &cur})
				if err != nil {
					return err
				}
				how := "from stdin"
				if kind != "" {
					how = "generated (" + kind + ")"
				}
				fmt.Fprintf(g.stdout, "%s: version %d %s, replacing version %d\n", name, v.Version, how, cur)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&gen, "generate", "", "generate the value: key (Fernet), token, or password")
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the new value from this file")
	cmd.Flags().IntVar(&n, "bytes", 32, "bytes of entropy of a generated token or password")
	return cmd
}
