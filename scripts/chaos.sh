#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chaos test (the "make soak" of shmq): one server and 8 clients doing
# checksummed request/reply (pipelined, answered out of order), one-way
# messages and flushes while a driver SIGKILLs, SIGSTOPs, stops gracefully
# and restarts them; the logs are checked at the end. Prints the totals;
# exit 0 = no violation.
#   scripts/chaos.sh [seconds] [driver options]   default 60 s; see tests/chaos/main.c
#   SHMQ_CHAOS_ASAN=1      build with AddressSanitizer + UndefinedBehaviorSanitizer
#   SHMQ_CHAOS_SELFTEST=1  first prove the checker catches injected faults
#   SHMQ_CHAOS_KEEP=1      keep the logs even when the run passes
# The program is built from the library's sources with cc (or $CC) into a
# temporary directory; nothing in the source tree is written.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
secs=${1:-60}
shift || true
case $secs in '' | *[!0-9]*) echo "usage: $0 [seconds] [driver options]" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmq-chaos-bin.XXXXXX") || exit 1
bin=$tmp/chaos
trap 'rm -rf "$tmp"' EXIT

cc=${CC:-cc}
flags=(-O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
rss_slack=1024
if [ "${SHMQ_CHAOS_ASAN:-0}" = 1 ]; then
	flags=(-O1 -g -std=gnu11 -fno-omit-frame-pointer "-fsanitize=address,undefined"
		-fno-sanitize-recover=undefined)
	# The shadow memory of what the server touches grows its RSS a little.
	rss_slack=4096
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
$cc "${flags[@]}" -I include -I src tests/chaos/*.c src/*.c -lpthread -o "$bin" ||
	{ echo "chaos: build failed"; exit 1; }

# Processes still running our binary after a run: there must be none.
strays() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$bin" ] && echo "${p#/proc/}"
	done
}

# A driver that was killed could not remove its endpoints: do it here.
cleanup_endpoints() { # log dir
	local f kind val
	for f in "$1"/phase-*/endpoint; do
		[ -f "$f" ] || continue
		read -r kind val <"$f"
		if [ "$kind" = sysv ]; then
			ipcrm -M "$val" 2>/dev/null && echo "chaos: removed leftover System V segment $val"
			rm -f "/dev/shm/shmq.sysv.$val.lock"
		else
			rm -f "/dev/shm/$val"
		fi
	done
}

# run <seconds of the hard deadline> <log dir> driver args...: the driver has
# its own deadlines; timeout is the last resort.
run() {
	local limit=$1 dir=$2
	shift 2
	timeout -k 10 "$limit" "$bin" driver --dir "$dir" "$@"
	local rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		echo "chaos: the driver ended abnormally (status $rc)"
		cleanup_endpoints "$dir"
		rc=1
	fi
	local left
	left=$(strays)
	if [ -n "$left" ]; then
		echo "chaos: processes left running: $left"
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL $left 2>/dev/null
		rc=1
	fi
	return $rc
}

status=0
if [ "${SHMQ_CHAOS_SELFTEST:-0}" = 1 ]; then
	# Each fault must be caught, with the message that names it. The
	# server is left alone (--calm-server) where the fault does not need its
	# death, so that only the injected fault (not a library bug the chaos may
	# hit) decides the outcome.
	calm="--seconds 2 --backend sysv --calm-server"
	faults=(
		"dup|processed twice|$calm"
		"unlogged|acknowledged but never processed|$calm"
		"corrupt|corrupt reply|$calm"
		"misroute|reply delivered to the wrong client|$calm"
		"drop|reply lost|$calm"
		"hang|not counting stops|$calm --seconds 4"
		"slowpipe|after its server died|--seconds 9 --backend posix"
		"leak|left behind|$calm"
		"rss|RSS grew|$calm --seconds 5"
		"fdleak|file descriptors leaked|$calm"
		"stray|process left running|$calm"
		"forget|flushed but never processed|$calm --seconds 1"
		"wrongreq|reply delivered to the wrong request|$calm --seconds 1"
		"acceptwrong|acknowledged with the reply to another request|$calm --seconds 1"
		"latereply|reply to an abandoned request|$calm --seconds 1"
		"falsetimeout|which says nothing was sent, yet it was processed|$calm --seconds 1"
		"dropdrain|before the graceful shutdown of server|$calm --seconds 1 --end-order server"
	)
	for f in "${faults[@]}"; do
		IFS='|' read -r name want opts <<<"$f"
		# shellcheck disable=SC2086 # opts holds several options
		out=$(SHMQ_CHAOS_INJECT=$name run 120 "$tmp/selftest-$name" --rss-slack-kb "$rss_slack" \
			$opts 2>&1)
		rc=$?
		if [ $rc -eq 1 ] && grep -q "$want" <<<"$out"; then
			echo "chaos: self-test: injected '$name' caught"
		else
			echo "chaos: self-test: injected '$name' NOT caught (exit $rc):"
			tail -n 5 <<<"$out"
			status=1
		fi
	done
fi

# The logs (about 160 MB per 30 s phase) go to the scratch directory unless
# asked for: the failures are described in what the driver prints.
if [ "${SHMQ_CHAOS_KEEP:-0}" = 1 ]; then
	logs=$(mktemp -d "${TMPDIR:-/tmp}/shmq-chaos.XXXXXX") || exit 1
	keep=(--keep)
else
	logs=$tmp/logs
	keep=()
fi
# Per 30 s phase: shutdown and checking take a few seconds; allow 30.
run $((secs + 120 + (secs / 30 + 1) * 30)) "$logs" --seconds "$secs" --rss-slack-kb "$rss_slack" "${keep[@]}" "$@" ||
	{ status=1; [ ${#keep[@]} -eq 0 ] && echo "chaos: logs removed; SHMQ_CHAOS_KEEP=1 keeps them"; }
exit $status
