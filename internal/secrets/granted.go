package secrets

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// ReasonDenied is the audit reason of an access the policy refused.
const ReasonDenied = "denied"

// Authorize checks that pol lets service do a on name. When it does not,
// the denial is recorded with rec (auditAction, failure, ReasonDenied) and
// the error is policy.ErrDenied, joined with audit.ErrNotRecorded when the
// denial could not be recorded. The server checks every request with it,
// and the CLI every read it makes for a service without a server, before
// the store is touched: a denied name and a missing one look alike.
func Authorize(ctx context.Context, rec audit.Recorder, pol *policy.Policy, service string, a policy.Action, auditAction, name string) error {
	if pol.Allowed(service, a, name) {
		return nil
	}
	ev := audit.Event{Action: auditAction, Secret: name, Outcome: audit.Failure, Reason: ReasonDenied}
	if err := rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		return fmt.Errorf("%w (%w)", policy.ErrDenied, audit.ErrNotRecorded)
	}
	return policy.ErrDenied
}

// EnvName is the environment variable a secret is injected (run) and
// exported (export) as, and that the server reports: its own env name when
// it has one, else the last path segment of its name below prefix,
// upper-cased, with every character outside [A-Z0-9_] replaced by '_' and
// '_' put before a leading digit (llm/openai_api_key → OPENAI_API_KEY). A
// name that prefix leaves empty has no variable: the result is "".
func EnvName(name, env, prefix string) string {
	if env != "" {
		return env
	}
	name = strings.TrimPrefix(name, prefix)
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && '0' <= b[0] && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// Grant is a secret a service may read, without its value.
type Grant struct {
	Name    string
	Env     string // the variable it is injected as (EnvName, or the reader's env mapping)
	Version int    // the current version
	Mapped  bool   // Env comes from the reader's own policy entry (env: {VAR: name})
}

// MapEnv applies a reader's env mapping (policy.EnvMap: variable →
// secret) to its grants: a mapped secret is injected under the variable
// its reader chose, marked Mapped, whatever env name its writer gave it.
func MapEnv(grants []Grant, envMap map[string]string) []Grant {
	if len(envMap) == 0 {
		return grants
	}
	byName := make(map[string]string, len(envMap))
	for v, name := range envMap {
		byName[name] = v
	}
	for i := range grants {
		if v, ok := byName[grants[i].Name]; ok {
			grants[i].Env, grants[i].Mapped = v, true
		}
	}
	return grants
}

// ServiceReader reads secrets on behalf of one service under a policy,
// with no server in between: what run and export --service inject. Every
// read is checked with Authorize and audited as the service's.
type ServiceReader struct {
	svc     *Service
	pol     *policy.Policy
	service string
	actor   string
}

// ServicePolicy loads the policy file (SA01_SECRETS_POLICY_FILE) that a
// ServiceReader of service works under, without a server, and refuses a
// policy that does not name the service.
func ServicePolicy(file, service string) (*policy.Policy, error) {
	if file == "" {
		return nil, fault.New(fault.Usage, fmt.Errorf("run needs a policy: %s is not set", config.EnvPolicyFile),
			"set "+config.EnvPolicyFile+" to the policy, or "+config.EnvSecretsAddr+" to a server")
	}
	pol, err := policy.Load(file)
	if err != nil {
		return nil, config.PolicyError(err)
	}
	if !pol.HasService(service) {
		return nil, fault.New(fault.Denied, fmt.Errorf("the policy names no service %q", service), "services in the policy: "+fmt.Sprint(pol.Services()))
	}
	return pol, nil
}

// As returns a reader for service under pol; actor names the operator who
// runs it, for the audit trail.
func (s *Service) As(pol *policy.Policy, service, actor string) *ServiceReader {
	return &ServiceReader{svc: s, pol: pol, service: service, actor: actor}
}

func (r *ServiceReader) caller(ctx context.Context) context.Context {
	return audit.WithCaller(ctx, audit.Caller{Service: r.service, Actor: r.actor, Source: "local"})
}

// Granted lists the secrets the service may read, at their current
// versions.
func (r *ServiceReader) Granted(ctx context.Context) ([]Grant, error) {
	list, err := r.svc.List(r.caller(ctx), "", false)
	if err != nil {
		return nil, err
	}
	var out []Grant
	for _, s := range list {
		if r.pol.Allowed(r.service, policy.Read, s.Name) {
			out = append(out, Grant{Name: s.Name, Env: EnvName(s.Name, s.EnvName, ""), Version: s.CurrentVersion})
		}
	}
	return MapEnv(out, r.pol.EnvMap(r.service)), nil
}

// ActionPlatformKey is the audit action of the store's Fernet keys passed
// to a service's process by run (policy: platform_key: true).
const ActionPlatformKey = "platform-key"

// PlatformKeys returns the store's Fernet keys under the variables run
// injects them as (SA01_CRYPTO_FERNET_KEY: the primary;
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS: the retained, newest first), when the
// service's policy entry says platform_key: true, and nil otherwise. Each
// handing-out is recorded first (action platform-key, the service, the
// key IDs, never a key); one that cannot be recorded does not happen.
func (r *ServiceReader) PlatformKeys(ctx context.Context) (map[string]sensitive.String, error) {
	if !r.pol.PlatformKey(r.service) {
		return nil, nil
	}
	return r.svc.PlatformKeys(r.caller(ctx))
}

