#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for a while.
#   scripts/fuzz.sh [seconds-per-target] [target...]
# Targets: header ring server client args (default: all). Two run at a time.
# New inputs go to a scratch corpus, not the repo; a crash is written to
# fuzz/regressions/<target>/ (replayed by every test run from then on) and
# fails the run. Prints executions per target.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(header ring server client args)
command -v clang >/dev/null || { echo "fuzz: clang not installed, skipped"; exit 77; }

dir=build-fuzz
cmake -S . -B $dir -DCMAKE_C_COMPILER=clang -DSHMQ_FUZZ=ON -DSHMQ_SANITIZE=address,undefined \
	-DSHMQ_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >$dir.configure.log 2>&1 &&
	cmake --build $dir -j2 --target $(printf 'fuzz_%s ' "${targets[@]}") >$dir.build.log 2>&1 ||
	{ echo "fuzz: build failed"; tail -n 30 $dir.configure.log $dir.build.log; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
run() { # target
	local t=$1
	mkdir -p "$scratch/$t" "fuzz/regressions/$t"
	"$dir/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="fuzz/regressions/$t/" "$scratch/$t" "fuzz/corpus/$t" >"$scratch/$t.log" 2>&1
	local rc=$?
	local execs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log")
	if [ $rc -eq 0 ]; then
		echo "fuzz: $t: ${execs:-?} executions in ${secs}s, no crash"
	else
		echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} executions; input saved in fuzz/regressions/$t/"
		grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$scratch/$t.log" | head -n 20
	fi
	return $rc
}
status=0
pids=()
for t in "${targets[@]}"; do
	run "$t" & pids+=($!)
	if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
rm -f /dev/shm/shmq-fuzz-* 2>/dev/null
exit $status
