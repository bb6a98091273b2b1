// Package client is the Go client of the sa01-secrets server, for services.
//
// Every caller is an identity with its own credential ("sa01c_..."). A
// service gets a token in one of two ways: its launcher logs in and hands
// it the token (SA01_SECRETS_TOKEN), or it holds its own credential (in the
// file SA01_SECRETS_CREDENTIAL_FILE names, mode 0600) and logs in itself
// with [Client.Login]; [FromEnv] does either. After Login the client renews
// the token in the background before it expires and logs in again with
// the credential when the token reaches its max TTL.
//
//	c, err := client.FromEnv(ctx) // SA01_SECRETS_ADDR, then SA01_SECRETS_TOKEN or SA01_SECRETS_CREDENTIAL_FILE
//	if err != nil { ... }
//	defer c.Close()
//	s, err := c.Get(ctx, "llm/openai_api_key")
//	switch {
//	case errors.Is(err, client.ErrDenied): // the policy does not grant it, or it does not exist
//	case errors.Is(err, client.ErrNotFound): // granted, but no such secret
//	case errors.Is(err, client.ErrUnauthenticated): // token expired or revoked
//	}
//	key := s.Value()
//
// Get caches each secret for a short time (5 s by default, [WithCacheTTL]),
// so a hot path does not call the server on every use and a new version is
// seen within the cache TTL.
//
// Every request carries a credential (the service token, or the internal
// token at login), so the client never follows a redirect: a 3xx answer is
// the error [ErrRedirect], naming where it pointed, and nothing is sent
// there. This holds for an HTTP client given with [WithHTTPClient] too.
//
// A [Secret] prints, logs and marshals as [REDACTED] in place of its value;
// a [Client] prints and logs as its server address, never its tokens.
//
// This package is the stable, public API of sa01-secrets; everything under
// internal/ may change.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// The environment variables [FromEnv] reads.
const (
	EnvAddr           = "SA01_SECRETS_ADDR"            // the server's URL
	EnvToken          = "SA01_SECRETS_TOKEN"           // a token a launcher logged in for
	EnvCredentialFile = "SA01_SECRETS_CREDENTIAL_FILE" // a file holding the identity's credential, mode 0600
)

// CredentialPrefix starts every credential.
const CredentialPrefix = "sa01c_"

// Errors. Every error the server returns wraps one of these (test with
// errors.Is) inside an *APIError.
var (
	ErrUnauthenticated = errors.New("sa01-secrets: not authenticated (missing, invalid, expired or revoked token)")
	ErrDenied          = errors.New("sa01-secrets: permission denied")
	ErrNotFound        = errors.New("sa01-secrets: not found")
	ErrConflict        = errors.New("sa01-secrets: version conflict")
	ErrUnavailable     = errors.New("sa01-secrets: server unavailable")
	// ErrRedirect: the server answered with a redirect, which the client
	// refused to follow (the error names the location).
	ErrRedirect = errors.New("sa01-secrets: redirect refused: credentials are never sent to another location")
	// ErrNotText: a value that is not UTF-8 text. Values are text: Put
	// and Import refuse one before sending anything (JSON would carry
	// U+FFFD in place of its bytes), and the server answers 422 not_text
	// for a version an older sa01-secrets stored as other bytes rather
	// than send it changed. Encode binary data (base64) first.
	ErrNotText = errors.New("sa01-secrets: value is not UTF-8 text")
)

// checkText refuses a value that is not UTF-8 text, naming its secret.
func checkText(name, value string) error {
	if utf8.ValidString(value) {
		return nil
	}
	return fmt.Errorf("%w: secret %s: encode binary data (e.g. base64) before writing it", ErrNotText, name)
}

// errAnswer is a 2xx answer that is not what the call expects: not JSON,
// or without what makes it an answer (a login's token, a secret's name
// and version).
var errAnswer = errors.New("sa01-secrets: the server's answer is not the JSON expected")

// maxAnswer is the most bytes of one answer the client reads: a longer
// one is errAnswer, not memory without end.
const maxAnswer = 16 << 20

// APIError is an error answer of the server.
type APIError struct {
	Status  int    // HTTP status
	Code    string // the server's error code
	Message string // the server's message; it never holds a value
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sa01-secrets: %s (%d %s)", e.Message, e.Status, e.Code)
}

