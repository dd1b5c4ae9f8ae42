# SPDX-License-Identifier: MIT
"""The asyncio fallback: blocking calls in a thread of the handle's own."""
import asyncio
import time

import pytest

import shmq


def test_request_async(ep1, peer):
    peer("server", *ep1.args())

    async def main():
        with shmq.Client(timeout=5, **ep1.kw) as c:
            assert await c.request_async(b"a\0", timeout=5) == b"a\0"
            # Many at once: each gets its own reply.
            replies = await asyncio.gather(*(c.request_async(b"%d" % i, timeout=5)
                                             for i in range(20)))
            assert replies == [b"%d" % i for i in range(20)]
            rid = await c.send_request_async(b"sleep:0.05:p", timeout=5)
            # The event loop keeps running while the call waits in its thread.
            ticks = 0
            task = asyncio.ensure_future(c.recv_reply_async(rid, timeout=5))
            while not task.done():
                ticks += 1
                await asyncio.sleep(0.005)
            assert task.result() == (rid, b"p") and ticks >= 3
            with pytest.raises(shmq.InProgress):
                await c.request_async(b"sleep:0.3:x", timeout=0.05)
            await c.send_async(b"one-way", timeout=5)
            await c.flush_async(timeout=5)
    asyncio.run(asyncio.wait_for(main(), 30))


def test_server_async(ep1):
    async def main():
        with shmq.Server(**ep1.kw) as s, shmq.Client(**ep1.kw) as c:
            rid = c.send_request(b"q", timeout=1)
            m = await s.recv_async(timeout=5)
            await s.reply_async(m, b"r", timeout=5)
            await s.send_async(m.from_, b"push", timeout=5)
            assert c.recv_reply(rid, timeout=1) == (rid, b"r")
            assert await c.recv_async(timeout=5) == b"push"
            t = time.monotonic()
            with pytest.raises(shmq.Timeout):
                await s.recv_async(timeout=0.1)
            assert time.monotonic() - t < 1
    asyncio.run(asyncio.wait_for(main(), 30))
