package targets

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// Connect opens a target with the connection string read from the store.
// Errors never quote the connection string.
func Connect(ctx context.Context, t Target, conn sensitive.String) (Conn, error) {
	switch t.Kind {
	case KindRedisHash, KindRedisKeys:
		return openRedis(ctx, t, conn)
	case KindPostgres:
		return openPostgres(ctx, t, conn)
	}
	return nil, fmt.Errorf("unknown kind %q", t.Kind)
}

// hashSwap sets each field (ARGV[3i-2]) to its new token (ARGV[3i]) only
// if it still holds the old one (ARGV[3i-1]); it returns a 0/1 per field.
// It reads with HMGET and writes with HSET, a chunk of fields per call
// (Lua's unpack is bounded). A script runs whole or not at all: a client
// killed meanwhile changes nothing half-way.
var hashSwap = redis.NewScript(`
local out = {}
local n = #ARGV / 3
for lo = 1, n, 1000 do
  local hi = math.min(lo + 999, n)
  local fields = {}
  for i = lo, hi do fields[#fields+1] = ARGV[3*i-2] end
  local cur = redis.call('HMGET', KEYS[1], unpack(fields))
  local set = {}
  for i = lo, hi do
    if cur[i-lo+1] == ARGV[3*i-1] then
      set[#set+1] = ARGV[3*i-2]
      set[#set+1] = ARGV[3*i]
      out[i] = 1
    else
      out[i] = 0
    end
  end
  if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
end
return out
`)

// keySwap sets each string key KEYS[i] to ARGV[2i] only if it still holds
// ARGV[2i-1], keeping its time to live.
var keySwap = redis.NewScript(`
local out = {}
for lo = 1, #KEYS, 1000 do
  local hi = math.min(lo + 999, #KEYS)
  local keys = {}
  for i = lo, hi do keys[#keys+1] = KEYS[i] end
  local cur = redis.call('MGET', unpack(keys))
  for i = lo, hi do
    if cur[i-lo+1] == ARGV[2*i-1] then
      redis.call('SET', KEYS[i], ARGV[2*i], 'KEEPTTL')
      out[i] = 1
    else
      out[i] = 0
    end
  end
end
return out
`)

func init() {
	// go-redis logs dial failures on its own; ours carry the target's name.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

type redisConn struct {
	t  Target
	rc *redis.Client
}

func openRedis(ctx context.Context, t Target, conn sensitive.String) (Conn, error) {
	opt, err := redis.ParseURL(conn.Reveal())
	if err != nil {
		return nil, fmt.Errorf("the secret %s does not hold a redis:// URL", t.Secret)
	}
	opt.DisableIdentity = true
	opt.MaxRetries = 1
	rc := redis.NewClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		rc.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s (from the secret %s): %s", opt.Addr, t.Secret, redisErr(err))
	}
	return &redisConn{t: t, rc: rc}, nil
}

// redisErr describes a Redis error without a value in it.
func redisErr(err error) string {
	var re redis.Error
	if errors.As(err, &re) {
		return "the server said: " + trunc(re.Error())
	}
	return err.Error()
}

func (c *redisConn) Close() error { return c.rc.Close() }

func (c *redisConn) Scan(ctx context.Context, n int, fn func([]Item) error) error {
	if c.t.Kind == KindRedisHash {
		return c.scanHash(ctx, n, fn)
	}
	return c.scanKeys(ctx, n, fn)
}

func (c *redisConn) scanHash(ctx context.Context, n int, fn func([]Item) error) error {
	var cursor uint64
	var buf []Item
	for {
		kv, next, err := c.rc.HScan(ctx, c.t.Hash, cursor, "", int64(n)).Result()
		if err != nil {
			return fmt.Errorf("HSCAN %s: %s", c.t.Hash, redisErr(err))
		}
		for i := 0; i+1 < len(kv); i += 2 {
			buf = append(buf, Item{Key: kv[i], Value: []byte(kv[i+1])})
		}
		if len(buf) >= n || (next == 0 && len(buf) > 0) {
			if err := fn(buf); err != nil {
				return err
			}
			buf = nil
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (c *redisConn) scanKeys(ctx context.Context, n int, fn func([]Item) error) error {
	var cursor uint64
	for {
		keys, next, err := c.rc.ScanType(ctx, cursor, c.t.Keys, int64(n), "string").Result()
		if err != nil {
			return fmt.Errorf("SCAN %s: %s", c.t.Keys, redisErr(err))
		}
		if len(keys) > 0 {
			vals, err := c.rc.MGet(ctx, keys...).Result()
			if err != nil {
				return fmt.Errorf("MGET: %s", redisErr(err))
			}
			items := make([]Item, 0, len(keys))
			for i, v := range vals {
				if s, ok := v.(string); ok { // nil: gone since the SCAN
					items = append(items, Item{Key: keys[i], Value: []byte(s)})
				}
			}
			if len(items) > 0 {
				if err := fn(items); err != nil {
					return err
				}
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (c *redisConn) Swap(ctx context.Context, swaps []Swap) ([]bool, error) {
	var res []any
	var err error
	if c.t.Kind == KindRedisHash {
		args := make([]any, 0, 3*len(swaps))
		for _, s := range swaps {
			args = append(args, s.Key, s.Old, s.New)
		}
		res, err = hashSwap.Run(ctx, c.rc, []string{c.t.Hash}, args...).Slice()
	} else {
		keys := make([]string, len(swaps))
		args := make([]any, 0, 2*len(swaps))
		for i, s := range swaps {
			keys[i] = s.Key
			args = append(args, s.Old, s.New)
		}
		res, err = keySwap.Run(ctx, c.rc, keys, args...).Slice()
	}
	if err != nil {
		return nil, fmt.Errorf("compare-and-swap: %s", redisErr(err))
	}
	if len(res) != len(swaps) {
		return nil, fmt.Errorf("compare-and-swap: %d results for %d values", len(res), len(swaps))
	}
	out := make([]bool, len(res))
	for i, v := range res {
		out[i] = v == int64(1)
	}
	return out, nil
}

// set writes one value as the application would (tests).
func (c *redisConn) set(key, v string) error {
	if c.t.Kind == KindRedisHash {
		return c.rc.HSet(context.Background(), c.t.Hash, key, v).Err()
	}
	return c.rc.Set(context.Background(), key, v, redis.KeepTTL).Err()
}
