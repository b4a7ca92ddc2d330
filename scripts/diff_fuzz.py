#!/usr/bin/env python3
"""Random differential testing: the same random commands to Vireo and to a reference Redis,
raw replies compared byte for byte.

    scripts/diff_fuzz.py [--seconds 60] [--seed N] [--family lists] [--resp 3]

Starts both servers on free ports (Vireo from target/release or target/debug, the reference
from $VIREO_REFERENCE_REDIS or redis-server on PATH). Commands come from a small grammar per
family over a handful of shared keys, so that wrong types, missing keys, bad numbers and
misplaced options all come up. On the first mismatch it prints the seed and the commands since
the last FLUSHALL, shortened to the fewest that still differ, and exits 1; those lines can go
into a `server/tests/differential/*.txt` script as they are.

Commands whose replies are random (SPOP, SRANDMEMBER, ...) or time-dependent are left out or
compared by type only; collections stay small enough for their compact encodings, whose order
both servers share.
"""

import argparse
import json
import os
import re
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KEYS = ["k0", "k1", "k2", "k3", "{t}a", "{t}b"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(10)
        self.port = port
        self.buf = b""
        # The commands queued since MULTI, or None outside a transaction.
        self.queued = None

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise SystemExit(f"no whole reply to {self.last} from port {self.port} in 10 s; "
                             f"have {self.buf!r}")
        if not d:
            raise SystemExit(f"port {self.port} closed the connection on {self.last}")
        self.buf += d

    def call(self, args):
        r = self.raw(args)
        name = args[0]
        if self.queued is not None:
            # Inside MULTI: EXEC's replies are normalized as their commands' would be.
            if name == "EXEC" and r[:1] == b"*" and r[:3] != b"*-1":
                head, _, rest = r.partition(b"\r\n")
                items, _ = split_items(rest, int(head[1:]))
                # (OBJECT REFCOUNT by type: Redis counts a value stored from a queued
                # command's argument twice until EXEC ends, the queue still holding it.)
                items = [it[:1] if c[:2] == ["OBJECT", "REFCOUNT"] else normalize_reply(c, it)
                         for c, it in zip(self.queued, items)]
                r = head + b"\r\n" + b"".join(items)
            if name in ("EXEC", "DISCARD") or r.startswith(b"-ERR EXEC without"):
                self.queued = None
            elif r == b"+QUEUED\r\n":
                self.queued.append(args)
            return r
        if name == "MULTI" and r == b"+OK\r\n":
            self.queued = []
        return normalize_reply(args, r)

    def take(self):
        """The next reply (reading until it is whole)."""
        while True:
            try:
                end = reply_end(self.buf, 0)
                break
            except Incomplete:
                self._fill()
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def send(self, args):
        self.last = args
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def raw(self, args):
        """The reply to `args`, as it came."""
        self.send(args)
        return self.take()


def order_of(args):
    """How to compare a reply whose order no client may rely on: Redis 7.0 keeps small sets
    of strings and hashes with long values in hash tables (seeded at random), and the keyspace
    too. None: as it is."""
    name = args[0]
    if name in ("KEYS", "SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS"):
        return "elements"
    if name == "HGETALL" or args[:2] == ["CONFIG", "GET"]:
        return "pairs"
    if name == "SSCAN":
        return "scan"
    if name in ("HSCAN", "ZSCAN"):
        # SORT turns a small sorted set into a big one, a hash table.
        return "scan-pairs"
    if (name == "XPENDING" and len(args) > 3) or args[:2] == ["XINFO", "CONSUMERS"]:
        return "type"
    if name in ("TTL", "PTTL"):
        # Counted from now: a second's edge may fall between the two servers.
        return "type"
    if name in ("EVAL", "EVAL_RO"):
        if "HGETALL" in args[1]:
            return "pairs"
        if "SMEMBERS" in args[1]:
            return "elements"
        if "call(ARGV[1]" in args[1]:
            # The command is the script's first argument: order its reply as that command's.
            numkeys = int(args[2]) if args[2].isdigit() else -1
            if 0 <= numkeys and len(args) > 3 + numkeys:
                return order_of([str(args[3 + numkeys]).upper()] + args[3:3 + numkeys])
    if name == "SORT" and "BY" in args:
        # Equal weights (missing keys, nosort) leave the order to the hash table.
        return "type" if "LIMIT" in args else "elements"
    return None


RESP3_DOUBLE = re.compile(rb"(?<=\r\n),([^\r]*)(?=\r\n)")


def json_get_paths(args):
    """The paths of a JSON.GET (its options and their values aside)."""
    paths, i = [], 2
    while i < len(args):
        a = args[i].upper()
        if a in ("INDENT", "NEWLINE", "SPACE"):
            i += 2
            continue
        if a != "NOESCAPE":
            paths.append(args[i])
        i += 1
    return paths


def normalize_reply(args, r):
    if args[0] == "JSON.GET" and len(json_get_paths(args)) > 1 and r[:1] == b"$" and r[:3] != b"$-1":
        # Several paths answer an object keyed by path, in RedisJSON's hash order (it changes
        # from call to call): compared as a set of members.
        try:
            body = r.partition(b"\r\n")[2][:-2]
            members = json.loads(body, object_pairs_hook=lambda kv: kv)
            return b"{paths}" + json.dumps(sorted(members, key=lambda kv: kv[0])).encode()
        except ValueError:
            pass
    if args[0].startswith("JSON.") and b"\r\n," in b"\r\n" + r:
        # RESP3 doubles: Redis Stack 7.4 writes the shortest form, Vireo (as Redis 7.0) %.17g.
        r = RESP3_DOUBLE.sub(lambda m: b"," + repr(float(m.group(1))).encode(), b"\r\n" + r)[2:]
    how = order_of(args)
    if how == "type":
        return r[:1]
    if how and r[:1] in (b"*", b"~", b"%"):
        return normalize(r, how)
    return r


def split_items(rest, n):
    """The first n whole replies in rest (bytes after an aggregate's header), and the rest."""
    items, pos = [], 0
    for _ in range(n):
        end = reply_end(rest, pos)
        items.append(rest[pos:end])
        pos = end
    return items, rest[pos:]


class Incomplete(Exception):
    """The buffer holds only the start of a reply."""


def reply_end(b, pos):
    """The offset just past the whole reply that starts at `pos` in `b`."""
    e = b.find(b"\r\n", pos)
    if e < 0:
        raise Incomplete
    t, head = b[pos:pos + 1], b[pos + 1:e]
    pos = e + 2
    if t in (b"$", b"=", b"!"):
        n = int(head)
        end = pos if n < 0 else pos + n + 2
        if end > len(b):
            raise Incomplete
        return end
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = max(int(head), 0) * (2 if t in (b"%", b"|") else 1)
        # An attribute map is followed by the reply it describes.
        for _ in range(n + (t == b"|")):
            pos = reply_end(b, pos)
    return pos


def normalize(r, how):
    head, _, rest = r.partition(b"\r\n")
    if how == "type":
        return r[:1]
    if how.startswith("scan"):
        cursor, inner = split_items(rest, 1)
        if cursor[0] != b"$1\r\n0\r\n":
            # A hash table's cursors and pages are its own.
            return r[:1]
        return head + b"\r\n" + cursor[0] + normalize(inner, how[5:] or "elements")
    n = int(head[1:]) * (2 if head[:1] == b"%" else 1)
    items, _ = split_items(rest, n)
    if how == "pairs":
        items = [items[i] + items[i + 1] for i in range(0, len(items), 2)]
    return head + b"\r\n" + b"".join(sorted(items))


def start(cmd, port, tmp, name):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    log = open(os.path.join(d, "log"), "wb")
    p = subprocess.Popen(cmd + ["--port", str(port), "--save", "", "--appendonly", "no",
                                "--enable-debug-command", "yes", "--dir", d],
                         stdout=log, stderr=log)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{name} did not start: see {d}/log")


# --- the grammar -------------------------------------------------------------------------------

class G:
    def __init__(self, rnd):
        self.r = rnd
        # Keys SORT may have turned into skiplist sorted sets since the last FLUSHALL: a lex
        # range over one of mixed scores depends on Redis's random skiplist levels.
        self.sorted = set()
        self.reloads = 0

    def key(self):
        return self.r.choice(KEYS)

    def lex_key(self):
        return self.r.choice([k for k in KEYS if k not in self.sorted] or KEYS)

    def keys(self, lo=1, hi=3):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def int_(self):
        return self.r.choice(["0", "1", "-1", "2", "3", "5", "10", "-3", "100", "7",
                              "9223372036854775807", "-9223372036854775808",
                              "9223372036854775808", "1.5", "abc", "", " 1", "+1", "01"])

    def small(self):
        return self.r.choice(["0", "1", "2", "3", "-1", "-2", "5", "10", "-10", "100"])

    def float_(self):
        return self.r.choice(["0", "1", "1.5", "-2.25", "3e2", "inf", "-inf", "+inf", "nan",
                              "abc", "0.1", "10", "-0", "1.0", "5", ".5", "5."])

    def val(self):
        return self.r.choice(["a", "b", "c", "hello", "", "1", "2", "10", "-5", "3.5",
                              "x" * 70, "abc", "0", "ab\r\nc", "\x00\xff", "zz"])

    def member(self):
        return self.r.choice(["a", "b", "c", "d", "e", "1", "2", "3", "10", "-1", ""])

    def members(self, lo=1, hi=4):
        return [self.member() for _ in range(self.r.randint(lo, hi))]

    def maybe(self, p, *xs):
        return list(xs) if self.r.random() < p else []


def strings(g):
    r = g.r
    c = r.choice([
        lambda: ["SET", g.key(), g.val()] + g.maybe(0.3, r.choice(["NX", "XX", "GET", "KEEPTTL"]))
        + g.maybe(0.2, r.choice(["EX", "PX"]), r.choice(["100", "0", "-1", "abc", "1000"])),
        lambda: ["GET", g.key()],
        lambda: ["APPEND", g.key(), g.val()],
        lambda: ["INCR", g.key()],
        lambda: ["DECR", g.key()],
        lambda: ["INCRBY", g.key(), g.int_()],
        lambda: ["DECRBY", g.key(), g.int_()],
        lambda: ["INCRBYFLOAT", g.key(), g.float_()],
        lambda: ["GETRANGE", g.key(), g.small(), g.small()],
        lambda: ["SETRANGE", g.key(), r.choice(["0", "1", "5", "-1", "abc"]), g.val()],
        lambda: ["STRLEN", g.key()],
        lambda: ["GETSET", g.key(), g.val()],
        lambda: ["GETDEL", g.key()],
        lambda: ["MSET"] + sum(([g.key(), g.val()] for _ in range(r.randint(1, 3))), []),
        lambda: ["MSETNX"] + sum(([g.key(), g.val()] for _ in range(r.randint(1, 3))), []),
        lambda: ["MGET"] + g.keys(),
        lambda: ["SETNX", g.key(), g.val()],
        lambda: ["LCS", g.key(), g.key()] + g.maybe(0.5, r.choice(["LEN", "IDX"]))
        + g.maybe(0.3, "MINMATCHLEN", g.small()) + g.maybe(0.3, "WITHMATCHLEN"),
        lambda: ["SUBSTR", g.key(), g.small(), g.small()],
    ])
    return c()


def keys_(g):
    r = g.r
    c = r.choice([
        lambda: ["DEL"] + g.keys(),
        lambda: ["EXISTS"] + g.keys(),
        lambda: ["TYPE", g.key()],
        lambda: ["RENAME", g.key(), g.key()],
        lambda: ["RENAMENX", g.key(), g.key()],
        lambda: ["COPY", g.key(), g.key()] + g.maybe(0.5, "REPLACE"),
        lambda: ["EXPIRE", g.key(), r.choice(["100", "0", "-1", "1000", "abc"])]
        + g.maybe(0.3, r.choice(["NX", "XX", "GT", "LT", "BAD"])),
        lambda: ["PERSIST", g.key()],
        lambda: ["TTL", g.key()],
        lambda: ["OBJECT", "ENCODING", g.key()],
        # Patterns matching one key at most: KEYS lists in table order, also inside EXEC.
        lambda: ["KEYS", r.choice(["k1", "*b", "k[0]", "{t}a", "?1"])],
        lambda: ["DBSIZE"],
        lambda: ["UNLINK"] + g.keys(),
        lambda: ["TOUCH"] + g.keys(),
    ])
    return c()


def lists(g):
    r = g.r
    c = r.choice([
        lambda: [r.choice(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), g.key()] + g.members(),
        lambda: [r.choice(["LPOP", "RPOP"]), g.key()] + g.maybe(0.4, g.int_()),
        lambda: ["LLEN", g.key()],
        lambda: ["LRANGE", g.key(), g.small(), g.small()],
        lambda: ["LINDEX", g.key(), g.small()],
        lambda: ["LSET", g.key(), g.small(), g.member()],
        lambda: ["LINSERT", g.key(), r.choice(["BEFORE", "AFTER", "MIDDLE"]), g.member(),
                 g.member()],
        lambda: ["LREM", g.key(), g.small(), g.member()],
        lambda: ["LTRIM", g.key(), g.small(), g.small()],
        lambda: ["LPOS", g.key(), g.member()] + g.maybe(0.4, "RANK", g.small())
        + g.maybe(0.4, "COUNT", g.small()) + g.maybe(0.3, "MAXLEN", g.small()),
        lambda: ["LMOVE", g.key(), g.key(), r.choice(["LEFT", "RIGHT"]),
                 r.choice(["LEFT", "RIGHT", "UP"])],
        lambda: ["RPOPLPUSH", g.key(), g.key()],
        lambda: ["LMPOP", r.choice(["1", "2", "0", "-1"]), *g.keys(1, 2),
                 r.choice(["LEFT", "RIGHT", "X"])] + g.maybe(0.5, "COUNT", g.small()),
    ])
    return c()


def hashes(g):
    r = g.r
    c = r.choice([
        lambda: [r.choice(["HSET", "HMSET"]), g.key()]
        + sum(([g.member(), g.val()] for _ in range(r.randint(1, 3))), []),
        lambda: ["HSETNX", g.key(), g.member(), g.val()],
        lambda: ["HGET", g.key(), g.member()],
        lambda: ["HMGET", g.key()] + g.members(),
        lambda: ["HGETALL", g.key()],
        lambda: ["HDEL", g.key()] + g.members(),
        lambda: ["HEXISTS", g.key(), g.member()],
        lambda: ["HLEN", g.key()],
        lambda: ["HKEYS", g.key()],
        lambda: ["HVALS", g.key()],
        lambda: ["HSTRLEN", g.key(), g.member()],
        lambda: ["HINCRBY", g.key(), g.member(), g.int_()],
        lambda: ["HINCRBYFLOAT", g.key(), g.member(), g.float_()],
        lambda: ["HRANDFIELD", g.key(), r.choice(["0", "-0"])],
        lambda: ["HSCAN", g.key(), "0"] + g.maybe(0.3, "MATCH", r.choice(["*", "a*", "1"]))
        + g.maybe(0.3, "COUNT", r.choice(["100", "0", "-1", "abc"])),
    ])
    return c()


def sets(g):
    r = g.r
    c = r.choice([
        lambda: ["SADD", g.key()] + g.members(),
        lambda: ["SREM", g.key()] + g.members(),
        lambda: ["SISMEMBER", g.key(), g.member()],
        lambda: ["SMISMEMBER", g.key()] + g.members(),
        lambda: ["SMEMBERS", g.key()],
        lambda: ["SCARD", g.key()],
        lambda: ["SMOVE", g.key(), g.key(), g.member()],
        lambda: [r.choice(["SINTER", "SUNION", "SDIFF"])] + g.keys(),
        lambda: [r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), g.key()] + g.keys(),
        lambda: ["SINTERCARD", r.choice(["1", "2", "0", "3"]), *g.keys(1, 2)]
        + g.maybe(0.4, "LIMIT", g.int_()),
        lambda: ["SPOP", g.key(), "0"],
        lambda: ["SRANDMEMBER", g.key(), "0"],
        lambda: ["SSCAN", g.key(), "0"] + g.maybe(0.3, "MATCH", r.choice(["*", "1*"])),
    ])
    return c()


