#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Whom `shmq client` trusts (issue 12, item 5). `nobody` starts a server
# first on our key (and on our name) with --mode 0660; root's client, also
# asking --mode 0660, used to connect and send it its lines. Now:
#  - without --owner it refuses, sends nothing, and says whose it is and
#    what to add (exit 1, one line);
#  - with --owner nobody (or the numeric uid) it connects and is served;
#  - --owner with an unknown user is a usage error (exit 2).
# Needs root and setpriv (else exit 77).
# Usage: cli_owner.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
# shellcheck disable=SC2015 # "A && B || fail": fail unless both hold
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"
[ "$(id -u)" = 0 ] || { echo "SKIP: not root" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv not found" >&2; exit 77; }
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
"${AS_NOBODY[@]}" "$SHMQ" --version >/dev/null 2>&1 ||
	{ echo "SKIP: nobody cannot run $SHMQ" >&2; exit 77; }
NOBODY_UID=$(id -u nobody)

cli_tmp owner
K=$(pid_key 0x5a000000)
N=shmq-cli-owner-$$
CLEAN_KEYS+=("$K")
CLEAN_NAMES+=("$N")

client() { # INPUT CLIENT-OPTIONS...: STATUS, cli.out, cli.err
	local input=$1
	shift
	printf '%s' "$input" | "$SHMQ" client "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
	STATUS=$?
}

for ep in "--key $K" "--name $N"; do
	# shellcheck disable=SC2086 # $ep is two words on purpose
	set -- $ep
	"${AS_NOBODY[@]}" "$SHMQ" server "$@" --mode 0660 >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SRV=$!
	PIDS+=("$SRV")
	wait_live "$SRV" "$@" || fail "$ep: nobody's server exited"

	client $'secret\n' "$@" --mode 0660
	[ "$STATUS" -eq 1 ] || fail "$ep: root's client used nobody's endpoint (exit $STATUS)"
	[ "$(wc -l <"$TMP/cli.err")" -eq 1 ] || fail "$ep: refusal is not one line"
	grep -q "uid $NOBODY_UID" "$TMP/cli.err" && grep -q -- "--owner $NOBODY_UID" "$TMP/cli.err" ||
		fail "$ep: refusal does not say whose it is and what to add: $(cat "$TMP/cli.err")"
	[ ! -s "$TMP/cli.out" ] || fail "$ep: the refused client printed on stdout"

	client $'hello\n' "$@" --mode 0660 --owner nobody
	[ "$STATUS" -eq 0 ] || fail "$ep: --owner nobody: exit $STATUS: $(cat "$TMP/cli.err")"
	client $'again\n' "$@" --mode 0660 --owner "$NOBODY_UID" --reply --timeout 5000
	[ "$STATUS" -eq 0 ] && grep -qxF 'Server replied: again' "$TMP/cli.out" ||
		fail "$ep: --owner $NOBODY_UID --reply: exit $STATUS: $(cat "$TMP/cli.err")"

	client $'x\n' "$@" --mode 0660 --owner no-such-user-$$
	[ "$STATUS" -eq 2 ] || fail "$ep: --owner with an unknown user: exit $STATUS, want 2"

	client $'exit\n' "$@" --mode 0660 --owner nobody
	wait_exit "$SRV" 5000 "$ep: nobody's server did not stop"
	[ "$STATUS" -eq 0 ] || fail "$ep: nobody's server: exit status $STATUS"
	grep -qxF 'Server received: secret' "$TMP/srv.out" && fail "$ep: the refused line was sent"
	for line in hello again exit; do
		grep -qxF "Server received: $line" "$TMP/srv.out" || fail "$ep: '$line' not received"
	done
	[ "$(state_of "$@")" = none ] || fail "$ep: endpoint left behind"
	echo "cli_owner($1): root's --mode 0660 client refuses nobody's endpoint, uses it with --owner"
done
echo "cli_owner: PASS"
