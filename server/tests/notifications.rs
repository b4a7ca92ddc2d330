//! Keyspace notifications (`notify-keyspace-events`): event names and order for every command
//! family, class filtering, RESP2 and RESP3 subscribers, expiry (lazy and active), eviction,
//! commands served from blocking, transactions.
//!
//! The event sequences were recorded from Redis 7.0.15: `notifications/events.txt` by
//! `scripts/record_notifications.py`, the others by hand from a reference server.

use crate::common;

use std::time::{Duration, Instant};

use common::{show, Conn, Server};

impl Conn {
    #[track_caller]
    fn ok(&mut self, line: &str) {
        let r = self.call(line);
        assert_eq!(show(&r), "+OK\\r\\n", "{line}");
    }

    /// A subscriber to every keyspace and keyevent channel, and to `sync`.
    fn subscriber(srv: &Server) -> Conn {
        let mut sub = Conn::new(srv);
        sub.call("PSUBSCRIBE __key*__:*");
        sub.call("SUBSCRIBE sync");
        sub
    }
}

/// The bulk strings of a message (an array or push of bulk strings).
fn parts(msg: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(msg);
    let mut lines = text.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*') || head.starts_with('>'), "not a message: {}", show(msg));
    let n: usize = head[1..].parse().unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let len = lines.next().unwrap();
        assert!(len.starts_with('$'), "{}", show(msg));
        out.push(lines.next().unwrap().to_string());
    }
    out
}

/// Publishes a marker through `driver` and returns the events `sub` received before it, as
/// `db event key`, checking that each keyspace message is followed by its keyevent twin.
fn events_until_sync(sub: &mut Conn, driver: &mut Conn) -> Vec<String> {
    driver.call("PUBLISH sync x");
    let mut msgs = Vec::new();
    loop {
        let m = parts(&sub.reply());
        if m[0] == "message" {
            assert_eq!(m[1], "sync");
            break;
        }
        assert_eq!(m[0], "pmessage");
        msgs.push((m[2].clone(), m[3].clone()));
    }
    assert!(msgs.len().is_multiple_of(2), "unpaired messages: {msgs:?}");
    msgs.chunks(2)
        .map(|p| {
            let (space, event) = (&p[0], &p[1]);
            let (sdb, key) = space.0.split_once("__:").unwrap();
            let (edb, name) = event.0.split_once("__:").unwrap();
            let db = sdb.strip_prefix("__keyspace@").expect("keyspace first");
            assert_eq!(edb, format!("__keyevent@{db}"), "{p:?}");
            assert_eq!((&space.1[..], &event.1[..]), (name, key), "{p:?}");
            format!("{db} {name} {key}")
        })
        .collect()
}

