# SPDX-License-Identifier: MIT
"""Python -> C -> NATS -> C -> Python, byte-exact and exactly once.

A Python shmq server (echo) on endpoint A; `shmq bridge export` serves A on a
NATS subject; `shmq bridge import` offers that subject as endpoint B; a Python
client of B sends requests with NUL bytes, empty ones and random bytes. Every
reply must be its own request's bytes, and the server must have seen each
request exactly once. Needs nats-server and shmq-bridge (skipped otherwise).
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import shmq

from conftest import new_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_bridge():
    cands = [os.environ.get("SHMQ_BRIDGE", "")]
    lib = os.environ.get("SHMQ_LIBRARY", "")
    if lib:
        cands.append(os.path.join(lib if os.path.isdir(lib) else os.path.dirname(lib),
                                  "shmq-bridge"))
    cands.append(os.path.join(ROOT, "build", "shmq-bridge"))
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    return shutil.which("shmq-bridge")


BRIDGE = find_bridge()
NATS = shutil.which("nats-server")
pytestmark = pytest.mark.skipif(not (BRIDGE and NATS),
                                reason="needs nats-server and shmq-bridge")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, deadline):
    while time.monotonic() < deadline:
        assert proc.poll() is None, "nats-server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nats-server did not listen")


def stop(proc, sig=signal.SIGTERM, timeout=10):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("%s did not stop" % proc.args[0])


def payloads(n, seed):
    rnd = random.Random(seed)
    out = [b"", b"\0", b"\0\0\0", b"a\0b\0\0c", b"\xff\0\x01"]
    while len(out) < n:
        size = rnd.choice((1, 7, 64, 1000, 3000))
        b = bytearray(rnd.getrandbits(8) for _ in range(size))
        for i in range(0, size, rnd.randint(1, 9)):
            b[i] = 0  # plenty of NUL bytes
        out.append(bytes(b))
    return out


def test_python_to_nats_and_back():
    port = free_port()
    url = "nats://127.0.0.1:%d" % port
    subject = "shmq.test.py.%d" % os.getpid()
    a, b = new_name(), new_name()
    procs = []
    seen = []
    stop_server = threading.Event()
    nats = subprocess.Popen([NATS, "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(nats)
    try:
        wait_port(port, nats, time.monotonic() + 10)
        server = shmq.Server(name=a)

        def serve():
            while not stop_server.is_set():
                try:
                    msg = server.recv(timeout=0.05)
                except shmq.Timeout:
                    continue
                seen.append(msg.data)
                if msg.is_request:
                    server.reply(msg, msg.data)

        t = threading.Thread(target=serve)
        t.start()
        try:
            export = subprocess.Popen([BRIDGE, "export", "--name", a, "--subject", subject,
                                       "--nats", url, "--quiet"], stderr=subprocess.PIPE)
            procs.append(export)
            imp = subprocess.Popen([BRIDGE, "import", "--subject", subject, "--name", b,
                                    "--nats", url, "--quiet"], stderr=subprocess.PIPE)
            procs.append(imp)
            sent = payloads(300, os.getpid())
            with shmq.Client(name=b, timeout=10) as c:
                # The export bridge subscribes once connected: until then a
                # request gets the bridge's "no responders" error reply.
                deadline = time.monotonic() + 10
                while True:
                    r = c.request(b"warm-up", timeout=5)
                    if r == b"warm-up":
                        break
                    assert r.startswith(b"\0shmq-bridge-error: "), r
                    assert time.monotonic() < deadline, "export bridge never answered"
                    time.sleep(0.05)
                for p in sent:
                    assert c.request(p, timeout=10) == p
                # Pipelined too, collected in any order.
                ids = {c.send_request(p): p for p in sent[:64]}
                while ids:
                    rid, data = c.recv_reply(timeout=10)
                    assert data == ids.pop(rid)
            assert stop(imp) == 0, imp.stderr.read().decode()
            assert stop(export) == 0, export.stderr.read().decode()
        finally:
            stop_server.set()
            t.join(timeout=10)
            server.close()
        # Exactly once, byte-exact, in order, at the server.
        real = [d for d in seen if d != b"warm-up"]
        assert real == sent + sent[:64] or sorted(real[len(sent):]) == sorted(sent[:64])
        assert real[:len(sent)] == sent
        assert len(real) == len(sent) + 64
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in (a, b):
            try:
                shmq.remove(name=n, force=True)
            except shmq.Error:
                pass
