# SPDX-License-Identifier: MIT
"""Server, Client and View over libshmq (ctypes)."""
import asyncio
import concurrent.futures
import ctypes
import errno
import functools
import gc
import math
import os
import sys
import threading
import time
import weakref
from _thread import get_ident as _get_ident
from typing import NamedTuple

from . import _errors, _lib
from ._errors import Error, Shutdown, Timeout, InProgress, error

lib = _lib.load()
_errors._strerror = lambda code: lib.shmq_strerror(code).decode("utf-8", "replace")

#: recv_reply(ANY): the reply to whichever outstanding request comes first.
ANY = _lib.SHMQ_ANY_REQUEST
#: spin_us value: never sleep, busy-poll (lowest latency, one CPU kept busy).
SPIN_FOREVER = _lib.SHMQ_SPIN_FOREVER
#: Requests one client may have outstanding at once.
MAX_INFLIGHT = _lib.SHMQ_MAX_INFLIGHT

# Every blocking wait is a loop of C calls of at most this many ms, so that
# Python's signal handlers (KeyboardInterrupt) run in between: ctypes releases
# the GIL during a call, but a handler only runs when the call returns.
_SLICE_MS = 50
_BUSY_SLICE_MS = 10  # a busy-poller's call never sleeps, so no signal cuts it short
_NOWAIT = -1.0  # deadline meaning timeout=0: one non-blocking try
_EINTR, _ETIMEDOUT, _EAGAIN, _EMSGSIZE = errno.EINTR, errno.ETIMEDOUT, errno.EAGAIN, errno.EMSGSIZE
_monotonic = time.monotonic
_byref = ctypes.byref
_string_at = ctypes.string_at
_getrefcount = getattr(sys, "getrefcount", None)  # CPython; elsewhere no slice check


def version():
    """The version of the loaded libshmq, e.g. '0.2.0'."""
    return lib.shmq_version().decode()


def library_path():
    """The libshmq file (or name) this package loaded."""
    return lib.shmq_path


class ClientId(NamedTuple):
    """A client as the server knows it; gen tells a reused slot apart."""
    slot: int
    gen: int


class Message(NamedTuple):
    """A message the server received: its bytes, the sending client, the
    request's id (0 for a one-way message) and whether it is a request (then
    answer it with Server.reply)."""
    data: bytes
    from_: ClientId
    id: int
    is_request: bool


class ClientInfo(NamedTuple):
    id: ClientId
    pid: int      # as reported by the client itself (not verified)
    uid: int
    msgs_in: int  # messages received from it
    msgs_out: int  # messages sent to it


class ClientStats(NamedTuple):
    msgs_out: int
    msgs_in: int
    inflight: int
    late_replies: int
    held: int


def _deadline(timeout):
    """None = forever, 0 = one non-blocking try, else an absolute deadline."""
    if timeout is None:
        return None
    t = float(timeout)
    if not t >= 0:
        raise ValueError("timeout must be None or >= 0 seconds, not %r" % (timeout,))
    if t == 0:
        return _NOWAIT
    return _monotonic() + t


def _inbuf(data):
    """(pointer argument, length, keep-alive) for a bytes-like object."""
    if type(data) is bytes:
        return data, len(data), None
    if isinstance(data, str):
        raise TypeError("shmq sends bytes: encode the str first")
    mv = memoryview(data)
    n = mv.nbytes
    if n == 0:
        return None, 0, None
    if mv.readonly or not mv.c_contiguous:
        b = mv.tobytes()
        return b, n, None
    if mv.ndim != 1 or mv.format != "B":
        mv = mv.cast("B")
    keep = ctypes.c_char.from_buffer(mv)  # no copy: points into data
    return ctypes.addressof(keep), n, keep


def _config(key, name, mode, slots, ring_size, spin_us, trusted_uid):
    cfg = _lib.shmq_config()
    lib.shmq_config_init(_byref(cfg))
    if key is not None and name is not None:
        raise ValueError("give key or name, not both")
    if name is not None:
        if isinstance(name, str):
            name = name.encode()
        cfg.name = name
    elif key is not None:
        cfg.key = int(key)
    cfg.mode = int(mode)
    if slots is not None:
        cfg.slots = int(slots)
    if ring_size is not None:
        cfg.ring_size = int(ring_size)
    if spin_us is not None:
        cfg.spin_us = int(spin_us)
    if trusted_uid is not None:
        cfg.trusted_uid = int(trusted_uid)
    return cfg


