#!/usr/bin/env bash
# Re-encrypt N (default 1,000,000) of the platform's tokens with
# `sa01-secrets reencrypt --target NAME`: the fields of one Redis hash
# (database 12, hash bench:targets:<pid>, deleted after) and the rows of one
# PostgreSQL table (when SA01_TEST_DB_DSN is set, in a schema of its own,
# dropped after). Wall seconds, tokens/s, CPU seconds and peak RSS from
# /usr/bin/time -v. Seeding is not timed.
#
#   bench/targets/run.sh [N] [BATCH]
#
# Runs under flock /tmp/sa01-bench.lock so no two benchmarks overlap.
set -euo pipefail
if [ -z "${SA01_BENCH_LOCKED:-}" ]; then
  exec env SA01_BENCH_LOCKED=1 flock /tmp/sa01-bench.lock "$0" "$@"
fi
N=${1:-1000000}
BATCH=${2:-2000}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/sa01-targets-bench.XXXXXX)
hash="bench:targets:$$"
schema=""
cleanup() {
  redis-cli -n 12 del "$hash" >/dev/null 2>&1 || true
  if [ -n "$schema" ]; then psql -q "$SA01_TEST_DB_DSN" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/sa01-secrets" ./cmd/sa01-secrets
go build -o "$work/targetsbench" ./bench/targets

pg=""
if [ -n "${SA01_TEST_DB_DSN:-}" ]; then
  schema="bench_targets_$$"
  psql -q "$SA01_TEST_DB_DSN" -c "CREATE SCHEMA $schema"
  sep='?'; case "$SA01_TEST_DB_DSN" in *\?*) sep='&';; esac
  pg="${SA01_TEST_DB_DSN}${sep}search_path=$schema"
fi
"$work/targetsbench" -dir "$work" -redis redis://127.0.0.1:6379/12 -hash "$hash" -pg "$pg" -n "$N"

measure() { # target
  local name=$1
  SA01_SECRETS_DB_DSN="sqlite://$work/secrets.db" SA01_SECRETS_TARGETS_FILE="$work/targets.yaml" \
    /usr/bin/time -v -o "$work/$name.time" \
    "$work/sa01-secrets" reencrypt --target "$name" --env-file "$work/.env" --quiet --batch-size "$BATCH" > "$work/$name.out"
  cat "$work/$name.out"
  local wall user sys rss secs
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$name.time")
  user=$(awk -F': ' '/User time/ {print $2}' "$work/$name.time")
  sys=$(awk -F': ' '/System time/ {print $2}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  printf '| %-18s | %9d | %5d | %10s | %9.0f | %8s | %7s | %6d MB |\n' "$name" "$N" "$BATCH" "$wall" "$(echo "$N / $secs" | bc -l)" "$user" "$sys" $((rss / 1024)) >> "$work/table"
}
measure gateway-redis
if [ -n "$pg" ]; then measure tenant-credentials; fi
echo
echo "| target             |    tokens | batch | wall (m:s) | tokens/s | user (s) | sys (s) | peak RSS |"
echo "|--------------------|-----------|-------|------------|----------|----------|---------|----------|"
cat "$work/table"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
