#!/usr/bin/env bash
# bench/server/run.sh: authenticated secret reads per second and latency of
# "sa01-secrets serve" over loopback, SQLite store, policy on, at 1 and 16
# concurrent clients, with audit on and then off in the same run.
#
#   bench/server/run.sh                 # 10 s per measurement
#   DURATION=30s REPEAT=5 bench/server/run.sh
#
# Three ways of serving, alternated:
#   "audit on"     serve as it runs by default: the store's hash chain behind
#                  group commit, and the read cache (a cached read is served
#                  only if its audit commit proves it current);
#   "on, no cache" the same with --no-read-cache: every read queries SQLite;
#   "audit off"    --benchmark-without-audit, a flag only the sa01bench build
#                  tag has (the production binary cannot turn audit off);
#                  without audit events there is no
#                  commit to prove a cached read, so it has no cache either.
# The cost of audit is "on, no cache" against "audit off" (the same read
# path); the cache's gain is "audit on" against "on, no cache".
# BENCH_AUDIT_FILE=1 adds the SA01_SECRETS_AUDIT_FILE sink, which fsyncs each batch
# (a cached read then waits for the chain's commit, then the file's).
#
# MODES may also name "opa" and "opanocache": audit on, with the platform's
# OPA (a real one, serving the YAML policy exported as Rego, with decision
# logging on) asked about every read, with the decision cache (1 s) and
# without it (SA01_SECRETS_OPA_CACHE_TTL=0). Both raise OPA's timeout to
# OPA_TIMEOUT (default 1s): on a loaded machine some of OPA's answers take
# longer than the default 100 ms and are refused (fail closed), and the load
# generator stops at the first error; a slow answer then counts in the
# latency instead. The run then prints each against "audit on" of the same
# run. OPA is found on PATH or in
# $(go env GOPATH)/bin (go install github.com/open-policy-agent/opa@v1.22.3).
#
# COMPARE=REV also builds the binary of commit REV and measures it in the
# same run, alternating with the working tree's binary mode by mode, on the
# same store; the table then has a row per binary and the ratios new/REV.
# MODES=on,nocache,off picks the ways of serving (default all three).
#
# It takes /tmp/sa01-bench.lock so that no two benchmarks overlap, builds
# the binary and the load generator (bench/server/main.go), and prints a
# Markdown table and the ratios. Results are also appended to
# bench/server/results.jsonl, with the commit and the time of the run. Rows
# without a commit are older than the read cache: their "audit on" read
# every version from SQLite. (A commit ending in -dirty had uncommitted
# changes.)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

exec 9>/tmp/sa01-bench.lock
flock 9

DURATION=${DURATION:-10s}
REPEAT=${REPEAT:-3}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-18299}
addr="http://127.0.0.1:$PORT"

work=$(mktemp -d /tmp/sa01-bench-server.XXXXXX)
server_pid=""
cleanup() {
	if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	if [[ -n ${opa_pid:-} ]]; then kill -TERM "$opa_pid" 2>/dev/null || true; wait "$opa_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -tags sa01bench -o "$work/sa01-secrets" ./cmd/sa01-secrets
go build -o "$work/loadgen" ./bench/server
bin="$work/sa01-secrets"
bins=("new=$bin")
if [[ -n ${COMPARE:-} ]]; then
	base_rev=$(git rev-parse --short "$COMPARE")
	mkdir "$work/base-src"
	git archive "$base_rev" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && go build -tags sa01bench -o "$work/sa01-secrets-base" ./cmd/sa01-secrets)
	bins=("$base_rev=$work/sa01-secrets-base" "new=$bin")
fi
MODES=${MODES:-on,nocache,off}

export SA01_CRYPTO_FERNET_KEY="$("$bin" generate key)"
# BENCH_DB_DSN runs the store on PostgreSQL instead, e.g.
# 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=bench'
# (the schema must exist; the run adds versions and audit events to it).
export SA01_SECRETS_DB_DSN="${BENCH_DB_DSN:-sqlite://$work/secrets.db}"
export SA01_SECRETS_POLICY_FILE="$work/policy.yaml"
export SA01_SECRETS_AUDIT_FILE="${BENCH_AUDIT_FILE:+$work/audit.jsonl}"
export SA01_SECRETS_LOG_LEVEL=warn
unset SA01_SECRETS_ADDR SA01_SECRETS_TOKEN SA01_SECRETS_CREDENTIAL_FILE
"$bin" init --credential-file "$work/admin.credential" 2>/dev/null
"$bin" identity add bench --service --credential-file "$work/bench.credential" 2>/dev/null
cat > "$SA01_SECRETS_POLICY_FILE" <<'YAML'
services:
  bench: {read: ["bench/*", "other/**"]}
  worker: {read: ["llm/openai_api_key"]}
