#!/usr/bin/env bash
# Runs the store benchmarks one after another under the shared bench lock
# and appends the results to bench/store/results.txt. Other work on the
# machine (builds, tests) is not locked out: read the load average printed.
#   bench/store/run.sh            SQLite only
#   PG=postgres://... bench/store/run.sh   also PostgreSQL
set -euo pipefail
# The whole series runs under the shared bench lock, taken once.
if [ -z "${SA01_BENCH_LOCKED:-}" ]; then
  SA01_BENCH_LOCKED=1 exec flock /tmp/sa01-bench.lock "$0" "$@"
fi
cd "$(dirname "$0")/../.."
out=bench/store/results.txt
work=$(mktemp -d /tmp/sa01-store-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/storebench" ./bench/store
go build -o "$work/sa01-secrets" ./cmd/sa01-secrets
# FILL=1 also builds and verifies a store of 1,000,000 versions (minutes).
lock() { "$@"; }
{
  echo "== $(date -u +%FT%TZ) $(uname -m) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  lock "$work/storebench" -mode put -n 5000
  lock "$work/storebench" -mode get -n 100000
  lock "$work/storebench" -mode get -n 100000 -c 2
  lock "$work/storebench" -mode list -n 100000
  lock "$work/storebench" -mode import -n 100000
  if [ -n "${FILL:-}" ]; then
    lock "$work/storebench" -mode fill -n 1000000 -versions 10 -db "$work/1m.db"
    lock /usr/bin/time -f "verify: wall %e s, max RSS %M KB" "$work/storebench" -mode verify -db "$work/1m.db"
  fi
  # CLI import of a 100,000-line .env (one transaction)
  awk 'BEGIN { for (i = 0; i < 100000; i++) printf "VAR_%06d=value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i, i }' > "$work/big.env"
  key=$("$work/sa01-secrets" generate key)
  SA01_CRYPTO_FERNET_KEY=$key SA01_SECRETS_DB_DSN="sqlite://$work/cli.db" "$work/sa01-secrets" init --credential-file "$work/admin.credential" 2>/dev/null
  SA01_CRYPTO_FERNET_KEY=$key SA01_SECRETS_DB_DSN="sqlite://$work/cli.db" lock /usr/bin/time -f "sqlite CLI import 100000 lines: wall %e s, max RSS %M KB" \
    "$work/sa01-secrets" import --from-dotenv "$work/big.env" --prefix app/
  SA01_CRYPTO_FERNET_KEY=$key SA01_SECRETS_DB_DSN="sqlite://$work/cli.db" lock /usr/bin/time -f "sqlite CLI list 100000 secrets: wall %e s, max RSS %M KB" \
    "$work/sa01-secrets" list --format json > /dev/null
  if [ -n "${PG:-}" ]; then
    lock "$work/storebench" -dsn "$PG" -mode put -n 2000
    lock "$work/storebench" -dsn "$PG" -mode get -n 20000
    lock "$work/storebench" -dsn "$PG" -mode get -n 20000 -c 4
    lock "$work/storebench" -dsn "$PG" -mode list -n 100000
    lock "$work/storebench" -dsn "$PG" -mode import -n 100000
  fi
} 2>&1 | tee -a "$out"