def _finalize(close, ptr, pid):
    # Only in the process that made the handle: a forked child that
    # inherited it must not tear down its parent's endpoint.
    if os.getpid() == pid:
        close(ptr)


class _Handle:
    """What Server and Client share: the C handle, the one-call-at-a-time
    guard, the sliced wait loop, the receive buffer, the held view."""

    _close_fn = None  # set by subclasses

    def __init__(self):
        self._ptr = None
        self._lock = threading.Lock()
        self._closing = False
        self._attention = False  # _between() has something to do
        self._tid = None  # the thread in a call, while _lock is held
        self._view = None
        self._executor = None
        self._msg = _lib.shmq_msg()

    def _open(self, ptr, max_msg, spin_us):
        self._ptr = ptr
        self._slice = _BUSY_SLICE_MS if spin_us >= _SLICE_MS * 1000 else _SLICE_MS
        self._max = max_msg
        # A view's memory: an array type as large as any message; views are
        # cut to each message's length (nothing reads beyond it).
        self._rawtype = ctypes.c_ubyte * max(1, max_msg)
        self._cap = min(max_msg, 65536)
        self._buf = ctypes.create_string_buffer(max(1, self._cap))
        self._fin = weakref.finalize(self, _finalize, type(self)._close_fn, ptr, os.getpid())

    # -- the guard: one call at a time per handle (libshmq's rule) ----------
    def _acquire(self):
        if not self._lock.acquire(False):
            raise RuntimeError(
                "shmq: this %s is busy in another call (a handle is used by one "
                "thread at a time; use one per thread)" % type(self).__name__)
        if self._ptr is None:
            self._lock.release()
            raise ValueError("shmq: the %s is closed" % type(self).__name__)
        self._tid = _get_ident()
        return self._ptr

    def _between(self):
        """Run before a slice of a wait, in the thread that waits, when
        another thread or a signal handler asked for something."""
        self._attention = False
        if self._closing:
            self._attention = True
            raise Error(errno.ECANCELED, "the %s was closed meanwhile" % type(self).__name__)

    def _wait(self, call, deadline):
        """call(ms) -> rc, repeated in slices of at most _SLICE_MS until it
        succeeds, fails otherwise, or the deadline passes (-ETIMEDOUT)."""
        if self._attention:
            self._between()
        if deadline == _NOWAIT:
            return call(0)
        while True:
            if self._attention:
                self._between()
            if deadline is None:
                ms = self._slice
            else:
                left = deadline - _monotonic()
                ms = 0 if left <= 0 else min(self._slice, math.ceil(left * 1000))
            rc = call(ms)
            if rc >= 0:
                return rc
            if rc == -_ETIMEDOUT or rc == -_EINTR or (rc == -_EAGAIN and ms == 0):
                if deadline is not None and (ms == 0 or _monotonic() >= deadline):
                    return -_ETIMEDOUT
                # A signal's Python handler runs here (KeyboardInterrupt).
                continue
            return rc

    def _grow(self, n):
        cap = max(self._cap, 1)
        while cap < n:
            cap *= 2
        self._cap = min(cap, self._max)
        self._buf = ctypes.create_string_buffer(max(1, self._cap))

    # -- views ------------------------------------------------------------
    def _make_view(self, msg, **meta):
        v = View(self, msg, **meta)
        self._view = v
        return v

    def _view_released(self, view, release):
        if self._view is view:
            self._view = None
            release(self._ptr, _byref(view._msg))

    # -- closing ------------------------------------------------------------
    def close(self):
        """Release a held view and close the handle. Idempotent. Raises
        BufferError (and stays open) if a view cannot be released because
        slices or exports of it are still alive. A call blocked in another
        thread is stopped first (it raises shmq.Error ECANCELED within 50 ms)."""
        if self._ptr is None:
            return
        if not self._lock.acquire(False):
            if self._tid == _get_ident():
                raise RuntimeError("shmq: cannot close a handle from a signal handler "
                                   "while it is in a call (raise an exception instead)")
            self._closing = self._attention = True
            try:
                self._lock.acquire()
            finally:
                self._closing = False
        try:
            if self._ptr is None:
                return
            if self._view is not None:
                self._view._release_locked()  # BufferError: stays open
            self._fin.detach()
            ptr, self._ptr = self._ptr, None
            type(self)._close_fn(ptr)
        finally:
            self._lock.release()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    @property
    def closed(self):
        return self._ptr is None

    @property
    def max_msg(self):
        """The largest message this endpoint carries (ring_size/2 - 24)."""
        return self._max

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- asyncio fallback -------------------------------------------------
    async def _async(self, fn, *args, **kw):
        # No event-loop fd in libshmq yet: run the blocking call in a thread
        # of this handle's own (one, so calls on a handle stay one at a time).
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="shmq-%s" % type(self).__name__.lower())
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kw))


