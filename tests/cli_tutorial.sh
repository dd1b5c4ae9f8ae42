#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tutorial's two-terminal session, end to end, with the built tool, and
# the tool's behaviour around it: --reply, signals, a killed server, stale
# endpoints, shmq rm, option errors, --help, over-long lines.
# Usage: cli_tutorial.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"
command -v ipcs >/dev/null || { echo "SKIP: ipcs not found" >&2; exit 77; }

cli_tmp tutorial
# Keys of our own, from our pid: tests run in parallel.
K=$(pid_key 0x5f000000)
DEFAULT_KEY=$(printf '0x%08x' 1234)
SRV=
CLEAN_FDS+=(3)
CLEAN_KEYS+=("$K")
FAIL_FILES=('*.out' '*.err')

note() {
	echo "cli_tutorial: $*"
}

# Start a server in the background: SRV is its pid, output in srv.out/err.
start_server() { # KEY-OPTIONS...
	"$SHMQ" server "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SRV=$!
	PIDS+=("$SRV")
}

# SIGKILL a background process and reap it, without bash's "Killed" notice.
kill9() { # PID
	local end=$(($(now_ms) + 5000))
	{
		kill -KILL "$1"
		while kill -0 "$1" && [ "$(now_ms)" -lt "$end" ]; do
			sleep 0.01
		done
	} 2>/dev/null
	kill -0 "$1" 2>/dev/null && fail "process $1 survived SIGKILL for 5 s"
	{ wait "$1"; } 2>/dev/null
	STATUS=$?
	[ "$STATUS" -eq 137 ] || fail "process $1: exit status $STATUS after SIGKILL"
}

# Poll a file until it contains a line, with a deadline.
wait_line() { # FILE LINE
	local end=$(($(now_ms) + 5000))
	until grep -qxF -- "$2" "$1"; do
		[ "$(now_ms)" -lt "$end" ] || fail "'$2' never appeared in $(basename "$1")"
		sleep 0.01
	done
}

# Nothing of the endpoint left: no System V segment, no lock file.
gone() { # KEY
	local hex
	hex=$(printf '0x%08x' "$1")
	if ipcs -m | awk 'NR > 3 { print $1 }' | grep -qix "$hex"; then
		fail "ipcs -m still shows a segment with key $hex"
	fi
	[ ! -e "$(ep_file --key "$1")" ] || fail "lock file $(ep_file --key "$1") left behind"
	[ "$(state_of --key "$1")" = none ] || fail "shmq stat still shows key $hex"
}

# FILE has these lines, in this order (others may come between).
in_order() { # FILE LINE...
	local file=$1
	shift
	awk -v want="$(printf '%s\n' "$@")" '
		BEGIN { n = split(want, w, "\n"); i = 1 }
		i <= n && $0 == w[i] { i++ }
		END { exit !(i > n) }' "$file" || fail "$(basename "$file") lacks, in order: $*"
}

# Exactly one line on stderr, nothing on stdout, exit status WANT. A miss
# is reported and counted, and the script goes on: these leave nothing to
# clean up, and one bad message should not hide the next.
SOFT_FAILS=0
one_error() { # WANT WHAT
	local n why=
	n=$(wc -l <"$TMP/cmd.err")
	[ "$STATUS" -eq "$1" ] || why="exit status $STATUS, want $1"
	[ ! -s "$TMP/cmd.out" ] || why="printed on stdout"
	[ "$n" -eq 1 ] || why="$n lines on stderr, want 1: $(tr '\n' '|' <"$TMP/cmd.err")"
	[ -z "$why" ] && return 0
	echo "FAIL: $2: $why" >&2
	SOFT_FAILS=$((SOFT_FAILS + 1))
}

# Unlike the lib's run, no time limit.
run() { # ARGS...: run the tool, STATUS and cmd.out/cmd.err
	"$SHMQ" "$@" >"$TMP/cmd.out" 2>"$TMP/cmd.err" </dev/null
	STATUS=$?
}

# ---- the tutorial session ---------------------------------------------------

