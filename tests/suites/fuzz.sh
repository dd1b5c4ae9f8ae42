#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI: every fuzz target for SHMQ_FUZZ_SECONDS (default 60) seconds.
exec "${1:-.}/scripts/fuzz.sh" "${SHMQ_FUZZ_SECONDS:-60}"
