#!/usr/bin/env python3
"""Persistence figures, Vireo and a reference Redis side by side (see bench/compare.py for how
servers are found, pinned and started).

    bench/persistence.py load   [--keys 1000000] [--rounds 3]
        Start-up time on one RDB file of --keys mixed-type keys (strings, lists, hashes, sets,
        sorted sets, a fifth each) written by Redis: both servers load the same file.
    bench/persistence.py bgsave [--keys 1000000] [--rounds 3]
        BGSAVE duration of that data set, each server on its own copy.
    bench/persistence.py snapshot [--gb 2] [--value 1000]
        Peak memory during a BGSAVE of a --gb data set while redis-benchmark rewrites random
        keys of it, and the longest time any request of a probing client took meanwhile.
        Memory is the sum of the PSS of the server and its children (a forked Redis's child
        shares pages with its parent until either writes them), so "peak / before" is what the
        machine had to find.
    bench/persistence.py snapshot --during replica-sync [--gb 2] [--value 1000]
        The same, during a replica's full synchronization instead of a BGSAVE: a replica of the
        same kind (pinned to the load's core) is pointed at the server, and the figures run
        until its link is up. Redis syncs disklessly without waiting for more replicas
        (repl-diskless-sync-delay 0), as Vireo does. Both masters buffer the writes made during
        the sync without limit (client-output-buffer-limit replica 0 0 0): under this load
        the default 256 MB limit drops the replica before it is done, and it starts over,
        with either server; the memory figures include that buffer.
    bench/persistence.py aof    [--requests 200000] [--rounds 3]
        SET throughput (redis-benchmark, 50 clients, -P 1 and -P 16) with appendonly yes and
        appendfsync everysec, then always.

Every figure is a median over --rounds, measured in one run; ratios > 1 favour Vireo.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from compare import ServerProc, ensure_vireo, free_port, pipe, run_benchmark, tool


def ready_after(srv, t0, timeout=600):
    """Seconds from t0 until the server answers PING with PONG (not -LOADING)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if srv.cmd("ping").strip() == "PONG":
                return time.monotonic() - t0
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{srv.kind} did not finish loading")


