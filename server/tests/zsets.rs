//! Sorted set commands over TCP: replies, encodings and their conversions, large sets against a
//! model, and what the writes propagate.

use crate::common;

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn bulks(items: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        v.extend_from_slice(format!("${}\r\n{i}\r\n", i.len()).as_bytes());
    }
    v
}

#[test]
fn basic_replies() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect("ZADD z 1 a 2 b 3 c", b":3\r\n");
    r.expect("ZADD z CH 10 a 2 b 4 d", b":2\r\n");
    r.expect("ZRANGE z 0 -1", &bulks(&["b", "c", "d", "a"]));
    r.expect("ZRANGE z 0 0 WITHSCORES", &bulks(&["b", "2"]));
    r.expect("ZSCORE z a", b"$2\r\n10\r\n");
    r.expect("ZADD z INCR 0.5 a", b"$4\r\n10.5\r\n");
    r.expect("ZRANK z a", b":3\r\n");
    r.expect("ZREVRANK z a", b":0\r\n");
    r.expect("ZCOUNT z (2 +inf", b":3\r\n");
    r.expect("ZADD z NX XX 1 a", b"-ERR XX and NX options at the same time are not compatible\r\n");
    r.expect(
        "ZADD z GT LT 1 a",
        b"-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
    );
    r.expect("ZADD z inf x", b":1\r\n");
    r.expect("ZINCRBY z -inf x", b"-ERR resulting score is not a number (NaN)\r\n");
    r.expect("ZADD z nan x", b"-ERR value is not a valid float\r\n");
    r.expect("ZRANGEBYSCORE z x 1", b"-ERR min or max is not a float\r\n");
    r.expect("ZRANGEBYLEX z x y", b"-ERR min or max not valid string range item\r\n");
    r.expect("ZREM z a b c d x", b":5\r\n");
    r.expect("EXISTS z", b":0\r\n");
    r.expect("SET s v", b"+OK\r\n");
    r.expect(
        "ZADD s 1 a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    // RESP3: doubles, and WITHSCORES as pairs.
    r.line("HELLO 3");
    r.expect("ZADD y 1.5 m", b":1\r\n");
    r.expect("ZSCORE y m", b",1.5\r\n");
    r.expect("ZRANGE y 0 -1 WITHSCORES", b"*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n");
    r.expect("ZPOPMIN y", b"*2\r\n$1\r\nm\r\n,1.5\r\n");
}

#[test]
fn encodings_convert() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    for i in 0..128 {
        r.line(&format!("ZADD z {i} m{i}"));
    }
    r.expect("OBJECT ENCODING z", b"$8\r\nlistpack\r\n");
    r.expect("ZADD z 1000 extra", b":1\r\n");
    r.expect("OBJECT ENCODING z", b"$8\r\nskiplist\r\n");
    r.expect("ZCARD z", b":129\r\n");
    r.expect("ZRANGE z 0 1", &bulks(&["m0", "m1"]));
    let long = "x".repeat(65);
    r.expect(&format!("ZADD l 1 {long}"), b":1\r\n");
    r.expect("OBJECT ENCODING l", b"$8\r\nskiplist\r\n");
    // Store commands give a listpack when the result fits.
    r.expect("ZRANGESTORE d z 0 9", b":10\r\n");
    r.expect("OBJECT ENCODING d", b"$8\r\nlistpack\r\n");
    r.expect("ZUNIONSTORE u 1 z", b":129\r\n");
    r.expect("OBJECT ENCODING u", b"$8\r\nskiplist\r\n");
    r.line("CONFIG SET zset-max-listpack-entries 0");
    r.expect("ZADD e 1 a", b":1\r\n");
    r.expect("OBJECT ENCODING e", b"$8\r\nskiplist\r\n");
    // MEMORY USAGE grows with the set.
    let small = r.int("MEMORY USAGE d");
    let big = r.int("MEMORY USAGE z");
    assert!(small > 0 && big > small, "{small} {big}");
}

