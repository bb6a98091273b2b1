#!/usr/bin/env bash
# Two builds of sa01-secrets, alternately, on the same inputs: wall time,
# CPU time (user + sys) and peak RSS of `scan --no-known --format json`,
# ROUNDS times each, with the load average before each run. Use it to
# compare a change with main on a shared machine, where only figures
# taken side by side compare.
#
# Usage (the machine is shared; never run two benchmarks at once):
#   flock /tmp/sa01-bench.lock bench/scan/ab.sh OLD_BIN NEW_BIN INPUT...
set -euo pipefail
OLD=$1 NEW=$2
shift 2
ROUNDS=${ROUNDS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "| build | input | wall s | MB/s (wall) | CPU s | MB per CPU-s | peak RSS MB | load before |"
echo "|---|---|---|---|---|---|---|---|"
for input in "$@"; do
	bytes=$(find "$input" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
	for r in $(seq "$ROUNDS"); do
		for b in "$OLD" "$NEW"; do
			load=$(cut -d' ' -f1 /proc/loadavg)
			/usr/bin/time -v -o "$T/time" "$b" scan --no-known --format json "$input" > "$T/out" 2> /dev/null || true
			wall=$(grep 'Elapsed (wall clock)' "$T/time" | awk '{print $NF}')
			secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
			cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$T/time")
			rss=$(grep 'Maximum resident set size' "$T/time" | awk '{print $NF}')
			printf '| %s #%d | %s | %.2f | %.1f | %.2f | %.1f | %d | %s |\n' "$(basename "$b")" "$r" "$(basename "$input")" "$secs" \
				"$(echo "$bytes $secs" | awk '{print $1/1e6/$2}')" "$cpu" "$(echo "$bytes $cpu" | awk '{print $1/1e6/$2}')" "$((rss / 1024))" "$load"
		done
	done
done
