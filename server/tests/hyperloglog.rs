//! Black-box tests of the HyperLogLog commands. Values and estimates were recorded from Redis
//! 7.0.15; when a reference Redis is available (`$VIREO_REFERENCE_REDIS`, else `redis-server`
//! on PATH) the string values are also compared byte for byte with a live one.

use crate::common;

use common::{Raw, Server};

/// Elements `e{from}`..`e{to}` as PFADD arguments for `key`.
fn pfadd(key: &str, from: usize, to: usize) -> Vec<Vec<u8>> {
    let mut args = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
    args.extend((from..to).map(|i| format!("e{i}").into_bytes()));
    args
}

/// The payload of a bulk reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply[0], b'$', "not a bulk: {}", common::show(reply));
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    reply[nl + 2..reply.len() - 2].to_vec()
}

#[test]
fn representation_and_estimates() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("pfadd empty", b":1\r\n");
    // A new HLL is sparse, all XZERO, and its cache is marked stale by PFADD.
    r.expect(
        "get empty",
        b"$18\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\r\n",
    );
    r.expect("pfcount empty", b":0\r\n");
    r.expect(
        "get empty",
        b"$18\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff\r\n",
    );
    r.expect("pfadd k a b c d e f g", b":1\r\n");
    r.expect("pfadd k a b", b":0\r\n");
    r.expect("pfcount k", b":7\r\n");
    r.expect(
        "get k",
        b"$38\r\nHYLL\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00Fm\x80V\x0c\x80D<\x848\x80P\
          \xb1\x84I\x8c\x80Bm\x80BZ\r\n",
    );
    r.expect(
        "pfdebug decode k",
        b"$93\r\nZ:1646 v:1,1 Z:5645 v:1,1 Z:1085 v:2,1 z:57 v:1,1 Z:4274 v:2,1 Z:2445 v:1,1 \
          Z:622 v:1,1 Z:603\r\n",
    );
    assert_eq!(r.call(&pfadd("k2", 0, 1000)), b":1\r\n");
    r.expect("pfcount k2", b":1008\r\n");
    r.expect("pfdebug encoding k2", b"+sparse\r\n");
    for j in 0..10 {
        r.call(&pfadd("k3", j * 1000, (j + 1) * 1000));
    }
    r.expect("pfcount k3", b":9973\r\n");
    r.expect("pfdebug encoding k3", b"+dense\r\n");
    r.expect("pfcount k2 k3 nokey", b":9973\r\n");
    r.expect("pfmerge m k k2", b"+OK\r\n");
    r.expect("pfdebug todense m", b":1\r\n");
    r.expect("pfdebug todense m", b":0\r\n");
    r.expect("pfdebug decode m", b"-ERR HLL encoding is not sparse\r\n");
    r.expect("pfselftest", b"+OK\r\n");
}

#[test]
fn errors() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set s hello", b"+OK\r\n"),
        ("pfadd s a", b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
        ("pfcount s", b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
        ("set n 12345", b"+OK\r\n"),
        ("pfcount n", b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
        ("rpush l a", b":1\r\n"),
        ("pfadd l a", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("pfmerge d l", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("pfdebug getreg nokey", b"-ERR The specified key does not exist\r\n"),
        ("pfadd h a", b":1\r\n"),
        ("pfdebug foo h", b"-ERR Unknown PFDEBUG subcommand 'foo'\r\n"),
        // A sparse HLL whose opcodes cover one register too few.
        (
            "set bad \"HYLL\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80\\x7f\\xfe\"",
            b"+OK\r\n",
        ),
        ("pfcount bad", b"-INVALIDOBJ Corrupted HLL object detected\r\n"),
        ("pfcount bad h", b"-INVALIDOBJ Corrupted HLL object detected\r\n"),
        ("pfmerge d bad", b"-INVALIDOBJ Corrupted HLL object detected\r\n"),
        // A dense HLL must have the exact dense length.
        ("set bad2 \"HYLL\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\"", b"+OK\r\n"),
        ("pfcount bad2", b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
    ]);
}

/// The same PFADDs on both servers give byte-identical values and the same estimates, through
/// the sparse to dense promotion; a value made by Redis is read and extended by Vireo.
#[test]
fn byte_identical_to_reference() {
    let Some(reference) = Server::start_reference("HLL byte-identity test") else { return };
    let rport = reference.port;
    let srv = Server::start();
    let mut rc = Raw::connect(rport);
    let mut vc = srv.raw();
    let mut same = |args: &[Vec<u8>]| same_reply(&mut rc, &mut vc, args);
    let cmd = |s: &str| common::split_args(s);
    for max in ["3000", "300"] {
        same(&cmd(&format!("config set hll-sparse-max-bytes {max}")));
        let key = format!("h{max}");
        let mut n = 0;
        let mut step = 1;
        while n < 30_000 {
            same(&pfadd(&key, n, n + step));
            same(&cmd(&format!("get {key}")));
            same(&cmd(&format!("pfcount {key}")));
            same(&cmd(&format!("get {key}")));
            n += step;
            step = (step * 3).min(5000);
        }
        same(&cmd(&format!("pfdebug encoding {key}")));
    }
    same(&pfadd("small", 0, 40));
    same(&cmd("pfmerge m1 small h300"));
    same(&cmd("get m1"));
    same(&cmd("pfmerge m2 small"));
    same(&cmd("get m2"));
    same(&cmd("pfcount m1 m2 h3000"));
    // A value made by Redis, stored in Vireo with SET.
    let value = bulk(&same(&cmd("get h3000")));
    same(&[b"SET".to_vec(), b"copy".to_vec(), value]);
    same(&cmd("pfcount copy"));
    same(&cmd("pfadd copy x y z"));
    same(&cmd("get copy"));
    same(&cmd("pfcount copy"));
}

#[track_caller]
fn same_reply(rc: &mut Raw, vc: &mut Raw, args: &[Vec<u8>]) -> Vec<u8> {
    let want = rc.call(args);
    let got = vc.call(args);
    let name = String::from_utf8_lossy(&args[0]);
    assert_eq!(common::show(&got), common::show(&want), "reply to {name}");
    want
}

/// A sparse value whose last opcode is cut off (here made by BITFIELD writing over an HLL)
/// is refused on every path, and the connection goes on. PFADD used to splice past the end of
/// the value and the connection never answered. (Redis reads past the end there and answers
/// `:1`; Vireo answers INVALIDOBJ, as for other corrupt values.)
#[test]
fn truncated_sparse_opcode_is_corrupt() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("pfadd k", b":1\r\n");
    r.expect("bitfield k OVERFLOW FAIL SET i64 100 7", b"*1\r\n:8830451712000\r\n");
    let corrupt: &[u8] = b"-INVALIDOBJ Corrupted HLL object detected\r\n";
    assert_eq!(r.call(&["PFADD", "k", "-1"]), corrupt);
    assert_eq!(r.call(&["PFADD", "k", "a", "b", "c"]), corrupt);
    // The header's cached cardinality (0, and marked valid by the zeros written) is trusted,
    // as by Redis.
    assert_eq!(r.call(&["PFCOUNT", "k"]), b":0\r\n");
    assert_eq!(r.call(&["PFCOUNT", "k", "other"]), corrupt);
    assert_eq!(r.call(&["PFMERGE", "k", "other"]), corrupt);
    r.expect("ping", b"+PONG\r\n");
}
