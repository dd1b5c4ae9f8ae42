#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tool started with standard input, output or error closed (issue 12,
# items 1, 2 and 4), on a System V key and on a POSIX name:
#  - `shmq server >&- 2>&-`: its banner used to overwrite the lock record
#    (System V) or the header (POSIX), and every client then failed with
#    "would block"; now clients connect and are answered;
#  - `shmq client >&-`: its "Client: Connected..." used to land in the lock
#    record or the header, and every later client failed; now they connect;
#  - `shmq client <&-`: it used to read its own lock file (or the segment) as
#    input and send it; now it sends nothing and exits 0.
# Usage: cli_closed_fds.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
# shellcheck disable=SC2015 # "A && B || fail": fail unless both hold
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"

cli_tmp fds
K=$(pid_key 0x5c000000)
N=shmq-cli-fds-$$
CLEAN_KEYS+=("$K")
CLEAN_NAMES+=("$N")

# What went where may be binary (a record, a header): shown as cat -v does.
fail_show() { # FILE
	head -c 2000 "$1" | cat -v | head -n "$FAIL_LINES"
}

# A client that sends LINE as a request and must get it back.
request_ok() { # WHAT LINE ENDPOINT-OPTIONS...
	local what=$1 line=$2
	shift 2
	printf '%s\n' "$line" | "$SHMQ" client --reply --timeout 5000 "$@" \
		>"$TMP/req.out" 2>"$TMP/req.err"
	STATUS=$?
	[ "$STATUS" -eq 0 ] || fail "$what: client exit status $STATUS: $(cat "$TMP/req.err")"
	grep -qxF "Server replied: $line" "$TMP/req.out" || fail "$what: no reply"
}

for ep in "--key $K" "--name $N"; do
	# shellcheck disable=SC2086 # $ep is two words on purpose
	set -- $ep
	f=$(ep_file "$@")

	# Item 1: the server's banner goes nowhere.
	"$SHMQ" server "$@" >&- 2>&- &
	SRV=$!
	PIDS+=("$SRV")
	wait_live "$SRV" "$@" || fail "server $* exited before it was live"
	if grep -qa 'Server' "$f"; then
		fail "$ep: the server's banner is in $f"
	fi
	request_ok "$ep: after 'shmq server >&- 2>&-'" hello "$@"

	# Item 2: a client's greeting goes nowhere either.
	printf 'one\n' | "$SHMQ" client "$@" >&- 2>"$TMP/cli.err"
	STATUS=$?
	[ "$STATUS" -eq 0 ] || fail "$ep: 'shmq client >&-': exit status $STATUS"
	grep -qa 'Client' "$f" && fail "$ep: the client's greeting is in $f"
	request_ok "$ep: after 'shmq client >&-'" again "$@"
	kill -TERM "$SRV"
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "$ep: server exit status $STATUS"
	[ ! -e "$f" ] || fail "$ep: $f left behind"

	# Item 4: a client without standard input sends nothing.
	"$SHMQ" server "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SRV=$!
	PIDS+=("$SRV")
	wait_live "$SRV" "$@" || fail "server $* exited before it was live"
	"$SHMQ" client "$@" <&- >"$TMP/cli.out" 2>"$TMP/cli.err"
	STATUS=$?
	[ "$STATUS" -eq 0 ] || fail "$ep: 'shmq client <&-': exit status $STATUS"
	printf 'exit\n' | "$SHMQ" client "$@" >/dev/null 2>"$TMP/cli.err" ||
		fail "$ep: the client after 'shmq client <&-' failed"
	wait_exit "$SRV"
	[ "$STATUS" -eq 0 ] || fail "$ep: server exit status $STATUS"
	got=$(grep -ac '^Server received: ' "$TMP/srv.out")
	[ "$got" -eq 1 ] && grep -qxF 'Server received: exit' "$TMP/srv.out" ||
		fail "$ep: 'shmq client <&-' sent something ($got messages in all)"
	[ ! -e "$f" ] || fail "$ep: $f left behind"
	echo "cli_closed_fds($1): server >&- 2>&-, client >&- and client <&- leave the endpoint intact"
done
echo "cli_closed_fds: PASS"
