//! What the string and key commands feed to the replication/AOF stream: the rewrites Redis 7.0
//! makes (checked against a Redis 7.0 AOF). Runs commands in-process through `cmd::execute` with
//! a `MemorySink` on the propagator.

use crate::common;

use vireo_server::clock;

struct Harness(common::InProcess);

/// One expected argument: exact bytes, or an absolute time in ms about `now + delta_ms`.
enum Arg {
    Is(&'static str),
    NowPlus(i64),
}
use Arg::{Is, NowPlus};

impl Harness {
    fn new() -> Harness {
        Harness(common::InProcess::new())
    }

    fn run(&mut self, line: &str) -> Vec<u8> {
        self.0.run(line)
    }

    fn take(&self) -> Vec<Vec<String>> {
        self.0.take()
    }

    /// Runs `line` and checks what it propagated.
    #[track_caller]
    fn check(&mut self, line: &str, want: &[&[Arg]]) {
        let before = clock::mstime();
        self.run(line);
        let after = clock::mstime();
        let got = self.take();
        let fail = || panic!("`{line}` propagated {got:?}");
        if got.len() != want.len() {
            fail();
        }
        for (g, w) in got.iter().zip(want) {
            if g.len() != w.len() {
                fail();
            }
            for (ga, wa) in g.iter().zip(w.iter()) {
                let ok = match wa {
                    Is(s) => ga == s,
                    NowPlus(d) => {
                        ga.parse::<i64>().is_ok_and(|t| (before + d..=after + d).contains(&t))
                    }
                };
                if !ok {
                    fail();
                }
            }
        }
    }
}

const SELECT0: &[Arg] = &[Is("SELECT"), Is("0")];

#[test]
fn set_family() {
    let mut h = Harness::new();
    h.check("set a 1", &[SELECT0, &[Is("set"), Is("a"), Is("1")]]);
    // NX that does not set: nothing.
    h.check("set a v nx ex 100", &[]);
    // Any relative or absolute expiry: SET key value PXAT <ms>, other flags dropped.
    h.check(
        "set b v nx px 100000 get",
        &[&[Is("SET"), Is("b"), Is("v"), Is("PXAT"), NowPlus(100000)]],
    );
    h.check(
        "set c v exat 99999999999 get",
        &[&[Is("SET"), Is("c"), Is("v"), Is("PXAT"), Is("99999999999000")]],
    );
    h.check(
        "set c v pxat 99999999999999 xx get",
        &[&[Is("SET"), Is("c"), Is("v"), Is("PXAT"), Is("99999999999999")]],
    );
    h.check("set c v EX 100 xx", &[&[Is("SET"), Is("c"), Is("v"), Is("PXAT"), NowPlus(100000)]]);
    // GET is removed, the rest kept as written.
    h.check("set d 5 keepttl get GET", &[&[Is("set"), Is("d"), Is("5"), Is("keepttl")]]);
    h.check("setex e 100 v", &[&[Is("SET"), Is("e"), Is("v"), Is("PXAT"), NowPlus(100000)]]);
    h.check("psetex e 100000 v", &[&[Is("SET"), Is("e"), Is("v"), Is("PXAT"), NowPlus(100000)]]);
    h.check("setnx e v", &[]);
    h.check("setnx f v", &[&[Is("setnx"), Is("f"), Is("v")]]);
    // Errors propagate nothing.
    h.check("set e v ex 0", &[]);
    h.check("mset m1 a m2 b", &[&[Is("mset"), Is("m1"), Is("a"), Is("m2"), Is("b")]]);
    h.check("msetnx m1 a m3 b", &[]);
}

#[test]
fn get_family_and_counters() {
    let mut h = Harness::new();
    h.run("set e v");
    h.take();
    h.check("get e", &[]);
    h.check("getex e", &[]);
    h.check("getex e ex 100", &[&[Is("PEXPIREAT"), Is("e"), NowPlus(100000)]]);
    h.check("getex e pxat 99999999999999", &[&[Is("PEXPIREAT"), Is("e"), Is("99999999999999")]]);
    h.check("getex e persist", &[&[Is("PERSIST"), Is("e")]]);
    h.check("getex e persist", &[]);
    // An absolute time in the past deletes the key.
    h.check("getex e pxat 1", &[&[Is("DEL"), Is("e")]]);
    h.run("set a 1");
    h.take();
    h.check("getdel a", &[&[Is("DEL"), Is("a")]]);
    h.check("getdel a", &[]);
    h.check("getset d 7", &[&[Is("SET"), Is("d"), Is("7")]]);
    h.check("incrbyfloat f 1.5", &[&[Is("SET"), Is("f"), Is("1.5"), Is("KEEPTTL")]]);
    h.check("incrbyfloat f 1", &[&[Is("SET"), Is("f"), Is("2.5"), Is("KEEPTTL")]]);
    h.check("incrbyfloat f abc", &[]);
    h.check("incr n", &[&[Is("incr"), Is("n")]]);
    h.check("decrby n 5", &[&[Is("decrby"), Is("n"), Is("5")]]);
    h.check("append h \"\"", &[&[Is("append"), Is("h"), Is("")]]);
    h.check("setrange h2 0 \"\"", &[]);
    h.check("setrange h 2 x", &[&[Is("setrange"), Is("h"), Is("2"), Is("x")]]);
}

#[test]
fn expire_family() {
    let mut h = Harness::new();
    h.run("set d 1");
    h.take();
    h.check("expire d 100", &[&[Is("PEXPIREAT"), Is("d"), NowPlus(100000)]]);
    // Options are kept.
    h.check("expire d 200 gt", &[&[Is("PEXPIREAT"), Is("d"), NowPlus(200000), Is("gt")]]);
    h.check("pexpire d 100000 lt", &[&[Is("PEXPIREAT"), Is("d"), NowPlus(100000), Is("lt")]]);
    h.check("pexpire d 900000 LT", &[]);
    h.check(
        "expireat d 99999999999 xx",
        &[&[Is("PEXPIREAT"), Is("d"), Is("99999999999000"), Is("xx")]],
    );
    // PEXPIREAT goes as it was written.
    h.check("pexpireat d 99999999999999", &[&[Is("pexpireat"), Is("d"), Is("99999999999999")]]);
    h.check("persist d", &[&[Is("persist"), Is("d")]]);
    h.check("persist d", &[]);
    // A time in the past deletes the key: DEL.
    h.check("expire d -1", &[&[Is("DEL"), Is("d")]]);
    h.check("expire d 100", &[]);
    h.run("set g 1");
    h.take();
    h.check("pexpireat g 1 xx", &[]);
    h.check("pexpireat g 1", &[&[Is("DEL"), Is("g")]]);
}

#[test]
fn key_commands() {
    let mut h = Harness::new();
    h.run("mset a 1 b 2");
    h.take();
    h.check("del a nokey", &[&[Is("del"), Is("a"), Is("nokey")]]);
    h.check("del nokey", &[]);
    h.check("unlink b", &[&[Is("unlink"), Is("b")]]);
    h.run("set i 1");
    h.take();
    h.check("rename i i", &[]);
    h.check("renamenx i i", &[]);
    h.check("rename i j", &[&[Is("rename"), Is("i"), Is("j")]]);
    h.check("copy j k", &[&[Is("copy"), Is("j"), Is("k")]]);
    h.check("copy j k", &[]);
    h.check("move k 1", &[&[Is("move"), Is("k"), Is("1")]]);
    h.check("exists j", &[]);
    h.check("touch j", &[]);
    h.check("swapdb 0 1", &[&[Is("swapdb"), Is("0"), Is("1")]]);
    h.check("select 1", &[]);
    h.check("set x 1", &[&[Is("SELECT"), Is("1")], &[Is("set"), Is("x"), Is("1")]]);
    // FLUSHDB and FLUSHALL go even when there was nothing to remove.
    h.check("flushdb", &[&[Is("flushdb")]]);
    h.check("flushdb", &[&[Is("flushdb")]]);
    h.check("flushall async", &[&[Is("flushall"), Is("async")]]);
}

#[test]
fn lazy_expiry_propagates_del() {
    let mut h = Harness::new();
    for k in ["k", "k2", "k3", "k4", "s"] {
        h.run(&format!("set {k} v px 1"));
    }
    h.take();
    std::thread::sleep(std::time::Duration::from_millis(5));
    // A read that finds a key expired propagates the DEL alone.
    h.check("get k", &[&[Is("DEL"), Is("k")]]);
    // Several deletions, or a deletion and the write that found it, are one MULTI/EXEC, as
    // Redis 7.0 propagates a call.
    let del = |k| [Is("DEL"), Is(k)];
    h.check("mget k2 k3", &[&[Is("MULTI")], &del("k2"), &del("k3"), &[Is("EXEC")]]);
    h.check("incr k4", &[&[Is("MULTI")], &del("k4"), &[Is("incr"), Is("k4")], &[Is("EXEC")]]);
    // XAUTOCLAIM looks its key up before it reads its arguments, as Redis's.
    h.check("xautoclaim s g c abc 0", &[&del("s")]);
}
