#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build shmq and run the whole test suite:
#   1. gcc, -Werror: every test
#   2. clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer: every test
#   3. gcc, ThreadSanitizer: the threaded tests (label "threads")
#   4. the installed library, used from C and C++ (tests/install_check.sh)
#   5. extra suites in tests/suites/*.sh (fuzzing, chaos, static analysis)
# Installs missing Debian packages first when run as root.
# The last line is "N passed, N failed, N skipped" over all suites.
#   SHMQ_SUITES="default asan" ./test.sh    run only some suites
set -uo pipefail
cd "$(dirname "$0")"
root=$PWD
scripts/deps.sh --test || true

jobs=2
suites=${SHMQ_SUITES:-"default asan tsan install extra"}
passed=0 failed=0 skipped=0
failures=()

# Count ctest's per-test result lines from a log.
tally_ctest() { # name log
	local p f s
	p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed +' "$2" || true)
	s=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*Skipped|Not Run)' "$2" || true)
	f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)' "$2" || true)
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -eq 0 ] || failures+=("$1: $(grep -E '\*\*\*(Failed|Timeout|Exception)' "$2" | sed -E 's/.*: ([a-z_0-9]+) .*/\1/' | tr '\n' ' ')")
	echo "== $1: $p passed, $f failed, $s skipped"
}

build() { # dir cmake-args...
	local dir=$1; shift
	cmake -S "$root" -B "$dir" -DSHMQ_WERROR=ON "$@" >"$dir.configure.log" 2>&1 &&
		cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 ||
		{ echo "build failed in $dir:"; tail -n 40 "$dir.configure.log" "$dir.build.log"; return 1; }
}

suite_ctest() { # name dir ctest-args...
	local name=$1 dir=$2; shift 2
	local log="$dir/ctest.log"
	echo "== $name: running tests"
	ctest --test-dir "$dir" --output-on-failure --timeout 300 "$@" 2>&1 | tee "$log"
	tally_ctest "$name" "$log"
}

have_clang() { command -v clang >/dev/null 2>&1; }

for s in $suites; do
	case $s in
	default)
		mkdir -p build
		if build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
			suite_ctest default build -j"$jobs"
		else failed=$((failed + 1)); failures+=("default: build"); fi ;;
	asan)
		cc=gcc; have_clang && cc=clang
		mkdir -p build-asan
		if build build-asan -DCMAKE_C_COMPILER=$cc -DCMAKE_BUILD_TYPE=Debug \
			-DSHMQ_SANITIZE=address,undefined; then
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
				suite_ctest asan build-asan -j"$jobs" -E '^cli_bench$'
		else failed=$((failed + 1)); failures+=("asan: build"); fi ;;
	tsan)
		mkdir -p build-tsan
		if build build-tsan -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DSHMQ_SANITIZE=thread; then
			TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
				suite_ctest tsan build-tsan -L threads
		else failed=$((failed + 1)); failures+=("tsan: build"); fi ;;
	install)
		if [ -f tests/install_check.sh ] && [ -d build ]; then
			echo "== install: installed library from C and C++"
			bash tests/install_check.sh build; rc=$?
			case $rc in
			0) passed=$((passed + 1)) ;;
			77) skipped=$((skipped + 1)) ;;
			*) failed=$((failed + 1)); failures+=("install: install_check.sh") ;;
			esac
		fi ;;
	extra)
		for x in tests/suites/*.sh; do
			[ -e "$x" ] || continue
			echo "== extra: $x"
			bash "$x" "$root"; rc=$?
			case $rc in
			0) passed=$((passed + 1)) ;;
			77) skipped=$((skipped + 1)) ;;
			*) failed=$((failed + 1)); failures+=("extra: $x") ;;
			esac
		done ;;
	*) echo "unknown suite $s"; failed=$((failed + 1)) ;;
	esac
done

leftover=$(ipcs -m | awk '$1 ~ /^0x5e/ {print $1}'; ls /dev/shm | grep -E '^shmq-test|^shmq\.sysv\.0x5e' || true)
if [ -n "$leftover" ]; then
	echo "shared memory left behind by the tests: $leftover"
	failed=$((failed + 1)); failures+=("leak check")
fi

for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
