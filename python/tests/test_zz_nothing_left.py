# SPDX-License-Identifier: MIT
"""Runs last (pytest takes a directory's files in name order): nothing any
test made is left in /dev/shm or ipcs."""
import os

from conftest import sysv_keys


def test_nothing_left_by_this_session():
    """Every endpoint the tests made is gone (names shmq-test-py-<pid>-*,
    keys 0x5e8<pid>...)."""
    pid = os.getpid()
    mine = [f for f in os.listdir("/dev/shm") if f.startswith("shmq-test-py-%d-" % pid)]
    base = 0x5E800000 | ((pid & 0x7FF) << 12)
    keys = sysv_keys() or set()
    mine += ["0x%x" % k for k in keys if k & ~0xFFF == base]
    mine += [f for f in os.listdir("/dev/shm")
             if f.startswith("shmq.sysv.0x%05x" % (base >> 12))]
    assert mine == []
