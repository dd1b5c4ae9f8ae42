#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq bridge against a real nats-server on a free loopback port.
#   1. `shmq bridge` runs shmq-bridge; without it, one line and exit 127.
#   2. NATS down at start: import exits 1 after its bounded attempts, says
#      so in one line, and leaves no endpoint; export without its shmq
#      server exits 1 likewise.
#   3. export: 2,000 pipelined NATS requests (64 outstanding; random lengths
#      up to 3,000 bytes, a quarter of the bytes NUL, every 101st empty) go
#      through the bridge to `shmq server`, which echoes them. Every reply
#      is byte-exact, to its own request, exactly once; the server printed
#      every request exactly once; then 300 one-way NATS messages reach the
#      server exactly once each, in order.
#   4. import: the same from a shmq client through the bridge to a NATS
#      responder, which saw each request exactly once; 300 one-way shmq
#      messages reach NATS exactly once each, in order.
#   5. Failures are answered, not dropped: no responders on the subject
#      (error reply at once), a responder that never answers (error reply
#      after --timeout), each request answered exactly once.
#      export: a request too large for the endpoint, and requests queued at
#      a shmq server that dies (SIGKILL), get error replies; export exits 1.
#   6. SIGTERM: the bridges exit 0 with their counters; import removes its
#      endpoint; what they had taken is answered first.
# Usage: cli_bridge.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u
. "$(dirname "$0")/bridge/lib.sh"
bridge_init "${1:?usage: cli_bridge.sh path/to/shmq}" cli-bridge
t0=$(now_ms)

# ---- 1. dispatch ------------------------------------------------------------
"$SHMQ" bridge --help >"$TMP/help.out" 2>&1 || fail "shmq bridge --help failed"
grep -q 'usage: shmq bridge export' "$TMP/help.out" || fail "shmq bridge --help: no usage"
mkdir "$TMP/alone" && cp "$SHMQ" "$TMP/alone/shmq"
PATH=/nonexistent "$TMP/alone/shmq" bridge export --key 1 --subject x >"$TMP/alone.out" 2>"$TMP/alone.err"
st=$?
[ $st -eq 127 ] || fail "shmq bridge without shmq-bridge: exit $st, not 127"
[ "$(wc -l <"$TMP/alone.err")" -eq 1 ] && grep -q 'cannot run shmq-bridge' "$TMP/alone.err" ||
	fail "shmq bridge without shmq-bridge: not one clear line: $(cat "$TMP/alone.err")"
echo "cli_bridge: dispatch ok"

# ---- 2. NATS down at start ---------------------------------------------------
DOWN=$(free_port) || fail "no free port"
N0=$(test_name 0)
NAMES+=("$N0")
s=$(now_ms)
"$BRIDGE" import --name "$N0" --subject x --nats "nats://127.0.0.1:$DOWN" --connect-tries 3 \
	--connect-wait 100 >"$TMP/down.out" 2>"$TMP/down.err"
st=$?
[ $st -eq 1 ] || fail "NATS down: import exited $st, not 1"
[ $(($(now_ms) - s)) -lt 8000 ] || fail "NATS down: took $(($(now_ms) - s)) ms"
grep -q "cannot connect to NATS at nats://127.0.0.1:$DOWN.*3 attempts" "$TMP/down.err" ||
	fail "NATS down: unclear error: $(cat "$TMP/down.err")"
[ ! -e "/dev/shm/$N0" ] || fail "NATS down: endpoint $N0 left behind"
K0=$(test_key 0)
"$BRIDGE" export --key "$K0" --subject x --nats "nats://127.0.0.1:$DOWN" >"$TMP/noshmq.out" 2>"$TMP/noshmq.err"
st=$?
[ $st -eq 1 ] && grep -q 'cannot connect to the shmq server' "$TMP/noshmq.err" ||
	fail "export without a shmq server: exit $st: $(cat "$TMP/noshmq.err")"
