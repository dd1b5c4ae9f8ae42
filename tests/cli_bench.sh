#!/bin/bash
# SPDX-License-Identifier: MIT
# shmq bench as CI runs it: `shmq bench --quick` must run every transport and
# verify its messages; --json must parse; bad options exit 2 with one line;
# a deliberately broken stream must fail the run. Usage: cli_bench.sh TOOL
set -u
tool=${1:?usage: cli_bench.sh path/to/shmq}
tmp=$(mktemp -d /tmp/cli_bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Run the bench in the background so its pid names what it creates
# (shmqb-<pid>-<n> under /dev/shm and /tmp), then check nothing is left.
run_bench() { # out err args...
	local out=$1 err=$2
	shift 2
	timeout 120 "$tool" bench "$@" >"$out" 2>"$err" &
	local pid=$!
	wait $pid
	local rc=$?
	if ls /dev/shm /tmp 2>/dev/null | grep -q "^shmqb-$pid-"; then
		fail "bench $* left files behind: $(ls /dev/shm /tmp | grep "^shmqb-$pid-")"
	fi
	return $rc
}

# ---- help, list, bad options ----------------------------------------------
"$tool" bench --help >"$tmp/help" || fail "--help exited $?"
grep -q -- "--quick" "$tmp/help" || fail "--help does not document --quick"
"$tool" bench --list >"$tmp/list" || fail "--list exited $?"
[ "$(wc -l <"$tmp/list")" -ge 15 ] || fail "--list shows too few transports"

for bad in "--bogus" "--sizes 4" "--sizes 64,x" "--transports nope" "--clients 999" \
	"--time 0" "--cpus 1" "--fault maybe" "extra" "--time"; do
	# shellcheck disable=SC2086
	"$tool" bench $bad >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "'bench $bad' exited $rc, expected 2"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "'bench $bad' printed not one line on stderr: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "'bench $bad' printed on stdout"
done

# ---- shmq bench without shmq-bench ------------------------------------------
# The benchmark is a program of its own; a shmq that cannot find it says so in
# one line and exits 1. (A copy of the tool alone in a directory, with a PATH
# that has no shmq-bench; an installed one in the configured libexec would
# still be found, and then there is nothing to check.)
mkdir "$tmp/alone" && cp "$tool" "$tmp/alone/shmq"
PATH=/usr/bin:/bin "$tmp/alone/shmq" bench --list >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then
	echo "an installed shmq-bench was found: its absence not checked"
else
	[ $rc -eq 1 ] || fail "bench without shmq-bench exited $rc, expected 1"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "shmq-bench not found" "$tmp/err" ||
		fail "bench without shmq-bench: not one clear line: $(cat "$tmp/err")"
fi

# ---- the smoke test: every transport runs and verifies ---------------------
start=$(date +%s)
run_bench "$tmp/quick" "$tmp/quick.err" --quick
rc=$?
elapsed=$(($(date +%s) - start))
[ $rc -eq 0 ] || { cat "$tmp/quick" "$tmp/quick.err" >&2; fail "bench --quick exited $rc"; }
echo "bench --quick took ${elapsed} s"

# The verification section: one line per transport, "ok:" for every built
# one; only transports not built in (zmq, nng without their libraries) may
# say "skipped:".
sed -n '/^== Verification/,$p' "$tmp/quick" >"$tmp/verif"
while read -r name mode _family rest; do
	line=$(grep -E "^$name $mode +" "$tmp/verif") || fail "transport $name $mode missing from the verification section"
	case "$rest" in
	*"not built"*)
		echo "$line" | grep -q -E "skipped: not built|ok:" || fail "unexpected status: $line" ;;
	*)
		echo "$line" | grep -q " ok: " || fail "not verified: $line" ;;
	esac
	case "$name" in
	ref-*) ;;
	*) echo "$line" | grep -q -E " [1-9][0-9]* messages verified" ||
		echo "$line" | grep -q "skipped: not built" || fail "no messages verified: $line" ;;
	esac
