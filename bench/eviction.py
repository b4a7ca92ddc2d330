#!/usr/bin/env python3
"""maxmemory under a steady write load, Vireo next to a reference Redis.

    bench/eviction.py [--maxmemory-mb 32] [--writes-factor 3] [--value-size 100]
                      [--policies allkeys-lru,volatile-ttl,...] [--redis-port 7600]

For each policy, starts each server with `maxmemory` and the policy, then writes random keys
with pipelined SETs (half of them with a TTL, so that the volatile policies have something to
evict) until it has written `--writes-factor` times `maxmemory` worth of data. It samples INFO
`used_memory` after every pipeline of 1000 writes and prints, per server: the highest and the
final used_memory/maxmemory, evicted_keys, the keys left and the OOM errors the writes got.

The reference server is $VIREO_REFERENCE_REDIS or `redis-server` on PATH; Vireo is $VIREO_BIN
or target/release/vireo-server (built if missing). Needs redis-py.
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIREO = os.environ.get("VIREO_BIN") or os.path.join(ROOT, "target", "release", "vireo-server")
POLICIES = [
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "noeviction",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reference_bin():
    b = os.environ.get("VIREO_REFERENCE_REDIS") or shutil.which("redis-server")
    if not b:
        sys.exit("no reference redis-server: set VIREO_REFERENCE_REDIS or put redis-server on PATH")
    return b


def start(kind, port):
    exe = VIREO if kind == "vireo" else reference_bin()
    cmd = [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port)
    for _ in range(200):
        try:
            r.ping()
            return p, r
        except redis.ConnectionError:
            time.sleep(0.02)
    p.kill()
    sys.exit(f"{kind} did not start on port {port}")


def stop(p, r):
    try:
        r.shutdown(nosave=True)
    except Exception:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()


def run(kind, port, policy, args):
    p, r = start(kind, port)
    try:
        maxmem = args.maxmemory_mb * 1024 * 1024
        r.config_set("maxmemory-policy", policy)
        r.config_set("maxmemory", maxmem)
        rng = random.Random(42)
        value = b"v" * args.value_size
        total = int(args.writes_factor * maxmem / (args.value_size + 50))
        space = total * 4
        peak = 0.0
        oom = 0
        written = 0
        while written < total:
            pipe = r.pipeline(transaction=False)
            for _ in range(1000):
                k = b"key:%d" % rng.randrange(space)
                if rng.random() < 0.5:
                    pipe.set(k, value, ex=rng.randrange(1000, 100000))
                else:
                    pipe.set(k, value)
            for res in pipe.execute(raise_on_error=False):
                if isinstance(res, redis.ResponseError):
                    oom += 1
            written += 1000
            used = r.info("memory")["used_memory"]
            peak = max(peak, used / maxmem)
        info = r.info()
        return {
            "peak": peak,
            "final": info["used_memory"] / maxmem,
            "evicted": info["evicted_keys"],
            "keys": r.dbsize(),
            "oom": oom,
        }
    finally:
        stop(p, r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxmemory-mb", type=int, default=32)
    ap.add_argument("--writes-factor", type=float, default=3.0)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--redis-port", type=int, default=0, help="port for the reference (default: free)")
    args = ap.parse_args()
    if not os.path.exists(VIREO):
        subprocess.check_call(["cargo", "build", "--release", "-p", "vireo-server"], cwd=ROOT)
    print(f"maxmemory {args.maxmemory_mb} MB, {args.value_size}-byte values, "
          f"{args.writes_factor}x maxmemory written")
    hdr = f"{'policy':<16} {'server':<6} {'peak used/max':>13} {'final used/max':>14} " \
          f"{'evicted_keys':>12} {'keys':>8} {'OOM errors':>10}"
    print(hdr)
    print("-" * len(hdr))
    for policy in args.policies.split(","):
        for kind in ("vireo", "redis"):
            port = args.redis_port if (kind == "redis" and args.redis_port) else free_port()
            m = run(kind, port, policy, args)
            print(f"{policy:<16} {kind:<6} {m['peak']:>13.3f} {m['final']:>14.3f} "
                  f"{m['evicted']:>12} {m['keys']:>8} {m['oom']:>10}", flush=True)


if __name__ == "__main__":
    main()
