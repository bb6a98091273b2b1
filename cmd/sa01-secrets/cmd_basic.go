package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// Version is set with -ldflags "-X main.Version=..."; it falls back to the
// module version recorded in the binary.
var Version string

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(g.stdout, "sa01-secrets %s\n", version())
			return err
		},
	}
}

func newGenerateCommand(g *globals) *cobra.Command {
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Generate a Fernet key or a random token",
		Example: `  sa01-secrets generate key > fernet.key
  sa01-secrets generate token
  sa01-secrets generate token --bytes 48`,
	}
	gen.AddCommand(&cobra.Command{
		Use:   "key",
		Short: "Print a new Fernet key (usable by Python's Fernet() as is)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(g.stdout, fernet.GenerateKey().Encode())
			return err
		},
	})
	var n int
	tok := &cobra.Command{
		Use:   "token",
		Short: "Print a URL-safe random token (as Python's secrets.token_urlsafe)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := generateToken(n)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.stdout, s)
			return err
		},
	}
	tok.Flags().IntVar(&n, "bytes", 32, "bytes of entropy (16 to 1024)")
	gen.AddCommand(tok)
	return gen
}

// generateToken returns n random bytes in unpadded URL-safe base64, as
// Python's secrets.token_urlsafe(n).
func generateToken(n int) (string, error) {
	if n < 16 || n > 1024 {
		return "", usageError("use --bytes between 16 and 1024", "--bytes: %d is out of range", n)
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// maxCryptInput bounds what encrypt and decrypt read from stdin.
const maxCryptInput = 64 << 20

func readAllLimited(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCryptInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > maxCryptInput {
		return nil, usageError("", "%s is larger than %d MiB", what, maxCryptInput>>20)
	}
	return b, nil
}

func newEncryptCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt stdin to a Fernet token on stdout with SA01_CRYPTO_FERNET_KEY",
		Long: `encrypt reads the whole of stdin and writes one Fernet token and a newline.
Python's Fernet(key).decrypt(token) returns exactly the input bytes.`,
		Example: `  printf %s "$VALUE" | sa01-secrets encrypt > value.token`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ring, err := requireKeys(g)
			if err != nil {
				return err
			}
			msg, err := readAllLimited(g.stdin, "stdin")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", ring.Encrypt(msg))
			return err
		},
	}
}

func newDecryptCommand(g *globals) *cobra.Command {
	var ttl int64
	cmd := &cobra.Command{
		Use:   "decrypt",
		Short: "Decrypt a Fernet token on stdin with the primary or a previous key",
		Long: `decrypt reads one token from stdin (surrounding whitespace is ignored) and
writes the plaintext, exactly, to stdout. It tries SA01_CRYPTO_FERNET_KEY, then
each of SA01_CRYPTO_FERNET_PREVIOUS_KEYS. With --ttl, tokens older than that many
seconds (or more than 60 s in the future) are refused; --ttl 0 is a real limit.
A token that no loaded key decrypts exits with code 3.`,
		Example: `  sa01-secrets decrypt < value.token
  sa01-secrets decrypt --ttl 3600 < session.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ring, err := requireKeys(g)
			if err != nil {
				return err
			}
			tok, err := readAllLimited(g.stdin, "stdin")
			if err != nil {
				return err
			}
			if len(bytes.TrimSpace(tok)) == 0 {
				return usageError("pipe a Fernet token into stdin", "stdin: empty, want a Fernet token")
			}
			d := fernet.NoTTL
			if cmd.Flags().Changed("ttl") {
				if ttl < 0 {
					return usageError("", "--ttl: want 0 or more seconds")
				}
				// Beyond what a Duration holds, the limit is as good as none.
				d = time.Duration(min(ttl, math.MaxInt64/int64(time.Second))) * time.Second
			}
			msg, err := ring.DecryptAt(tok, d, time.Now())
			if err != nil {
				return withCode(ExitInvalidToken, errors.New("invalid token: no loaded key decrypts it, or it is corrupted or expired"),
					"loaded keys: "+keyIDs(ring))
			}
			_, err = g.stdout.Write(msg)
			return err
		},
	}
	cmd.Flags().Int64Var(&ttl, "ttl", 0, "refuse tokens older than this many seconds")
	return cmd
}

// requireKeys returns the loaded key ring or a clear error.
func requireKeys(g *globals) (*fernet.Ring, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	ring, err := cfg.RequireKeys()
	if err != nil {
		return nil, withCode(ExitUsage, err, "generate one with 'sa01-secrets generate key' and export "+config.EnvFernetKey)
	}
	return ring, nil
}

// keyIDs lists the ring's key IDs, primary first.
func keyIDs(r *fernet.Ring) string {
	var b bytes.Buffer
	for i, k := range r.Keys() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.ID())
	}
	return b.String()
}

func newConfigCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration from SA01_* variables, with secrets masked",
		Long: `config validates every SA01_* variable and prints them safely: keys by key
ID, DSNs with the password as ****, tokens only as (set) or (unset).`,
		Example: `  sa01-secrets config
  sa01-secrets config --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(cfg.Describe())
			case "text", "":
				for _, s := range cfg.Describe() {
					fmt.Fprintf(g.stdout, "%-34s %s\n", s.Var, s.Value)
				}
				return nil
			}
			return usageError("", "--format: want text or json")
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