def zsets(g):
    r = g.r

    def scores_members():
        return sum(([g.float_() if r.random() < 0.2 else g.small(), g.member()]
                    for _ in range(r.randint(1, 3))), [])

    def lex():
        return r.choice(["-", "+", "[a", "(a", "[c", "(1", "a", "[", "(z"])

    def score():
        return r.choice(["-inf", "+inf", "0", "1", "(1", "2", "(5", "abc", "-1", "10", "(inf"])

    c = r.choice([
        lambda: ["ZADD", g.key()] + g.maybe(0.2, r.choice(["NX", "XX"]))
        + g.maybe(0.2, r.choice(["GT", "LT"])) + g.maybe(0.2, "CH")
        + g.maybe(0.1, "INCR") + scores_members(),
        lambda: ["ZINCRBY", g.key(), g.float_(), g.member()],
        lambda: ["ZREM", g.key()] + g.members(),
        lambda: ["ZCARD", g.key()],
        lambda: ["ZCOUNT", g.key(), score(), score()],
        lambda: ["ZLEXCOUNT", g.lex_key(), lex(), lex()],
        lambda: ["ZSCORE", g.key(), g.member()],
        lambda: ["ZMSCORE", g.key()] + g.members(),
        lambda: [r.choice(["ZRANK", "ZREVRANK"]), g.key(), g.member()],
        lambda: ["ZRANGE", g.key(), g.small(), g.small()] + g.maybe(0.2, "REV")
        + g.maybe(0.3, "WITHSCORES"),
        lambda: ["ZRANGE", g.key(), score(), score(), "BYSCORE"] + g.maybe(0.3, "REV")
        + g.maybe(0.3, "LIMIT", g.small(), g.small()) + g.maybe(0.3, "WITHSCORES"),
        lambda: ["ZRANGE", g.lex_key(), lex(), lex(), "BYLEX"] + g.maybe(0.3, "REV")
        + g.maybe(0.3, "LIMIT", g.small(), g.small()),
        lambda: [r.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), g.key(), score(), score()]
        + g.maybe(0.3, "WITHSCORES") + g.maybe(0.3, "LIMIT", g.small(), g.small()),
        lambda: [r.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), g.lex_key(), lex(), lex()]
        + g.maybe(0.3, "LIMIT", g.small(), g.small()),
        lambda: ["ZRANGESTORE", g.key(), g.key(), g.small(), g.small()],
        lambda: ["ZREMRANGEBYRANK", g.key(), g.small(), g.small()],
        lambda: ["ZREMRANGEBYSCORE", g.key(), score(), score()],
        lambda: ["ZREMRANGEBYLEX", g.lex_key(), lex(), lex()],
        lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), g.key()] + g.maybe(0.5, g.int_()),
        lambda: ["ZMPOP", r.choice(["1", "2"]), *g.keys(1, 2), r.choice(["MIN", "MAX"])]
        + g.maybe(0.4, "COUNT", g.small()),
        lambda: [r.choice(["ZUNION", "ZINTER", "ZDIFF"]), r.choice(["1", "2", "3"]),
                 *g.keys(1, 3)] + g.maybe(0.3, "WITHSCORES"),
        lambda: [r.choice(["ZUNIONSTORE", "ZINTERSTORE"]), g.key(), r.choice(["1", "2"]),
                 *g.keys(1, 2)] + g.maybe(0.3, "WEIGHTS", g.float_(), g.float_())
        + g.maybe(0.3, "AGGREGATE", r.choice(["SUM", "MIN", "MAX", "AVG"])),
        lambda: ["ZDIFFSTORE", g.key(), r.choice(["1", "2"]), *g.keys(1, 2)],
        lambda: ["ZINTERCARD", r.choice(["1", "2"]), *g.keys(1, 2)]
        + g.maybe(0.3, "LIMIT", g.int_()),
        lambda: ["ZSCAN", g.key(), "0"],
    ])
    return c()


