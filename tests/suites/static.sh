#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis of the library and the tool: cppcheck, clang-tidy (checks
# and reasons in .clang-tidy) and gcc -fanalyzer. Any finding fails.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
status=0
src=(src/*.c tools/*.c tools/bench/*.c)
# The bridge, where libnats (its header) is installed: it is built then.
bridge=()
[ -f /usr/include/nats/nats.h ] && bridge=(tools/bridge/*.c)

if command -v cppcheck >/dev/null; then
	echo "static: cppcheck"
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
		--inline-suppr -D__GNUC__ -I include -I src -I tools -I tools/bridge "${src[@]}" \
		"${bridge[@]+"${bridge[@]}"}" || status=1
else
	echo "static: cppcheck not installed, skipped"
fi

if command -v clang-tidy >/dev/null; then
	echo "static: clang-tidy"
	dir=$(mktemp -d)
	cmake -S . -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DSHMQ_BUILD_TESTS=OFF >/dev/null
	# (what cmake did not configure, clang-tidy cannot check)
	grep -q 'tools/bridge/main.c' "$dir/compile_commands.json" || bridge=()
	clang-tidy -p "$dir" --quiet src/*.c tools/*.c "${bridge[@]+"${bridge[@]}"}" >"$dir/tidy.log" 2>&1 ||
		{ grep -E 'error:|warning:' -A3 "$dir/tidy.log"; status=1; }
	rm -rf "$dir"
else
	echo "static: clang-tidy not installed, skipped"
fi

echo "static: gcc -fanalyzer"
for f in src/*.c; do
	gcc -std=gnu11 -fanalyzer -Werror -O1 -Iinclude -Isrc -c "$f" -o /dev/null || status=1
done
[ $status -eq 0 ] && echo "static: clean"
exit $status
