//! Set commands, black-box over TCP.

use crate::common;

use std::collections::HashSet;

use common::{Raw, Server};

fn members(reply: &[u8]) -> Vec<String> {
    // Parses a flat array/set of bulk strings.
    let s = String::from_utf8_lossy(reply);
    let mut lines = s.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*') || head.starts_with('~'), "not an array: {s}");
    let n: usize = head[1..].parse().unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let len = lines.next().unwrap();
        assert!(len.starts_with('$'), "not a bulk: {s}");
        out.push(lines.next().unwrap().to_string());
    }
    out
}

fn int(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    assert!(s.starts_with(':'), "not an integer: {s}");
    s[1..].trim_end().parse().unwrap()
}

fn sadd(r: &mut Raw, key: &str, items: impl IntoIterator<Item = String>) {
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend(items);
    r.call(&args);
}

#[test]
fn basic_commands_and_errors() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("SADD s 3 1 2 2", b":3\r\n");
    r.expect("SADD s 1 4", b":1\r\n");
    r.expect("SCARD s", b":4\r\n");
    r.expect("SMEMBERS s", b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    r.expect("OBJECT ENCODING s", b"$6\r\nintset\r\n");
    r.expect("SISMEMBER s 2", b":1\r\n");
    r.expect("SISMEMBER s 02", b":0\r\n");
    r.expect("SMISMEMBER s 1 9 4", b"*3\r\n:1\r\n:0\r\n:1\r\n");
    r.expect("SMISMEMBER nokey 1", b"*1\r\n:0\r\n");
    r.expect("SREM s 1 9", b":1\r\n");
    r.expect("SADD s a", b":1\r\n");
    r.expect("OBJECT ENCODING s", b"$9\r\nhashtable\r\n");
    r.expect("SREM s 2 3 4 a", b":4\r\n");
    r.expect("EXISTS s", b":0\r\n");
    r.expect("SCARD s", b":0\r\n");
    r.expect("SMEMBERS s", b"*0\r\n");
    r.expect("SET str x", b"+OK\r\n");
    let wrong = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SCARD str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SPOP str",
        "SPOP str 1",
        "SRANDMEMBER str",
        "SRANDMEMBER str 3",
        "SINTER nokey str",
        "SINTERCARD 2 nokey str",
        "SINTERSTORE d str",
        "SUNION str",
        "SUNIONSTORE d str",
        "SDIFF nokey str",
        "SDIFFSTORE d str",
        "SSCAN str 0",
        "SMOVE str d a",
    ] {
        r.expect(cmd, wrong);
    }
    r.expect("SADD", b"-ERR wrong number of arguments for 'sadd' command\r\n");
    r.expect("SPOP s 1 2", b"-ERR syntax error\r\n");
    r.expect("SPOP s -1", b"-ERR value is out of range, must be positive\r\n");
    r.expect("SRANDMEMBER s x", b"-ERR value is not an integer or out of range\r\n");
    r.expect("SINTERCARD 0 s", b"-ERR numkeys should be greater than 0\r\n");
    r.expect("SINTERCARD 3 s", b"-ERR Number of keys can't be greater than number of args\r\n");
    r.expect("SINTERCARD 1 s LIMIT -2", b"-ERR LIMIT can't be negative\r\n");
    r.expect("SSCAN s abc", b"-ERR invalid cursor\r\n");
}