def bitmaps(g):
    r = g.r
    c = r.choice([
        lambda: ["SETBIT", g.key(), r.choice(["0", "1", "7", "8", "100", "-1", "abc"]),
                 r.choice(["0", "1", "2"])],
        lambda: ["GETBIT", g.key(), r.choice(["0", "1", "7", "100"])],
        lambda: ["BITCOUNT", g.key()] + g.maybe(0.5, g.small(), g.small())
        + g.maybe(0.3, r.choice(["BYTE", "BIT", "NOPE"])),
        lambda: ["BITPOS", g.key(), r.choice(["0", "1", "2"])]
        + g.maybe(0.5, g.small()) + g.maybe(0.3, g.small()),
        lambda: ["BITOP", r.choice(["AND", "OR", "XOR", "NOT"]), g.key()] + g.keys(1, 2),
        lambda: ["BITFIELD", g.key()]
        + g.maybe(0.3, "OVERFLOW", r.choice(["WRAP", "SAT", "FAIL"]))
        + [r.choice(["GET", "SET", "INCRBY"]), r.choice(["i8", "u8", "i5", "u63", "i64", "u64"]),
           r.choice(["0", "#1", "3", "100"])]
        + [g.int_()] * (r.random() < 0.7),
    ])
    return c()


def hll(g):
    r = g.r
    c = r.choice([
        lambda: ["PFADD", g.key()] + g.members(0, 4),
        lambda: ["PFCOUNT"] + g.keys(1, 2),
        lambda: ["PFMERGE", g.key()] + g.keys(0, 2),
    ])
    return c()


def sort_(g):
    r = g.r
    by = g.maybe(0.3, "BY", r.choice(["nosort", "w_*", "h*->f"]))
    key = g.key()
    g.sorted.add(key)
    return (["SORT", key] + by + g.maybe(0.3, "LIMIT", g.small(), g.small())
            + g.maybe(0.3, "GET", r.choice(["#", "w_*", "h*->f"]))
            + g.maybe(0.3, r.choice(["ASC", "DESC"])) + g.maybe(0.4, "ALPHA")
            # Not with BY: equal weights store a set in its hash order.
            + ([] if by else g.maybe(0.2, "STORE", g.key())))


def streams(g):
    r = g.r

    def sid():
        return r.choice(["0", "0-1", "1", "1-1", "1-2", "2-0", "3-5", "5", "-", "+", "(1-1",
                         "abc", "1-*", "18446744073709551615-18446744073709551615"])

    def fields():
        return sum(([g.member(), g.val()] for _ in range(r.randint(1, 2))), [])

    c = r.choice([
        lambda: ["XADD", g.key()] + g.maybe(0.1, "NOMKSTREAM")
        + g.maybe(0.2, r.choice(["MAXLEN", "MINID"]), *g.maybe(0.5, r.choice(["=", "~"])),
                  r.choice(["0", "1", "2", "1-1", "-1"]))
        + [r.choice(["1-1", "1-2", "2-0", "3-5", "5", "5-*", "0-0", "1"])] + fields(),
        lambda: [r.choice(["XRANGE", "XREVRANGE"]), g.key(), sid(), sid()]
        + g.maybe(0.4, "COUNT", g.small()),
        lambda: ["XLEN", g.key()],
        lambda: ["XDEL", g.key(), sid()],
        lambda: ["XTRIM", g.key(), r.choice(["MAXLEN", "MINID"]),
                 *g.maybe(0.5, r.choice(["=", "~"])), r.choice(["0", "1", "2", "2-0", "-1"])],
        lambda: ["XGROUP", "CREATE", g.key(), r.choice(["g1", "g2"]),
                 r.choice(["0", "$", "1-1", "bad"])] + g.maybe(0.3, "MKSTREAM"),
        lambda: ["XGROUP", r.choice(["DESTROY", "CREATECONSUMER", "DELCONSUMER"]), g.key(),
                 r.choice(["g1", "g2"]), r.choice(["c1", "c2"])][:5 if r.random() < 0.8 else 4],
        lambda: ["XGROUP", "SETID", g.key(), r.choice(["g1", "g2"]), r.choice(["0", "$", "2-0"])],
        lambda: ["XREADGROUP", "GROUP", r.choice(["g1", "g2"]), r.choice(["c1", "c2"])]
        + g.maybe(0.4, "COUNT", g.small()) + g.maybe(0.2, "NOACK")
        + ["STREAMS", g.key(), r.choice([">", "0", "1-1"])],
        lambda: ["XREAD"] + g.maybe(0.4, "COUNT", g.small())
        + ["STREAMS", g.key(), r.choice(["0", "1-1", "$"])],
        lambda: ["XACK", g.key(), r.choice(["g1", "g2"]), sid()],
        lambda: ["XPENDING", g.key(), r.choice(["g1", "g2"])],
        lambda: ["XSETID", g.key(), r.choice(["5-0", "1-1", "10", "0-0"])],
        lambda: ["XINFO", r.choice(["GROUPS", "STREAM"]), g.key()],
        lambda: ["XCLAIM", g.key(), r.choice(["g1", "g2"]), r.choice(["c1", "c2"]),
                 r.choice(["0", "-1", "x"]), sid()] + g.maybe(0.8, "JUSTID")
        + g.maybe(0.2, r.choice(["FORCE", "RETRYCOUNT", "LASTID"]), sid()),
        lambda: ["XAUTOCLAIM", g.key(), r.choice(["g1", "g2"]), r.choice(["c1", "c2"]),
                 r.choice(["0", "-1"]), sid()] + g.maybe(0.4, "COUNT", g.small())
        + ["JUSTID"],
        # Idle times in these replies: compared by type (see order_of).
        lambda: ["XPENDING", g.key(), r.choice(["g1", "g2"]), sid(), sid(), g.small()]
        + g.maybe(0.3, r.choice(["c1", "c2"])),
        lambda: ["XINFO", "CONSUMERS", g.key(), r.choice(["g1", "g2"])],
    ])
    return c()


