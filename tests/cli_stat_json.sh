#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq stat --json (issue 12, item 8), read by a real JSON parser (python3),
# and shmq stat with FIFOs planted at endpoint paths (item 3):
#  - the list has our System V and POSIX endpoints with their fields;
#  - --key and --name give the endpoint and its slots in use (the client we
#    hold connected: its pid, alive, its bytes);
#  - an endpoint that is not there: exit 1, one line on stderr, no stdout;
#  - with a FIFO at a key's lock file and at a name (planted by nobody when
#    we are root), every form of shmq stat returns at once (it used to hang
#    for everyone), the list stays valid JSON without them, and asking for
#    them is one line of error.
# Usage: cli_stat_json.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
# shellcheck disable=SC2015 # "A && B || fail": fail unless both hold
set -u

# shellcheck source-path=SCRIPTDIR source=lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh" || exit 1
cli_tool "$@"
command -v python3 >/dev/null || { echo "SKIP: python3 not found" >&2; exit 77; }

cli_tmp json
K=$(pid_key 0x58000000)
KF=$(pid_key 0x58000000 1) # the FIFO's key
KNONE=$(pid_key 0x58000000 2)
N=shmq-cli-json-$$
NF=shmq-cli-json-fifo-$$
FIFO_K=$(ep_file --key "$KF")
FIFO_N=$(ep_file --name "$NF")
CLEAN_FDS+=(3 4) # the clients' input: EOF, then SIGKILL
CLEAN_FILES+=("$FIFO_K" "$FIFO_N")
CLEAN_KEYS+=("$K")
CLEAN_NAMES+=("$N")
FAIL_LINES=40

# Check cmd.out with python3: CHECK is a Python expression over d, the
# parsed document; the other arguments are in a (a list of strings).
json_check() { # WHAT CHECK ARGS...
	local what=$1 check=$2
	shift 2
	python3 - "$TMP/cmd.out" "$check" "$@" >"$TMP/py.err" 2>&1 <<'EOF' ||
import json, sys
path, check, a = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path) as f:
    d = json.load(f)
def ep(key=None, name=None):
    m = [e for e in d["endpoints"]
         if (key is not None and e["key"] == key) or (name is not None and e["name"] == name)]
    assert len(m) == 1, "listed %d times" % len(m)
    return m[0]
if not eval("(" + check.strip() + ")"):
    sys.exit("check failed: " + check + "\n" + json.dumps(d, indent=1)[:3000])
EOF
		fail "$what: $(cat "$TMP/py.err")"
}

# ---- a server and a connected client on a key and on a name -------------------

fd=3
CLI=()
for ep in "--key $K" "--name $N"; do
	# shellcheck disable=SC2086 # $ep is two words on purpose
	set -- $ep
	"$SHMQ" server "$@" --slots 4 --ring-size 4096 >"$TMP/srv$fd.out" 2>&1 &
	PIDS+=($!)
	wait_live $! "$@" || fail "server $* exited"
	mkfifo "$TMP/in$fd"
	"$SHMQ" client "$@" <"$TMP/in$fd" >"$TMP/cli$fd.out" 2>&1 &
	PIDS+=($!)
	CLI[fd]=$!
	eval "exec $fd>\"$TMP/in$fd\""
	echo "hello" >&"$fd"
	fd=$((fd + 1))
done
end=$(($(now_ms) + 5000))
until grep -q 'Server received: hello' "$TMP/srv3.out" && grep -q 'Server received: hello' "$TMP/srv4.out"; do
	[ "$(now_ms)" -lt "$end" ] || fail "the clients' lines did not arrive"
	sleep 0.02
done

