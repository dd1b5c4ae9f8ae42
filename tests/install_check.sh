#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install a build into a temporary prefix (and again under DESTDIR), check
# the installed tree, and build the consumer in examples/consumer against it
# three ways: cc + pkg-config, c++ + pkg-config, and CMake's find_package.
#   bash tests/install_check.sh <build-dir>
# Exit 0 pass, 1 fail, 77 skip (no c++ or pkg-config).
set -euo pipefail

build=${1:?usage: install_check.sh <build-dir>}
src=$(cd "$(dirname "$0")/.." && pwd)
consumer=$src/examples/consumer
[ -f "$build/cmake_install.cmake" ] || { echo "FAIL: $build is not a configured build" >&2; exit 1; }
for t in c++ pkg-config cc cmake nm readelf ldd; do
	command -v $t >/dev/null || { echo "SKIP: $t not found" >&2; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmq-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
words() { tr '\n' ' ' <<<"$1"; } # a list on one line
ok() { echo "ok: $*"; }

# ---- install, plain and staged ------------------------------------------
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install --prefix"; exit 1; }

# DESTDIR: everything lands under the stage, nothing at the real prefix.
staged=/opt/shmq-install-check-$$
[ -e "$staged" ] && { echo "FAIL: $staged exists already" >&2; exit 1; }
DESTDIR=$tmp/stage cmake --install "$build" --prefix "$staged" >"$tmp/stage.log" 2>&1 ||
	{ cat "$tmp/stage.log" >&2; fail "DESTDIR install"; exit 1; }
if [ -e "$staged" ]; then
	fail "DESTDIR not honoured: $staged was written"
	rm -rf "$staged"
fi
(cd "$prefix" && find . | sort) >"$tmp/plain.list"
(cd "$tmp/stage$staged" 2>/dev/null && find . | sort) >"$tmp/stage.list" || true
if cmp -s "$tmp/plain.list" "$tmp/stage.list"; then
	ok "DESTDIR honoured ($(wc -l <"$tmp/plain.list") paths, same tree as --prefix)"
else
	fail "DESTDIR install differs from the --prefix install"
	diff "$tmp/plain.list" "$tmp/stage.list" >&2 || true
fi

# ---- the installed tree ---------------------------------------------------
libdir=
for f in "$prefix"/lib*/libshmq.so.1; do
	[ -e "$f" ] && { libdir=$(dirname "$f"); break; }
done
[ -n "$libdir" ] || { fail "no lib*/libshmq.so.1"; exit 1; }
for f in bin/shmq include/shmq.h share/man/man1/shmq.1 share/man/man3/shmq.3 \
	 share/man/man7/shmq.7; do
	[ -e "$prefix/$f" ] && ok "$f" || fail "missing $f"
done
[ -x "$prefix/bin/shmq" ] || fail "bin/shmq is not executable"
# A page for every function of the installed shmq.h, and man finds them.
bash "$src/tests/man_check.sh" "$prefix/share/man" "$prefix/include/shmq.h" &&
	ok "a man page for every function" || fail "man pages (tests/man_check.sh)"
for f in libshmq.so libshmq.a pkgconfig/shmq.pc cmake/shmq/shmqConfig.cmake \
	 cmake/shmq/shmqConfigVersion.cmake; do
	[ -e "$libdir/$f" ] && ok "${libdir#"$prefix"/}/$f" || fail "missing ${libdir#"$prefix"/}/$f"
done
soname=$(readelf -d "$libdir/libshmq.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libshmq.so.1 ] && ok "SONAME $soname" || fail "SONAME is '$soname', want libshmq.so.1"

# Exports: only shmq_*, and every function the header declares.
nm -D --defined-only "$libdir/libshmq.so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
	sort -u >"$tmp/exports"
bad=$(grep -v '^shmq_' "$tmp/exports" || true)
[ -z "$bad" ] && ok "$(wc -l <"$tmp/exports") exported symbols, all shmq_*" ||
	fail "exported symbols outside shmq_*: $(words "$bad")"
sed -n 's/^SHMQ_API.*[^a-z_]\(shmq_[a-z_]*\)(.*/\1/p' "$prefix/include/shmq.h" | sort -u >"$tmp/declared"
missing=$(comm -23 "$tmp/declared" "$tmp/exports")
[ -z "$missing" ] && ok "every function in shmq.h is exported" ||
	fail "declared in shmq.h but not exported: $(words "$missing")"
extra=$(comm -13 "$tmp/declared" "$tmp/exports")
[ -z "$extra" ] || fail "exported but not in shmq.h: $(words "$extra")"
# Every global symbol either library defines, in its symbol table (not just
# the dynamic one), is shmq_*: so a program's own ring_init or seg_create
# cannot clash with our internals when it links libshmq.a. (Type A is the
# version node, SHMQ_0.2.)
for lib in libshmq.a libshmq.so; do
	nm -g --defined-only "$libdir/$lib" | awk 'NF == 3 && $2 != "A" { print $3 }' |
		sort -u >"$tmp/globals"
	bad=$(grep -v '^shmq_' "$tmp/globals" || true)
	[ -z "$bad" ] && ok "$lib: $(wc -l <"$tmp/globals") global symbols, all shmq_*" ||
		fail "$lib defines globals outside shmq_*: $(words "$bad")"
	missing=$(comm -23 "$tmp/declared" "$tmp/globals")
	[ -z "$missing" ] || fail "declared in shmq.h but not defined in $lib: $(words "$missing")"
done

# What the library and the tool load: libc (and the loader, the vDSO),
# nothing else (the tool links libshmq.a); ZeroMQ and nng are for shmq-bench
# alone.
only_libc() { # name binary [allowed-extra-regex]
	local extra=${3:-'^$'} deps bad
	deps=$(LD_LIBRARY_PATH=$libdir ldd "$2" | awk '{ print $1 }')
	bad=$(grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|/lib(64|x32)?/ld-linux[^ ]*|ld-linux[^ ]*)$' <<<"$deps" |
		grep -vE "$extra" || true)
	[ -z "$bad" ] && ok "ldd $1: $(words "$deps")" || fail "ldd $1 shows more than libc: $(words "$bad")"
}
only_libc "${libdir#"$prefix"/}/libshmq.so" "$libdir/libshmq.so"
only_libc bin/shmq "$prefix/bin/shmq"
bench=$(cd "$prefix" && find . -type f -name shmq-bench | sed 's|^\./||')
if [ -n "$bench" ] && [ -x "$prefix/$bench" ]; then
	ok "$bench"
else
	fail "no executable shmq-bench installed"
fi

# No RPATH is installed: like any library outside ld.so's path, it needs
# LD_LIBRARY_PATH (or ldconfig) at a custom prefix.
tool() { LD_LIBRARY_PATH=$libdir "$prefix/bin/shmq" "$@"; }
tool --version >/dev/null && ok "bin/shmq runs" || fail "bin/shmq --version"
# shmq bench finds the installed shmq-bench (beside it, or in libexec),
# not the build tree's.
tool bench --list >"$tmp/bench.list" 2>"$tmp/bench.err" && [ -s "$tmp/bench.list" ] &&
	ok "bin/shmq bench --list runs the installed shmq-bench" ||
	fail "bin/shmq bench --list: $(cat "$tmp/bench.err")"

# ---- pkg-config -------------------------------------------------------------
pc() { PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_LIBDIR=$libdir/pkgconfig pkg-config "$@"; }
flags=$(pc --cflags --libs shmq) || { fail "pkg-config cannot read shmq.pc"; exit 1; }
echo "pkg-config: $flags"
# The flags must name the prefix we installed to (after resolving "..", so a
# relocatable .pc with ${pcfiledir} passes); otherwise we would build against
# whatever happens to be in /usr/local.
dirs_of() { # -I or -L: the resolved directories that flag names
	local w
	for w in $flags; do
		case $w in "$1"*) realpath -m "${w#"$1"}" ;; esac
	done
}
dirs_of -I | grep -qx "$(realpath "$prefix/include")" && ok "Cflags point into the install prefix" ||
	fail "shmq.pc Cflags ($(pc --cflags shmq)) do not point at $prefix/include; is its prefix= fixed at configure time?"
