#!/usr/bin/env python3
"""Record Redis's command table into one JSON file per command.

Talks to a reference Redis 7.0 server, reads the replies of COMMAND (COMMAND INFO for every
command) and COMMAND DOCS, and writes `<name>.json` / `<container>-<name>.json` beside this script
in the schema of Redis's src/commands/*.json files. server/build.rs turns those files into the
static command table.

The JSON keeps only what the schema keeps. Three things COMMAND INFO prints are derived by Redis
from the rest, and are left out here; build.rs derives them the same way:

  * the `movablekeys` flag and the legacy first/last/step key positions, from the key specs;
  * the ACL categories implied by the command flags (write -> @write, readonly -> @read unless
    @scripting, admin -> @admin @dangerous, pubsub -> @pubsub, fast -> @fast, blocking ->
    @blocking, not fast -> @slow), so `acl_categories` lists only the others.

Before writing, the script re-derives those fields from what it is about to write and checks them
against the reply; a mismatch aborts the run.

Usage:
    REFERENCE_REDIS_PORT=6379 python3 record.py     # use a server that is already running
    python3 record.py                               # start `redis-server` (or $REDIS_SERVER)
    python3 record.py --check                       # compare only; exit 1 if a file would change

The vireo/ subdirectory (commands Vireo adds beyond Redis 7.0, written by hand) is left alone.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The order in which COMMAND INFO prints command flags and ACL categories.
FLAG_ORDER = (
    "write readonly denyoom module admin pubsub noscript blocking loading stale skip_monitor "
    "skip_slowlog asking fast no_auth may_replicate sentinel only_sentinel no_mandatory_keys "
    "protected no_async_loading no_multi movablekeys allow_busy"
).split()
ACL_ORDER = (
    "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream pubsub "
    "admin fast slow blocking dangerous connection transaction scripting"
).split()


class RespError(Exception):
    pass


class Client:
    """A minimal RESP3 client: enough for COMMAND and COMMAND DOCS."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.rd = self.sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.rd.readline()
        if not line.endswith(b"\r\n"):
            raise RespError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind in (b"-", b"!"):
            if kind == b"!":
                rest = self.rd.read(int(rest) + 2)[:-2]
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self.rd.read(n + 2)[:-2].decode()
            return data[4:] if kind == b"=" else data
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        if kind == b"%":
            n = int(rest)
            m = {}
            for _ in range(n):
                k = self._read()
                m[k] = self._read()
            return m
        if kind == b"|":  # attribute: skip it, return the value that follows
            for _ in range(2 * int(rest)):
                self._read()
            return self._read()
        if kind == b"_":
            return None
        if kind == b"#":
            return rest == b"t"
        if kind in (b",", b"("):
            return rest.decode()
        raise RespError("unexpected reply type %r" % line)

    def close(self):
        self.sock.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not exe:
        sys.exit("record.py: no redis-server found: set REFERENCE_REDIS_PORT or REDIS_SERVER")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            c = Client(port)
            c.call("PING")
            return proc, c
        except (OSError, RespError):
            time.sleep(0.1)
    proc.kill()
    sys.exit("record.py: %s did not start" % exe)


# ---------------------------------------------------------------------------------------------
# reply -> JSON schema


def convert_key_spec(ks):
    unknown = set(ks) - {"flags", "begin_search", "find_keys", "notes"}
    if unknown:
        raise ValueError("unknown key spec fields %s" % sorted(unknown))
    out = {"flags": [f.upper() for f in ks["flags"]]}
    if ks.get("notes"):
        out["notes"] = ks["notes"]
    bs, bspec = ks["begin_search"]["type"], ks["begin_search"]["spec"]
    if bs == "index":
        out["begin_search"] = {"index": {"pos": bspec["index"]}}
    elif bs == "keyword":
        out["begin_search"] = {
            "keyword": {"keyword": bspec["keyword"], "startfrom": bspec["startfrom"]}
        }
    elif bs == "unknown":
        out["begin_search"] = {"unknown": None}
    else:
        raise ValueError("unknown begin_search type %r" % bs)
    fk, fspec = ks["find_keys"]["type"], ks["find_keys"]["spec"]
    if fk == "range":
        out["find_keys"] = {
            "range": {
                "lastkey": fspec["lastkey"],
                "step": fspec["keystep"],
                "limit": fspec["limit"],
            }
        }
    elif fk == "keynum":
        out["find_keys"] = {
            "keynum": {
                "keynumidx": fspec["keynumidx"],
                "firstkey": fspec["firstkey"],
                "step": fspec["keystep"],
            }
        }
    elif fk == "unknown":
        out["find_keys"] = {"unknown": None}
    else:
        raise ValueError("unknown find_keys type %r" % fk)
    return out


