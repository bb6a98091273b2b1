package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

func resolver(vals map[string]string) Resolver {
	return func(ctx context.Context, name string) (sensitive.String, error) {
		v, ok := vals[name]
		if !ok {
			return sensitive.String{}, errors.New("not found")
		}
		return sensitive.New(v), nil
	}
}

func ring(t testing.TB, keys ...*fernet.Key) *fernet.Ring {
	r, err := fernet.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture is a target of each kind holding n tokens under old, with one
// plaintext value and one token under a key nobody loads.
type fixture struct {
	targets []Target
	res     Resolver
	want    map[string]map[string]string // target -> key -> plaintext
	check   func(t *testing.T, tg Target) map[string]string
}

func redisFixture(t *testing.T, old *fernet.Key, n int) fixture {
	url, rc, prefix := targetstest.Redis(t)
	ctx := context.Background()
	stranger := fernet.GenerateKey()
	hash := prefix + "gateway:secrets"
	fx := fixture{
		targets: []Target{
			{Name: "hash", Kind: KindRedisHash, Secret: "platform/redis_url", Hash: hash},
			{Name: "keys", Kind: KindRedisKeys, Secret: "platform/redis_url", Keys: prefix + "session:*:token"},
		},
		res:  resolver(map[string]string{"platform/redis_url": url}),
		want: map[string]map[string]string{"hash": {}, "keys": {}},
	}
	at := time.Unix(1_700_000_000, 0)
	fields := []any{}
	for i := range n {
		f, v := fmt.Sprintf("provider:p%d", i), fmt.Sprintf("sk-%d", i)
		fields = append(fields, f, old.EncryptAt([]byte(v), at.Add(time.Duration(i)*time.Second)))
		fx.want["hash"][f] = v
		k := fmt.Sprintf("%ssession:%d:token", prefix, i)
		if err := rc.Set(ctx, k, old.Encrypt([]byte(v)), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		fx.want["keys"][k] = v
	}
	fields = append(fields, "plain", "sk-plaintext-where-a-token-belongs", "lost", stranger.Encrypt([]byte("x")))
	if err := rc.HSet(ctx, hash, fields...).Err(); err != nil {
		t.Fatal(err)
	}
	// a key of another type matching the pattern is not a token holder
	rc.HSet(ctx, prefix+"session:x:token", "a", "b")
	fx.check = func(t *testing.T, tg Target) map[string]string {
		out := map[string]string{}
		if tg.Kind == KindRedisHash {
			m, err := rc.HGetAll(ctx, hash).Result()
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		for k := range fx.want["keys"] {
			v, err := rc.Get(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			out[k] = v
			if ttl := rc.TTL(ctx, k).Val(); ttl <= 0 {
				t.Fatalf("%s lost its TTL", k)
			}
		}
		return out
	}
	return fx
}

func pgFixture(t *testing.T, old *fernet.Key, n int) fixture {
	dsn, _ := targetstest.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `CREATE TABLE llm_credentials (id bigint PRIMARY KEY, tenant text, api_key_enc varchar(400));
CREATE TABLE nokey (id int, tok text); CREATE TABLE bytes (id int primary key, tok bytea)`); err != nil {
		t.Fatal(err)
	}
	fx := fixture{
		targets: []Target{{Name: "pg", Kind: KindPostgres, Secret: "platform/db_dsn", Table: "llm_credentials", Column: "api_key_enc", KeyCol: "id"}},
		res:     resolver(map[string]string{"platform/db_dsn": dsn}),
		want:    map[string]map[string]string{"pg": {}},
	}
	for i := range n {
		v := fmt.Sprintf("sk-%d", i)
		// ids out of insertion order, to exercise keyset pagination over numbers
		id := (i*7919)%100003 + 1
		if _, err := conn.Exec(ctx, `INSERT INTO llm_credentials VALUES ($1, 't', $2)`, id, string(old.Encrypt([]byte(v)))); err != nil {
			t.Fatal(err)
		}
		fx.want["pg"][fmt.Sprint(id)] = v
	}
	if _, err := conn.Exec(ctx, `INSERT INTO llm_credentials VALUES (-1, 't', 'sk-plaintext'), (-2, 't', $1), (-3, 't', NULL)`, string(fernet.GenerateKey().Encrypt([]byte("x")))); err != nil {
		t.Fatal(err)
	}
	fx.check = func(t *testing.T, tg Target) map[string]string {
		rows, err := conn.Query(ctx, `SELECT id::text, api_key_enc FROM llm_credentials WHERE api_key_enc IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	return fx
}

// kinds builds each kind's fixture inside its own subtest, so a missing
// service skips only its kind.
var kinds = map[string]func(t *testing.T, old *fernet.Key, n int) fixture{"redis": redisFixture, "postgres": pgFixture}

func TestStatusAndReencrypt(t *testing.T) {
	old, cur := fernet.GenerateKey(), fernet.GenerateKey()
	for kind, mk := range kinds {
		t.Run(kind, func(t *testing.T) {
			fx := mk(t, old, 1200)
			ctx := context.Background()
			now := time.Now()
			r := &Runner{Ring: ring(t, cur, old), Resolve: fx.res, BatchSize: 300, Now: func() time.Time { return now }}
			reps, err := r.Status(ctx, fx.targets)
			if err != nil {
				t.Fatal(err)
			}
			for _, rep := range reps {
				n := int64(len(fx.want[rep.Target]))
				plain, lost := int64(1), int64(1)
				if rep.Target == "keys" {
					plain, lost = 0, 0
				}
				if rep.Error != "" || rep.Tokens[old.ID()] != n || len(rep.Tokens) != 1 || rep.Plaintext != plain || rep.Unreadable != lost || rep.Total != n+plain+lost {
					t.Fatalf("status %+v; want %d under %s, %d plaintext, %d unreadable", rep, n, old.ID(), plain, lost)
				}
				if rep.Oldest == nil || rep.OldestAgeSeconds < int64(now.Sub(*rep.Oldest)/time.Second)-1 {
					t.Fatalf("oldest = %v, age %d", rep.Oldest, rep.OldestAgeSeconds)
				}
				if rep.Target == "hash" && !rep.Oldest.Equal(time.Unix(1_700_000_000, 0)) {
					t.Fatalf("oldest = %v; want the first token's time", rep.Oldest)
				}
				if rep.OK() == (plain+lost > 0) {
					t.Fatalf("OK() = %v", rep.OK())
				}
			}
			before := map[string]map[string]string{}
			for _, tg := range fx.targets {
				before[tg.Name] = fx.check(t, tg)
			}
			var calls int
			r.Progress = func(Progress) { calls++ }
			res, err := r.Reencrypt(ctx, fx.targets)
			if err != nil {
				t.Fatal(err)
			}
			if calls < 2 {
				t.Errorf("progress called %d times", calls)
			}
			newOnly := ring(t, cur)
			for i, tg := range fx.targets {
				n := int64(len(fx.want[tg.Name]))
				if res[i].Moved[old.ID()] != n || res[i].Skipped != 0 || res[i].ToKey != cur.ID() {
					t.Fatalf("result %+v; want %d moved", res[i], n)
				}
				after := fx.check(t, tg)
				for k, want := range fx.want[tg.Name] {
					got, err := newOnly.Decrypt([]byte(after[k]))
					if err != nil || string(got) != want {
						t.Fatalf("%s %s: %q, %v under the new key alone; want %q", tg.Name, k, got, err, want)
					}
					t0, _ := fernet.Inspect([]byte(before[tg.Name][k]))
					t1, _ := fernet.Inspect([]byte(after[k]))
					if !t0.Equal(t1) {
						t.Fatalf("%s %s: timestamp %v became %v", tg.Name, k, t0, t1)
					}
				}
				for k, v := range before[tg.Name] {
					if _, ok := fx.want[tg.Name][k]; !ok && after[k] != v {
						t.Fatalf("%s %s: a value that is not a token under a loaded key was changed", tg.Name, k)
					}
				}
			}
			// a rerun has nothing left to move
			res, err = r.Reencrypt(ctx, fx.targets)
			if err != nil || res[0].MovedTotal() != 0 {
				t.Fatalf("rerun: %+v, %v", res, err)
			}
		})
	}
}

// racer changes a value between the scan and the swap, as a live
// application would.
type racer struct {
	Conn
	change func(key string)
	done   bool
}

func (c *racer) Swap(ctx context.Context, swaps []Swap) ([]bool, error) {
	if !c.done && len(swaps) > 0 {
		c.change(swaps[0].Key)
		c.done = true
	}
	return c.Conn.Swap(ctx, swaps)
}

func TestReencryptLeavesWhatTheApplicationChanged(t *testing.T) {
	old, cur := fernet.GenerateKey(), fernet.GenerateKey()
	for kind, mk := range kinds {
		t.Run(kind, func(t *testing.T) {
			fx := mk(t, old, 50)
			ctx := context.Background()
			written := map[string]string{}
			r := &Runner{Ring: ring(t, cur, old), Resolve: fx.res, BatchSize: 1000}
			r.Open = func(ctx context.Context, tg Target, cs sensitive.String) (Conn, error) {
				c, err := Connect(ctx, tg, cs)
				if err != nil {
					return nil, err
				}
				// the application writes a new value under the OLD key
				// (it has not restarted yet) between read and swap
				return &racer{Conn: c, change: func(key string) {
					tok := string(old.Encrypt([]byte("app-wrote-this")))
					written[tg.Name] = key
					raw := c.(interface{ set(string, string) error })
					if err := raw.set(key, tok); err != nil {
						t.Fatal(err)
					}
				}}, nil
			}
			res, err := r.Reencrypt(ctx, fx.targets)
			if err != nil {
				t.Fatal(err)
			}
			for i, tg := range fx.targets {
				if res[i].Skipped != 1 || res[i].MovedTotal() != int64(len(fx.want[tg.Name])-1) {
					t.Fatalf("%s: %+v; want 1 skipped", tg.Name, res[i])
				}
				got := fx.check(t, tg)[written[tg.Name]]
				if v, err := old.Decrypt([]byte(got)); err != nil || string(v) != "app-wrote-this" {
					t.Fatalf("%s: the application's write was overwritten", tg.Name)
				}
			}
			// the rerun moves it
			r.Open = nil
			res, err = r.Reencrypt(ctx, fx.targets)
			if err != nil || res[0].MovedTotal() != 1 {
				t.Fatalf("rerun: %+v, %v", res, err)
			}
		})
	}
}

func TestReencryptResumes(t *testing.T) {
	old, cur := fernet.GenerateKey(), fernet.GenerateKey()
	for kind, mk := range kinds {
		t.Run(kind, func(t *testing.T) {
			fx := mk(t, old, 1000)
			ctx, cancel := context.WithCancel(context.Background())
			r := &Runner{Ring: ring(t, cur, old), Resolve: fx.res, BatchSize: 100}
			r.Progress = func(p Progress) {
				if p.Moved >= 200 {
					cancel()
				}
			}
			res, err := r.Reencrypt(ctx, fx.targets[:1])
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			moved := res[0].MovedTotal()
			if moved < 200 || moved >= 1000 {
				t.Fatalf("moved %d before the interruption", moved)
			}
			r.Progress = nil
			// A batch whose write was under way when the run stopped may
			// have committed unreported: the resume moves at most the rest.
			res, err = r.Reencrypt(context.Background(), fx.targets[:1])
			if err != nil || res[0].MovedTotal() > 1000-moved || res[0].MovedTotal() == 0 {
				t.Fatalf("resume moved %d (%v); want at most %d", res[0].MovedTotal(), err, 1000-moved)
			}
			reps, _ := r.Status(context.Background(), fx.targets[:1])
			if reps[0].Tokens[cur.ID()] != 1000 || reps[0].Tokens[old.ID()] != 0 {
				t.Fatalf("after the resume: %+v", reps[0])
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	dsn, _ := targetstest.Postgres(t)
	url, _, _ := targetstest.Redis(t)
	_ = url
	r := &Runner{Ring: ring(t, fernet.GenerateKey()), Resolve: resolver(map[string]string{
		"pg": dsn, "bad": "redis://:hunter2@127.0.0.1:1/0", "junk": "hunter2 is not a url",
	})}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE nokey (id int, tok text); CREATE TABLE bin (id int primary key, tok bytea)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tg   Target
		want string
	}{
		{Target{Name: "a", Kind: KindPostgres, Secret: "pg", Table: "missing", Column: "tok", KeyCol: "id"}, "no table missing"},
		{Target{Name: "a", Kind: KindPostgres, Secret: "pg", Table: "nokey", Column: "tok", KeyCol: "id"}, "nokey.id is not unique"},
		{Target{Name: "a", Kind: KindPostgres, Secret: "pg", Table: "bin", Column: "tok", KeyCol: "id"}, "bin.tok is bytea"},
		{Target{Name: "a", Kind: KindPostgres, Secret: "pg", Table: "bin", Column: "nope", KeyCol: "id"}, "has no column"},
		{Target{Name: "a", Kind: KindRedisHash, Secret: "bad", Hash: "h"}, "cannot reach Redis at 127.0.0.1:1 (from the secret bad)"},
		{Target{Name: "a", Kind: KindRedisHash, Secret: "junk", Hash: "h"}, "the secret junk does not hold a redis:// URL"},
		{Target{Name: "a", Kind: KindPostgres, Secret: "junk", Table: "t", Column: "c", KeyCol: "id"}, "the secret junk does not hold a PostgreSQL DSN"},
		{Target{Name: "a", Kind: KindPostgres, Secret: "absent", Table: "t", Column: "c", KeyCol: "id"}, "target a: reading its connection string from the secret absent"},
	} {
		reps, err := r.Status(ctx, []Target{c.tg})
		if err != nil {
			t.Fatal(err)
		}
		if e := reps[0].Error; !strings.Contains(e, c.want) || strings.Contains(e, "hunter2") || reps[0].OK() {
			t.Errorf("%+v: error %q; want %q", c.tg, e, c.want)
		}
		if _, err := r.Reencrypt(ctx, []Target{c.tg}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Reencrypt: %v", err)
		}
	}
}
