# SPDX-License-Identifier: MIT
"""The other process of a test.

  peer.py server (--name N | --key K) [--ring-size B] [--spin-us U]
      An echo server. Requests: b"sleep:S:payload" sleeps S seconds, then
      answers payload; b"rev:N:..." is held until N such requests have come,
      then they are all answered, the last first; b"push:K" sends K messages
      of the server's own (b"push-0"...) before answering b"pushed";
      anything else is echoed. One-way messages are counted. SIGTERM shuts
      the server down (shmq.Server.shutdown from the signal handler); once
      it has drained (a sleep is cut short), it prints "received COUNT CRC32
      SLOT.GEN=CRC32,..." of the one-way messages (all, and per client, in
      the order received) and exits 0.
  peer.py stall (--name N | --key K)
      A server that never receives; SIGTERM closes it.
  peer.py ki WHAT (--name N | --key K)
      Block in one call (WHAT: server-recv, server-recv-busy, client-recv,
      client-request, client-flush) until SIGINT; then print "KI <monotonic
      time of the KeyboardInterrupt>" and, for a client, "inflight N".
Prints "ready" when ready.
"""
import argparse
import signal
import sys
import time
import zlib

import shmq


def endpoint(a):
    return {"name": a.name} if a.name else {"key": a.key}


def serve(a):
    server = shmq.Server(ring_size=a.ring_size, spin_us=a.spin_us, **endpoint(a))
    stopping = []

    def on_term(*_):
        stopping.append(1)
        server.shutdown()
    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    count, crc, held, per = 0, 0, [], {}
    with server:
        for msg in server:
            if not msg.is_request:
                count += 1
                crc = zlib.crc32(msg.data, crc)
                per[msg.from_] = zlib.crc32(msg.data, per.get(msg.from_, 0))
                continue
            d = msg.data
            if d.startswith(b"sleep:"):
                _, s, payload = d.split(b":", 2)
                end = time.monotonic() + float(s)
                while not stopping and time.monotonic() < end:
                    time.sleep(0.01)
                server.reply(msg, payload, timeout=5)
            elif d.startswith(b"rev:"):
                held.append(msg)
                if len(held) == int(d.split(b":")[1]):
                    for m in reversed(held):
                        server.reply(m, m.data, timeout=5)
                    held = []
            elif d.startswith(b"push:"):
                for i in range(int(d.split(b":")[1])):
                    server.send(msg.from_, b"push-%d" % i, timeout=5)
                server.reply(msg, b"pushed", timeout=5)
            else:
                server.reply(msg, d, timeout=5)
    print("received %d %d %s" % (count, crc, ",".join(
        "%d.%d=%d" % (k.slot, k.gen, v) for k, v in sorted(per.items()))), flush=True)


def stall(a):
    server = shmq.Server(**endpoint(a))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    with server:
        while True:
            time.sleep(1)


def ki(a):
    what = a.what
    if what.startswith("server-"):
        spin = shmq.SPIN_FOREVER if what == "server-recv-busy" else 50
        handle = shmq.Server(spin_us=spin, **endpoint(a))
        call = handle.recv
    else:
        handle = shmq.Client(timeout=5, **endpoint(a))
        if what == "client-recv":
            call = handle.recv
        elif what == "client-request":
            def call():
                return handle.request(b"sleep:30:x")
        elif what == "client-flush":
            def call():
                # Fill the ring of a server that never receives, then linger.
                while True:
                    try:
                        handle.send(b"x" * 1000, timeout=0)
                    except shmq.WouldBlock:
                        break
                handle.flush()
    with handle:
        print("ready", flush=True)
        try:
            call()
        except KeyboardInterrupt:
            t = time.monotonic()
            print("KI %.6f" % t, flush=True)
            if isinstance(handle, shmq.Client):
                print("inflight %d" % handle.stats().inflight, flush=True)
            return 0
    print("no KeyboardInterrupt", flush=True)
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role")
    p.add_argument("what", nargs="?")
    p.add_argument("--name")
    p.add_argument("--key", type=int)
    p.add_argument("--ring-size", type=int, default=65536)
    p.add_argument("--spin-us", type=int, default=50)
    a = p.parse_args()
    return {"server": serve, "stall": stall, "ki": ki}[a.role](a) or 0


if __name__ == "__main__":
    sys.exit(main())
