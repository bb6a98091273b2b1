#!/usr/bin/env bash
# Scanner benchmark: sa01-secrets against gitleaks v8.30.1, built twice (Go's
# regexp engine, and -tags gore2regex, the RE2 engine of its release
# binaries), on the same inputs in the same run:
#   - the corpus: one file per shape (logfmt, JSON lines, nginx, Apache,
#     Python and Java traces, Go panics, Kubernetes, PostgreSQL, Redis, env
#     dumps, SQL logs, HTTP debug output, CI logs, source code), CORPUS_SIZE
#     bytes each, for the tuning seed and the held-out seed;
#   - a LOG_SIZE mixed log of every shape with 1,000 known values planted,
#     for the held-out seed (and, for sa01-secrets only, the tuning seed);
#   - Go's source tree, /usr/local/go/src.
# Inputs come from bench/scan/gen (internal/scan/corpus) with a truth file;
# bench/scan/eval scores each report: precision and recall per shape and per
# kind, false positives per 10 MB. Each run's wall time, CPU time (user +
# sys) and peak RSS come from /usr/bin/time -v, with the load average before
# it. Then `sa01-secrets mask` with the 1,000 known values on the log.
#
# Usage (the machine is shared; never run two benchmarks at once):
#   flock /tmp/sa01-bench.lock bench/scan/run.sh [WORKDIR]
# GITLEAKS=0 skips gitleaks (it takes most of the time).
set -euo pipefail

W=${1:-/tmp/sa01-scan-bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${GO_SRC:-/usr/local/go/src}
LOG_SIZE=${LOG_SIZE:-209715200}
CORPUS_SIZE=${CORPUS_SIZE:-6000000}
GITLEAKS=${GITLEAKS:-1}
TUNE=1
HOLD=20261201
mkdir -p "$W"
cd "$W"

if [ "$GITLEAKS" = 1 ]; then
	[ -x gl-go/gitleaks ] || GOBIN="$W/gl-go" go install github.com/zricethezav/gitleaks/v8@v8.30.1
	[ -x gl-re2/gitleaks ] || GOBIN="$W/gl-re2" go install -tags gore2regex github.com/zricethezav/gitleaks/v8@v8.30.1
fi
(cd "$ROOT" && go build -o "$W/sa01-secrets" ./cmd/sa01-secrets && go build -o "$W/gen" ./bench/scan/gen && go build -o "$W/eval" ./bench/scan/eval)
for seed in $TUNE $HOLD; do
	[ -s "corpus-$seed.truth.jsonl" ] || ./gen -seed "$seed" -dir "corpus-$seed" -size "$CORPUS_SIZE"
	mkdir -p "log-$seed"
	[ -s "log-$seed/log.log.truth.jsonl" ] || ./gen -seed "$seed" -mixed "log-$seed/log.log" -size "$LOG_SIZE"
done
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s}'; }
SRC_BYTES=$(bytes_of "$SRC")

# A scratch store holding the 1,000 known values of the held-out log.
export HOME="$W/home"
mkdir -p "$HOME"
KEY_FILE="$W/fernet.key"
[ -s "$KEY_FILE" ] || ./sa01-secrets generate key > "$KEY_FILE"
chmod 600 "$KEY_FILE"
KNOWN_ENV=(env SA01_CRYPTO_FERNET_KEY_FILE="$KEY_FILE" SA01_SECRETS_DB_DSN="sqlite://$W/known.db") # the key by file, never in argv
if [ ! -s "$W/known.db" ]; then
	"${KNOWN_ENV[@]}" ./sa01-secrets init --credential-file "$W/admin.credential" 2>/dev/null
	"${KNOWN_ENV[@]}" ./sa01-secrets import --from-dotenv "log-$HOLD/known.env" --prefix bench/ >/dev/null
fi

RESULTS="$W/results.md"
: > "$RESULTS"
row() { # name input bytes load
	local name=$1 input=$2 bytes=$3 load=$4
	local wall rss secs cpu
	wall=$(grep 'Elapsed (wall clock)' "time.$name" | awk '{print $NF}')
	rss=$(grep 'Maximum resident set size' "time.$name" | awk '{print $NF}')
	secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "time.$name")
	printf '| %s | %s | %.1f | %.1f | %.1f | %.1f | %d | %s |\n' "$name" "$input" "$secs" "$(echo "$bytes $secs" | awk '{print $1/1e6/$2}')" \
		"$cpu" "$(echo "$bytes $cpu" | awk '{print $1/1e6/$2}')" "$((rss / 1024))" "$load" >> "$RESULTS"
}
run() { # name input bytes command...
	local name=$1 input=$2 bytes=$3 load
	shift 3
	echo "== $name" >&2
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -v -o "time.$name" "$@" > "out.$name" 2> "err.$name" || true
	row "$name" "$input" "$bytes" "$load"
}
GLFLAGS=(--no-banner --redact --exit-code 0 --report-format json)

