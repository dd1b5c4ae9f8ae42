#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages, built from the tree with CPack (cmake/packaging.cmake),
# installed into the real system with dpkg -i, used, and purged again:
#   - the four packages are built, with the Depends they should have
#     (libshmq1 and shmq: libc6 only);
#   - man -w finds shmq_server_create, and every function has a page
#     (tests/man_check.sh on /usr/share/man);
#   - ldd: libshmq.so.1 and /usr/bin/shmq need libc alone;
#   - shmq runs, and shmq bench finds /usr/libexec/shmq/shmq-bench;
#   - a consumer built with `pkg-config --cflags --libs shmq` runs against
#     /usr's libshmq, as does one linked with libshmq.a;
#   - dpkg -r, then dpkg -P, leave none of the packages' files behind.
# Needs root (CI is root on a throwaway machine): exit 77 otherwise, and if
# a tool is missing (scripts/deps.sh --test installs them). Refuses, without
# touching anything, if shmq is already installed on the system.
#   bash tests/suites/deb.sh [SOURCE-DIR]        exit 0 pass, 1 fail, 77 skip
set -uo pipefail

src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
src=$(cd "$src" && pwd)
skip() { echo "deb: SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root: dpkg -i would need it"
for t in dpkg dpkg-deb dpkg-query dpkg-shlibdeps file cmake cpack cc pkg-config man ldd; do
	command -v "$t" >/dev/null || skip "$t not found (scripts/deps.sh --test installs it)"
done

pkgs="libshmq1 libshmq-dev shmq shmq-bench"
all_pkgs="$pkgs shmq-bridge" # shmq-bridge: only where libnats was found
fails=0
fail() { echo "deb: FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "deb: ok: $*"; }
installed() { dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qvx 'not-installed'; }

# Nothing of shmq on the system already: we would replace it, then remove it.
for p in $all_pkgs; do
	installed "$p" && { echo "deb: FAIL: package $p is installed already; remove it (dpkg -P $p) first" >&2; exit 1; }
done
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)
for f in /usr/bin/shmq /usr/include/shmq.h /usr/libexec/shmq /usr/lib/"$multiarch"/libshmq.so.1; do
	[ -e "$f" ] && { echo "deb: FAIL: $f exists (a shmq installed by hand?); refusing to overwrite it" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmq-deb.XXXXXX")
cleanup() {
	local p
	for p in shmq-bridge shmq-bench shmq libshmq-dev libshmq1; do
		installed "$p" && dpkg -P "$p" >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM # and purge on the way out
start=$(date +%s)

# ---- build ------------------------------------------------------------------
build=$tmp/build
if ! { cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DSHMQ_BUILD_TESTS=OFF -DSHMQ_WERROR=ON && cmake --build "$build" -j2 &&
	(cd "$build" && cpack -G DEB); } >"$tmp/build.log" 2>&1; then
	tail -n 30 "$tmp/build.log" >&2
	fail "build or cpack"
	exit 1
fi
debs=()
for p in $pkgs; do
	deb=$(ls "$build"/packages/"${p}"_*_"$arch".deb 2>/dev/null | head -n 1)
	if [ -n "$deb" ]; then debs+=("$deb"); else fail "no package $p"; fi
done
[ $fails -eq 0 ] || exit 1
bridge_deb=$(ls "$build"/packages/shmq-bridge_*_"$arch".deb 2>/dev/null | head -n 1)
if [ -n "$bridge_deb" ]; then
	debs+=("$bridge_deb")
	pkgs="$pkgs shmq-bridge"
fi
ok "built $(cd "$build/packages" && echo *.deb) in $(($(date +%s) - start)) s"

deps() { dpkg-deb -f "$1" Depends; }
names() { tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort | tr '\n' ' '; }
[ "$(deps "${debs[0]}" | names)" = "libc6 " ] && ok "libshmq1 Depends: $(deps "${debs[0]}")" ||
	fail "libshmq1 Depends: $(deps "${debs[0]}"), want libc6 alone"
[ "$(deps "${debs[2]}" | names)" = "libc6 " ] && ok "shmq Depends: $(deps "${debs[2]}")" ||
	fail "shmq Depends: $(deps "${debs[2]}"), want libc6 alone (the tool links libshmq.a)"
deps "${debs[1]}" | grep -q "libshmq1 (= " || fail "libshmq-dev does not depend on its libshmq1"
ok "shmq-bench Depends: $(deps "${debs[3]}")"
# Every file the packages hold, to check that purging removes them all.
for d in "${debs[@]}"; do
	dpkg-deb -c "$d" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }'
done | sort >"$tmp/files"

# ---- install ------------------------------------------------------------------
if ! dpkg -i "${debs[@]}" >"$tmp/dpkg.log" 2>&1; then
	cat "$tmp/dpkg.log" >&2
	fail "dpkg -i"
	exit 1
fi
for p in $pkgs; do
	installed "$p" || fail "$p not installed after dpkg -i"
done
ok "dpkg -i $pkgs"

# ---- use ------------------------------------------------------------------------
if grep -qs '^ *path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
	# Slimmed images tell dpkg to drop every man page it installs.
	echo "deb: note: dpkg here excludes /usr/share/man (/etc/dpkg/dpkg.cfg.d): man not checked"
else
	where=$(man -w shmq_server_create 2>&1)
	case $where in
	/usr/share/man/man3/shmq_server_create.3*) ok "man -w shmq_server_create: $where" ;;
	*) fail "man -w shmq_server_create: $where" ;;
	esac
	bash "$src/tests/man_check.sh" /usr/share/man /usr/include/shmq.h >"$tmp/man.log" 2>&1 &&
		ok "$(tail -n 1 "$tmp/man.log")" || { cat "$tmp/man.log" >&2; fail "man pages"; }