# Returns 1 if the server could not start; fails on anything else.
tutorial() { # KEY-OPTIONS... (none: the default key)
	start_server "$@"
	wait_live "$SRV" --key "${2:-1234}" || return 1
	printf 'hello\nworld\nexit\n' | "$SHMQ" client "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
	STATUS=$?
	[ "$STATUS" -eq 0 ] || fail "client exit status $STATUS"
	grep -qxF 'Client exiting...' "$TMP/cli.out" || fail "client did not say it exits"
	wait_exit "$SRV" 5000
	[ "$STATUS" -eq 0 ] || fail "server exit status $STATUS"
	in_order "$TMP/srv.out" 'Server received: hello' 'Server received: world' \
		'Server received: exit' 'Server shutting down...'
	gone "${2:-1234}"
}

tutorial --key "$K" || fail "server did not start: $(cat "$TMP/srv.err")"
note "tutorial session on key $K: ok"

# 1234 may be someone else's: once we try it, cleanup removes it only if
# stale (our killed server).
if ipcs -m | awk 'NR > 3 { print $1 }' | grep -qix "$DEFAULT_KEY" ||
	[ -e "$(ep_file --key 1234)" ]; then
	note "key 1234 is in use here: default-key session skipped"
elif CLEAN_STALE_KEYS+=(1234) && tutorial; then
	note "tutorial session on the default key 1234: ok"
else
	# Someone took 1234 between our look and our start.
	grep -q 'live server already owns' "$TMP/srv.err" ||
		fail "server on the default key: $(cat "$TMP/srv.err")"
	note "key 1234 was taken meanwhile: default-key session skipped"
fi

# ---- --reply; end of input leaves the server running; SIGINT, SIGTERM -----

start_server --key "$K"
wait_live "$SRV" --key "$K" || fail "server did not start"
printf 'one\ntwo\n' | "$SHMQ" client --key "$K" --reply >"$TMP/cli.out" 2>"$TMP/cli.err"
STATUS=$?
[ "$STATUS" -eq 0 ] || fail "client --reply at end of input: exit status $STATUS"
in_order "$TMP/cli.out" 'Server replied: one' 'Server replied: two'
in_order "$TMP/srv.out" 'Server received: one' 'Server received: two'
[ "$(state_of --key "$K")" = live ] || fail "the server stopped when the client's input ended"
kill -0 "$SRV" 2>/dev/null || fail "the server exited when the client's input ended"
note "--reply echoes each line; end of input ends the client (exit 0), not the server"

for sig in INT TERM; do
	[ "$sig" = INT ] || { start_server --key "$K"; wait_live "$SRV" --key "$K" || fail "no server"; }
	kill -"$sig" "$SRV"
	wait_exit "$SRV" 5000
	[ "$STATUS" -eq 0 ] || fail "server after SIG$sig: exit status $STATUS"
	grep -q 'removing the endpoint' "$TMP/srv.out" || fail "server after SIG$sig: no goodbye"
	gone "$K"
	note "SIG$sig stops the server and removes the segment"
done

# ---- a killed server: the client fails fast; stale; reclaim -----------------

start_server --key "$K"
wait_live "$SRV" --key "$K" || fail "no server"
mkfifo "$TMP/in"
"$SHMQ" client --key "$K" <"$TMP/in" >"$TMP/cli.out" 2>"$TMP/cli.err" &
CLI=$!
PIDS+=("$CLI")
exec 3>"$TMP/in"
echo first >&3
wait_line "$TMP/srv.out" 'Server received: first'
kill9 "$SRV"
T0=$(now_ms)
echo second >&3
wait_exit "$CLI" 1000
DT=$(($(now_ms) - T0))
exec 3>&-
[ "$STATUS" -ne 0 ] || fail "client went on after its server was killed"
[ -s "$TMP/cli.err" ] || fail "client said nothing on stderr after its server was killed"
grep -qxF 'Server received: second' "$TMP/srv.out" && fail "a dead server received a line"
note "server SIGKILLed: the client's next line failed after $DT ms (exit $STATUS): $(head -n 1 "$TMP/cli.err")"

[ "$(state_of --key "$K")" = stale ] || fail "killed server's endpoint not reported stale"
printf 'x\n' | "$SHMQ" client --key "$K" >"$TMP/cmd.out" 2>"$TMP/cmd.err"
STATUS=$?
[ "$STATUS" -ne 0 ] || fail "a client connected to a stale endpoint"
[ "$(wc -l <"$TMP/cmd.err")" -eq 1 ] || fail "stale connect: not one line on stderr"