def geo(g):
    r = g.r

    def lonlat():
        return [r.choice(["13.361389", "15.087269", "-122.4", "0", "180.1", "abc", "-180"]),
                r.choice(["38.115556", "37.502669", "37.7", "0", "85.06", "86", "-85.05"])]

    c = r.choice([
        lambda: ["GEOADD", g.key()] + g.maybe(0.2, r.choice(["NX", "XX"])) + g.maybe(0.2, "CH")
        + lonlat() + [g.member()],
        lambda: ["GEODIST", g.key(), g.member(), g.member()]
        + g.maybe(0.5, r.choice(["m", "km", "mi", "ft", "xx"])),
        lambda: ["GEOHASH", g.key()] + g.members(),
        lambda: ["GEOPOS", g.key()] + g.members(),
        lambda: ["GEOSEARCH", g.key()]
        + (["FROMMEMBER", g.member()] if r.random() < 0.5 else ["FROMLONLAT"] + lonlat())
        + (["BYRADIUS", r.choice(["100", "500", "0", "-1"]), r.choice(["km", "m"])]
           if r.random() < 0.6 else ["BYBOX", "400", "400", "km"])
        + g.maybe(0.5, r.choice(["ASC", "DESC"])) + g.maybe(0.3, "COUNT", r.choice(["1", "2"]))
        + g.maybe(0.3, "WITHDIST") + g.maybe(0.3, "WITHCOORD") + g.maybe(0.3, "WITHHASH"),
    ])
    return c()


def multi(g):
    r = g.r
    c = r.choice([
        lambda: ["MULTI"],
        lambda: ["EXEC"],
        lambda: ["DISCARD"],
        lambda: ["WATCH"] + g.keys(1, 2),
        lambda: ["UNWATCH"],
        # A command that fails at queue time aborts the transaction.
        lambda: [r.choice(["GET", "SET", "NOSUCH", "INCR"])] + g.keys(0, 3),
    ])
    return c()


SCRIPTS = [
    "return redis.call(ARGV[1], KEYS[1])",
    "return redis.pcall(ARGV[1], KEYS[1], ARGV[2])",
    "return {1, 2.7, 'x', false, true, {3, 'y'}, nil, 5}",
    "return {err = 'My Error'}",
    "return {ok = 'fine'}",
    "return redis.error_reply('bad thing')",
    "return redis.status_reply('DONE')",
    "return 3.99",
    "return -0.5",
    "return tostring(redis.call('INCRBY', KEYS[1], ARGV[2]))",
    "return redis.call('HGETALL', KEYS[1])",
    "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "redis.setresp(3); return redis.call('HGETALL', KEYS[1])",
    "redis.setresp(3); return redis.call('ZSCORE', KEYS[1], ARGV[1])",
    "redis.setresp(3); return {double = 3.5}",
    "redis.setresp(3); return redis.call('SMEMBERS', KEYS[1])",
    "return cjson.encode({a = {1, 2}, b = ARGV[1]})",
    "return cjson.decode(ARGV[1])",
    "return cmsgpack.unpack(cmsgpack.pack({1, 'a', {b = 2}}))",
    "return bit.band(tonumber(ARGV[1]) or 0, 255)",
    "return struct.pack('>I2', 258)",
    "return redis.sha1hex(ARGV[1])",
    "return x",
    "x = 1",
    "return redis.call('SET', KEYS[1])",
    "return redis.call('NOSUCH')",
    "return #KEYS + #ARGV",
    "return string.rep('a', 3) .. ARGV[1]",
    "return math.floor(tonumber(ARGV[1]) or 0)",
    "return table.concat({'a', 'b'}, ARGV[1])",
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return {pcall(cjson.decode, ARGV[1])}",
    "return cmsgpack.pack(ARGV[1], tonumber(ARGV[1]))",
    "return {cmsgpack.unpack(ARGV[1])}",
    "return {struct.unpack('>i2', ARGV[1])}",
    # (Not ARGV[1] as a format: a byte above 127 in the error, see docs/differences.md.)
    "return {pcall(struct.pack, '>I2', ARGV[1])}",
    "return tonumber(ARGV[1])",
    "return {tonumber(ARGV[1])}",
    "return string.format('%d %s %5.2f', 3, ARGV[1], 1.5)",
    "return redis.call('MGET', KEYS[1], ARGV[1])",
    "return redis.call('LRANGE', KEYS[1], 0, -1)",
    "return redis.call('EXISTS', KEYS[1]) == 1",
    "redis.setresp(3); return redis.call('EXISTS', KEYS[1]) == 1",
    "redis.setresp(3); return redis.call('HRANDFIELD', KEYS[1], 0)",
    "return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])",
    "return bit.tohex(tonumber(ARGV[1]) or -1)",
]


def scripting(g):
    r = g.r
    body = r.choice(SCRIPTS)
    nkeys = r.choice(["1", "1", "0", "2", "-1", "x"])
    args = [r.choice(["GET", "INCR", "LLEN", "TYPE", "HGETALL", "SMEMBERS", "DEL", "[1,2]",
                      '{"a":[1,{"b":null}]}', "1e3", "0x10", "-7", "\x92\x01\xa1a", "{", "[1,]",
                      "\"\\u00e9\"", "2.5", "nan"]), g.val()]
    return [r.choice(["EVAL", "EVAL_RO"]), body, nkeys, g.key(), *args[:r.randint(0, 2)]]


def expiry(g):
    """Expiries at fixed times far ahead (or already past), so that replies do not depend on
    the moment."""
    r = g.r

    def at():
        return r.choice(["4000000000", "4000000001", "1", "0", "-1", "abc", "99999999999999"])

    def pat():
        return r.choice(["4000000000000", "4000000000001", "1", "0", "-5", "x"])

    c = r.choice([
        lambda: ["SET", g.key(), g.val(), r.choice(["EXAT", "PXAT"]), at()]
        + g.maybe(0.2, r.choice(["NX", "XX", "GET", "KEEPTTL"])),
        lambda: ["SET", g.key(), g.val()] + g.maybe(0.3, "KEEPTTL"),
        lambda: ["EXPIREAT", g.key(), at()] + g.maybe(0.4, r.choice(["NX", "XX", "GT", "LT"])),
        lambda: ["PEXPIREAT", g.key(), pat()] + g.maybe(0.4, r.choice(["NX", "XX", "GT", "LT"])),
        lambda: [r.choice(["EXPIRE", "PEXPIRE"]), g.key(), r.choice(["0", "-1", "-100", "x"])],
        lambda: [r.choice(["EXPIRETIME", "PEXPIRETIME"]), g.key()],
        lambda: ["PERSIST", g.key()],
        lambda: ["GETEX", g.key()] + r.choice([[], ["PERSIST"], ["EXAT", at()], ["PXAT", pat()],
                                              ["EX", "0"], ["PX", "-1"], ["BAD"]]),
        lambda: ["TTL", g.key()],
        lambda: ["RPUSH", g.key(), g.member()],
        lambda: ["COPY", g.key(), g.key()] + g.maybe(0.5, "REPLACE"),
        lambda: ["RENAME", g.key(), g.key()],
        lambda: ["GETSET", g.key(), g.val()],
        lambda: ["INCR", g.key()],
    ])
    return c()


