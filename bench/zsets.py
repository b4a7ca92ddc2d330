#!/usr/bin/env python3
"""Sorted sets: memory of many small zsets and of one large zset, ZADD throughput and range
latency, Vireo beside a reference Redis.

    bench/zsets.py [--small 100000] [--members 20] [--big 1000000] [--requests 200000]
                   [--skip-throughput]

Loads the same data into both servers through redis-cli --pipe: `--small` zsets of `--members`
members (`member:N`, integer scores; listpack encoding in both) and one zset of `--big` members
(`member:NNNNNNN`, scores `N * 1.5`; skiplist encoding), and prints used_memory per key (per
member for the big one) and the ratios. Then runs redis-benchmark's ZADD (random members into
one key) at -P 1 and -P 16, and ZRANGE / ZRANGEBYSCORE with 100-element windows over the big
zset, against both, back to back. Uses bench/compare.py's helpers (same cores, same reference).
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from compare import ServerProc, ensure_vireo, free_port, tool  # noqa: E402


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def small_gen(n, members):
    for i in range(n):
        args = [b"ZADD", b"zs:%08d" % i]
        for j in range(members):
            args += [b"%d" % j, b"member:%d" % j]
        yield resp(*args)


def big_gen(n):
    for i in range(0, n, 100):
        args = [b"ZADD", b"big"]
        for j in range(i, min(i + 100, n)):
            args += [repr(j * 1.5).encode(), b"member:%07d" % j]
        yield resp(*args)


def used(srv):
    return int(srv.info("memory")["used_memory"])


def bench(port, args, requests, pipeline, clients=50):
    cmd = ["taskset", "-c", "1", tool("redis-benchmark"), "-p", str(port), "-c", str(clients),
           "-n", str(requests), "-P", str(pipeline), "-r", "1000000", "--csv"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines()[1:]:
        cols = [c.strip('"') for c in line.split(",")]
        try:
            return float(cols[1]), float(cols[4])
        except (IndexError, ValueError):
            continue
    raise RuntimeError(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=100000)
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--big", type=int, default=1000000)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--skip-throughput", action="store_true",
                    help="memory only (deterministic); no redis-benchmark")
    a = ap.parse_args()
    # VIREO_BIN: measure that binary instead of building target/release/vireo-server.
    if os.environ.get("VIREO_BIN"):
        compare.VIREO = os.environ["VIREO_BIN"]
    else:
        ensure_vireo()
    mem = {}
    for kind in ("vireo", "redis"):
        srv = ServerProc(kind, free_port())
        try:
            time.sleep(0.3)
            base = used(srv)
            compare.pipe(srv.port, small_gen(a.small, a.members))
            time.sleep(0.3)
            after_small = used(srv)
            enc_small = srv.cmd("object", "encoding", "zs:00000000").strip()
            srv.cmd("flushall")
            time.sleep(0.3)
            base2 = used(srv)
            compare.pipe(srv.port, big_gen(a.big))
            time.sleep(0.3)
            after_big = used(srv)
            enc_big = srv.cmd("object", "encoding", "big").strip()
            mu = srv.cmd("memory", "usage", "big").strip()
            mem[kind] = ((after_small - base) / a.small, enc_small,
                         (after_big - base2) / a.big, enc_big, mu)
        finally:
            srv.stop()
    print(f"{a.small} zsets of {a.members} members; one zset of {a.big} members")
    print(f"{'server':<8}{'bytes/small zset':>18}{'enc':>10}{'bytes/member (big)':>20}"
          f"{'enc':>10}{'MEMORY USAGE big':>18}")
    for kind in ("vireo", "redis"):
        s, es, b, eb, mu = mem[kind]
        print(f"{kind:<8}{s:>18.1f}{es:>10}{b:>20.1f}{eb:>10}{mu:>18}")
    print(f"ratio vireo/redis: small {mem['vireo'][0] / mem['redis'][0]:.2f}, "
          f"big {mem['vireo'][2] / mem['redis'][2]:.2f}")
    if a.skip_throughput:
        return

    servers = {kind: ServerProc(kind, free_port()) for kind in ("vireo", "redis")}
    try:
        for srv in servers.values():
            compare.pipe(srv.port, big_gen(a.big))
        tests = [
            ("ZADD P1", ["ZADD", "bz", "__rand_int__", "member:__rand_int__"], 1),
            ("ZADD P16", ["ZADD", "bz", "__rand_int__", "member:__rand_int__"], 16),
            ("ZRANGE 100", ["ZRANGE", "big", "500000", "500099"], 1),
            ("ZRANGEBYSCORE 100",
             ["ZRANGEBYSCORE", "big", "750000", "+inf", "LIMIT", "0", "100"], 1),
        ]
        print(f"{'test':<20}{'vireo ops/s':>14}{'redis ops/s':>14}{'ratio':>8}"
              f"{'vireo p50':>11}{'redis p50':>11}")
        for name, args, p in tests:
            n = a.requests if p == 1 else a.requests * 5
            if name.startswith("ZRANGE"):
                n = a.requests // 4
            res = {k: bench(servers[k].port, args, n, p) for k in ("vireo", "redis")}
            (vr, vl), (rr, rl) = res["vireo"], res["redis"]
            print(f"{name:<20}{vr:>14.0f}{rr:>14.0f}{vr / rr:>8.2f}{vl:>11.3f}{rl:>11.3f}")
    finally:
        for srv in servers.values():
            srv.stop()


if __name__ == "__main__":
    main()
