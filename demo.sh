#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build shmq and play the tutorial's session: a server on System V key 1234,
# a client that sends a few lines and waits for each reply, then 'exit'.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target shmq_tool >/dev/null
shmq=build/shmq

out=$(mktemp)
trap 'kill $srv 2>/dev/null || true; rm -f "$out"' EXIT
echo "\$ shmq server &"
"$shmq" server >"$out" 2>&1 &
srv=$!
# Wait until the endpoint is up (the server prints its banner when it is).
for _ in $(seq 100); do
	grep -q 'Waiting for client' "$out" && break
	kill -0 $srv 2>/dev/null || { cat "$out"; exit 1; }
	sleep 0.05
done
cat "$out"
echo
echo "\$ printf 'hello\\nshared memory, done right\\nexit\\n' | shmq client --reply"
printf 'hello\nshared memory, done right\nexit\n' | "$shmq" client --reply
wait $srv
echo
echo "--- the server printed:"
cat "$out"
echo
echo "\$ ipcs -m   (nothing left behind)"
ipcs -m | grep -i 0x000004d2 || echo "(no segment for key 1234)"