// Unwrap returns the sentinel for the status.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrUnauthenticated
	case http.StatusForbidden:
		return ErrDenied
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return ErrUnavailable
	case http.StatusUnprocessableEntity:
		if e.Code == "not_text" {
			return ErrNotText
		}
	}
	return nil
}

// Secret is one version of a secret. Under every fmt verb, in fmt.Errorf,
// in log/slog's handlers and in encoding/json it shows [REDACTED] in place of
// its value; [Secret.Value] is the one way to it.
type Secret struct {
	Name      string
	Version   int
	Env       string // the environment variable name for it
	CreatedAt time.Time
	// value is behind a pointer: where a printer cannot call the methods
	// below (a Secret in an unexported field of a struct printed with %+v,
	// as slog's text handler does), reflection shows an address.
	value *string
}

// Redacted is what a Secret shows in place of its value.
const Redacted = "[REDACTED]"

// Value returns the secret value.
func (s Secret) Value() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// Format prints the secret without its value, under every verb.
func (s Secret) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{%s v%d %s}", s.Name, s.Version, Redacted)
}

// LogValue logs the secret without its value.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.Int("version", s.Version), slog.String("value", Redacted))
}

// MarshalJSON marshals the secret with [REDACTED] as its value.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Meta
		Value string `json:"value"`
	}{Meta{Name: s.Name, Version: s.Version, Env: s.Env, CreatedAt: s.CreatedAt}, Redacted})
}

