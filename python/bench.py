# SPDX-License-Identifier: MIT
"""Python request/reply round trips: shmq against multiprocessing.Pipe and a
Unix socket pair, in one run. Run by hand (not in CI):

    python3 python/bench.py [--n 20000] [--size 64] [--cpus 0,1]

Two processes, pinned to two different CPUs (os.sched_setaffinity); the
server echoes every message, the client times each round trip
(perf_counter_ns) after a warm-up and checks every reply's bytes. Prints
median and p99 per transport and each one's ratio to shmq busy-poll and to
shmq adaptive (the default, spin 50 us then sleep).
"""
import argparse
import os
import platform
import signal
import socket
import sys
import time
from multiprocessing import Pipe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shmq  # noqa: E402


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# ---- servers (in the child) -------------------------------------------------
def serve_shmq(name, spin):
    with shmq.Server(name=name, spin_us=spin) as s:
        for m in s:
            if m.is_request:
                s.reply(m, m.data)


def serve_pipe(conn):
    try:
        while True:
            conn.send_bytes(conn.recv_bytes())
    except EOFError:
        pass


def recv_exact(sock, n, buf):
    view = memoryview(buf)[:n]
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError
        got += k
    return bytes(view)


def serve_socket(sock, size):
    buf = bytearray(size)
    try:
        while True:
            sock.sendall(recv_exact(sock, size, buf))
    except (EOFError, ConnectionError):
        pass


# ---- clients (timed) ---------------------------------------------------------
def timed(roundtrip, payload, n, warm):
    for _ in range(warm):
        roundtrip(payload)
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        t = clock()
        rep = roundtrip(payload)
        out.append(clock() - t)
        if rep != payload:
            raise AssertionError("reply %d differs" % i)
    return out


def fork_server(cpu, close, fn, *args):
    pid = os.fork()
    if pid == 0:
        try:
            if close is not None:
                close.close()  # the client's end: EOF when the client closes
            pin(cpu)
            fn(*args)
        finally:
            os._exit(0)
    return pid


def run_shmq(label, spin, a, payload):
    name = "shmq-bench-py-%d" % os.getpid()
    pid = fork_server(a.cpus[1], None, serve_shmq, name, spin)
    try:
        with shmq.Client(name=name, spin_us=spin, timeout=10) as c:
            return timed(lambda p: c.request(p), payload, a.n, a.warm)
    finally:
        os.kill(pid, signal.SIGINT)
        os.waitpid(pid, 0)


def run_pipe(a, payload):
    mine, theirs = Pipe()
    pid = fork_server(a.cpus[1], mine, serve_pipe, theirs)
    theirs.close()
    try:
        def rt(p):
            mine.send_bytes(p)
            return mine.recv_bytes()
        return timed(rt, payload, a.n, a.warm)
    finally:
        mine.close()
        os.waitpid(pid, 0)


def run_socket(a, payload):
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = fork_server(a.cpus[1], mine, serve_socket, theirs, len(payload))
    theirs.close()
    buf = bytearray(len(payload))
    try:
        def rt(p):
            mine.sendall(p)
            return recv_exact(mine, len(p), buf)
        return timed(rt, payload, a.n, a.warm)
    finally:
        mine.close()
        os.waitpid(pid, 0)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d CPUs, Linux %s, Python %s (%s), libshmq %s" % (
        model, os.cpu_count(), platform.release(), platform.python_version(),
        sys.executable, shmq.version())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000, help="timed round trips per transport")
    p.add_argument("--warm", type=int, default=2000)
    p.add_argument("--size", type=int, default=64, help="message bytes")
    p.add_argument("--cpus", default="0,1", help="client CPU,server CPU ('' to not pin)")
    a = p.parse_args()
    a.cpus = [int(x) for x in a.cpus.split(",")] if a.cpus else [None, None]
    pin(a.cpus[0])
    payload = bytes((i * 7 + 1) & 0xFF for i in range(a.size))

    rows = [
        ("shmq busy-poll", lambda: run_shmq("busy", shmq.SPIN_FOREVER, a, payload)),
        ("shmq adaptive (spin 50 us, default)", lambda: run_shmq("adaptive", 50, a, payload)),
        ("shmq blocking (sleep at once)", lambda: run_shmq("blocking", 0, a, payload)),
        ("multiprocessing.Pipe", lambda: run_pipe(a, payload)),
        ("socket.socketpair (AF_UNIX stream)", lambda: run_socket(a, payload)),
    ]
    print("machine: %s" % machine())
    print("%d-byte request/reply round trips, %d timed after %d warm-up, CPUs %s\n"
          % (a.size, a.n, a.warm, a.cpus))
    res = []
    for label, fn in rows:
        xs = fn()
        res.append((label, pct(xs, 0.5) / 1000, pct(xs, 0.99) / 1000))
    busy, adaptive = res[0][1], res[1][1]
    print("| transport | p50 µs | p99 µs | p50 vs shmq busy-poll | p50 vs shmq adaptive |")
    print("| --- | --- | --- | --- | --- |")
    for label, p50, p99 in res:
        print("| %s | %.1f | %.1f | %.2f× | %.2f× |" % (label, p50, p99, p50 / busy, p50 / adaptive))


if __name__ == "__main__":
    main()
