#!/usr/bin/env python3
"""Streams, side by side with a reference Redis.

    bench/streams.py memory [--entries 1000000]
    bench/streams.py throughput [--rounds 3] [--requests 200000] [--clients 50]
    bench/streams.py consume [--entries 1000000] [--consumers 4] [--count 100]
    bench/streams.py all

memory: loads one stream of `--entries` entries of three small fields
(`f1 v<i % 1000> f2 <i> f3 ok`, ids ten to a millisecond) into a fresh Vireo and a fresh Redis
through redis-cli --pipe, and prints the used_memory each gained, per entry, and the ratio, with
MEMORY USAGE and the block count (XINFO radix-tree-keys, which must agree) on each side.
throughput: redis-benchmark's arbitrary-command form, `XADD mystream * f1 v1 f2 v2 f3 v3`, at
-P 16, both servers on core 0 and the load generator on core 1 (bench/compare.py's helpers).
consume: the same stream, one consumer group, --consumers processes (on core 1) each looping
XREADGROUP COUNT n > then XACK of the ids it got, until all is read; entries/s and the ratio.

Vireo is $VIREO_BIN, else target/release/vireo-server (built first); the reference is
$VIREO_REFERENCE_REDIS or redis-server on PATH.
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ServerProc, ensure_vireo, free_port, pipe, side_by_side  # noqa: E402

XADD = ["XADD", "mystream", "*", "f1", "v1", "f2", "v2", "f3", "v3"]
BASE_MS = 1_700_000_000_000


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def load_stream(port, n):
    head = b"*9\r\n" + bulk(b"XADD") + bulk(b"s")

    def gen():
        for i in range(n):
            yield (head + bulk(b"%d-%d" % (BASE_MS + i // 10, i % 10)) + bulk(b"f1")
                   + bulk(b"v%d" % (i % 1000)) + bulk(b"f2") + bulk(b"%d" % i) + bulk(b"f3")
                   + bulk(b"ok"))
    pipe(port, gen())


def memory(a):
    ensure_vireo()
    rows = {}
    for kind in ("vireo", "redis"):
        srv = ServerProc(kind, free_port())
        try:
            time.sleep(0.3)
            before = int(srv.info("memory")["used_memory"])
            load_stream(srv.port, a.entries)
            time.sleep(0.5)
            xlen = int(srv.cmd("xlen", "s").strip())
            assert xlen == a.entries, f"{kind}: xlen {xlen}"
            used = int(srv.info("memory")["used_memory"]) - before
            usage = int(srv.cmd("memory", "usage", "s").strip())
            info = srv.cmd("xinfo", "stream", "s").split()
            blocks = int(info[info.index("radix-tree-keys") + 1])
            rows[kind] = (used, usage, blocks)
        finally:
            srv.stop()
    print(f"one stream of {a.entries} entries, 3 small fields each (f1 v<n> f2 <n> f3 ok)")
    print(f"{'server':<8}{'used_memory MiB':>17}{'bytes/entry':>13}{'MEMORY USAGE MiB':>18}"
          f"{'blocks':>8}")
    for kind, (used, usage, blocks) in rows.items():
        print(f"{kind:<8}{used / 2**20:>17.2f}{used / a.entries:>13.2f}{usage / 2**20:>18.2f}"
              f"{blocks:>8}")
    v, r = rows["vireo"], rows["redis"]
    print(f"ratio vireo/redis: used_memory {v[0] / r[0]:.2f}")
    if v[2] != r[2]:
        print(f"WARNING: block counts differ ({v[2]} vs {r[2]}): trimming with ~ would too")


def consumer(port, name, count, result):
    """One consumer: XREADGROUP COUNT n then XACK of what it got, until the group has nothing
    left for it. Puts (entries, seconds) in `result`."""
    import re
    ids_re = re.compile(rb"\*2\r\n\$\d+\r\n(\d+-\d+)\r\n")
    os.sched_setaffinity(0, {1})
    s = socket.create_connection(("127.0.0.1", port))
    read = enc("XREADGROUP", "GROUP", "g", name, "COUNT", count, "STREAMS", "s", ">")
    got = 0
    t0 = time.perf_counter()
    while True:
        s.sendall(read)
        buf = recv_reply(s)
        ids = ids_re.findall(buf)
        if not ids:
            break
        got += len(ids)
        s.sendall(enc("XACK", "s", "g", *ids))
        recv_reply(s)
    result.put((got, time.perf_counter() - t0))
    s.close()


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for x in args:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)


def recv_reply(s):
    """Reads one whole reply (enough RESP parsing for arrays, bulks, ints, nulls)."""
    buf = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
        if complete(buf, 0) is not None:
            return buf


def complete(b, i):
    """End offset of the reply starting at i, or None if incomplete."""
    e = b.find(b"\r\n", i)
    if e < 0:
        return None
    t, n = b[i:i + 1], int(b[i + 1:e]) if b[i:i + 1] in b"*$:" and b[i + 1:e] else 0
    if t == b"$":
        end = e + 2 + (n + 2 if n >= 0 else 0)
        return end if len(b) >= end else None
    if t == b"*":
        j = e + 2
        for _ in range(max(n, 0)):
            j = complete(b, j)
            if j is None:
                return None
        return j
    return e + 2


def consume_once(srv, a):
    """Loads the stream afresh and consumes it; returns entries/s."""
    import multiprocessing as mp
    srv.cmd("del", "s")
    load_stream(srv.port, a.entries)
    srv.cmd("xgroup", "create", "s", "g", "0")
    q = mp.Queue()
    procs = [mp.Process(target=consumer, args=(srv.port, f"c{i}", a.count, q))
             for i in range(a.consumers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    total = sum(r[0] for r in res)
    assert total == a.entries, f"{srv.kind}: consumed {total}"
    pending = srv.cmd("xpending", "s", "g").split()[0]
    assert pending == "0", f"{srv.kind}: {pending} left pending"
    return total / elapsed


def consume(a):
    """XREADGROUP + XACK consumption of --entries entries by --consumers consumers, --rounds
    times per server, alternating which server goes first; medians."""
    import statistics
    ensure_vireo()
    servers = {kind: ServerProc(kind, free_port()) for kind in ("vireo", "redis")}
    rates = {kind: [] for kind in servers}
    try:
        for r in range(a.rounds):
            order = ("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")
            for kind in order:
                rates[kind].append(consume_once(servers[kind], a))
    finally:
        for srv in servers.values():
            srv.stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{a.entries} entries consumed by {a.consumers} consumers "
          f"(XREADGROUP COUNT {a.count} + XACK), median of {a.rounds}")
    for kind, r in med.items():
        print(f"  {kind:6} {r:10.0f} entries/s")
    print(f"  ratio vireo/redis: {med['vireo'] / med['redis']:.2f}")


def throughput(a):
    side_by_side(["xadd"], a.rounds, a.requests, a.clients, commands={"xadd": XADD},
                 pipelines=(16,))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("memory", "throughput", "consume", "all"):
        t = sub.add_parser(name)
        t.add_argument("--entries", type=int, default=1000000)
        t.add_argument("--rounds", type=int, default=3)
        t.add_argument("--requests", type=int, default=200000)
        t.add_argument("--clients", type=int, default=50)
        t.add_argument("--consumers", type=int, default=4)
        t.add_argument("--count", type=int, default=100)
    a = ap.parse_args()
    if a.what in ("memory", "all"):
        memory(a)
    if a.what in ("throughput", "all"):
        throughput(a)
    if a.what in ("consume", "all"):
        consume(a)


if __name__ == "__main__":
    main()