/// Random operations on a large (skiplist) set, checked against a model.
#[test]
fn big_set_against_model() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    let mut rng = SmallRng::seed_from_u64(42);
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    let sorted = |m: &BTreeMap<String, i64>| {
        let mut v: Vec<(i64, String)> = m.iter().map(|(k, s)| (*s, k.clone())).collect();
        v.sort();
        v
    };
    for round in 0..3000 {
        let member = format!("m{}", rng.gen_range(0..600));
        match rng.gen_range(0..6) {
            0..=2 => {
                let s = rng.gen_range(-50..50);
                r.line(&format!("ZADD z {s} {member}"));
                model.insert(member, s);
            }
            3 => {
                let n = r.int(&format!("ZREM z {member}"));
                assert_eq!(n, model.remove(&member).is_some() as i64);
            }
            4 => {
                let v = sorted(&model);
                let got = r.line(&format!("ZRANK z {member}"));
                let want = match v.iter().position(|p| p.1 == member) {
                    Some(i) => format!(":{i}\r\n").into_bytes(),
                    None => b"$-1\r\n".to_vec(),
                };
                assert_eq!(got, want);
            }
            _ => {
                let (a, b) = (rng.gen_range(-60..60), rng.gen_range(-60..60));
                let v = sorted(&model);
                let want: Vec<&str> =
                    v.iter().filter(|p| p.0 >= a && p.0 <= b).map(|p| &p.1[..]).collect();
                r.expect(&format!("ZRANGEBYSCORE z {a} {b}"), &bulks(&want));
            }
        }
        if round % 500 == 0 {
            let v = sorted(&model);
            let want: Vec<&str> = v.iter().map(|p| &p.1[..]).collect();
            r.expect("ZRANGE z 0 -1", &bulks(&want));
        }
    }
    r.expect("OBJECT ENCODING z", b"$8\r\nskiplist\r\n");
}

/// ZSCAN of a skiplist keeps SCAN's guarantee while members come and go between calls: the
/// added members sort before every stable one (a rank cursor would skip stable members as they
/// shift back when those are removed), and enough of them come and go to grow and then shrink
/// the member table.
#[test]
fn zscan_guarantee_under_churn() {
    let srv = common::Server::start();
    let mut c = srv.conn();
    let stable: Vec<String> = (0..2000).map(|i| format!("s{i}")).collect();
    for (i, chunk) in stable.chunks(500).enumerate() {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("z");
        for (j, m) in chunk.iter().enumerate() {
            cmd.arg(i * 500 + j).arg(m);
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("z").query(&mut c).unwrap();
    assert_eq!(enc, "skiplist");
    let calls =
        common::scan_keeps_stable_elements(&mut c, "ZSCAN", "z", true, &stable, |c, step| {
            let (lo, hi) = ((step - 1) % 20 * 500, (step - 1) % 20 * 500 + 500);
            let mut cmd = redis::cmd(if step <= 20 { "ZADD" } else { "ZREM" });
            cmd.arg("z");
            for k in lo..hi {
                if step <= 20 {
                    cmd.arg(-1 - k as i64);
                }
                cmd.arg(format!("c{k}"));
            }
            if step <= 40 {
                let _: i64 = cmd.query(c).unwrap();
            }
        });
    assert!(calls > 40, "the iteration ended before the churn did ({calls} calls)");
    let card: i64 = redis::cmd("ZCARD").arg("z").query(&mut c).unwrap();
    assert_eq!(card, 2000);
    // Scores come with their members.
    let (_, items): (u64, Vec<String>) =
        redis::cmd("ZSCAN").arg("z").arg(0).arg("COUNT").arg(5000).query(&mut c).unwrap();
    assert!(items.chunks(2).all(|p| p[0] == format!("s{}", p[1])));
    let mut r = srv.raw();
    r.expect("ZADD small 1 a 2 b", b":2\r\n");
    // A listpack comes whole in one call, whatever COUNT says.
    r.expect(
        "ZSCAN small 0 COUNT 1",
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
}

#[test]
fn propagation() {
    let mut h = common::InProcess::new();
    let mut run = |line: &str| {
        h.run(line);
        String::from_utf8_lossy(&h.take_raw()).replace("\r\n", " ")
    };
    assert!(run("ZADD z 1 a 2 b").ends_with("*6 $4 ZADD $1 z $1 1 $1 a $1 2 $1 b "));
    // Nothing changed: nothing propagated.
    assert_eq!(run("ZADD z 1 a"), "");
    assert_eq!(run("ZREM z x"), "");
    assert_eq!(run("ZADD z INCR 1 a"), "*5 $4 ZADD $1 z $4 INCR $1 1 $1 a ");
    assert_eq!(run("ZMPOP 1 z MIN"), "*3 $7 ZPOPMIN $1 z $1 1 ");
    // The count propagated is the number popped, not the number asked for.
    run("ZADD z 3 c 4 d");
    assert_eq!(run("ZMPOP 1 z MAX COUNT 2"), "*3 $7 ZPOPMAX $1 z $1 2 ");
    assert_eq!(run("ZPOPMAX z 5"), "*3 $7 ZPOPMAX $1 z $1 5 ");
    assert_eq!(run("ZUNIONSTORE d 1 z"), "");
}