/// Every command of `notifications/events.txt` emits exactly the events Redis 7.0.15 did, in
/// the same order.
#[test]
fn recorded_event_sequences() {
    let srv = Server::start_with(&["--enable-debug-command", "local"]);
    let mut c = Conn::new(&srv);
    let mut sub = Conn::subscriber(&srv);
    c.ok("CONFIG SET notify-keyspace-events KEAnm");
    // The recorded keys expire lazily, on the command that touches them; the active cycle
    // would race the script's sleeps (`active_expiry` covers it on its own).
    c.ok("DEBUG SET-ACTIVE-EXPIRE 0");
    let script = include_str!("notifications/events.txt");
    let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
    for line in script.lines() {
        if let Some(ev) = line.strip_prefix("  ") {
            steps.last_mut().expect("events follow a command").1.push(ev.to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            steps.push((line, Vec::new()));
        }
    }
    assert!(steps.len() > 300, "script read");
    let mut failures = Vec::new();
    for (line, want) in &steps {
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        c.call(line);
        let got = events_until_sync(&mut sub, &mut c);
        if &got != want {
            failures.push(format!("{line}\n    want {want:?}\n    got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} commands differ:\n{}", failures.len(), failures.join("\n"));
}

/// Off by default: nothing is published.
#[test]
fn off_by_default() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut sub = Conn::subscriber(&srv);
    assert_eq!(show(&c.call("CONFIG GET notify-keyspace-events")), {
        show(b"*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n")
    });
    c.ok("SET k v");
    c.call("DEL k");
    assert!(events_until_sync(&mut sub, &mut c).is_empty());
}

/// Classes select events; K and E select the channels.
#[test]
fn classes_filter_events_and_channels() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut sub = Conn::new(&srv);
    sub.call("PSUBSCRIBE __key*__:*");
    let run = |c: &mut Conn, sub: &mut Conn, flags: &str| -> Vec<String> {
        c.ok(&format!("CONFIG SET notify-keyspace-events {flags}"));
        c.call("FLUSHALL");
        for line in ["SET s v", "RPUSH l a", "SADD st a", "EXPIRE s 100", "LPOP l", "DEL st"] {
            c.call(line);
        }
        c.ok("CONFIG SET notify-keyspace-events \"\"");
        c.call("PUBLISH __keyevent@0__:sync x");
        let mut got = Vec::new();
        loop {
            let m = parts(&sub.reply());
            if m[2] == "__keyevent@0__:sync" {
                return got;
            }
            got.push(format!("{} {}", m[2], m[3]));
        }
    };
    // (Recorded from Redis 7.0.15.) The `del` of the emptied list is generic, as is `expire`.
    assert_eq!(run(&mut c, &mut sub, "Kl"), ["__keyspace@0__:l rpush", "__keyspace@0__:l lpop"]);
    assert_eq!(
        run(&mut c, &mut sub, "Eg"),
        ["__keyevent@0__:expire s", "__keyevent@0__:del l", "__keyevent@0__:del st"]
    );
    assert_eq!(run(&mut c, &mut sub, "E$s"), ["__keyevent@0__:set s", "__keyevent@0__:sadd st"]);
    assert_eq!(
        run(&mut c, &mut sub, "En"),
        ["__keyevent@0__:new s", "__keyevent@0__:new l", "__keyevent@0__:new st"]
    );
    // Classes without K or E publish nothing.
    assert!(run(&mut c, &mut sub, "A").is_empty());
}

/// CONFIG SET/GET: the canonical form, and Redis's error for a bad class.
#[test]
fn config_round_trip() {
    let srv = Server::start_with(&["--notify-keyspace-events", "Elg"]);
    let mut c = Conn::new(&srv);
    let get = |c: &mut Conn| {
        let r = c.call("CONFIG GET notify-keyspace-events");
        parts(&r)[1].clone()
    };
    assert_eq!(get(&mut c), "glE");
    for (set, want) in [("KEA", "AKE"), ("gmn", "gnm"), ("Ag$", "A"), ("AKEmn", "AKEm"), ("K", "K")]
    {
        c.ok(&format!("CONFIG SET notify-keyspace-events {set}"));
        assert_eq!(get(&mut c), want, "{set}");
    }
    assert_eq!(
        String::from_utf8_lossy(&c.call("CONFIG SET notify-keyspace-events q")),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
    assert_eq!(get(&mut c), "K");
}

/// A RESP3 client subscribed to its own keyspace events gets them as pushes, before the reply
/// of the command that caused them (bytes recorded from Redis 7.0.15).
#[test]
fn resp3_pushes_before_own_reply() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    assert_eq!(c.call("HELLO 3")[0], b'%');
    c.ok("CONFIG SET notify-keyspace-events KA");
    c.call("PSUBSCRIBE __keyspace@0__:*");
    c.send("SET foo bar");
    let want: &[u8] =
        b">4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$18\r\n__keyspace@0__:foo\r\n\
$3\r\nset\r\n+OK\r\n";
    let mut got = c.reply();
    got.extend(c.reply());
    assert_eq!(show(&got), show(want));
    c.send("DEL foo");
    let mut got = c.reply();
    got.extend(c.reply());
    assert_eq!(
        show(&got),
        show(
            b">4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$18\r\n__keyspace@0__:foo\r\n\
$3\r\ndel\r\n:1\r\n"
        )
    );
    // A key that expires lazily on a read: the push, then the reply.
    c.ok("CONFIG SET notify-keyspace-events Kx");
    c.ok("SET e v PX 1");
    std::thread::sleep(Duration::from_millis(20));
    c.send("GET e");
    let mut got = c.reply();
    got.extend(c.reply());
    assert_eq!(
        show(&got),
        show(
            b">4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$16\r\n__keyspace@0__:e\r\n\
$7\r\nexpired\r\n_\r\n"
        )
    );
    c.ok("CONFIG SET notify-keyspace-events KA");
    // A RESP2 subscriber gets the same messages as arrays.
    let mut sub = Conn::new(&srv);
    sub.call("SUBSCRIBE __keyspace@0__:foo");
    c.send("SET foo bar");
    c.reply();
    c.reply();
    assert_eq!(
        show(&sub.reply()),
        show(b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyspace@0__:foo\r\n$3\r\nset\r\n")
    );
}

/// Commands served from blocking emit what the same command run directly would, after the
/// events of the command that woke them (recorded from Redis 7.0.15).
#[test]
fn served_blocked_commands() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut blocked = Conn::new(&srv);
    let mut sub = Conn::subscriber(&srv);
    c.ok("CONFIG SET notify-keyspace-events KEAn");
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "BLMOVE src dst LEFT RIGHT 0",
            "RPUSH src a b",
            &["new src", "rpush src", "new dst", "rpush dst", "lpop src"],
        ),
        ("BLPOP l 0", "LPUSH l x", &["new l", "lpush l", "lpop l", "del l"]),
        ("BRPOPLPUSH l l 0", "LPUSH l x", &["new l", "lpush l", "lpush l", "rpop l"]),
        ("BZPOPMIN z 0", "ZADD z 1 a", &["new z", "zadd z", "zpopmin z", "del z"]),
        (
            "BZMPOP 0 1 z2 MAX COUNT 5",
            "ZADD z2 1 a 2 b",
            &["new z2", "zadd z2", "zpopmax z2", "del z2"],
        ),
        ("BLMPOP 0 1 l2 LEFT COUNT 2", "RPUSH l2 a", &["new l2", "rpush l2", "lpop l2", "del l2"]),
    ];
    for (block, wake, want) in cases {
        c.call("DEL l");
        events_until_sync(&mut sub, &mut c);
        blocked.send(block);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let info = String::from_utf8_lossy(&c.call("INFO clients")).into_owned();
            if info.contains("blocked_clients:1") || Instant::now() > deadline {
                break;
            }
        }
        c.call(wake);
        blocked.reply();
        let want: Vec<String> = want.iter().map(|e| format!("0 {e}")).collect();
        assert_eq!(events_until_sync(&mut sub, &mut c), want, "{block} | {wake}");
    }
    // A string written to a key a client waits on is not looked at for it (as Redis), so one
    // that is expired already is not deleted then: no `expired` event until something reads it.
    blocked.send("BLPOP s 0");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&c.call("INFO clients")).contains("blocked_clients:1") {
        assert!(Instant::now() < deadline, "never blocked");
    }
    c.ok("SET s v EXAT 1");
    assert_eq!(events_until_sync(&mut sub, &mut c), ["0 new s", "0 set s", "0 expire s"]);
    assert_eq!(c.call("EXISTS s"), b":0\r\n");
    assert_eq!(events_until_sync(&mut sub, &mut c), ["0 expired s"]);
}