// Meta describes a version without its value.
type Meta struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	Env       string    `json:"env"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Class     string    `json:"class,omitempty"`                   // in List
	Rotation  int64     `json:"rotation_period_seconds,omitempty"` // in List: seconds, 0 when none is scheduled
	KeyID     string    `json:"key_id,omitempty"`                  // in History: the key that encrypted the version
	Readable  bool      `json:"readable,omitempty"`                // in List: the caller may read the value
	EnvMapped bool      `json:"env_mapped,omitempty"`              // in List: Env is the caller's own policy mapping (env: {VAR: name})
	// DeletedAt is set by ListDeleted for a soft-deleted secret.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// DestroyedAt and CompromisedAt mark a version in History.
	DestroyedAt   *time.Time `json:"destroyed_at,omitempty"`
	CompromisedAt *time.Time `json:"compromised_at,omitempty"`
}

// TokenInfo describes the client's token, never the token itself.
type TokenInfo struct {
	Identity     string    `json:"identity"`          // the identity the token acts as
	Kind         string    `json:"kind"`              // "service" or "operator"
	Role         string    `json:"role,omitempty"`    // an operator's role
	Service      string    `json:"service,omitempty"` // a service identity's name`
	Accessor     string    `json:"accessor"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
	Renewable    bool      `json:"renewable"`
	PlatformKey  bool      `json:"platform_key,omitempty"` // a service whose policy entry says platform_key: true (PlatformKeys)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (for TLS settings, proxies, tests).
// The client uses a copy whose CheckRedirect refuses every redirect; h
// itself is left as it was.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithToken sets a service token obtained elsewhere (SA01_SECRETS_TOKEN).
// The client does not renew a token it did not log in for, unless
// [Client.StartRenewal] is called.
func WithToken(tok string) Option { return func(c *Client) { c.token = tok } }

// WithCredential sets the identity's credential: [Client.Login] with an
// empty credential uses it.
func WithCredential(cred string) Option { return func(c *Client) { c.cred = cred } }

// WithCredentialFile reads the identity's credential from path, which
// must not be readable or writable by group or others (as ssh refuses a
// private key that is); New fails otherwise.
func WithCredentialFile(path string) Option {
	return func(c *Client) {
		cred, err := ReadCredentialFile(path)
		c.cred, c.optErr = cred, err
	}
}

// maxCredentialFile bounds a credential file.
const maxCredentialFile = 4096

// ReadCredentialFile reads a credential from path: one "sa01c_" credential,
// surrounding whitespace ignored. A file readable or writable by group or
// others is refused, as ssh refuses such a private key. Errors name the
// file, never its contents.
func ReadCredentialFile(path string) (string, error) {
	b, err := safefile.ReadPrivate(path, maxCredentialFile)
	if err != nil {
		return "", fmt.Errorf("sa01-secrets: credential file %w", err)
	}
	cred := strings.TrimSpace(string(b))
	if !strings.HasPrefix(cred, CredentialPrefix) || strings.ContainsAny(cred, " \t\r\n") {
		return "", fmt.Errorf("sa01-secrets: credential file %s: want one credential starting %s", path, CredentialPrefix)
	}
	return cred, nil
}

// FromEnv returns a logged-in client of the server SA01_SECRETS_ADDR
// names: with the token in SA01_SECRETS_TOKEN when set (not renewed past
// its max TTL), else logged in with the credential in the file
// SA01_SECRETS_CREDENTIAL_FILE names, renewing and logging in again in the
// background. opts come after those, and may replace them.
func FromEnv(ctx context.Context, opts ...Option) (*Client, error) {
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		return nil, errors.New("sa01-secrets: " + EnvAddr + " is not set")
	}
	var base []Option
	tok, file := os.Getenv(EnvToken), os.Getenv(EnvCredentialFile)
	switch {
	case tok != "":
		base = append(base, WithToken(tok))
	case file != "":
		base = append(base, WithCredentialFile(file))
	}
	c, err := New(addr, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	hasToken, hasCred := c.token != "", c.cred != ""
	c.mu.Unlock()
	switch {
	case hasToken:
		return c, nil
	case hasCred:
		if err := c.Login(ctx, ""); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, errors.New("sa01-secrets: set " + EnvToken + " or " + EnvCredentialFile)
}

// WithCacheTTL sets how long Get keeps a secret; 0 turns the cache off.
func WithCacheTTL(d time.Duration) Option { return func(c *Client) { c.cacheTTL = d } }

// WithLogger sets where background renewal reports failures.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// Client talks to one server. It is safe for concurrent use. It prints and
// logs as its server address, never its tokens.
type Client struct {
	base     string
	http     *http.Client
	cacheTTL time.Duration
	log      *slog.Logger
	// retryMin and retryMax bound the wait between failed renewals.
	retryMin, retryMax time.Duration

	optErr error // of an option, returned by New

	mu    sync.Mutex
	token string
	info  TokenInfo
	cred  string // the identity's credential: Login, and again at max TTL
	cache map[string]cachedSecret
	stop  chan struct{}
	done  chan struct{}
}

type cachedSecret struct {
	s   Secret
	exp time.Time
}

// New returns a client of the server at addr, an http:// or https:// URL.
func New(addr string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(addr, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("sa01-secrets: server address: want an http:// or https:// URL")
	}
	if u.User != nil {
		return nil, errors.New("sa01-secrets: server address: credentials do not belong in the URL")
	}
	c := &Client{
		base:     u.String(),
		http:     &http.Client{Timeout: 30 * time.Second},
		cacheTTL: 5 * time.Second,
		log:      slog.New(slog.DiscardHandler),
		cache:    map[string]cachedSecret{},
		retryMin: time.Second,
		retryMax: 30 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	if c.optErr != nil {
		return nil, c.optErr
	}
	hc := http.Client{Timeout: 30 * time.Second}
	if c.http != nil {
		hc = *c.http
	}
	hc.CheckRedirect = refuseRedirect
	c.http = &hc
	return c, nil
}

// refuseRedirect makes http.Client return a redirect as it is, unfollowed:
// call turns it into ErrRedirect.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Format prints the client as its server address.
func (c *Client) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "client.Client(%s)", c.base) }

// LogValue logs the client as its server address.
func (c *Client) LogValue() slog.Value { return slog.StringValue("client.Client(" + c.base + ")") }

// Close stops background renewal. It does not revoke the token; call
// [Client.Revoke] for that.
func (c *Client) Close() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop, c.done = nil, nil
	c.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// Login logs in with the identity's credential (empty: the one the
// client was given with [WithCredential] or [WithCredentialFile]) and
// starts background renewal. The token acts as that identity only. The
// client keeps the credential to log in again when the token reaches its
// max TTL.
func (c *Client) Login(ctx context.Context, credential string) error {
	return c.LoginAs(ctx, credential, "")
}

// LoginAs is Login that also names the identity the credential must
// belong to: the server refuses (403, audited) a credential of another
// identity. A launcher that means to run a given service uses it.
func (c *Client) LoginAs(ctx context.Context, credential, identity string) error {
	if credential == "" {
		c.mu.Lock()
		credential = c.cred
		c.mu.Unlock()
	}
	if credential == "" {
		return errors.New("sa01-secrets: no credential to log in with")
	}
	if err := c.loginAs(ctx, credential, identity); err != nil {
		return err
	}
	c.mu.Lock()
	c.cred = credential
	c.mu.Unlock()
	c.StartRenewal()
	return nil
}

func (c *Client) login(ctx context.Context, credential string) error {
	return c.loginAs(ctx, credential, "")
}

func (c *Client) loginAs(ctx context.Context, credential, identity string) error {
	var out struct {
		TokenInfo
		Token string `json:"token"`
	}
	var body any
	if identity != "" {
		body = map[string]string{"identity": identity}
	}
	if err := c.call(ctx, "POST", "/v1/auth/login", credential, body, &out); err != nil {
		return err
	}
	if out.Token == "" {
		return errAnswer
	}
	c.mu.Lock()
	c.token, c.info = out.Token, out.TokenInfo
	c.mu.Unlock()
	return nil
}

// Token returns the current service token, for handing to a child process.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Self describes the client's token.
func (c *Client) Self(ctx context.Context) (TokenInfo, error) {
	var out TokenInfo
	err := c.call(ctx, "GET", "/v1/auth/self", c.Token(), nil, &out)
	if err == nil {
		c.mu.Lock()
		c.info = out
		c.mu.Unlock()
	}
	return out, err
}

// Renew extends the token by its TTL, up to its max TTL.
func (c *Client) Renew(ctx context.Context) (TokenInfo, error) {
	var out TokenInfo
	err := c.call(ctx, "POST", "/v1/auth/renew", c.Token(), nil, &out)
	if err == nil {
		c.mu.Lock()
		c.info = out
		c.mu.Unlock()
	}
	return out, err
}

// Revoke revokes the client's token and stops renewal.
func (c *Client) Revoke(ctx context.Context) error {
	c.Close()
	err := c.call(ctx, "POST", "/v1/auth/revoke", c.Token(), nil, nil)
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
	return err
}

// StartRenewal renews the token in the background, when a third of its TTL
// is left; at its max TTL it logs in again if the client holds a
// credential, else it stops. When the server cannot be reached (at start,
// or later) it retries with backoff: it renews while the token lives, and
// once the token has expired it logs in again with the credential. Close
// stops it.
func (c *Client) StartRenewal() {
	c.mu.Lock()
	if c.stop != nil {
		c.mu.Unlock()
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	c.stop, c.done = stop, done
	c.mu.Unlock()
	go c.renewLoop(stop, done)
}

func (c *Client) renewLoop(stop, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-stop; cancel() }()
	if _, err := c.Self(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("sa01-secrets client: cannot read the token's expiry; will retry", "error", err)
	}
	failures := 0
	for {
		wait := renewWait(c.tokenInfo(), time.Now())
		if failures > 0 {
			wait = c.retryWait(failures, c.tokenInfo(), time.Now())
		}
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if errors.Is(err, ErrUnauthenticated) && c.credential() == "" {
				c.log.Error("sa01-secrets client: the token is no longer valid and there is no credential to log in again; renewal stops", "error", err)
				return
			}
			c.log.Warn("sa01-secrets client: token renewal failed; will retry", "error", err, "failures", failures)
			continue
		}
		failures = 0
	}
}

// renewWait is how long to wait before renewing: until a third of the
// remaining lifetime is left, at least one second.
func renewWait(info TokenInfo, now time.Time) time.Duration {
	left := info.ExpiresAt.Sub(now)
	w := left - left/3
	if w < time.Second {
		w = time.Second
	}
	return w
}

// retryWait is how long to wait after the n-th failure in a row: retryMin
// doubled each time up to retryMax, but never past the token's expiry, when
// it is known and still ahead, so that the login that follows it is not late.
func (c *Client) retryWait(n int, info TokenInfo, now time.Time) time.Duration {
	w := c.retryMax
	if n < 32 {
		w = min(c.retryMin<<(n-1), c.retryMax)
	}
	if left := info.ExpiresAt.Sub(now); left > 0 && left < w {
		w = left
	}
	return w
}

func (c *Client) tokenInfo() TokenInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

func (c *Client) credential() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred
}

// refresh brings the token up to date. When its expiry is unknown (the
// server could not be reached to read it) it reads it; a live, renewable
// token is renewed; a token that has expired, cannot be renewed further or
// was refused is replaced by logging in again, when the client holds a
// credential. An unreachable server is an error, to retry: before the
// expiry the next try renews, after it the next try logs in.
func (c *Client) refresh(ctx context.Context) error {
	c.mu.Lock()
	info, cred := c.info, c.cred
	c.mu.Unlock()
	switch {
	case info.ExpiresAt.IsZero():
		_, err := c.Self(ctx)
		if err == nil || !errors.Is(err, ErrUnauthenticated) {
			return err
		}
	case info.Renewable && time.Now().Before(info.ExpiresAt):
		got, err := c.Renew(ctx)
		if err == nil && got.ExpiresAt.After(info.ExpiresAt) {
			return nil
		}
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			return err
		}
	}
	if cred == "" {
		return ErrUnauthenticated
	}
	return c.login(ctx, cred)
}

// Get returns the current version of a secret, from the cache when it was
// fetched less than the cache TTL ago.
func (c *Client) Get(ctx context.Context, name string) (Secret, error) {
	if c.cacheTTL > 0 {
		c.mu.Lock()
		e, ok := c.cache[name]
		c.mu.Unlock()
		if ok && time.Now().Before(e.exp) {
			return e.s, nil
		}
	}
	s, err := c.GetVersion(ctx, name, 0)
	if err != nil {
		return s, err
	}
	if c.cacheTTL > 0 {
		c.mu.Lock()
		c.cache[name] = cachedSecret{s: s, exp: time.Now().Add(c.cacheTTL)}
		c.mu.Unlock()
	}
	return s, nil
}

// GetVersion returns one version of a secret (0: the current one), never
// from the cache.
func (c *Client) GetVersion(ctx context.Context, name string, version int) (Secret, error) {
	if err := checkName(name); err != nil {
		return Secret{}, err
	}
	path := "/v1/secrets/" + escapePath(name)
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	var out struct {
		Meta
		Value string `json:"value"`
	}
	if err := c.authCall(ctx, "GET", path, nil, &out); err != nil {
		return Secret{}, err
	}
	// An answer for another secret or version, or without one (an empty
	// 200 from a proxy), is no value of this one.
	if out.Name != name || out.Version < 1 || (version > 0 && out.Version != version) {
		return Secret{}, errAnswer
	}
	return Secret{Name: out.Name, Version: out.Version, Env: out.Env, CreatedAt: out.CreatedAt, value: &out.Value}, nil
}

// PlatformKeys returns the store's Fernet keys, for a service whose policy
// entry says platform_key: true: each a Secret whose Env (and Name) is the
// variable it is injected as, SA01_CRYPTO_FERNET_KEY and
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS (comma-separated, newest first; empty
// when none). The server records each call; any other caller gets
// ErrDenied.
func (c *Client) PlatformKeys(ctx context.Context) ([]Secret, error) {
	var out struct {
		Keys []struct {
			Env   string `json:"env"`
			Value string `json:"value"`
		} `json:"keys"`
	}
	if err := c.authCall(ctx, "GET", "/v1/platform-keys", nil, &out); err != nil {
		return nil, err
	}
	keys := make([]Secret, 0, len(out.Keys))
	for _, k := range out.Keys {
		v := k.Value
		keys = append(keys, Secret{Name: k.Env, Env: k.Env, value: &v})
	}
	return keys, nil
}

// Put writes a new version. cas, when not nil, is the version the secret
// must be at (0: it must not exist), or the write fails with ErrConflict.
func (c *Client) Put(ctx context.Context, name, value string, cas *int) (Meta, error) {
	return c.PutWith(ctx, name, value, PutOptions{CAS: cas})
}

// PutOptions are the optional fields of a write.
type PutOptions struct {
	CAS            *int   // the version the secret must be at (0: it must not exist)
	Env            string // the environment variable name for it
	Class          string // encryption-key, api-key, internal-token, db-credential or config
	Description    string
	Owner          string
	RotationPeriod *time.Duration
}

// PutWith writes a new version with metadata. The value is UTF-8 text
// (1 byte to 64 KiB); anything else is refused with ErrNotText before
// anything is sent.
func (c *Client) PutWith(ctx context.Context, name, value string, o PutOptions) (Meta, error) {
	if err := checkName(name); err != nil {
		return Meta{}, err
	}
	if err := checkText(name, value); err != nil {
		return Meta{}, err
	}
	body := struct {
		Value          string `json:"value"`
		CAS            *int   `json:"cas,omitempty"`
		Env            string `json:"env,omitempty"`
		Class          string `json:"class,omitempty"`
		Description    string `json:"description,omitempty"`
		Owner          string `json:"owner,omitempty"`
		RotationPeriod *int64 `json:"rotation_period_seconds,omitempty"`
	}{Value: value, CAS: o.CAS, Env: o.Env, Class: o.Class, Description: o.Description, Owner: o.Owner}
	if o.RotationPeriod != nil {
		s := int64(*o.RotationPeriod / time.Second)
		body.RotationPeriod = &s
	}
	var out Meta
	err := c.authCall(ctx, "PUT", "/v1/secrets/"+escapePath(name), body, &out)
	c.forget(name)
	return out, err
}

// Delete deletes a secret.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := c.authCall(ctx, "DELETE", "/v1/secrets/"+escapePath(name), nil, nil)
	c.forget(name)
	return err
}

// List returns, without values, the secrets under prefix that the client
// may list or read.
func (c *Client) List(ctx context.Context, prefix string) ([]Meta, error) {
	var out struct {
		Secrets []Meta `json:"secrets"`
	}
	path := "/v1/secrets"
	if prefix != "" {
		path += "?prefix=" + url.QueryEscape(prefix)
	}
	err := c.authCall(ctx, "GET", path, nil, &out)
	return out.Secrets, err
}

// History returns the versions of a secret, without values.
func (c *Client) History(ctx context.Context, name string) ([]Meta, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var out struct {
		Versions []Meta `json:"versions"`
	}
	err := c.authCall(ctx, "GET", "/v1/secrets/"+escapePath(name)+"/history", nil, &out)
	return out.Versions, err
}

func (c *Client) forget(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "//") {
		return errors.New("sa01-secrets: invalid secret name")
	}
	return nil
}

// escapePath escapes each segment of a name, keeping the '/'.
func escapePath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// authCall calls with the token; on a 401 it logs in again once when the
// client holds a credential.
func (c *Client) authCall(ctx context.Context, method, path string, in, out any) error {
	err := c.call(ctx, method, path, c.Token(), in, out)
	if errors.Is(err, ErrUnauthenticated) {
		if cred := c.credential(); cred != "" {
			if lerr := c.login(ctx, cred); lerr != nil {
				return err
			}
			return c.call(ctx, method, path, c.Token(), in, out)
		}
	}
	return err
}

// call does one request. Errors never include the request body or a token.
func (c *Client) call(ctx context.Context, method, path, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return errors.New("sa01-secrets: cannot encode the request")
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return errors.New("sa01-secrets: cannot build the request")
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, c.base, errors.Unwrap(err))
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		return fmt.Errorf("%w: %s %s answered %d, to %s", ErrRedirect, method, c.base+redactPath(path), res.StatusCode, location(res))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("%w: reading the answer", ErrUnavailable)
	}
	if res.StatusCode >= 400 {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Message == "" {
			e.Message = http.StatusText(res.StatusCode)
		}
		return &APIError{Status: res.StatusCode, Code: e.Code, Message: e.Message}
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("%w: %s %s: the answer is larger than %d bytes", errAnswer, method, c.base+redactPath(path), maxAnswer)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			// Unmarshal fills what it can before it fails: keep none
			// of it, so no caller returns part of an answer.
			reflect.ValueOf(out).Elem().SetZero()
			return errAnswer
		}
	}
	return nil
}

// location describes where a redirect points, resolved against the request:
// scheme, host and path, without user information, query or fragment.
func location(res *http.Response) string {
	u, err := res.Location()
	if err != nil {
		return "(no valid Location)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// redactPath drops the query of a request path.
func redactPath(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

// Identity is an identity as the server lists it: never a credential.
type Identity struct {
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`           // "service" or "operator"
	Role        string           `json:"role,omitempty"` // an operator's: admin, auditor or responder
	CreatedAt   time.Time        `json:"created_at"`
	RevokedAt   *time.Time       `json:"revoked_at,omitempty"`
	Credentials []CredentialInfo `json:"credentials,omitempty"`
}

