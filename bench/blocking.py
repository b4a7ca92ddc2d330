#!/usr/bin/env python3
"""Blocked-client wake-ups, Vireo vs a reference Redis, side by side.

    bench/blocking.py [--clients 1000] [--rounds 30] [--repeat 3]

N clients each block in `BLPOP key:<i> 0` on their own key; one producer sends
`LPUSH key:<i> v` for every key in one pipeline; each waiter reads its reply and blocks again.
A round ends when every waiter has been served once. Prints wake-ups per second (median of
--repeat runs), the ratio Vireo/Redis, and the worst wait of any client in a round (a starved
client would show as a timeout: the script fails if a waiter is not served within 10 s).
Servers on core 0, this load generator on core 1 (see bench/compare.py).
"""

import argparse
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ServerProc, ensure_vireo, free_port  # noqa: E402


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def run(port, n, rounds):
    waiters = []
    sel = selectors.DefaultSelector()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        waiters.append(s)
        sel.register(s, selectors.EVENT_READ, i)
    producer = socket.create_connection(("127.0.0.1", port))
    blpop = [enc("BLPOP", f"key:{i}", 0) for i in range(n)]
    push = b"".join(enc("LPUSH", f"key:{i}", "v") for i in range(n))
    expected = len(b"*2\r\n$%d\r\nkey:%d\r\n$1\r\nv\r\n" % (0, 0))  # sized per key below
    sizes = [len(b"*2\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(f"key:{i}"), f"key:{i}".encode()))
             for i in range(n)]
    del expected
    for i, s in enumerate(waiters):
        s.sendall(blpop[i])

    def wait_all_blocked():
        deadline = time.time() + 10
        while True:
            producer.sendall(enc("INFO", "clients"))
            info = producer.recv(65536).decode()
            if f"blocked_clients:{n}\r\n" in info:
                return
            if time.time() > deadline:
                raise RuntimeError("clients did not block")
            time.sleep(0.005)

    wait_all_blocked()
    total = 0.0
    worst = 0.0
    for _ in range(rounds):
        pending = set(range(n))
        bufs = [b""] * n
        t0 = time.perf_counter()
        producer.sendall(push)
        while pending:
            events = sel.select(timeout=10)
            if not events:
                raise RuntimeError(f"{len(pending)} waiters starved for 10 s")
            for key, _ in events:
                i = key.data
                bufs[i] += key.fileobj.recv(4096)
                if i in pending and len(bufs[i]) >= sizes[i]:
                    pending.discard(i)
        elapsed = time.perf_counter() - t0
        total += elapsed
        worst = max(worst, elapsed)
        # Read the producer's LPUSH replies, then block everyone again.
        need = sum(len(b":1\r\n") for _ in range(n))
        got = b""
        while len(got) < need:
            got += producer.recv(65536)
        for i, s in enumerate(waiters):
            s.sendall(blpop[i])
        wait_all_blocked()
    for s in waiters:
        s.close()
    producer.close()
    return n * rounds / total, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    ensure_vireo()
    os.sched_setaffinity(0, {1})
    servers = {kind: ServerProc(kind, free_port()) for kind in ("vireo", "redis")}
    try:
        for srv in servers.values():
            srv.cmd("config", "set", "maxclients", "10000")
        res = {k: [] for k in servers}
        for r in range(a.repeat):
            order = ("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")
            for kind in order:
                res[kind].append(run(servers[kind].port, a.clients, a.rounds))
    finally:
        for srv in servers.values():
            srv.stop()
    med = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    worst = {k: max(x[1] for x in v) for k, v in res.items()}
    print(f"{a.clients} clients blocked in BLPOP on distinct keys, woken by one LPUSH pipeline")
    for k in ("vireo", "redis"):
        print(f"  {k:6} {med[k]:10.0f} wake-ups/s   slowest round {worst[k] * 1000:7.1f} ms")
    print(f"  ratio vireo/redis: {med['vireo'] / med['redis']:.2f}")


if __name__ == "__main__":
    main()
