# SPDX-License-Identifier: MIT
"""Messages through an echo server in another process: bytes exact, sizes,
pipelining, pushes, errors mapped to exceptions."""
import array
import ctypes
import errno
import os
import re
import signal
import time

import pytest

import shmq
from shmq import _lib
from conftest import PYDIR, new_name


def test_abi_sizes_match_the_c_library():
    # The sizes tests/test_version.c checks on the C side (64-bit).
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip("sizes checked for 64-bit only")
    assert ctypes.sizeof(_lib.shmq_config) == 104
    assert ctypes.sizeof(_lib.shmq_msg) == 56
    assert ctypes.sizeof(_lib.shmq_client_info) == 80
    assert ctypes.sizeof(_lib.shmq_client_stats) == 64


def test_version_matches_the_header():
    h = os.path.join(os.path.dirname(PYDIR), "include", "shmq.h")
    if not os.path.exists(h):
        pytest.skip("not in a checkout")
    text = open(h).read()
    v = [re.search(r"#define SHMQ_VERSION_%s (\d+)" % p, text).group(1)
         for p in ("MAJOR", "MINOR", "PATCH")]
    assert shmq.version() == ".".join(v)
    assert shmq.__version__ == shmq.version()


def test_bytes_exact(ep, peer):
    peer("server", *ep.args())
    cases = [b"", b"\0", b"\0\0\0", b"a\0b", bytes(range(256)), os.urandom(1000),
             b"\xff" * 7, b"x" * 9]
    with shmq.Client(timeout=5, **ep.kw) as c:
        for data in cases:
            assert c.request(data, timeout=5) == data
        # the empty reply is b"", not None
        assert c.request(b"", timeout=5) == b""


def test_one_way_messages_counted_exactly(ep1, peer):
    import zlib
    p = peer("server", *ep1.args())
    msgs = [b"", b"\0", b"hello", b"", bytes(range(256)) * 3]
    with shmq.Client(timeout=5, **ep1.kw) as c:
        for m in msgs:
            c.send(m, timeout=5)
        c.flush(timeout=5)
        p.signal(signal.SIGTERM)
        crc = 0
        for m in msgs:
            crc = zlib.crc32(m, crc)
        cid = c.client_id
        assert p.readline(10) == "received %d %d %d.%d=%d" % (len(msgs), crc, cid.slot, cid.gen,
                                                             crc)
        assert p.wait() == 0


def test_bytes_like_inputs(ep1, peer):
    peer("server", *ep1.args())
    with shmq.Client(timeout=5, **ep1.kw) as c:
        assert c.request(bytearray(b"ba\0"), timeout=5) == b"ba\0"
        assert c.request(memoryview(b"xmvx")[1:3], timeout=5) == b"mv"
        a = array.array("i", [1, 2, 3])
        assert c.request(a, timeout=5) == a.tobytes()
        assert c.request(memoryview(bytearray(b"abcdef"))[::2], timeout=5) == b"ace"
        with pytest.raises(TypeError):
            c.request("text", timeout=5)


@pytest.mark.parametrize("ring", [65536, 1 << 20])
def test_largest_message_and_one_more(ring, peer):
    name = new_name()
    peer("server", "--name", name, "--ring-size", ring)
    with shmq.Client(name=name, timeout=5) as c:
        top = c.max_msg
        assert top == ring // 2 - 24
        big = os.urandom(top)
        assert c.request(big, timeout=5) == big  # grows the receive buffer
        with pytest.raises(shmq.MessageTooLarge) as e:
            c.request(big + b"x", timeout=5)
        assert e.value.errno == errno.EMSGSIZE
        with pytest.raises(shmq.MessageTooLarge):
            c.send(big + b"x", timeout=5)
        assert c.request(b"after", timeout=5) == b"after"  # nothing was sent
        assert c.stats().inflight == 0


