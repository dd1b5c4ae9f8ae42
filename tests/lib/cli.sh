# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# What the tests/cli_*.sh scripts share. Sourced, never run: it lives in
# tests/lib/ so that the ctest glob tests/cli_*.sh does not take it for a
# test. Written for scripts that `set -u`. A script goes
#
#   set -u
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
#   cli_tool "$@"               # SHMQ, checked
#   ...its own SKIP checks (exit 77)...
#   cli_tmp NAME                # TMP=/tmp/shmq-cli-NAME.XXXXXX, traps
#   K=$(pid_key 0x5a000000)
#   CLEAN_KEYS+=("$K")          # what cleanup removes; PIDS+=(...) what it kills
#
# and may then set, after sourcing this file:
#   PIDS             background pids cleanup SIGKILLs (then it waits for all)
#   CLEAN_FDS        descriptors cleanup closes first (FIFOs' write ends)
#   CLEAN_FILES      files cleanup removes before the endpoints (planted
#                    FIFOs, lock files: shmq rm is not to meet them)
#   CLEAN_KEYS       keys cleanup removes: shmq rm --force --key
#   CLEAN_NAMES      names cleanup removes: shmq rm --force --name
#   CLEAN_STALE_KEYS keys cleanup removes only if stale (shmq rm --key,
#                    no --force): keys that may be someone else's
#   FAIL_FILES       which files of $TMP fail shows: patterns, matched
#                    in $TMP only (default ('*'))
#   FAIL_LINES       how many lines of each (default 20)
#   WAIT_EXIT_MS     wait_exit's default deadline (default 5000)
# and redefine fail_show FILE to show a file differently.

PIDS=()
CLEAN_FDS=()
CLEAN_FILES=()
CLEAN_KEYS=()
CLEAN_NAMES=()
CLEAN_STALE_KEYS=()
FAIL_FILES=('*')
FAIL_LINES=20
WAIT_EXIT_MS=5000

# cli_tool "$@": SHMQ is the script's argument, an executable.
cli_tool() { # ARGS...
	SHMQ=${1:?usage: ${0##*/} path/to/shmq}
	[ -x "$SHMQ" ] || { echo "FAIL: '$SHMQ' is not an executable" >&2; exit 1; }
}

# cli_tmp NAME: TMP is a new directory, removed with everything else by
# cleanup at exit; a signal is a failure (exit 1, after cleanup).
cli_tmp() { # NAME
	TMP=$(mktemp -d "/tmp/shmq-cli-$1.XXXXXX") || exit 1
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

cleanup() {
	local fd p k n f
	exec 2>/dev/null # also no "Killed" job notices from here on
	for fd in "${CLEAN_FDS[@]}"; do
		eval "exec $fd>&-"
	done
	for p in "${PIDS[@]}"; do
		kill -9 "$p"
	done
	wait
	for f in "${CLEAN_FILES[@]}"; do
		rm -f "$f"
	done
	for k in "${CLEAN_KEYS[@]}"; do
		"$SHMQ" rm --force --key "$k" >/dev/null 2>&1
	done
	for n in "${CLEAN_NAMES[@]}"; do
		"$SHMQ" rm --force --name "$n" >/dev/null 2>&1
	done
	for k in "${CLEAN_STALE_KEYS[@]}"; do
		"$SHMQ" rm --key "$k" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}

# fail MESSAGE: say it, show the head of each non-empty regular file of
# $TMP that matches FAIL_FILES, exit 1.
fail() { # MESSAGE...
	local pat f
	echo "FAIL: $*" >&2
	if [ -n "${TMP:-}" ]; then
		for pat in "${FAIL_FILES[@]}"; do
			for f in "$TMP"/$pat; do
				if [ -f "$f" ] && [ -s "$f" ]; then # a FIFO would block head
					echo "--- $(basename "$f"):" >&2
					fail_show "$f" >&2
				fi
			done
		done
	fi
	exit 1
}

fail_show() { # FILE
	head -n "$FAIL_LINES" "$1"
}

now_ms() { date +%s%3N; }

# pid_key BASE [N]: a System V key of this run's own, for tests run in
# parallel: BASE's top byte is the script's, our pid fills bits 4-19 and N
# (0-15, default 0) numbers the script's keys.
pid_key() { # BASE [N]
	printf '0x%08x' $(($1 | (($$ & 0xffff) << 4) | ${2:-0}))
}

# The file an endpoint keeps in /dev/shm.
ep_file() { # ENDPOINT-OPTIONS (--key K or --name N)
	if [ "$1" = --key ]; then
		printf '/dev/shm/shmq.sysv.0x%08x.lock' "$2"
	else
		printf '/dev/shm/%s' "$2"
	fi
}

# State of an endpoint as `shmq stat` reports it: live, stale or none.
state_of() { # ENDPOINT-OPTIONS...
	local out
	out=$("$SHMQ" stat "$@" 2>/dev/null) || { echo none; return; }
	awk 'NR == 2 { print $2 }' <<<"$out"
}

# Poll until the endpoint is live. Returns 1 if its server PID exited
# first; not live after 5 s is a failure.
wait_live() { # PID ENDPOINT-OPTIONS...
	local pid=$1 end=$(($(now_ms) + 5000))
	shift
	while [ "$(state_of "$@")" != live ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(now_ms)" -lt "$end" ] || fail "endpoint $* not live after 5 s"
		sleep 0.01
	done
}

# Wait for background process PID to end; STATUS gets its exit status.
# Still running after TIMEOUT_MS (default WAIT_EXIT_MS) is a failure, told
# by MESSAGE if given.
wait_exit() { # PID [TIMEOUT_MS [MESSAGE]]
	local ms=${2:-$WAIT_EXIT_MS} took
	local end=$(($(now_ms) + ms))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(now_ms)" -ge "$end" ]; then
			if [ $((ms % 1000)) -eq 0 ]; then took="$((ms / 1000)) s"; else took="$ms ms"; fi
			fail "${3:-process $1 still running after $took}"
		fi
		sleep 0.005
	done
	wait "$1"
	STATUS=$?
}

# Run the tool, killed after 5 s (a hang is a failure): STATUS and
# cmd.out/cmd.err in $TMP.
run() { # ARGS...
	timeout 5 "$SHMQ" "$@" >"$TMP/cmd.out" 2>"$TMP/cmd.err" </dev/null
	STATUS=$?
	[ "$STATUS" -ne 124 ] || fail "shmq $*: hung (killed after 5 s)"
}