echo "cli_bridge: NATS down at start: exit 1 after 3 attempts, one line"

start_nats_free a
URL=nats://127.0.0.1:$NATS_PORT

# ---- 3. export ---------------------------------------------------------------
K=$(test_key 1)
KEYS+=("$K")
"$SHMQ" server --key "$K" >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV=$!
PIDS+=("$SRV")
wait_for "$TMP/srv.out" 'Waiting for client' 5000 "$SRV" || fail "shmq server did not start"
# Through `shmq bridge`, so the exec'd bridge is what gets the signal later.
"$SHMQ" bridge export --key "$K" --subject t.export --nats "$URL" >"$TMP/ex.out" 2>"$TMP/ex.err" &
EX=$!
PIDS+=("$EX")
wait_for "$TMP/ex.out" 'ready$' 5000 "$EX" || fail "export bridge not ready"

"$NPEER" request --url "$URL" --subject t.export -n 2000 --window 64 --max-len 3000 \
	--empty-every 101 --seed 11 --strict --ok-out "$TMP/ex.ok" >"$TMP/req.out" 2>"$TMP/req.err" ||
	fail "export: requester failed: $(cat "$TMP/req.out")"
[ "$(tally "$TMP/req.out" ok)" = 2000 ] || fail "export: $(cat "$TMP/req.out")"
"$NPEER" publish --url "$URL" --subject t.export -n 300 --first 100000 --max-len 500 --seed 12 \
	>"$TMP/pub.out" 2>"$TMP/pub.err" || fail "export: publisher failed"
wait_for "$TMP/srv.out" '^Server received: #00100299\.' 5000 || fail "export: one-way messages did not all arrive"
server_indices "$TMP/srv.out" >"$TMP/srv.idx"
awk '$1 < 100000' "$TMP/srv.idx" >"$TMP/srv.req"
# 2000 requests, of which 19 empty (i % 101 == 100): 1981 with an index.
[ "$(wc -l <"$TMP/srv.req")" -eq 1981 ] || fail "export: the server printed $(wc -l <"$TMP/srv.req") indexed requests, not 1981"
check_once "$TMP/srv.req" "$TMP/ex.ok" "export"
awk '$1 >= 100000' "$TMP/srv.idx" >"$TMP/srv.ow"
# one-way: 100000..100299 (none empty), in order, once each
seq 100000 100299 >"$TMP/ow.want"
cmp -s "$TMP/srv.ow" "$TMP/ow.want" || fail "export: one-way messages not exactly once in order"
echo "cli_bridge: export: 2000 requests exact and exactly once, 300 one-way in order"

# ---- 4. import ---------------------------------------------------------------
"$NPEER" respond --url "$URL" --subject t.import >"$TMP/resp.out" 2>"$TMP/resp.err" &
RESP=$!
PIDS+=("$RESP")
wait_for "$TMP/resp.out" '^ready$' 5000 "$RESP" || fail "responder not ready"
N=$(test_name 1)
NAMES+=("$N")
"$BRIDGE" import --name "$N" --subject t.import --nats "$URL" >"$TMP/im.out" 2>"$TMP/im.err" &
IM=$!
PIDS+=("$IM")
wait_for "$TMP/im.out" 'ready$' 5000 "$IM" || fail "import bridge not ready"
"$SPEER" request --name "$N" -n 2000 --window 64 --max-len 3000 --empty-every 101 --seed 21 \
	--strict --ok-out "$TMP/im.ok" >"$TMP/sreq.out" 2>"$TMP/sreq.err" ||
	fail "import: shmq requester failed: $(cat "$TMP/sreq.out")"
[ "$(tally "$TMP/sreq.out" ok)" = 2000 ] || fail "import: $(cat "$TMP/sreq.out")"
"$SPEER" send --name "$N" -n 300 --first 100000 --max-len 500 --seed 22 >"$TMP/ssend.out" 2>"$TMP/ssend.err" ||
	fail "import: one-way sender failed"