fi

libso=$(ls /usr/lib/"$multiarch"/libshmq.so.1 2>/dev/null || ls /usr/lib/libshmq.so.1 2>/dev/null)
only_libc() { # name file [allowed-extra-regex]
	local extra=${3:-'^$'} lines bad
	lines=$(ldd "$2" 2>&1)
	bad=$(awk '{ print $1 }' <<<"$lines" |
		grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|/lib(64|x32)?/ld-linux[^ ]*|ld-linux[^ ]*)$' |
		grep -vE "$extra" || true)
	[ -z "$bad" ] && ok "ldd $1: $(awk '{ print $1 }' <<<"$lines" | tr '\n' ' ')" ||
		fail "ldd $1 shows more than libc: $(tr '\n' ' ' <<<"$bad")"
}
only_libc "$libso" "$libso"
only_libc /usr/bin/shmq /usr/bin/shmq
loads() { # binary: the libshmq it loads, resolved (/lib may be a link to /usr/lib)
	realpath -e "$(ldd "$1" | awk '$1 == "libshmq.so.1" { print $3 }')" 2>/dev/null
}
[ "$(shmq --version)" = "shmq $(dpkg-query -W -f='${Version}' shmq | sed 's/-[^-]*$//')" ] &&
	ok "$(shmq --version)" || fail "shmq --version: $(shmq --version 2>&1)"
if [ -n "$bridge_deb" ]; then
	deps "$bridge_deb" | grep -q libnats && ok "shmq-bridge Depends: $(deps "$bridge_deb")" ||
		fail "shmq-bridge Depends: $(deps "$bridge_deb"), want libnats"
	shmq bridge --help >"$tmp/bridge.help" 2>&1 && ok "shmq bridge --help runs /usr/bin/shmq-bridge" ||
		fail "shmq bridge --help: $(head -n 3 "$tmp/bridge.help")"
fi
shmq bench --list >"$tmp/bench.list" 2>&1 && [ "$(wc -l <"$tmp/bench.list")" -ge 15 ] &&
	ok "shmq bench --list runs /usr/libexec/shmq/shmq-bench" ||
	fail "shmq bench --list: $(head -n 3 "$tmp/bench.list")"

consumer=$src/examples/consumer/consumer.c
flags=$(pkg-config --cflags --libs shmq 2>&1) || fail "pkg-config shmq: $flags"
# shellcheck disable=SC2086 # the flags are words
if cc -std=c11 -Wall -Wextra -Werror "$consumer" $flags -o "$tmp/consumer" 2>"$tmp/cc.log"; then
	[ "$(loads "$tmp/consumer")" = "$(realpath "$libso")" ] || fail "the consumer does not load $libso"
	"$tmp/consumer" && ok "consumer built with pkg-config ($flags) runs" || fail "consumer failed"
else
	cat "$tmp/cc.log" >&2
	fail "cc consumer.c \$(pkg-config --cflags --libs shmq)"
fi
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Wextra -Werror "$consumer" $(pkg-config --cflags shmq) \
	"$(dirname "$libso")/libshmq.a" -o "$tmp/consumer_static" 2>"$tmp/cc.log"; then
	"$tmp/consumer_static" && ok "consumer linked with libshmq.a runs" || fail "static consumer failed"
else
	cat "$tmp/cc.log" >&2
	fail "cc consumer.c libshmq.a"
fi

# ---- remove, purge ------------------------------------------------------------------
dpkg -r $(installed shmq-bridge && echo shmq-bridge) shmq-bench shmq libshmq-dev libshmq1 >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r"; }
dpkg -P $(dpkg-query -W shmq-bridge >/dev/null 2>&1 && echo shmq-bridge) shmq-bench shmq libshmq-dev libshmq1 >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P"; }
for p in $pkgs; do
	installed "$p" && fail "$p still installed after dpkg -P"
done
left=$(while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done <"$tmp/files")
[ -z "$left" ] && ok "purged: none of the packages' $(wc -l <"$tmp/files") files left" ||
	fail "left behind after dpkg -P: $(tr '\n' ' ' <<<"$left")"
[ ! -e /usr/libexec/shmq ] || fail "/usr/libexec/shmq left behind"

echo "deb: $(($(date +%s) - start)) s"
if [ $fails -ne 0 ]; then
	echo "deb: $fails failure(s)" >&2
	exit 1
fi
echo "deb: all checks passed"
