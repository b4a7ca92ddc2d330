//! Stream commands, black-box over TCP, and what they propagate (in-process).
//!
//! Replies that hold no clock-made value are checked byte for byte by the differential script
//! `differential/streams.txt`; this file covers what that cannot: clock-made ids, idle and
//! delivery times, propagation, MEMORY USAGE, SCAN TYPE, COPY/RENAME and larger streams.

use crate::common;

use common::{show, Raw, Server};

/// A parsed RESP2/RESP3 reply.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Str(String),
    Nil,
    Arr(Vec<V>),
    Err(String),
}

impl V {
    fn arr(&self) -> &[V] {
        match self {
            V::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn s(&self) -> &str {
        match self {
            V::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            V::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }

    /// The value under `key` in a map (a flat RESP2 array of pairs, or a RESP3 map).
    fn get(&self, key: &str) -> &V {
        let a = self.arr();
        a.chunks(2).find(|p| p[0] == V::Str(key.into())).map(|p| &p[1]).unwrap_or_else(|| {
            panic!("no {key} in {self:?}");
        })
    }
}

fn parse(b: &[u8]) -> V {
    fn one(b: &[u8], pos: &mut usize) -> V {
        let t = b[*pos];
        let end = *pos + b[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let line = std::str::from_utf8(&b[*pos + 1..end]).unwrap().to_string();
        *pos = end + 2;
        match t {
            b':' => V::Int(line.parse().unwrap()),
            b'+' => V::Str(line),
            b'-' => V::Err(line),
            b'_' => V::Nil,
            b'$' => {
                let n: i64 = line.parse().unwrap();
                if n < 0 {
                    return V::Nil;
                }
                let s = String::from_utf8_lossy(&b[*pos..*pos + n as usize]).to_string();
                *pos += n as usize + 2;
                V::Str(s)
            }
            b'*' | b'%' => {
                let n: i64 = line.parse().unwrap();
                if n < 0 {
                    return V::Nil;
                }
                let n = if t == b'%' { 2 * n } else { n };
                V::Arr((0..n).map(|_| one(b, pos)).collect())
            }
            _ => panic!("unexpected reply {}", common::show(b)),
        }
    }
    one(b, &mut 0)
}

fn call(r: &mut Raw, line: &str) -> V {
    parse(&r.line(line))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn parse_id(s: &str) -> (u64, u64) {
    let (a, b) = s.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn clock_made_ids() {
    let srv = Server::start();
    let mut r = srv.raw();
    let before = now_ms() as u64;
    let a = call(&mut r, "XADD s * f v");
    let b = call(&mut r, "XADD s * f v");
    let after = now_ms() as u64;
    let (a, b) = (parse_id(a.s()), parse_id(b.s()));
    assert!((before..=after).contains(&a.0), "{a:?} not in {before}..{after}");
    assert!(b > a);
    // A last id in the future: `*` goes on from it.
    r.expect("XADD s 99999999999999-5 f v", b"$16\r\n99999999999999-5\r\n");
    r.expect("XADD s * f v", b"$16\r\n99999999999999-6\r\n");
    // Many ids in one millisecond count up the sequence.
    let mut last = (0, 0);
    r.line("DEL q");
    for _ in 0..300 {
        let id = parse_id(call(&mut r, "XADD q * f v").s());
        assert!(id > last);
        last = id;
    }
    assert_eq!(r.int("XLEN q"), 300);
    // `<ms>-*` with a clock-made last id.
    let ms = last.0;
    let next = call(&mut r, &format!("XADD q {ms}-* f v"));
    assert_eq!(parse_id(next.s()), (ms, last.1 + 1));
}

#[test]
fn blocking_reads() {
    let srv = Server::start();
    let mut r = srv.raw();
    let mut w = srv.raw();
    r.line("XADD s 1-0 f v");
    // Nothing after the last id: times out.
    r.expect("XREAD BLOCK 10 STREAMS s $", b"*-1\r\n");
    // History reads and reads with something to return never wait.
    assert_eq!(call(&mut r, "XREAD BLOCK 0 STREAMS s 0").arr()[0].arr()[0].s(), "s");
    r.line("XGROUP CREATE s g $");
    r.expect("XREADGROUP GROUP g c BLOCK 0 STREAMS s 0", b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n");
    // `$` waits for what comes after the last id at the time of the call.
    w.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut r, 1);
    r.line("XADD s 2-0 k x");
    let want = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nk\r\n$1\r\nx\r\n";
    assert_eq!(show(&w.read_reply()), show(want));
    // A group reader is woken by a new entry, which becomes pending for it.
    r.line("XGROUP SETID s g $");
    w.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut r, 1);
    r.line("XADD s 3-0 k y");
    let got = w.read_reply();
    assert!(show(&got).contains("3-0"), "{}", show(&got));
    assert_eq!(call(&mut r, "XPENDING s g").arr()[0].int(), 1);
    // A stream created by XADD wakes a reader of a missing key.
    w.send_cmd(&["XREAD", "BLOCK", "5000", "STREAMS", "new", "0-0"]);
    wait_blocked(&mut r, 1);
    r.line("XADD new 5-0 a b");
    assert!(show(&w.read_reply()).contains("5-0"));
    // Inside MULTI nothing blocks.
    r.line("MULTI");
    r.line("XREAD BLOCK 0 STREAMS s $");
    r.expect("EXEC", b"*1\r\n*-1\r\n");
}

#[track_caller]
fn wait_blocked(probe: &mut common::Raw, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let info = String::from_utf8(probe.line("INFO clients")).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never {n} blocked");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn idle_and_delivery_times() {
    let srv = Server::start();
    let mut r = srv.raw();
    for i in 1..=3 {
        r.line(&format!("XADD s {i}-0 f {i}"));
    }
    r.line("XGROUP CREATE s g 0");
    let t0 = now_ms();
    r.line("XREADGROUP GROUP g alice COUNT 2 STREAMS s >");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let p = call(&mut r, "XPENDING s g - + 10");
    let p = p.arr();
    assert_eq!(p.len(), 2);
    for (k, e) in p.iter().enumerate() {
        let e = e.arr();
        assert_eq!(e[0].s(), format!("{}-0", k + 1));
        assert_eq!(e[1].s(), "alice");
        let idle = e[2].int();
        assert!((30..5000).contains(&idle), "idle {idle}");
        assert_eq!(e[3].int(), 1);
    }
    assert_eq!(call(&mut r, "XPENDING s g IDLE 25 - + 10").arr().len(), 2);
    assert_eq!(call(&mut r, "XPENDING s g IDLE 100000 - + 10").arr().len(), 0);
    // XCLAIM with min-idle: only entries idle long enough move.
    assert_eq!(call(&mut r, "XCLAIM s g bob 100000 1-0 JUSTID").arr().len(), 0);
    assert_eq!(call(&mut r, "XCLAIM s g bob 20 1-0 JUSTID"), V::Arr(vec![V::Str("1-0".into())]));
    let c = call(&mut r, "XINFO CONSUMERS s g");
    let c = c.arr();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].get("name").s(), "alice");
    assert_eq!(c[0].get("pending").int(), 1);
    assert!(c[0].get("idle").int() >= 25);
    assert_eq!(c[1].get("name").s(), "bob");
    assert!(c[1].get("idle").int() < 25);
    // XCLAIM IDLE and TIME set the delivery time; XINFO STREAM FULL shows it.
    r.line("XCLAIM s g bob 0 2-0 IDLE 60000 JUSTID");
    r.line("XCLAIM s g bob 0 1-0 TIME 1000 RETRYCOUNT 5 JUSTID");
    let t1 = now_ms();
    let full = call(&mut r, "XINFO STREAM s FULL");
    let g = &full.get("groups").arr()[0];
    assert_eq!(g.get("pel-count").int(), 2);
    let pel = g.get("pending").arr();
    assert_eq!(pel[0].arr()[0].s(), "1-0");
    assert_eq!(pel[0].arr()[1].s(), "bob");
    assert_eq!(pel[0].arr()[2].int(), 1000);
    assert_eq!(pel[0].arr()[3].int(), 5);
    let t = pel[1].arr()[2].int();
    assert!((t0 - 60000..=t1 - 60000).contains(&t), "{t}");
    let consumers = g.get("consumers").arr();
    let seen = consumers[0].get("seen-time").int();
    assert!((t0..=t1).contains(&seen));
    assert_eq!(consumers[1].get("pending").arr().len(), 2);
    // XAUTOCLAIM by idle time.
    let a = call(&mut r, "XAUTOCLAIM s g carol 30000 0 JUSTID");
    assert_eq!(a.arr()[1], V::Arr(vec![V::Str("1-0".into()), V::Str("2-0".into())]));
    let p = call(&mut r, "XPENDING s g - + 10 carol");
    let counts: Vec<i64> = p.arr().iter().map(|e| e.arr()[3].int()).collect();
    assert_eq!(counts, [5, 1]);
    assert!(p.arr().iter().all(|e| e.arr()[2].int() < 1000));
}

/// What the stream commands feed to the replication/AOF stream (checked against Redis 7.0's
/// AOF for the same commands).
#[test]
fn propagation() {
    let mut h = common::InProcess::new();
    let mut run = |line: &str| -> Vec<Vec<String>> {
        h.run(line);
        let mut cmds = h.take();
        cmds.retain(|c| c[0] != "SELECT");
        cmds
    };
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(run("XADD s 1-* a 1"), [v(&["XADD", "s", "1-0", "a", "1"])]);
    let p = run("XADD s * a 2");
    assert_eq!(p.len(), 1);
    let id = parse_id(&p[0][2]);
    assert!(id.0 > 1_000_000_000_000);
    assert_eq!(
        run("XADD s 99999999999999-0 a 3"),
        [v(&["XADD", "s", "99999999999999-0", "a", "3"])]
    );
    assert!(run("XADD s 1-0 a 3").is_empty());
    assert!(run("XADD nokey NOMKSTREAM * a 3").is_empty());
    run("CONFIG SET stream-node-max-entries 2");
    run("DEL s");
    for i in 1..=4 {
        run(&format!("XADD s {i}-0 a {i}"));
    }
    assert_eq!(
        run("XADD s MAXLEN ~ 2 LIMIT 5 5-0 a 5"),
        [v(&["XADD", "s", "MAXLEN", "=", "3", "LIMIT", "5", "5-0", "a", "5"])]
    );
    assert_eq!(
        run("XADD s MINID ~ 4 6-0 a 6"),
        [v(&["XADD", "s", "MINID", "=", "3-0", "6-0", "a", "6"])]
    );
    assert_eq!(run("XADD s MINID = 4 * a 7")[0][..5], v(&["XADD", "s", "MINID", "=", "4"]));
    assert_eq!(
        run("XADD s MAXLEN 100 99999999999999-* a 8"),
        [v(&["XADD", "s", "MAXLEN", "100", "99999999999999-0", "a", "8"])]
    );
    assert!(run("XTRIM s MAXLEN ~ 100").is_empty());
    assert_eq!(run("XTRIM s MAXLEN ~ 1"), [v(&["XTRIM", "s", "MAXLEN", "=", "2"])]);
    assert_eq!(run("XTRIM s MAXLEN 1"), [v(&["XTRIM", "s", "MAXLEN", "1"])]);
    assert!(run("XTRIM s MAXLEN 1").is_empty());
    run("CONFIG SET stream-node-max-entries 100");
    assert_eq!(run("XDEL s 99999999999999-0 9-0"), [v(&["XDEL", "s", "99999999999999-0", "9-0"])]);
    assert!(run("XDEL s 99999999999999-0").is_empty());

    run("DEL s");
    for i in 1..=4 {
        run(&format!("XADD s {i}-0 a {i}"));
    }
    assert_eq!(run("XGROUP CREATE s g 0"), [v(&["XGROUP", "CREATE", "s", "g", "0"])]);
    assert_eq!(
        run("XREADGROUP GROUP g bob NOACK COUNT 1 STREAMS s >"),
        [
            v(&["MULTI"]),
            v(&["XGROUP", "CREATECONSUMER", "s", "g", "bob"]),
            v(&["XGROUP", "SETID", "s", "g", "1-0", "ENTRIESREAD", "1"]),
            v(&["EXEC"]),
        ]
    );
    assert_eq!(
        run("XREADGROUP GROUP g bob NOACK COUNT 1 STREAMS s >"),
        [v(&["XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "2"])]
    );
    let before = now_ms();
    let p = run("XREADGROUP GROUP g alice COUNT 2 STREAMS s >");
    let after = now_ms();
    // Several commands for one: wrapped in MULTI/EXEC, as Redis 7.0 propagates them.
    assert_eq!((p.len(), p[0].clone(), p[3].clone()), (4, v(&["MULTI"]), v(&["EXEC"])));
    let p = &p[1..3];
    for (c, id) in p.iter().zip(["3-0", "4-0"]) {
        let t: i64 = c[7].parse().unwrap();
        assert!((before..=after).contains(&t));
        let mut c = c.clone();
        c[7] = "T".into();
        assert_eq!(
            c,
            v(&[
                "XCLAIM",
                "s",
                "g",
                "alice",
                "0",
                id,
                "TIME",
                "T",
                "RETRYCOUNT",
                "1",
                "FORCE",
                "JUSTID",
                "LASTID",
                id
            ])
        );
    }
    // Nothing new, a history read, a consumer made without delivering: nothing.
    assert!(run("XREADGROUP GROUP g carol STREAMS s >").is_empty());
    assert!(run("XREADGROUP GROUP g alice STREAMS s 0").is_empty());
    assert!(run("XREADGROUP GROUP g dave STREAMS s 0").is_empty());
    // XCLAIM propagates the id as given, with the delivery count it set.
    let p = run("XCLAIM s g frank 0 3 JUSTID");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0][..6], v(&["XCLAIM", "s", "g", "frank", "0", "3"]));
    // (the history read above counted a second delivery)
    assert_eq!(p[0][8..], v(&["RETRYCOUNT", "2", "FORCE", "JUSTID", "LASTID", "4-0"]));
    let p = run("XCLAIM s g frank 0 4-0 TIME 1000 RETRYCOUNT 7");
    assert_eq!(
        p,
        [v(&[
            "XCLAIM",
            "s",
            "g",
            "frank",
            "0",
            "4-0",
            "TIME",
            "1000",
            "RETRYCOUNT",
            "7",
            "FORCE",
            "JUSTID",
            "LASTID",
            "4-0"
        ])]
    );
    // LASTID alone moves the group: XGROUP SETID.
    assert_eq!(
        run("XCLAIM s g frank 0 LASTID 9-0"),
        [v(&["XGROUP", "SETID", "s", "g", "9-0", "ENTRIESREAD", "4"])]
    );
    assert!(run("XCLAIM s g frank 0 LASTID 5-0").is_empty());
    // A deleted entry leaves the PEL: propagated as an XCLAIM of its old NACK.
    run("XDEL s 4-0");
    assert_eq!(
        run("XCLAIM s g gina 0 4-0"),
        [v(&[
            "XCLAIM",
            "s",
            "g",
            "frank",
            "0",
            "4-0",
            "TIME",
            "1000",
            "RETRYCOUNT",
            "7",
            "FORCE",
            "JUSTID",
            "LASTID",
            "9-0"
        ])]
    );
    let p = run("XAUTOCLAIM s g hal 0 0 JUSTID");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0][..6], v(&["XCLAIM", "s", "g", "hal", "0", "3-0"]));
    assert_eq!(p[0][8..], v(&["RETRYCOUNT", "2", "FORCE", "JUSTID", "LASTID", "9-0"]));
    assert!(run("XAUTOCLAIM s g hal 100000 0").is_empty());
    assert_eq!(run("XACK s g 3-0"), [v(&["XACK", "s", "g", "3-0"])]);
    assert!(run("XACK s g 3-0").is_empty());
    assert_eq!(run("XSETID s 100-0"), [v(&["XSETID", "s", "100-0"])]);
    assert_eq!(run("XGROUP SETID s g $"), [v(&["XGROUP", "SETID", "s", "g", "$"])]);
    assert_eq!(
        run("XGROUP CREATECONSUMER s g zed"),
        [v(&["XGROUP", "CREATECONSUMER", "s", "g", "zed"])]
    );
    assert!(run("XGROUP CREATECONSUMER s g zed").is_empty());
    assert_eq!(run("XGROUP DELCONSUMER s g zed"), [v(&["XGROUP", "DELCONSUMER", "s", "g", "zed"])]);
    assert!(run("XGROUP DELCONSUMER s g zed").is_empty());
    assert_eq!(run("XGROUP DESTROY s g"), [v(&["XGROUP", "DESTROY", "s", "g"])]);
    assert!(run("XGROUP DESTROY s g").is_empty());
    assert!(run("XGROUP CREATE s g 0 ENTRIESREAD x").is_empty());
}

#[test]
fn generic_key_commands() {
    let srv = Server::start();
    let mut r = srv.raw();
    for i in 1..=5 {
        r.line(&format!("XADD s {i}-0 f {i} g x"));
    }
    r.line("XGROUP CREATE s g 0");
    r.line("XREADGROUP GROUP g alice COUNT 2 STREAMS s >");
    r.line("SET str v");
    r.line("RPUSH list a");
    r.expect("TYPE s", b"+stream\r\n");
    r.expect("OBJECT ENCODING s", b"$6\r\nstream\r\n");
    r.expect("SCAN 0 TYPE stream", b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n");
    let usage = r.int("MEMORY USAGE s");
    assert!((100..10_000).contains(&usage), "{usage}");
    // COPY and RENAME keep entries, counters and groups; the copy is independent.
    r.expect("COPY s t", b":1\r\n");
    r.expect("XADD t 6-0 f 6", b"$3\r\n6-0\r\n");
    assert_eq!(r.int("XLEN s"), 5);
    assert_eq!(r.int("XLEN t"), 6);
    let pel = |r: &mut Raw, key: &str| -> Vec<(String, String, i64)> {
        let p = call(r, &format!("XPENDING {key} g - + 10"));
        p.arr()
            .iter()
            .map(|e| {
                let e = e.arr();
                (e[0].s().to_string(), e[1].s().to_string(), e[3].int())
            })
            .collect()
    };
    let want = vec![("1-0".to_string(), "alice".to_string(), 1), ("2-0".into(), "alice".into(), 1)];
    assert_eq!(pel(&mut r, "s"), want);
    assert_eq!(pel(&mut r, "t"), want);
    r.line("XACK t g 1-0");
    assert_eq!(pel(&mut r, "s"), want);
    r.expect("RENAME t u", b"+OK\r\n");
    assert_eq!(call(&mut r, "XINFO GROUPS u").arr()[0].get("pending").int(), 1);
    r.expect("DEL u", b":1\r\n");
    r.expect("EXISTS u", b":0\r\n");
    // Emptied streams stay; only DEL removes them.
    r.line("XTRIM s MAXLEN 0");
    r.expect("EXISTS s", b":1\r\n");
    r.expect("XLEN s", b":0\r\n");
    r.expect("TYPE s", b"+stream\r\n");
    // Wrong types, both ways.
    r.expect(
        "XADD list * f v",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.expect(
        "LPUSH s x",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.expect("GET s", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

#[test]
fn large_streams() {
    let srv = Server::start();
    let mut r = srv.raw();
    let n = 10_000;
    let mut batch = Vec::new();
    for i in 1..=n {
        batch.extend(common::encode(&[
            "XADD".to_string(),
            "s".into(),
            format!("{}-{}", 1_000 + i / 7, i % 7),
            "name".into(),
            format!("user{}", i % 100),
            "n".into(),
            i.to_string(),
            "ok".into(),
            "1".into(),
        ]));
    }
    r.send(&batch);
    for _ in 1..=n {
        r.read_reply();
    }
    assert_eq!(r.int("XLEN s"), n);
    let info = call(&mut r, "XINFO STREAM s");
    assert_eq!(info.get("radix-tree-keys").int(), 100);
    assert_eq!(info.get("first-entry").arr()[0].s(), "1000-1");
    assert_eq!(info.get("last-entry").arr()[0].s(), format!("{}-{}", 1_000 + n / 7, n % 7));
    // Ranges across blocks, both ways, with COUNT and exclusive bounds.
    let got = call(&mut r, "XRANGE s 1100-0 + COUNT 5");
    let ids: Vec<&str> = got.arr().iter().map(|e| e.arr()[0].s()).collect();
    assert_eq!(ids, ["1100-0", "1100-1", "1100-2", "1100-3", "1100-4"]);
    let e = &got.arr()[0].arr()[1];
    assert_eq!(
        e.arr().iter().map(V::s).collect::<Vec<_>>(),
        ["name", "user0", "n", "700", "ok", "1"]
    );
    let got = call(&mut r, "XREVRANGE s (1100-0 - COUNT 3");
    let ids: Vec<&str> = got.arr().iter().map(|e| e.arr()[0].s()).collect();
    assert_eq!(ids, ["1099-6", "1099-5", "1099-4"]);
    assert_eq!(call(&mut r, "XRANGE s - +").arr().len(), n as usize);
    assert_eq!(call(&mut r, "XREVRANGE s + -").arr().len(), n as usize);
    // Delete every other entry of a range, read it back.
    let dels: Vec<String> = (0..50).map(|k| format!("1200-{}", k % 7)).collect();
    r.line(&format!("XDEL s {}", dels.join(" ")));
    assert_eq!(r.int("XLEN s"), n - 7);
    assert_eq!(call(&mut r, "XRANGE s 1199-6 1201-0").arr().len(), 2);
    // Approximate trimming removes whole blocks of 100.
    // (blocks 13 and 14 hold the 7 deleted entries).
    assert_eq!(r.int("XTRIM s MAXLEN ~ 5050"), 4893);
    assert_eq!(r.int("XLEN s"), 5100);
    assert_eq!(r.int("XTRIM s MAXLEN 5000"), 100);
    // Compact: well under Redis's ~26 bytes an entry for three small fields.
    let usage = r.int("MEMORY USAGE s");
    assert!(usage < 5000 * 20, "{usage} bytes for 5000 entries");
    // The consumer-group machinery over many entries.
    r.line("XGROUP CREATE s g 0");
    let got = call(&mut r, "XREADGROUP GROUP g c COUNT 1000 STREAMS s >");
    assert_eq!(got.arr()[0].arr()[1].arr().len(), 1000);
    let p = call(&mut r, "XPENDING s g");
    assert_eq!(p.arr()[0].int(), 1000);
    let a = call(&mut r, "XAUTOCLAIM s g d 0 0 COUNT 300 JUSTID");
    assert_eq!(a.arr()[1].arr().len(), 300);
    let next = a.arr()[0].s().to_string();
    let a = call(&mut r, &format!("XAUTOCLAIM s g d 0 {next} COUNT 800 JUSTID"));
    assert_eq!(a.arr()[1].arr().len(), 700);
    assert_eq!(a.arr()[0].s(), "0-0");
    assert_eq!(call(&mut r, "XINFO CONSUMERS s g").arr()[1].get("pending").int(), 1000);
}