dirs_of -L | grep -qx "$(realpath "$libdir")" && ok "Libs point into the install prefix" ||
	fail "shmq.pc Libs ($(pc --libs shmq)) do not point at $libdir"
[ "$(pc --modversion shmq)" = "$(tool --version | awk '{ print $2 }')" ] ||
	fail "pkg-config version differs from shmq --version"

runs() { # name binary: run against the installed library only
	local lib
	lib=$(LD_LIBRARY_PATH=$libdir ldd "$2" | awk '/libshmq/ { print $3 }')
	[ "$lib" = "$libdir/libshmq.so.1" ] || { fail "$1 loads libshmq from '$lib'"; return; }
	LD_LIBRARY_PATH=$libdir "$2" && ok "$1 runs" || fail "$1 failed"
}
# shellcheck disable=SC2086 # the flags are words
if cc -std=c11 -pedantic -Wall -Wextra -Werror "$consumer/consumer.c" $flags \
	-o "$tmp/consumer_c" 2>"$tmp/cc.log"; then
	runs "consumer (cc, pkg-config)" "$tmp/consumer_c"
else
	cat "$tmp/cc.log" >&2; fail "cc consumer.c with pkg-config flags"
fi
# shellcheck disable=SC2086
if c++ -std=c++11 -pedantic -Wall -Wextra -Werror "$consumer/consumer.cpp" $flags \
	-o "$tmp/consumer_cxx" 2>"$tmp/cxx.log"; then
	runs "consumer++ (c++, pkg-config)" "$tmp/consumer_cxx"