done <"$tmp/list"
grep -q "^== Verdict" "$tmp/quick" || fail "no verdict"
grep -q "FIFO" "$tmp/quick" || fail "the verdict does not rank FIFO"
grep -q "^Round trip" "$tmp/quick" || fail "no latency table"
grep -q "^One-way stream" "$tmp/quick" || fail "no throughput table"
grep -q "Many clients" "$tmp/quick" || fail "no many-clients table"

# ---- JSON ------------------------------------------------------------------
run_bench "$tmp/json" "$tmp/json.err" --quick --json --transports shmq,pipe,fifo,ref-cacheline \
	--clients 2 || fail "bench --quick --json exited $?"
if command -v python3 >/dev/null; then
	python3 - "$tmp/json" <<'EOF' || fail "bench --json output is not what the schema says"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "shmq-bench/1", d["schema"]
assert d["ok"] is True
for k in ("cpu", "ncpu", "kernel", "virt"):
    assert k in d["machine"], k
recs = d["records"]
assert recs, "no records"
for r in recs:
    assert set(r) == {"transport", "mode", "family", "size", "clients", "metric", "value", "unit"}, r
    assert isinstance(r["value"], (int, float))
def get(t, m, size, metric, clients=1):
    v = [r["value"] for r in recs if r["transport"] == t and r["mode"] == m and
         r["size"] == size and r["metric"] == metric and r["clients"] == clients]
    assert len(v) == 1, (t, m, size, metric, v)
    return v[0]
for t, m in (("shmq", "busy"), ("shmq", "block"), ("pipe", "copy"), ("fifo", "copy")):
    for size in d["config"]["sizes"]:
        assert 0 < get(t, m, size, "rtt_min") <= get(t, m, size, "rtt_p50") <= \
            get(t, m, size, "rtt_p99") <= get(t, m, size, "rtt_max"), (t, m, size)
        assert get(t, m, size, "msgs_per_s") > 0
        assert get(t, m, size, "verified") > 0
assert get("shmq", "block", 64, "msgs_per_s", clients=2) > 0
assert get("ref-cacheline", "busy", 64, "rtt_p50") > 0
assert all(c["status"] in ("ok", "skipped", "failed") for c in d["cases"])
assert d["verdict"], "no verdict lines"
EOF
else
	echo "python3 not found: JSON not parsed"
fi

# ---- CSV -------------------------------------------------------------------
run_bench "$tmp/csv" "$tmp/csv.err" --quick --csv --transports pipe --clients 0 ||
	fail "bench --csv exited $?"
head -1 "$tmp/csv" | grep -q "^transport,mode,family,size,clients,status,rtt_min_ns" ||
	fail "bad CSV header"
[ "$(grep -c '^pipe,copy,fifo,' "$tmp/csv")" -eq 2 ] || fail "CSV rows missing"
plot="$(dirname "$0")/../tools/bench/plot.gnuplot"
if command -v gnuplot >/dev/null && [ -f "$plot" ]; then
	gnuplot -e "csv='$tmp/csv'; outdir='$tmp'" "$plot" 2>"$tmp/plot.err" ||
		fail "plot.gnuplot failed: $(cat "$tmp/plot.err")"
	for png in bench-latency.png bench-throughput.png; do
		[ -s "$tmp/$png" ] || fail "plot.gnuplot did not draw $png"
	done
else
	echo "gnuplot not found: plots not drawn"
fi

# ---- the checks catch a broken stream --------------------------------------
for f in drop dup reorder corrupt; do
	run_bench "$tmp/fault" "$tmp/fault.err" --quick --transports shmq/busy,pipe --clients 0 \
		--fault $f
	rc=$?
	[ $rc -eq 1 ] || fail "--fault $f: exited $rc, expected 1"
	grep -q "VERIFY" "$tmp/fault.err" || fail "--fault $f: no VERIFY error: $(cat "$tmp/fault.err")"
	grep -q "FAILED" "$tmp/fault" || fail "--fault $f: the table does not say FAILED"
done
echo "ok"