// CredentialInfo describes a credential by its non-secret ID.
type CredentialInfo struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	State     string     `json:"state"` // live, due (expires within 14 days), expired, revoked
}

// IssuedCredential is a new credential, shown once. It prints, logs and
// marshals without the credential; [IssuedCredential.Credential] is the one
// way to it.
type IssuedCredential struct {
	Identity     Identity
	CredentialID string
	ExpiresAt    time.Time
	credential   string
}

// Credential returns the credential (sa01c_...).
func (i IssuedCredential) Credential() string { return i.credential }

// Format prints the issue without the credential.
func (i IssuedCredential) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{%s %s [REDACTED]}", i.Identity.Name, i.CredentialID)
}

// LogValue logs the issue without the credential.
func (i IssuedCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("identity", i.Identity.Name), slog.String("credential_id", i.CredentialID))
}

type issuedWire struct {
	Identity     Identity  `json:"identity"`
	Credential   string    `json:"credential"`
	CredentialID string    `json:"credential_id"`
	ExpiresAt    time.Time `json:"expires_at"`
}

func (w issuedWire) issued() IssuedCredential {
	return IssuedCredential{Identity: w.Identity, CredentialID: w.CredentialID, ExpiresAt: w.ExpiresAt, credential: w.Credential}
}