ARG_FIELDS = {
    # reply field -> JSON field
    "name": "name",
    "type": "type",
    "display_text": "display",
    "key_spec_index": "key_spec_index",
    "token": "token",
    "summary": "summary",
    "since": "since",
    "deprecated_since": "deprecated_since",
}
ARG_FLAGS = ("optional", "multiple", "multiple_token")


def convert_arg(a):
    out = {}
    for k, v in a.items():
        if k in ARG_FIELDS:
            out[ARG_FIELDS[k]] = v
        elif k == "flags":
            for f in v:
                if f not in ARG_FLAGS:
                    raise ValueError("unknown argument flag %r" % f)
                out[f] = True
        elif k == "arguments":
            out["arguments"] = [convert_arg(x) for x in v]
        else:
            raise ValueError("unknown argument field %r" % k)
    return out


DOC_FIELDS = {
    "summary",
    "since",
    "group",
    "complexity",
    "arguments",
    "history",
    "doc_flags",
    "deprecated_since",
    "replaced_by",
    "subcommands",
    "module",
}


def implied_acl(flags, categories):
    f = set(flags)
    imp = set()
    if "write" in f:
        imp.add("write")
    if "readonly" in f and "scripting" not in categories:
        imp.add("read")
    if "admin" in f:
        imp |= {"admin", "dangerous"}
    if "pubsub" in f:
        imp.add("pubsub")
    if "fast" in f:
        imp.add("fast")
    else:
        imp.add("slow")
    if "blocking" in f:
        imp.add("blocking")
    return imp


def convert(info, docs, container=None):
    """One COMMAND INFO entry + its COMMAND DOCS map -> (file name, JSON object)."""
    name, arity, flags, _first, _last, _step, acl, tips, key_specs, _subs = info
    unknown = set(docs) - DOC_FIELDS
    if unknown:
        raise ValueError("%s: unknown doc fields %s" % (name, sorted(unknown)))
    short = name.split("|", 1)[1] if container else name
    cats = [c[1:] if c.startswith("@") else c for c in acl]
    implied = implied_acl(flags, cats)
    body = {"arity": arity}
    if container:
        body["container"] = container.upper()
    for k in ("summary", "complexity", "group", "since", "deprecated_since", "replaced_by"):
        if docs.get(k) is not None:
            body[k] = docs[k]
    if docs.get("history"):
        body["history"] = [list(h) for h in docs["history"]]
    if docs.get("doc_flags"):
        body["doc_flags"] = [f.upper() for f in docs["doc_flags"]]
    cmd_flags = [f.upper() for f in flags if f != "movablekeys"]
    if cmd_flags:
        body["command_flags"] = cmd_flags
    explicit = [c.upper() for c in cats if c not in implied]
    if explicit:
        body["acl_categories"] = explicit
    if tips:
        body["command_tips"] = [t.upper() for t in tips]
    if key_specs:
        body["key_specs"] = [convert_key_spec(k) for k in key_specs]
    if docs.get("arguments"):
        body["arguments"] = [convert_arg(a) for a in docs["arguments"]]
    fname = (container + "-" + short if container else name) + ".json"
    return fname, {short.upper(): body}


# ---------------------------------------------------------------------------------------------
# the fields COMMAND INFO derives: checked against the reply before anything is written


def legacy_range(specs):
    """(first, last, step, movable) the way COMMAND INFO derives them from the key specs."""
    if not specs:
        return 0, 0, 0, False

    def plain(ks):
        return "index" in ks["begin_search"] and "range" in ks["find_keys"]

    if len(specs) == 1 and plain(specs[0]):
        ks = specs[0]
        pos, rng = ks["begin_search"]["index"]["pos"], ks["find_keys"]["range"]
        last = rng["lastkey"] if rng["lastkey"] < 0 else pos + rng["lastkey"]
        return pos, last, rng["step"], "INCOMPLETE" in ks["flags"]
    movable = False
    first, last, prev_last = None, 0, 0
    for ks in specs:
        if not plain(ks):
            movable = True
            continue
        pos, rng = ks["begin_search"]["index"]["pos"], ks["find_keys"]["range"]
        if rng["step"] != 1 or (prev_last and prev_last != pos - 1):
            movable = True
            continue
        if "INCOMPLETE" in ks["flags"]:
            movable = True
        first = pos if first is None else min(first, pos)
        abs_last = rng["lastkey"] if rng["lastkey"] < 0 else rng["lastkey"] + pos
        # compared as unsigned: a negative (open-ended) last key wins
        if (abs_last & 0xFFFFFFFF) > (last & 0xFFFFFFFF):
            last = abs_last
        prev_last = last
    if first is None:
        return 0, 0, 0, True
    return first, last, 1, movable


