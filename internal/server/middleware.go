package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// reqInfo travels with a request so that the outer middleware can label
// metrics and logs with what the handlers learnt.
type reqInfo struct {
	route string // the route's name, never a secret name
	code  string // error code, if any
	err   error  // 5xx cause, logged (never sent)
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// statusWriter remembers the status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware composes, outermost first: recovery, request ID and caller
// source, security headers, body limit, metrics and the access log. Auth is
// per route (see routes.go), because health, metrics and the OpenAPI
// document need none.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{route: "unmatched"}
		sw := &statusWriter{ResponseWriter: w}
		rid := requestID(r.Header.Get("X-Request-Id"))
		ctx := context.WithValue(r.Context(), infoKey{}, info)
		ctx = audit.WithCaller(ctx, audit.Caller{RequestID: rid, Source: sourceOf(r)})
		r = r.WithContext(ctx)

		h := sw.Header()
		h.Set("X-Request-Id", rid)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store") // every API answer; values never cached
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, MaxBodyBytes)
		}
		if err := s.checkRequest(r); err != nil {
			info.code = err.code
			writeError(sw, r, err)
			s.metrics.observe(info.route, err.status, outcome(err.status, err.code), time.Since(start))
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "route", info.route, "request_id", rid)
				info.code = CodeInternal
				if sw.status == 0 {
					writeError(sw, r, &apiError{http.StatusInternalServerError, CodeInternal, "internal error"})
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.observe(info.route, status, outcome(status, info.code), d)
			if status >= 500 {
				attrs := []any{"route", info.route, "status", status, "request_id", rid}
				if info.err != nil {
					attrs = append(attrs, "error", safeErr(info.err))
				}
				s.log.Error("request failed", attrs...)
			} else if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("request", "route", info.route, "status", status, "duration", d, "request_id", rid, "service", audit.CallerFrom(r.Context()).Service)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// checkRequest refuses, before any handler (and so before any audit
// event), a request a browser page could have sent on its own: a body that
// is not application/json (an HTML form posts application/x-www-form-
// urlencoded, multipart/form-data or text/plain without a CORS preflight),
// and, on a loopback listener (Deps.CheckHost), a Host header that does not
// name a loopback host (DNS rebinding: evil.example resolving to 127.0.0.1).
// It also refuses a request that two readers could take for two different
// requests: a path the mux would redirect elsewhere, a query string part
// of which would be dropped, two Authorization headers.
func (s *Server) checkRequest(r *http.Request) *apiError {
	if s.d.CheckHost && !loopbackHost(r.Host) {
		return &apiError{http.StatusMisdirectedRequest, CodeInvalid, "Host: this server answers only to localhost, 127.0.0.1 and [::1]"}
	}
	if !canonicalPath(r.URL.Path) {
		// The mux would redirect to the cleaned path: /v1/secrets/app/../db/x
		// to /v1/secrets/db/x, another secret than the one named.
		return &apiError{http.StatusBadRequest, CodeInvalid, "path: not canonical (a '.' or '..' segment or '//'); the server does not redirect"}
	}
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		// A pair that does not parse (a ';', a bad %-escape) would be dropped
		// without a word: ?version=1;x=2 would read the current version.
		return &apiError{http.StatusBadRequest, CodeInvalid, "query string: does not parse (a ';' or a bad %-escape)"}
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// Which one counts is a guess another reader of the request (a proxy,
		// a log) may make differently.
		return &apiError{http.StatusBadRequest, CodeInvalid, "Authorization: give it once"}
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, CodeInvalid, "Content-Type: request bodies must be application/json"}
		}
	}
	return nil
}

// canonicalPath reports whether p is as the mux cleans it (path.Clean,
// keeping a trailing '/'), so that the mux routes it instead of
// redirecting.
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// HostCheck wraps h, served on a loopback listener, to refuse (421) a
// request whose Host header does not name a loopback host, as the API
// does with Deps.CheckHost: a page of another origin reaching the
// listener through DNS rebinding gets nothing.
func HostCheck(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = io.WriteString(w, "Host: this server answers only to localhost, 127.0.0.1 and [::1]\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header (host or host:port) names a
// loopback host.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// safeErr returns an error's text for the log. The errors that reach here
// are store and audit failures; they are logged so that an operator can act,
// and every log handler is wrapped in the redacting handler in cmd.
func safeErr(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// requestID keeps a well-formed client request ID or makes one.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 64 {
		ok := true
		for i := 0; i < n; i++ {
			c := in[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
