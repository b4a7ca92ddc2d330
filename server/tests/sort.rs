//! SORT and SORT_RO, black-box: large inputs against a model, the orders that a differential
//! test cannot pin down (hash-table sets), expiry, STORE, propagation and cluster mode.

use crate::common;

use common::Server;
use redis::{cmd, Connection};

fn q(c: &mut Connection, args: &[&str]) -> Vec<Option<String>> {
    let mut r = cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    r.query::<Vec<Option<String>>>(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn strs(c: &mut Connection, args: &[&str]) -> Vec<String> {
    q(c, args).into_iter().map(|v| v.expect("no nil")).collect()
}

fn err(c: &mut Connection, args: &[&str]) -> String {
    let mut r = cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    let e = r.query::<redis::Value>(c).expect_err("an error");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")).trim().to_string()
}

/// A small deterministic generator (the tests must fail the same way every time).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn numeric_and_alpha_sort_of_a_big_list_match_a_model() {
    let srv = Server::start();
    let mut c = srv.conn();
    let mut g = Lcg(7);
    // Integers, decimals and spellings of equal numbers ("5", "5.0", "05"): equal scores are
    // ordered by their bytes.
    let elems: Vec<String> = (0..5000)
        .map(|i| match i % 4 {
            0 => format!("{}", g.next() % 1000),
            1 => format!("{}.{}", g.next() % 1000, g.next() % 100),
            2 => format!("-{}", g.next() % 1000),
            _ => format!("0{}", g.next() % 1000),
        })
        .collect();
    let mut r = cmd("RPUSH");
    r.arg("l").arg(&elems);
    r.query::<i64>(&mut c).unwrap();

    let mut model = elems.clone();
    model.sort_by(|a, b| {
        let (x, y) = (a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
        x.partial_cmp(&y).unwrap().then_with(|| a.as_bytes().cmp(b.as_bytes()))
    });
    assert_eq!(strs(&mut c, &["SORT", "l"]), model);
    assert_eq!(strs(&mut c, &["SORT", "l", "LIMIT", "1234", "100"]), model[1234..1334]);
    let mut desc = model.clone();
    desc.reverse();
    assert_eq!(strs(&mut c, &["SORT", "l", "DESC"]), desc);
    assert_eq!(strs(&mut c, &["SORT_RO", "l", "DESC", "LIMIT", "4990", "100"]), desc[4990..]);

    let mut alpha = elems.clone();
    alpha.sort();
    assert_eq!(strs(&mut c, &["SORT", "l", "ALPHA"]), alpha);
    assert_eq!(strs(&mut c, &["SORT", "l", "ALPHA", "LIMIT", "17", "3"]), alpha[17..20]);
    // The source is untouched.
    let lr: Vec<String> = cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(lr, elems);
}

#[test]
fn by_and_get_over_many_keys_match_a_model() {
    let srv = Server::start();
    let mut c = srv.conn();
    let mut g = Lcg(11);
    let n = 2000;
    let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
    let mut r = cmd("RPUSH");
    r.arg("ids").arg(&ids);
    r.query::<i64>(&mut c).unwrap();
    let mut weights = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let w = g.next() % 500; // many equal weights: ties are ordered by the element
        weights.push(w);
        if !i.is_multiple_of(10) {
            // every tenth weight is missing: it sorts as 0
            cmd("SET").arg(format!("w_{id}")).arg(w).query::<()>(&mut c).unwrap();
        }
        if !i.is_multiple_of(3) {
            cmd("HSET")
                .arg(format!("h_{id}"))
                .arg("name")
                .arg(format!("n{i}"))
                .query::<()>(&mut c)
                .unwrap();
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| if i.is_multiple_of(10) { 0 } else { weights[i] };
    order.sort_by(|&a, &b| key(a).cmp(&key(b)).then_with(|| ids[a].cmp(&ids[b])));

    let got = q(&mut c, &["SORT", "ids", "BY", "w_*", "GET", "h_*->name", "GET", "#"]);
    let want: Vec<Option<String>> = order
        .iter()
        .flat_map(|&i| [(!i.is_multiple_of(3)).then(|| format!("n{i}")), Some(ids[i].clone())])
        .collect();
    assert_eq!(got, want);
    // A window of a BY sort (Redis sorts only partly there): the same elements.
    let got = strs(&mut c, &["SORT", "ids", "BY", "w_*", "LIMIT", "500", "20"]);
    let want: Vec<String> = order[500..520].iter().map(|&i| ids[i].clone()).collect();
    assert_eq!(got, want);
    let got = strs(&mut c, &["SORT", "ids", "BY", "w_*", "DESC", "LIMIT", "0", "10"]);
    let want: Vec<String> = order.iter().rev().take(10).map(|&i| ids[i].clone()).collect();
    assert_eq!(got, want);
    // STORE with GET: missing values are stored as empty strings.
    let stored: i64 = cmd("SORT")
        .arg("ids")
        .arg("BY")
        .arg("w_*")
        .arg("GET")
        .arg("h_*->name")
        .arg("STORE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(stored, n as i64);
    let lr: Vec<String> = cmd("LRANGE").arg("d").arg(0).arg(-1).query(&mut c).unwrap();
    let want: Vec<String> = order
        .iter()
        .map(|&i| if !i.is_multiple_of(3) { format!("n{i}") } else { String::new() })
        .collect();
    assert_eq!(lr, want);
}

#[test]
fn hash_table_sets() {
    let srv = Server::start();
    let mut c = srv.conn();
    let members: Vec<String> = (0..300).map(|i| format!("m{:03}", (i * 7) % 300)).collect();
    let mut r = cmd("SADD");
    r.arg("s").arg(&members);
    r.query::<i64>(&mut c).unwrap();
    let mut sorted = members.clone();
    sorted.sort();
    // Without sorting, every member once, in the set's own order, which LIMIT windows.
    let all = strs(&mut c, &["SORT", "s", "BY", "nosort"]);
    let mut check = all.clone();
    check.sort();
    assert_eq!(check, sorted);
    assert_eq!(strs(&mut c, &["SORT", "s", "BY", "nosort", "DESC"]), all);
    assert_eq!(strs(&mut c, &["SORT", "s", "BY", "nosort", "LIMIT", "10", "5"]), all[10..15]);
    // With STORE the result must not depend on the set's internals: sorted ALPHA.
    let n: i64 =
        cmd("SORT").arg("s").arg("BY").arg("nosort").arg("STORE").arg("d").query(&mut c).unwrap();
    assert_eq!(n, 300);
    let lr: Vec<String> = cmd("LRANGE").arg("d").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(lr, sorted);
    let n: i64 = cmd("SORT")
        .arg("s")
        .arg("BY")
        .arg("nosort")
        .arg("DESC")
        .arg("LIMIT")
        .arg(0)
        .arg(3)
        .arg("STORE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    let lr: Vec<String> = cmd("LRANGE").arg("d").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(lr, ["m299", "m298", "m297"]);
    assert_eq!(strs(&mut c, &["SORT", "s", "ALPHA", "LIMIT", "0", "3"]), ["m000", "m001", "m002"]);
    assert_eq!(
        err(&mut c, &["SORT", "s"]),
        "ERR One or more scores can't be converted into double"
    );
}

#[test]
fn sorted_sets_keep_their_order_without_sorting() {
    let srv = Server::start();
    let mut c = srv.conn();
    // Scores in the reverse order of the names.
    let mut r = cmd("ZADD");
    r.arg("z");
    for i in 0..1000 {
        r.arg(1000 - i).arg(format!("e{i:04}"));
    }
    r.query::<i64>(&mut c).unwrap();
    let zr = |c: &mut Connection, cmdname: &str, a: i64, b: i64| -> Vec<String> {
        cmd(cmdname).arg("z").arg(a).arg(b).query(c).unwrap()
    };
    assert_eq!(strs(&mut c, &["SORT", "z", "BY", "nosort"]), zr(&mut c, "ZRANGE", 0, -1));
    assert_eq!(
        strs(&mut c, &["SORT", "z", "BY", "nosort", "LIMIT", "100", "10"]),
        zr(&mut c, "ZRANGE", 100, 109)
    );
    assert_eq!(
        strs(&mut c, &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "100", "10"]),
        zr(&mut c, "ZREVRANGE", 100, 109)
    );
    assert_eq!(
        strs(&mut c, &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "995", "10"]),
        zr(&mut c, "ZREVRANGE", 995, 999)
    );
    let mut names: Vec<String> = (0..1000).map(|i| format!("e{i:04}")).collect();
    assert_eq!(strs(&mut c, &["SORT", "z", "ALPHA"]), names);
    names.reverse();
    assert_eq!(strs(&mut c, &["SORT_RO", "z", "ALPHA", "DESC", "LIMIT", "0", "5"]), names[..5]);

    // A small sorted set is converted to a skiplist for good, as Redis does.
    cmd("ZADD").arg("small").arg(1).arg("a").arg(2).arg("b").query::<()>(&mut c).unwrap();
    let enc = |c: &mut Connection| -> String {
        cmd("OBJECT").arg("ENCODING").arg("small").query(c).unwrap()
    };
    assert_eq!(enc(&mut c), "listpack");
    assert_eq!(strs(&mut c, &["SORT_RO", "small", "BY", "nosort"]), ["a", "b"]);
    assert_eq!(enc(&mut c), "skiplist");
    assert_eq!(strs(&mut c, &["ZRANGE", "small", "0", "-1"]), ["a", "b"]);
}

#[test]
fn expired_keys_are_missing_for_by_and_get() {
    let srv = Server::start();
    let mut c = srv.conn();
    cmd("RPUSH").arg("l").arg(&["a", "b", "c"][..]).query::<()>(&mut c).unwrap();
    cmd("MSET")
        .arg(&["w_a", "3", "w_b", "2", "w_c", "9", "o_a", "A", "o_b", "B"][..])
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(strs(&mut c, &["SORT", "l", "BY", "w_*"]), ["b", "a", "c"]);
    cmd("PEXPIRE").arg("w_c").arg(1).query::<()>(&mut c).unwrap();
    cmd("PEXPIRE").arg("o_b").arg(1).query::<()>(&mut c).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // w_c is gone: c scores 0.
    assert_eq!(strs(&mut c, &["SORT", "l", "BY", "w_*"]), ["c", "b", "a"]);
    assert_eq!(
        q(&mut c, &["SORT", "l", "BY", "w_*", "DESC", "GET", "o_*"]),
        [Some("A".to_string()), None, None]
    );
    let n: i64 = cmd("EXISTS").arg(&["w_c", "o_b"][..]).query(&mut c).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn store_replaces_any_value_and_deletes_on_empty() {
    let srv = Server::start();
    let mut c = srv.conn();
    cmd("RPUSH").arg("l").arg(&["3", "1", "2"][..]).query::<()>(&mut c).unwrap();
    cmd("HSET").arg("d").arg("f").arg("v").query::<()>(&mut c).unwrap();
    cmd("EXPIRE").arg("d").arg(100).query::<()>(&mut c).unwrap();
    let n: i64 = cmd("SORT").arg("l").arg("DESC").arg("STORE").arg("d").query(&mut c).unwrap();
    assert_eq!(n, 3);
    let t: String = cmd("TYPE").arg("d").query(&mut c).unwrap();
    assert_eq!(t, "list");
    let ttl: i64 = cmd("TTL").arg("d").query(&mut c).unwrap();
    assert_eq!(ttl, -1);
    assert_eq!(strs(&mut c, &["LRANGE", "d", "0", "-1"]), ["3", "2", "1"]);
    // GET # twice: two entries per element.
    let n: i64 = cmd("SORT")
        .arg("l")
        .arg("GET")
        .arg("#")
        .arg("GET")
        .arg("#")
        .arg("STORE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 6);
    assert_eq!(strs(&mut c, &["LRANGE", "d", "0", "-1"]), ["1", "1", "2", "2", "3", "3"]);
    let n: i64 = cmd("SORT")
        .arg("l")
        .arg("LIMIT")
        .arg(5)
        .arg(1)
        .arg("STORE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let e: i64 = cmd("EXISTS").arg("d").query(&mut c).unwrap();
    assert_eq!(e, 0);
    // The source itself as the destination.
    let n: i64 = cmd("SORT").arg("l").arg("STORE").arg("l").query(&mut c).unwrap();
    assert_eq!(n, 3);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "0", "-1"]), ["1", "2", "3"]);
    assert_eq!(err(&mut c, &["SORT_RO", "l", "STORE", "d"]), "ERR syntax error");
}

#[test]
fn an_out_of_range_score_does_not_poison_later_sorts() {
    // Redis never clears errno before its strtod, so after a score overflowed, its later sorts
    // of values held as strings can fail on that connection. Vireo judges each value alone.
    let srv = Server::start();
    let mut c = srv.conn();
    cmd("RPUSH").arg("bad").arg(&["1", "1e400"][..]).query::<()>(&mut c).unwrap();
    cmd("SADD").arg("s").arg(&["2.5", "1.5", "x"][..]).query::<()>(&mut c).unwrap();
    cmd("SREM").arg("s").arg("x").query::<()>(&mut c).unwrap();
    assert_eq!(
        err(&mut c, &["SORT", "bad"]),
        "ERR One or more scores can't be converted into double"
    );
    assert_eq!(strs(&mut c, &["SORT", "s"]), ["1.5", "2.5"]);
}

fn prop(h: &mut common::InProcess, line: &str) -> Vec<String> {
    h.run(line);
    h.take().into_iter().filter(|c| c[0] != "SELECT").map(|c| c.join(" ")).collect()
}

#[test]
fn propagation_and_dirty() {
    let mut h = common::InProcess::new();
    let dirty = |h: &common::InProcess| h.server.core.lock().dirty;
    assert_eq!(prop(&mut h, "RPUSH l 3 1 2"), ["RPUSH l 3 1 2"]);
    // Reads propagate nothing.
    assert!(prop(&mut h, "SORT l").is_empty());
    assert!(prop(&mut h, "SORT_RO l DESC").is_empty());
    assert!(prop(&mut h, "SORT l GET # BY nosort").is_empty());
    // STORE propagates as called; it changes the dataset by the number of entries stored.
    let before = dirty(&h);
    assert_eq!(prop(&mut h, "SORT l DESC STORE d"), ["SORT l DESC STORE d"]);
    assert_eq!(dirty(&h) - before, 3);
    // An empty result deletes the destination (one change) or does nothing at all.
    let before = dirty(&h);
    assert_eq!(prop(&mut h, "SORT nokey STORE d"), ["SORT nokey STORE d"]);
    assert_eq!(dirty(&h) - before, 1);
    assert!(prop(&mut h, "SORT nokey STORE d").is_empty());
    assert_eq!(dirty(&h) - before, 1);
    // Errors propagate nothing.
    assert!(prop(&mut h, "SORT l STORE").is_empty());
    assert!(prop(&mut h, "RPUSH bad x").len() == 1);
    assert!(prop(&mut h, "SORT bad STORE d").is_empty());
    assert_eq!(h.run("EXISTS d"), b":0\r\n");
}

#[test]
fn cluster_mode_refuses_patterns() {
    let mut h = common::InProcess::new();
    h.run("RPUSH l 2 1");
    h.server.core.lock().cfg.cluster_enabled = true;
    let by = b"-ERR BY option of SORT denied in Cluster mode.\r\n";
    let get = b"-ERR GET option of SORT denied in Cluster mode.\r\n";
    assert_eq!(h.run("SORT l BY w_*"), by);
    assert_eq!(h.run("SORT l GET #"), get);
    assert_eq!(h.run("SORT_RO l GET x"), get);
    assert_eq!(h.run("SORT l BY nosort GET w_* BY w_*"), get);
    assert_eq!(h.run("SORT l BY nosort"), b"*2\r\n$1\r\n2\r\n$1\r\n1\r\n");
    assert_eq!(h.run("SORT l LIMIT 0 1"), b"*1\r\n$1\r\n1\r\n");
}

/// SORT ... ALPHA and Lua's `<` on strings collate in the process's locale, taken from the
/// environment as Redis does (en_US.UTF-8 here: case and accents are secondary), and in bytes
/// when `locale-collate` (Redis 7.2+) names the C locale. STORE compares bytes whatever the
/// locale, as Redis.
#[test]
fn alpha_order_follows_the_locale_as_redis() {
    let what = "alpha_order_follows_the_locale_as_redis";
    let locale = "en_US.UTF-8";
    let Some(reference) = Server::start_in_locale(what, locale, true, &[]) else { return };
    let vireo = Server::start_in_locale(what, locale, false, &[]).unwrap();
    let words = ["b", "A", "a", "B", "_x", "Zeta", "zeta", "é", "e", "10", "9", "a-b", "ab"];
    let script = "return {tostring('a' < 'B'), tostring('Z' < 'a'), tostring('e' < 'é')}";
    let mut seen = Vec::new();
    for srv in [&reference, &vireo] {
        let mut c = srv.conn();
        let mut push = vec!["RPUSH", "l"];
        push.extend(words);
        let _: i64 = cmd(push[0]).arg(&push[1..]).query(&mut c).unwrap();
        let sorted = strs(&mut c, &["SORT", "l", "ALPHA"]);
        let desc = strs(&mut c, &["SORT", "l", "ALPHA", "DESC", "LIMIT", "0", "5"]);
        let _: i64 = cmd("SORT").arg(&["l", "ALPHA", "STORE", "d"]).query(&mut c).unwrap();
        let stored = strs(&mut c, &["LRANGE", "d", "0", "-1"]);
        let lua = strs(&mut c, &["EVAL", script, "0"]);
        seen.push((sorted, desc, stored, lua));
    }
    assert_eq!(seen[0], seen[1], "Redis, then Vireo");
    // The locale's order, not the bytes'.
    assert_eq!(&seen[1].0[2..6], ["a", "A", "a-b", "ab"], "{:?}", seen[1].0);
    let mut bytes: Vec<&str> = words.to_vec();
    bytes.sort();
    assert_eq!(seen[1].2, bytes, "STORE compares bytes");

    // locale-collate C: bytes, whatever the environment says.
    let c_locale = Server::start_in_locale(what, locale, false, &["--locale-collate", "C"]);
    let c_locale = c_locale.unwrap();
    let mut c = c_locale.conn();
    let mut push = vec!["l"];
    push.extend(words);
    let _: i64 = cmd("RPUSH").arg(&push).query(&mut c).unwrap();
    assert_eq!(strs(&mut c, &["SORT", "l", "ALPHA"]), bytes);
    assert_eq!(strs(&mut c, &["EVAL", script, "0"]), ["false", "true", "true"]);
}
