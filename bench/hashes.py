#!/usr/bin/env python3
"""Hashes: memory of many small hashes and HSET throughput, Vireo beside a reference Redis.

    bench/hashes.py [--hashes 100000] [--fields 10] [--requests 200000] [--rounds 3]

Loads the same hashes (10 short fields each: `field:N` -> `value:NNNNNNNN`) into both servers
through redis-cli --pipe and prints used_memory per hash and the ratio, then runs
redis-benchmark's HSET test at -P 1 and -P 16 against both, back to back, and prints the
medians and ratios. Uses bench/compare.py's helpers (same cores, same reference server).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ServerProc, ensure_vireo, free_port, pipe, side_by_side  # noqa: E402


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def load_hashes(port, n, fields):
    def gen():
        for i in range(n):
            args = [b"HSET", b"h:%08d" % i]
            for f in range(fields):
                args += [b"field:%d" % f, b"value:%08d" % (i + f)]
            yield resp(*args)
    pipe(port, gen())


def memory(a):
    rows = {}
    for kind in ("vireo", "redis"):
        srv = ServerProc(kind, free_port())
        try:
            time.sleep(0.3)
            before = int(srv.info("memory")["used_memory"])
            load_hashes(srv.port, a.hashes, a.fields)
            time.sleep(0.5)
            assert int(srv.cmd("dbsize").strip()) == a.hashes
            enc = srv.cmd("object", "encoding", "h:00000000").strip()
            usage = srv.cmd("memory", "usage", "h:00000000").strip()
            after = int(srv.info("memory")["used_memory"])
            rows[kind] = ((after - before) / a.hashes, enc, usage)
        finally:
            srv.stop()
    print(f"{a.hashes} hashes of {a.fields} fields (field:N -> value:NNNNNNNN)")
    print(f"{'server':<8}{'bytes/hash':>12}{'encoding':>12}{'MEMORY USAGE':>14}")
    for kind, (per, enc, usage) in rows.items():
        print(f"{kind:<8}{per:>12.1f}{enc:>12}{usage:>14}")
    print(f"ratio vireo/redis bytes/hash: {rows['vireo'][0] / rows['redis'][0]:.2f}")


def throughput(a):
    side_by_side(["hset"], a.rounds, a.requests, a.clients)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hashes", type=int, default=100000)
    ap.add_argument("--fields", type=int, default=10)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--skip-throughput", action="store_true")
    a = ap.parse_args()
    ensure_vireo()
    memory(a)
    if not a.skip_throughput:
        throughput(a)


if __name__ == "__main__":
    main()
