#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing a client was told it sent is lost when the server stops.
#   1. The session from the 0.2 issue, 50 times: four clients each pipe 2,000
#      lines into `shmq client` and exit 0, then a fifth sends `exit`. Every
#      line of every client must have been printed by the server, in order
#      (0.1 lost 300-900 lines in 3 runs of 6: `exit` overtook them).
#   2. The same with the server stopped (SIGSTOP) until all four have put
#      every line into their rings and the fifth has sent `exit`, 20 times:
#      the order in which the server then finds them is the worst for them.
#   3. The same with `exit` sent while the four still stream, 20 times: a
#      client that exits 0 had every line printed; one that did not, said so
#      on stderr, and what was printed of it is an in-order prefix.
#   4. SIGTERM while clients stream: same rule.
# Usage: cli_shutdown.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"
RUNS=${SHMQ_SHUTDOWN_RUNS:-50}
RACES=${SHMQ_SHUTDOWN_RACES:-20}
STOPPED=${SHMQ_SHUTDOWN_STOPPED:-20}
LINES=2000
NCLI=4

cli_tmp shutdown
K=$(pid_key 0x5f000000 3)
CLEAN_KEYS+=("$K")
FAIL_FILES=('*.err') # not the inputs and outputs of 8,000 lines
FAIL_LINES=5
WAIT_EXIT_MS=20000

for i in $(seq 1 $NCLI); do
	seq -f "c$i-%g" 1 $LINES >"$TMP/in$i"
done

start_server() {
	"$SHMQ" server --key "$K" >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SRV=$!
	PIDS+=("$SRV")
	wait_live "$SRV" --key "$K" || fail "server did not start"
}

start_clients() {
	CLI=()
	for i in $(seq 1 $NCLI); do
		"$SHMQ" client --key "$K" <"$TMP/in$i" >"$TMP/cli$i.out" 2>"$TMP/cli$i.err" &
		CLI+=($!)
		PIDS+=($!)
	done
}

# How many of client i's lines the server printed, checking they are
# c<i>-1, c<i>-2, ... in order with nothing skipped or repeated.
printed_prefix() { # i
	awk -v p="Server received: c$1-" '
		index($0, p) == 1 { n++; if (substr($0, length(p) + 1) != n) { bad = 1; exit } }
		END { if (bad) print "bad"; else print n + 0 }' "$TMP/srv.out"
}

# After a run: clients' status vs what the server printed.
check_run() { # what
	local i n
	for i in $(seq 1 $NCLI); do
		n=$(printed_prefix "$i")
		[ "$n" != bad ] || fail "$1: client $i's lines out of order or repeated"
		if [ "${ST[$i]}" -eq 0 ]; then
			grep -q '^Client exiting\.\.\.$' "$TMP/cli$i.out" || fail "$1: client $i: exit 0 but no goodbye"
			[ "$n" -eq $LINES ] || fail "$1: client $i exited 0 but the server printed $n of its $LINES lines"
			OK=$((OK + 1))
		else
			[ -s "$TMP/cli$i.err" ] || fail "$1: client $i failed (status ${ST[$i]}) without a word on stderr"
			[ "$n" -le $LINES ] || fail "$1: client $i: $n lines printed"
			CUT=$((CUT + 1))
		fi
	done
}

OK=0 CUT=0
t0=$(now_ms)
for run in $(seq 1 "$RUNS"); do
	start_server
	start_clients
	declare -A ST=()
	for i in $(seq 1 $NCLI); do
		wait_exit "${CLI[$((i - 1))]}"
		ST[$i]=$STATUS
		[ "$STATUS" -eq 0 ] || fail "run $run: client $i exited $STATUS with the server running"
	done
	echo exit | "$SHMQ" client --key "$K" >"$TMP/exit.out" 2>"$TMP/exit.err" ||
		fail "run $run: the exit client failed"
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "run $run: server exited $STATUS"
	grep -q '^Server shutting down\.\.\.$' "$TMP/srv.out" || fail "run $run: no 'Server shutting down...'"
	check_run "run $run"
done
echo "cli_shutdown: $RUNS runs of $NCLI x $LINES lines then 'exit': every line printed ($(( $(now_ms) - t0 )) ms)"

# Poll until every client's lines are in its ring: `shmq stat` shows four
# slots with REQ_BYTES 16 * LINES (each line of <= 8 bytes is one 16-byte
# record).
wait_queued() {
	local end=$(($(now_ms) + 10000))
	until "$SHMQ" stat --key "$K" 2>/dev/null |
		awk -v b=$((16 * LINES)) -v n=$NCLI '$1 ~ /^[0-9]+$/ && $7 == b { k++ } END { exit k != n }'; do
		[ "$(now_ms)" -lt "$end" ] || fail "stopped: the clients' lines never all reached their rings"
		sleep 0.01
	done
}

for run in $(seq 1 "$STOPPED"); do
	start_server
	kill -STOP "$SRV"
	start_clients
	wait_queued
	echo exit | "$SHMQ" client --key "$K" >"$TMP/exit.out" 2>"$TMP/exit.err" &
	EXIT=$!
	PIDS+=("$EXIT")
	kill -CONT "$SRV"
	declare -A ST=()
	for i in $(seq 1 $NCLI); do
		wait_exit "${CLI[$((i - 1))]}"
		ST[$i]=$STATUS
		[ "$STATUS" -eq 0 ] || fail "stopped $run: client $i exited $STATUS"
	done
	wait_exit "$EXIT"
	[ "$STATUS" -eq 0 ] || fail "stopped $run: the exit client failed"
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "stopped $run: server exited $STATUS"
	check_run "stopped $run"
done
echo "cli_shutdown: $STOPPED runs with all lines and 'exit' queued before the server ran: every line printed"

OK=0 CUT=0
for run in $(seq 1 "$RACES"); do
	start_server
	start_clients
	# exit overtakes the streams at some point of theirs
	sleep "0.00$((RANDOM % 10))"
	echo exit | "$SHMQ" client --key "$K" >"$TMP/exit.out" 2>"$TMP/exit.err" ||
		fail "race $run: the exit client failed"
	declare -A ST=()
	for i in $(seq 1 $NCLI); do
		wait_exit "${CLI[$((i - 1))]}"
		ST[$i]=$STATUS
	done
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "race $run: server exited $STATUS"
	check_run "race $run"
done
echo "cli_shutdown: $RACES runs with 'exit' racing the streams: $OK clients exited 0 with every line printed, $CUT told they were cut off"

OK=0 CUT=0
for run in 1 2 3 4 5; do
	start_server
	start_clients
	sleep "0.00$((RANDOM % 10))"
	kill -TERM "$SRV"
	declare -A ST=()
	for i in $(seq 1 $NCLI); do
		wait_exit "${CLI[$((i - 1))]}"
		ST[$i]=$STATUS
	done
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "SIGTERM $run: server exited $STATUS"
	grep -q 'removing the endpoint' "$TMP/srv.out" || fail "SIGTERM $run: no goodbye"
	check_run "SIGTERM $run"
done
echo "cli_shutdown: SIGTERM while streaming: $OK clients exited 0 with every line printed, $CUT cut off and said so"
ipcs -m | grep -qi "$K" && fail "segment $K left behind"
exit 0
