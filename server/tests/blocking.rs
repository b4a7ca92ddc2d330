//! Blocking commands across clients: serving order, timeouts, MULTI/EXEC, CLIENT UNBLOCK, and
//! what served commands propagate. Immediate answers and argument errors are also compared with
//! Redis in differential/blocking.txt.

use crate::common;

use std::time::{Duration, Instant};

use common::{show, InProcess, Raw, Server};

/// Sends a command without waiting for its reply.
fn send(c: &mut Raw, line: &str) {
    c.send_cmd(&common::split_args(line));
}

/// Waits until `n` clients are blocked.
fn wait_blocked(probe: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = String::from_utf8(probe.line("INFO clients")).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "never {n} blocked: {info}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = Server::start();
    let mut p = s.raw();
    let mut waiters: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, "BLPOP q 0");
        wait_blocked(&mut p, i + 1);
    }
    // One push of three elements serves the three waiters in the order they came.
    p.expect("RPUSH q a b c", b":3\r\n");
    for (w, v) in waiters.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(w.read_reply(), format!("*2\r\n$1\r\nq\r\n$1\r\n{v}\r\n").into_bytes());
    }
    p.expect("EXISTS q", b":0\r\n");
    wait_blocked(&mut p, 0);
}

#[test]
fn one_element_serves_one_waiter_and_the_rest_keep_waiting() {
    let s = Server::start();
    let mut p = s.raw();
    let mut a = s.raw();
    let mut b = s.raw();
    send(&mut a, "BRPOP k1 k2 0");
    wait_blocked(&mut p, 1);
    send(&mut b, "BRPOP k2 0");
    wait_blocked(&mut p, 2);
    p.expect("LPUSH k2 x", b":1\r\n");
    assert_eq!(a.read_reply(), b"*2\r\n$2\r\nk2\r\n$1\r\nx\r\n");
    wait_blocked(&mut p, 1);
    p.expect("LPUSH k2 y", b":1\r\n");
    assert_eq!(b.read_reply(), b"*2\r\n$2\r\nk2\r\n$1\r\ny\r\n");
}

#[test]
fn timeouts_and_fractions() {
    let s = Server::start();
    let mut c = s.raw();
    let t = Instant::now();
    c.expect("BLPOP nothing 0.2", b"*-1\r\n");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(3), "{took:?}");
    c.expect("BZPOPMAX nothing 0.05", b"*-1\r\n");
    c.expect("BLMOVE nothing d LEFT RIGHT 0.05", b"*-1\r\n");
    c.line("HELLO 3");
    c.expect("BLMPOP 0.05 1 nothing LEFT", b"_\r\n");
}

#[test]
fn a_transaction_serves_waiters_only_when_it_ends() {
    let s = Server::start();
    let mut p = s.raw();
    let mut w = s.raw();
    send(&mut w, "BLPOP t 0");
    wait_blocked(&mut p, 1);
    p.expect("MULTI", b"+OK\r\n");
    p.expect("LPUSH t first", b"+QUEUED\r\n");
    p.expect("LPUSH t second", b"+QUEUED\r\n");
    p.expect("EXEC", b"*2\r\n:1\r\n:2\r\n");
    // Served after both pushes: the head is the second element.
    assert_eq!(w.read_reply(), b"*2\r\n$1\r\nt\r\n$6\r\nsecond\r\n");
    // Inside MULTI a blocking command does not block.
    p.expect("MULTI", b"+OK\r\n");
    p.expect("BLPOP empty 0", b"+QUEUED\r\n");
    p.expect("EXEC", b"*1\r\n*-1\r\n");
}