YAML
# one secret read, among a few others so the store is not trivially empty
head -c 48 /dev/urandom | base64 -w0 | "$bin" put bench/api_key >/dev/null
for i in $(seq 1 50); do head -c 32 /dev/urandom | base64 -w0 | "$bin" put "other/s$i" >/dev/null; done

start_server() {
	"$serve_bin" serve --listen "127.0.0.1:$PORT" "$@" >"$work/serve.out" 2>>"$work/serve.log" &
	server_pid=$!
	for _ in $(seq 1 100); do
		curl -sf "$addr/v1/sys/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server did not start:" >&2; cat "$work/serve.log" >&2; exit 1
}
stop_server() {
	kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
}

opa_pid=""
if [[ ,$MODES, == *,opa* ]]; then
	opa_bin=$(command -v opa || echo "$(go env GOPATH)/bin/opa")
	[[ -x $opa_bin ]] || { echo "MODES names opa, but no opa binary: go install github.com/open-policy-agent/opa@v1.22.3" >&2; exit 1; }
	OPA_PORT=${OPA_PORT:-18281}
	"$bin" policy export-rego --out "$work/sa01.rego"
	"$opa_bin" run --server --addr "127.0.0.1:$OPA_PORT" --set decision_logs.console=true "$work/sa01.rego" >"$work/opa.log" 2>&1 &
	opa_pid=$!
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$OPA_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:$OPA_PORT/health" >/dev/null || { echo "opa did not start:" >&2; cat "$work/opa.log" >&2; exit 1; }
	opa_url="http://127.0.0.1:$OPA_PORT"
fi

results="$work/results.jsonl"
measure() { # binary label, mode label, extra serve flags...
	local who=$1 label=$2; shift 2
	[[ ${#bins[@]} -gt 1 ]] && label="$who: $label"
	start_server "$@"
	local tok
	tok=$(SA01_SECRETS_ADDR="$addr" SA01_SECRETS_CREDENTIAL_FILE="$work/bench.credential" "$bin" login)
	for c in 1 16; do
		SA01_SECRETS_TOKEN="$tok" "$work/loadgen" -addr "$addr" -secret bench/api_key -c "$c" \
			-duration "$DURATION" -warmup "$WARMUP" -label "$label" | tee -a "$results" >&2
	done
	stop_server
}

# audit on and off (and the binaries) alternate, REPEAT times each, so that
# load from other processes on the machine falls on all alike; the table
# shows the median.
for _ in $(seq 1 "$REPEAT"); do
	for mode in ${MODES//,/ }; do
		for b in "${bins[@]}"; do
			serve_bin=${b#*=}
			case $mode in
			on) measure "${b%%=*}" "audit on" ;;
			nocache) measure "${b%%=*}" "on, no cache" --no-read-cache ;;
			off) measure "${b%%=*}" "audit off" --benchmark-without-audit ;;
			opa) SA01_SECRETS_OPA_URL="$opa_url" SA01_SECRETS_OPA_TIMEOUT=${OPA_TIMEOUT:-1s} measure "${b%%=*}" "on, OPA" ;;
			opanocache) SA01_SECRETS_OPA_URL="$opa_url" SA01_SECRETS_OPA_CACHE_TTL=0 SA01_SECRETS_OPA_TIMEOUT=${OPA_TIMEOUT:-1s} measure "${b%%=*}" "on, OPA, no cache" ;;
			esac
		done
	done
done
audit_lines=$( [[ -f $SA01_SECRETS_AUDIT_FILE ]] && wc -l <"$SA01_SECRETS_AUDIT_FILE" || echo 0)

# the history keeps, with each row, the commit and the time it was measured
rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo "-dirty")
python3 - "$results" "$rev" "${BENCH_AUDIT_FILE:-}" "${BENCH_DB_DSN:+postgres}" >>"$root/bench/server/results.jsonl" <<'PY'
import json, sys, datetime
at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
for line in open(sys.argv[1]):
    r = json.loads(line)
    r.update(commit=sys.argv[2], finished=at)
    if sys.argv[3]:
        r.update(audit_file=True)
    if sys.argv[4]:
        r.update(store=sys.argv[4])
    print(json.dumps(r, separators=(",", ":")))