/// A transaction's events come in the order its commands ran (recorded from Redis 7.0.15).
#[test]
fn transaction_events() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut sub = Conn::subscriber(&srv);
    c.ok("CONFIG SET notify-keyspace-events KEAn");
    c.ok("MULTI");
    for line in ["SET m 1", "INCR m", "DEL m"] {
        c.call(line);
    }
    c.call("EXEC");
    assert_eq!(
        events_until_sync(&mut sub, &mut c),
        ["0 new m", "0 set m", "0 incrby m", "0 del m"]
    );
}

/// The active expire cycle publishes `expired` for the keys it reclaims, in their database.
#[test]
fn active_expiry() {
    let srv = Server::start_with(&["--hz", "100"]);
    let mut c = Conn::new(&srv);
    let mut sub = Conn::new(&srv);
    sub.call("PSUBSCRIBE __key*__:*");
    c.ok("CONFIG SET notify-keyspace-events Ex");
    c.ok("SELECT 3");
    c.ok("SET a v PX 30");
    c.ok("SET b v PX 30");
    c.ok("SET c v");
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = parts(&sub.reply_within(Duration::from_secs(5)).expect("an expired event"));
        assert_eq!(m[2], "__keyevent@3__:expired");
        got.push(m[3].clone());
    }
    got.sort();
    assert_eq!(got, ["a", "b"]);
    assert!(sub.reply_within(Duration::from_millis(100)).is_none());
    // Nobody looked the keys up: the cycle found them.
    let info = String::from_utf8_lossy(&c.call("INFO keyspace")).into_owned();
    assert!(info.contains("db3:keys=1,"), "{info}");
}

