package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// ListenOptions say where and how Serve listens.
type ListenOptions struct {
	Addr           string
	TLSCert        string // PEM files; both or neither
	TLSKey         string
	InsecureListen bool              // allow plain HTTP on a non-loopback address
	Logger         *slog.Logger      // required
	Warn           io.Writer         // where the --insecure-listen banner goes
	Serving        func(addr string) // called once listening, with the URL
}

// UsageError is a listen option that cannot work; Hint says what to do.
type UsageError struct{ Msg, Hint string }

func (e *UsageError) Error() string { return e.Msg }

// ListenError is an address that cannot be listened on.
type ListenError struct{ Err error }

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// IsLoopback reports whether a listen address only accepts local
// connections.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Check checks the options without listening or warning: both TLS files
// or neither, a HOST:PORT address, plain HTTP only on a loopback address
// unless InsecureListen, and a key pair that loads. It returns the TLS
// configuration, nil for plain HTTP.
func Check(o ListenOptions) (*tls.Config, error) {
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, &UsageError{"TLS needs both a certificate and a key", "give both --tls-cert and --tls-key"}
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		// Not "not a loopback address": the address itself is malformed.
		return nil, &UsageError{fmt.Sprintf("listen address %.80q: want HOST:PORT", o.Addr), "for example 127.0.0.1:8200"}
	}
	if o.TLSCert == "" {
		if !IsLoopback(o.Addr) && !o.InsecureListen {
			return nil, &UsageError{fmt.Sprintf("refusing plain HTTP on %s: it is not a loopback address", o.Addr),
				"serve TLS with --tls-cert and --tls-key, listen on 127.0.0.1, or (not recommended) add --insecure-listen"}
		}
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		// The files' paths and the parser's reason; tls's errors hold no key material.
		return nil, &UsageError{"--tls-cert/--tls-key: cannot load the key pair: " + err.Error(), "check that the files are PEM and the key matches the certificate"}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c}}, nil
}

// Listen checks the options (Check) and opens the listener: plain HTTP
// only on a loopback address unless InsecureListen (which warns loudly),
// TLS 1.2 or later otherwise. It returns the listener and its URL.
func Listen(o ListenOptions) (net.Listener, string, error) {
	cfg, err := Check(o)
	if err != nil {
		return nil, "", err
	}
	if cfg == nil && !IsLoopback(o.Addr) {
		o.Logger.Warn("INSECURE: serving plain HTTP on a non-loopback address; tokens and secret values cross the network unencrypted", "listen", o.Addr)
		fmt.Fprintf(o.Warn, "\n!!! WARNING: plain HTTP on %s (--insecure-listen). Tokens and secret values\n!!! travel unencrypted. Use --tls-cert/--tls-key outside a trusted network.\n\n", o.Addr)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, "", &ListenError{fmt.Errorf("cannot listen on %s: %v", o.Addr, errors.Unwrap(err))}
	}
	if cfg == nil {
		return ln, "http://" + ln.Addr().String(), nil
	}
	return tls.NewListener(ln, cfg), "https://" + ln.Addr().String(), nil
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: requests
// in flight get 15 s to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	hs := HTTPServer(ln.Addr().String(), h, log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server stopped: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown deadline passed; closing connections", "error", err)
		_ = hs.Close()
	}
	return nil
}

// Maintain runs the server's housekeeping until ctx ends: on each value
// of hup it reloads the policy (keeping the old one when the file is bad,
// and auditing the reload either way), and every 10 minutes it purges
// token records that expired more than a day ago.
func Maintain(ctx context.Context, hup <-chan os.Signal, h *policy.Holder, tokens *token.Manager, rec audit.Recorder, log *slog.Logger) {
	purge := time.NewTicker(10 * time.Minute)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reloadPolicy(ctx, log, h, rec)
		case <-purge.C:
			if n, err := tokens.Purge(ctx, 24*time.Hour); err != nil {
				log.Warn("purging old token records failed", "error", err)
			} else if n > 0 {
				log.Info("purged old token records", "count", n)
			}
		}
	}
}

// reloadPolicy swaps the policy, keeping the old one on error.
func reloadPolicy(ctx context.Context, log *slog.Logger, h *policy.Holder, rec audit.Recorder) {
	ev := audit.Event{Action: "policy-reload", Actor: "signal", Source: "local", Outcome: audit.Success, Detail: h.Path()}
	if err := h.Reload(); err != nil {
		log.Error("policy reload failed; the old policy stays in force", "error", err)
		ev.Outcome, ev.Reason = audit.Failure, "invalid policy"
	} else {
		log.Info("policy reloaded", "file", h.Path(), "services", len(h.Current().Services()))
	}
	if err := rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		log.Error("audit record of the policy reload failed", "error", err)
	}
}

// GCPercent is the collector's target while serving, unless GOGC is set:
// the server's live heap is a few megabytes and every request allocates
// about 10 KiB, so at Go's default of 100 the collector starts a cycle
// every few hundred requests (in bench/server, 400 instead of 100 cut the
// server's CPU per audited read by about a sixth). At 400 the heap stays
// in the tens of megabytes.
const GCPercent = 400

// TuneGC sets the collector's target for serving unless the GOGC variable
// (read by the Go runtime itself) is set, and returns a function that
// restores the previous target.
func TuneGC(lookupEnv func(string) (string, bool)) (restore func()) {
	if _, set := lookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(prev) }
}
