// Package redact keeps secrets out of logs: a [slog.Handler] wrapper that
// masks sensitive attributes, DSN passwords and known secret values with
// "****", and the DSN masking the whole project shares ([MaskDSN]).
//
// What is masked, in every record's message and attributes, groups
// included:
//   - the value of every attribute whose key names a secret
//     ([SensitiveKey]: password, token, api_key, dsn, authorization, ...),
//     whatever the value's kind;
//   - the password of every URL with credentials, written as the policy does
//     (postgresql://user:****@host:5432/db, redis://:****@host:6379/0), and
//     every password=... pair ([MaskText]);
//   - whatever the optional [Masker] finds: the project plugs in the
//     scanner's masker, which knows every managed secret value in its encoded
//     forms and the scanner's patterns.
//
// Values of kind Any are formatted with fmt and masked as strings, so a
// struct or error that embeds a secret cannot slip through; values that
// implement [slog.LogValuer] (such as sensitive.String) are resolved first.
package redact

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// A Masker masks secrets it recognises in s, returning s itself when there
// is nothing to mask.
type Masker interface {
	MaskString(s string) string
}

// Handler wraps a slog.Handler and masks secrets before they reach it.
type Handler struct {
	inner  slog.Handler
	masker Masker
	// secretGroup is set under a group whose name is sensitive: every value
	// below it is masked.
	secretGroup bool
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that masks secrets before passing records to
// inner. m may be nil: then only sensitive keys and DSN passwords are
// masked.
func NewHandler(inner slog.Handler, m Masker) *Handler {
	return &Handler{inner: inner, masker: m}
}

// NewLogger returns a logger on w at level, as JSON or text, whose handler
// masks with m (NewHandler).
func NewLogger(w io.Writer, level slog.Level, json bool, m Masker) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(NewHandler(h, m))
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle masks the record's message and attributes and passes a copy on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.maskString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.maskAttr(a, h.secretGroup))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs masks attrs and returns a handler with them.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.maskAttr(a, h.secretGroup)
	}
	return &Handler{inner: h.inner.WithAttrs(masked), masker: h.masker, secretGroup: h.secretGroup}
}

// WithGroup returns a handler that opens group name; under a group whose
// name is sensitive, every value is masked.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{inner: h.inner.WithGroup(name), masker: h.masker, secretGroup: h.secretGroup || SensitiveKey(name)}
}

func (h *Handler) maskAttr(a slog.Attr, secret bool) slog.Attr {
	v := a.Value.Resolve()
	secret = secret || SensitiveKey(a.Key)
	if v.Kind() == slog.KindGroup {
		attrs := v.Group()
		masked := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			masked[i] = h.maskAttr(g, secret)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	}
	if secret {
		if v.Kind() == slog.KindString && v.String() == "" {
			return slog.String(a.Key, "")
		}
		return slog.String(a.Key, Mask)
	}
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if m := h.maskString(s); m != s {
			return slog.String(a.Key, m)
		}
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case []byte:
			s = string(x)
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprintf("%+v", x)
		}
		return slog.String(a.Key, h.maskString(s))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *Handler) maskString(s string) string {
	s = MaskText(s)
	if h.masker != nil {
		s = h.masker.MaskString(s)
	}
	return s
}
