//! Black-box tests of the list commands. Expected replies were checked against Redis 7.0.15
//! (`reference-redis redis PORT`); `tests/differential/lists.txt` compares many more.

use crate::common;

use common::Server;

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn push_pop_len_range() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("lpush l b a", b":2\r\n"),
        ("rpush l c d", b":4\r\n"),
        ("lrange l 0 -1", b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("lrange l -2 100", b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("lrange l 3 1", b"*0\r\n"),
        ("lrange nokey 0 -1", b"*0\r\n"),
        ("lrange l 0 x", b"-ERR value is not an integer or out of range\r\n"),
        ("llen l", b":4\r\n"),
        ("llen nokey", b":0\r\n"),
        ("lpushx nokey a", b":0\r\n"),
        ("rpushx nokey a", b":0\r\n"),
        ("exists nokey", b":0\r\n"),
        ("lpushx l z", b":5\r\n"),
        ("rpushx l y x", b":7\r\n"),
        ("object encoding l", b"$9\r\nquicklist\r\n"),
        ("type l", b"+list\r\n"),
        ("lpop l", b"$1\r\nz\r\n"),
        ("rpop l", b"$1\r\nx\r\n"),
        ("lpop l 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("rpop l 0", b"*0\r\n"),
        ("rpop l -1", b"-ERR value is out of range, must be positive\r\n"),
        ("rpop l x", b"-ERR value is out of range, must be positive\r\n"),
        ("lpop l 1 2", b"-ERR wrong number of arguments for 'lpop' command\r\n"),
        ("lpop nokey", b"$-1\r\n"),
        ("lpop nokey 1", b"*-1\r\n"),
        ("rpop l 10", b"*3\r\n$1\r\ny\r\n$1\r\nd\r\n$1\r\nc\r\n"),
        ("exists l", b":0\r\n"),
    ]);
}

#[test]
fn resp3_nulls() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.line("hello 3");
    r.script(&[
        ("lpop nokey", b"_\r\n"),
        ("lpop nokey 2", b"_\r\n"),
        ("lmpop 1 nokey left", b"_\r\n"),
        ("lindex nokey 0", b"_\r\n"),
        ("lpos nokey a", b"_\r\n"),
    ]);
}

#[test]
fn index_set_insert() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("rpush l a b c", b":3\r\n"),
        ("lindex l 0", b"$1\r\na\r\n"),
        ("lindex l -1", b"$1\r\nc\r\n"),
        ("lindex l 3", b"$-1\r\n"),
        ("lindex l x", b"-ERR value is not an integer or out of range\r\n"),
        ("lset l 1 B", b"+OK\r\n"),
        ("lset l 3 z", b"-ERR index out of range\r\n"),
        ("lset nokey 0 z", b"-ERR no such key\r\n"),
        ("lset nokey x z", b"-ERR no such key\r\n"),
        ("lset l x z", b"-ERR value is not an integer or out of range\r\n"),
        ("linsert l before B b0", b":4\r\n"),
        ("linsert l after B b1", b":5\r\n"),
        ("linsert l after nope z", b":-1\r\n"),
        ("linsert nokey after a z", b":0\r\n"),
        ("linsert l middle a z", b"-ERR syntax error\r\n"),
        ("lrange l 0 -1", b"*5\r\n$1\r\na\r\n$2\r\nb0\r\n$1\r\nB\r\n$2\r\nb1\r\n$1\r\nc\r\n"),
    ]);
}

#[test]
fn rem_trim_pos() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("rpush l a b a c a", b":5\r\n"),
        ("lrem l -2 a", b":2\r\n"),
        ("lrange l 0 -1", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("lrem l 0 zz", b":0\r\n"),
        ("lrem nokey 0 a", b":0\r\n"),
        ("lrem l x a", b"-ERR value is not an integer or out of range\r\n"),
        ("ltrim l 1 -1", b"+OK\r\n"),
        ("lrange l 0 -1", b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("ltrim nokey 0 1", b"+OK\r\n"),
        ("ltrim l 5 10", b"+OK\r\n"),
        ("exists l", b":0\r\n"),
        ("rpush p a b c b b", b":5\r\n"),
        ("lpos p b", b":1\r\n"),
        ("lpos p b rank -1", b":4\r\n"),
        ("lpos p b rank 2 count 0", b"*2\r\n:3\r\n:4\r\n"),
        ("lpos p b count 0 maxlen 2", b"*1\r\n:1\r\n"),
        ("lpos p z", b"$-1\r\n"),
        ("lpos p z count 1", b"*0\r\n"),
        ("lpos nokey z count 1", b"*0\r\n"),
        (
            "lpos p b rank 0",
            b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
        ),
        ("lpos p b count -1", b"-ERR COUNT can't be negative\r\n"),
        ("lpos p b maxlen -1", b"-ERR MAXLEN can't be negative\r\n"),
        ("lpos p b foo 1", b"-ERR syntax error\r\n"),
        ("rpush q x", b":1\r\n"),
        ("lrem q 1 x", b":1\r\n"),
        ("exists q", b":0\r\n"),
    ]);
}

