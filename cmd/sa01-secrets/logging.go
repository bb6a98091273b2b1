package main

import (
	"io"
	"log/slog"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/redact"
	"github.com/somaagent01/sa01-secrets/internal/scan"
)

// newLogger builds the one logger of the process, on w, at
// SA01_SECRETS_LOG_LEVEL, in SA01_SECRETS_LOG_FORMAT. Its handler is wrapped in redact.Handler: attributes
// with secret names, DSN passwords and whatever the scanner's rules detect
// are written as ****.
func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	level, json := config.LogSettings(getenv)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(redact.NewHandler(h, scan.NewMasker(scan.New(nil))))
}
