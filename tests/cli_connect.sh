#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `shmq client` started right after its server (issue 12, item 6): it used
# to fail about 1 in 8 times with "cannot connect to key N: would block"
# while the server was still writing its header. Each round starts a
# server, waits only until its file appears in /dev/shm, and starts a
# client at once: every client must connect and deliver its line, and no
# message may say "would block". (The stuck and corrupt servers are in
# test_connect_start.c, which fakes them.)
# Usage: cli_connect.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"

cli_tmp connect
K=$(pid_key 0x5b000000)
N=shmq-cli-connect-$$
ROUNDS=${SHMQ_CONNECT_ROUNDS:-24}
CLEAN_KEYS+=("$K")
CLEAN_NAMES+=("$N")

for ep in "--key $K" "--name $N"; do
	# shellcheck disable=SC2086 # $ep is two words on purpose
	set -- $ep
	f=$(ep_file "$@")
	for i in $(seq "$ROUNDS"); do
		"$SHMQ" server "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
		SRV=$!
		PIDS=("$SRV") # this round's alone: earlier pids are reaped, maybe reused
		end=$(($(now_ms) + 5000))
		until [ -e "$f" ]; do
			kill -0 "$SRV" 2>/dev/null || fail "$ep: the server exited at once"
			[ "$(now_ms)" -lt "$end" ] || fail "$ep: no $f after 5 s"
		done
		printf 'round %s\nexit\n' "$i" | "$SHMQ" client "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
		STATUS=$?
		[ "$STATUS" -eq 0 ] || fail "$ep, round $i: a client started as the server starts: exit $STATUS"
		grep -q 'would block' "$TMP/cli.err" && fail "$ep, round $i: 'would block' shown"
		wait_exit "$SRV" 5000 "$ep, round $i: the server did not stop on exit"
		[ "$STATUS" -eq 0 ] || fail "$ep, round $i: server exit status $STATUS"
		PIDS=()
		grep -qxF "Server received: round $i" "$TMP/srv.out" || fail "$ep, round $i: line lost"
		[ ! -e "$f" ] || fail "$ep: $f left behind"
	done
	echo "cli_connect($1): $ROUNDS clients started as their server starts: all connected"
done
echo "cli_connect: PASS"
