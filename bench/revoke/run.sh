#!/usr/bin/env bash
# bench/revoke/run.sh: how long a revocation on node A takes to be refused
# on node B, two "sa01-secrets serve" processes over one PostgreSQL store.
# Each round logs in on A, lets B cache the token, polls B with it in a
# tight loop, revokes on A and records the time from sending the revoke to
# B's first 401, and from A's answer to it (bench/revoke/main.go; negative:
# B refused before A had answered). Prints p50, p99 and max of each.
#
#   bench/revoke/run.sh                         # 50 rounds of each mode
#   N=200 MODES=token bench/revoke/run.sh
#   COMPARE=main bench/revoke/run.sh            # also the binary of REV, same rounds
#
# Modes: token (the round's token revoked by its holder) and identity (a new
# identity each round, revoked by an admin). Each binary gets a fresh schema
# in PG (default the test database), dropped at the end. It takes
# /tmp/sa01-bench.lock so that no two benchmarks overlap.
set -euo pipefail
if [ -z "${SA01_BENCH_LOCKED:-}" ]; then
  SA01_BENCH_LOCKED=1 exec flock /tmp/sa01-bench.lock "$0" "$@"
fi
cd "$(dirname "$0")/../.."
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
N=${N:-50}
MODES=${MODES:-token,identity}
PORT_A=${PORT_A:-18301}
PORT_B=${PORT_B:-18302}
work=$(mktemp -d /tmp/sa01-bench-revoke.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"
pids=()
schemas=()
stop_nodes() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_nodes
  for s in "${schemas[@]}"; do psql "$PG" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/sa01-secrets" ./cmd/sa01-secrets
go build -o "$work/revoke" ./bench/revoke
bins=("$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo -dirty)=$work/sa01-secrets")
if [[ -n ${COMPARE:-} ]]; then
  rev=$(git rev-parse --short "$COMPARE")
  mkdir "$work/base-src"
  git archive "$rev" | tar -x -C "$work/base-src"
  (cd "$work/base-src" && go build -o "$work/sa01-secrets-base" ./cmd/sa01-secrets)
  bins=("$rev=$work/sa01-secrets-base" "${bins[@]}")
fi

wait_up() {
  for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$1/v1/sys/health" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "node on port $1 did not come up; its log:" >&2; cat "$2" >&2; return 1
}

echo "== $(date -u +%FT%TZ) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(psql "$PG" -Atc 'SHOW server_version' | cut -d' ' -f1) PostgreSQL, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for entry in "${bins[@]}"; do
  name=${entry%%=*} bin=${entry#*=}
  schema=sa01_bench_revoke_$$_${#schemas[@]}
  schemas+=("$schema")
  psql "$PG" -qc "CREATE SCHEMA $schema"
  sep='?'; case "$PG" in *\?*) sep='&';; esac
  d="$work/$name"; mkdir -p "$d"
  (
    cd "$d"
    "$bin" generate key > fernet.key && chmod 600 fernet.key
    export SA01_CRYPTO_FERNET_KEY_FILE="$d/fernet.key" SA01_SECRETS_DB_DSN="$PG${sep}search_path=$schema"
    "$bin" init --credential-file "$d/admin.credential" >/dev/null 2>&1
    "$bin" identity add gateway --service --credential-file "$d/gateway.credential" >/dev/null 2>&1
  )
  for port in "$PORT_A" "$PORT_B"; do
    SA01_CRYPTO_FERNET_KEY_FILE="$d/fernet.key" SA01_SECRETS_DB_DSN="$PG${sep}search_path=$schema" \
      "$bin" serve --listen "127.0.0.1:$port" >"$d/serve-$port.log" 2>&1 &
    pids+=($!)
  done
  wait_up "$PORT_A" "$d/serve-$PORT_A.log"; wait_up "$PORT_B" "$d/serve-$PORT_B.log"
  sleep 0.5 # the listeners are up
  IFS=, read -ra modes <<<"$MODES"
  for m in "${modes[@]}"; do
    printf '%s: ' "$name"
    "$work/revoke" -a "http://127.0.0.1:$PORT_A" -b "http://127.0.0.1:$PORT_B" \
      -credential-file "$d/gateway.credential" -admin-file "$d/admin.credential" -mode "$m" -n "$N"
  done
  stop_nodes
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