def mixed_commands(n):
    """RESP commands creating n keys: a fifth each strings, lists, hashes, sets, sorted sets,
    collections of 8 small members (the compact encodings) and every 100th one of 300."""
    def enc(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        return out
    for i in range(n):
        k = b"key:%09d" % i
        m = 300 if i % 100 == 0 else 8
        kind = i % 5
        if kind == 0:
            yield enc(b"SET", k, b"value-%d" % i)
        elif kind == 1:
            yield enc(b"RPUSH", k, *[b"e%d" % j for j in range(m)])
        elif kind == 2:
            yield enc(b"HSET", k, *[x for j in range(m) for x in (b"f%d" % j, b"v%d" % j)])
        elif kind == 3:
            yield enc(b"SADD", k, *[b"m%d" % j for j in range(m)])
        else:
            yield enc(b"ZADD", k, *[x for j in range(m) for x in (b"%d" % j, b"z%d" % j)])


def wait_bgsave(srv, timeout=600):
    """Waits for the BGSAVE in progress to end; returns its status."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = srv.info("persistence")
        if p.get("rdb_bgsave_in_progress") == "0":
            return p.get("rdb_last_bgsave_status")
        time.sleep(0.02)
    raise RuntimeError(f"{srv.kind}: BGSAVE did not finish")


def make_rdb(keys, path):
    """Has the reference Redis write the mixed data set to `path`."""
    d = os.path.dirname(path)
    srv = ServerProc("redis", free_port(), extra=["--dir", d, "--dbfilename",
                                                  os.path.basename(path)])
    try:
        pipe(srv.port, mixed_commands(keys))
        assert int(srv.cmd("dbsize")) == keys
        srv.cmd("save")
    finally:
        srv.stop()


def load(a):
    ensure_vireo()
    with tempfile.TemporaryDirectory() as d:
        rdb = os.path.join(d, "dump.rdb")
        make_rdb(a.keys, rdb)
        print(f"{a.keys} mixed keys, RDB {os.path.getsize(rdb) / 2**20:.1f} MiB written by Redis",
              file=sys.stderr)
        times = {"vireo": [], "redis": []}
        for r in range(a.rounds):
            for kind in (("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")):
                t0 = time.monotonic()
                srv = ServerProc(kind, free_port(), cwd=d, start_timeout=600,
                                 extra=["--dir", d, "--dbfilename", "dump.rdb"])
                try:
                    times[kind].append(ready_after(srv, t0))
                    assert int(srv.cmd("dbsize")) == a.keys, f"{kind} lost keys"
                finally:
                    srv.stop()
    v, r = statistics.median(times["vireo"]), statistics.median(times["redis"])
    print(f"load {a.keys} keys: vireo {v:.2f} s, redis {r:.2f} s, ratio {r / v:.2f}")


def bgsave(a):
    ensure_vireo()
    times = {"vireo": [], "redis": []}
    with tempfile.TemporaryDirectory() as d:
        servers = {}
        try:
            for kind in ("vireo", "redis"):
                sd = os.path.join(d, kind)
                os.mkdir(sd)
                servers[kind] = ServerProc(kind, free_port(), cwd=sd, extra=["--dir", sd])
                pipe(servers[kind].port, mixed_commands(a.keys))
            for r in range(a.rounds):
                for kind in (("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")):
                    srv = servers[kind]
                    t0 = time.monotonic()
                    srv.cmd("bgsave")
                    status = wait_bgsave(srv)
                    times[kind].append(time.monotonic() - t0)
                    assert status == "ok", f"{kind}: {status}"
        finally:
            for s in servers.values():
                s.stop()
    v, r = statistics.median(times["vireo"]), statistics.median(times["redis"])
    print(f"BGSAVE {a.keys} keys: vireo {v:.2f} s, redis {r:.2f} s, ratio {r / v:.2f}")


def pss_kib(pid):
    """PSS of `pid` and all its descendants, KiB."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(x) for x in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Probe(threading.Thread):
    """Sends SET probe x one at a time and keeps the longest round trip while `armed`."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.armed, self.stop, self.worst, self.n = False, False, 0.0, 0

    def run(self):
        req = b"*3\r\n$3\r\nSET\r\n$5\r\nprobe\r\n$1\r\nx\r\n"
        while not self.stop:
            t0 = time.monotonic()
            self.sock.sendall(req)
            buf = b""
            while not buf.endswith(b"\r\n"):
                buf += self.sock.recv(64)
            dt = time.monotonic() - t0
            if self.armed:
                self.worst = max(self.worst, dt)
                self.n += 1
            time.sleep(0.001)


def snapshot(a):
    ensure_vireo()
    keys = int(a.gb * 2**30 / a.value)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for kind in ("vireo", "redis"):
            sd = os.path.join(d, kind)
            os.mkdir(sd)
            extra = ["--dir", sd, "--enable-debug-command", "yes"]
            if kind == "redis":
                extra += ["--repl-diskless-sync-delay", "0"]
            if a.during == "replica-sync":
                extra += ["--client-output-buffer-limit", "replica 0 0 0"]
            srv = ServerProc(kind, free_port(), cwd=sd, start_timeout=60, extra=extra)
            try:
                srv.cmd("debug", "populate", str(keys), "key", str(a.value))
                time.sleep(1)
                before = pss_kib(srv.proc.pid)
                load = subprocess.Popen(
                    ["taskset", "-c", "1", tool("redis-benchmark"),
                     "-p", str(srv.port), "-t", "set", "-r", str(keys), "-d", str(a.value),
                     "-n", "1000000000", "-c", "20", "-q"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                probe = Probe(srv.port)
                probe.start()
                time.sleep(2)
                base = pss_kib(srv.proc.pid)
                probe.armed = True
                peak = base
                t0 = time.monotonic()
                if a.during == "bgsave":
                    srv.cmd("bgsave")
                    busy = lambda: srv.info("persistence").get("rdb_bgsave_in_progress") != "0"
                else:
                    rd = os.path.join(sd, "replica")
                    os.mkdir(rd)
                    replica = ServerProc(kind, free_port(), cpu="1", cwd=rd,
                                         extra=["--dir", rd, "--replicaof", "127.0.0.1",
                                                str(srv.port)])
                    busy = lambda: replica.info("replication").get("master_link_status") != "up"
                while busy():
                    peak = max(peak, pss_kib(srv.proc.pid))
                    time.sleep(0.05)
                dur = time.monotonic() - t0
                probe.armed = False
                if a.during == "bgsave":
                    status = srv.info("persistence").get("rdb_last_bgsave_status")
                else:
                    status = srv.info("replication").get("slave0", "?").split(",")[2]
                    replica.stop()
                load.terminate()
                load.wait()
                probe.stop = True
                rows.append((kind, before, base, peak, dur, probe.worst, probe.n, status))
            finally:
                srv.stop()
    what = "BGSAVE" if a.during == "bgsave" else "a replica's full sync"
    print(f"{keys} keys of {a.value} bytes ({a.gb} GiB of values), {what} under a SET load "
          f"rewriting random keys")
    print(f"{'server':<8}{'MiB before':>12}{'under load':>12}{'peak':>10}{'peak/load':>11}"
          f"{'secs':>8}{'worst ms':>10}{'probes':>8}  status")
    for kind, before, base, peak, dur, worst, n, status in rows:
        print(f"{kind:<8}{before / 1024:>12.0f}{base / 1024:>12.0f}{peak / 1024:>10.0f}"
              f"{peak / base:>11.2f}{dur:>8.1f}{worst * 1000:>10.1f}{n:>8}  {status}")


def aof(a):
    ensure_vireo()
    for fsync in ("everysec", "always"):
        res = {}
        with tempfile.TemporaryDirectory() as d:
            servers = {}
            try:
                for kind in ("vireo", "redis"):
                    sd = os.path.join(d, kind)
                    os.mkdir(sd)
                    servers[kind] = ServerProc(kind, free_port(), cwd=sd, extra=[
                        "--dir", sd, "--appendonly", "yes", "--appendfsync", fsync])
                for r in range(a.rounds):
                    for p in (1, 16):
                        for kind in (("vireo", "redis") if r % 2 == 0 else ("redis", "vireo")):
                            srv = servers[kind]
                            n = a.requests if p == 1 else a.requests * 5
                            res.setdefault((p, kind), []).append(
                                run_benchmark(srv.port, "set", p, n, 50, srv.proc.pid)[0])
            finally:
                for s in servers.values():
                    s.stop()
        for p in (1, 16):
            v = statistics.median(res[(p, "vireo")])
            r = statistics.median(res[(p, "redis")])
            print(f"SET appendfsync {fsync:<8} -P {p:<3} vireo {v:>10.0f}  redis {r:>10.0f}  "
                  f"ratio {v / r:.2f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("load", "bgsave"):
        t = sub.add_parser(name)
        t.add_argument("--keys", type=int, default=1000000)
        t.add_argument("--rounds", type=int, default=3)
    s = sub.add_parser("snapshot")
    s.add_argument("--gb", type=float, default=2.0)
    s.add_argument("--value", type=int, default=1000)
    s.add_argument("--during", choices=("bgsave", "replica-sync"), default="bgsave")
    t = sub.add_parser("aof")
    t.add_argument("--requests", type=int, default=200000)
    t.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    {"load": load, "bgsave": bgsave, "snapshot": snapshot, "aof": aof}[a.what](a)


if __name__ == "__main__":
    main()
