#!/usr/bin/env python3
"""Re-records server/tests/notifications/events.txt from a reference Redis 7.0.

    scripts/record_notifications.py PORT [FILE]

Reads the command lines of FILE (default server/tests/notifications/events.txt), runs them on the
server at 127.0.0.1:PORT (whose data it flushes) with notify-keyspace-events KEAnm, and rewrites
FILE with the events each command emitted, indented under it as `db event key`. It checks that
every `__keyspace@<db>__:<key>` message is followed by its `__keyevent@<db>__:<event>` twin.
Lines starting with `#` are kept, `!sleep MS` pauses. No dependencies beyond Python 3.
"""
import socket
import sys
import time


def split_args(line):
    out, i, b = [], 0, line.encode()
    while i < len(b):
        if b[i:i + 1] == b" ":
            i += 1
            continue
        arg = bytearray()
        if b[i:i + 1] == b'"':
            i += 1
            while i < len(b) and b[i:i + 1] != b'"':
                if b[i:i + 1] == b"\\" and i + 1 < len(b):
                    i += 1
                    c = b[i:i + 1]
                    if c == b"n":
                        arg += b"\n"
                    elif c == b"r":
                        arg += b"\r"
                    elif c == b"x":
                        arg.append(int(b[i + 1:i + 3], 16))
                        i += 2
                    else:
                        arg += c
                else:
                    arg += b[i:i + 1]
                i += 1
            i += 1
        else:
            while i < len(b) and b[i:i + 1] != b" ":
                arg += b[i:i + 1]
                i += 1
        out.append(bytes(arg))
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def send(self, args):
        buf = b"*%d\r\n" % len(args)
        for a in args:
            buf += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(buf)

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":"):
            return rest
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t in (b"*", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(line)

    def call(self, args):
        self.send(args)
        return self.read()


def main():
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "server/tests/notifications/events.txt"
    lines = [l.rstrip("\n") for l in open(path) if not l.startswith("  ")]
    c, sub = Conn(port), Conn(port)
    c.call([b"FLUSHALL"])
    c.call([b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAnm"])
    sub.call([b"PSUBSCRIBE", b"__key*__:*"])
    sub.call([b"SUBSCRIBE", b"sync"])
    out = []
    for n, line in enumerate(lines):
        out.append(line)
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("!sleep "):
            time.sleep(int(line.split()[1]) / 1000)
            continue
        c.call(split_args(line))
        c.call([b"PUBLISH", b"sync", b"%d" % n])
        msgs = []
        while True:
            m = sub.read()
            if m[0] == b"message":
                break
            msgs.append((m[2], m[3]))
        if len(msgs) % 2:
            sys.exit(f"odd number of messages after {line}: {msgs}")
        for (ch1, m1), (ch2, m2) in zip(msgs[::2], msgs[1::2]):
            space, _, key = ch1.partition(b"__:")
            evspace, _, event = ch2.partition(b"__:")
            db = space[len(b"__keyspace@"):]
            if not space.startswith(b"__keyspace@") or evspace != b"__keyevent@" + db \
                    or m1 != event or m2 != key:
                sys.exit(f"unpaired messages after {line}: {msgs}")
            out.append(f"  {db.decode()} {event.decode()} {key.decode()}")
    c.call([b"CONFIG", b"SET", b"notify-keyspace-events", b""])
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