// Identities lists every identity and its credentials' IDs and states
// (admin only).
func (c *Client) Identities(ctx context.Context) ([]Identity, error) {
	var out struct {
		Identities []Identity `json:"identities"`
	}
	err := c.authCall(ctx, "GET", "/v1/identities", nil, &out)
	return out.Identities, err
}

// AddIdentity creates an identity (kind "service", or "operator" with a
// role) and returns its first credential (admin only). lifetime 0 is the
// server's default (180 days).
func (c *Client) AddIdentity(ctx context.Context, name, kind, role string, lifetime time.Duration) (IssuedCredential, error) {
	in := map[string]any{"name": name, "kind": kind}
	if role != "" {
		in["role"] = role
	}
	if lifetime > 0 {
		in["lifetime_seconds"] = int64(lifetime / time.Second)
	}
	var out issuedWire
	err := c.authCall(ctx, "POST", "/v1/identities", in, &out)
	return out.issued(), err
}

// RotateIdentity issues a new credential for name; the previous ones keep
// working for grace (admin only).
func (c *Client) RotateIdentity(ctx context.Context, name string, grace time.Duration) (IssuedCredential, error) {
	var out issuedWire
	err := c.authCall(ctx, "POST", "/v1/identities/"+url.PathEscape(name)+":rotate", map[string]int64{"grace_seconds": int64(grace / time.Second)}, &out)
	return out.issued(), err
}