PY
python3 - "$results" "$audit_lines" "$DURATION" <<'PY'
import json, sys, platform, os, subprocess
import statistics
raw = [json.loads(l) for l in open(sys.argv[1])]
cells = {}
for r in raw:
    cells.setdefault((r['label'], r['clients']), []).append(r)
rows = []
for (label, c), rs in cells.items():
    m = {k: statistics.median(x[k] for x in rs) for k in ('reads_per_sec','p50_ms','p90_ms','p99_ms','max_ms')}
    m.update(label=label, clients=c, runs=len(rs), spread=f"{min(x['reads_per_sec'] for x in rs):,.0f}–{max(x['reads_per_sec'] for x in rs):,.0f}")
    rows.append(m)
print()
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine: {os.cpu_count()} cores, {cpu}; Go {subprocess.run(['go','env','GOVERSION'],capture_output=True,text=True).stdout.strip()}; {sys.argv[3]} per run; median of {rows[0]['runs']} runs per cell; load average at the end: {os.getloadavg()[0]:.1f}")
print("store: " + ("PostgreSQL (BENCH_DB_DSN, on this machine)" if os.environ.get("BENCH_DB_DSN") else "SQLite"))
if sys.argv[2] != "0":
    print(f"audit events written with audit on: {sys.argv[2]} lines in SA01_SECRETS_AUDIT_FILE")
print()
print("| serve | clients | reads/s (median) | reads/s (range) | p50 ms | p90 ms | p99 ms | max ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['label']} | {r['clients']} | {r['reads_per_sec']:,.0f} | {r['spread']} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.2f} |")
by = {(r['label'], r['clients']): r for r in rows}
print()
compared = any(": " in r['label'] for r in rows)
if compared:
    for (label, c), r in sorted(by.items()):
        if label.startswith("new: "):
            mode = label[5:]
            base = next((b for (l, cc), b in by.items() if cc == c and l.endswith(": " + mode) and not l.startswith("new: ")), None)
            if base:
                print(f"{mode}, {c} client(s): new / base = {r['reads_per_sec']/base['reads_per_sec']:.2f}x throughput; p50 {r['p50_ms']:.3f} vs {base['p50_ms']:.3f} ms; p99 {r['p99_ms']:.3f} vs {base['p99_ms']:.3f} ms")
prefix = "new: " if compared else ""
if all((prefix + m, c) in by for m in ("audit on", "on, no cache", "audit off") for c in (1, 16)):
    for c in (1, 16):
        on, nc, off = by[(prefix + "audit on", c)], by[(prefix + "on, no cache", c)], by[(prefix + "audit off", c)]
        print(f"{c} client(s): cost of audit (on, no cache / off) = {nc['reads_per_sec']/off['reads_per_sec']:.2f}x throughput, p99 {nc['p99_ms']:.3f} vs {off['p99_ms']:.3f} ms; "
              f"read cache (on / on, no cache) = {on['reads_per_sec']/nc['reads_per_sec']:.2f}x")
for m in ("on, OPA", "on, OPA, no cache"):
    for c in (1, 16):
        if (prefix + m, c) in by and (prefix + "audit on", c) in by:
            o, a = by[(prefix + m, c)], by[(prefix + "audit on", c)]
            print(f"{m} / audit on (no OPA), {c} client(s): {o['reads_per_sec']/a['reads_per_sec']:.2f}x throughput; p99 {o['p99_ms']:.3f} vs {a['p99_ms']:.3f} ms = {o['p99_ms']/a['p99_ms']:.2f}x; p50 {o['p50_ms']:.3f} vs {a['p50_ms']:.3f} ms")
if (prefix + "on, OPA", 1) in by and (prefix + "audit on", 1) in by:
    r = by[(prefix + "on, OPA", 1)]['p99_ms'] / by[(prefix + "audit on", 1)]['p99_ms']
    print(f"target (OPA, cache on): p99 at 1 client <= 1.5x without OPA: {r:.2f}x {'MET' if r <= 1.5 else 'MISSED'}")
if (prefix + "audit on", 16) in by and (prefix + "audit on", 1) in by:
    t16 = by[(prefix + "audit on", 16)]['reads_per_sec']; p99 = by[(prefix + "audit on", 1)]['p99_ms']
    print(f"targets (audit on): >=10000 reads/s at 16 clients: {t16:,.0f} {'MET' if t16>=10000 else 'MISSED'}; p99 <=3 ms at 1 client: {p99:.3f} ms {'MET' if p99<=3 else 'MISSED'}")
PY
