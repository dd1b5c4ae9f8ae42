#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bridge when NATS goes away mid-stream: nats-server is killed (SIGKILL)
# while requests stream through the bridge (one every 0.5 ms at most, 16
# outstanding, and restarted on the same port 0.5 s later.
#
# What is asserted, each direction (export: NATS requester -> bridge ->
# `shmq server`; import: shmq client -> bridge -> NATS responder):
#   - every request has exactly one outcome at the requester: ok (the reply
#     is byte-for-byte its own request) or failed (an error reply, no
#     responders, or no reply before its deadline); no reply is corrupt,
#     none comes twice, none is for a request never made;
#   - the far side (the shmq server's log, the responder's) received each
#     request at most once, and every request answered ok exactly once:
#     nothing delivered twice, nothing answered that was not delivered;
#   - import: the shmq client never had to give up on a request: the bridge
#     answered every one, with its reply or an error reply, before the
#     client's deadline;
#   - failures are confined to the outage: every request answered before
#     the kill is ok, and so is every one of the last 500 (the stream
#     completes). How many fail in between depends on how long the far
#     side takes to resubscribe: requests that come before it are answered
#     "no responders" at once, explicitly; the count is printed;
#   - the bridge counted the loss and the reconnect, accounts for every
#     request it took (requests = replies + error replies [+ unanswered]),
#     and stops with exit 0 on SIGTERM.
# Then NATS goes away for good: both bridges give up after their bounded
# reconnects, exit 1 and print their counters; import answers the requests
# it held with error replies.
# Usage: cli_bridge_restart.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u
. "$(dirname "$0")/bridge/lib.sh"
bridge_init "${1:?usage: cli_bridge_restart.sh path/to/shmq}" cli-bridge-restart
t0=$(now_ms)
N=3000
W=16
RECON=(--reconnect-wait 100 --reconnects 100)

start_nats_free r
PORT=$NATS_PORT
URL=nats://127.0.0.1:$PORT

# SIGKILL, and no "Killed" notice from the shell.
kill_nats() {
	{ kill -9 "$NATS_PID"; wait "$NATS_PID"; } 2>/dev/null
}

# restart_nats_when FILE REGEX-COUNT: once FILE has COUNT lines matching
# REGEX, kill nats-server and start it again on the same port.
restart_nats_when() { # file regex count
	local end=$(($(now_ms) + 10000))
	until [ "$(grep -caE "$2" "$1")" -ge "$3" ]; do
		[ "$(now_ms)" -lt "$end" ] || fail "the stream did not get going"
		sleep 0.01
	done
	kill_nats
	sleep 0.5
	start_nats r "$PORT" || fail "nats-server did not restart on port $PORT"
}

# check_stream TALLY OK-FILE WHAT: failures confined to the outage.
# NATS is killed once the far side has had 1000 requests, so by then at
# least requests 0..999 were sent and, with W outstanding at most, the
# first 1000 - W had their answers: they must all be ok. The last 500,
# sent well after the restart, too: the failures lie in between.
check_stream() {
	local ok failed
	ok=$(tally "$1" ok)
	failed=$(tally "$1" failed)
	[ $((ok + failed)) -eq $N ] || fail "$3: $ok ok + $failed failed != $N"
	[ "$(awk -v to=$((1000 - W)) '$1 < to' "$2" | wc -l)" -eq $((1000 - W)) ] ||
		fail "$3: requests failed before NATS went away"
	[ "$(awk -v from=$((N - 500)) '$1 >= from' "$2" | wc -l)" -eq 500 ] ||
		fail "$3: the last 500 requests did not all succeed"
}

# check_bridge ERR WHAT: reconnected, every request accounted for.
check_bridge() {
	local r
	[ "$(counter "$1" disconnects)" -ge 1 ] && [ "$(counter "$1" reconnects)" -ge 1 ] ||
		fail "$2: no disconnect/reconnect counted: $(grep counters "$1")"
	r=$(($(counter "$1" replies) + $(counter "$1" error_replies) + $(counter0 "$1" unanswered)))
	[ "$(counter "$1" requests)" -eq "$r" ] ||
		fail "$2: requests not all accounted for: $(grep counters "$1")"
}

# ---- export ------------------------------------------------------------------
K=$(test_key 1)
KEYS+=("$K")
"$SHMQ" server --key "$K" >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV=$!
PIDS+=("$SRV")
wait_for "$TMP/srv.out" 'Waiting for client' 5000 "$SRV" || fail "shmq server did not start"
"$BRIDGE" export --key "$K" --subject t.rex --nats "$URL" --timeout 3000 "${RECON[@]}" \
	>"$TMP/ex.out" 2>"$TMP/ex.err" &
EX=$!
PIDS+=("$EX")
wait_for "$TMP/ex.out" 'ready$' 5000 "$EX" || fail "export bridge not ready"
"$NPEER" request --url "$URL" --subject t.rex -n $N --window $W --rate 2000 --timeout 2000 \
	--max-len 1000 --seed 31 --grace 1000 --ok-out "$TMP/ex.ok" >"$TMP/req.out" 2>"$TMP/req.err" &