echo "| run | input | wall s | MB/s (wall) | CPU s (user+sys) | MB per CPU-s | peak RSS MB | load before |" >> "$RESULTS"
echo "|---|---|---|---|---|---|---|---|" >> "$RESULTS"
declare -A BYTES
for seed in $TUNE $HOLD; do
	BYTES[corpus-$seed]=$(bytes_of "corpus-$seed")
	BYTES[log-$seed]=$(stat -c %s "log-$seed/log.log")
done
for seed in $TUNE $HOLD; do
	run "sa01-corpus-$seed" "corpus-$seed" "${BYTES[corpus-$seed]}" ./sa01-secrets scan --no-known --format json "corpus-$seed"
	run "sa01-log-$seed" "log-$seed" "${BYTES[log-$seed]}" ./sa01-secrets scan --no-known --format json "log-$seed/log.log"
done
run "sa01-log-$HOLD-known" "log-$HOLD" "${BYTES[log-$HOLD]}" "${KNOWN_ENV[@]}" ./sa01-secrets scan --format json "log-$HOLD/log.log"
run sa01-src "$SRC" "$SRC_BYTES" ./sa01-secrets scan --no-known --format json "$SRC"
run "sa01-mask-log-$HOLD-known" "log-$HOLD" "${BYTES[log-$HOLD]}" sh -c "${KNOWN_ENV[*]} ./sa01-secrets mask < log-$HOLD/log.log > masked.log"
if [ "$GITLEAKS" = 1 ]; then
	for gl in gl-go gl-re2; do
		for seed in $TUNE $HOLD; do
			run "gitleaks-${gl#gl-}-corpus-$seed" "corpus-$seed" "${BYTES[corpus-$seed]}" "$gl/gitleaks" dir "corpus-$seed" "${GLFLAGS[@]}" --report-path "report.$gl.corpus-$seed.json"
		done
		run "gitleaks-${gl#gl-}-log-$HOLD" "log-$HOLD" "${BYTES[log-$HOLD]}" "$gl/gitleaks" dir "log-$HOLD/log.log" "${GLFLAGS[@]}" --report-path "report.$gl.log-$HOLD.json"
		run "gitleaks-${gl#gl-}-src" "$SRC" "$SRC_BYTES" "$gl/gitleaks" dir "$SRC" "${GLFLAGS[@]}" --report-path "report.$gl.src.json"
	done
fi

{
	echo
	for seed in $TUNE $HOLD; do
		./eval -truth "corpus-$seed.truth.jsonl" -report "out.sa01-corpus-$seed" -bytes "${BYTES[corpus-$seed]}" -name "sa01-secrets, corpus, seed $seed"
		./eval -truth "log-$seed/log.log.truth.jsonl" -runs "log-$seed/log.log.runs.jsonl" -report "out.sa01-log-$seed" -bytes "${BYTES[log-$seed]}" -name "sa01-secrets, log, seed $seed (rules only)"
	done
	./eval -truth "log-$HOLD/log.log.truth.jsonl" -runs "log-$HOLD/log.log.runs.jsonl" -report "out.sa01-log-$HOLD-known" -bytes "${BYTES[log-$HOLD]}" -name "sa01-secrets, log, seed $HOLD, 1,000 known values"
	./eval -truth "log-$HOLD/log.log.truth.jsonl" -masked masked.log -name "sa01-secrets mask, log, seed $HOLD, 1,000 known values"
	if [ "$GITLEAKS" = 1 ]; then
		for gl in gl-go gl-re2; do
			for seed in $TUNE $HOLD; do
				./eval -format gitleaks -truth "corpus-$seed.truth.jsonl" -report "report.$gl.corpus-$seed.json" -bytes "${BYTES[corpus-$seed]}" -name "gitleaks (${gl#gl-}), corpus, seed $seed"
			done
			./eval -format gitleaks -truth "log-$HOLD/log.log.truth.jsonl" -runs "log-$HOLD/log.log.runs.jsonl" -report "report.$gl.log-$HOLD.json" -bytes "${BYTES[log-$HOLD]}" -name "gitleaks (${gl#gl-}), log, seed $HOLD"
		done
	fi
	echo '```'
	if [ "$GITLEAKS" = 1 ]; then
		echo "findings on Go's src/: gitleaks-go $(grep -c '"RuleID"' report.gl-go.src.json || true)," \
			"gitleaks-re2 $(grep -c '"RuleID"' report.gl-re2.src.json || true)," \
			"sa01 $(grep -c '"rule"' out.sa01-src || true)"
	fi
	for seed in $TUNE $HOLD; do
		echo "corpus-$seed: ${BYTES[corpus-$seed]} bytes, $(wc -l < "corpus-$seed.truth.jsonl") planted; log-$seed: ${BYTES[log-$seed]} bytes, $(wc -l < "log-$seed/log.log.truth.jsonl") planted"
	done
	echo "$SRC: $SRC_BYTES bytes"
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load after run: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo '```'
} >> "$RESULTS"
cat "$RESULTS"