def test_timeouts_raise_mapped_exceptions(ep1):
    with shmq.Server(**ep1.kw) as s, shmq.Client(**ep1.kw) as c:
        t = time.monotonic()
        with pytest.raises(shmq.Timeout) as e:
            s.recv(timeout=0.1)
        dt = time.monotonic() - t
        assert 0.09 <= dt < 0.5, dt
        assert isinstance(e.value, TimeoutError) and isinstance(e.value, shmq.Error)
        assert e.value.errno == errno.ETIMEDOUT
        assert e.value.strerror == "timed out"
        assert "timed out" in str(e.value)

        with pytest.raises(shmq.WouldBlock) as e:
            s.recv(timeout=0)
        assert isinstance(e.value, BlockingIOError) and e.value.errno == errno.EAGAIN
        with pytest.raises(BlockingIOError):
            c.recv(timeout=0)
        with pytest.raises(TimeoutError):
            c.recv(timeout=0.05)
        with pytest.raises(TimeoutError):
            c.recv_reply(timeout=0.05) if c.stats().inflight else s.recv_view(timeout=0.05)
        with pytest.raises(shmq.NotFound):
            c.recv_reply(timeout=0.05)  # nothing outstanding
        with pytest.raises(ValueError):
            s.recv(timeout=-1)


def test_inprogress_on_a_slow_server(ep, peer):
    peer("server", *ep.args())
    with shmq.Client(timeout=5, **ep.kw) as c:
        t = time.monotonic()
        with pytest.raises(shmq.InProgress) as e:
            c.request(b"sleep:0.4:late", timeout=0.1)
        dt = time.monotonic() - t
        assert 0.09 <= dt < 0.35, dt
        assert e.value.errno == errno.EINPROGRESS
        assert isinstance(e.value, TimeoutError)  # sent, but answered too late
        assert c.stats().inflight == 0  # abandoned
        # The late reply never answers the next request.
        assert c.request(b"next", timeout=5) == b"next"
        assert c.stats().late_replies == 1


def test_request_timeout_covers_a_full_ring(ep1, peer):
    peer("server", *ep1.args())
    with shmq.Client(timeout=5, **ep1.kw) as c:
        first = c.send_request(b"sleep:0.6:", timeout=5)  # the server sleeps
        time.sleep(0.1)
        n = 0
        while True:  # fill the request ring while it does
            try:
                c.send(b"x" * 1000, timeout=0)
                n += 1
            except shmq.WouldBlock:
                break
        while True:  # to the last byte
            try:
                c.send(b"", timeout=0)
            except shmq.WouldBlock:
                break
        assert n > 10
        t = time.monotonic()
        with pytest.raises(shmq.Timeout) as e:
            c.request(b"never sent" * 10, timeout=0.15)
        dt = time.monotonic() - t
        assert not isinstance(e.value, shmq.InProgress)  # nothing was sent
        assert 0.14 <= dt < 0.4, dt
        assert c.recv_reply(first, timeout=5) == (first, b"")
        assert c.request(b"ok", timeout=5) == b"ok"


def test_pipelined_requests_answered_out_of_order(ep, peer):
    peer("server", *ep.args())
    n = 64
    with shmq.Client(timeout=5, **ep.kw) as c:
        ids = [c.send_request(b"rev:%d:%d" % (n, i), timeout=5) for i in range(n)]
        assert len(set(ids)) == n
        got = [c.recv_reply(shmq.ANY, timeout=5) for _ in range(n)]
        assert [i for i, _ in got] == ids[::-1]  # the last first
        for i, (rid, data) in enumerate(reversed(got)):
            assert rid == ids[i] and data == b"rev:%d:%d" % (n, i)
        # Asked for by id, in request order, though answered in reverse.
        ids = [c.send_request(b"rev:4:%d" % i, timeout=5) for i in range(4)]
        for i, rid in enumerate(ids):
            assert c.recv_reply(rid, timeout=5) == (rid, b"rev:4:%d" % i)
        assert c.stats().inflight == 0


def test_cancel(ep1, peer):
    peer("server", *ep1.args())
    with shmq.Client(timeout=5, **ep1.kw) as c:
        rid = c.send_request(b"sleep:0.1:x", timeout=5)
        c.cancel(rid)
        with pytest.raises(shmq.NotFound):
            c.recv_reply(rid, timeout=1)
        with pytest.raises(shmq.NotFound):
            c.cancel(rid)
        assert c.request(b"y", timeout=5) == b"y"


