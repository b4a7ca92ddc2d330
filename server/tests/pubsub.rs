//! Pub/Sub: several clients, RESP2 and RESP3, patterns, shard channels, subscribed mode, counts,
//! RESET and disconnect cleanup, and client output buffer limits.
//!
//! Expected bytes are Redis 7.0.15's, recorded from a reference server.

use crate::common;

use std::time::{Duration, Instant};

use common::{Conn, Server};

fn bulk(s: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", s.len()).into_bytes();
    v.extend_from_slice(s);
    v.extend_from_slice(b"\r\n");
    v
}

/// `[kind, parts...]` as a RESP2 array (`*`) or RESP3 push (`>`).
fn msg(push: bool, parts: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("{}{}\r\n", if push { '>' } else { '*' }, parts.len()).into_bytes();
    for p in parts {
        v.extend(bulk(p));
    }
    v
}

/// A subscribe/unsubscribe confirmation.
fn confirm(push: bool, kind: &str, name: Option<&str>, count: i64) -> Vec<u8> {
    let mut v = format!("{}3\r\n", if push { '>' } else { '*' }).into_bytes();
    v.extend(bulk(kind.as_bytes()));
    match (name, push) {
        (Some(n), _) => v.extend(bulk(n.as_bytes())),
        (None, false) => v.extend_from_slice(b"$-1\r\n"),
        (None, true) => v.extend_from_slice(b"_\r\n"),
    }
    v.extend_from_slice(format!(":{count}\r\n").as_bytes());
    v
}

/// Bytes of one `message` of `size` bytes on channel `feed`.
const fn feed_msg_len(size: usize) -> usize {
    // *3 $7 message $4 feed $<size> payload
    4 + 13 + 10 + 1 + digits(size) + 2 + size + 2
}

const fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Polls `f` until it returns true or `wait` passes.
fn eventually(wait: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn numsub(c: &mut Conn, sub: &str, ch: &str) -> i64 {
    let r = c.call(&format!("PUBSUB {sub} {ch}"));
    let s = String::from_utf8_lossy(&r).into_owned();
    s.rsplit(':').next().unwrap().trim().parse().unwrap()
}

fn info_field(text: &str, field: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

fn client_field(line: &str, key: &str) -> String {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        .to_string()
}

/// The CLIENT LIST lines of subscribers (`flags=P`), seen from `c`.
fn pubsub_lines(c: &mut Conn) -> Vec<String> {
    let t = c.text("CLIENT LIST TYPE pubsub");
    t.lines().filter(|l| l.starts_with("id=")).map(String::from).collect()
}

#[test]
fn resp2_confirmations_messages_and_counts() {
    let srv = Server::start();
    let mut sub = Conn::new(&srv);
    let mut publ = Conn::new(&srv);
    sub.expect(
        "SUBSCRIBE a b a",
        &cat(&[
            confirm(false, "subscribe", Some("a"), 1),
            confirm(false, "subscribe", Some("b"), 2),
            confirm(false, "subscribe", Some("a"), 2),
        ]),
    );
    sub.expect(
        "PSUBSCRIBE h*llo a",
        &cat(&[
            confirm(false, "psubscribe", Some("h*llo"), 3),
            confirm(false, "psubscribe", Some("a"), 4),
        ]),
    );
    // A channel subscriber and a matching pattern each receive it.
    assert_eq!(publ.int("PUBLISH a hi"), 2);
    sub.expect_bytes(
        &cat(&[
            msg(false, &[b"message", b"a", b"hi"]),
            msg(false, &[b"pmessage", b"a", b"a", b"hi"]),
        ]),
        "PUBLISH a hi",
    );
    assert_eq!(publ.int("PUBLISH hello x"), 1);
    sub.expect_bytes(&msg(false, &[b"pmessage", b"h*llo", b"hello", b"x"]), "PUBLISH hello");
    assert_eq!(publ.int("PUBLISH hallo \"\""), 1);
    sub.expect_bytes(&msg(false, &[b"pmessage", b"h*llo", b"hallo", b""]), "PUBLISH hallo");
    assert_eq!(publ.int("PUBLISH nobody x"), 0);
    // Binary-safe channel names and payloads.
    sub.expect("SUBSCRIBE \"\\x00\\r\\n\"", &confirm(false, "subscribe", Some("\0\r\n"), 5));
    publ.send_args(&[b"PUBLISH", b"\0\r\n", b"\xff\r\n\0"]);
    assert_eq!(publ.reply(), b":1\r\n");
    sub.expect_bytes(&msg(false, &[b"message", b"\0\r\n", b"\xff\r\n\0"]), "binary");
    sub.expect_silence();
    // UNSUBSCRIBE without arguments: every channel, oldest first; patterns stay.
    sub.expect(
        "UNSUBSCRIBE",
        &cat(&[
            confirm(false, "unsubscribe", Some("a"), 4),
            confirm(false, "unsubscribe", Some("b"), 3),
            confirm(false, "unsubscribe", Some("\0\r\n"), 2),
        ]),
    );
    sub.expect("UNSUBSCRIBE", &confirm(false, "unsubscribe", None, 2));
    sub.expect("UNSUBSCRIBE zz", &confirm(false, "unsubscribe", Some("zz"), 2));
    assert_eq!(publ.int("PUBLISH b x"), 0);
    sub.expect(
        "PUNSUBSCRIBE",
        &cat(&[
            confirm(false, "punsubscribe", Some("h*llo"), 1),
            confirm(false, "punsubscribe", Some("a"), 0),
        ]),
    );
    sub.expect("PUNSUBSCRIBE", &confirm(false, "punsubscribe", None, 0));
    // Out of subscribed mode: anything goes again.
    sub.expect("PING", b"+PONG\r\n");
    sub.expect("SET k v", b"+OK\r\n");
}

#[test]
fn several_subscribers_each_get_one_copy() {
    let srv = Server::start();
    let mut subs: Vec<Conn> = (0..5).map(|_| Conn::new(&srv)).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        if i % 2 == 0 {
            s.expect("SUBSCRIBE news", &confirm(false, "subscribe", Some("news"), 1));
        } else {
            s.expect("PSUBSCRIBE n*", &confirm(false, "psubscribe", Some("n*"), 1));
        }
    }
    let mut publ = Conn::new(&srv);
    for i in 0..20 {
        assert_eq!(publ.int(&format!("PUBLISH news m{i}")), 5);
    }
    for (i, s) in subs.iter_mut().enumerate() {
        for j in 0..20 {
            let payload = format!("m{j}");
            let want = if i % 2 == 0 {
                msg(false, &[b"message", b"news", payload.as_bytes()])
            } else {
                msg(false, &[b"pmessage", b"n*", b"news", payload.as_bytes()])
            };
            s.expect_bytes(&want, "fan-out");
        }
        s.expect_silence();
    }
    assert_eq!(numsub(&mut publ, "NUMSUB", "news"), 3);
    assert_eq!(publ.int("PUBSUB NUMPAT"), 1);
}

#[test]
fn subscribed_mode_allows_only_pubsub_commands() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let err = |cmd: &str| {
        format!(
            "-ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context\r\n"
        )
        .into_bytes()
    };
    c.expect("SUBSCRIBE a", &confirm(false, "subscribe", Some("a"), 1));
    c.expect("PING", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    c.expect("PING hi", b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    c.expect("GET x", &err("get"));
    c.expect("CLIENT LIST", &err("client|list"));
    c.expect("MULTI", &err("multi"));
    c.expect("HELLO 3", &err("hello"));
    // Unknown commands and arity are checked first.
    c.expect("GET", b"-ERR wrong number of arguments for 'get' command\r\n");
    // Shard subscriptions alone keep the client in subscribed mode.
    c.expect("SSUBSCRIBE s", &confirm(false, "ssubscribe", Some("s"), 1));
    c.expect("UNSUBSCRIBE", &confirm(false, "unsubscribe", Some("a"), 0));
    c.expect("GET x", &err("get"));
    c.expect("SUNSUBSCRIBE", &confirm(false, "sunsubscribe", Some("s"), 0));
    c.expect("GET x", b"$-1\r\n");
    // QUIT is allowed and closes.
    c.expect("PSUBSCRIBE p*", &confirm(false, "psubscribe", Some("p*"), 1));
    c.expect("QUIT", b"+OK\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
    let mut o = Conn::new(&srv);
    assert!(eventually(Duration::from_secs(5), || o.int("PUBSUB NUMPAT") == 0));
    // The rejections count as errors.
    let stats = o.text("INFO errorstats");
    assert!(stats.contains("errorstat_ERR:count=6"), "{stats}");
}

#[test]
fn resp3_pushes_and_any_command_while_subscribed() {
    let srv = Server::start();
    let mut c = Conn::resp3(&srv);
    c.expect("UNSUBSCRIBE", &confirm(true, "unsubscribe", None, 0));
    c.expect(
        "SUBSCRIBE a b",
        &cat(&[confirm(true, "subscribe", Some("a"), 1), confirm(true, "subscribe", Some("b"), 2)]),
    );
    c.expect("PSUBSCRIBE a*", &confirm(true, "psubscribe", Some("a*"), 3));
    c.expect("PING", b"+PONG\r\n");
    c.expect("SET k v", b"+OK\r\n");
    // A message to the publishing client comes before PUBLISH's reply.
    c.expect(
        "PUBLISH a self",
        &cat(&[
            msg(true, &[b"message", b"a", b"self"]),
            msg(true, &[b"pmessage", b"a*", b"a", b"self"]),
            b":2\r\n".to_vec(),
        ]),
    );
    let mut p = Conn::new(&srv);
    assert_eq!(p.int("PUBLISH a m1"), 2);
    c.expect_bytes(
        &cat(&[
            msg(true, &[b"message", b"a", b"m1"]),
            msg(true, &[b"pmessage", b"a*", b"a", b"m1"]),
        ]),
        "PUBLISH a m1",
    );
    // Replies and pushes interleave on one connection.
    assert_eq!(p.int("PUBLISH b m2"), 1);
    c.expect("GET k", &cat(&[msg(true, &[b"message", b"b", b"m2"]), b"$1\r\nv\r\n".to_vec()]));
    c.expect("SSUBSCRIBE s", &confirm(true, "ssubscribe", Some("s"), 1));
    assert_eq!(p.int("SPUBLISH s m3"), 1);
    c.expect_bytes(&msg(true, &[b"smessage", b"s", b"m3"]), "SPUBLISH");
    // Published to itself inside MULTI: the push sits inside EXEC's array, as in Redis 7.0.
    c.expect("MULTI", b"+OK\r\n");
    c.expect("PUBLISH b x", b"+QUEUED\r\n");
    c.expect("PING", b"+QUEUED\r\n");
    c.expect(
        "EXEC",
        &cat(&[
            b"*2\r\n".to_vec(),
            msg(true, &[b"message", b"b", b"x"]),
            b":1\r\n+PONG\r\n".to_vec(),
        ]),
    );
    // CLIENT REPLY OFF drops replies but not pushes (7.0.15).
    c.send("CLIENT REPLY OFF");
    c.expect(
        "PUBLISH a hidden",
        &cat(&[
            msg(true, &[b"message", b"a", b"hidden"]),
            msg(true, &[b"pmessage", b"a*", b"a", b"hidden"]),
        ]),
    );
    c.expect("CLIENT REPLY ON", b"+OK\r\n");
    // Back to RESP2 while subscribed: messages become arrays, commands are restricted.
    let r = c.call("HELLO 2");
    assert_eq!(r[0], b'*');
    assert_eq!(p.int("PUBLISH b m4"), 1);
    c.expect_bytes(&msg(false, &[b"message", b"b", b"m4"]), "after HELLO 2");
    c.expect("PING", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn shard_channels_are_a_separate_namespace() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    let mut p = Conn::new(&srv);
    c.expect("PSUBSCRIBE *", &confirm(false, "psubscribe", Some("*"), 1));
    c.expect(
        "SSUBSCRIBE s1 s2 s1",
        &cat(&[
            confirm(false, "ssubscribe", Some("s1"), 1),
            confirm(false, "ssubscribe", Some("s2"), 2),
            confirm(false, "ssubscribe", Some("s1"), 2),
        ]),
    );
    // SPUBLISH reaches only shard subscribers (no patterns); PUBLISH only channels and patterns.
    assert_eq!(p.int("SPUBLISH s1 hello"), 1);
    c.expect_bytes(&msg(false, &[b"smessage", b"s1", b"hello"]), "SPUBLISH s1");
    assert_eq!(p.int("PUBLISH s1 hello"), 1);
    c.expect_bytes(&msg(false, &[b"pmessage", b"*", b"s1", b"hello"]), "PUBLISH s1");
    assert_eq!(p.int("SPUBLISH other x"), 0);
    c.expect_silence();
    assert_eq!(p.call("PUBSUB SHARDNUMSUB s1 s3"), b"*4\r\n$2\r\ns1\r\n:1\r\n$2\r\ns3\r\n:0\r\n");
    assert_eq!(p.call("PUBSUB NUMSUB s1"), b"*2\r\n$2\r\ns1\r\n:0\r\n");
    assert_eq!(p.call("PUBSUB CHANNELS"), b"*0\r\n");
    let mut shard = p.text("PUBSUB SHARDCHANNELS");
    assert!(shard.starts_with("*2\r\n") && shard.contains("s1") && shard.contains("s2"));
    shard = p.text("PUBSUB SHARDCHANNELS *2");
    assert_eq!(shard, "*1\r\n$2\r\ns2\r\n");
    let info = p.text("INFO stats");
    assert_eq!(info_field(&info, "pubsubshard_channels"), "2");
    assert_eq!(info_field(&info, "pubsub_patterns"), "1");
    assert_eq!(info_field(&info, "pubsub_channels"), "0");
    // Unsubscribing shard channels counts shard subscriptions only.
    c.expect(
        "SUNSUBSCRIBE",
        &cat(&[
            confirm(false, "sunsubscribe", Some("s1"), 1),
            confirm(false, "sunsubscribe", Some("s2"), 0),
        ]),
    );
    c.expect("PUNSUBSCRIBE", &confirm(false, "punsubscribe", Some("*"), 0));
}

#[test]
fn pubsub_introspection_across_clients() {
    let srv = Server::start();
    let mut a = Conn::new(&srv);
    let mut b = Conn::new(&srv);
    let mut q = Conn::new(&srv);
    a.call("SUBSCRIBE news.tech");
    b.expect(
        "SUBSCRIBE news.tech news.art",
        &cat(&[
            confirm(false, "subscribe", Some("news.tech"), 1),
            confirm(false, "subscribe", Some("news.art"), 2),
        ]),
    );
    a.call("PSUBSCRIBE news.*");
    b.call("PSUBSCRIBE news.*");
    b.call("PSUBSCRIBE x?");
    assert_eq!(
        q.call("PUBSUB NUMSUB news.tech news.art none"),
        b"*6\r\n$9\r\nnews.tech\r\n:2\r\n$8\r\nnews.art\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    // Distinct patterns, not subscriptions.
    assert_eq!(q.int("PUBSUB NUMPAT"), 2);
    let mut chans: Vec<String> = q
        .text("PUBSUB CHANNELS")
        .lines()
        .filter(|l| !l.starts_with(['*', '$']))
        .map(String::from)
        .collect();
    chans.sort();
    assert_eq!(chans, ["news.art", "news.tech"]);
    assert_eq!(q.call("PUBSUB CHANNELS *art"), b"*1\r\n$8\r\nnews.art\r\n");
    assert_eq!(q.call("PUBSUB CHANNELS nomatch*"), b"*0\r\n");
    assert_eq!(q.int("PUBLISH news.tech x"), 4);
    let info = q.text("INFO stats");
    assert_eq!(info_field(&info, "pubsub_channels"), "2");
    assert_eq!(info_field(&info, "pubsub_patterns"), "2");
    // CLIENT LIST shows the counts and the P flag.
    let lines = pubsub_lines(&mut q);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let bl = lines.iter().find(|l| client_field(l, "sub") == "2").expect("b's line");
    assert_eq!(client_field(bl, "psub"), "2");
    assert_eq!(client_field(bl, "ssub"), "0");
    assert_eq!(client_field(bl, "flags"), "P");
    let own = q.text("CLIENT INFO");
    assert_eq!(client_field(&own, "flags"), "N");
    assert_eq!(client_field(&own, "sub"), "0");
}

#[test]
fn reset_and_disconnect_unsubscribe_everything() {
    let srv = Server::start();
    let mut q = Conn::new(&srv);
    let mut c = Conn::resp3(&srv);
    c.call("SUBSCRIBE a");
    c.call("PSUBSCRIBE p*");
    c.call("SSUBSCRIBE s");
    c.expect("RESET", b"+RESET\r\n");
    assert_eq!(numsub(&mut q, "NUMSUB", "a"), 0);
    assert_eq!(numsub(&mut q, "SHARDNUMSUB", "s"), 0);
    assert_eq!(q.int("PUBSUB NUMPAT"), 0);
    assert_eq!(q.int("PUBLISH a x"), 0);
    c.expect_silence();
    // RESET went back to RESP2; a new subscription counts from one.
    c.expect("SUBSCRIBE a", &confirm(false, "subscribe", Some("a"), 1));

    let mut d = Conn::new(&srv);
    d.call("SUBSCRIBE a");
    d.call("PSUBSCRIBE p*");
    d.call("SSUBSCRIBE s");
    assert_eq!(numsub(&mut q, "NUMSUB", "a"), 2);
    drop(c);
    drop(d);
    assert!(eventually(Duration::from_secs(5), || numsub(&mut q, "NUMSUB", "a") == 0));
    assert_eq!(numsub(&mut q, "SHARDNUMSUB", "s"), 0);
    assert_eq!(q.int("PUBSUB NUMPAT"), 0);
    let info = q.text("INFO stats");
    assert_eq!(info_field(&info, "pubsub_channels"), "0");
    assert_eq!(info_field(&info, "pubsubshard_channels"), "0");
}

#[test]
fn client_kill_type_pubsub() {
    let srv = Server::start();
    let mut s1 = Conn::new(&srv);
    let mut s2 = Conn::resp3(&srv);
    let mut normal = Conn::new(&srv);
    s1.call("SUBSCRIBE a");
    s2.call("SSUBSCRIBE b");
    assert_eq!(normal.int("CLIENT KILL TYPE pubsub"), 2);
    assert!(s1.closed_within(Duration::from_secs(5)));
    assert!(s2.closed_within(Duration::from_secs(5)));
    assert_eq!(normal.call("PING"), b"+PONG\r\n");
    assert!(eventually(Duration::from_secs(5), || numsub(&mut normal, "NUMSUB", "a") == 0));
}

#[test]
fn messages_queued_before_unsubscribe_come_before_its_confirmation() {
    let srv = Server::start();
    let mut s = Conn::new(&srv);
    let mut p = Conn::new(&srv);
    s.call("SUBSCRIBE a");
    let n = 300;
    for i in 0..n {
        assert_eq!(p.int(&format!("PUBLISH a {i}")), 1);
    }
    s.send("UNSUBSCRIBE a");
    for i in 0..n {
        let payload = i.to_string();
        s.expect_bytes(&msg(false, &[b"message", b"a", payload.as_bytes()]), "queued message");
    }
    s.expect_bytes(&confirm(false, "unsubscribe", Some("a"), 0), "UNSUBSCRIBE");
}

/// Publishes `size`-byte messages on `ch` until `done` says so or `max` were sent; returns how
/// many were sent and the highest `used_memory` seen (sampled every few messages).
fn flood(
    p: &mut Conn,
    ch: &str,
    size: usize,
    max: usize,
    mut done: impl FnMut(i64, &mut Conn) -> bool,
) -> (usize, u64) {
    let payload = vec![b'x'; size];
    let mut peak = 0;
    for i in 0..max {
        p.send_args(&[b"PUBLISH", ch.as_bytes(), &payload]);
        let r = p.reply();
        let n: i64 = std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap();
        if i % 16 == 0 {
            let mem = p.text("INFO memory");
            peak = peak.max(info_field(&mem, "used_memory").parse::<u64>().unwrap());
        }
        if done(n, p) {
            return (i + 1, peak);
        }
    }
    (max, peak)
}

#[test]
fn slow_subscriber_hits_the_hard_limit_and_memory_stays_bounded() {
    let srv = Server::start();
    let mut p = Conn::new(&srv);
    assert_eq!(p.call("CONFIG SET client-output-buffer-limit \"pubsub 4mb 2mb 60\""), b"+OK\r\n");
    let mut slow = Conn::new(&srv);
    slow.call("SUBSCRIBE feed");
    let mut fast = Conn::new(&srv);
    fast.call("SUBSCRIBE feed");
    let mem = p.text("INFO memory");
    let base: u64 = info_field(&mem, "used_memory").parse().unwrap();
    // 64 MB offered in 64 KB messages: far past the limit plus what the kernel buffers hold.
    // The fast subscriber reads each message before the next is published.
    let mut saw_drop = false;
    let each = feed_msg_len(64 * 1024);
    let (sent, peak) = flood(&mut p, "feed", 64 * 1024, 1024, |n, _| {
        saw_drop |= n == 1;
        let deadline = Instant::now() + Duration::from_secs(10);
        while fast.buf.len() < each && fast.fill(deadline) {}
        assert_eq!(fast.buf.len(), each, "the fast subscriber gets each message");
        fast.buf.clear();
        false
    });
    assert_eq!(sent, 1024);
    assert!(saw_drop, "the slow subscriber was never dropped");
    assert_eq!(numsub(&mut p, "NUMSUB", "feed"), 1, "the fast subscriber stays");
    assert!(
        peak < base + 24 * 1024 * 1024,
        "used_memory grew from {base} to {peak} with a 4mb limit"
    );
    assert!(slow.closed_within(Duration::from_secs(30)), "slow subscriber not disconnected");
}

#[test]
fn soft_limit_closes_after_its_seconds() {
    let srv = Server::start();
    let mut p = Conn::new(&srv);
    assert_eq!(p.call("CONFIG SET client-output-buffer-limit \"pubsub 0 1mb 1\""), b"+OK\r\n");
    let mut slow = Conn::new(&srv);
    slow.call("SUBSCRIBE feed");
    // Fill the kernel buffers and then 1 MB of pending output.
    let (sent, _) = flood(&mut p, "feed", 64 * 1024, 2048, |_, p| {
        let l = pubsub_lines(p);
        l.first().is_some_and(|l| client_field(l, "omem").parse::<u64>().unwrap() >= 1 << 20)
    });
    assert!(sent < 2048, "never got over the soft limit");
    // Over the soft limit, but not for long: still there.
    assert_eq!(numsub(&mut p, "NUMSUB", "feed"), 1);
    let line = pubsub_lines(&mut p).remove(0);
    assert!(client_field(&line, "oll").parse::<u64>().unwrap() >= 16, "{line}");
    std::thread::sleep(Duration::from_millis(2100));
    // The next message finds it over the soft limit for more than a second.
    assert_eq!(p.int("PUBLISH feed x"), 1);
    assert!(eventually(Duration::from_secs(5), || numsub(&mut p, "NUMSUB", "feed") == 0));
    assert!(slow.closed_within(Duration::from_secs(30)));
}

#[test]
fn pending_output_is_counted_and_drains() {
    let srv = Server::start();
    let mut p = Conn::new(&srv);
    assert_eq!(p.call("CONFIG SET client-output-buffer-limit \"pubsub 0 0 0\""), b"+OK\r\n");
    let mut s = Conn::new(&srv);
    s.call("SUBSCRIBE feed");
    let (sent, _) = flood(&mut p, "feed", 64 * 1024, 2048, |_, p| {
        let l = pubsub_lines(p);
        l.first().is_some_and(|l| client_field(l, "omem").parse::<u64>().unwrap() >= 2 << 20)
    });
    assert!(sent < 2048);
    let line = pubsub_lines(&mut p).remove(0);
    let omem: u64 = client_field(&line, "omem").parse().unwrap();
    let tot: u64 = client_field(&line, "tot-mem").parse().unwrap();
    assert!(tot > omem, "{line}");
    let info = p.text("INFO clients");
    assert!(info_field(&info, "client_recent_max_output_buffer").parse::<u64>().unwrap() >= omem);
    // Read everything: nothing stays pending.
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < sent * feed_msg_len(64 * 1024) && s.fill(deadline) {
        got += s.buf.len();
        s.buf.clear();
    }
    assert!(eventually(Duration::from_secs(5), || {
        let l = pubsub_lines(&mut p).remove(0);
        client_field(&l, "omem") == "0" && client_field(&l, "oll") == "0"
    }));
}

#[test]
fn monitor_is_held_to_the_normal_class_limit() {
    let srv = Server::start();
    let mut c = Conn::new(&srv);
    assert_eq!(c.call("CONFIG SET client-output-buffer-limit \"normal 2mb 0 0\""), b"+OK\r\n");
    let mut m = Conn::new(&srv);
    assert_eq!(m.call("MONITOR"), b"+OK\r\n");
    let value = vec![b'v'; 64 * 1024];
    let mut gone = false;
    for i in 0..1024 {
        c.send_args(&[b"SET", b"k", &value]);
        assert_eq!(c.reply(), b"+OK\r\n");
        if i % 16 == 15 && !c.text("CLIENT LIST").contains("flags=O") {
            gone = true;
            break;
        }
    }
    assert!(gone, "the monitor was never disconnected");
    assert!(m.closed_within(Duration::from_secs(30)));
    // Normal clients' own replies are not held to it.
    assert_eq!(c.call("GET k").len(), 64 * 1024 + 10);
}
