# SPDX-License-Identifier: MIT
"""Shutdown drains, context managers close, nothing is left behind."""
import gc
import os
import signal
import subprocess
import sys
import zlib

import pytest

import shmq
from conftest import env


def test_shutdown_drains_everything_sent_before(ep, peer):
    """4 clients send 500 numbered messages each; the server is shut down
    from its SIGTERM handler; each client's flush says the server took
    everything, and the server's count and checksum say the same."""
    p = peer("server", *ep.args())
    clients = [shmq.Client(timeout=5, **ep.kw) for _ in range(4)]
    crcs = []
    try:
        for i, c in enumerate(clients):
            crc = 0
            for n in range(500):
                m = b"%d:%d:" % (i, n) + b"\0" * (n % 7)
                c.send(m, timeout=5)
                crc = zlib.crc32(m, crc)
            crcs.append(crc)
        p.signal(signal.SIGTERM)
        for c in clients:
            c.flush(timeout=10)  # returns once the server has taken it all
        line = p.readline(10)
        _, count, _, per = line.split()
        assert int(count) == 2000
        # Each client's messages all there, in the order sent.
        want = {"%d.%d" % c.client_id: crc for c, crc in zip(clients, crcs)}
        assert dict((k, int(v)) for k, v in (x.split("=") for x in per.split(","))) == want
    finally:
        for c in clients:
            c.close()
    assert p.wait() == 0


def test_shutdown_in_process_order_and_end(ep1):
    with shmq.Server(**ep1.kw) as s:
        with shmq.Client(**ep1.kw) as c:
            for n in range(100):
                c.send(b"%d" % n, timeout=1)
            rid = c.send_request(b"last", timeout=1)
            s.shutdown()
            s.shutdown()  # idempotent
            with pytest.raises(shmq.BrokenPipe):  # as libshmq says: -EPIPE
                c.send(b"too late", timeout=1)
            with pytest.raises(shmq.Shutdown):
                shmq.Client(**ep1.kw)
            got = list(s)  # every message sent before, then the iteration ends
            assert [m.data for m in got[:100]] == [b"%d" % n for n in range(100)]
            assert got[100].data == b"last" and got[100].is_request
            s.reply(got[100], b"answered after shutdown", timeout=1)  # replies still work
            assert c.recv_reply(rid, timeout=1) == (rid, b"answered after shutdown")
            with pytest.raises(shmq.Shutdown):
                s.recv(timeout=1)
            c.flush(timeout=1)


def test_context_managers_close(ep):
    with shmq.Server(**ep.kw) as s:
        with shmq.Client(**ep.kw) as c:
            c.send(b"x", timeout=1)
        assert c.closed
        with pytest.raises(ValueError, match="closed"):
            c.send(b"y", timeout=1)
        c.close()  # idempotent
        assert s.recv(timeout=1).data == b"x"
        assert ep.left() != []  # it exists while open
    assert s.closed
    assert ep.left() == []
    with pytest.raises(ValueError):
        s.recv(timeout=0)


def test_server_close_tells_clients(ep1):
    s = shmq.Server(**ep1.kw)
    with shmq.Client(**ep1.kw) as c:
        s.close()
        with pytest.raises(shmq.BrokenPipe) as e:
            c.request(b"anyone?", timeout=1)
        assert isinstance(e.value, ConnectionError)


def test_garbage_collected_handles_close(ep1):
    s = shmq.Server(**ep1.kw)
    c = shmq.Client(**ep1.kw)
    del c, s
    gc.collect()
    assert ep1.left() == []


def test_exit_without_close_removes_the_endpoint(ep):
    code = ("import shmq, sys; s = shmq.Server(**%r); c = shmq.Client(**%r); "
            "print('up', flush=True)" % (ep.kw, ep.kw))
    r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "up", r.stderr
    assert ep.left() == []


def test_forked_child_leaves_the_parents_endpoint_alone(ep1):
    with shmq.Server(**ep1.kw) as s:
        pid = os.fork()
        if pid == 0:  # the child drops its copy of the handle and exits
            os._exit(0 if s is not None else 1)
        os.waitpid(pid, 0)
        pid = os.fork()
        if pid == 0:  # a child that exits through Python's finalizers
            try:
                del s
                gc.collect()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        with shmq.Client(**ep1.kw) as c:  # still served
            c.send(b"alive", timeout=1)
            assert s.recv(timeout=1).data == b"alive"

