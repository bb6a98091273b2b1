#!/bin/sh
# Runs the Fernet benchmarks (ours, ours with append, fernet-go, raw bound)
# under the shared benchmark lock, saves the raw output and prints the
# ratios of CPU time per operation (see ratios.go).
#
#   bench/fernet/run.sh [rounds [cpus]]    (defaults: 10 rounds, -cpu 1)
#
# The test binary is built once and run once per round; each round runs
# every implementation at every size, one after the other, so the four
# figures a ratio compares were taken seconds apart. ratios.go pairs them
# round by round, which cancels the drift in machine speed between rounds.
#
# -cpu 1 (GOMAXPROCS=1) keeps the garbage collector's idle workers from
# spinning on the otherwise idle second CPU, which counts as CPU time of the
# allocating implementations without doing their work.
set -eu
cd "$(dirname "$0")/../.."
rounds=${1:-10}
cpus=${2:-1}
out=bench/fernet/results.txt
bin=$(mktemp -d)/fernet.test
go test -c -o "$bin" ./internal/fernet
{
	go version
	grep -m1 'model name' /proc/cpuinfo || true
	echo "rounds=$rounds cpu=$cpus benchtime=300ms"
} >"$out"
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	echo "round $i" | tee -a "$out"
	(cd internal/fernet && flock /tmp/sa01-bench.lock "$bin" -test.run='^$' \
		-test.bench='^Benchmark(Encrypt|Decrypt)$' -test.benchmem \
		-test.benchtime=300ms -test.count=1 -test.cpu="$cpus") | tee -a "$out"
done
rm -f "$bin"
go run bench/fernet/ratios.go <"$out" | tee bench/fernet/ratios.md