tutorial --key "$K"
note "a new server reclaims the stale endpoint"

# ---- shmq rm -----------------------------------------------------------------

start_server --key "$K"
wait_live "$SRV" --key "$K" || fail "no server"
run rm --key "$K"
[ "$STATUS" -ne 0 ] || fail "shmq rm removed a live endpoint"
[ "$(wc -l <"$TMP/cmd.err")" -eq 1 ] || fail "shmq rm on a live endpoint: not one line on stderr"
[ "$(state_of --key "$K")" = live ] || fail "shmq rm's refusal disturbed the live endpoint"
kill9 "$SRV"
[ "$(state_of --key "$K")" = stale ] || fail "not stale after SIGKILL"
run rm --key "$K"
[ "$STATUS" -eq 0 ] || fail "shmq rm on a stale endpoint: exit $STATUS: $(cat "$TMP/cmd.err")"
gone "$K"
run rm --key "$K"
[ "$STATUS" -ne 0 ] || fail "shmq rm of nothing succeeded"
note "shmq rm refuses a live endpoint (one line on stderr), removes a stale one"

# ---- option errors and --help ---------------------------------------------

while IFS='|' read -r sub args; do
	# shellcheck disable=SC2086 # word splitting of the arguments is wanted
	run $sub $args
	one_error 2 "shmq $sub $args"
done <<EOF
server|--key 0
server|--key abc
server|--key $K --slots 0
server|--key $K --ring-size 1000
server|--key $K --mode 0777x
server|--key $K --no-such-option
server|--key $K unexpected
client|--key 0
client|--key abc
client|--key $K --mode 0777x
client|--key $K --no-such-option
client|--key $K unexpected
stat|--no-such-option
rm|--key $K --no-such-option
rm|--key $K unexpected
EOF
gone "$K"
note "bad options: exit 2, one line on stderr, nothing created ($SOFT_FAILS failed)"

for sub in server client bench stat rm; do
	run "$sub" --help
	[ "$STATUS" -eq 0 ] || fail "shmq $sub --help: exit status $STATUS"
	grep -q "^usage: shmq $sub" "$TMP/cmd.out" || fail "shmq $sub --help: no usage"
done
run --help
{ [ "$STATUS" -eq 0 ] && grep -q "^usage: shmq" "$TMP/cmd.out"; } || fail "shmq --help"
note "--help: exit 0 and usage, for every subcommand"

# ---- a line longer than the largest message --------------------------------

start_server --key "$K" --ring-size 256
wait_live "$SRV" --key "$K" || fail "no server"
MAX=$(grep -o 'max message [0-9]*' "$TMP/srv.out" | awk '{ print $3 }')
{ [ -n "$MAX" ] && [ "$MAX" -gt 0 ]; } || fail "server did not print its largest message"
FIT=$(head -c "$MAX" /dev/zero | tr '\0' y)
LONG=$(head -c $((MAX + 1)) /dev/zero | tr '\0' x)
printf '%s\n%s\nshort\nexit\n' "$LONG" "$FIT" |
	"$SHMQ" client --key "$K" >"$TMP/cli.out" 2>"$TMP/cli.err"
CLI_STATUS=$?
wait_exit "$SRV" 5000
[ "$STATUS" -eq 0 ] || fail "server exit status $STATUS"
[ "$CLI_STATUS" -ne 0 ] || fail "client accepted a line longer than $MAX bytes"
[ -s "$TMP/cli.err" ] || fail "no error for a line longer than $MAX bytes"
grep -q '^Server received: x' "$TMP/srv.out" && fail "an over-long line was sent (truncated?)"
in_order "$TMP/srv.out" "Server received: $FIT" 'Server received: short' \
	'Server received: exit'
gone "$K"
note "a line of $((MAX + 1)) bytes (max $MAX) is refused with an error; $MAX bytes pass"

if [ "$SOFT_FAILS" -ne 0 ]; then
	echo "FAIL: $SOFT_FAILS check(s) above" >&2
	exit 1
fi
echo "cli_tutorial: PASS"
