// Command sa01-secrets is a secrets manager for the SomaAgent01 platform:
// Fernet-encrypted storage, key rotation, least-privilege service tokens,
// env injection, audit, masking and scanning, in one binary.
//
// Run "sa01-secrets help" for the verbs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	dropsOwnEnv = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
