#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages the build and the tests need, when they are
# missing. Runs apt-get only as root; otherwise says what to install.
#   scripts/deps.sh          build essentials (C compiler, make, cmake)
#   scripts/deps.sh --test   plus what the test suite uses
set -euo pipefail

need=(gcc make cmake)
if [ "${1:-}" = "--test" ]; then
	# clang + its runtime: ASan/UBSan builds and libFuzzer; g++ and pkg-config:
	# the installed-library check; python3: JSON checks; gnuplot: bench plots;
	# libzmq3-dev, libnng-dev: extra bench peers; cppcheck, clang-tidy: static
	# analysis; procps: ipcs-like checks (ps); dpkg-dev, file, man-db: the
	# Debian packages (tests/suites/deb.sh: dpkg-shlibdeps, man -w); groff-base:
	# man page lint (tests/man_check.sh); libnats-dev, nats-server: shmq-bridge
	# and its tests against a real NATS server; python3-pytest: the Python
	# package's tests (tests/suites/python.sh).
	need+=(clang libclang-rt-dev g++ pkg-config python3 gnuplot-nox libzmq3-dev libnng-dev
	       cppcheck clang-tidy procps util-linux dpkg-dev file man-db groff-base
	       libnats-dev nats-server python3-pytest)
fi

missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "deps: missing Debian packages: ${missing[*]}" >&2
	echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 0 # the build says what it cannot do; optional parts skip
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
