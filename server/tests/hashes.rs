//! Hash commands, black-box: replies, errors, WRONGTYPE, emptied keys, encodings.

use crate::common;

use common::Server;

#[test]
fn set_get_and_friends() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("HSET h a 1 b 2", b":2\r\n");
    r.expect("HSET h a 3 c 4", b":1\r\n");
    r.expect("HMSET h d 5", b"+OK\r\n");
    r.expect("HSETNX h a x", b":0\r\n");
    r.expect("HSETNX h e 6", b":1\r\n");
    r.expect("HGET h a", b"$1\r\n3\r\n");
    r.expect("HGET h zz", b"$-1\r\n");
    r.expect("HGET nokey a", b"$-1\r\n");
    r.expect("HMGET h a zz b", b"*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n");
    r.expect("HMGET nokey a", b"*1\r\n$-1\r\n");
    r.expect("HLEN h", b":5\r\n");
    r.expect("HLEN nokey", b":0\r\n");
    r.expect("HEXISTS h a", b":1\r\n");
    r.expect("HEXISTS h zz", b":0\r\n");
    r.expect("HSTRLEN h a", b":1\r\n");
    r.expect("HSTRLEN h zz", b":0\r\n");
    r.expect("HKEYS h", b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n");
    r.expect("HVALS h", b"*5\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n");
    r.expect("HGETALL h", b"*10\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nd\r\n$1\r\n5\r\n$1\r\ne\r\n$1\r\n6\r\n");
    r.expect("HGETALL nokey", b"*0\r\n");
    r.expect("HSET h a", b"-ERR wrong number of arguments for 'hset' command\r\n");
    r.expect("HMSET h a 1 b", b"-ERR wrong number of arguments for 'hmset' command\r\n");
    r.expect("HDEL h a zz a", b":1\r\n");
    r.expect("HDEL nokey a", b":0\r\n");
    r.expect("HDEL h b c d e", b":4\r\n");
    r.expect("EXISTS h", b":0\r\n");
    r.expect("HSET h2 f v", b":1\r\n");
    r.line("HELLO 3");
    r.expect("HGETALL h2", b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.expect("HGETALL nokey", b"%0\r\n");
}

#[test]
fn wrongtype() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("SET s x", b"+OK\r\n");
    let wt = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for c in [
        "HSET s f v",
        "HSETNX s f v",
        "HGET s f",
        "HMGET s f",
        "HGETALL s",
        "HKEYS s",
        "HVALS s",
        "HLEN s",
        "HEXISTS s f",
        "HSTRLEN s f",
        "HDEL s f",
        "HINCRBY s f 1",
        "HINCRBYFLOAT s f 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HSCAN s 0",
    ] {
        r.expect(c, wt);
    }
    r.expect("GET s", b"$1\r\nx\r\n");
}

#[test]
fn incr() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("HINCRBY h n 5", b":5\r\n");
    r.expect("HINCRBY h n -7", b":-2\r\n");
    r.expect("HINCRBY h n x", b"-ERR value is not an integer or out of range\r\n");
    r.expect("HSET h s abc big 9223372036854775807", b":2\r\n");
    r.expect("HINCRBY h s 1", b"-ERR hash value is not an integer\r\n");
    r.expect("HINCRBY h big 1", b"-ERR increment or decrement would overflow\r\n");
    r.expect("HINCRBYFLOAT h f 10.5", b"$4\r\n10.5\r\n");
    r.expect("HINCRBYFLOAT h f 0.1", b"$4\r\n10.6\r\n");
    r.expect("HINCRBYFLOAT h f -0.6", b"$2\r\n10\r\n");
    r.expect("HINCRBYFLOAT h s 1", b"-ERR hash value is not a float\r\n");
    r.expect("HINCRBYFLOAT h f x", b"-ERR value is not a valid float\r\n");
    r.expect("HINCRBYFLOAT h f inf", b"-ERR value is NaN or Infinity\r\n");
    r.expect("HSET h huge 1e4932", b":1\r\n");
    r.expect("HINCRBYFLOAT h huge 1e4932", b"-ERR increment would produce NaN or Infinity\r\n");
}

#[test]
fn randfield() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("HRANDFIELD nokey", b"$-1\r\n");
    r.expect("HRANDFIELD nokey 3", b"*0\r\n");
    r.expect("HSET h a 1 b 2 c 3", b":3\r\n");
    r.expect("HRANDFIELD h 0", b"*0\r\n");
    r.expect("HRANDFIELD h 5", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    let one = r.line("HRANDFIELD h");
    assert!([&b"$1\r\na\r\n"[..], b"$1\r\nb\r\n", b"$1\r\nc\r\n"].contains(&&one[..]));
    let two = r.line("HRANDFIELD h 2");
    assert!(two.starts_with(b"*2\r\n"));
    let rep = r.line("HRANDFIELD h -10");
    assert!(rep.starts_with(b"*10\r\n"));
    let wv = r.line("HRANDFIELD h -4 WITHVALUES");
    assert!(wv.starts_with(b"*8\r\n"));
    r.expect("HRANDFIELD h 1 WITHVALUE", b"-ERR syntax error\r\n");
    r.expect("HRANDFIELD h x", b"-ERR value is not an integer or out of range\r\n");
    r.expect("HRANDFIELD h -4611686018427387904 WITHVALUES", b"-ERR value is out of range\r\n");
    r.line("HELLO 3");
    let wv = r.line("HRANDFIELD h -2 WITHVALUES");
    assert!(wv.starts_with(b"*2\r\n*2\r\n"), "{:?}", String::from_utf8_lossy(&wv));
    // A big hash (table encoding): distinct fields.
    let mut c = srv.conn();
    for i in 0..1000 {
        let _: () = redis::cmd("HSET").arg("big").arg(i).arg(i).query(&mut c).unwrap();
    }
    let got: Vec<String> = redis::cmd("HRANDFIELD").arg("big").arg(500).query(&mut c).unwrap();
    let set: std::collections::HashSet<_> = got.iter().collect();
    assert_eq!((got.len(), set.len()), (500, 500));
    let got: Vec<String> = redis::cmd("HRANDFIELD").arg("big").arg(-2000).query(&mut c).unwrap();
    assert_eq!(got.len(), 2000);
}