def check_derived(info, body):
    name, _arity, flags, first, last, step, acl, _tips, _ks, _subs = info
    f, l_, s, movable = legacy_range(body.get("key_specs", []))
    problems = []
    if (f, l_, s) != (first, last, step):
        problems.append("key range %s != reply %s" % ((f, l_, s), (first, last, step)))
    dflags = [x.lower() for x in body.get("command_flags", [])]
    if movable:
        dflags.append("movablekeys")
    dflags.sort(key=FLAG_ORDER.index)
    if dflags != flags:
        problems.append("flags %s != reply %s" % (dflags, flags))
    explicit = [c.lower() for c in body.get("acl_categories", [])]
    cats = set(explicit) | implied_acl(dflags, explicit)
    dacl = ["@" + c for c in sorted(cats, key=ACL_ORDER.index)]
    if dacl != acl:
        problems.append("acl %s != reply %s" % (dacl, acl))
    if problems:
        raise ValueError("%s: %s" % (name, "; ".join(problems)))


# ---------------------------------------------------------------------------------------------


def record(client):
    hello = client.call("HELLO", "3")
    version = hello.get("version", "")
    if not version.startswith("7.0.") and not os.environ.get("RECORD_ANY_VERSION"):
        sys.exit("record.py: reference is Redis %s, want 7.0.x (RECORD_ANY_VERSION=1 to force)"
                 % version)
    infos = client.call("COMMAND")
    docs = client.call("COMMAND", "DOCS")
    files = {}
    for info in sorted(infos, key=lambda i: i[0]):
        name = info[0]
        d = docs[name]
        if "module" in d:
            continue  # module commands are not Redis core
        fname, obj = convert(info, d)
        if fname in files:
            raise ValueError("two commands map to %s" % fname)
        files[fname] = obj
        check_derived(info, obj[name.upper()])
        subdocs = d.get("subcommands") or {}
        for sub in sorted(info[9], key=lambda i: i[0]):
            sfname, sobj = convert(sub, subdocs[sub[0]], container=name)
            check_derived(sub, next(iter(sobj.values())))
            if sfname in files:
                raise ValueError("two commands map to %s" % sfname)
            files[sfname] = sobj
    return version, files


def render(obj):
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=HERE, help="output directory (default: beside this script)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 on a difference")
    args = ap.parse_args()

    proc = None
    port = os.environ.get("REFERENCE_REDIS_PORT")
    if port:
        client = Client(int(port))
    else:
        proc, client = start_server()
    try:
        version, files = record(client)
    finally:
        client.close()
        if proc:
            proc.terminate()
            proc.wait()

    # Only the files directly in the output directory: vireo/ (hand-written commands Vireo adds
    # beyond Redis 7.0) is not the recorder's to write, remove or compare.
    existing = {
        f for f in os.listdir(args.out)
        if f.endswith(".json") and os.path.isfile(os.path.join(args.out, f))
    }
    changed = []
    for fname, obj in sorted(files.items()):
        text = render(obj)
        path = os.path.join(args.out, fname)
        old = None
        if fname in existing:
            with open(path, encoding="utf-8") as fh:
                old = fh.read()
        if old != text:
            changed.append(fname)
            if not args.check:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
    stale = sorted(existing - set(files))
    if not args.check:
        for fname in stale:
            os.remove(os.path.join(args.out, fname))
    tops = sum(1 for o in files.values() if "container" not in next(iter(o.values())))
    print(
        "Redis %s: %d commands, %d subcommands; %d file(s) %s, %d stale"
        % (version, tops, len(files) - tops, len(changed),
           "differ" if args.check else "written", len(stale))
    )
    if args.check and (changed or stale):
        for f in changed + stale:
            print("  " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
