#!/usr/bin/env bash
# The mask row of run.sh alone: `sa01-secrets mask` with the 1,000 known
# values on the held-out mixed log, RUNS times, one table row per run, then
# the check that no planted secret is left. Needs the work directory of a
# previous run.sh (log-20261201/, known.db, fernet.key); rebuilds the binary
# from this tree.
#
# Usage (the machine is shared; never run two benchmarks at once):
#   flock /tmp/sa01-bench.lock bench/scan/mask.sh [WORKDIR]
set -euo pipefail

W=${1:-/tmp/sa01-scan-bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
LOG=log-20261201/log.log
cd "$W"
[ -s "$LOG" ] && [ -s known.db ] && [ -s fernet.key ] || { echo "run bench/scan/run.sh first" >&2; exit 2; }
(cd "$ROOT" && go build -o "$W/sa01-secrets" ./cmd/sa01-secrets && go build -o "$W/eval" ./bench/scan/eval)
export HOME="$W/home"
LOG_BYTES=$(stat -c %s "$LOG")
echo "| run | wall s | MB/s (wall) | CPU s (user+sys) | MB per CPU-s | peak RSS MB | load before |"
echo "|---|---|---|---|---|---|---|"
for i in $(seq "$RUNS"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -v -o time.mask sh -c "env SA01_CRYPTO_FERNET_KEY_FILE=$W/fernet.key SA01_SECRETS_DB_DSN=sqlite://$W/known.db ./sa01-secrets mask < $LOG > masked.log"
	wall=$(grep 'Elapsed (wall clock)' time.mask | awk '{print $NF}')
	secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' time.mask)
	rss=$(grep 'Maximum resident set size' time.mask | awk '{print $NF}')
	printf '| sa01-mask-1000-known #%d | %.2f | %.1f | %.2f | %.1f | %d | %s |\n' "$i" "$secs" "$(echo "$LOG_BYTES $secs" | awk '{print $1/1e6/$2}')" \
		"$cpu" "$(echo "$LOG_BYTES $cpu" | awk '{print $1/1e6/$2}')" "$((rss / 1024))" "$load"
done
./eval -truth "$LOG.truth.jsonl" -masked masked.log -name sa01-mask
