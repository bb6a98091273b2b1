#!/usr/bin/env bash
# Scanner memory with many findings: peak RSS (/usr/bin/time -v) of
# `sa01-secrets scan` on one 96 MB file holding 2,000,000 findings (one
# `api_key = "<32 random characters>"` line each), read as a directory, on
# stdin, in each format, and while writing a baseline.
#
# Usage (the machine is shared; never run two benchmarks at once):
#   flock /tmp/sa01-bench.lock bench/scanmem/run.sh [WORKDIR] [BINARY...]
# With no BINARY, builds this tree's; give two (say, one built from main) to
# compare them in the same run.
set -euo pipefail

W=${1:-/tmp/sa01-scanmem}
shift || true
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$W/d" "$W/home"
if [ $# -eq 0 ]; then
	(cd "$ROOT" && go build -o "$W/sa01-secrets" ./cmd/sa01-secrets)
	set -- "$W/sa01-secrets"
fi
if [ ! -s "$W/d/many.txt" ]; then
	python3 - "$W/d/many.txt" <<'PY'
import random, string, sys
r = random.Random(1)
al = string.ascii_letters + string.digits
with open(sys.argv[1], 'w') as f:
    for i in range(2_000_000):
        f.write('api_key = "' + ''.join(r.choice(al) for _ in range(32)) + '" #x\n')
PY
fi
export HOME="$W/home"
KEY_FILE="$W/scan.key"
[ -s "$KEY_FILE" ] || "$1" generate key > "$KEY_FILE"
chmod 600 "$KEY_FILE"

echo "| binary | run | findings | wall s | peak RSS MB |"
echo "|---|---|---:|---:|---:|"
for bin in "$@"; do
	for run in "dir text" "dir json" "stdin text" "stdin json" "stdin sarif" "dir baseline"; do
		set -- $run
		args=(scan --no-known)
		case $2 in
		json | sarif) args+=(--format "$2") ;;
		baseline) args+=(--write-baseline "$W/baseline.json") ;;
		esac
		rm -f "$W/baseline.json"
		if [ "$1" = dir ]; then
			SA01_SECRETS_SCAN_KEY_FILE="$KEY_FILE" /usr/bin/time -v -o "$W/time" "$bin" "${args[@]}" "$W/d" > /dev/null 2> "$W/err" || true
		else
			SA01_SECRETS_SCAN_KEY_FILE="$KEY_FILE" /usr/bin/time -v -o "$W/time" "$bin" "${args[@]}" --stdin < "$W/d/many.txt" > /dev/null 2> "$W/err" || true
		fi
		found=$(grep -o '^sa01-secrets: [0-9]* findings' "$W/err" | awk '{print $2}')
		wall=$(grep 'Elapsed (wall clock)' "$W/time" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
		rss=$(grep 'Maximum resident set size' "$W/time" | awk '{print $NF}')
		printf '| %s | %s | %s | %.1f | %d |\n' "$(basename "$bin")" "$run" "${found:-error: $(head -c 80 "$W/err")}" "$wall" "$((rss / 1024))"
	done
done
