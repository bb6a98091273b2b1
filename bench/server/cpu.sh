#!/usr/bin/env bash
# bench/server/cpu.sh: CPU time per authenticated read of "sa01-secrets serve"
# (SQLite store, policy on, audit on, read cache on: serve's defaults) under
# the load generator of run.sh, read from /proc around each run: the server's CPU
# (user + system) and the load generator's, per read. On a shared machine
# the work per read moves less than reads/s does.
#
#   bench/server/cpu.sh                          # this checkout, 16 clients, 3 runs of 8 s
#   BINS="/tmp/old/sa01-secrets /tmp/new/sa01-secrets" ROUNDS=4 bench/server/cpu.sh
#
# BINS lists prebuilt binaries to compare; they run alternately, ROUNDS times
# each. CLIENTS, DURATION and SERVE_FLAGS (e.g. --no-read-cache, or
# --benchmark-without-audit) tune the run. It takes /tmp/sa01-bench.lock, as
# run.sh does.
set -euo pipefail
cd "$(dirname "$0")/../.."

exec 9>/tmp/sa01-bench.lock
flock 9

CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18298}
addr="http://127.0.0.1:$PORT"

work=$(mktemp -d /tmp/sa01-bench-cpu.XXXXXX)
server_pid=""
cleanup() {
	if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/loadgen" ./bench/server
if [[ -z ${BINS:-} ]]; then
	go build -tags sa01bench -o "$work/sa01-secrets" ./cmd/sa01-secrets
	BINS="$work/sa01-secrets"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
hz=$(getconf CLK_TCK)

for _ in $(seq 1 "$ROUNDS"); do
	for bin in $BINS; do
		d=$(mktemp -d "$work/run.XXXXXX")
		export SA01_CRYPTO_FERNET_KEY="$("$bin" generate key)"
		export SA01_SECRETS_DB_DSN="sqlite://$d/secrets.db" SA01_SECRETS_POLICY_FILE="$d/policy.yaml" SA01_SECRETS_LOG_LEVEL=warn
		unset SA01_SECRETS_ADDR SA01_SECRETS_TOKEN SA01_SECRETS_AUDIT_FILE SA01_SECRETS_CREDENTIAL_FILE
		printf 'services:\n  bench: {read: ["bench/*"]}\n' >"$SA01_SECRETS_POLICY_FILE"
		"$bin" init --credential-file "$d/admin.credential" 2>/dev/null
		"$bin" identity add bench --service --credential-file "$d/bench.credential" 2>/dev/null
		head -c 48 /dev/urandom | base64 -w0 | "$bin" put bench/api_key >/dev/null
		# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
		"$bin" serve --listen "127.0.0.1:$PORT" ${SERVE_FLAGS:-} >/dev/null 2>"$d/serve.log" &
		server_pid=$!
		for _ in $(seq 1 100); do curl -sf "$addr/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.1; done
		tok=$(SA01_SECRETS_ADDR="$addr" SA01_SECRETS_CREDENTIAL_FILE="$d/bench.credential" "$bin" login)
		# warm up, then measure
		SA01_SECRETS_TOKEN="$tok" "$work/loadgen" -addr "$addr" -secret bench/api_key -c "$CLIENTS" -duration 2s -warmup 0s >/dev/null
		s0=$(cpu_ticks "$server_pid")
		SA01_SECRETS_TOKEN="$tok" /usr/bin/time -f "%U %S" -o "$d/loadgen.time" \
			"$work/loadgen" -addr "$addr" -secret bench/api_key -c "$CLIENTS" -duration "$DURATION" -warmup 0s >"$d/result.json"
		s1=$(cpu_ticks "$server_pid")
		kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
		python3 - "$bin" "$d/result.json" "$d/loadgen.time" "$s0" "$s1" "$hz" <<'PY'
import json, sys
bin, res, lt, s0, s1, hz = sys.argv[1:]
r = json.load(open(res))
u, s = map(float, open(lt).read().split()[-2:])
n = r['requests']
print(f"{bin}: {r['reads_per_sec']:8.0f} reads/s  server {(int(s1)-int(s0))/int(hz)*1e6/n:5.0f} us CPU/read  "
      f"load generator {(u+s)*1e6/n:4.0f} us CPU/read  p99 {r['p99_ms']:.3f} ms")
PY
	done
done
