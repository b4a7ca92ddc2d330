//! MIGRATE: keys move to another server (Vireo or Redis) whole, with their TTLs, and leave the
//! source only when the target took them; errors as Redis 7.0 words them.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::{self, Server};

/// A key of each type, two with a TTL.
const FIXTURE: &[&str] = &[
    "SET s hello",
    "SET n 12345",
    "RPUSH l a b c",
    "HSET h f v g w",
    "SADD st x y 7",
    "ZADD z 1 a 2.5 b",
    "XADD x 1-1 f v",
    "XGROUP CREATE x grp 0",
    "PFADD p a b c",
    "PEXPIRE s 100000",
    "PEXPIRE l 200000",
];
const FIXTURE_KEYS: &[&str] = &["s", "n", "l", "h", "st", "z", "x", "p"];

fn load_fixture(src: &mut common::Raw) {
    for line in FIXTURE {
        let r = src.line(line);
        assert!(!r.starts_with(b"-"), "{line}: {}", common::show(&r));
    }
}

fn debuggable() -> Server {
    Server::start_with(&["--enable-debug-command", "local"])
}

/// Every key of `FIXTURE_KEYS` moved from `src` to db 2 of `dst` with its value and TTL.
fn migrate_all(src: &Server, dst: &Server) {
    let mut s = src.raw();
    load_fixture(&mut s);
    let digests: Vec<Vec<u8>> =
        FIXTURE_KEYS.iter().map(|k| s.line(&format!("DEBUG DIGEST-VALUE {k}"))).collect();
    assert!(digests.iter().all(|d| d.starts_with(b"*1\r\n+")), "{}", common::show(&digests[0]));
    let keys = FIXTURE_KEYS.join(" ");
    s.expect(&format!("MIGRATE 127.0.0.1 {} \"\" 2 5000 KEYS {keys} absent", dst.port), b"+OK\r\n");
    assert_eq!(s.int("DBSIZE"), 0, "the source keeps nothing");

    let mut d = dst.raw();
    d.expect("SELECT 2", b"+OK\r\n");
    for (k, digest) in FIXTURE_KEYS.iter().zip(&digests) {
        assert_eq!(&d.line(&format!("DEBUG DIGEST-VALUE {k}")), digest, "value of {k}");
    }
    let ttl = d.int("PTTL s");
    assert!((90_000..=100_000).contains(&ttl), "TTL of s: {ttl}");
    assert!(d.int("PTTL l") > 190_000);
    assert_eq!(d.int("PTTL h"), -1);
    assert_eq!(d.line("XINFO GROUPS x")[..4], b"*1\r\n"[..], "the stream keeps its group");
}

#[test]
fn keys_move_between_vireo_servers_with_values_and_ttls() {
    let (src, dst) = (debuggable(), debuggable());
    migrate_all(&src, &dst);
    // The connection stays open for the next call.
    assert_eq!(src.raw().info_field("stats", "migrate_cached_sockets"), "1");
}

#[test]
fn keys_move_to_and_from_redis() {
    let Some(redis) = Server::start_reference("migrate to and from Redis") else { return };
    let vireo = debuggable();
    migrate_all(&vireo, &redis);
    // And back: Redis's MIGRATE into Vireo.
    let mut r = redis.raw();
    r.expect("SELECT 2", b"+OK\r\n");
    let digests: Vec<Vec<u8>> =
        FIXTURE_KEYS.iter().map(|k| r.line(&format!("DEBUG DIGEST-VALUE {k}"))).collect();
    r.expect(
        &format!("MIGRATE 127.0.0.1 {} \"\" 0 5000 KEYS {}", vireo.port, FIXTURE_KEYS.join(" ")),
        b"+OK\r\n",
    );
    let mut v = vireo.raw();
    for (k, digest) in FIXTURE_KEYS.iter().zip(&digests) {
        assert_eq!(&v.line(&format!("DEBUG DIGEST-VALUE {k}")), digest, "value of {k}");
    }
    assert!(v.int("PTTL s") > 80_000);
}

