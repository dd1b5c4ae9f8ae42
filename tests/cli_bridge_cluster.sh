#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two hosts, simulated: two nats-servers in a cluster (routes between them),
# each on its own loopback ports, and each "host" talking to its own server
# only.
#   1. export on server A (`shmq server` behind it), a NATS requester on
#      server B: 2,000 pipelined requests, every reply byte-exact and exactly
#      once, every request printed by the shmq server exactly once.
#   2. import on server B (a shmq client behind it), a NATS responder on
#      server A: the same, the responder seeing each request exactly once.
#   3. Two export bridges in one queue group, one per server, each with its
#      own shmq server: 1,000 requests, each answered exactly once and
#      delivered to exactly one of the two shmq servers.
# Usage: cli_bridge_cluster.sh path/to/shmq   (exit 0 pass, 1 fail, 77 skip)
set -u
. "$(dirname "$0")/bridge/lib.sh"
bridge_init "${1:?usage: cli_bridge_cluster.sh path/to/shmq}" cli-bridge-cluster
t0=$(now_ms)

# Four distinct free ports: clients and routes of A and B.
ports=()
while [ ${#ports[@]} -lt 4 ]; do
	p=$(free_port) || fail "no free port"
	case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
PA=${ports[0]} CA=${ports[1]} PB=${ports[2]} CB=${ports[3]}
start_nats a "$PA" --cluster_name shmqtest --cluster "nats://127.0.0.1:$CA" \
	--routes "nats://127.0.0.1:$CB" || fail "nats-server A did not start"
start_nats b "$PB" --cluster_name shmqtest --cluster "nats://127.0.0.1:$CB" \
	--routes "nats://127.0.0.1:$CA" || fail "nats-server B did not start"
A=nats://127.0.0.1:$PA
B=nats://127.0.0.1:$PB
# The route: each says so in its log once it is up.
wait_for "$TMP/nats-a.log" 'Route connection created' 5000 && wait_for "$TMP/nats-b.log" 'Route connection created' 5000 ||
	fail "the two nats-servers did not connect"

start_server() { # key tag
	KEYS+=("$1")
	"$SHMQ" server --key "$1" >"$TMP/srv-$2.out" 2>"$TMP/srv-$2.err" &
	PIDS+=($!)
	wait_for "$TMP/srv-$2.out" 'Waiting for client' 5000 $! || fail "shmq server $2 did not start"
}

# ---- 1. export on A, requester on B ------------------------------------------
K1=$(test_key 1)
start_server "$K1" 1
"$BRIDGE" export --key "$K1" --subject t.cex --nats "$A" >"$TMP/ex.out" 2>"$TMP/ex.err" &
EX=$!
PIDS+=("$EX")
wait_for "$TMP/ex.out" 'ready$' 5000 "$EX" || fail "export bridge not ready"
# --probe: until B knows of the subscription on A.
"$NPEER" request --probe --url "$B" --subject t.cex -n 2000 --window 64 --max-len 3000 \
	--empty-every 101 --seed 51 --strict --ok-out "$TMP/ex.ok" >"$TMP/req.out" 2>"$TMP/req.err" ||
	fail "export across the cluster: $(cat "$TMP/req.out")"
server_indices "$TMP/srv-1.out" >"$TMP/srv1.idx"
[ "$(wc -l <"$TMP/srv1.idx")" -eq 1981 ] || fail "export: the server printed $(wc -l <"$TMP/srv1.idx") indexed requests, not 1981"
check_once "$TMP/srv1.idx" "$TMP/ex.ok" "export across the cluster"
echo "cli_bridge_cluster: export on A, requester on B: $(cat "$TMP/req.out")"

# ---- 2. responder on A, import on B ---------------------------------------------
"$NPEER" respond --url "$A" --subject t.cim >"$TMP/resp.out" 2>"$TMP/resp.err" &
RESP=$!
PIDS+=("$RESP")
wait_for "$TMP/resp.out" '^ready$' 5000 "$RESP" || fail "responder not ready"
"$NPEER" request --probe --url "$B" --subject t.cim -n 1 --first 900000 >"$TMP/probe.out" 2>&1 ||
	fail "the responder on A is not reachable from B"
NM=$(test_name 1)
NAMES+=("$NM")
"$BRIDGE" import --name "$NM" --subject t.cim --nats "$B" >"$TMP/im.out" 2>"$TMP/im.err" &
IM=$!
PIDS+=("$IM")
wait_for "$TMP/im.out" 'ready$' 5000 "$IM" || fail "import bridge not ready"
"$SPEER" request --name "$NM" -n 2000 --window 64 --max-len 3000 --empty-every 101 --seed 61 \
	--strict --ok-out "$TMP/im.ok" >"$TMP/sreq.out" 2>"$TMP/sreq.err" ||
	fail "import across the cluster: $(cat "$TMP/sreq.out")"
# (without the probes: empty, and request 900000)
awk '$1 == "req" && $2 ~ /^[0-9]+$/ && $2 < 900000 { print $2 }' "$TMP/resp.out" >"$TMP/resp.idx"
[ "$(wc -l <"$TMP/resp.idx")" -eq 1981 ] || fail "import: the responder saw $(wc -l <"$TMP/resp.idx") indexed requests, not 1981"
check_once "$TMP/resp.idx" "$TMP/im.ok" "import across the cluster"
echo "cli_bridge_cluster: import on B, responder on A: $(cat "$TMP/sreq.out")"

# ---- 3. a queue group across the two servers ------------------------------------
K2=$(test_key 2)
K3=$(test_key 3)
start_server "$K2" 2
start_server "$K3" 3
"$BRIDGE" export --key "$K2" --subject t.cq --queue g --nats "$A" >"$TMP/q2.out" 2>"$TMP/q2.err" &
PIDS+=($!)
"$BRIDGE" export --key "$K3" --subject t.cq --queue g --nats "$B" >"$TMP/q3.out" 2>"$TMP/q3.err" &
PIDS+=($!)
wait_for "$TMP/q2.out" 'ready$' 5000 && wait_for "$TMP/q3.out" 'ready$' 5000 || fail "queue bridges not ready"
"$NPEER" request --probe --url "$A" --subject t.cq -n 1000 --window 32 --max-len 500 --seed 71 \
	--strict --ok-out "$TMP/q.ok" >"$TMP/qreq.out" 2>"$TMP/qreq.err" ||
	fail "queue group: $(cat "$TMP/qreq.out")"
{ server_indices "$TMP/srv-2.out"; server_indices "$TMP/srv-3.out"; } >"$TMP/q.idx"
[ "$(wc -l <"$TMP/q.idx")" -eq 1000 ] || fail "queue group: $(wc -l <"$TMP/q.idx") requests delivered, not 1000"
check_once "$TMP/q.idx" "$TMP/q.ok" "queue group"
echo "cli_bridge_cluster: queue group over two servers: each of 1000 requests to exactly one member" \
	"($(server_indices "$TMP/srv-2.out" | wc -l) + $(server_indices "$TMP/srv-3.out" | wc -l); $(($(now_ms) - t0)) ms)"
exit 0
