# SPDX-License-Identifier: MIT
"""Ctrl-C interrupts any blocking call within 100 ms."""
import os
import signal
import threading
import time

import pytest

import shmq

LIMIT = 0.100


@pytest.mark.parametrize("what", ["server-recv", "server-recv-busy", "client-recv",
                                  "client-request", "client-flush"])
def test_sigint_interrupts_a_blocking_call(what, ep1, peer):
    if what.startswith("client"):
        # client-request waits for an answer that takes 30 s; client-flush
        # for a server that never receives.
        peer("stall" if what == "client-flush" else "server", *ep1.args())
    p = peer("ki", what, *ep1.args())
    time.sleep(0.3)  # well into the blocking call (spin over, asleep)
    t = time.monotonic()
    p.signal(signal.SIGINT)
    line = p.readline(5)
    assert line and line.startswith("KI "), (line, p.stderr())
    latency = float(line.split()[1]) - t  # CLOCK_MONOTONIC: one clock for all processes
    print("\n%s: KeyboardInterrupt after %.2f ms" % (what, latency * 1000))
    assert 0 <= latency < LIMIT, "KeyboardInterrupt after %.1f ms" % (latency * 1000)
    if what.startswith("client"):
        assert p.readline(5) == "inflight 0"  # the interrupted request was abandoned
    assert p.wait(5) == 0


def test_sigint_from_another_thread_in_process(ep1):
    """The signal is taken by a thread that is not the one blocked in C, so
    the futex sleep is not interrupted: the 50 ms slices are what bound the
    latency here."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    sent = []

    def kill():
        time.sleep(0.3)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)
    try:
        with shmq.Server(**ep1.kw) as s:
            t = threading.Thread(target=kill)
            t.start()
            try:
                with pytest.raises(KeyboardInterrupt):
                    s.recv(timeout=5)
                latency = time.monotonic() - sent[0]
            finally:
                t.join()
            print("\nin-process, from a thread: KeyboardInterrupt after %.2f ms" % (latency * 1000))
            assert latency < LIMIT, "KeyboardInterrupt after %.1f ms" % (latency * 1000)
            # The handle is still usable afterwards.
            with shmq.Client(**ep1.kw) as c:
                c.send(b"still here", timeout=1)
                assert s.recv(timeout=1).data == b"still here"
    finally:
        signal.signal(signal.SIGINT, old)


def test_shutdown_from_a_signal_handler_while_recv_blocks(ep1):
    """Server.shutdown() from a handler (or thread) while recv blocks in the
    same handle: deferred to the waiting thread, done within a slice."""
    with shmq.Server(**ep1.kw) as s, shmq.Client(**ep1.kw) as c:
        c.send(b"before", timeout=1)
        timer = threading.Timer(0.2, s.shutdown)
        timer.start()
        try:
            assert s.recv(timeout=5).data == b"before"
            t = time.monotonic()
            with pytest.raises(shmq.Shutdown):
                s.recv(timeout=5)
            assert time.monotonic() - t < 0.5
        finally:
            timer.join()


def test_close_from_another_thread_stops_a_blocked_call(ep1):
    s = shmq.Server(**ep1.kw)
    err = []

    def block():
        try:
            s.recv()
        except BaseException as e:
            err.append(e)
    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 0.2
    t.join(5)
    assert not t.is_alive()
    assert isinstance(err[0], shmq.Error) and err[0].errno == 125  # ECANCELED
    assert s.closed


def test_two_threads_on_one_handle_are_refused(ep1):
    with shmq.Server(**ep1.kw) as s:
        t = threading.Thread(target=lambda: pytest.raises(shmq.Timeout, s.recv, timeout=0.5))
        t.start()
        time.sleep(0.1)
        with pytest.raises(RuntimeError, match="busy"):
            s.recv(timeout=0)
        t.join()
