# SPDX-License-Identifier: MIT
# Shared by tests/cli_bridge*.sh: find the programs, start real nats-servers
# on free loopback ports, wait for things with bounds, clean up.
#   . lib.sh; bridge_init path/to/shmq name
# Skips (exit 77) when shmq-bridge, its helpers or nats-server are missing.

bridge_init() { # shmq test-name
	SHMQ=$1
	T=$2
	[ -x "$SHMQ" ] || { echo "FAIL: '$SHMQ' is not an executable" >&2; exit 1; }
	BUILD=$(cd "$(dirname "$SHMQ")" && pwd)
	BRIDGE=$BUILD/shmq-bridge
	NPEER=$BUILD/tests/bridge/bridge_nats_peer
	SPEER=$BUILD/tests/bridge/bridge_shmq_peer
	[ -x "$BRIDGE" ] || { echo "SKIP: shmq-bridge not built (needs libnats-dev)"; exit 77; }
	[ -x "$NPEER" ] && [ -x "$SPEER" ] || { echo "SKIP: bridge test helpers not built"; exit 77; }
	NATS_SERVER=$(command -v nats-server || true)
	for d in /usr/sbin /usr/local/sbin /usr/local/bin; do
		[ -n "$NATS_SERVER" ] || { [ -x "$d/nats-server" ] && NATS_SERVER=$d/nats-server; }
	done
	[ -n "$NATS_SERVER" ] || { echo "SKIP: nats-server not installed (Debian: nats-server)"; exit 77; }
	TMP=$(mktemp -d "/tmp/shmq-$T.XXXXXX") || exit 1
	PIDS=()
	KEYS=()
	NAMES=()
	trap bridge_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# Newest first, so that the bridges stop while NATS and the shmq servers
# they talk to are still there; each gets 3 s, then SIGKILL.
bridge_cleanup() {
	local i p end
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[$i]}
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		end=$(($(now_ms) + 3000))
		while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.02; done
		{ kill -9 "$p" && wait "$p"; } 2>/dev/null
	done
	wait 2>/dev/null
	for k in "${KEYS[@]+"${KEYS[@]}"}"; do "$SHMQ" rm --force --key "$k" >/dev/null 2>&1; done
	for n in "${NAMES[@]+"${NAMES[@]}"}"; do "$SHMQ" rm --force --name "$n" >/dev/null 2>&1; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}

now_ms() { date +%s%3N; }

fail() {
	echo "FAIL: $T: $*" >&2
	local f
	for f in "$TMP"/*.err "$TMP"/*.log; do
		[ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; tail -n 8 "$f" >&2; }
	done
	exit 1
}

# A System V key in the range test.sh checks for leaks (0x5e......), and a
# POSIX name likewise (shmq-test*): n tells a test's endpoints apart.
test_key() { printf '0x5e%04x%02x' $(($$ & 0xffff)) "$1"; }
test_name() { echo "shmq-test-$T-$$-$1"; }

# A loopback port nobody listens on (checked by connecting; a race with
# another process remains, which start_nats answers by trying another).
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# wait_for FILE REGEX MS [PID]: until FILE has a line matching REGEX.
wait_for() {
	local end=$(($(now_ms) + $3))
	until grep -qaE "$2" "$1" 2>/dev/null; do
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || return 1
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# start_nats TAG PORT [args...]: a nats-server on 127.0.0.1:PORT only (no
# monitoring port; a cluster port only if args ask for one, on loopback).
# Sets NATS_PID. Returns 1 if it did not become ready in 5 s.
start_nats() {
	local tag=$1 port=$2
	shift 2
	"$NATS_SERVER" -a 127.0.0.1 -p "$port" "$@" >>"$TMP/nats-$tag.log" 2>&1 &
	NATS_PID=$!
	PIDS+=("$NATS_PID")
	local end=$(($(now_ms) + 5000))
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		grep -q 'Server is ready' "$TMP/nats-$tag.log"; do
		kill -0 "$NATS_PID" 2>/dev/null || return 1
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# start_nats_free TAG [args...]: on a free port, trying a few; sets NATS_PORT.
start_nats_free() {
	local tag=$1 i
	shift
	for i in 1 2 3 4 5; do
		NATS_PORT=$(free_port) || break
		start_nats "$tag" "$NATS_PORT" "$@" && return 0
		kill -9 "$NATS_PID" 2>/dev/null
	done
	fail "nats-server did not start (see nats-$tag.log)"
}

# stop PID [MS]: SIGTERM, wait at most MS (default 10 s); STATUS = its exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" "${2:-10000}"
}

# wait_exit PID [MS]: STATUS = its exit status; fails the test past MS.
wait_exit() {
	local end=$(($(now_ms) + ${2:-20000}))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || fail "process $1 still running after ${2:-20000} ms"
		sleep 0.02
	done
	wait "$1"
	STATUS=$?
}

# counter FILE NAME: the value of NAME=N in the bridge's counters line.
counter() {
	grep -a 'counters:' "$1" | tail -n 1 | grep -oE "(^| |\()$2=[0-9-]+" | cut -d= -f2
}

# counter0 FILE NAME: the same, 0 if that bridge has no such counter.
counter0() {
	local v
	v=$(counter "$@")
	echo "${v:-0}"
}

# tally FILE NAME: NAME=N in a helper's tally line.
tally() {
	grep -a '^requests=' "$1" | tail -n 1 | grep -oE "(^| |\()$2=[0-9]+" | cut -d= -f2
}

# Indices (the payloads' #NNNNNNNN.) of requests `shmq server` printed.
server_indices() {
	grep -aoE '^Server received: #[0-9]{8}\.' "$1" | sed -E 's/.*#0*([0-9]+)\./\1/; s/^$/0/'
}

# check_once SEEN OK WHAT: SEEN (indices delivered, one a line) has no
# index twice, and has every index of OK (requests answered ok) exactly once.
check_once() {
	local dups missing
	dups=$(LC_ALL=C sort "$1" | uniq -d | head -n 5 | tr '\n' ' ')
	[ -z "$dups" ] || fail "$3: delivered twice: $dups"
	missing=$(LC_ALL=C comm -13 <(LC_ALL=C sort -u "$1") <(LC_ALL=C sort "$2") | head -n 5 | tr '\n' ' ')
	[ -z "$missing" ] || fail "$3: answered ok but never delivered: $missing"
}