class View:
    """A received message left in shared memory: zero copy.

    ``view.data`` is a read-only memoryview of the message's bytes, valid
    until ``release()`` (or the end of the ``with`` block). len(view),
    view[i], view[a:b], bytes(view) and view.tobytes() work on those bytes
    too. After release every use of ``data`` (and of the view) raises
    ValueError; release itself raises BufferError and releases nothing while
    anything still refers to the memory: a buffer exported from ``data`` (a
    numpy array, struct.iter_unpack...) or a slice or memoryview of it that is
    still alive. Copy what you keep (``bytes(view[a:b])``), delete slices
    before the view is released. A hostile peer can change the bytes under
    you: copy what you must trust.
    """

    __slots__ = ("_owner", "_release", "_msg", "_arr", "_refs", "_mv",
                 "from_", "id", "is_request", "is_reply")

    def __init__(self, owner, msg, release, from_=None, is_request=False, is_reply=False):
        self._owner = owner
        self._release = release
        self._msg = msg
        self.from_ = from_
        self.id = msg.id
        self.is_request = is_request
        self.is_reply = is_reply
        n = msg.len
        if n == 0 or not msg.data:
            self._arr = None
            self._mv = memoryview(b"")
        else:
            arr = owner._rawtype.from_address(msg.data)
            # While any slice of the memory lives, so does its handle (a
            # closed handle's memory would be unmapped).
            arr._shmq_owner = owner
            self._arr = arr
            del arr
            self._refs = _getrefcount(self._arr) if _getrefcount else None
            self._mv = memoryview(self._arr).cast("B")[:n].toreadonly()

    @property
    def data(self):
        return self._mv

    @property
    def released(self):
        return self._owner is None

    def release(self):
        """Give the message's memory back to the ring. Idempotent."""
        owner = self._owner
        if owner is None:
            return
        owner._acquire()
        try:
            self._release_locked()
        finally:
            owner._lock.release()

    def _release_locked(self):
        if self._owner is None:
            return
        try:
            self._mv.release()
        except BufferError as e:
            raise BufferError(
                "shmq: cannot release the view while a buffer exported from it is "
                "alive (%s); drop it first" % e) from None
        if self._arr is not None and self._refs is not None and \
                _getrefcount(self._arr) != self._refs and \
                (gc.collect() or True) and _getrefcount(self._arr) != self._refs:
            # (A slice may be garbage in a reference cycle: collect first.)
            raise BufferError(
                "shmq: cannot release the view while a slice or memoryview of it is "
                "alive; delete it first (or keep a copy: bytes(view[a:b]))")
        owner, self._owner = self._owner, None
        self._arr = None
        owner._view_released(self, self._release)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __len__(self):
        return len(self._mv)

    def __getitem__(self, i):
        return self._mv[i]

    def __bytes__(self):
        return self._mv.tobytes()

    def tobytes(self):
        return self._mv.tobytes()

    def __eq__(self, other):
        if isinstance(other, View):
            other = other._mv
        return self._mv == other

    __hash__ = None

    if sys.version_info >= (3, 12):
        def __buffer__(self, flags):
            return memoryview(self._mv)

    def __repr__(self):
        state = "released" if self._owner is None else "%d bytes" % len(self._mv)
        return "<shmq.View %s id=%d>" % (state, self.id)


def _client_id(to):
    if isinstance(to, (Message, View)):
        to = to.from_
    slot, gen = to
    return _lib.shmq_client_id(slot, gen)