else
	cat "$tmp/cxx.log" >&2; fail "c++ consumer.cpp with pkg-config flags"
fi

# Statically: the archive alone, beside a program that has functions of
# the names our internals have.
cat >"$tmp/clash.c" <<'EOF2'
int ring_init(void);
int seg_create(void);
int lock_try(void);
int ring_init(void) { return 1; }
int seg_create(void) { return 2; }
int lock_try(void) { return 3; }
EOF2
if cc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" "$consumer/consumer.c" "$tmp/clash.c" \
	"$libdir/libshmq.a" -o "$tmp/consumer_static" 2>"$tmp/static.log"; then
	deps=$(ldd "$tmp/consumer_static" | grep -c libshmq || true)
	[ "$deps" -eq 0 ] || fail "the static consumer loads libshmq.so"
	"$tmp/consumer_static" && ok "consumer (cc, libshmq.a, with its own ring_init) runs" ||
		fail "static consumer failed"
else
	cat "$tmp/static.log" >&2; fail "cc consumer.c with libshmq.a"
fi

# ---- CMake package ----------------------------------------------------------
if cmake -S "$consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/cmake.log" 2>&1 &&
	cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1; then
	found=$(sed -n 's/^shmq_DIR:PATH=//p' "$tmp/cmake/CMakeCache.txt")
	[ "$found" = "$libdir/cmake/shmq" ] && ok "find_package(shmq) found $found" ||
		fail "find_package(shmq) found '$found', not the install prefix"
	runs "consumer (CMake, shmq::shmq)" "$tmp/cmake/consumer"
	[ -x "$tmp/cmake/consumer_cxx" ] && runs "consumer++ (CMake)" "$tmp/cmake/consumer_cxx"
else
	cat "$tmp/cmake.log" >&2; fail "CMake consumer with find_package(shmq)"
fi

# Nothing of ours left in /dev/shm.
for f in /dev/shm/shmq-consumer-*; do
	[ -e "$f" ] && fail "left behind: $f"
done

if [ $fails -ne 0 ]; then
	echo "install_check: $fails failure(s)" >&2
	exit 1
fi
echo "install_check: all checks passed"
