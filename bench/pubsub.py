#!/usr/bin/env python3
"""Pub/Sub fan-out, side by side with a reference Redis.

    bench/pubsub.py [--rounds 3] [--publishes 100000] [--subscribers 100] [--payload 16]
                    [--clients 4] [--pipeline 16]

`--subscribers` connections SUBSCRIBE to one channel; redis-benchmark then sends `--publishes`
PUBLISH commands to it (`--clients` connections, `--pipeline` deep). The figure is messages
delivered per second: publishes x subscribers, over the time from the first PUBLISH until the
last message has reached every subscriber. Subscribers count bytes rather than parse (every
message has the same size), so one Python process drains them all without becoming the limit
before the server does; `bench cpu` shows how busy that process was (near 100%: the figure is
the load generator's, not the server's). Output buffer limits are lifted on both servers so that
a subscriber falling behind is measured, not disconnected.

The servers run on core 0 (taskset -c 0), the publisher and the subscribers on core 1, as in
bench/compare.py (whose ServerProc/free_port/tool helpers this uses). Each measurement of one
server is followed at once by the same measurement of the other; figures are medians.
"""

import argparse
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ServerProc, cpu_seconds, ensure_vireo, free_port, tool  # noqa: E402

CHANNEL = b"bench.channel"


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def message_len(payload):
    return len(b"*3\r\n" + bulk(b"message") + bulk(CHANNEL) + bulk(b"x" * payload))


def subscribe_all(port, n):
    socks = []
    confirm = b"*3\r\n" + bulk(b"subscribe") + bulk(CHANNEL) + b":1\r\n"
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.sendall(b"*2\r\n" + bulk(b"SUBSCRIBE") + bulk(CHANNEL))
        got = b""
        while len(got) < len(confirm):
            got += s.recv(len(confirm) - len(got))
        assert got == confirm, got
        s.setblocking(False)
        socks.append(s)
    return socks


def measure(srv, a):
    """Returns (messages delivered/s, publishes/s, server CPU ns per delivered message, share of
    its core the subscriber-draining process used)."""
    srv.cmd("config", "set", "client-output-buffer-limit", "pubsub 0 0 0")
    socks = subscribe_all(srv.port, a.subscribers)
    expected = a.publishes * a.subscribers * message_len(a.payload)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    payload = "x" * a.payload
    bench = subprocess.Popen(
        ["taskset", "-c", "1", tool("redis-benchmark"), "-p", str(srv.port), "-c", str(a.clients),
         "-n", str(a.publishes), "-P", str(a.pipeline), "--csv", "PUBLISH", CHANNEL.decode(),
         payload],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t0 = time.monotonic()
    s0 = cpu_seconds(srv.proc.pid)
    c0 = time.process_time()
    got = 0
    deadline = t0 + 300
    while got < expected and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            try:
                d = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not d:
                raise RuntimeError(f"{srv.kind}: a subscriber was disconnected")
            got += len(d)
    elapsed = time.monotonic() - t0
    srv_cpu = cpu_seconds(srv.proc.pid) - s0
    drain_share = (time.process_time() - c0) / elapsed
    out, _ = bench.communicate()
    for s in socks:
        s.close()
    if got < expected:
        raise RuntimeError(f"{srv.kind}: {got} of {expected} bytes delivered")
    pub_rps = float([c.strip('"') for c in out.strip().splitlines()[-1].split(",")][1])
    delivered = a.publishes * a.subscribers
    return delivered / elapsed, pub_rps, srv_cpu * 1e9 / delivered, drain_share


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--publishes", type=int, default=100000)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--payload", type=int, default=16)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--pipeline", type=int, default=16)
    a = ap.parse_args()
    ensure_vireo()
    os.sched_setaffinity(0, {1})
    servers = {kind: ServerProc(kind, free_port()) for kind in ("vireo", "redis")}
    results = {"vireo": [], "redis": []}
    try:
        for r in range(a.rounds):
            order = ("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")
            for kind in order:
                results[kind].append(measure(servers[kind], a))
                time.sleep(0.5)
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    finally:
        for srv in servers.values():
            srv.stop()
    med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in results.items()}
    v, rd = med["vireo"], med["redis"]
    print(f"PUBLISH to {a.subscribers} subscribers, {a.payload}-byte payload, "
          f"{a.clients} publishers -P {a.pipeline}, {a.publishes} publishes, {a.rounds} round(s)")
    print(f"{'':<22}{'vireo':>14}{'redis':>14}{'ratio':>8}")
    print(f"{'messages delivered/s':<22}{v[0]:>14.0f}{rd[0]:>14.0f}{v[0] / rd[0]:>8.2f}")
    print(f"{'publishes/s':<22}{v[1]:>14.0f}{rd[1]:>14.0f}{v[1] / rd[1]:>8.2f}")
    # A cpu ratio above 1 means Vireo spends less server CPU per delivered message.
    print(f"{'server ns/message':<22}{v[2]:>14.1f}{rd[2]:>14.1f}{rd[2] / v[2]:>8.2f}")
    print(f"{'bench cpu':<22}{v[3] * 100:>13.0f}%{rd[3] * 100:>13.0f}%")


if __name__ == "__main__":
    main()