CONFIG_NAMES = ["maxmemory", "maxmemory-policy", "hash-max-listpack-entries", "save",
                "appendonly", "databases", "timeout", "notify-keyspace-events", "hz",
                "list-max-listpack-size", "zset-max-listpack-value", "set-max-intset-entries",
                "lua-time-limit", "busy-reply-threshold", "maxclients", "proto-max-bulk-len",
                "*max-listpack*", "no-such-option", "appendfsync", "activerehashing"]


def introspection(g):
    """COMMAND's answers about other commands, and configuration and object details."""
    r = g.r
    # Not containers: Redis lists their subcommands in its command table's hash order.
    if not PLAIN_COMMANDS:
        containers = {n.split("|")[0] for n in ANY_COMMANDS if "|" in n}
        PLAIN_COMMANDS.extend(n for n in ANY_COMMANDS if "|" not in n and n not in containers)
    plain = PLAIN_COMMANDS
    c = r.choice([
        lambda: ["COMMAND", r.choice(["GETKEYS", "GETKEYSANDFLAGS"])] + anycmd(g),
        lambda: ["COMMAND", "INFO"] + [r.choice(plain) for _ in range(r.randint(1, 3))],
        lambda: ["COMMAND", "DOCS", r.choice(plain)],
        lambda: ["COMMAND", "COUNT"],
        lambda: ["CONFIG", "GET", r.choice(CONFIG_NAMES)],
        lambda: ["OBJECT", r.choice(["ENCODING", "REFCOUNT"]), g.key()],
        lambda: strings(g),
        lambda: big(g),
    ])
    return c()


def big(g):
    """Commands that push a collection past its compact encoding's limits."""
    r = g.r
    n = r.choice([100, 130, 600])
    c = r.choice([
        lambda: ["RPUSH", g.key()] + [str(i) for i in range(n)],
        lambda: ["HSET", g.key()] + sum(([f"f{i}", str(i)] for i in range(n)), []),
        # Equal scores: lex ranges over mixed scores walk a big set by its random levels.
        lambda: ["ZADD", g.key()] + sum((["0", f"m{i}"] for i in range(n)), []),
        lambda: ["SADD", g.key()] + [str(i) for i in range(n)],
        lambda: ["OBJECT", "ENCODING", g.key()],
    ])
    return c()


# Commands that change the connection or the server beyond the data (replication, shutdown,
# monitors, subscriptions, blocking, configuration, users, files), left out of `anycmd`.
NOT_AT_RANDOM = {
    "shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe", "sync", "psync",
    "replicaof", "slaveof", "failover", "config", "acl", "auth", "hello", "client", "save",
    "bgsave", "bgrewriteaof", "module", "migrate", "wait", "waitaof", "quit", "reset",
    "select", "swapdb", "multi", "exec", "discard", "watch", "script", "function",
    "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
    "xread", "xreadgroup", "cluster", "readonly", "readwrite", "asking", "restore-asking",
    "flushall", "flushdb", "pfselftest", "lolwut", "latency", "slowlog", "memory", "info",
    "time", "lastsave", "randomkey", "role", "command", "object", "eval", "evalsha",
    "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "spop", "srandmember", "hrandfield",
    "zrandmember", "pfdebug", "unsubscribe", "punsubscribe", "sunsubscribe", "publish",
    "spublish", "pubsub", "dump", "restore", "sort", "sort_ro", "keys", "scan", "echo",
    "georadius", "georadiusbymember", "georadius_ro", "georadiusbymember_ro",
    "acl|genpass", "acl|log", "acl|list", "acl|users", "acl|getuser", "acl|save", "acl|load",
}
ANY_COMMANDS = []
PLAIN_COMMANDS = []


def anycmd(g):
    """Any other command with a few random arguments: arity, syntax and type errors."""
    r = g.r
    name = r.choice(ANY_COMMANDS)
    pool = KEYS + ["0", "1", "-1", "abc", "", "10", "2.5", "WITHSCORES", "COUNT", "LIMIT",
                   "NX", "XX", "GET", "MATCH", "*", "LEFT", "RIGHT", "STREAMS", "BY", "$"]
    parts = name.split("|")
    return [p.upper() for p in parts] + [r.choice(pool) for _ in range(r.randint(0, 4))]


# JSON documents (the json family, against Redis Stack: --family json).
JSON_KEYS = ["a", "b", "c", "arr", "o", "n", "s", "x"]
JSON_RAW = [
    "1", "-0", "0.0", "1.5", "1e3", "1E-2", "-2.5e-7", "9007199254740993", "18446744073709551615",
    "-9223372036854775808", "123456789012345678901234567890", "1e308", "0.1", "3.0", "100",
    '"s"', '""', '"h\\u00e9"', '"a\\"b"', '"\\n"', "true", "false", "null", "[]", "{}",
    "[1,[2,[3]]]", '{"a":{"a":{"a":1}}}', ' [ 1 , 2 ] ', '{"a":1,"a":2}',
    # not JSON
    "", "nope", "{", "[1,]", "'s'", "NaN", "01", "1e400", '{"a":1}x', "[1,2",
]


def json_value(r, depth=0):
    k = r.random()
    if depth < 3 and k < 0.25:
        return [json_value(r, depth + 1) for _ in range(r.randint(0, 4))]
    if depth < 3 and k < 0.5:
        return {r.choice(JSON_KEYS): json_value(r, depth + 1) for _ in range(r.randint(0, 4))}
    return r.choice([0, 1, -1, 2, 3, 10, 2.5, -0.5, 1e20, 0.1, "s", "", "xyz", "é", "1",
                     True, False, None])


def json_text(g):
    r = g.r
    if r.random() < 0.3:
        return r.choice(JSON_RAW)
    return json.dumps(json_value(r), separators=(",", ":"), ensure_ascii=r.random() < 0.5)


JSONPATH_STEPS = [
    ".a", ".b", ".c", ".arr", ".o", ".n", ".s", "..a", "..b", "..*", ".*", "[0]", "[1]", "[-1]",
    "[5]", "[*]", "[0:2]", "[1:]", "[:-1]", "[::2]", '["a"]', "['b']", "[0,1]", "['a','b']",
    "[?(@>1)]", "[?(@.a==1)]", "[?(@.a)]", '[?(@=="s")]', "[?(@.n<3 && @.n>0)]",
    "[?(@.a || @.b)]", '[?(@ =~ "x.*")]', "[?(@.a==true)]", "[?(@==null)]", ".nosuch",
    "[ 0 ]", '[ "a" ]', "[?(@.a > 1 && @.b)]", "[?@.a]", "[-2:]", "[0,-1]", "['a','nosuch']",
    "..[0]", "..[?(@.n)]", "[?(@.a == $.b)]", "[?(@.s == 's' || (@.n >= 2 && @.n != 3))]",
    "[?(2.5 < @)]", "[?(@ == -1)]", "[?(false)]",
]
LEGACY_STEPS = [".a", ".b", ".arr", ".o", ".n", ".s", "[0]", "[1]", "[-1]", "[9]", '["a"]',
                ".nosuch", "[*]", ".*", "..a"]
BAD_PATHS = ["$[", "$.", "$..", "[", "$.a[?(", "$.a[1:2:0]", ".a..b", "$a", "$.a[x]", "..", "$[?(@.a==)]",
             "$.a b", "$[01]", "$[?(!@.a)]", "$[?(@.a in [1])]", "$[1:2", '$["a]', "$[?(@.a==1e3)]",
             "$[?(@.a==1)", "$.a[?(@ ==)]", " ", "$ ", "a.", ".a.", "$[1,]", "$[:-]", "$['a\"b']"]


