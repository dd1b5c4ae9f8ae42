#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq rm and the tool's names and keys (issue 12, item 7):
#  - without --force, `shmq rm --key K` leaves alone what is not a stale
#    shmq endpoint of ours at the lock path: another user's file (root
#    only), a FIFO (and does not hang on it), our own file that holds no
#    lock record; it exits 1 with one line; --force removes them;
#  - a bad name (../x, a/b, 201 characters, .hidden, shmq.sysv.*) is a
#    usage error for every command: exit 2, one line naming the allowed
#    characters, nothing created; 200 characters are fine;
#  - keys with the top bit set print as unsigned numbers, never negative.
# Usage: cli_rm_names.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
# shellcheck disable=SC2015 # "A && B || fail": fail unless both hold
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"

cli_tmp rm
K=$(pid_key 0x59000000)
KHI=$(pid_key 0xd9000000)
LOCK=$(ep_file --key "$K")
CLEAN_FILES+=("$LOCK") # may be a FIFO, a symbolic link, another's file
CLEAN_KEYS+=("$K" "$KHI")

one_line() { # WANT-STATUS WHAT
	[ "$STATUS" -eq "$1" ] || fail "$2: exit status $STATUS, want $1: $(cat "$TMP/cmd.err")"
	[ "$(wc -l <"$TMP/cmd.err")" -eq 1 ] || fail "$2: not one line on stderr"
	[ ! -s "$TMP/cmd.out" ] || fail "$2: printed on stdout"
}

# ---- shmq rm leaves alone what is not ours ------------------------------------

inode() { stat -c %i "$1" 2>/dev/null; }

check_refused() { # WHAT: rm refuses what is at $LOCK, removes it with --force
	local before
	before=$(inode "$LOCK")
	run rm --key "$K"
	one_line 1 "rm of $1"
	[ "$(inode "$LOCK")" = "$before" ] || fail "shmq rm removed $1 without --force"
	run rm --force --key "$K"
	[ "$STATUS" -eq 0 ] || fail "rm --force of $1: exit $STATUS: $(cat "$TMP/cmd.err")"
	[ ! -e "$LOCK" ] && [ ! -L "$LOCK" ] || fail "rm --force left $1"
	echo "cli_rm_names: rm refuses $1 (exit 1), --force removes it"
}

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		sh -c "echo 'someone else' > '$LOCK'" || fail "nobody could not write $LOCK"
	check_refused "another user's file"
else
	echo "cli_rm_names: not root: the other user's file is not tried"
fi
mkfifo "$LOCK" || fail "mkfifo $LOCK"
check_refused "a FIFO"
ln -s /etc/passwd "$LOCK" || fail "ln -s $LOCK"
check_refused "a symbolic link"
echo 'not a lock record' >"$LOCK"
check_refused "a file of ours that holds no lock record"
: >"$LOCK" # a server killed before its first write: ours, stale
run rm --key "$K"
[ "$STATUS" -eq 0 ] && [ ! -e "$LOCK" ] || fail "rm of our empty lock file: exit $STATUS"
echo "cli_rm_names: rm removes an empty lock file of ours (a server killed at birth)"

# ---- names ---------------------------------------------------------------

LONG200=$(head -c 200 /dev/zero | tr '\0' a)
LONG201=${LONG200}a
for name in ../x a/b "$LONG201" .hidden /.hidden shmq.sysv.0x000004d2.lock 'a b' ''; do
	for cmd in rm stat client server; do
		run "$cmd" --name "$name"
		one_line 2 "shmq $cmd --name '${name:0:20}'"
		grep -q 'A-Z a-z 0-9 . _ -' "$TMP/cmd.err" ||
			fail "shmq $cmd --name '${name:0:20}': the allowed characters are not named"
	done
	[ ! -e "/dev/shm/$name" ] || [ -z "$name" ] || fail "a bad name was created"
done
run rm --name "$LONG200"
one_line 1 "rm --name (200 characters)"
grep -q 'no such endpoint' "$TMP/cmd.err" || fail "a 200-character name: $(cat "$TMP/cmd.err")"
echo "cli_rm_names: bad names are usage errors (exit 2, allowed characters named); 200 characters pass"

# ---- keys with the top bit set ----------------------------------------------

UNSIGNED=$(printf '%u' "$KHI")
"$SHMQ" server --key "$KHI" >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV=$!
PIDS+=("$SRV")
end=$(($(now_ms) + 5000))
until grep -q 'Waiting for client' "$TMP/srv.out"; do
	kill -0 "$SRV" 2>/dev/null || fail "server on $KHI exited"
	[ "$(now_ms)" -lt "$end" ] || fail "server on $KHI did not start"
	sleep 0.02
done
grep -q "(key $UNSIGNED," "$TMP/srv.out" || fail "banner does not say key $UNSIGNED"
run stat
grep -q "^$KHI " "$TMP/cmd.out" || fail "shmq stat does not list $KHI"
kill -9 "$SRV"
wait "$SRV" 2>/dev/null
PIDS=()
run rm --key "$KHI"
[ "$STATUS" -eq 0 ] || fail "rm of a stale $KHI: exit $STATUS: $(cat "$TMP/cmd.err")"
grep -qxF "removed key $UNSIGNED" "$TMP/cmd.out" || fail "rm said: $(cat "$TMP/cmd.out")"
run rm --key "$KHI"
one_line 1 "rm of nothing on $KHI"
grep -q "key $UNSIGNED: " "$TMP/cmd.err" || fail "rm of nothing said: $(cat "$TMP/cmd.err")"
grep -q -- '-[0-9]' "$TMP/srv.out" "$TMP/cmd.err" && fail "a key printed as a negative number"
echo "cli_rm_names: key $KHI prints as $UNSIGNED (server, rm), never negative"
echo "cli_rm_names: PASS"