/// A client woken by a key is served from that key alone, as Redis 7.0 serves it: the keys it
/// names before it are not looked at again (one may hold another type by then), and XREAD
/// answers with the stream that woke it only. (Bytes recorded from Redis 7.0.15.)
#[test]
fn a_woken_client_is_served_from_the_key_that_woke_it() {
    let s = Server::start();
    let mut p = s.raw();
    let mut w = s.raw();
    let cases: [(&str, &[&str], &[u8]); 3] = [
        (
            "BZPOPMIN k3 k2 0",
            &["ZADD k2 1 a", "SET k3 x"],
            b"*3\r\n$2\r\nk2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (
            "XREAD BLOCK 0 STREAMS s1 s2 $ $",
            &["XADD s2 1-1 f v", "XADD s1 1-1 f v"],
            b"*1\r\n*2\r\n$2\r\ns2\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ),
        (
            "BLMPOP 0 2 l1 l2 LEFT COUNT 5",
            &["RPUSH l2 a b", "RPUSH l1 c"],
            b"*2\r\n$2\r\nl2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
    ];
    for (blocking, writes, want) in cases {
        send(&mut w, blocking);
        wait_blocked(&mut p, 1);
        p.expect("MULTI", b"+OK\r\n");
        for line in writes {
            p.expect(line, b"+QUEUED\r\n");
        }
        let exec = p.line("EXEC");
        assert!(exec.starts_with(b"*2\r\n"), "{}", show(&exec));
        assert_eq!(show(&w.read_reply()), show(want), "{blocking}");
    }
}

#[test]
fn blmove_chains_into_the_next_waiter() {
    let s = Server::start();
    let mut p = s.raw();
    let mut mover = s.raw();
    let mut popper = s.raw();
    send(&mut mover, "BLMOVE src mid RIGHT LEFT 0");
    wait_blocked(&mut p, 1);
    send(&mut popper, "BZPOPMIN nothing 0");
    send(&mut popper, "PING");
    let mut last = s.raw();
    send(&mut last, "BLPOP mid 0");
    wait_blocked(&mut p, 3);
    p.expect("RPUSH src v", b":1\r\n");
    assert_eq!(mover.read_reply(), b"$1\r\nv\r\n");
    assert_eq!(last.read_reply(), b"*2\r\n$3\r\nmid\r\n$1\r\nv\r\n");
    p.expect("EXISTS src mid", b":0\r\n");
    // The zset waiter is still blocked, and the PING pipelined behind it has not run.
    wait_blocked(&mut p, 1);
    p.expect("ZADD nothing 2.5 m", b":1\r\n");
    assert_eq!(popper.read_reply(), b"*3\r\n$7\r\nnothing\r\n$1\r\nm\r\n$3\r\n2.5\r\n");
    assert_eq!(popper.read_reply(), b"+PONG\r\n");
}

#[test]
fn a_key_of_another_type_does_not_serve() {
    let s = Server::start();
    let mut p = s.raw();
    let mut w = s.raw();
    send(&mut w, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    p.expect("SET k str", b"+OK\r\n");
    p.expect("ZADD z 1 a", b":1\r\n");
    p.expect("RENAME z k", b"+OK\r\n");
    wait_blocked(&mut p, 1);
    p.expect("DEL k", b":1\r\n");
    p.expect("RPUSH k v", b":1\r\n");
    assert_eq!(w.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    // A key of the wrong type at call time is an error, not a wait.
    p.expect("SET s x", b"+OK\r\n");
    w.expect(
        "BLPOP s 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

/// A waiter that the new value cannot serve keeps its place without holding up the clients
/// behind it: a BZPOPMIN ahead of a BLPOP on a list, an XREAD past the stream's last entry
/// ahead of an XREAD `$` (Redis serves the second of each).
#[test]
fn a_waiter_that_cannot_be_served_does_not_hold_up_the_next() {
    let s = Server::start();
    let mut p = s.raw();
    let (mut z, mut l) = (s.raw(), s.raw());
    send(&mut z, "BZPOPMIN k 0");
    wait_blocked(&mut p, 1);
    send(&mut l, "BLPOP k 0");
    wait_blocked(&mut p, 2);
    p.expect("LPUSH k x", b":1\r\n");
    assert_eq!(l.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    wait_blocked(&mut p, 1);
    drop(z);
    wait_blocked(&mut p, 0);

    p.expect("XADD s 1-0 f v", b"$3\r\n1-0\r\n");
    let (mut late, mut now) = (s.raw(), s.raw());
    send(&mut late, "XREAD BLOCK 0 STREAMS s 100-0");
    wait_blocked(&mut p, 1);
    send(&mut now, "XREAD BLOCK 0 STREAMS s $");
    wait_blocked(&mut p, 2);
    p.expect("XADD s 2-0 f w", b"$3\r\n2-0\r\n");
    assert_eq!(
        now.read_reply(),
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$1\r\nw\r\n"
    );
    wait_blocked(&mut p, 1);
}
#[test]
fn a_client_that_left_is_never_served() {
    let s = Server::start();
    let mut p = s.raw();
    {
        let mut gone = s.raw();
        send(&mut gone, "BLPOP k 0");
        wait_blocked(&mut p, 1);
    }
    wait_blocked(&mut p, 0);
    p.expect("RPUSH k v", b":1\r\n");
    p.expect("LLEN k", b":1\r\n");
    // CLIENT KILL of a blocked client.
    let mut w = s.raw();
    let id = w.int("CLIENT ID");
    send(&mut w, "BLPOP other 0");
    wait_blocked(&mut p, 1);
    p.expect(&format!("CLIENT KILL ID {id}"), b":1\r\n");
    wait_blocked(&mut p, 0);
}

/// The served reply is written by whoever serves the client (see `blocking::Handoff`); the
/// client then sends nothing for a while. It is no longer blocked all the same (CLIENT LIST,
/// INFO), and the deadline that passes later adds nothing.
#[test]
fn a_served_client_is_no_longer_blocked_before_it_sends_again() {
    let s = Server::start();
    let mut p = s.raw();
    let mut a = s.raw();
    a.expect("CLIENT SETNAME waiter", b"+OK\r\n");
    send(&mut a, "BLPOP q 0.5");
    wait_blocked(&mut p, 1);
    p.expect("RPUSH q x", b":1\r\n");
    assert_eq!(a.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    wait_blocked(&mut p, 0);
    let list = String::from_utf8(p.line("CLIENT LIST")).unwrap();
    let line = list.lines().find(|l| l.contains("name=waiter")).unwrap();
    assert!(line.contains(" flags=N ") && line.contains(" cmd=blpop "), "{line}");
    std::thread::sleep(Duration::from_millis(700));
    a.expect("PING", b"+PONG\r\n");
}

/// What was pushed to a RESP3 client before it was served (an invalidation from the same
/// transaction) comes before the reply of its blocked command, as from Redis.
#[test]
fn pushes_queued_before_serving_come_before_the_reply() {
    let s = Server::start();
    let mut p = s.raw();
    let mut a = s.raw();
    assert_eq!(a.line("HELLO 3")[0], b'%');
    a.expect("CLIENT TRACKING on", b"+OK\r\n");
    a.expect("GET x", b"_\r\n");
    send(&mut a, "BLPOP q 0");
    wait_blocked(&mut p, 1);
    p.script(&[
        ("MULTI", b"+OK\r\n"),
        ("SET x 1", b"+QUEUED\r\n"),
        ("RPUSH q v", b"+QUEUED\r\n"),
        ("EXEC", b"*2\r\n+OK\r\n:1\r\n"),
    ]);
    assert_eq!(a.read_reply(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n");
    assert_eq!(a.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    a.expect("PING", b"+PONG\r\n");
}

/// A reply larger than the socket takes at once (its client reads it late) arrives whole, and
/// the connection goes on after it.
#[test]
fn a_served_reply_larger_than_the_socket_buffer_arrives_whole() {
    let s = Server::start();
    let mut p = s.raw();
    let mut a = s.raw();
    send(&mut a, "BLPOP big 0");
    wait_blocked(&mut p, 1);
    let value = vec![b'v'; 16 << 20];
    p.send_cmd(&[b"RPUSH".as_slice(), b"big", &value]);
    assert_eq!(p.read_reply(), b":1\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let mut want = b"*2\r\n$3\r\nbig\r\n$16777216\r\n".to_vec();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    assert!(a.read_reply() == want, "the reply differs");
    a.expect("PING", b"+PONG\r\n");
}

#[test]
fn client_unblock() {
    let s = Server::start();
    let mut p = s.raw();
    let mut w = s.raw();
    let id = w.int("CLIENT ID");
    send(&mut w, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    let list = String::from_utf8(p.line("CLIENT LIST")).unwrap();
    assert!(list.contains("flags=b") && list.contains("cmd=blpop"), "{list}");
    p.expect(&format!("CLIENT UNBLOCK {id}"), b":1\r\n");
    assert_eq!(w.read_reply(), b"*-1\r\n");
    send(&mut w, "BZPOPMIN z 100");
    wait_blocked(&mut p, 1);
    let info = String::from_utf8(p.line("INFO clients")).unwrap();
    assert!(info.contains("clients_in_timeout_table:1\r\n"), "{info}");
    p.expect(&format!("CLIENT UNBLOCK {id} ERROR"), b":1\r\n");
    assert_eq!(w.read_reply(), b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    p.expect(&format!("CLIENT UNBLOCK {id}"), b":0\r\n");
    w.expect("PING", b"+PONG\r\n");
}

#[test]
fn served_commands_propagate_their_non_blocking_forms() {
    let mut h = InProcess::new();
    h.run_as(2, "BLPOP l 0");
    h.run_as(3, "BLMOVE l2 dst RIGHT LEFT 0");
    h.run_as(4, "BZMPOP 0 1 z MAX COUNT 5");
    h.run_as(5, "BRPOPLPUSH l3 d3 0");
    h.take();
    h.run("RPUSH l a");
    h.run("RPUSH l2 b");
    h.run("ZADD z 1 x 2 y");
    h.run("RPUSH l3 c");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(
        got,
        [
            "SELECT 0",
            "RPUSH l a",
            "LPOP l",
            "RPUSH l2 b",
            "LMOVE l2 dst right left",
            "ZADD z 1 x 2 y",
            "ZPOPMAX z 2",
            "RPUSH l3 c",
            "RPOPLPUSH l3 d3"
        ]
    );
    // Served at once: as typed.
    h.run("RPUSH l2 e");
    h.run("BLMOVE l2 dst RIGHT LEFT 0");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["RPUSH l2 e", "LMOVE l2 dst RIGHT LEFT"]);
}

#[test]
fn a_script_serves_waiters_only_when_it_ends() {
    let s = Server::start();
    let mut p = s.raw();
    let mut w = s.raw();
    send(&mut w, "BLPOP t 0");
    wait_blocked(&mut p, 1);
    let script = "redis.call('lpush', KEYS[1], 'first'); redis.call('lpush', KEYS[1], 'second')";
    p.call(&["EVAL", script, "1", "t"]);
    // Served after the whole script: the head is the second element.
    assert_eq!(w.read_reply(), b"*2\r\n$1\r\nt\r\n$6\r\nsecond\r\n");
    // Blocking commands are refused inside scripts, as in Redis 7.0.
    let r = p.line("EVAL \"return redis.call('blpop', 'empty', 0)\" 0");
    assert!(r.starts_with(b"-ERR This Redis command is not allowed from script"), "{}", show(&r));
}