def json_path(g, legacy_ok=True, nested_ok=True):
    """A path; without nested_ok, none whose matches may lie inside one another (RedisJSON 2.8
    crashes Redis Stack when JSON.SET, JSON.MSET, JSON.MERGE or JSON.ARRINSERT writes through
    one, as `$..*`)."""
    p = json_path_any(g, legacy_ok)
    while not nested_ok and ".." in p:
        p = json_path_any(g, legacy_ok)
    return p


def json_path_any(g, legacy_ok):
    r = g.r
    k = r.random()
    if k < 0.05:
        return r.choice(BAD_PATHS)
    if k < 0.65 or not legacy_ok:
        return "$" + "".join(r.choice(JSONPATH_STEPS) for _ in range(r.randint(0, 3)))
    p = "".join(r.choice(LEGACY_STEPS) for _ in range(r.randint(0, 3)))
    if p == "" or r.random() < 0.2:
        return "." + p.lstrip(".") if p else "."
    if p.startswith(".") and r.random() < 0.3:
        p = p[1:]
    return p


def json_(g):
    r = g.r
    k = g.key
    p = lambda: json_path(g)  # noqa: E731
    flat = lambda: json_path(g, nested_ok=False)  # noqa: E731
    opt = lambda: g.maybe(0.7, p())  # noqa: E731
    c = r.choice([
        lambda: ["JSON.SET", k(), "$", json_text(g)],
        lambda: ["JSON.SET", k(), flat(), json_text(g)] + g.maybe(0.3, r.choice(["NX", "XX", "nx", "BAD"])),
        lambda: ["JSON.GET", k()] + [p() for _ in range(r.randint(0, 3))],
        lambda: ["JSON.GET", k()] + g.maybe(0.5, "INDENT", r.choice(["\t", "  ", ""]))
        + g.maybe(0.5, "NEWLINE", r.choice(["\n", ""])) + g.maybe(0.5, "SPACE", " ") + g.maybe(0.7, p()),
        lambda: ["JSON.MGET"] + g.keys(1, 3) + [p()],
        # Distinct keys: a second triple on a key whose root the first replaced crashes
        # RedisJSON 2.8 (Vireo adds only where the parent is still an object).
        lambda: ["JSON.MSET"] + [x for key in dict.fromkeys(g.keys(1, 2))
                                 for x in (key, flat(), json_text(g))],
        lambda: ["JSON.MERGE", k(), flat(), json_text(g)],
        lambda: [r.choice(["JSON.DEL", "JSON.FORGET"]), k()] + opt(),
        lambda: ["JSON.TYPE", k()] + opt(),
        lambda: [r.choice(["JSON.NUMINCRBY", "JSON.NUMMULTBY"]), k(), p(),
                 r.choice(["1", "-1", "2", "0.5", "1e308", "-3", "abc", "1.0", "0", "1e400"])],
        lambda: ["JSON.STRAPPEND", k()] + opt() + [r.choice(['"x"', '""', "x", "1", '"é"'])],
        lambda: ["JSON.STRLEN", k()] + opt(),
        lambda: ["JSON.ARRAPPEND", k(), p()] + [json_text(g) for _ in range(r.randint(0, 3))],
        lambda: ["JSON.ARRINDEX", k(), p(), json_text(g)] + g.maybe(0.5, g.small())
        + g.maybe(0.3, g.small()),
        lambda: ["JSON.ARRINSERT", k(), flat(), g.small()] + [json_text(g) for _ in range(r.randint(0, 2))],
        lambda: ["JSON.ARRLEN", k()] + opt(),
        lambda: ["JSON.ARRPOP", k()] + g.maybe(0.7, p()) + g.maybe(0.4, g.small()),
        lambda: ["JSON.ARRTRIM", k(), p(), g.small(), g.small()],
        lambda: [r.choice(["JSON.OBJKEYS", "JSON.OBJLEN"]), k()] + opt(),
        lambda: ["JSON.CLEAR", k()] + opt(),
        lambda: ["JSON.TOGGLE", k(), p()],
        lambda: ["JSON.RESP", k()] + opt(),
        # The same keys as other types, and the key-level commands on documents.
        lambda: r.choice([["SET", k(), "v"], ["LPUSH", k(), "v"], ["DEL", k()], ["TYPE", k()],
                          ["EXISTS", k()], ["COPY", k(), k(), "REPLACE"], ["RENAME", k(), k()]]),
    ])
    return c()


FAMILIES = {
    "anycmd": anycmd, "expiry": expiry, "introspection": introspection,
    "streams": streams, "geo": geo, "big": big, "multi": multi, "scripting": scripting,
    "strings": strings, "keys": keys_, "lists": lists, "hashes": hashes, "sets": sets,
    "zsets": zsets, "bitmaps": bitmaps, "hll": hll, "sort": sort_, "json": json_,
}


def gen(g, fams):
    return FAMILIES[g.r.choice(fams)](g)


# --- running -----------------------------------------------------------------------------------

def bulk(r):
    """The content of a bulk string reply, or None for a nil."""
    if r[:1] != b"$" or r[:3] == b"$-1":
        return None
    return r[r.index(b"\r\n") + 2:-2]


def call_both(v, rd, cmd):
    """Both servers' replies to cmd: a command, or one of --persist's steps across them."""
    if cmd[0] == "@XRESTORE" and v.queued is None:
        # Each server's DUMP of the key restored into the other: either side's payload losing
        # anything shows in the later reads of the restored key.
        pv, pr = bulk(v.raw(["DUMP", cmd[1]])), bulk(rd.raw(["DUMP", cmd[1]]))
        if pv is None or pr is None:
            return pv is None, pr is None
        restore = ["RESTORE", cmd[2], "0"]
        return v.call(restore + [pr, "REPLACE"]), rd.call(restore + [pv, "REPLACE"])
    if cmd[0] == "@XRESTORE":
        cmd = ["PING"]
    return v.call(cmd), rd.call(cmd)


def persist_step(g):
    """A save, a save-and-load of the whole dataset, or a key moved across servers by
    DUMP/RESTORE."""
    # A few thousand DEBUG RELOADs take Redis 7.4 down ("Failed creating the lua jemalloc
    # tcache": each reload makes a new one), so there are at most a thousand.
    x = g.r.random()
    if x < 0.1 and g.reloads < 1000:
        g.reloads += 1
        return ["DEBUG", "RELOAD"]
    if x < 0.2:
        return ["SAVE"]
    return ["@XRESTORE", g.key(), g.key()]


def differs(seq, vport, rport, resp):
    """Replays seq on fresh connections; the index of the first differing reply, or None."""
    v, rd = Conn(vport), Conn(rport)
    for c in (v, rd):
        c.call(["FLUSHALL"])
        if resp == 3:
            c.call(["HELLO", "3"])
    for i, cmd in enumerate(seq):
        # (A blocked client's command, as --blocking notes it: not replayed.)
        if cmd[0] != "#":
            rv, rr = call_both(v, rd, cmd)
            if rv != rr:
                return i
    return None


def shrink(seq, vport, rport, resp):
    """Drops commands one at a time while the replay still differs."""
    i = differs(seq, vport, rport, resp)
    if i is None:
        return None
    seq = seq[:i + 1]
    j = 0
    while j < len(seq) - 1:
        trial = seq[:j] + seq[j + 1:]
        k = differs(trial, vport, rport, resp)
        if k is not None:
            seq = trial[:k + 1]
        else:
            j += 1
    return seq


PONG = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def published(sub):
    """The keyspace notifications a subscriber received since last asked, as (channel,
    message): a PING's reply comes after every message published before it."""
    sub.send(["PING"])
    got = []
    while (r := sub.take()) != PONG:
        # *4 pmessage pattern channel message
        parts = r.split(b"\r\n")
        got.append((parts[6], parts[8]))
    return got