REQ=$!
PIDS+=("$REQ")
restart_nats_when "$TMP/srv.out" '^Server received: #' 1000
wait_exit "$REQ" 30000
[ "$STATUS" -eq 0 ] || fail "export: corrupt, duplicate or unknown replies: $(cat "$TMP/req.out")"
check_stream "$TMP/req.out" "$TMP/ex.ok" export
server_indices "$TMP/srv.out" >"$TMP/srv.idx"
check_once "$TMP/srv.idx" "$TMP/ex.ok" export
kill -0 "$EX" 2>/dev/null || fail "export bridge died: $(cat "$TMP/ex.err")"
stop "$EX"
[ "$STATUS" -eq 0 ] || fail "export bridge exited $STATUS on SIGTERM"
check_bridge "$TMP/ex.err" export
echo "cli_bridge_restart: export across a NATS restart: $(cat "$TMP/req.out")"

# ---- import ------------------------------------------------------------------
"$NPEER" respond --url "$URL" --subject t.rim >"$TMP/resp.out" 2>"$TMP/resp.err" &
RESP=$!
PIDS+=("$RESP")
wait_for "$TMP/resp.out" '^ready$' 5000 "$RESP" || fail "responder not ready"
NM=$(test_name 1)
NAMES+=("$NM")
"$BRIDGE" import --name "$NM" --subject t.rim --nats "$URL" --timeout 2000 "${RECON[@]}" \
	>"$TMP/im.out" 2>"$TMP/im.err" &
IM=$!
PIDS+=("$IM")
wait_for "$TMP/im.out" 'ready$' 5000 "$IM" || fail "import bridge not ready"
"$SPEER" request --name "$NM" -n $N --window $W --rate 2000 --timeout 6000 --max-len 1000 \
	--seed 41 --ok-out "$TMP/im.ok" >"$TMP/sreq.out" 2>"$TMP/sreq.err" &
SREQ=$!
PIDS+=("$SREQ")
restart_nats_when "$TMP/resp.out" '^req ' 1000
wait_exit "$SREQ" 30000
[ "$STATUS" -eq 0 ] || fail "import: corrupt or unknown replies: $(cat "$TMP/sreq.out")"
[ "$(tally "$TMP/sreq.out" timeout)" -eq 0 ] ||
	fail "import: the client had to give up on requests the bridge never answered: $(cat "$TMP/sreq.out")"
check_stream "$TMP/sreq.out" "$TMP/im.ok" import
awk '$1 == "req" && $2 != "empty" { print $2 }' "$TMP/resp.out" >"$TMP/resp.idx"
check_once "$TMP/resp.idx" "$TMP/im.ok" import
kill -0 "$IM" 2>/dev/null || fail "import bridge died: $(cat "$TMP/im.err")"
stop "$IM"
[ "$STATUS" -eq 0 ] || fail "import bridge exited $STATUS on SIGTERM"
check_bridge "$TMP/im.err" import
echo "cli_bridge_restart: import across a NATS restart: $(cat "$TMP/sreq.out")"

# ---- NATS gone for good ------------------------------------------------------
"$BRIDGE" export --key "$K" --subject t.gone --nats "$URL" --reconnect-wait 100 --reconnects 5 \
	>"$TMP/gex.out" 2>"$TMP/gex.err" &
GEX=$!
PIDS+=("$GEX")
NM2=$(test_name 2)
NAMES+=("$NM2")
"$BRIDGE" import --name "$NM2" --subject t.gone --nats "$URL" --reconnect-wait 200 --reconnects 10 \
	>"$TMP/gim.out" 2>"$TMP/gim.err" &
GIM=$!
PIDS+=("$GIM")
wait_for "$TMP/gex.out" 'ready$' 5000 "$GEX" && wait_for "$TMP/gim.out" 'ready$' 5000 "$GIM" ||
	fail "bridges not ready"
kill_nats
# Requests taken while NATS is away wait in libnats' reconnect buffer; when
# the bridge gives up they are answered with errors.
"$SPEER" request --name "$NM2" -n 20 --window 20 --timeout 10000 --max-len 100 \
	>"$TMP/gone.out" 2>"$TMP/gone.err"
[ "$(tally "$TMP/gone.out" error)" -eq 20 ] || fail "NATS gone: requests not answered with errors: $(cat "$TMP/gone.out")"
# "NATS connection closed" for those that waited for the reconnect, or the
# error libnats gave for a publish just as the connection broke.
grep -q 'shmq-bridge-error: NATS' "$TMP/gone.err" || fail "NATS gone: reason not given: $(cat "$TMP/gone.err")"
wait_exit "$GIM" 10000
[ "$STATUS" -eq 1 ] || fail "NATS gone: import exited $STATUS, not 1"
wait_exit "$GEX" 10000
[ "$STATUS" -eq 1 ] || fail "NATS gone: export exited $STATUS, not 1"
for f in gex gim; do
	grep -q 'reconnect attempts exhausted' "$TMP/$f.err" && grep -q 'counters:' "$TMP/$f.err" ||
		fail "NATS gone: $f did not say why or print its counters: $(cat "$TMP/$f.err")"
done
[ ! -e "/dev/shm/$NM2" ] || fail "NATS gone: import left its endpoint behind"
echo "cli_bridge_restart: NATS gone for good: both bridges exit 1, held requests answered ($(($(now_ms) - t0)) ms)"
exit 0
