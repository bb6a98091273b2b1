package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
)

func options(t *testing.T) Options {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return Options{Config: cfg, Getenv: func(k string) string { return map[string]string{"HOME": home}[k] },
		Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard, Stderr: io.Discard,
		Ready: func(string) { t.Error("a server started") }}
}

// Run refuses to start, with the class the CLI's exit code comes from,
// before it listens.
func TestRunRefuses(t *testing.T) {
	ctx := context.Background()
	o := options(t)
	if err := Run(ctx, o); !errors.Is(err, config.ErrNoKey) {
		t.Errorf("no key: %v, want config.ErrNoKey", err)
	}

	o = options(t)
	o.Dev, o.TLSCert = true, "cert.pem"
	var fe *fault.Error
	if err := Run(ctx, o); !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint == "" {
		t.Errorf("a certificate without a key: %v, want a usage fault with a hint", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o = options(t)
	o.Dev, o.Listen = true, ln.Addr().String()
	if err := Run(ctx, o); !errors.As(err, &fe) || fe.Class != fault.Unavailable || fe.Hint != "pick another --listen address" {
		t.Errorf("an address in use: %v, want an unavailable fault", err)
	}
}
