#!/usr/bin/env python3
"""SIGKILL a Vireo server with AOF on in the middle of a write load, many times, and check
after each restart that the data set is intact:

- with `appendfsync always`: every acknowledged write is present;
- with `appendfsync everysec`: at most ~2 s of acknowledged writes are missing (a process kill
  loses nothing the OS holds, so normally none are), and the data set is never corrupt
  (each writer's MULTI/EXEC keeps a counter and a list in step).

    scripts/crash_loop.py [--rounds N] [--policy always|everysec|both] [--bin PATH]

Needs only the Python standard library and a built `vireo-server` (default:
target/debug/vireo-server, or $CARGO_TARGET_DIR/debug/vireo-server). Talks to 127.0.0.1 only.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return rest.decode()
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(line)

    def call(self, *args):
        self.s.sendall(encode(*args))
        return self.reply()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, d, policy):
    for _ in range(5):
        port = free_port()
        log = open(os.path.join(d, "server.log"), "ab")
        p = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", policy],
            cwd=d, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if p.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return p, port
            except OSError:
                time.sleep(0.01)
        p.kill()
        p.wait()
    with open(os.path.join(d, "server.log")) as f:
        sys.exit("server did not start:\n" + f.read()[-3000:])


def writer(port, w, stop, acked, stamps):
    try:
        c = Conn(port)
        i = 0
        while not stop.is_set():
            i += 1
            c.s.sendall(encode("MULTI") + encode("INCR", f"ctr{w}") +
                        encode("RPUSH", f"log{w}", i) + encode("EXEC"))
            c.reply()
            c.reply()
            c.reply()
            r = c.reply()
            if not isinstance(r, list):
                break
            acked[w] = r[0]
            stamps[w].append((time.time(), r[0]))
    except (OSError, ConnectionError, ValueError):
        pass


def round_(binary, policy, writers, seconds):
    d = tempfile.mkdtemp(prefix="vireo-crash-")
    try:
        p, port = start(binary, d, policy)
        # Carry some state over from a previous incarnation too: a restart before the load.
        if random.random() < 0.5:
            Conn(port).call("SET", "warm", "1")
            p.send_signal(signal.SIGKILL)
            p.wait()
            p, port = start(binary, d, policy)
        stop = threading.Event()
        acked = [0] * writers
        stamps = [[] for _ in range(writers)]
        ts = [threading.Thread(target=writer, args=(port, w, stop, acked, stamps))
              for w in range(writers)]
        for t in ts:
            t.start()
        if random.random() < 0.3:
            time.sleep(seconds / 2)
            Conn(port).call("BGREWRITEAOF")
            time.sleep(seconds / 2)
        else:
            time.sleep(seconds)
        killed_at = time.time()
        p.send_signal(signal.SIGKILL)
        p.wait()
        stop.set()
        for t in ts:
            t.join()
        p, port = start(binary, d, policy)
        c = Conn(port)
        worst = 0.0
        for w in range(writers):
            got = int(c.call("GET", f"ctr{w}") or 0)
            n = c.call("LLEN", f"log{w}")
            if got != n:
                return f"corrupt: writer {w} counter {got} != list length {n}"
            if got and c.call("LINDEX", f"log{w}", -1) != str(got).encode():
                return f"corrupt: writer {w} list tail != {got}"
            if got < acked[w]:
                if policy == "always":
                    return f"lost acknowledged writes: writer {w} has {got}, acked {acked[w]}"
                # The oldest acknowledged write that is missing: how long before the kill.
                first_missing = next(t for t, v in stamps[w] if v > got)
                worst = max(worst, killed_at - first_missing)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if worst > 2.5:
            return f"everysec lost {worst:.2f}s of acknowledged writes"
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--policy", default="both", choices=["always", "everysec", "both"])
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=1.5)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--bin", default=os.path.join(target, "debug", "vireo-server"))
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    policies = ["always", "everysec"] if a.policy == "both" else [a.policy]
    failed = 0
    passed = 0
    for r in range(a.rounds):
        for pol in policies:
            err = round_(a.bin, pol, a.writers, a.seconds * random.uniform(0.3, 1.0))
            if err:
                failed += 1
                print(f"round {r} {pol}: FAIL {err}", flush=True)
            else:
                passed += 1
                print(f"round {r} {pol}: ok", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