def test_server_pushes(ep1, peer):
    peer("server", *ep1.args())
    with shmq.Client(timeout=5, **ep1.kw) as c:
        assert c.request(b"push:3", timeout=5) == b"pushed"  # pushes held aside
        assert [c.recv(timeout=5) for _ in range(3)] == [b"push-0", b"push-1", b"push-2"]
        with pytest.raises(shmq.Timeout):
            c.recv(timeout=0.05)


def test_server_side_in_process(ep):
    with shmq.Server(slots=4, **ep.kw) as s, shmq.Client(**ep.kw) as a, \
            shmq.Client(**ep.kw) as b:
        infos = s.clients()
        assert len(infos) == 2 and {i.pid for i in infos} == {os.getpid()}
        assert {i.id for i in infos} == {a.client_id, b.client_id}
        rid = a.send_request(b"q\0", timeout=1)
        b.send(b"one-way", timeout=1)
        msgs = [s.recv(timeout=1), s.recv(timeout=1)]
        req = next(m for m in msgs if m.is_request)
        one = next(m for m in msgs if not m.is_request)
        assert req == (b"q\0", a.client_id, rid, True)
        assert one.from_ == b.client_id and one.id == 0 and one.data == b"one-way"
        with pytest.raises(ValueError):
            s.reply(one, b"not a request")
        s.reply(req, b"\0answer", timeout=1)
        assert a.recv_reply(rid, timeout=1) == (rid, b"\0answer")
        s.send(b.client_id, b"push", timeout=1)
        s.send(one, b"push2", timeout=1)  # to the sender of a message
        assert b.recv(timeout=1) == b"push" and b.recv(timeout=1) == b"push2"
        assert s.client_info(a.client_id).msgs_in == 1
        b.close()
        with pytest.raises(shmq.NotConnected):
            for _ in range(100):  # the server notices as it polls
                with pytest.raises(shmq.Timeout):
                    s.recv(timeout=0.01)
                s.send(one, b"gone", timeout=1)


def test_connect_errors(ep, peer):
    with pytest.raises(shmq.NotFound) as e:
        shmq.Client(**ep.kw)
    assert isinstance(e.value, FileNotFoundError) and e.value.errno == errno.ENOENT
    with shmq.Server(**ep.kw):
        with pytest.raises(shmq.AddressInUse):
            shmq.Server(**ep.kw)
    # A stale endpoint: its server was killed.
    p = peer("stall", *ep.args())
    p.signal(signal.SIGKILL)
    p.wait()
    with pytest.raises(shmq.ConnectionRefused) as e:
        shmq.Client(**ep.kw)
    assert isinstance(e.value, ConnectionError) and e.value.errno == errno.ECONNREFUSED
    shmq.remove(**ep.kw)


def test_server_gone(ep1, peer):
    p = peer("server", *ep1.args())
    with shmq.Client(timeout=5, **ep1.kw) as c:
        assert c.request(b"a", timeout=5) == b"a"
        p.signal(signal.SIGKILL)
        p.wait()
        t = time.monotonic()
        with pytest.raises(ConnectionError) as e:
            c.request(b"b", timeout=5)
        assert time.monotonic() - t < 1.5  # noticed within a second
        assert isinstance(e.value, shmq.Disconnected)
        with pytest.raises(shmq.BrokenPipe):
            c.check()
    shmq.remove(**ep1.kw)


def test_many_clients_round_robin(ep1, peer):
    peer("server", *ep1.args())
    clients = [shmq.Client(timeout=5, **ep1.kw) for _ in range(8)]
    try:
        for r in range(20):
            ids = [(c, c.send_request(b"%d-%d" % (i, r), timeout=5)) for i, c in enumerate(clients)]
            for i, (c, rid) in enumerate(ids):
                assert c.recv_reply(rid, timeout=5) == (rid, b"%d-%d" % (i, r))
    finally:
        for c in clients:
            c.close()
