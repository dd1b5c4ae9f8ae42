#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every function include/shmq.h declares (SHMQ_API) has a page in section 3,
# so that `man <function>` works: either a page of its own, or an alias file
# whose one line is ".so man3/<page>.3", naming the page of its group (as
# liburing does). The page names the function in NAME (for whatis and
# apropos) and in SYNOPSIS. No shmq_*.3 names a function the header does not
# declare. shmq.3 is the overview and is not one of these.
#   bash tests/man_check.sh [MANDIR [HEADER]]
# MANDIR: the source tree's man/ (default), or an installed share/man, whose
# man3/ is then checked, and, when man(1) is there, `man -M MANDIR -w F` must
# find every function and render it. Exit 0 pass, 1 fail.
#
# A new function in a group: add it to the group page's NAME and SYNOPSIS,
# and write its alias: printf '.so man3/PAGE.3\n' >man/FUNCTION.3
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
mandir=${1:-$src/man}
header=${2:-$src/include/shmq.h}
dir=$mandir
[ -d "$mandir/man3" ] && dir=$mandir/man3
[ -f "$header" ] || { echo "FAIL: no header $header" >&2; exit 1; }
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

declared=$(sed -n 's/^SHMQ_API.*[^a-z_]\(shmq_[a-z_]*\)(.*/\1/p' "$header" | sort -u)
[ -n "$declared" ] || { echo "FAIL: no SHMQ_API function found in $header" >&2; exit 1; }

section() { # page NAME: the lines of that section, joined
	awk -v s="$2" '$0 ~ "^\\.SH " s "$" { f = 1; next } /^\.SH / { f = 0 } f' "$1" | tr '\n' ' '
}
alias_of() { # file: the page it points to, or nothing for a real page
	sed -n '1s|^\.so man3/\(.*\)\.3$|\1|p' "$1"
}

real=0 aliases=0
for f in $declared; do
	file=$dir/$f.3
	if [ ! -f "$file" ]; then
		fail "$f has no man page ($file)"
		continue
	fi
	page=$f
	target=$(alias_of "$file")
	if [ -n "$target" ]; then
		[ "$(wc -l <"$file")" -eq 1 ] || fail "$f.3: an alias has one line, .so man3/$target.3"
		page=$target
		file=$dir/$target.3
		if [ ! -f "$file" ]; then
			fail "$f.3 points to man3/$target.3, which does not exist"
			continue
		fi
		[ -z "$(alias_of "$file")" ] || { fail "$f.3 points to an alias, $target.3"; continue; }
		aliases=$((aliases + 1))
	else
		real=$((real + 1))
		upper=$(tr a-z A-Z <<<"$f")
		grep -q "^\.TH $upper 3 " "$file" || fail "$f.3 has no '.TH $upper 3' line"
	fi
	# The NAME line lists the functions, "a, b, c \- what they do".
	section "$file" NAME | sed 's/\\-.*//' | tr ', ' '\n\n' | grep -qx "$f" ||
		fail "$page.3 does not name $f in NAME"
	section "$file" SYNOPSIS | grep -q "$f(" || fail "$page.3 has no $f() in SYNOPSIS"
done

# No page for a function that is not there (renamed, removed).
for file in "$dir"/shmq_*.3; do
	[ -e "$file" ] || continue
	f=$(basename "$file" .3)
	grep -qx "$f" <<<"$declared" || fail "$f.3: shmq.h declares no $f"
done

# The pages themselves: groff warns of no mistake in them.
if command -v groff >/dev/null; then
	for file in "$dir"/shmq_*.3; do
		[ -n "$(alias_of "$file")" ] && continue
		out=$(groff -man -ww -z "$file" 2>&1)
		[ -z "$out" ] || fail "groff: $out"
	done
fi

# Installed: man finds every function, through the aliases, and renders it.
if [ "$dir" != "$mandir" ] && command -v man >/dev/null; then
	for f in $declared; do
		[ -f "$dir/$f.3" ] || continue # said above
		# man -w follows an alias to its page.
		page=$(alias_of "$dir/$f.3")
		page=${page:-$f}
		where=$(man -M "$mandir" -w 3 "$f" 2>/dev/null)
		case $where in
		"$dir/$f.3" | "$dir/$f.3.gz" | "$dir/$page.3" | "$dir/$page.3.gz") ;;
		*) fail "man -M $mandir -w $f: '$where'"; continue ;;
		esac
		MANWIDTH=80 man -M "$mandir" -P cat 3 "$f" 2>/dev/null | grep -q "$f" ||
			fail "man -M $mandir $f renders no page naming $f"
	done
fi

n=$(wc -w <<<"$declared")
if [ $fails -ne 0 ]; then
	echo "man_check: $fails failure(s)" >&2
	exit 1
fi
echo "man_check: $n functions, each with a page ($real pages, $aliases aliases) in $dir"
