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

SHMQ=${1:?usage: cli_owner.sh path/to/shmq}
[ -x "$SHMQ" ] || { echo "FAIL: '$SHMQ' is not an executable" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: not root" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv not found" >&2; exit 77; }
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
"${AS_NOBODY[@]}" "$SHMQ" --version >/dev/null 2>&1 ||
	{ echo "SKIP: nobody cannot run $SHMQ" >&2; exit 77; }
NOBODY_UID=$(id -u nobody)

TMP=$(mktemp -d /tmp/shmq-cli-owner.XXXXXX) || exit 1
K=$(printf '0x%08x' $((0x5a000000 | (($$ & 0xffff) << 4))))
N=shmq-cli-owner-$$
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
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

state_of() { # ENDPOINT-OPTIONS...
	local out
	out=$("$SHMQ" stat "$@" 2>/dev/null) || { echo none; return; }
	awk 'NR == 2 { print $2 }' <<<"$out"
}

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
	end=$(($(now_ms) + 5000))
	while [ "$(state_of "$@")" != live ]; do
		kill -0 "$SRV" 2>/dev/null || fail "$ep: nobody's server exited"
		[ "$(now_ms)" -lt "$end" ] || fail "$ep: nobody's server not live after 5 s"
		sleep 0.02
	done

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
	end=$(($(now_ms) + 5000))
	while kill -0 "$SRV" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || fail "$ep: nobody's server did not stop"
		sleep 0.01
	done
	wait "$SRV" || fail "$ep: nobody's server: exit status $?"
	grep -qxF 'Server received: secret' "$TMP/srv.out" && fail "$ep: the refused line was sent"
	for line in hello again exit; do
		grep -qxF "Server received: $line" "$TMP/srv.out" || fail "$ep: '$line' not received"
	done
	[ "$(state_of "$@")" = none ] || fail "$ep: endpoint left behind"
	echo "cli_owner($1): root's --mode 0660 client refuses nobody's endpoint, uses it with --owner"
done
echo "cli_owner: PASS"