wait_for "$TMP/resp.out" '^oneway 100299$' 5000 || fail "import: one-way messages did not all arrive"
awk '$1 == "req" && $2 != "empty" { print $2 }' "$TMP/resp.out" >"$TMP/resp.req"
[ "$(wc -l <"$TMP/resp.req")" -eq 1981 ] || fail "import: the responder saw $(wc -l <"$TMP/resp.req") indexed requests, not 1981"
check_once "$TMP/resp.req" "$TMP/im.ok" "import"
awk '$1 == "oneway" && $2 != "empty" { print $2 }' "$TMP/resp.out" >"$TMP/resp.ow"
cmp -s "$TMP/resp.ow" "$TMP/ow.want" || fail "import: one-way messages not exactly once in order"
echo "cli_bridge: import: 2000 requests exact and exactly once, 300 one-way in order"

# ---- 5. failures answered ----------------------------------------------------
N2=$(test_name 2)
NAMES+=("$N2")
"$BRIDGE" import --name "$N2" --subject t.nobody --nats "$URL" --timeout 500 >"$TMP/im2.out" 2>"$TMP/im2.err" &
IM2=$!
PIDS+=("$IM2")
wait_for "$TMP/im2.out" 'ready$' 5000 "$IM2" || fail "second import bridge not ready"
s=$(now_ms)
"$SPEER" request --name "$N2" -n 50 --window 16 --max-len 100 >"$TMP/nr.out" 2>"$TMP/nr.err" ||
	fail "no responders: $(cat "$TMP/nr.out")"
[ "$(tally "$TMP/nr.out" error)" = 50 ] || fail "no responders: not 50 error replies: $(cat "$TMP/nr.out")"
grep -q 'no responders' "$TMP/nr.err" || fail "no responders: reason not given: $(cat "$TMP/nr.err")"
[ $(($(now_ms) - s)) -lt 400 ] || fail "no responders: $(($(now_ms) - s)) ms, slower than the timeout"
"$NPEER" respond --silent --url "$URL" --subject t.nobody >"$TMP/silent.out" 2>"$TMP/silent.err" &
SIL=$!
PIDS+=("$SIL")
wait_for "$TMP/silent.out" '^ready$' 5000 "$SIL" || fail "silent responder not ready"
"$SPEER" request --name "$N2" -n 50 --window 16 --max-len 100 >"$TMP/to.out" 2>"$TMP/to.err" ||
	fail "timeout: $(cat "$TMP/to.out")"
[ "$(tally "$TMP/to.out" error)" = 50 ] || fail "timeout: not 50 error replies: $(cat "$TMP/to.out")"
grep -q 'no reply from NATS subject .t.nobody. in 500 ms' "$TMP/to.err" || fail "timeout: reason not given"
# Requests still outstanding when SIGTERM comes are answered before exit.
"$SPEER" request --name "$N2" -n 10 --window 10 --max-len 100 --first 5000 >"$TMP/term.out" 2>"$TMP/term.err" &
TC=$!
PIDS+=("$TC")
wait_for "$TMP/silent.out" '^req 5009$' 5000 || fail "SIGTERM: requests did not reach the responder"
stop "$IM2"
[ "$STATUS" -eq 0 ] || fail "import bridge exited $STATUS on SIGTERM"
wait_exit "$TC" 5000
[ "$(tally "$TMP/term.out" error)" = 10 ] || fail "SIGTERM: outstanding requests not answered: $(cat "$TMP/term.out")"
[ "$(counter "$TMP/im2.err" timeout)" = 60 ] || fail "import counters: $(grep counters "$TMP/im2.err")"
[ "$(counter "$TMP/im2.err" no_responders)" = 50 ] || fail "import counters: $(grep counters "$TMP/im2.err")"
echo "cli_bridge: no responders and timeouts answered with error replies, also at SIGTERM"