class Trackers:
    """Two RESP3 clients with CLIENT TRACKING on one server: one in the default mode, which
    reads every key after each command so that each stays tracked, and one in BCAST mode. What
    they were told since last asked is compared between the servers."""

    def __init__(self, port):
        self.own, self.bcast = Conn(port), Conn(port)
        for c, mode in ((self.own, []), (self.bcast, ["BCAST"])):
            c.raw(["HELLO", "3"])
            c.raw(["CLIENT", "TRACKING", "ON"] + mode)

    def invalidated(self):
        """(mode, keys or None for a flush) per message, in the order they came; then every
        key read again."""
        got = []
        for name, c in (("own", self.own), ("bcast", self.bcast)):
            c.send(["PING"])
            while (r := c.take()) != b"+PONG\r\n":
                # >2 invalidate <keys: an array, or null when everything was flushed>
                head, _, rest = r.partition(b"\r\n")
                kind, rest = split_items(rest, 1)
                if kind != [b"$10\r\ninvalidate\r\n"]:
                    got.append((name, r))
                    continue
                if rest.startswith(b"_") or rest.startswith(b"*-1"):
                    got.append((name, None))
                    continue
                h, _, body = rest.partition(b"\r\n")
                keys, _ = split_items(body, int(h[1:]))
                got.append((name, sorted(k.split(b"\r\n")[1] for k in keys)))
        self.own.raw(["MGET"] + KEYS)
        return got


MS_TIME = re.compile(rb"\b1[0-9]{12}\b")


class ReplicaStream:
    """A connection to one server that says it is a replica (REPLCONF, PSYNC) and reads the
    replication stream: what each command propagated to replicas and the AOF is compared
    between the servers. After each command a marker write (INCR in database 9, from another
    connection) shows where that command's share of the stream ends."""

    def __init__(self, port):
        self.c = Conn(port)
        self.c.raw(["REPLCONF", "listening-port", "1"])
        self.c.send(["PSYNC", "?", "-1"])
        while b"\r\n" not in self.c.buf:
            self.c._fill()
        line, _, self.c.buf = self.c.buf.partition(b"\r\n")
        if not line.startswith(b"+FULLRESYNC"):
            raise SystemExit(f"port {port}: PSYNC answered {line!r}")
        # The RDB, as `$<len>\r\n<bytes>` (no capa eof): a replica's full sync.
        while b"\r\n" not in self.c.buf:
            self.c._fill()
        head, _, self.c.buf = self.c.buf.partition(b"\r\n")
        n = int(head[1:])
        while len(self.c.buf) < n:
            self.c._fill()
        self.c.buf = self.c.buf[n:]
        self.received = 0
        self.marker = Conn(port)
        self.marker.call(["SELECT", "9"])

    def propagated(self):
        """The commands propagated since last asked (ms timestamps blanked), up to the marker."""
        self.marker.call(["INCR", "__marker"])
        got = []
        while True:
            r = self.c.take()
            self.received += len(r)
            head, _, rest = r.partition(b"\r\n")
            args = [MS_TIME.sub(b"<ms>", a.split(b"\r\n")[1])
                    for a in split_items(rest, int(head[1:]))[0]]
            if args == [b"INCR", b"__marker"]:
                break
            if args[0].upper() == b"RESTORE" and len(args) > 3:
                # (--persist restores each server's payload on the other.)
                args[3] = b"<payload>"
            if args[0].upper() != b"PING":
                got.append(args)
        if got[-1:] == [[b"SELECT", b"9"]]:
            got.pop()
        # (Redis drops a replica that has not acknowledged for repl-timeout.)
        self.c.send(["REPLCONF", "ACK", str(self.received)])
        return got


def info_field(conn, section, field):
    text = conn.call(["INFO", section]).decode(errors="replace")
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


STAT_FIELDS = ("keyspace_hits", "keyspace_misses", "expired_keys", "total_error_replies")


class Stats:
    """What each command added to the INFO stats counters monitoring reads (hit ratio,
    expiries, errors), compared between the servers."""

    def __init__(self, port):
        self.c = Conn(port)
        self.last = self.read()

    def read(self):
        return {f: int(info_field(self.c, "stats", f) or 0) for f in STAT_FIELDS}

    def delta(self):
        now = self.read()
        d = {f: now[f] - self.last[f] for f in STAT_FIELDS}
        self.last = now
        return d


def replica_differs(master, replica):
    """Why the replica on port `replica` does not hold what its master holds, or None: it is
    given until its offset reaches the master's (5 s), then the digests are compared."""
    m, r = Conn(master), Conn(replica)
    # (The first full sync waits for Redis's repl-diskless-sync-delay, 5 s.)
    deadline = time.time() + 15
    while True:
        want = info_field(m, "replication", "master_repl_offset")
        got = info_field(r, "replication", "slave_repl_offset")
        if info_field(r, "replication", "master_link_status") == "up" and want == got:
            break
        if time.time() > deadline:
            return f"replica on {replica} at offset {got}, master on {master} at {want}"
        time.sleep(0.01)
    dm, dr = m.call(["DEBUG", "DIGEST"]), r.call(["DEBUG", "DIGEST"])
    if dm[:1] != b"+" or dm != dr:
        return f"master {master} digest {dm!r}, replica {replica} digest {dr!r}"
    return None


def blocking_cmd(g):
    """A blocking command that waits for ever on the fuzz keys (--blocking)."""
    r = g.r
    end = lambda: r.choice(["LEFT", "RIGHT"])  # noqa: E731
    return r.choice([
        lambda: [r.choice(["BLPOP", "BRPOP"])] + g.keys(1, 2) + ["0"],
        lambda: ["BLMOVE", g.key(), g.key(), end(), end(), "0"],
        lambda: ["BRPOPLPUSH", g.key(), g.key(), "0"],
        lambda: ["BLMPOP", "0", "2", g.key(), g.key(), end()] + g.maybe(0.5, "COUNT", "2"),
        lambda: [r.choice(["BZPOPMIN", "BZPOPMAX"])] + g.keys(1, 2) + ["0"],
        lambda: ["BZMPOP", "0", "1", g.key(), r.choice(["MIN", "MAX"])]
        + g.maybe(0.5, "COUNT", "2"),
        lambda: ["XREAD", "BLOCK", "0", "STREAMS", g.key(), r.choice(["$", "0", "1-1"])],
        lambda: ["XREADGROUP", "GROUP", "g1", "c1", "BLOCK", "0", "STREAMS", g.key(),
                 r.choice([">", "0"])],
    ])()


class Blocker:
    """A client that keeps one blocking command waiting on a server (--blocking). After each of
    the driver's commands, CLIENT UNBLOCK from a second connection says whether it was still
    waiting (it then answers as on a timeout) or had been served; that and its reply are what
    is compared."""

    def __init__(self, port, resp):
        self.c, self.ctl = Conn(port), Conn(port)
        if resp == 3:
            self.c.call(["HELLO", "3"])
        self.id = self.c.raw(["CLIENT", "ID"])[1:-2].decode()
        self.cmd = None

    def start(self, cmd):
        """Sends `cmd` and waits until the server has taken it: blocked, or answered."""
        self.cmd = cmd
        self.c.send(cmd)
        while not (self.c.buf or select.select([self.c.s], [], [], 0)[0]):
            info = self.ctl.raw(["CLIENT", "LIST", "ID", self.id])
            if re.search(rb" flags=[a-zA-Z]*b", info):
                return

    def settle(self):
        unblocked = self.ctl.raw(["CLIENT", "UNBLOCK", self.id])
        r = normalize_reply(self.cmd, self.c.take())
        self.cmd = None
        return unblocked + r


def runs_sort(cmd, seq):
    """Whether `cmd` (the last of `seq`) is a SORT, or an EXEC of a transaction holding one."""
    sorts = ("SORT", "SORT_RO")
    if cmd[0].upper() != "EXEC":
        return cmd[0].upper() in sorts
    for c in reversed(seq[:-1]):
        if c[0].upper() == "MULTI":
            return False
        if c[0].upper() in sorts:
            return True
    return False


def report(header, seq, *lines):
    """Prints a finding: its header, the commands (one per line, as the differential scripts
    take them), then what each side did."""
    print(f"# {header}")
    for c in seq:
        print(" ".join(quote(x) for x in c))
    for line in lines:
        print(f"#   {line}")
    sys.stdout.flush()