class Server(_Handle):
    """An endpoint: ``Server(key=1234)`` (System V) or ``Server(name="q")``
    (POSIX, /dev/shm/q). Created exclusively; a stale endpoint of a dead
    server is reclaimed, a live one raises shmq.AddressInUse. Closing removes
    it. Use as a context manager."""

    _close_fn = lib.shmq_server_close

    def __init__(self, key=None, name=None, mode=0o600, slots=64, ring_size=65536,
                 spin_us=50):
        super().__init__()
        cfg = _config(key, name, mode, slots, ring_size, spin_us, None)
        p = ctypes.c_void_p()
        rc = lib.shmq_server_create(_byref(p), _byref(cfg))
        if rc < 0:
            raise error(rc, "shmq_server_create")
        self._shutdown_pending = False
        self._slots = cfg.slots
        self._open(p.value, lib.shmq_server_max_msg(p.value), cfg.spin_us)

    def _between(self):
        self._attention = False
        if self._shutdown_pending:
            self._shutdown_pending = False
            lib.shmq_server_shutdown(self._ptr)  # -EALREADY: fine
        if self._closing:
            super()._between()

    def recv(self, timeout=None):
        """The next message from any client (round-robin), as a Message.
        Raises Shutdown once shutdown() was called and all is drained,
        Timeout after timeout seconds, WouldBlock if timeout=0 finds none."""
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            m = self._msg
            f = lib.shmq_server_recv
            while True:
                buf, cap = self._buf, self._cap
                n = self._wait(lambda ms: f(p, buf, cap, _byref(m), ms), deadline)
                if n >= 0:
                    return Message(_string_at(buf, n), ClientId(m.from_.slot, m.from_.gen),
                                   m.id, bool(m.flags & _lib.SHMQ_MSG_REQUEST))
                if n == -_EMSGSIZE and m.len > cap:
                    self._grow(m.len)  # it is still queued, first in line
                    continue
                raise error(n)
        finally:
            self._lock.release()

    def __iter__(self):
        """Messages until the server is shut down and drained."""
        while True:
            try:
                yield self.recv()
            except Shutdown:
                return

    def recv_view(self, timeout=None):
        """The next message, zero-copy, as a View (use it in a with block).
        One view at a time: recv calls raise shmq.Busy while one is held."""
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            m = _lib.shmq_msg()
            f = lib.shmq_server_recv_view
            rc = self._wait(lambda ms: f(p, _byref(m), ms), deadline)
            if rc < 0:
                raise error(rc)
            return self._make_view(m, release=lib.shmq_server_release,
                                   from_=ClientId(m.from_.slot, m.from_.gen),
                                   is_request=bool(m.flags & _lib.SHMQ_MSG_REQUEST))
        finally:
            self._lock.release()

    def reply(self, msg, data, timeout=None):
        """Answer the request msg (a Message or View) with data. Raises
        NotConnected if its client left."""
        if not msg.is_request:
            raise ValueError("shmq: reply to a request (this message is one-way)")
        req = _lib.shmq_msg()
        req.from_ = _client_id(msg.from_)
        req.id = msg.id
        req.flags = _lib.SHMQ_MSG_REQUEST
        buf, n, keep = _inbuf(data)
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            f = lib.shmq_server_reply
            rc = self._wait(lambda ms: f(p, _byref(req), buf, n, ms), deadline)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    def send(self, client, data, timeout=None):
        """A message of the server's own to one client (a ClientId, a
        (slot, gen) pair, or a Message/View from it): Client.recv takes it."""
        to = _client_id(client)
        buf, n, keep = _inbuf(data)
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            f = lib.shmq_server_send
            rc = self._wait(lambda ms: f(p, to, buf, n, ms), deadline)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    def shutdown(self):
        """Graceful stop: refuse new clients and messages; recv still returns
        every message sent before, then raises Shutdown. Replies and sends
        keep working. Idempotent, and safe from another thread or a signal
        handler while a call blocks (it then takes effect within 50 ms, in
        the thread that waits)."""
        if self._lock.acquire(False):
            try:
                if self._ptr is not None:
                    lib.shmq_server_shutdown(self._ptr)  # -EALREADY: fine
            finally:
                self._lock.release()
        else:
            self._shutdown_pending = self._attention = True

    def clients(self):
        """The connected clients, as ClientInfo."""
        p = self._acquire()
        try:
            arr = (_lib.shmq_client_info * self._slots)()
            n = lib.shmq_server_clients(p, arr, self._slots)
        finally:
            self._lock.release()
        if n < 0:
            raise error(n)
        return [_info(arr[i]) for i in range(min(n, self._slots))]

    def client_info(self, client):
        to = _client_id(client)
        out = _lib.shmq_client_info()
        p = self._acquire()
        try:
            rc = lib.shmq_server_client_info(p, to, _byref(out))
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)
        return _info(out)

    # asyncio fallback (executor threads; see the README)
    async def recv_async(self, timeout=None):
        return await self._async(self.recv, timeout)

    async def reply_async(self, msg, data, timeout=None):
        return await self._async(self.reply, msg, data, timeout)

    async def send_async(self, client, data, timeout=None):
        return await self._async(self.send, client, data, timeout)