run stat --json
[ "$STATUS" -eq 0 ] || fail "stat --json: exit $STATUS"
json_check "stat --json" '
	isinstance(d["endpoints"], list) and d["total"] >= 2 and d["shmq_version"] and
	ep(key=int(a[0], 16))["backend"] == "sysv" and ep(key=int(a[0], 16))["key_hex"] == a[0] and
	ep(key=int(a[0], 16))["name"] is None and ep(key=int(a[0], 16))["live"] is True and
	ep(key=int(a[0], 16))["state"] == "live" and ep(key=int(a[0], 16))["clients"] == 1 and
	ep(key=int(a[0], 16))["slots"] == 4 and ep(key=int(a[0], 16))["ring_size"] == 4096 and
	ep(key=int(a[0], 16))["mode"] == "0600" and ep(key=int(a[0], 16))["size"] > 0 and
	ep(name="/" + a[1])["backend"] == "posix" and ep(name="/" + a[1])["key"] is None and
	ep(name="/" + a[1])["live"] is True and ep(name="/" + a[1])["clients"] == 1' "$K" "$N"

for ep in "--key $K 3" "--name $N 4"; do
	# shellcheck disable=SC2086 # $ep is three words on purpose
	set -- $ep
	cli=${CLI[$3]}
	run stat --json "$1" "$2"
	[ "$STATUS" -eq 0 ] || fail "stat --json $1 $2: exit $STATUS"
	json_check "stat --json $1 $2" '
		d["endpoint"]["live"] is True and d["endpoint"]["clients"] == 1 and
		(d["endpoint"]["key_hex"] == a[1] if a[0] == "--key" else d["endpoint"]["name"] == "/" + a[1]) and
		len(d["slots"]) == 1 and d["slots"][0]["state"] == "connected" and
		d["slots"][0]["alive"] is True and d["slots"][0]["pid"] == int(a[2]) and
		d["slots"][0]["uid"] == int(a[3]) and d["slots"][0]["req_bytes"] > 0 and
		all(isinstance(d["slots"][0][f], int) for f in ("slot", "gen", "req_queued",
		    "rep_bytes", "rep_queued", "msgs_in", "msgs_out"))' "$1" "$2" "$cli" "$(id -u)"
done
echo "cli_stat_json: stat --json lists both endpoints; --key/--name show the endpoint and its client"

run stat --json --key "$KNONE"
[ "$STATUS" -eq 1 ] && [ ! -s "$TMP/cmd.out" ] && [ "$(wc -l <"$TMP/cmd.err")" -eq 1 ] ||
	fail "stat --json of nothing: exit $STATUS, $(wc -c <"$TMP/cmd.out") bytes on stdout"

# ---- FIFOs at endpoint paths: nothing hangs ----------------------------------

plant() { # PATH
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups mkfifo -m 0666 "$1"
	else
		mkfifo -m 0666 "$1"
	fi || fail "mkfifo $1"
}
plant "$FIFO_K"
plant "$FIFO_N"
T0=$(now_ms)
run stat
[ "$STATUS" -eq 0 ] || fail "stat with FIFOs planted: exit $STATUS"
grep -q "^$K " "$TMP/cmd.out" || fail "stat with FIFOs planted lost $K"
grep -qi "^$KF \|$NF" "$TMP/cmd.out" && fail "stat listed a FIFO"
run stat --json
[ "$STATUS" -eq 0 ] || fail "stat --json with FIFOs planted: exit $STATUS"
json_check "stat --json with FIFOs planted" '
	ep(key=int(a[0], 16))["live"] and
	not [e for e in d["endpoints"] if e["key"] == int(a[1], 16) or e["name"] == "/" + a[2]]' \
	"$K" "$KF" "$NF"
for args in "--key $KF" "--name $NF" "--json --key $KF" "--json --name $NF"; do
	# shellcheck disable=SC2086 # word splitting wanted
	run stat $args
	[ "$STATUS" -eq 1 ] && [ ! -s "$TMP/cmd.out" ] && [ "$(wc -l <"$TMP/cmd.err")" -eq 1 ] ||
		fail "stat $args with a FIFO there: exit $STATUS"
done
[ -p "$FIFO_K" ] && [ -p "$FIFO_N" ] || fail "stat touched a FIFO"
echo "cli_stat_json: with FIFOs planted, every form of stat returned ($(($(now_ms) - T0)) ms for six)"
echo "cli_stat_json: PASS"