// RevokeIdentity revokes name, every credential and every token of it
// (admin only), and returns how many tokens it revoked.
func (c *Client) RevokeIdentity(ctx context.Context, name string) (int, error) {
	var out struct {
		Revoked int `json:"revoked_tokens"`
	}
	err := c.authCall(ctx, "POST", "/v1/identities/"+url.PathEscape(name)+":revoke", nil, &out)
	return out.Revoked, err
}

// ExplainQuery is one access to explain: who (a service, or an operator
// with a role), which action (read, list or write) on which secret.
type ExplainQuery struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind,omitempty"` // service (default) or operator
	Role     string `json:"role,omitempty"` // an operator's role
	Action   string `json:"action"`
	Secret   string `json:"secret"`
}

// Explanation is the server's decision on an access and what made it.
type Explanation struct {
	Allow      bool   `json:"allow"`
	DecidedBy  string `json:"decided_by"`            // policy, opa or none
	Rule       string `json:"rule,omitempty"`        // the YAML rule that granted it, as file:line: service action glob
	OPA        string `json:"opa,omitempty"`         // OPA's reason, when OPA was asked
	DecisionID string `json:"decision_id,omitempty"` // OPA's decision_id
	Text       string `json:"explanation"`           // one line, as `sa01-secrets policy explain` prints it
}

// Explain asks the server how it would decide q (the YAML policy, then
// OPA) and why, with the caller's token (admin or auditor). Nothing is read or written; the
// question is audited.
func (c *Client) Explain(ctx context.Context, q ExplainQuery) (Explanation, error) {
	var out Explanation
	err := c.authCall(ctx, "POST", "/v1/policy/explain", q, &out)
	return out, err
}
