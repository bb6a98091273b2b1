package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	buildversion "github.com/somaagent01/sa01-secrets/internal/version"
)

// Version is set with -ldflags "-X main.Version=..."; it falls back to the
// module version recorded in the binary.
var Version string

// version is what `version` and `--version` print after the program's
// name (version.String).
func version() string { return buildversion.String(Version) }

func newVersionCommand(g *globals) *cobra.Command {
	return verb("version", "Print the version and the VCS revision it was built from", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		_, err := fmt.Fprintf(g.stdout, "sa01-secrets %s\n", version())
		return err
	})
}

func newGenerateCommand(g *globals) *cobra.Command {
	key := verb("key", "Print a new Fernet key (usable by Python's Fernet() as is)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		_, err := fmt.Fprintln(g.stdout, fernet.GenerateKey().Encode())
		return err
	})
	var n int
	tok := verb("token", "Print a URL-safe random token (as Python's secrets.token_urlsafe)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		s, err := secrets.Generate(secrets.GenerateToken, n)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(g.stdout, s.Reveal())
		return err
	})
	tok.Flags().IntVar(&n, "bytes", 32, "bytes of entropy (16 to 1024)")
	return cli.Group("generate", "Generate a Fernet key or a random token", key, tok)
}

// maxCryptInput bounds what encrypt and decrypt read from stdin.
const maxCryptInput = 64 << 20

// keysAndInput returns the loaded key ring and stdin, which encrypt and
// decrypt work on.
func keysAndInput(g *globals) (*fernet.Ring, []byte, error) {
	ring, err := requireKeys(g)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(g.stdin, maxCryptInput+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(b) > maxCryptInput {
		return nil, nil, usageError("", "stdin is larger than %d MiB", maxCryptInput>>20)
	}
	return ring, b, nil
}

func newEncryptCommand(g *globals) *cobra.Command {
	return verb("encrypt", "Encrypt stdin to a Fernet token on stdout with SA01_CRYPTO_FERNET_KEY",
		cli.NoSecretArgs("the value", `pipe the value in: printf %s "$VALUE" | sa01-secrets encrypt`), func(cmd *cobra.Command, args []string) error {
			ring, msg, err := keysAndInput(g)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", ring.Encrypt(msg))
			return err
		})
}

func newDecryptCommand(g *globals) *cobra.Command {
	var ttl int64
	cmd := verb("decrypt", "Decrypt a Fernet token on stdin with the primary or a previous key", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		ring, tok, err := keysAndInput(g)
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
				"loaded keys: "+strings.Join(ring.IDs(), ", "))
		}
		_, err = g.stdout.Write(msg)
		return err
	})
	cmd.Flags().Int64Var(&ttl, "ttl", 0, "refuse tokens older than this many seconds")
	return cmd
}

// noKeyHint is the hint when no key is loaded: a fresh key suits a new
// store (or encrypt and decrypt) only; a store in use refuses writes under
// a key it does not expect.
const noKeyHint = "generate one with 'sa01-secrets generate key' and export " + config.EnvFernetKey + " for a new store; " +
	"a store in use needs the key it was made with (or --env-file FILE): its key IDs are in 'sa01-secrets key list --env-file FILE'"

// requireKeys returns the loaded key ring, or config.ErrNoKey: exit 2
// with noKeyHint (exit.go).
func requireKeys(g *globals) (*fernet.Ring, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return cfg.RequireKeys()
}

func newConfigCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("config", "Show every variable sa01-secrets reads, with secrets masked", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if format != "text" && format != "json" && format != "" {
			return usageError("", "--format: want text or json")
		}
		return config.WriteSettings(g.stdout, cfg.Describe(), format == "json")
	})
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
