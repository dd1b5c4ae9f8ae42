#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI: first check that the chaos checker catches injected faults, then run
# the chaos test (kills, stops and restarts under request/reply load) for
# SHMQ_CHAOS_SECONDS (default 60) seconds. Exit 0 = no violation.
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
SHMQ_CHAOS_SELFTEST=${SHMQ_CHAOS_SELFTEST:-1} exec "$root/scripts/chaos.sh" "${SHMQ_CHAOS_SECONDS:-60}"
