# SPDX-License-Identifier: MIT
"""Fixtures: unique endpoints per test, peer processes (tests/peer.py), and a
check that nothing is left in /dev/shm or ipcs."""
import itertools
import os
import select
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
sys.path.insert(0, PYDIR)

import shmq  # noqa: E402  (the package of this checkout)

# Unique per test: POSIX names "shmq-test-py-<pid>-<n>" and System V keys
# 0x5e8ppnnn. The C tests use 0x5e0ppppn (tests/harness.h), so the two never
# collide; test.sh's leak check covers both prefixes.
_counter = itertools.count(1)
PREFIX = "shmq-test-py-%d-" % os.getpid()


def new_name():
    return PREFIX + str(next(_counter))


def new_key():
    return 0x5E800000 | ((os.getpid() & 0x7FF) << 12) | (next(_counter) & 0xFFF)


def sysv_keys():
    try:
        out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    keys = set()
    for line in out.splitlines():
        f = line.split()
        if f and f[0].startswith("0x"):
            try:
                keys.add(int(f[0], 16))
            except ValueError:
                pass
    return keys


def leftovers(names=(), keys=()):
    """What of these endpoints is still in /dev/shm or ipcs."""
    shm = set(os.listdir("/dev/shm"))
    left = [n for n in names if n in shm]
    left += ["lock of 0x%x" % k for k in keys if "shmq.sysv.0x%08x.lock" % k in shm]
    live = sysv_keys() if keys else set()
    left += ["ipcs key 0x%x" % k for k in keys if live and k in live]
    return left


class Endpoint:
    """Arguments for Server/Client, with what to check at the end."""

    def __init__(self, sysv):
        self.sysv = sysv
        self.kw = {"key": new_key()} if sysv else {"name": new_name()}

    def args(self):
        return ["--key", str(self.kw["key"])] if self.sysv else ["--name", self.kw["name"]]

    def left(self):
        return leftovers(names=[self.kw.get("name")] if not self.sysv else [],
                         keys=[self.kw["key"]] if self.sysv else [])

    def check_gone(self):
        """Fail if anything of it is left, but remove it first (a stale
        endpoint of a killed peer), so that it does not outlive the test."""
        left = self.left()
        if left:
            try:
                shmq.remove(force=True, **self.kw)
            except shmq.Error:
                pass
        assert left == [], "left behind: %s" % left


@pytest.fixture(params=["posix", "sysv"])
def ep(request):
    """An endpoint address of each backend; fails the test if anything of it
    is left behind."""
    e = Endpoint(request.param == "sysv")
    yield e
    e.check_gone()


@pytest.fixture
def ep1():
    """One endpoint (POSIX), for tests where the backend does not matter."""
    e = Endpoint(False)
    yield e
    e.check_gone()


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = PYDIR + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["SHMQ_LIBRARY"] = shmq.library_path()  # the very library the tests use
    return e


class Peer:
    """A tests/peer.py process; it prints "ready" once it is ready."""

    def __init__(self, *args, ready_timeout=10):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "peer.py")] +
                                     [str(a) for a in args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env())
        line = self.readline(ready_timeout)
        if line != "ready":
            self.stop()
            raise AssertionError("peer %s did not start: %r %s" % (args, line, self.stderr()))

    def readline(self, timeout=10):
        f = self.proc.stdout
        r, _, _ = select.select([f], [], [], timeout)
        if not r:
            return None
        return f.readline().decode().strip()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def stderr(self):
        try:
            return self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
        except Exception:
            return ""

    def stop(self):
        """SIGTERM (the peer shuts down and closes), then SIGKILL if need be."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        return self.proc.returncode


@pytest.fixture
def peer():
    """peer(*args): start a peer; stopped at the end of the test."""
    started = []

    def start(*args, **kw):
        p = Peer(*args, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()

