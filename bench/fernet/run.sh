#!/bin/sh
# Runs the Fernet benchmarks (ours, fernet-go, raw bound) in one go test run,
# under the shared benchmark lock, saves the raw output and prints the ratios.
#
#   bench/fernet/run.sh [count]    (default count 10)
set -eu
cd "$(dirname "$0")/../.."
count=${1:-10}
out=bench/fernet/results.txt
flock /tmp/sa01-bench.lock \
	go test -run='^$' -bench='^Benchmark(Encrypt|Decrypt)$' -benchmem -benchtime=300ms -count="$count" ./internal/fernet | tee "$out"
go run bench/fernet/ratios.go < "$out" | tee bench/fernet/ratios.md