def _info(i):
    return ClientInfo(ClientId(i.id.slot, i.id.gen), i.pid, i.uid, i.msgs_in, i.msgs_out)


class Client(_Handle):
    """A connection to a server's endpoint: ``Client(key=1234)`` or
    ``Client(name="q")``. timeout: how long to wait for the server to appear
    (0: fail at once with NotFound / ConnectionRefused). Use as a context
    manager; close does not wait for the server to take what was sent: call
    flush() first to know."""

    _close_fn = lib.shmq_client_close

    def __init__(self, key=None, name=None, mode=0o600, spin_us=50, trusted_uid=None,
                 timeout=0):
        super().__init__()
        cfg = _config(key, name, mode, None, None, spin_us, trusted_uid)
        p = ctypes.c_void_p()
        # -EAGAIN (the server is still writing the header) is always retried
        # a little; a missing or dead server only within timeout.
        start = _monotonic()
        wait = float(timeout or 0)
        while True:
            rc = lib.shmq_client_connect(_byref(p), _byref(cfg))
            if rc == 0:
                break
            spent = _monotonic() - start
            if not ((rc == -_EAGAIN and spent < max(wait, 1.0)) or
                    (rc in (-errno.ENOENT, -errno.ECONNREFUSED) and spent < wait)):
                raise error(rc, "shmq_client_connect")
            time.sleep(0.005)
        self._open(p.value, lib.shmq_client_max_msg(p.value), cfg.spin_us)

    def send(self, data, timeout=None):
        """One-way message to the server."""
        buf, n, keep = _inbuf(data)
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            f = lib.shmq_client_send
            rc = self._wait(lambda ms: f(p, buf, n, ms), deadline)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    def send_request(self, data, timeout=None):
        """Send a request; returns its id for recv_reply (pipelining)."""
        buf, n, keep = _inbuf(data)
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            return self._send_request(p, buf, n, deadline)
        finally:
            self._lock.release()

    def _send_request(self, p, buf, n, deadline):
        rid = ctypes.c_uint64()
        f = lib.shmq_client_send_request
        rc = self._wait(lambda ms: f(p, buf, n, _byref(rid), ms), deadline)
        if rc < 0:
            raise error(rc)
        return rid.value

    def recv_reply(self, id=ANY, timeout=None):
        """The reply to request id (or to whichever comes first: ANY or
        None), as (id, bytes). Timeout leaves the request outstanding."""
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            return self._recv_reply(p, ANY if id is None else id, deadline)
        finally:
            self._lock.release()

    def _recv_reply(self, p, rid, deadline):
        m = self._msg
        f = lib.shmq_client_recv_reply
        while True:
            buf, cap = self._buf, self._cap
            n = self._wait(lambda ms: f(p, rid, buf, cap, _byref(m), ms), deadline)
            if n >= 0:
                return m.id, _string_at(buf, n)
            if n == -_EMSGSIZE and m.len > cap:
                self._grow(m.len)  # it is kept where it was
                continue
            raise error(n)

    def request(self, data, timeout=None):
        """Send a request and wait for its reply (bytes); the timeout covers
        both halves. Timeout: not sent (the ring stayed full). InProgress:
        sent, but unanswered in time: abandoned, its late reply discarded. An
        interrupted wait (KeyboardInterrupt) abandons it the same way."""
        buf, n, keep = _inbuf(data)
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            if self._view is not None:
                raise error(-errno.EBUSY)  # its reply could not be taken
            rid = self._send_request(p, buf, n, deadline)
            try:
                return self._recv_reply(p, rid, deadline)[1]
            except (Timeout, _errors.WouldBlock, _errors.NoBuffers):
                # Sent, not answered in time (or no room to hold what came
                # first): as shmq_client_request, abandon it.
                lib.shmq_client_cancel(p, rid)
                raise InProgress(errno.EINPROGRESS, _errors._strerror(errno.EINPROGRESS)) from None
            except BaseException:
                # Gone, or interrupted (KeyboardInterrupt): nobody will
                # collect this reply, so it must not stay outstanding.
                lib.shmq_client_cancel(p, rid)
                raise
        finally:
            self._lock.release()

    def recv(self, timeout=None):
        """The next message the server sent of its own (Server.send)."""
        with self.recv_view(timeout) as v:
            return v.tobytes()

    def recv_view(self, timeout=None):
        """As recv, zero-copy: a View (see View for the rules)."""
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            m = _lib.shmq_msg()
            f = lib.shmq_client_recv_view
            rc = self._wait(lambda ms: f(p, _byref(m), ms), deadline)
            if rc < 0:
                raise error(rc)
            return self._make_view(m, release=lib.shmq_client_release)
        finally:
            self._lock.release()

    def recv_reply_view(self, id=ANY, timeout=None):
        """As recv_reply, zero-copy: a View whose .id is the request's."""
        deadline = _deadline(timeout)
        rid = ANY if id is None else id
        p = self._acquire()
        try:
            m = _lib.shmq_msg()
            f = lib.shmq_client_recv_reply_view
            rc = self._wait(lambda ms: f(p, rid, _byref(m), ms), deadline)
            if rc < 0:
                raise error(rc)
            return self._make_view(m, release=lib.shmq_client_release, is_reply=True)
        finally:
            self._lock.release()

    def cancel(self, id):
        """Abandon outstanding request id: its reply is discarded."""
        p = self._acquire()
        try:
            rc = lib.shmq_client_cancel(p, id)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    def flush(self, timeout=None):
        """Linger: return once the server has received everything this
        client sent. BrokenPipe if it closed or died first (what it had not
        taken is lost); Timeout; WouldBlock with timeout=0 when not yet."""
        deadline = _deadline(timeout)
        p = self._acquire()
        try:
            f = lib.shmq_client_flush
            rc = self._wait(lambda ms: f(p, ms), deadline)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    def check(self):
        """Raise BrokenPipe if the server closed or died (costs a syscall)."""
        p = self._acquire()
        try:
            rc = lib.shmq_client_check(p)
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)

    @property
    def client_id(self):
        """This client's ClientId, as the server sees it."""
        c = lib.shmq_client_self(self._acquire())
        self._lock.release()
        return ClientId(c.slot, c.gen)

    def stats(self):
        out = _lib.shmq_client_stats()
        p = self._acquire()
        try:
            rc = lib.shmq_client_stat(p, _byref(out))
        finally:
            self._lock.release()
        if rc < 0:
            raise error(rc)
        return ClientStats(out.msgs_out, out.msgs_in, out.inflight, out.late_replies, out.held)

    # asyncio fallback (executor threads; see the README)
    async def send_async(self, data, timeout=None):
        return await self._async(self.send, data, timeout)

    async def request_async(self, data, timeout=None):
        return await self._async(self.request, data, timeout)

    async def send_request_async(self, data, timeout=None):
        return await self._async(self.send_request, data, timeout)

    async def recv_reply_async(self, id=ANY, timeout=None):
        return await self._async(self.recv_reply, id, timeout)

    async def recv_async(self, timeout=None):
        return await self._async(self.recv, timeout)

    async def flush_async(self, timeout=None):
        return await self._async(self.flush, timeout)


def remove(key=None, name=None, force=False):
    """Remove a stale endpoint (shmq rm). A live one raises AddressInUse, a
    segment that is not shmq's raises Exists, unless force."""
    cfg = _config(key, name, 0o600, None, None, None, None)
    rc = lib.shmq_remove(_byref(cfg), _lib.SHMQ_REMOVE_FORCE if force else 0)
    if rc < 0:
        raise error(rc, "shmq_remove")