# export: too large for the endpoint, and the shmq server dying under it.
K2=$(test_key 2)
KEYS+=("$K2")
"$SHMQ" server --key "$K2" --ring-size 4096 --quiet >"$TMP/srv2.out" 2>"$TMP/srv2.err" &
SRV2=$!
PIDS+=("$SRV2")
wait_for "$TMP/srv2.out" 'Waiting for client' 5000 "$SRV2" || fail "second shmq server did not start"
"$BRIDGE" export --key "$K2" --subject t.small --nats "$URL" >"$TMP/ex2.out" 2>"$TMP/ex2.err" &
EX2=$!
PIDS+=("$EX2")
wait_for "$TMP/ex2.out" 'ready$' 5000 "$EX2" || fail "second export bridge not ready"
"$NPEER" request --url "$URL" --subject t.small -n 200 --window 8 --max-len 4000 --seed 13 \
	>"$TMP/big.out" 2>"$TMP/big.err" || fail "too large: $(cat "$TMP/big.out")"
[ "$(tally "$TMP/big.out" ok)" -gt 0 ] && [ "$(tally "$TMP/big.out" error)" -gt 0 ] &&
	[ $(($(tally "$TMP/big.out" ok) + $(tally "$TMP/big.out" error))) -eq 200 ] ||
	fail "too large: not some ok and the rest error replies: $(cat "$TMP/big.out")"
grep -q 'too large for the shmq endpoint' "$TMP/big.err" || fail "too large: reason not given"
kill -STOP "$SRV2"
"$NPEER" request --url "$URL" --subject t.small -n 10 --window 10 --max-len 100 --timeout 5000 \
	>"$TMP/gone.out" 2>"$TMP/gone.err" &
GR=$!
PIDS+=("$GR")
sleep 0.3 # the ten reach the stopped server's ring
{ kill -9 "$SRV2"; wait "$SRV2"; } 2>/dev/null
wait_exit "$GR" 8000
[ "$(tally "$TMP/gone.out" error)" = 10 ] || fail "server gone: not 10 error replies: $(cat "$TMP/gone.out")"
grep -q 'shmq endpoint gone' "$TMP/gone.err" || fail "server gone: reason not given: $(cat "$TMP/gone.err")"
wait_exit "$EX2" 5000
[ "$STATUS" -eq 1 ] || fail "server gone: export exited $STATUS, not 1"
grep -q 'counters:' "$TMP/ex2.err" || fail "server gone: no counters"
"$SHMQ" rm --force --key "$K2" >/dev/null 2>&1
echo "cli_bridge: export: too large and server gone answered with error replies; exit 1"

# ---- 6. SIGTERM ----------------------------------------------------------------
stop "$IM"
[ "$STATUS" -eq 0 ] || fail "import bridge exited $STATUS on SIGTERM"
[ "$(counter "$TMP/im.err" requests)" = 2000 ] && [ "$(counter "$TMP/im.err" replies)" = 2000 ] &&
	[ "$(counter "$TMP/im.err" oneway)" = 300 ] && [ "$(counter "$TMP/im.err" error_replies)" = 0 ] ||
	fail "import counters: $(grep counters "$TMP/im.err")"
[ ! -e "/dev/shm/$N" ] || fail "import left its endpoint behind"
stop "$EX"
[ "$STATUS" -eq 0 ] || fail "export bridge exited $STATUS on SIGTERM"
[ "$(counter "$TMP/ex.err" requests)" = 2000 ] && [ "$(counter "$TMP/ex.err" replies)" = 2000 ] &&
	[ "$(counter "$TMP/ex.err" oneway)" = 300 ] && [ "$(counter "$TMP/ex.err" error_replies)" = 0 ] ||
	fail "export counters: $(grep counters "$TMP/ex.err")"
echo "cli_bridge: SIGTERM: exit 0, counters right, endpoint removed ($(($(now_ms) - t0)) ms)"
exit 0