#[test]
fn scan_big_hash_sees_every_field() {
    let srv = Server::start();
    let mut c = srv.conn();
    for i in 0..2000 {
        let _: () = redis::cmd("HSET").arg("h").arg(format!("f{i}")).arg(i).query(&mut c).unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("h").query(&mut c).unwrap();
    assert_eq!(enc, "hashtable");
    let mut seen = std::collections::HashMap::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(cursor).arg("COUNT").arg(50).query(&mut c).unwrap();
        for kv in items.chunks(2) {
            seen.insert(kv[0].clone(), kv[1].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
    assert_eq!(seen["f17"], "17");
    let (_, items): (u64, Vec<String>) =
        redis::cmd("HSCAN").arg("h").arg(0).arg("MATCH").arg("nomatch*").query(&mut c).unwrap();
    assert!(items.is_empty());
    let mut r = srv.raw();
    r.expect("HSCAN h x", b"-ERR invalid cursor\r\n");
    r.expect("HSCAN h 0 COUNT 0", b"-ERR syntax error\r\n");
    r.expect("HSCAN nokey 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
    r.expect("HSET small a 1 b 2", b":2\r\n");
    r.expect(
        "HSCAN small 0 COUNT 1",
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    // MEMORY USAGE is a real figure, bigger for the bigger hash.
    let small: i64 = redis::cmd("MEMORY").arg("USAGE").arg("small").query(&mut c).unwrap();
    let big: i64 = redis::cmd("MEMORY").arg("USAGE").arg("h").query(&mut c).unwrap();
    assert!(small > 16 && big > 2000 * 16, "{small} {big}");
}

#[test]
fn encoding_conversion() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("HSET h f v", b":1\r\n");
    r.expect("OBJECT ENCODING h", b"$8\r\nlistpack\r\n");
    r.expect(&format!("HSET h f {}", "x".repeat(64)), b":0\r\n");
    r.expect("OBJECT ENCODING h", b"$8\r\nlistpack\r\n");
    r.expect(&format!("HSET h f {}", "x".repeat(65)), b":0\r\n");
    r.expect("OBJECT ENCODING h", b"$9\r\nhashtable\r\n");
    r.expect("HSET h f short", b":0\r\n");
    r.expect("OBJECT ENCODING h", b"$9\r\nhashtable\r\n");
    r.expect("CONFIG SET hash-max-listpack-entries 2", b"+OK\r\n");
    r.expect("HSET e a 1 b 2", b":2\r\n");
    r.expect("OBJECT ENCODING e", b"$8\r\nlistpack\r\n");
    r.expect("HSET e c 3", b":1\r\n");
    r.expect("OBJECT ENCODING e", b"$9\r\nhashtable\r\n");
    r.expect("HDEL e a b", b":2\r\n");
    r.expect("OBJECT ENCODING e", b"$9\r\nhashtable\r\n");
    r.expect("CONFIG SET hash-max-ziplist-value 3", b"+OK\r\n");
    r.expect("CONFIG SET hash-max-listpack-entries 512", b"+OK\r\n");
    r.expect("HSET v f 1", b":1\r\n");
    r.expect("HINCRBYFLOAT v f 0.5", b"$3\r\n1.5\r\n");
    r.expect("OBJECT ENCODING v", b"$8\r\nlistpack\r\n");
    r.expect("HINCRBYFLOAT v f 0.25", b"$4\r\n1.75\r\n");
    r.expect("OBJECT ENCODING v", b"$9\r\nhashtable\r\n");
    r.expect("HINCRBY w longfield 1", b":1\r\n");
    r.expect("OBJECT ENCODING w", b"$9\r\nhashtable\r\n");
}

/// HSCAN of a hashtable keeps SCAN's guarantee while elements come and go between calls,
/// enough of them to grow and then shrink the table.
#[test]
fn hscan_guarantee_under_churn() {
    let srv = common::Server::start();
    let mut c = srv.conn();
    let stable: Vec<String> = (0..2000).map(|i| format!("s{i}")).collect();
    for chunk in stable.chunks(500) {
        let mut cmd = redis::cmd("HSET");
        cmd.arg("h");
        for m in chunk {
            cmd.arg(m);
            cmd.arg(1);
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("h").query(&mut c).unwrap();
    assert_eq!(enc, "hashtable");
    let calls =
        common::scan_keeps_stable_elements(&mut c, "HSCAN", "h", true, &stable, |c, step| {
            let (lo, hi) = ((step - 1) % 20 * 500, (step - 1) % 20 * 500 + 500);
            let mut cmd = redis::cmd(if step <= 20 { "HSET" } else { "HDEL" });
            cmd.arg("h");
            for k in lo..hi {
                cmd.arg(format!("c{k}"));
                if step <= 20 {
                    cmd.arg(1);
                }
            }
            if step <= 40 {
                let _: i64 = cmd.query(c).unwrap();
            }
        });
    assert!(calls > 40, "the iteration ended before the churn did ({calls} calls)");
}