/// Eviction publishes `evicted` for each key it removes.
#[test]
fn eviction() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut sub = Conn::new(&srv);
    sub.call("PSUBSCRIBE __keyevent@0__:evicted");
    c.ok("CONFIG SET notify-keyspace-events Ee");
    let val = "x".repeat(10_000);
    for i in 0..200 {
        c.ok(&format!("SET key:{i} {val}"));
    }
    let used: i64 = {
        let info = String::from_utf8_lossy(&c.call("INFO memory")).into_owned();
        let line = info.lines().find(|l| l.starts_with("used_memory:")).unwrap().to_string();
        line["used_memory:".len()..].trim().parse().unwrap()
    };
    c.ok("CONFIG SET maxmemory-policy allkeys-random");
    c.ok(&format!("CONFIG SET maxmemory {}", used - 500_000));
    c.call("GET key:0");
    let mut evicted = 0;
    while let Some(m) = sub.reply_within(Duration::from_millis(500)) {
        let m = parts(&m);
        assert_eq!(m[..3], ["pmessage", "__keyevent@0__:evicted", "__keyevent@0__:evicted"]);
        assert!(m[3].starts_with("key:"), "{m:?}");
        evicted += 1;
    }
    c.ok("CONFIG SET maxmemory 0");
    let info = String::from_utf8_lossy(&c.call("INFO stats")).into_owned();
    assert!(info.contains(&format!("evicted_keys:{evicted}\r\n")), "{evicted} events; {info}");
    assert!(evicted >= 20, "{evicted}");
}

#[test]
fn key_misses() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut sub = Conn::new(&srv);
    sub.call("PSUBSCRIBE __keyevent@0__:*");
    c.ok("CONFIG SET notify-keyspace-events Em");
    c.call("SET present v");
    c.call("SET gone v PX 1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    // (Recorded from Redis 7.0.15.) Reads of missing keys, the sources of a store command,
    // and the writes that read first; not OBJECT/MEMORY, not keys a write only writes.
    for line in [
        "GET present",
        "GET nokey",
        "MGET present a b",
        "GET gone",
        "SINTERSTORE dst s1 present",
        "GETDEL gd",
        "SET sg v GET",
        "OBJECT ENCODING noobj",
        "MEMORY USAGE nomem",
        "LMOVE nol x LEFT LEFT",
        "RENAME norename x",
    ] {
        c.call(line);
    }
    c.ok("CONFIG SET notify-keyspace-events \"\"");
    c.call("PUBLISH __keyevent@0__:sync x");
    let mut got = Vec::new();
    loop {
        let m = parts(&sub.reply());
        if m[2] == "__keyevent@0__:sync" {
            break;
        }
        got.push(m[3].clone());
    }
    assert_eq!(got, ["nokey", "a", "b", "gone", "s1", "gd", "sg"]);
}