def quote(a):
    if a and all(32 < ord(ch) < 127 and ch not in "\"'\\" for ch in a):
        return a
    out = '"'
    for ch in a:
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            out += {"\r": "\\r", "\n": "\\n", "\t": "\\t"}.get(ch, "\\x%02x" % ord(ch))
    return out + '"'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES))
    ap.add_argument("--resp", type=int, choices=[2, 3], default=None)
    ap.add_argument("--flush-every", type=int, default=60)
    ap.add_argument("--keep-going", action="store_true", help="report every mismatch")
    ap.add_argument("--events", action="store_true",
                    help="also compare the keyspace notifications each command publishes")
    ap.add_argument("--tracking", action="store_true",
                    help="also compare the invalidations tracking clients receive")
    ap.add_argument("--propagation", action="store_true",
                    help="compare what each command propagates to replicas and the AOF")
    ap.add_argument("--replicas", action="store_true",
                    help="a Redis replica of Vireo and a Vireo replica of Redis: after each "
                         "sequence, each replica's DEBUG DIGEST must be its master's")
    ap.add_argument("--stats", action="store_true",
                    help="compare what each command adds to INFO's keyspace_hits/misses, "
                         "expired_keys and total_error_replies")
    ap.add_argument("--persist", action="store_true",
                    help="now and then DEBUG RELOAD both, or DUMP a key on each server and "
                         "RESTORE it on the other (@XRESTORE src dst)")
    ap.add_argument("--blocking", action="store_true",
                    help="keep a blocking command waiting, and compare how it is served")
    a = ap.parse_args()

    fams = a.family or sorted(set(FAMILIES) - {"json"})
    if "json" in fams:
        # RedisJSON's reference is Redis Stack 7.4: other families then compare with 7.4 too.
        ref = os.environ.get("VIREO_REFERENCE_STACK")
        if not ref:
            raise SystemExit("--family json needs VIREO_REFERENCE_STACK (scripts/reference-stack)")
    else:
        ref = os.environ.get("VIREO_REFERENCE_REDIS") or shutil.which("redis-server")
        if not ref:
            raise SystemExit("no reference redis-server (set VIREO_REFERENCE_REDIS)")
    vireo = os.environ.get("VIREO_BIN")
    if not vireo:
        for p in ("target/release/vireo-server", "target/debug/vireo-server"):
            if os.path.exists(os.path.join(ROOT, p)):
                vireo = os.path.join(ROOT, p)
                break
    if not vireo:
        raise SystemExit("no vireo-server binary: cargo build --release -p vireo-server")
    vcmd = [vireo]
    if "json" in fams:
        module = os.path.join(os.path.dirname(vireo), "libvireo_json.so")
        if not os.path.exists(module):
            raise SystemExit(f"no {module}: cargo build --release -p vireo-json")
        vcmd += ["--loadmodule", module]
    seed = a.seed if a.seed is not None else random.randrange(1 << 32)
    tmp = tempfile.mkdtemp(prefix="vireo-dfuzz-")
    vport, rport = free_port(), free_port()
    procs = [start(vcmd, vport, tmp, "vireo"), start([ref], rport, tmp, "redis")]
    # --replicas: a Redis replica of the Vireo server and a Vireo replica of the Redis one.
    replicas = []
    if a.replicas:
        for cmd, master, name in (([ref], vport, "redis-replica"), (vcmd, rport, "vireo-replica")):
            port = free_port()
            procs.append(start(cmd + ["--replicaof", "127.0.0.1", str(master)], port, tmp, name))
            replicas.append((master, port))
    found = checked = 0
    try:
        names = Conn(rport).call(["COMMAND", "LIST"])
        _, _, rest = names.partition(b"\r\n")
        for item in split_items(rest, int(names[1:names.index(b"\r")]))[0]:
            name = item.split(b"\r\n")[1].decode()
            if name.split("|")[0] not in NOT_AT_RANDOM and name not in NOT_AT_RANDOM:
                ANY_COMMANDS.append(name)
        ANY_COMMANDS.sort()
        events = None
        if a.events:
            events = []
            for port in (vport, rport):
                Conn(port).call(["CONFIG", "SET", "notify-keyspace-events", "KEAm"])
                # Lazy expiry only: the active cycle runs at each server's own moments.
                Conn(port).call(["DEBUG", "SET-ACTIVE-EXPIRE", "0"])
                sub = Conn(port)
                sub.raw(["PSUBSCRIBE", "__key*__:*"])
                events.append(sub)
        trackers = None
        if a.tracking or a.propagation or a.stats or a.replicas:
            for port in (vport, rport):
                Conn(port).call(["DEBUG", "SET-ACTIVE-EXPIRE", "0"])
        streams = [ReplicaStream(port) for port in (vport, rport)] if a.propagation else []
        stats = [Stats(port) for port in (vport, rport)] if a.stats else []
        rnd = random.Random(seed)
        g = G(rnd)
        deadline = time.time() + a.seconds
        n = 0
        while time.time() < deadline:
            resp = a.resp or rnd.choice([2, 3])
            v, rd = Conn(vport), Conn(rport)
            for c in (v, rd):
                c.call(["FLUSHALL"])
                if resp == 3:
                    c.call(["HELLO", "3"])
            if a.tracking:
                # New ones each time: a flush leaves no key tracked.
                trackers = [Trackers(port) for port in (vport, rport)]
                for t in trackers:
                    t.invalidated()
            blockers = [Blocker(port, resp) for port in (vport, rport)] if a.blocking else []
            if replicas:
                checked += 1
                for master, replica in replicas:
                    why = replica_differs(master, replica)
                    if why:
                        found += 1
                        report(f"replica differs (seed {seed}) after:", seq, why)
                        if not a.keep_going:
                            return 1
            seq = []
            g.sorted.clear()
            for _ in range(a.flush_every):
                if blockers and blockers[0].cmd is None:
                    bcmd = blocking_cmd(g)
                    seq.append(["#", "blocked:"] + bcmd)
                    for b in blockers:
                        b.start(bcmd)
                cmd = persist_step(g) if a.persist and rnd.random() < 0.04 else gen(g, fams)
                seq.append(cmd)
                n += 1
                try:
                    rv, rr = call_both(v, rd, cmd)
                except SystemExit as e:
                    report(f"{e} (vireo on {vport}, redis on {rport}) after:", seq)
                    return 2
                # What else each server did (notifications, invalidations), once the replies agree.
                side = []
                if blockers and rv == rr:
                    side.append(("blocked clients", [b.settle() for b in blockers]))
                if events and rv == rr:
                    evs = [published(c) for c in events]
                    # SORT reads its BY and GET keys in its set's order, which for a hash table
                    # is each server's own, and Redis's unstable quicksort picks which of equal
                    # elements a LIMIT window GETs: the same keys, in another order and number.
                    if runs_sort(cmd, seq):
                        evs = [sorted(set(e)) for e in evs]
                    side.append(("events", evs))
                if trackers and rv == rr:
                    side.append(("invalidations", [t.invalidated() for t in trackers]))
                if streams and rv == rr:
                    side.append(("propagation", [s.propagated() for s in streams]))
                if stats and rv == rr:
                    side.append(("stats", [s.delta() for s in stats]))
                differ = [(what, sv, sr) for what, (sv, sr) in side if sv != sr]
                if differ:
                    what, sv, sr = differ[0]
                    found += 1
                    report(f"{what} differ (seed {seed}, RESP{resp}) after:", seq,
                           f"vireo: {sv!r}", f"redis: {sr!r}")
                    if not a.keep_going:
                        return 1
                    break
                if rv != rr:
                    found += 1
                    small = shrink(seq, vport, rport, resp)
                    if small is None:
                        # (Timing: a TTL ran out between the two servers' moments; or the
                        # commands of a blocked client, which a replay leaves out.)
                        report(f"mismatch that did not replay (seed {seed}, RESP{resp}), after:",
                               seq, f"vireo: {rv!r}", f"redis: {rr!r}")
                        break
                    w, r_ = Conn(vport), Conn(rport)
                    for c in (w, r_):
                        c.call(["FLUSHALL"])
                        if resp == 3:
                            c.call(["HELLO", "3"])
                    for c in small[:-1]:
                        call_both(w, r_, c)
                    lv, lr = call_both(w, r_, small[-1])
                    report(f"mismatch (seed {seed}, RESP{resp}), shortest replay:", small,
                           f"vireo: {lv!r}", f"redis: {lr!r}")
                    if not a.keep_going:
                        return 1
                    break
        if replicas:
            print(f"replicas compared with their masters {checked} times")
        print(f"{n} commands, {found} mismatches (seed {seed}, families {','.join(fams)})")
        return 1 if found else 0
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
