//! Key access and call options from module commands (API 1.1): `sdk-examples/keys` built with
//! cargo, loaded into a running server and used over the wire. Every key operation, WRONGTYPE,
//! expiry, SCAN, keyspace notifications, WATCH and client-side tracking invalidation, MULTI/EXEC,
//! the dirty counter, the AOF (replayed by a server without the module) and RM_Call-style
//! options.

use crate::common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{build_module, show, Conn, DirServer, Raw, Server, TempDir};

fn keys_module() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-keys", "vireo_keys").display().to_string())
}

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--loadmodule", keys_module()];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn strings_and_generic_operations() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.script(&[
        ("keys.type s", b"+none\r\n"),
        ("keys.exists s", b":0\r\n"),
        ("keys.get s", b"$-1\r\n"),
        ("keys.len s", b":0\r\n"),
        ("keys.set s hello", b"+OK\r\n"),
        ("get s", b"$5\r\nhello\r\n"),
        ("keys.type s", b"+string\r\n"),
        ("keys.exists s", b":1\r\n"),
        ("keys.len s", b":5\r\n"),
        ("keys.append s !", b":6\r\n"),
        ("keys.setrange s 8 x", b":9\r\n"),
        ("keys.get s", b"$9\r\nhello!\x00\x00x\r\n"),
        ("keys.append n 1", b":1\r\n"),
        ("keys.del s", b":1\r\n"),
        ("keys.del s", b":0\r\n"),
        ("exists s", b":0\r\n"),
        ("keys.unlink n", b":1\r\n"),
        ("keys.unlink n", b":0\r\n"),
        ("set plain v", b"+OK\r\n"),
        ("keys.get plain", b"$1\r\nv\r\n"),
    ]);
    // A module-created key is a normal one for everything else.
    r.expect("keys.set k 10", b"+OK\r\n");
    r.expect("incr k", b":11\r\n");
    r.expect("object encoding k", b"$3\r\nint\r\n");
}

