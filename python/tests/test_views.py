# SPDX-License-Identifier: MIT
"""Zero-copy views: valid until release, unusable after (ValueError, never a
crash), and never released while anything still points into the ring."""
import gc
import struct

import pytest

import shmq


@pytest.fixture
def pair(ep1):
    with shmq.Server(**ep1.kw) as s, shmq.Client(**ep1.kw) as c:
        yield s, c


def test_view_contents_and_metadata(pair):
    s, c = pair
    rid = c.send_request(b"zero\0copy", timeout=1)
    with s.recv_view(timeout=1) as v:
        assert isinstance(v.data, memoryview) and v.data.readonly
        assert v.data == b"zero\0copy" and v == b"zero\0copy"
        assert len(v) == 9 and v[0] == ord("z") and bytes(v[4:5]) == b"\0"
        assert bytes(v) == b"zero\0copy" and v.tobytes() == b"zero\0copy"
        assert v.is_request and v.id == rid and v.from_ == c.client_id
        with pytest.raises(TypeError):
            v.data[0] = 1  # read-only
        s.reply(v, v.data, timeout=1)  # zero-copy echo: from the ring, to the ring
    assert c.recv_reply(rid, timeout=1) == (rid, b"zero\0copy")


def test_view_raises_after_release(pair):
    s, c = pair
    c.send(b"payload", timeout=1)
    with s.recv_view(timeout=1) as v:
        mv = v.data
        assert mv[0] == ord("p")
    assert v.released
    # Every way in raises ValueError: the memoryview handed out is released.
    with pytest.raises(ValueError):
        mv[0]
    with pytest.raises(ValueError):
        bytes(mv)
    with pytest.raises(ValueError):
        mv.tobytes()
    with pytest.raises(ValueError):
        memoryview(mv)
    with pytest.raises(ValueError):
        v[0]
    with pytest.raises(ValueError):
        bytes(v)
    with pytest.raises(ValueError):
        len(v.data)
    v.release()  # idempotent
    # The ring moved on: the next message is there.
    c.send(b"next", timeout=1)
    assert s.recv(timeout=1).data == b"next"


def test_release_refused_while_a_slice_lives(pair):
    s, c = pair
    c.send(b"0123456789", timeout=1)
    v = s.recv_view(timeout=1)
    part = v[2:5]
    with pytest.raises(BufferError, match="slice"):
        v.release()
    assert not v.released
    assert bytes(part) == b"234"  # still valid: nothing was given back
    with pytest.raises(shmq.Busy):
        s.recv(timeout=0)  # the view is still held
    del part
    v.release()
    assert v.released
    c.send(b"after", timeout=1)
    assert s.recv(timeout=1).data == b"after"


def test_release_refused_while_a_memoryview_of_it_lives(pair):
    s, c = pair
    c.send(b"abc", timeout=1)
    v = s.recv_view(timeout=1)
    m2 = memoryview(v.data)
    with pytest.raises(BufferError):
        v.release()
    del m2
    gc.collect()
    v.release()


def test_release_refused_while_a_buffer_is_exported(pair):
    s, c = pair
    c.send(struct.pack("<4I", 1, 2, 3, 4), timeout=1)
    with pytest.raises(BufferError, match="exported"):
        with s.recv_view(timeout=1) as v:
            it = struct.iter_unpack("<I", v.data)  # holds a buffer of the view
            assert next(it) == (1,)
    assert not v.released
    assert list(it) == [(2,), (3,), (4,)]
    del it
    v.release()
    assert v.released


def test_close_refused_while_a_slice_lives(ep1):
    s = shmq.Server(**ep1.kw)
    c = shmq.Client(**ep1.kw)
    c.send(b"keep", timeout=1)
    v = s.recv_view(timeout=1)
    part = v[0:2]
    with pytest.raises(BufferError):
        s.close()  # would unmap what part points to
    assert not s.closed and bytes(part) == b"ke"
    del part
    c.close()
    s.close()  # releases the view, then closes
    assert s.closed and v.released
    with pytest.raises(ValueError):
        v.data[0]


def test_one_view_at_a_time(pair):
    s, c = pair
    c.send(b"a", timeout=1)
    c.send(b"b", timeout=1)
    with s.recv_view(timeout=1) as v:
        with pytest.raises(shmq.Busy):
            s.recv_view(timeout=0)
        assert v == b"a"
    with s.recv_view(timeout=1) as v:
        assert v == b"b"


def test_empty_message_view(pair):
    s, c = pair
    c.send(b"", timeout=1)
    with s.recv_view(timeout=1) as v:
        assert len(v) == 0 and bytes(v) == b""
    with pytest.raises(ValueError):
        v.data.tobytes()


def test_client_views(pair):
    s, c = pair
    rid = c.send_request(b"r", timeout=1)
    m = s.recv(timeout=1)
    s.send(m, b"push\0", timeout=1)
    s.reply(m, b"reply\0", timeout=1)
    with c.recv_reply_view(rid, timeout=1) as v:  # the push is held aside
        assert v == b"reply\0" and v.id == rid and v.is_reply
        with pytest.raises(shmq.Busy):
            c.request(b"x", timeout=1)  # its reply could not be taken
    with c.recv_view(timeout=1) as v:
        assert v == b"push\0"
    with pytest.raises(ValueError):
        v[0]
    assert c.stats().inflight == 0


def test_release_collects_garbage_slices(pair):
    s, c = pair
    c.send(b"cycle", timeout=1)
    v = s.recv_view(timeout=1)

    class Box:
        pass
    b = Box()
    b.me, b.part = b, v[0:2]  # garbage once b is dropped, but not freed
    del b
    v.release()
    assert v.released
