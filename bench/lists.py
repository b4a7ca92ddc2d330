#!/usr/bin/env python3
"""Lists, side by side with a reference Redis.

    bench/lists.py memory [--lists 100000] [--elements 20]
    bench/lists.py throughput [--rounds 1] [--requests 100000] [--clients 50]
    bench/lists.py all

memory: loads the same lists (RPUSH of `--elements` short elements, 6-8 bytes each, into
`--lists` keys of 11 bytes) into a fresh Vireo and a fresh Redis through redis-cli --pipe and
prints used_memory per list and the ratio, plus MEMORY USAGE of one list on each side.
throughput: redis-benchmark LPUSH, RPOP and LRANGE_100 at -P 1 and -P 16, both servers on core 0
and the load generator on core 1 (helpers from bench/compare.py).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ServerProc, ensure_vireo, free_port, pipe, side_by_side  # noqa: E402


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def load_lists(port, n, elements):
    def gen():
        for i in range(n):
            cmd = b"*%d\r\n" % (elements + 2) + bulk(b"RPUSH") + bulk(b"list:%06d" % i)
            yield cmd + b"".join(bulk(b"e:%d:%d" % (j, i % 1000)) for j in range(elements))
    pipe(port, gen())


def memory(a):
    ensure_vireo()
    rows = {}
    for kind in ("vireo", "redis"):
        port = free_port()
        srv = ServerProc(kind, port)
        try:
            time.sleep(0.3)
            before = int(srv.info("memory")["used_memory"])
            load_lists(port, a.lists, a.elements)
            time.sleep(0.5)
            dbsize = int(srv.cmd("dbsize").strip())
            assert dbsize == a.lists, f"{kind}: dbsize {dbsize}"
            llen = int(srv.cmd("llen", "list:000007").strip())
            assert llen == a.elements, f"{kind}: llen {llen}"
            used = int(srv.info("memory")["used_memory"])
            usage = int(srv.cmd("memory", "usage", "list:000007").strip())
            enc = srv.cmd("object", "encoding", "list:000007").strip()
            rows[kind] = ((used - before) / a.lists, usage, enc)
        finally:
            srv.stop()
    print(f"{a.lists} lists of {a.elements} short elements (RPUSH)")
    print(f"{'server':<8}{'bytes/list':>12}{'MEMORY USAGE':>14}{'encoding':>12}")
    for kind, (per, usage, enc) in rows.items():
        print(f"{kind:<8}{per:>12.1f}{usage:>14}{enc:>12}")
    print(f"ratio vireo/redis used_memory per list: {rows['vireo'][0] / rows['redis'][0]:.2f}")


def throughput(a):
    side_by_side(["lpush", "rpop", "lrange_100"], a.rounds, a.requests, a.clients,
                 requests_for=lambda t, n: n // 5 if t == "lrange_100" else n)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    t = sub.add_parser("throughput")
    al = sub.add_parser("all")
    for p in (m, al):
        p.add_argument("--lists", type=int, default=100000)
        p.add_argument("--elements", type=int, default=20)
    for p in (t, al):
        p.add_argument("--rounds", type=int, default=1)
        p.add_argument("--requests", type=int, default=100000)
        p.add_argument("--clients", type=int, default=50)
    a = ap.parse_args()
    if a.what in ("memory", "all"):
        memory(a)
    if a.what in ("throughput", "all"):
        throughput(a)


if __name__ == "__main__":
    main()
