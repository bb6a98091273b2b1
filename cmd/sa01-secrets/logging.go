package main

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger builds the one logger of the process, on w, at SA01_LOG_LEVEL,
// in SA01_LOG_FORMAT.
func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.TrimSpace(getenv("SA01_LOG_LEVEL"))))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if strings.EqualFold(strings.TrimSpace(getenv("SA01_LOG_FORMAT")), "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h)
}
