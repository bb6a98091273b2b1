#!/usr/bin/env bash
# Re-encrypt N (default 1,000,000) versions of 100-byte values with
# `sa01-secrets reencrypt`, on SQLite and on PostgreSQL (when
# SA01_TEST_DB_DSN is set, in a schema of its own): wall seconds, CPU
# seconds and peak RSS from /usr/bin/time -v. Seeding is not timed.
#
#   bench/rotate/run.sh [N] [BATCH]
#
# STORES=sqlite or STORES=postgres runs one of them only.
# Runs under flock /tmp/sa01-bench.lock so no two benchmarks overlap.
set -euo pipefail
if [ -z "${SA01_BENCH_LOCKED:-}" ]; then
  exec env SA01_BENCH_LOCKED=1 flock /tmp/sa01-bench.lock "$0" "$@"
fi
N=${1:-1000000}
BATCH=${2:-2000}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/sa01-rotate-bench.XXXXXX)
schema=""
cleanup() {
  if [ -n "$schema" ]; then psql -q "$SA01_TEST_DB_DSN" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/sa01-secrets" ./cmd/sa01-secrets
go build -o "$work/rotatebench" ./bench/rotate

measure() { # name dsn
  local name=$1 dsn=$2
  "$work/rotatebench" -dsn "$dsn" -env "$work/$name.env" -n "$N"
  SA01_SECRETS_DB_DSN="$dsn" /usr/bin/time -v -o "$work/$name.time" \
    "$work/sa01-secrets" reencrypt --env-file "$work/$name.env" --quiet --batch-size "$BATCH" > "$work/$name.out"
  cat "$work/$name.out"
  local wall user sys rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$name.time")
  user=$(awk -F': ' '/User time/ {print $2}' "$work/$name.time")
  sys=$(awk -F': ' '/System time/ {print $2}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
  printf '| %-10s | %9d | %5d | %10s | %8s | %7s | %6d MB |\n' "$name" "$N" "$BATCH" "$wall" "$user" "$sys" $((rss / 1024)) >> "$work/table"
}

STORES=${STORES:-sqlite postgres}
case " $STORES " in *" sqlite "*) measure sqlite "sqlite://$work/secrets.db";; esac
if [ -n "${SA01_TEST_DB_DSN:-}" ] && [[ " $STORES " == *" postgres "* ]]; then
  schema="bench_rotate_$$"
  psql -q "$SA01_TEST_DB_DSN" -c "CREATE SCHEMA $schema"
  sep='?'; case "$SA01_TEST_DB_DSN" in *\?*) sep='&';; esac
  measure postgres "${SA01_TEST_DB_DSN}${sep}search_path=$schema"
fi
echo
echo "| store      |  versions | batch | wall (m:s) | user (s) | sys (s) | peak RSS |"
echo "|------------|-----------|-------|------------|----------|---------|----------|"
cat "$work/table"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
