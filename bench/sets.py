#!/usr/bin/env python3
"""Sets, Vireo vs a reference Redis, side by side.

    bench/sets.py [--sets 100000] [--members 20] [--requests 200000] [--rounds 3]
                  [--skip-throughput]

1. Memory: loads the same N sets of M small integers (intset encoding in both) into each
   server and prints used_memory per set and the ratio Vireo/Redis.
2. redis-benchmark SADD and SPOP at -P 1 and -P 16, each server measured right after the other.
3. SINTER of two 100k-member sets (50k in common, hashtable encoding): median latency of
   whole round trips.

Vireo is $VIREO_BIN, else target/release/vireo-server (built if missing); the reference is
$VIREO_REFERENCE_REDIS or redis-server on PATH (see bench/compare.py).
"""

import argparse
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def enc(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def reply(self):
        line = self.f.readline()
        t = line[:1]
        if t in b"*~%":
            n = int(line[1:-2])
            for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
                self.reply()
        elif t == b"$":
            n = int(line[1:-2])
            if n >= 0:
                self.f.read(n + 2)
        return line

    def pipeline(self, cmds, batch=1000):
        for i in range(0, len(cmds), batch):
            chunk = cmds[i:i + batch]
            self.s.sendall(b"".join(enc(c) for c in chunk))
            for _ in chunk:
                self.reply()

    def call(self, *args):
        self.s.sendall(enc(args))
        return self.reply()


def used_memory(srv):
    return int(srv.info("memory")["used_memory"])


def memory(servers, a):
    # Members under `--max` (default 1000: 2-byte in both servers; under 128 Vireo uses 1 byte).
    cmds = [["SADD", "s:%d" % i] + [str((i * 7 + j * 13) % a.max) for j in range(a.members)]
            for i in range(a.sets)]
    res = {}
    for kind, srv in servers.items():
        c = Conn(srv.port)
        c.call("FLUSHALL")
        time.sleep(0.2)
        before = used_memory(srv)
        c.pipeline(cmds)
        time.sleep(0.2)
        after = used_memory(srv)
        enc_name = srv.cmd("object", "encoding", "s:1").strip()
        usage = srv.cmd("memory", "usage", "s:1").strip()
        c.call("FLUSHALL")
        res[kind] = (after - before) / a.sets
        print(f"  {kind:6} used_memory per set: {res[kind]:7.1f} B  "
              f"(MEMORY USAGE s:1 = {usage}, encoding {enc_name!r})")
    print(f"  ratio vireo/redis: {res['vireo'] / res['redis']:.3f}")


def throughput(servers, a):
    for test in ("sadd", "spop"):
        for p in (1, 16):
            figs = {k: [] for k in servers}
            for r in range(a.rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(list(servers)))
                for kind in order:
                    rps = compare.run_benchmark(servers[kind].port, test, p, a.requests, 50)[0]
                    figs[kind].append(rps)
            v, rd = statistics.median(figs["vireo"]), statistics.median(figs["redis"])
            print(f"  {test.upper():5} -P {p:<2}  vireo {v:11.0f} rps   redis {rd:11.0f} rps   "
                  f"ratio {v / rd:.2f}")


def sinter(servers, a):
    for kind, srv in servers.items():
        c = Conn(srv.port)
        c.call("FLUSHALL")
        for key, lo in (("a", 0), ("b", 50000)):
            cmds = [["SADD", key] + [str(n) for n in range(lo + i, lo + i + 1000)]
                    for i in range(0, 100000, 1000)]
            c.pipeline(cmds, batch=10)
        assert c.call("SCARD", "a").strip() == b":100000"
        times = []
        for _ in range(21):
            t = time.perf_counter()
            head = c.call("SINTER", "a", "b")
            times.append((time.perf_counter() - t) * 1000)
        assert head.strip()[1:] == b"50000", head
        c.call("FLUSHALL")
        print(f"  {kind:6} SINTER a b (100k x 100k, 50k common): median {statistics.median(times):.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=100000)
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--max", type=int, default=1000, help="members are in 0..max")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-throughput", action="store_true",
                    help="memory only (deterministic); no redis-benchmark, no SINTER")
    a = ap.parse_args()
    if os.environ.get("VIREO_BIN"):
        compare.VIREO = os.environ["VIREO_BIN"]
    elif not os.path.exists(compare.VIREO):
        compare.ensure_vireo()
    servers = {k: compare.ServerProc(k, compare.free_port()) for k in ("vireo", "redis")}
    try:
        print(f"memory: {a.sets} sets of {a.members} small integers in 0..{a.max}")
        memory(servers, a)
        if a.skip_throughput:
            return
        print("redis-benchmark, 50 clients")
        throughput(servers, a)
        print("SINTER latency")
        sinter(servers, a)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
