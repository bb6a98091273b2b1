package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// pgConn reads a token column by keyset pagination on the table's unique
// key, and swaps in one UPDATE per batch:
//
//	UPDATE t SET col = v.new FROM unnest(...) v(k, old, new)
//	WHERE t.key = v.k AND t.col = v.old
//
// which is `UPDATE ... WHERE key = $1 AND col = $old` for a whole batch in
// one statement: a row the application changed since the read is not
// touched.
type pgConn struct {
	t       Target
	pool    *pgxpool.Pool
	table   string // quoted
	col     string // quoted
	key     string // quoted
	keyType string // the key column's type, as format_type prints it
}

func openPostgres(ctx context.Context, t Target, conn sensitive.String) (Conn, error) {
	cfg, err := pgxpool.ParseConfig(conn.Reveal())
	if err != nil {
		return nil, fmt.Errorf("the secret %s does not hold a PostgreSQL DSN", t.Secret)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL (from the secret %s): %s", t.Secret, pgErr(err))
	}
	c := &pgConn{t: t, pool: pool,
		table: pgx.Identifier(strings.Split(t.Table, ".")).Sanitize(),
		col:   pgx.Identifier{t.Column}.Sanitize(),
		key:   pgx.Identifier{t.KeyCol}.Sanitize(),
	}
	if err := c.check(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return c, nil
}

// pgErr describes a PostgreSQL error: the server's message and code, or
// the connection error (pgconn never puts the password in either).
func pgErr(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message + " (" + pe.Code + ")"
	}
	return err.Error()
}

// check finds the columns' types: the token column must be text, the key
// column unique (a primary key or a unique index on it alone), or the
// pagination could miss rows.
func (c *pgConn) check(ctx context.Context) error {
	var colType, keyType string
	var unique bool
	err := c.pool.QueryRow(ctx, `
SELECT
  (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = r.oid AND attname = $2 AND NOT attisdropped AND attnum > 0),
  (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = r.oid AND attname = $3 AND NOT attisdropped AND attnum > 0),
  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = r.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = $3)
FROM (SELECT to_regclass($1)::oid AS oid) r WHERE r.oid IS NOT NULL`,
		c.t.Table, c.t.Column, c.t.KeyCol).Scan(&colType, &keyType, &unique)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("no table %s in that database", c.t.Table)
	}
	if err != nil {
		if strings.Contains(err.Error(), "cannot scan NULL") {
			return fmt.Errorf("table %s has no column %s or %s", c.t.Table, c.t.Column, c.t.KeyCol)
		}
		return fmt.Errorf("reading the table's columns: %s", pgErr(err))
	}
	switch {
	case colType == "text", strings.HasPrefix(colType, "character varying"), strings.HasPrefix(colType, "character("):
	default:
		return fmt.Errorf("column %s.%s is %s: want text or varchar (Fernet tokens are text)", c.t.Table, c.t.Column, colType)
	}
	if !unique {
		return fmt.Errorf("column %s.%s is not unique: the key must be a primary key or have a unique index of its own", c.t.Table, c.t.KeyCol)
	}
	c.keyType = keyType
	return nil
}

func (c *pgConn) Close() error { c.pool.Close(); return nil }

func (c *pgConn) Scan(ctx context.Context, n int, fn func([]Item) error) error {
	// ORDER BY t.key, not key: the output column named key is its text.
	first := fmt.Sprintf(`SELECT t.%[1]s::text AS k, t.%[2]s AS v FROM %[3]s AS t WHERE t.%[2]s IS NOT NULL ORDER BY t.%[1]s LIMIT $1`, c.key, c.col, c.table)
	next := fmt.Sprintf(`SELECT t.%[1]s::text AS k, t.%[2]s AS v FROM %[3]s AS t WHERE t.%[2]s IS NOT NULL AND t.%[1]s > ($2::text)::%[4]s ORDER BY t.%[1]s LIMIT $1`, c.key, c.col, c.table, c.keyType)
	var last *string
	for {
		var rows pgx.Rows
		var err error
		if last == nil {
			rows, err = c.pool.Query(ctx, first, n)
		} else {
			rows, err = c.pool.Query(ctx, next, n, *last)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %s", c.t.Table, pgErr(err))
		}
		items := make([]Item, 0, n)
		for rows.Next() {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return fmt.Errorf("reading %s: %s", c.t.Table, pgErr(err))
			}
			items = append(items, Item{Key: k, Value: v})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading %s: %s", c.t.Table, pgErr(err))
		}
		if len(items) == 0 {
			return nil
		}
		k := items[len(items)-1].Key
		last = &k
		if err := fn(items); err != nil {
			return err
		}
		if len(items) < n {
			return nil
		}
	}
}

func (c *pgConn) Swap(ctx context.Context, swaps []Swap) ([]bool, error) {
	keys := make([]string, len(swaps))
	olds := make([]string, len(swaps))
	news := make([]string, len(swaps))
	at := make(map[string]int, len(swaps))
	for i, s := range swaps {
		keys[i], olds[i], news[i] = s.Key, string(s.Old), string(s.New)
		at[s.Key] = i
	}
	q := fmt.Sprintf(`UPDATE %[1]s AS t SET %[2]s = v.new
FROM unnest($1::text[], $2::text[], $3::text[]) AS v(k, old, new)
WHERE t.%[3]s = (v.k)::%[4]s AND t.%[2]s = v.old
RETURNING v.k`, c.table, c.col, c.key, c.keyType)
	rows, err := c.pool.Query(ctx, q, keys, olds, news)
	if err != nil {
		return nil, fmt.Errorf("compare-and-swap on %s: %s", c.t.Table, pgErr(err))
	}
	defer rows.Close()
	out := make([]bool, len(swaps))
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("compare-and-swap on %s: %s", c.t.Table, pgErr(err))
		}
		if i, ok := at[k]; ok {
			out[i] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("compare-and-swap on %s: %s", c.t.Table, pgErr(err))
	}
	return out, nil
}

// set writes one value as the application would (tests).
func (c *pgConn) set(key, v string) error {
	_, err := c.pool.Exec(context.Background(), fmt.Sprintf(`UPDATE %s SET %s = $2 WHERE %s = ($1::text)::%s`, c.table, c.col, c.key, c.keyType), key, v)
	return err
}
