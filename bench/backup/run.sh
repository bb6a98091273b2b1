#!/usr/bin/env bash
# Backup, verify, restore and migrate of a store with 1,000,000 versions and
# 1,000,000 audit events: wall time and peak RSS of each, through the CLI.
# Appends to bench/backup/results.txt. Needs PostgreSQL for the restore and
# migrate into it (PG=postgres://...; default the test database).
#   bench/backup/run.sh                     1M versions, 1M events
#   VERSIONS=100000 EVENTS=100000 bench/backup/run.sh
set -euo pipefail
if [ -z "${SA01_BENCH_LOCKED:-}" ]; then
  SA01_BENCH_LOCKED=1 exec flock /tmp/sa01-bench.lock "$0" "$@"
fi
cd "$(dirname "$0")/../.."
out=bench/backup/results.txt
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
VERSIONS=${VERSIONS:-1000000}
EVENTS=${EVENTS:-1000000}
work=$(mktemp -d /tmp/sa01-backup-bench.XXXXXX)
schema=sa01_bench_$$
export PGOPTIONS="-c client_min_messages=warning"
cleanup() { psql "$PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/gen" ./bench/backup
go build -ldflags "-X main.Version=bench" -o "$work/sa01-secrets" ./cmd/sa01-secrets
export SA01_CRYPTO_FERNET_KEY=$("$work/sa01-secrets" generate key)
psql "$PG" -qc "CREATE SCHEMA $schema"
sep='?'; case "$PG" in *\?*) sep='&';; esac
export SA01_BENCH_PG="$PG${sep}search_path=$schema"
t() { /usr/bin/time -f "$1: wall %e s, cpu %U s user + %S s sys, max RSS %M KB" "${@:2}"; }
{
  echo "== $(date -u +%FT%TZ) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$work/gen" -db "$work/src.db" -versions "$VERSIONS" -events "$EVENTS"
  cd "$work"
  export SA01_SECRETS_DB_DSN="sqlite://$work/src.db"
  t "backup (sqlite)" ./sa01-secrets backup --output "$work/b.sa01bk" >/dev/null
  echo "backup file: $(($(stat -c %s "$work/b.sa01bk") >> 20)) MB"
  t "backup --verify" ./sa01-secrets backup --verify "$work/b.sa01bk" >/dev/null
  SA01_SECRETS_DB_DSN="sqlite://$work/dst.db" t "restore (to sqlite)" ./sa01-secrets restore --input "$work/b.sa01bk" >/dev/null
  SA01_SECRETS_DB_DSN="$SA01_BENCH_PG" t "restore (to postgres)" ./sa01-secrets restore --input "$work/b.sa01bk" >/dev/null
  psql "$PG" -qc "DROP SCHEMA $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
  t "migrate (sqlite to postgres)" ./sa01-secrets migrate --to-env SA01_BENCH_PG >/dev/null
  SA01_SECRETS_DB_DSN="$SA01_BENCH_PG" t "backup (postgres)" ./sa01-secrets backup --output "$work/pg.sa01bk" >/dev/null
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee -a "$OLDPWD/$out"
