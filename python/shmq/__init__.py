# SPDX-License-Identifier: MIT
"""shmq: shared-memory messaging between processes on Linux, from Python.

A binding of libshmq through ctypes (no compiled code). The library is found
through $SHMQ_LIBRARY (a file, or a build directory), then the build/ of the
checkout this package sits in (or was installed from), then the installed
libshmq.so.1 (ld cache, dlopen's path).

    with shmq.Server(name="echo") as server:        # a POSIX endpoint
        for msg in server:                          # until shutdown + drained
            if msg.is_request:
                server.reply(msg, msg.data)

    with shmq.Client(name="echo", timeout=5) as client:
        assert client.request(b"hi", timeout=1) == b"hi"

Timeouts are in seconds: None waits as long as the peer lives, 0 never
blocks (shmq.WouldBlock, a BlockingIOError, when it would), a positive value
raises shmq.Timeout (a TimeoutError). Every wait is a loop of C calls of at
most 50 ms, so Ctrl-C (KeyboardInterrupt) interrupts any of them.
"""
from ._errors import (Error, WouldBlock, Timeout, InProgress, Disconnected, BrokenPipe,
                      ConnectionRefused, ConnectionReset, NotConnected, Shutdown,
                      MessageTooLarge, NotFound, AddressInUse, Exists, PermissionDenied,
                      NoSlots, ProtocolError, NoBuffers, Busy)
from ._core import (ANY, SPIN_FOREVER, MAX_INFLIGHT, ClientId, ClientInfo, ClientStats,
                    Message, View, Server, Client, remove, version, library_path)

__version__ = "0.2.0"

__all__ = [
    "Server", "Client", "View", "Message", "ClientId", "ClientInfo", "ClientStats",
    "ANY", "SPIN_FOREVER", "MAX_INFLIGHT", "remove", "version", "library_path",
    "Error", "WouldBlock", "Timeout", "InProgress", "Disconnected", "BrokenPipe",
    "ConnectionRefused", "ConnectionReset", "NotConnected", "Shutdown", "MessageTooLarge",
    "NotFound", "AddressInUse", "Exists", "PermissionDenied", "NoSlots", "ProtocolError",
    "NoBuffers", "Busy",
]