#[test]
fn copy_replace_nokey_and_the_targets_errors() {
    let (src, dst) = (Server::start(), Server::start());
    let (mut s, mut d) = (src.raw(), dst.raw());
    let port = dst.port;
    let m = |rest: &str| format!("MIGRATE 127.0.0.1 {port} {rest}");

    s.expect(&m("nothing 0 1000"), b"+NOKEY\r\n");
    s.line("MSET a 1 b 2 c 3");
    d.line("SET b old");
    s.expect("CONFIG SET notify-keyspace-events Eg", b"+OK\r\n");
    let mut sub = src.raw();
    sub.send_cmd(&["SUBSCRIBE", "__keyevent@0__:del"]);
    sub.read_reply();
    // b is refused; a and c move; the first error is the reply.
    s.expect(
        &m("\"\" 0 1000 KEYS a b c"),
        b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n",
    );
    assert_eq!(s.line("KEYS *"), b"*1\r\n$1\r\nb\r\n");
    for key in ["a", "c"] {
        let msg = sub.read_reply();
        assert!(msg.ends_with(format!("$1\r\n{key}\r\n").as_bytes()), "{}", common::show(&msg));
    }
    assert_eq!(d.line("MGET a b c"), b"*3\r\n$1\r\n1\r\n$3\r\nold\r\n$1\r\n3\r\n");
    // COPY keeps the source key, REPLACE overwrites the target's.
    s.expect(&m("b 0 1000 COPY REPLACE"), b"+OK\r\n");
    assert_eq!(s.line("GET b"), b"$1\r\n2\r\n");
    assert_eq!(d.line("GET b"), b"$1\r\n2\r\n");
    // A failed AUTH or SELECT fails every key, and the key stays.
    s.expect(
        &m("b 0 1000 AUTH secret"),
        b"-ERR Target instance replied with error: ERR AUTH <password> called without any \
          password configured for the default user. Are you sure your configuration is \
          correct?\r\n",
    );
    s.expect(
        &m("b 99 1000 REPLACE"),
        b"-ERR Target instance replied with error: ERR DB index is out of range\r\n",
    );
    assert_eq!(s.int("EXISTS b"), 1);
    // The next call selects again after the error.
    s.expect(&m("b 5 1000"), b"+OK\r\n");
    d.expect("SELECT 5", b"+OK\r\n");
    assert_eq!(d.line("GET b"), b"$1\r\n2\r\n");
}

#[test]
fn arguments_are_checked_as_redis_does() {
    let src = Server::start();
    let mut s = src.raw();
    s.line("SET a 1");
    let not_int = b"-ERR value is not an integer or out of range\r\n";
    s.expect("MIGRATE 127.0.0.1 1 a x 1000", not_int);
    s.expect("MIGRATE 127.0.0.1 1 a 0 x", not_int);
    s.expect("MIGRATE 127.0.0.1 1 a 0 1000 foo", b"-ERR syntax error\r\n");
    s.expect("MIGRATE 127.0.0.1 1 \"\" 0 1000 AUTH", b"-ERR syntax error\r\n");
    s.expect("MIGRATE 127.0.0.1 1 \"\" 0 1000 AUTH2 u", b"-ERR syntax error\r\n");
    s.expect(
        "MIGRATE 127.0.0.1 1 a 0 1000 KEYS a",
        b"-ERR When using MIGRATE KEYS option, the key argument must be set to the empty \
          string\r\n",
    );
    // Nobody listens there.
    let closed = common::free_port();
    s.expect(
        &format!("MIGRATE 127.0.0.1 {closed} a 0 1000"),
        b"-IOERR error or timeout writing to target instance\r\n",
    );
    assert_eq!(s.int("EXISTS a"), 1);
}

#[test]
fn a_silent_target_times_out_and_the_key_stays() {
    // Accepts and reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
            });
        }
    });
    let src = Server::start();
    let mut s = src.raw();
    s.line("SET a 1");
    let start = Instant::now();
    s.expect(
        &format!("MIGRATE 127.0.0.1 {port} a 0 300"),
        b"-IOERR error or timeout reading to target instance\r\n",
    );
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(s.int("EXISTS a"), 1);
    // A broken connection is not kept.
    assert_eq!(s.info_field("stats", "migrate_cached_sockets"), "0");
}

#[test]
fn moved_keys_propagate_as_del() {
    let dst = Server::start();
    dst.raw().line("SET y taken");
    let mut h = common::InProcess::new();
    h.run("MSET x 1 y 2 z 3");
    h.take();
    let r = h.run(&format!("MIGRATE 127.0.0.1 {} \"\" 0 1000 KEYS x y z w", dst.port));
    assert!(
        r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"),
        "{}",
        common::show(&r)
    );
    assert_eq!(h.take(), vec![vec!["DEL", "x", "z"]]);
    // COPY changes nothing here: nothing to propagate.
    assert_eq!(h.run(&format!("MIGRATE 127.0.0.1 {} y 0 1000 COPY REPLACE", dst.port)), b"+OK\r\n");
    assert!(h.take().is_empty());
}
