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

SHMQ=${1:?usage: cli_connect.sh path/to/shmq}
[ -x "$SHMQ" ] || { echo "FAIL: '$SHMQ' is not an executable" >&2; exit 1; }

TMP=$(mktemp -d /tmp/shmq-cli-connect.XXXXXX) || exit 1
K=$(printf '0x%08x' $((0x5b000000 | (($$ & 0xffff) << 4))))
N=shmq-cli-connect-$$
ROUNDS=${SHMQ_CONNECT_ROUNDS:-24}
SRV=

cleanup() {
	[ -z "$SRV" ] || kill -9 "$SRV" 2>/dev/null
	wait 2>/dev/null
	"$SHMQ" rm --force --key "$K" >/dev/null 2>&1
	"$SHMQ" rm --force --name "$N" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	for f in "$TMP"/*; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f"):" >&2
		head -n 20 "$f" >&2
	done
	exit 1
}

now_ms() { date +%s%3N; }

for ep in "--key $K" "--name $N"; do
	# shellcheck disable=SC2086 # $ep is two words on purpose
	set -- $ep
	if [ "$1" = --key ]; then
		f=$(printf '/dev/shm/shmq.sysv.0x%08x.lock' "$2")
	else
		f=/dev/shm/$2
	fi
	for i in $(seq "$ROUNDS"); do
		"$SHMQ" server "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
		SRV=$!
		end=$(($(now_ms) + 5000))
		until [ -e "$f" ]; do
			kill -0 "$SRV" 2>/dev/null || fail "$ep: the server exited at once"
			[ "$(now_ms)" -lt "$end" ] || fail "$ep: no $f after 5 s"
		done
		printf 'round %s\nexit\n' "$i" | "$SHMQ" client "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
		STATUS=$?
		[ "$STATUS" -eq 0 ] || fail "$ep, round $i: a client started as the server starts: exit $STATUS"
		grep -q 'would block' "$TMP/cli.err" && fail "$ep, round $i: 'would block' shown"
		end=$(($(now_ms) + 5000))
		while kill -0 "$SRV" 2>/dev/null; do
			[ "$(now_ms)" -lt "$end" ] || fail "$ep, round $i: the server did not stop on exit"
			sleep 0.01
		done
		wait "$SRV" || fail "$ep, round $i: server exit status $?"
		SRV=
		grep -qxF "Server received: round $i" "$TMP/srv.out" || fail "$ep, round $i: line lost"
		[ ! -e "$f" ] || fail "$ep: $f left behind"
	done
	echo "cli_connect($1): $ROUNDS clients started as their server starts: all connected"
done
echo "cli_connect: PASS"
