package rotate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

// The platform's Redis hash holds tokens under the old key: retiring it is
// refused (naming the target and the count) until reencrypt --targets has
// moved them, and status is not compliant meanwhile.
func TestRetireWaitsForTargets(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	url, rc, prefix := targetstest.Redis(t)
	hash := prefix + "gateway:secrets"
	for i := range 40 {
		if err := rc.HSet(ctx, hash, fmt.Sprintf("provider:p%d", i), f.k1.Encrypt([]byte("sk"))).Err(); err != nil {
			t.Fatal(err)
		}
	}
	tg := &Targets{
		List: []targets.Target{{Name: "gateway-redis", Kind: targets.KindRedisHash, Secret: "platform/redis_url", Hash: hash}},
		Resolve: func(ctx context.Context, name string) (sensitive.String, error) {
			if name != "platform/redis_url" {
				return sensitive.String{}, store.ErrNotFound
			}
			return sensitive.New(url), nil
		},
	}
	r := f.rotator()
	r.Targets = tg
	old := f.k1.ID()
	// Before the rotation: re-encrypting the targets has nothing to do.
	res, err := r.ReencryptTargets(ctx, ReencryptOptions{EnvPath: f.env}, nil)
	if err != nil || res.Results[0].MovedTotal() != 0 {
		t.Fatalf("reencrypt before rotation: %+v %v", res, err)
	}
	rep, err := r.Rotate(ctx, f.env)
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(RetentionPeriod + time.Hour)
	_, err = r.Retire(ctx, old, f.env, false, "")
	var ke *KeyStateError
	if !errors.As(err, &ke) || !ke.Forceable || !strings.Contains(err.Error(), "target gateway-redis holds 40 tokens under it; run 'reencrypt --targets' first") {
		t.Fatalf("retire with tokens in the target: %v", err)
	}
	if f.st.keys[old].State != store.KeyDecryptOnly {
		t.Fatal("a refused retire changed the key")
	}
	// status: tokens under a key past its retention are overdue
	st := keyStatus(f)
	reps, err := tg.Status(ctx, f.ring())
	if err != nil {
		t.Fatal(err)
	}
	st.AddTargets(reps)
	if st.Compliant || !strings.Contains(strings.Join(st.Overdue, "\n"), "target gateway-redis: 40 tokens under key "+old+" after its retention") {
		t.Fatalf("status: %v", st.Overdue)
	}
	// A node whose env file still has the old key as primary may not move
	// the targets backwards.
	stale := &Rotator{Store: f.st, Targets: tg, Now: r.Now}
	oldRing, _ := fernet.NewRing(f.k1, rep.Key)
	if _, err := stale.ReencryptTargets(ctx, ReencryptOptions{Ring: oldRing}, nil); !errors.As(err, &ke) || !strings.Contains(err.Error(), "not the store's active key") {
		t.Fatalf("stale node: %v", err)
	}
	if _, err := r.ReencryptTargets(ctx, ReencryptOptions{EnvPath: f.env}, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `no target "nope"`) {
		t.Fatalf("unknown target: %v", err)
	}
	res, err = r.ReencryptTargets(ctx, ReencryptOptions{EnvPath: f.env}, nil)
	if err != nil || res.Results[0].Moved[old] != 40 || res.Target != rep.NewKey {
		t.Fatalf("reencrypt --targets: %+v %v", res, err)
	}
	if last := f.rec.evs[len(f.rec.evs)-1]; last.Action != ActionReencrypt || !strings.Contains(last.Detail, "target gateway-redis to key "+rep.NewKey+": 40 moved from key "+old) {
		t.Fatalf("audit: %+v", last)
	}
	st = keyStatus(f)
	reps, _ = tg.Status(ctx, f.ring())
	st.AddTargets(reps)
	for _, o := range st.Overdue {
		if strings.Contains(o, "target") {
			t.Fatalf("status after reencrypt: %v", st.Overdue)
		}
	}
	ret, err := r.Retire(ctx, old, f.env, false, "")
	if err != nil || ret.Already || !ret.RemovedFromEnv {
		t.Fatalf("retire after reencrypt: %+v %v", ret, err)
	}
	// A plaintext value and an unreadable token make status fail.
	rc.HSet(ctx, hash, "internal_token", "plaintext-token", "lost", fernet.GenerateKey().Encrypt([]byte("x")))
	reps, _ = tg.Status(ctx, f.ring())
	st = keyStatus(f)
	st.AddTargets(reps)
	all := strings.Join(st.Overdue, "\n")
	if st.Compliant || !strings.Contains(all, "target gateway-redis: 1 values are not Fernet tokens") || !strings.Contains(all, "target gateway-redis: 1 tokens no loaded key opens") {
		t.Fatalf("status with plaintext: %v", st.Overdue)
	}
}

// A target that cannot be read stops a retire: its tokens could be lost
// unseen.
func TestRetireRefusedWhenATargetIsUnreadable(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	r := f.rotator()
	r.Targets = &Targets{
		List: []targets.Target{{Name: "gone", Kind: targets.KindRedisHash, Secret: "platform/redis_url", Hash: "h"}},
		Resolve: func(ctx context.Context, name string) (sensitive.String, error) {
			return sensitive.String{}, store.ErrNotFound
		},
	}
	if _, err := r.Rotate(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(RetentionPeriod + time.Hour)
	_, err := r.Retire(ctx, f.k1.ID(), f.env, false, "")
	if err == nil || !strings.Contains(err.Error(), "cannot check the targets: target gone: reading its connection string from the secret platform/redis_url") {
		t.Fatalf("retire: %v", err)
	}
	if _, err := r.Retire(ctx, f.k1.ID(), f.env, true, "INC-7: key exposed"); err != nil {
		t.Fatalf("forced retire: %v", err)
	}
}

// keyStatus is the key part of a status report over the fixture's key
// table (the memory store has no secrets to judge).
func keyStatus(f *fixture) *StatusReport {
	rep := &StatusReport{Now: f.now, Compliant: true}
	for _, k := range f.st.keys {
		ru := k.RetainUntil
		rep.Keys = append(rep.Keys, KeyStatus{ID: k.ID, State: k.State, RetainUntil: &ru})
	}
	return rep
}