#[test]
fn resp3_replies_are_sets() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.line("HELLO 3");
    r.expect("SADD s 2 1", b":2\r\n");
    r.expect("SMEMBERS s", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.expect("SMEMBERS nokey", b"~0\r\n");
    r.expect("SINTER s", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.expect("SUNION s nokey", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.expect("SRANDMEMBER s 5", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.expect("SPOP nokey", b"_\r\n");
    r.expect("SPOP nokey 2", b"~0\r\n");
    r.expect("SPOP s 0", b"~0\r\n");
    r.expect("SPOP s 2", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.expect("EXISTS s", b":0\r\n");
}

#[test]
fn intset_conversion_threshold() {
    let srv = Server::start();
    let mut r = srv.raw();
    sadd(&mut r, "s", (0..512).map(|i| i.to_string()));
    r.expect("OBJECT ENCODING s", b"$6\r\nintset\r\n");
    r.expect("SADD s 512", b":1\r\n");
    r.expect("OBJECT ENCODING s", b"$9\r\nhashtable\r\n");
    r.expect("SREM s 512 511", b":2\r\n");
    r.expect("OBJECT ENCODING s", b"$9\r\nhashtable\r\n");
    r.expect("CONFIG SET set-max-intset-entries 2", b"+OK\r\n");
    r.expect("SADD t 1 2", b":2\r\n");
    r.expect("OBJECT ENCODING t", b"$6\r\nintset\r\n");
    r.expect("SADD t 3", b":1\r\n");
    r.expect("OBJECT ENCODING t", b"$9\r\nhashtable\r\n");
    // Results of the STORE commands are encoded as SADD would encode them.
    r.expect("SINTERSTORE u t t", b":3\r\n");
    r.expect("OBJECT ENCODING u", b"$9\r\nhashtable\r\n");
    r.expect("SDIFFSTORE u t nokey", b":3\r\n");
    r.expect("SREM u 3", b":1\r\n");
    r.expect("SUNIONSTORE v u", b":2\r\n");
    r.expect("OBJECT ENCODING v", b"$6\r\nintset\r\n");
    let usage = int(&r.line("MEMORY USAGE s"));
    assert!(usage > 510 * 16, "MEMORY USAGE of a 510-member hashtable set: {usage}");
    let small = int(&r.line("MEMORY USAGE v"));
    assert!((16..200).contains(&small), "MEMORY USAGE of a 2-member intset: {small}");
}

#[test]
fn srandmember_count_semantics() {
    let srv = Server::start();
    let mut r = srv.raw();
    for (key, items) in [
        ("ints", (0..50).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("strs", (0..50).map(|i| format!("m{i}")).collect::<Vec<_>>()),
    ] {
        sadd(&mut r, key, items.clone());
        let all: HashSet<String> = items.into_iter().collect();
        for count in [1, 5, 25, 49] {
            let got = members(&r.line(&format!("SRANDMEMBER {key} {count}")));
            assert_eq!(got.len(), count);
            let distinct: HashSet<_> = got.iter().cloned().collect();
            assert_eq!(distinct.len(), count, "positive count gives distinct members");
            assert!(distinct.is_subset(&all));
        }
        let got: HashSet<String> =
            members(&r.line(&format!("SRANDMEMBER {key} 500"))).into_iter().collect();
        assert_eq!(got, all);
        let got = members(&r.line(&format!("SRANDMEMBER {key} -500")));
        assert_eq!(got.len(), 500);
        let distinct: HashSet<_> = got.iter().cloned().collect();
        assert!(distinct.len() < 500 && distinct.is_subset(&all), "negative count repeats");
        let one = r.line(&format!("SRANDMEMBER {key}"));
        assert!(one.starts_with(b"$"));
        assert_eq!(int(&r.line(&format!("SCARD {key}"))), 50);
    }
    r.expect("SRANDMEMBER nokey", b"$-1\r\n");
    r.expect("SRANDMEMBER nokey 3", b"*0\r\n");
    r.expect("SRANDMEMBER ints 0", b"*0\r\n");
}

#[test]
fn spop_count_semantics() {
    let srv = Server::start();
    let mut r = srv.raw();
    for key in ["ints", "strs"] {
        let items: Vec<String> =
            (0..100).map(|i| if key == "ints" { i.to_string() } else { format!("m{i}") }).collect();
        sadd(&mut r, key, items.clone());
        let mut left: HashSet<String> = items.into_iter().collect();
        for count in [1, 10, 60] {
            let got = members(&r.line(&format!("SPOP {key} {count}")));
            assert_eq!(got.len(), count);
            for m in got {
                assert!(left.remove(&m), "popped twice or never there: {m}");
            }
            assert_eq!(int(&r.line(&format!("SCARD {key}"))), left.len() as i64);
        }
        let one = String::from_utf8(r.line(&format!("SPOP {key}"))).unwrap();
        let m = one.split("\r\n").nth(1).unwrap();
        assert!(left.remove(m));
        let rest: HashSet<String> =
            members(&r.line(&format!("SPOP {key} 1000"))).into_iter().collect();
        assert_eq!(rest, left);
        r.expect(&format!("EXISTS {key}"), b":0\r\n");
    }
    r.expect("SADD one x", b":1\r\n");
    r.expect("SPOP one", b"$1\r\nx\r\n");
    r.expect("EXISTS one", b":0\r\n");
    r.expect("SPOP one", b"$-1\r\n");
}

#[test]
fn smove_cases() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.line("SADD a 1 2");
    r.line("SADD b 2 x");
    r.expect("SMOVE a b 1", b":1\r\n");
    r.expect("SMOVE a b 1", b":0\r\n");
    r.expect("SMOVE a b 2", b":1\r\n");
    r.expect("EXISTS a", b":0\r\n");
    r.expect("SCARD b", b":3\r\n");
    r.expect("SMOVE b b x", b":1\r\n");
    r.expect("SMOVE b b y", b":0\r\n");
    r.expect("SMOVE b c x", b":1\r\n");
    r.expect("SMEMBERS c", b"*1\r\n$1\r\nx\r\n");
    r.expect("SMOVE nokey str x", b":0\r\n");
    r.line("SET str v");
    r.expect(
        "SMOVE b str 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.expect("SISMEMBER b 1", b":1\r\n");
}

#[test]
fn algebra_with_hashtables() {
    let srv = Server::start();
    let mut r = srv.raw();
    sadd(&mut r, "a", (0..300).map(|i| format!("m{i}")));
    sadd(&mut r, "b", (200..400).map(|i| format!("m{i}")));
    sadd(&mut r, "c", (0..1000).map(|i| i.to_string()));
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let want = |range: std::ops::Range<i32>| range.map(|i| format!("m{i}")).collect::<HashSet<_>>();
    assert_eq!(set(members(&r.line("SINTER a b"))), want(200..300));
    assert_eq!(int(&r.line("SINTERCARD 2 a b")), 100);
    assert_eq!(int(&r.line("SINTERCARD 2 a b LIMIT 7")), 7);
    assert_eq!(int(&r.line("SINTERCARD 2 a c")), 0);
    assert_eq!(set(members(&r.line("SUNION a b"))), want(0..400));
    assert_eq!(set(members(&r.line("SDIFF a b"))), want(0..200));
    assert_eq!(int(&r.line("SDIFFSTORE d b a")), 100);
    assert_eq!(set(members(&r.line("SMEMBERS d"))), want(300..400));
    assert_eq!(int(&r.line("SUNIONSTORE d a c")), 1300);
    r.expect("OBJECT ENCODING d", b"$9\r\nhashtable\r\n");
    assert_eq!(int(&r.line("SINTERSTORE d a c")), 0);
    r.expect("EXISTS d", b":0\r\n");
    // A full SSCAN of a hashtable set returns every member.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = String::from_utf8(r.line(&format!("SSCAN c {cursor} COUNT 20"))).unwrap();
        let mut lines = reply.split("\r\n");
        assert_eq!(lines.next(), Some("*2"));
        lines.next();
        cursor = lines.next().unwrap().to_string();
        let rest: Vec<&str> = lines.collect();
        let inner = rest.join("\r\n");
        seen.extend(members(inner.as_bytes()));
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1);
    assert_eq!(seen.len(), 1000);
    let matched = members(
        r.line("SSCAN a 0 MATCH m1? COUNT 10000")
            .split(|&c| c == b'\n')
            .skip(3)
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    assert_eq!(set(matched), (10..20).map(|i| format!("m{i}")).collect());
}

/// What SPOP and the other set writes feed to the replication/AOF stream, run in-process.
#[test]
fn propagation() {
    let mut h = common::InProcess::new();
    let mut run = |line: &str| -> Vec<Vec<String>> {
        h.run(line);
        let mut cmds = h.take();
        cmds.retain(|c| c[0] != "SELECT");
        cmds
    };
    assert_eq!(run("SADD s 1 2 3 4 5"), [["SADD", "s", "1", "2", "3", "4", "5"]]);
    assert!(run("SADD s 1").is_empty());
    assert!(run("SREM s 9").is_empty());
    let p = run("SPOP s");
    assert_eq!((p.len(), p[0].len(), &p[0][..2]), (1, 3, &["SREM".to_string(), "s".into()][..]));
    let p = run("SPOP s 2");
    assert_eq!((p.len(), p[0].len(), p[0][0].as_str()), (1, 4, "SREM"));
    assert_eq!(run("SPOP s 5"), [["DEL", "s"]]);
    assert!(run("SPOP s 5").is_empty());
    let many: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    run(&format!("SADD big {}", many.join(" ")));
    let p = run("SPOP big 2500");
    // Several SREMs for one command go wrapped in MULTI/EXEC, as Redis 7.0 sends them.
    assert_eq!((p[0][0].as_str(), p[p.len() - 1][0].as_str()), ("MULTI", "EXEC"));
    let p = &p[1..p.len() - 1];
    assert_eq!(p.iter().map(|c| c.len() - 2).collect::<Vec<_>>(), [1024, 1024, 452]);
    assert!(p.iter().all(|c| c[0] == "SREM" && c[1] == "big"));
    assert_eq!(run("SMOVE big other m1x"), Vec::<Vec<String>>::new());
}

/// SSCAN of a hashtable keeps SCAN's guarantee while elements come and go between calls,
/// enough of them to grow and then shrink the table.
#[test]
fn sscan_guarantee_under_churn() {
    let srv = common::Server::start();
    let mut c = srv.conn();
    let stable: Vec<String> = (0..2000).map(|i| format!("s{i}")).collect();
    for chunk in stable.chunks(500) {
        let mut cmd = redis::cmd("SADD");
        cmd.arg("s");
        for m in chunk {
            cmd.arg(m);
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("s").query(&mut c).unwrap();
    assert_eq!(enc, "hashtable");
    let calls =
        common::scan_keeps_stable_elements(&mut c, "SSCAN", "s", false, &stable, |c, step| {
            let (lo, hi) = ((step - 1) % 20 * 500, (step - 1) % 20 * 500 + 500);
            let mut cmd = redis::cmd(if step <= 20 { "SADD" } else { "SREM" });
            cmd.arg("s");
            for k in lo..hi {
                cmd.arg(format!("c{k}"));
            }
            if step <= 40 {
                let _: i64 = cmd.query(c).unwrap();
            }
        });
    assert!(calls > 40, "the iteration ended before the churn did ({calls} calls)");
}