#[test]
fn move_and_mpop() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("rpush s 1 2", b":2\r\n"),
        ("lmove s d left right", b"$1\r\n1\r\n"),
        ("lmove s d up left", b"-ERR syntax error\r\n"),
        ("lmove nokey d left left", b"$-1\r\n"),
        ("rpoplpush s d", b"$1\r\n2\r\n"),
        ("exists s", b":0\r\n"),
        ("lrange d 0 -1", b"*2\r\n$1\r\n2\r\n$1\r\n1\r\n"),
        ("lmove d d left right", b"$1\r\n2\r\n"),
        ("lrange d 0 -1", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        ("lmpop 2 nokey d right count 5", b"*2\r\n$1\r\nd\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n"),
        ("exists d", b":0\r\n"),
        ("lmpop 1 d left", b"*-1\r\n"),
        ("lmpop 0 d left", b"-ERR numkeys should be greater than 0\r\n"),
        ("lmpop 2 d left", b"-ERR syntax error\r\n"),
        ("lmpop 1 d left count 0", b"-ERR count should be greater than 0\r\n"),
    ]);
}

#[test]
fn wrong_type() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("set s v", b"+OK\r\n");
    r.expect("rpush l a", b":1\r\n");
    for line in [
        "lpush s a",
        "rpush s a",
        "lpushx s a",
        "rpushx s a",
        "lpop s",
        "rpop s 1",
        "llen s",
        "lrange s 0 -1",
        "lindex s 0",
        "lset s 0 a",
        "linsert s before a b",
        "lrem s 0 a",
        "ltrim s 0 1",
        "lpos s a",
        "lmove s l left left",
        "lmove l s left left",
        "rpoplpush l s",
        "lmpop 1 s left",
    ] {
        r.expect(line, WRONGTYPE);
    }
    // A failed move leaves the source alone.
    r.expect("lrange l 0 -1", b"*1\r\n$1\r\na\r\n");
}

#[test]
fn big_lists_and_memory() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("config set list-max-listpack-size 3", b"+OK\r\n");
    let mut args = vec!["rpush".to_string(), "l".into()];
    args.extend((0..100).map(|i| i.to_string()));
    assert_eq!(r.call(&args), b":100\r\n");
    r.expect("lindex l 50", b"$2\r\n50\r\n");
    r.expect("lindex l -3", b"$2\r\n97\r\n");
    r.expect("linsert l after 50 50.5", b":101\r\n");
    r.expect("lrange l 50 52", b"*3\r\n$2\r\n50\r\n$4\r\n50.5\r\n$2\r\n51\r\n");
    r.expect("ltrim l 10 -11", b"+OK\r\n");
    r.expect("llen l", b":81\r\n");
    r.expect("lindex l 0", b"$2\r\n10\r\n");
    let usage = r.int("memory usage l");
    assert!(usage > 81 * 4, "memory usage {usage}");
}

// ----- propagation -----

/// Runs `line` in-process; returns what it propagated, one space-joined command per element
/// (SELECT left out).
fn prop(h: &mut common::InProcess, line: &str) -> Vec<String> {
    h.run(line);
    h.take().into_iter().filter(|c| c[0] != "SELECT").map(|c| c.join(" ")).collect()
}

#[test]
fn propagation() {
    let mut h = common::InProcess::new();
    assert_eq!(prop(&mut h, "rpush l a b c d e"), ["rpush l a b c d e"]);
    assert_eq!(prop(&mut h, "lpushx nokey a"), Vec::<String>::new());
    assert_eq!(prop(&mut h, "lmpop 2 nokey l left count 2"), ["LPOP l 2"]);
    assert_eq!(prop(&mut h, "lmpop 1 l right count 10"), ["RPOP l 3"]);
    assert_eq!(prop(&mut h, "lmpop 1 l right"), Vec::<String>::new());
    assert_eq!(prop(&mut h, "rpush l a b"), ["rpush l a b"]);
    assert_eq!(prop(&mut h, "lmove l m left right"), ["lmove l m left right"]);
    assert_eq!(prop(&mut h, "rpoplpush l m"), ["rpoplpush l m"]);
    assert_eq!(prop(&mut h, "lrem m 0 zz"), Vec::<String>::new());
    assert_eq!(prop(&mut h, "ltrim m 0 -1"), Vec::<String>::new());
    assert_eq!(prop(&mut h, "ltrim m 1 -1"), ["ltrim m 1 -1"]);
    assert_eq!(prop(&mut h, "linsert m before zz a"), Vec::<String>::new());
    assert_eq!(prop(&mut h, "lpop nokey"), Vec::<String>::new());
}
