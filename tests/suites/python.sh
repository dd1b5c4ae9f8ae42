#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Python package (python/): its pytest suite against this checkout's
# libshmq. Exit 0 = pass, 77 = skipped (no Python with pytest), else fail.
#   Python: the first of $SHMQ_PYTHON, python3, /usr/bin/python3 that can
#   import pytest (scripts/deps.sh --test installs Debian's python3-pytest,
#   so on Debian that is /usr/bin/python3 unless python3 on PATH has pytest).
#   Library: $root/build, brought up to date (test.sh's default suite
#   configures it), else a build-python/ made here; $SHMQ_LIBRARY overrides.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

py=
for cand in ${SHMQ_PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import pytest' 2>/dev/null; then
		py=$cand
		break
	fi
done
if [ -z "$py" ]; then
	echo "python: no Python with pytest (apt-get install python3-pytest); skipped"
	exit 77
fi

if [ -z "${SHMQ_LIBRARY:-}" ]; then
	dir=$root/build
	if [ ! -f "$dir/CMakeCache.txt" ]; then
		dir=$root/build-python
		cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMQ_BUILD_TESTS=OFF \
			>"$dir.configure.log" 2>&1 || { tail -n 20 "$dir.configure.log"; exit 1; }
	fi
	cmake --build "$dir" -j2 --target shmq >"$dir.python-build.log" 2>&1 ||
		{ tail -n 30 "$dir.python-build.log"; exit 1; }
	export SHMQ_LIBRARY=$dir
fi
echo "python: $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])'), library $SHMQ_LIBRARY"

# Every call in the tests has its own timeout; this one bounds the whole.
timeout 300 "$py" -m pytest -p no:cacheprovider -q -rfEs "$root/python/tests"
rc=$?
case $rc in
0) exit 0 ;;
5) echo "python: pytest collected no tests"; exit 1 ;;
*) exit 1 ;;
esac