// PlatformKeys records, under ctx's caller, that the store's Fernet keys
// are handed out (action platform-key, the key IDs, never a key) and
// returns them by variable, as ServiceReader.PlatformKeys does. The caller
// has checked that the policy gives them (platform_key: true).
func (s *Service) PlatformKeys(ctx context.Context) (map[string]sensitive.String, error) {
	if err := s.needRing(); err != nil {
		return nil, err
	}
	return platformKeys(ctx, s.rec, s.ring)
}

// platformKeys records and returns the ring's keys as PlatformKeys does.
func platformKeys(ctx context.Context, rec audit.Recorder, ring *fernet.Ring) (map[string]sensitive.String, error) {
	keys := ring.Keys()
	var ids, prev []string
	for i, k := range keys {
		ids = append(ids, k.ID())
		if i > 0 {
			prev = append(prev, k.Encode())
		}
	}
	ev := audit.Stamp(ctx, audit.Event{Action: ActionPlatformKey, Outcome: audit.Success,
		Detail: fmt.Sprintf("%s and %s injected: keys %s", config.EnvFernetKey, config.EnvFernetPreviousKeys, strings.Join(ids, ","))})
	if err := rec.Record(ctx, ev); err != nil {
		return nil, fmt.Errorf("platform key: %w", audit.ErrNotRecorded)
	}
	return map[string]sensitive.String{
		config.EnvFernetKey:          sensitive.New(keys[0].Encode()),
		config.EnvFernetPreviousKeys: sensitive.New(strings.Join(prev, ",")),
	}, nil
}

// Value reads the current version of name, if the policy grants it.
func (r *ServiceReader) Value(ctx context.Context, name string) (sensitive.String, int, error) {
	ctx = r.caller(ctx)
	if err := Authorize(ctx, r.svc.rec, r.pol, r.service, policy.Read, ActionRead, name); err != nil {
		return sensitive.String{}, 0, fmt.Errorf("the policy does not let %s read %s: %w", r.service, name, err)
	}
	v, err := r.svc.Get(ctx, name, 0)
	if err != nil {
		return sensitive.String{}, 0, err
	}
	return v.Value, v.Version.Version, nil
}

// Started records that command is about to start with n secrets injected:
// which service, how many secrets, which command (its base name only; its
// arguments may hold anything). An error means it must not start.
func (r *ServiceReader) Started(ctx context.Context, command string, n int) error {
	ctx = r.caller(ctx)
	ev := audit.Stamp(ctx, audit.Event{Action: ActionRun, Outcome: audit.Success,
		Detail: fmt.Sprintf("%d secrets injected into %s", n, filepath.Base(command))})
	if err := r.svc.rec.Record(ctx, ev); err != nil {
		return fmt.Errorf("run: %w", audit.ErrNotRecorded)
	}
	return nil
}
