package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// RevocationChannel is the channel the triggers of migration 00009 notify.
const RevocationChannel = "sa01_secrets_revocation"

// Listener timings.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
	// listenIdle: with no notification for this long the listener pings
	// its connection, so that a connection lost without a word (a dead
	// peer, a dropped route) is found within a bounded time.
	listenIdle = 30 * time.Second
	listenPing = 5 * time.Second
)

// WatchRevocations implements store.Revocations: a dedicated connection
// (not one of the pool's) LISTENs on RevocationChannel and hands each
// notification's payload, an identity's name, to h.Revoked. When the
// connection fails it reports h.Dropped, waits (100 ms doubling to 10 s)
// and connects again; after each LISTEN it calls h.Resync, because what
// was announced while it was away is lost. It returns when ctx is done.
func (d *DB) WatchRevocations(ctx context.Context, h store.RevocationHandler) error {
	backoff := listenBackoffMin
	for {
		listened, err := d.listen(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if h.Dropped != nil {
			h.Dropped(err)
		}
		if listened {
			backoff = listenBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listen connects, LISTENs and delivers notifications until the
// connection fails or ctx is done. listened says whether LISTEN succeeded.
func (d *DB) listen(ctx context.Context, h store.RevocationHandler) (listened bool, err error) {
	cfg := d.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "sa01-secrets revocation listener"
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{RevocationChannel}.Sanitize()); err != nil {
		return false, fmt.Errorf("%w: LISTEN: %s", store.ErrUnavailable, reason(err))
	}
	if h.Listening != nil {
		h.Listening(conn.PgConn().PID())
	}
	if h.Resync != nil {
		h.Resync()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if h.Revoked != nil {
				h.Revoked(n.Payload)
			}
			continue
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, listenPing)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		return true, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
}
