#!/usr/bin/env bash
# Scanner benchmark: sa01-secrets against gitleaks v8.30.1, built twice (Go's
# regexp engine, and -tags gore2regex, the RE2 engine of its release
# binaries), on the same inputs in the same run:
#   - a generated ~200 MB gateway log with planted secrets (truth file), and
#   - Go's source tree, /usr/local/go/src.
# It reports MB/s, peak RSS (/usr/bin/time -v), recall per kind and false
# positives, and the throughput of `sa01-secrets mask` with 1,000 known
# values (imported into a scratch store).
#
# Usage (the machine is shared; never run two benchmarks at once):
#   flock /tmp/sa01-bench.lock bench/scan/run.sh [WORKDIR]
set -euo pipefail

W=${1:-/tmp/sa01-scan-bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${GO_SRC:-/usr/local/go/src}
SIZE=${LOG_SIZE:-209715200}
mkdir -p "$W"
cd "$W"

[ -x gl-go/gitleaks ] || GOBIN="$W/gl-go" go install github.com/zricethezav/gitleaks/v8@v8.30.1
[ -x gl-re2/gitleaks ] || GOBIN="$W/gl-re2" go install -tags gore2regex github.com/zricethezav/gitleaks/v8@v8.30.1
(cd "$ROOT" && go build -o "$W/sa01-secrets" ./cmd/sa01-secrets && go build -o "$W/gen" ./bench/scan/gen && go build -o "$W/eval" ./bench/scan/eval)
[ -s gateway.log ] || ./gen -size "$SIZE" -out gateway.log -truth truth.jsonl -known known.jsonl -known-env known.env

LOG_BYTES=$(stat -c %s gateway.log)
SRC_BYTES=$(find "$SRC" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

# A scratch store holding the 1,000 known values.
export HOME="$W/home"
mkdir -p "$HOME"
KEY_FILE="$W/fernet.key"
[ -s "$KEY_FILE" ] || ./sa01-secrets generate key > "$KEY_FILE"
chmod 600 "$KEY_FILE"
KNOWN_ENV=(env SA01_CRYPTO_FERNET_KEY_FILE="$KEY_FILE" SA01_DB_DSN="sqlite://$W/known.db") # the key by file, never in argv
if [ ! -s "$W/known.db" ]; then
	"${KNOWN_ENV[@]}" ./sa01-secrets import --from-dotenv known.env --prefix bench/ >/dev/null
fi

RESULTS="$W/results.md"
: > "$RESULTS"
row() { # name input bytes
	local name=$1 input=$2 bytes=$3
	local wall rss secs cpu
	wall=$(grep 'Elapsed (wall clock)' "time.$name" | awk '{print $NF}')
	rss=$(grep 'Maximum resident set size' "time.$name" | awk '{print $NF}')
	secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "time.$name")
	printf '| %s | %s | %.1f | %.1f | %.1f | %.1f | %d |\n' "$name" "$input" "$secs" "$(echo "$bytes $secs" | awk '{print $1/1e6/$2}')" \
		"$cpu" "$(echo "$bytes $cpu" | awk '{print $1/1e6/$2}')" "$((rss / 1024))" >> "$RESULTS"
}
run() { # name input bytes command...
	local name=$1 input=$2 bytes=$3
	shift 3
	echo "== $name" >&2
	/usr/bin/time -v -o "time.$name" "$@" > "out.$name" 2> "err.$name" || true
	row "$name" "$input" "$bytes"
}

echo "| run | input | wall s | MB/s (wall) | CPU s (user+sys) | MB per CPU-s | peak RSS MB |" >> "$RESULTS"
echo "|---|---|---|---|---|---|---|" >> "$RESULTS"
for gl in gl-go gl-re2; do
	run "gitleaks-${gl#gl-}-log" gateway.log "$LOG_BYTES" "$gl/gitleaks" dir gateway.log --no-banner --redact --exit-code 0 --report-format json --report-path "report.$gl.log.json"
done
run sa01-log gateway.log "$LOG_BYTES" ./sa01-secrets scan --no-known --format json gateway.log
cp out.sa01-log report.sa01.log.json
run sa01-log-known gateway.log "$LOG_BYTES" "${KNOWN_ENV[@]}" ./sa01-secrets scan --format json gateway.log
cp out.sa01-log-known report.sa01-known.log.json
for gl in gl-go gl-re2; do
	run "gitleaks-${gl#gl-}-src" "$SRC" "$SRC_BYTES" "$gl/gitleaks" dir "$SRC" --no-banner --redact --exit-code 0 --report-format json --report-path "report.$gl.src.json"
done
run sa01-src "$SRC" "$SRC_BYTES" ./sa01-secrets scan --no-known --format json "$SRC"
run sa01-mask-1000-known gateway.log "$LOG_BYTES" sh -c "${KNOWN_ENV[*]} ./sa01-secrets mask < gateway.log > masked.log"

{
	echo
	echo '```'
	./eval -truth truth.jsonl -report report.gl-go.log.json -format gitleaks -name gitleaks-go
	./eval -truth truth.jsonl -report report.gl-re2.log.json -format gitleaks -name gitleaks-re2
	./eval -truth truth.jsonl -report report.sa01.log.json -name sa01-rules-only
	./eval -truth truth.jsonl -report report.sa01-known.log.json -name sa01-with-known
	./eval -truth truth.jsonl -masked masked.log -name sa01-mask
	echo "findings on Go's src/: gitleaks-go $(grep -c '"RuleID"' report.gl-go.src.json || true)," \
		"gitleaks-re2 $(grep -c '"RuleID"' report.gl-re2.src.json || true)," \
		"sa01 $(grep -c '"rule"' out.sa01-src || true)"
	echo "inputs: gateway.log $LOG_BYTES bytes, $(wc -l < truth.jsonl) planted; $SRC $SRC_BYTES bytes"
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo '```'
} >> "$RESULTS"
cat "$RESULTS"
