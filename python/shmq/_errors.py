# SPDX-License-Identifier: MIT
"""shmq's exceptions: one base class, shmq.Error (an OSError), and a subclass
for each error code worth telling apart, each also a subclass of the built-in
exception Python uses for that errno where there is one (so ``except
TimeoutError`` and ``except ConnectionError`` work as they do for sockets)."""
import errno as _errno


class Error(OSError):
    """A negative errno returned by libshmq: ``.errno`` is the positive code,
    ``.strerror`` the text shmq_strerror() gives for it."""


class WouldBlock(Error, BlockingIOError):
    """-EAGAIN: a call with timeout=0 found nothing to do."""


class Timeout(Error, TimeoutError):
    """-ETIMEDOUT: nothing happened before the timeout (nothing was sent)."""


class InProgress(Timeout):
    """-EINPROGRESS: a request was sent but its reply did not come in time.

    The request is abandoned (its reply, if it comes, is discarded and never
    returned for another request). It is a Timeout, and so a TimeoutError,
    too; catch InProgress first to tell "not sent" from "sent, unanswered"."""


class Disconnected(Error, ConnectionError):
    """The peer is gone: base of BrokenPipe, ConnectionRefused,
    ConnectionReset, NotConnected."""


class BrokenPipe(Disconnected, BrokenPipeError):
    """-EPIPE (client): the server closed or died (or, when sending, is
    shutting down)."""


class ConnectionRefused(Disconnected, ConnectionRefusedError):
    """-ECONNREFUSED (connect): a stale endpoint, its server is dead."""


class ConnectionReset(Disconnected, ConnectionResetError):
    """-ECONNRESET (client): the server disconnected this client."""


class NotConnected(Disconnected):
    """-ENOTCONN (server): the addressed client has left or died."""


class Shutdown(Error):
    """-ESHUTDOWN: (server) shutdown() was called and every message sent
    before it has been received; (connect) the server is shutting down. (A
    client that sends to a server shutting down gets BrokenPipe.)"""


class MessageTooLarge(Error):
    """-EMSGSIZE: larger than the ring allows (max_msg); never truncated."""


class NotFound(Error, FileNotFoundError):
    """-ENOENT: no such endpoint (connect), or no such request outstanding
    (recv_reply, cancel)."""


class AddressInUse(Error):
    """-EADDRINUSE: a live server already owns the key or name."""


class Exists(Error, FileExistsError):
    """-EEXIST: the key or name is taken by something not ours to reclaim."""


class PermissionDenied(Error, PermissionError):
    """-EACCES / -EPERM: permissions or ownership are not safe to use."""


class NoSlots(Error):
    """-EUSERS: every client slot of the endpoint is taken."""


class ProtocolError(Error):
    """-EPROTO / -EPROTONOSUPPORT: the peer corrupted shared memory, or the
    endpoint has another layout version."""


class NoBuffers(Error):
    """-ENOBUFS: too many requests outstanding, or too much held aside."""


class Busy(Error):
    """-EBUSY: a view is still held on this handle."""


_BY_ERRNO = {
    _errno.EAGAIN: WouldBlock,
    _errno.ETIMEDOUT: Timeout,
    _errno.EINPROGRESS: InProgress,
    _errno.EPIPE: BrokenPipe,
    _errno.ECONNREFUSED: ConnectionRefused,
    _errno.ECONNRESET: ConnectionReset,
    _errno.ENOTCONN: NotConnected,
    _errno.ESHUTDOWN: Shutdown,
    _errno.EMSGSIZE: MessageTooLarge,
    _errno.ENOENT: NotFound,
    _errno.EADDRINUSE: AddressInUse,
    _errno.EEXIST: Exists,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.EUSERS: NoSlots,
    _errno.EPROTO: ProtocolError,
    _errno.EPROTONOSUPPORT: ProtocolError,
    _errno.ENOBUFS: NoBuffers,
    _errno.EBUSY: Busy,
}

_strerror = None  # set by _core once the library is loaded


def error(rc, context=None):
    """The exception for libshmq return code rc (negative errno)."""
    code = -rc if rc < 0 else rc
    text = _strerror(code) if _strerror else _errno.errorcode.get(code, str(code))
    if context:
        text = "%s: %s" % (context, text)
    return _BY_ERRNO.get(code, Error)(code, text)