#[test]
fn collections() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.script(&[
        ("keys.push l tail a b c", b":3\r\n"),
        ("keys.push l head z", b":4\r\n"),
        ("lrange l 0 -1", b"*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("keys.type l", b"+list\r\n"),
        ("keys.len l", b":4\r\n"),
        ("keys.lindex l -1", b"$1\r\nc\r\n"),
        ("keys.lindex l 9", b"$-1\r\n"),
        ("keys.lrange l 1 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("keys.pop l head", b"$1\r\nz\r\n"),
        ("keys.pop l tail", b"$1\r\nc\r\n"),
        ("keys.pop l tail", b"$1\r\nb\r\n"),
        ("keys.pop l tail", b"$1\r\na\r\n"),
        ("keys.pop l tail", b"$-1\r\n"),
        ("exists l", b":0\r\n"),
        ("keys.hset h f1 v1", b":1\r\n"),
        ("keys.hset h f1 v2", b":0\r\n"),
        ("keys.hset h f2 v3", b":1\r\n"),
        ("hget h f1", b"$2\r\nv2\r\n"),
        ("keys.hget h f2", b"$2\r\nv3\r\n"),
        ("keys.hget h nope", b"$-1\r\n"),
        ("keys.hgetall h", b"*4\r\n$2\r\nf1\r\n$2\r\nv2\r\n$2\r\nf2\r\n$2\r\nv3\r\n"),
        ("keys.len h", b":2\r\n"),
        ("keys.hdel h f1", b":1\r\n"),
        ("keys.hdel h f1", b":0\r\n"),
        ("keys.hdel h f2", b":1\r\n"),
        ("exists h", b":0\r\n"),
        ("keys.sadd s a b a c", b":3\r\n"),
        ("scard s", b":3\r\n"),
        ("keys.sismember s b", b":1\r\n"),
        ("keys.sismember s x", b":0\r\n"),
        ("keys.smembers s", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("keys.srem s a x", b":1\r\n"),
        ("keys.type s", b"+set\r\n"),
        ("keys.zadd z 2 b", b":1\r\n"),
        ("keys.zadd z 1 a", b":1\r\n"),
        ("keys.zadd z 3.5 c", b":1\r\n"),
        ("keys.zadd z 5 a", b":0\r\n"),
        ("zscore z a", b"$1\r\n5\r\n"),
        ("keys.zscore z c", b"$3\r\n3.5\r\n"),
        ("keys.zscore z x", b"$-1\r\n"),
        (
            "keys.zrange z 0 -1",
            b"*6\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$3\r\n3.5\r\n$1\r\na\r\n$1\r\n5\r\n",
        ),
        ("keys.zrangebyscore z 3 inf", b"*4\r\n$1\r\nc\r\n$3\r\n3.5\r\n$1\r\na\r\n$1\r\n5\r\n"),
        ("keys.zrangebyscore z -inf 2", b"*2\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("keys.zrem z b", b":1\r\n"),
        ("keys.zrem z b", b":0\r\n"),
        ("keys.len z", b":2\r\n"),
        ("keys.type z", b"+zset\r\n"),
        ("keys.zadd z nan x", b"-ERR value is not a valid float\r\n"),
    ]);
    // RESP3: the module's replies as it builds them (a map, doubles).
    let mut c = Conn::resp3(&srv);
    c.expect("keys.hset h3 f v", b"#t\r\n");
    c.expect("keys.hgetall h3", b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    c.expect("keys.zscore z c", b",3.5\r\n");
}

#[test]
fn wrong_types() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.expect("set str v", b"+OK\r\n");
    r.expect("rpush list a", b":1\r\n");
    for line in [
        "keys.get list",
        "keys.append list x",
        "keys.setrange list 0 x",
        "keys.push str tail x",
        "keys.pop str head",
        "keys.lindex str 0",
        "keys.lrange str 0 1",
        "keys.hget str f",
        "keys.hset str f v",
        "keys.hdel str f",
        "keys.hgetall str",
        "keys.sadd str m",
        "keys.srem str m",
        "keys.sismember str m",
        "keys.smembers str",
        "keys.zadd str 1 m",
        "keys.zrem str m",
        "keys.zscore str m",
        "keys.zrange str 0 1",
        "keys.zrangebyscore str 0 1",
        "keys.scanelements str",
        "keys.scanelements list",
    ] {
        r.expect(line, WRONGTYPE);
    }
    // Nothing changed.
    r.expect("get str", b"$1\r\nv\r\n");
    r.expect("lrange list 0 -1", b"*1\r\n$1\r\na\r\n");
    // SET replaces whatever type was there, as the built-in.
    r.expect("keys.set list x", b"+OK\r\n");
    r.expect("type list", b"+string\r\n");
}

#[test]
fn expiry() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.expect("keys.pttl k", b":-2\r\n");
    r.expect("keys.pexpiretime k", b":-2\r\n");
    r.expect("keys.pexpire k 1000", b":0\r\n");
    r.expect("keys.set k v", b"+OK\r\n");
    r.expect("keys.pttl k", b":-1\r\n");
    r.expect("keys.pexpire k 100000", b":1\r\n");
    let ttl = r.int("keys.pttl k");
    assert!((99_000..=100_000).contains(&ttl), "{ttl}");
    assert!((99_000..=100_000).contains(&r.int("pttl k")));
    let at = r.int("keys.pexpiretime k");
    assert_eq!(at, r.int("pexpiretime k"));
    r.expect("keys.pexpireat k 4102444800000", b":1\r\n");
    r.expect("keys.pexpiretime k", b":4102444800000\r\n");
    r.expect("keys.persist k", b":1\r\n");
    r.expect("keys.persist k", b":0\r\n");
    r.expect("ttl k", b":-1\r\n");
    // Relative: gone after it passes.
    r.expect("keys.pexpire k 50", b":1\r\n");
    std::thread::sleep(Duration::from_millis(120));
    r.expect("keys.exists k", b":0\r\n");
    // Absolute in the past deletes at once.
    r.expect("keys.set k v", b"+OK\r\n");
    r.expect("keys.pexpireat k 1000", b":1\r\n");
    r.expect("exists k", b":0\r\n");
    // SET drops a TTL, as the built-in.
    r.expect("set k v px 100000", b"+OK\r\n");
    r.expect("keys.set k w", b"+OK\r\n");
    r.expect("pttl k", b":-1\r\n");
}

#[test]
fn scanning() {
    let srv = start(&[]);
    let mut r = srv.raw();
    let mut want = Vec::new();
    for i in 0..40 {
        r.line(&format!("set key:{i:02} x"));
        want.push(format!("key:{i:02}"));
    }
    r.line("set other x");
    want.sort();
    let mut expect = format!("*{}\r\n", want.len());
    for k in &want {
        expect.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    r.expect("keys.scan key:*", expect.as_bytes());
    let all = r.line("keys.scan");
    assert!(all.starts_with(b"*41\r\n"), "{}", show(&all));
    r.expect("keys.scan nothing*", b"*0\r\n");

    for i in 0..30 {
        r.line(&format!("hset h f{i} v{i}"));
        r.line(&format!("sadd s m{i}"));
        r.line(&format!("zadd z {i} m{i}"));
    }
    for (key, n) in [("h", 60), ("s", 30), ("z", 60)] {
        let got = r.line(&format!("keys.scanelements {key} 4"));
        assert!(got.starts_with(format!("*{n}\r\n").as_bytes()), "{key}: {}", show(&got));
    }
    r.expect("hset small f v", b":1\r\n");
    r.expect("keys.scanelements small", b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.expect("keys.scanelements missing", b"*0\r\n");
}

#[test]
fn notifications_as_the_builtins() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.expect("config set notify-keyspace-events KEA", b"+OK\r\n");
    let mut sub = Conn::new(&srv);
    sub.call("psubscribe __keyevent@0__:*");
    let steps: &[(&str, &[&str])] = &[
        ("keys.set s v", &["set"]),
        ("keys.append s w", &["append"]),
        ("keys.setrange s 0 x", &["setrange"]),
        ("keys.pexpire s 100000", &["expire"]),
        ("keys.persist s", &["persist"]),
        ("keys.del s", &["del"]),
        ("keys.push l tail a", &["rpush"]),
        ("keys.push l head b", &["lpush"]),
        ("keys.pop l head", &["lpop"]),
        ("keys.pop l head", &["lpop", "del"]),
        ("keys.hset h f v", &["hset"]),
        ("keys.hdel h f", &["hdel", "del"]),
        ("keys.sadd st m", &["sadd"]),
        ("keys.srem st m", &["srem", "del"]),
        ("keys.zadd z 1 m", &["zadd"]),
        ("keys.zrem z m", &["zrem", "del"]),
    ];
    for (line, events) in steps {
        r.line(line);
        for ev in *events {
            let m = sub.reply();
            let needle = format!("__keyevent@0__:{ev}\r\n");
            assert!(
                m.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "`{line}`: wanted {ev}, got {}",
                show(&m)
            );
        }
    }
    assert!(sub.reply_within(Duration::from_millis(100)).is_none(), "no more events");
}

#[test]
fn watch_tracking_and_dirty() {
    let srv = start(&[]);
    let mut a = srv.raw();
    let mut b = srv.raw();
    // `k:mirror` is named by no key spec: only the key API's own invalidation covers it.
    a.expect("watch k:mirror", b"+OK\r\n");
    b.expect("keys.mirror k v", b":1\r\n");
    a.script(&[("multi", b"+OK\r\n"), ("set x 1", b"+QUEUED\r\n"), ("exec", b"*-1\r\n")]);
    // A read does not invalidate.
    a.expect("watch k:mirror", b"+OK\r\n");
    b.expect("keys.get k:mirror", b"$1\r\nv\r\n");
    a.script(&[("multi", b"+OK\r\n"), ("set x 1", b"+QUEUED\r\n"), ("exec", b"*1\r\n+OK\r\n")]);

    // Client-side caching: a tracked read of k:log is invalidated by the module's push.
    let mut t = Conn::resp3(&srv);
    t.expect("client tracking on", b"+OK\r\n");
    t.call("get k:mirror");
    t.call("lrange k:log 0 -1");
    b.expect("keys.mirror k w", b":2\r\n");
    let mut got = Vec::new();
    while let Some(m) = t.reply_within(Duration::from_millis(300)) {
        got.extend(m);
    }
    let s = show(&got);
    assert!(s.contains("invalidate") && s.contains("k:mirror") && s.contains("k:log"), "{s}");

    // The dirty counter.
    let before = info_field(&mut a, "rdb_changes_since_last_save");
    b.expect("keys.mirror k z", b":3\r\n");
    let after = info_field(&mut a, "rdb_changes_since_last_save");
    assert!(after >= before + 3, "{before} -> {after}");
}

/// The commands of an AOF's RESP stream, each as its arguments.
fn split_commands(mut b: &[u8]) -> Vec<Vec<String>> {
    fn line(b: &[u8]) -> (usize, &[u8]) {
        let end = b.windows(2).position(|w| w == b"\r\n").expect("a line");
        (end + 2, &b[1..end])
    }
    let num = |s: &[u8]| std::str::from_utf8(s).unwrap().parse::<usize>().unwrap();
    let mut out = Vec::new();
    while !b.is_empty() {
        assert_eq!(b[0], b'*', "{}", show(b));
        let (used, n) = line(b);
        b = &b[used..];
        let mut cmd = Vec::new();
        for _ in 0..num(n) {
            let (used, len) = line(b);
            let len = num(len);
            cmd.push(String::from_utf8_lossy(&b[used..used + len]).into_owned());
            b = &b[used + len + 2..];
        }
        out.push(cmd);
    }
    out
}

fn info_field(r: &mut Raw, name: &str) -> i64 {
    r.info_field("persistence", name).parse().unwrap()
}

#[test]
fn inside_multi_exec() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.script(&[
        ("multi", b"+OK\r\n"),
        ("keys.push l tail a b", b"+QUEUED\r\n"),
        ("keys.pop l head", b"+QUEUED\r\n"),
        ("keys.get l", b"+QUEUED\r\n"),
        ("keys.len l", b"+QUEUED\r\n"),
        ("exec", b"*4\r\n:2\r\n$1\r\na\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:1\r\n"),
        ("lrange l 0 -1", b"*1\r\n$1\r\nb\r\n"),
    ]);
}

/// The AOF gets the built-in commands the module's writes amount to, in the order they ran,
/// wrapped in MULTI/EXEC per module command, never the module command; a server without the
/// module replays it to the same data.
#[test]
fn aof_propagation_replays_without_the_module() {
    let srv = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = srv.raw();
    r.expect("keys.mixed k", b"$4\r\nabcd\r\n");
    r.expect("keys.mirror m v", b":1\r\n");
    r.expect("keys.zadd z 1.5 a", b":1\r\n");
    r.expect("keys.pexpire z 1000000", b":1\r\n");
    r.expect("keys.hset h f v", b":1\r\n");
    r.expect("keys.get k", b"$4\r\nabcd\r\n");
    r.expect("keys.set gone v", b"+OK\r\n");
    r.expect("keys.del gone", b":1\r\n");
    r.expect(
        "keys.call W set x 1",
        b"-ERR NoWrites: ERR Write command 'set' was called while write is not allowed.\r\n",
    );
    let dir = srv.dir.join("appendonlydir");
    let incr = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let aof = std::fs::read(&incr).unwrap();
    let text = show(&aof);
    assert!(!text.to_ascii_lowercase().contains("keys."), "module commands in the AOF: {text}");
    let cmds = split_commands(&aof);
    let names: Vec<String> = cmds.iter().map(|c| c.join(" ")).collect();
    let pos =
        |s: &str| names.iter().position(|n| n == s).unwrap_or_else(|| panic!("{s} in {names:?}"));
    let mixed = ["MULTI", "SET k a", "APPEND k b", "APPEND k c", "APPEND k d", "EXEC"];
    let at = pos("SET k a");
    assert_eq!(names[at - 1], "MULTI", "{names:?}");
    assert_eq!(&names[at - 1..at + 5], &mixed.map(String::from), "{names:?}");
    for n in
        ["SET m v", "SET m:mirror v", "RPUSH m:log v", "ZADD z 1.5 a", "HSET h f v", "DEL gone"]
    {
        pos(n);
    }
    assert!(names.iter().any(|n| n.starts_with("PEXPIREAT z ")), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("SET x")), "{names:?}");

    // Replayed by a server that has no module loaded.
    let copy = TempDir::new("modkeys-replay");
    std::fs::create_dir_all(copy.0.join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, copy.0.join("appendonlydir").join(p.file_name().unwrap())).unwrap();
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_vireo-server"));
    let replay = DirServer::start(bin, &copy.0, &["--appendonly", "yes"]);
    let mut q = replay.raw();
    q.expect("get k", b"$4\r\nabcd\r\n");
    q.expect("get m:mirror", b"$1\r\nv\r\n");
    q.expect("lrange m:log 0 -1", b"*1\r\n$1\r\nv\r\n");
    q.expect("zscore z a", b"$3\r\n1.5\r\n");
    assert!(q.int("ttl z") > 900);
    q.expect("hget h f", b"$1\r\nv\r\n");
    q.expect("exists x", b":0\r\n");
    q.expect("exists gone", b":0\r\n");
    replay.stop();
}

#[test]
fn call_options() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.script(&[
        ("keys.call - set x 1", b"+OK\r\n"),
        ("keys.call W get x", b"$1\r\n1\r\n"),
        (
            "keys.call W set x 2",
            b"-ERR NoWrites: ERR Write command 'set' was called while write is not allowed.\r\n",
        ),
        (
            "keys.call S shutdown",
            b"-ERR ScriptMode: ERR command 'shutdown' is not allowed on script mode\r\n",
        ),
        ("keys.call S get x", b"$1\r\n1\r\n"),
        ("keys.call C get x", b"$1\r\n1\r\n"),
        (
            "keys.call - nosuch a",
            b"-ERR UnknownCommand: ERR unknown command 'nosuch', with args beginning with: 'a' \r\n",
        ),
        (
            "keys.call - set x",
            b"-ERR WrongArity: ERR wrong number of arguments for 'set' command\r\n",
        ),
        // The command's own error is the module command's error.
        ("keys.call - lpush x a", WRONGTYPE),
        ("get x", b"$1\r\n1\r\n"),
        ("hset h a 1", b":1\r\n"),
        // RESP3 replies by default (a map), RESP2 ones with `2`.
        ("keys.call - hgetall h", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("keys.call 2 hgetall h", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
    ]);
    let mut c = Conn::resp3(&srv);
    c.expect("keys.call - hgetall h", b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect("keys.call 2 hgetall h", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect("keys.call 0 hgetall h", b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    // `M`: deny-oom commands refused over maxmemory, others run.
    r.expect("config set maxmemory 1", b"+OK\r\n");
    r.expect(
        "keys.call M set y 1",
        b"-OOM Oom: OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    r.expect("keys.call M get x", b"$1\r\n1\r\n");
    r.expect("config set maxmemory 0", b"+OK\r\n");
    r.expect("keys.call M set y 1", b"+OK\r\n");
    // `C`: the calling user's ACL, here one allowed the module command and GET on `x*` only.
    r.expect("acl setuser m on nopass ~x* +keys.call +get", b"+OK\r\n");
    let mut m = srv.raw();
    m.expect("auth m any", b"+OK\r\n");
    m.expect("keys.call C get x", b"$1\r\n1\r\n");
    m.expect(
        "keys.call C get y",
        b"-NOPERM NoPermission: NOPERM this user has no permissions to access one of the keys \
          used as arguments\r\n",
    );
    m.expect(
        "keys.call C set x 2",
        b"-NOPERM NoPermission: NOPERM this user has no permissions to run the 'set' command\r\n",
    );
    // Without `C` the module's own calls are not checked, as RM_Call without it.
    m.expect("keys.call - set x 2", b"+OK\r\n");
    m.expect("set x 3", b"-NOPERM this user has no permissions to run the 'set' command\r\n");
    let log = r.line("acl log");
    assert!(String::from_utf8_lossy(&log).contains("$6\r\nmodule\r\n"), "{}", show(&log));
}
