//! SLOWLOG, LATENCY and MONITOR.
//!
//! Expected replies are Redis 7.0.15's, recorded from a reference server; timestamps, durations
//! and addresses are checked for their shape.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{encode, show, split_args, Raw, Server};

/// A parsed reply, enough for the structured replies here.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
}

fn parse(b: &[u8]) -> V {
    fn line(b: &[u8], at: usize) -> (&str, usize) {
        let end = at + b[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        (std::str::from_utf8(&b[at + 1..end]).unwrap(), end + 2)
    }
    fn one(b: &[u8], at: usize) -> (V, usize) {
        let (l, next) = line(b, at);
        match b[at] {
            b'+' => (V::Simple(l.into()), next),
            b'-' => (V::Err(l.into()), next),
            b':' => (V::Int(l.parse().unwrap()), next),
            b'_' => (V::Nil, next),
            b'$' | b'=' => {
                let n: i64 = l.parse().unwrap();
                if n < 0 {
                    return (V::Nil, next);
                }
                let n = n as usize;
                (V::Bulk(b[next..next + n].to_vec()), next + n + 2)
            }
            b'*' | b'%' => {
                let n: i64 = l.parse().unwrap();
                if n < 0 {
                    return (V::Nil, next);
                }
                let n = if b[at] == b'%' { 2 * n } else { n };
                let mut pos = next;
                let mut items = Vec::new();
                for _ in 0..n {
                    let (v, p) = one(b, pos);
                    items.push(v);
                    pos = p;
                }
                (V::Arr(items), pos)
            }
            t => panic!("unexpected reply type {}", t as char),
        }
    }
    one(b, 0).0
}

impl V {
    fn arr(&self) -> &[V] {
        match self {
            V::Arr(a) => a,
            v => panic!("not an array: {v:?}"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            v => panic!("not an integer: {v:?}"),
        }
    }
    fn str(&self) -> String {
        match self {
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            v => panic!("not a bulk string: {v:?}"),
        }
    }
}

fn strs(v: &V) -> Vec<String> {
    v.arr().iter().map(V::str).collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

const SLOWLOG_HELP: &[u8] = b"*12\r\n\
+SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+GET [<count>]\r\n\
+    Return top <count> entries from the slowlog (default: 10, -1 mean all).\r\n\
+    Entries are made of:\r\n\
+    id, timestamp, time in microseconds, arguments array, client IP and port,\r\n\
+    client name\r\n\
+LEN\r\n\
+    Return the length of the slowlog.\r\n\
+RESET\r\n\
+    Reset the slowlog.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";

const LATENCY_HELP: &[u8] = b"*17\r\n\
+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+DOCTOR\r\n\
+    Return a human readable latency analysis report.\r\n\
+GRAPH <event>\r\n\
+    Return an ASCII latency graph for the <event> class.\r\n\
+HISTORY <event>\r\n\
+    Return time-latency samples for the <event> class.\r\n\
+LATEST\r\n\
+    Return the latest latency samples for all events.\r\n\
+RESET [<event> ...]\r\n\
+    Reset latency data of one or more <event> classes.\r\n\
+    (default: reset all data for all event classes)\r\n\
+HISTOGRAM [COMMAND ...]\r\n\
+    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.\r\n\
+    If no commands are specified then all histograms are replied.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";

#[test]
fn slowlog_replies_and_errors() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("slowlog help", SLOWLOG_HELP),
        ("slowlog len", b":0\r\n"),
        ("slowlog get", b"*0\r\n"),
        ("slowlog get -1", b"*0\r\n"),
        ("slowlog get 0", b"*0\r\n"),
        ("slowlog get x", b"-ERR count should be greater than or equal to -1\r\n"),
        ("slowlog get -2", b"-ERR count should be greater than or equal to -1\r\n"),
        (
            "slowlog get 1 2",
            b"-ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.\r\n",
        ),
        ("slowlog len x", b"-ERR wrong number of arguments for 'slowlog|len' command\r\n"),
        ("slowlog reset", b"+OK\r\n"),
        ("slowlog reset x", b"-ERR wrong number of arguments for 'slowlog|reset' command\r\n"),
        ("slowlog foo", b"-ERR unknown subcommand 'foo'. Try SLOWLOG HELP.\r\n"),
        ("slowlog", b"-ERR wrong number of arguments for 'slowlog' command\r\n"),
    ]);
}

#[test]
fn slowlog_records_commands() {
    let srv = Server::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut c = srv.raw();
    let addr = {
        let info = String::from_utf8(c.line("client info")).unwrap();
        info.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap().to_string()
    };
    let before = now_secs();
    c.expect("client setname myname", b"+OK\r\n");
    c.expect("set k v", b"+OK\r\n");
    let got = parse(&c.line("slowlog get 2"));
    let entries = got.arr();
    assert_eq!(entries.len(), 2);
    let (set, setname) = (entries[0].arr(), entries[1].arr());
    assert_eq!(set.len(), 6);
    assert_eq!(set[0].int(), setname[0].int() + 1, "ids grow by one");
    assert!((before..=now_secs()).contains(&set[1].int()), "time {:?}", set[1]);
    assert!(set[2].int() >= 0);
    assert_eq!(strs(&set[3]), ["set", "k", "v"]);
    assert_eq!(set[4].str(), addr);
    assert_eq!(set[5].str(), "myname");
    // The name is the one the client has after the command.
    assert_eq!(strs(&setname[3]), ["client", "setname", "myname"]);
    assert_eq!(setname[5].str(), "myname");

    // Long arguments and argument lists are trimmed as Redis trims them.
    let mut del = vec!["del".to_string()];
    del.extend((0..41).map(|i| format!("k{i}")));
    c.call(&del);
    let long = "x".repeat(200);
    c.call(&["echo", long.as_str()]);
    let got = parse(&c.line("slowlog get 2"));
    let echo = strs(&got.arr()[0].arr()[3]);
    assert_eq!(echo[1], format!("{}... (72 more bytes)", "x".repeat(128)));
    let del = strs(&got.arr()[1].arr()[3]);
    assert_eq!(del.len(), 32);
    assert_eq!(del[30], "k29");
    assert_eq!(del[31], "... (11 more arguments)");

    // Secrets never reach the log.
    c.expect("auth a b", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    let got = parse(&c.line("slowlog get 1"));
    assert_eq!(strs(&got.arr()[0].arr()[3]), ["auth", "(redacted)", "(redacted)"]);
    c.line("hello 2 setname n auth default pw");
    let got = parse(&c.line("slowlog get 1"));
    assert_eq!(
        strs(&got.arr()[0].arr()[3]),
        ["hello", "2", "setname", "n", "auth", "(redacted)", "(redacted)"]
    );

    // RESET empties it; the RESET itself is then the first entry.
    c.expect("slowlog reset", b"+OK\r\n");
    c.expect("slowlog len", b":1\r\n");
    c.expect("slowlog len", b":2\r\n");
    assert_eq!(parse(&c.line("slowlog get -1")).arr().len(), 3);
    assert_eq!(parse(&c.line("slowlog get")).arr().len(), 4);
}

#[test]
fn slowlog_threshold_and_length() {
    let srv = Server::start_with(&["--slowlog-log-slower-than", "-1"]);
    let mut c = srv.raw();
    c.line("set k v");
    c.line("get k");
    c.expect("slowlog len", b":0\r\n");

    let srv = Server::start_with(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "3"]);
    let mut c = srv.raw();
    for _ in 0..10 {
        c.line("ping");
    }
    c.expect("slowlog len", b":3\r\n");
    let got = parse(&c.line("slowlog get"));
    let ids: Vec<i64> = got.arr().iter().map(|e| e.arr()[0].int()).collect();
    assert_eq!(ids, [10, 9, 8], "newest first");
}

#[test]
fn latency_replies_and_errors() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("latency help", LATENCY_HELP),
        ("latency latest", b"*0\r\n"),
        ("latency history command", b"*0\r\n"),
        ("latency history foo", b"*0\r\n"),
        ("latency reset", b":0\r\n"),
        ("latency reset a b", b":0\r\n"),
        ("latency graph command", b"-ERR No samples available for event 'command'\r\n"),
        ("latency histogram foo", b"*0\r\n"),
        ("latency history", b"-ERR wrong number of arguments for 'latency|history' command\r\n"),
        ("latency graph", b"-ERR wrong number of arguments for 'latency|graph' command\r\n"),
        ("latency graph a b", b"-ERR wrong number of arguments for 'latency|graph' command\r\n"),
        ("latency latest x", b"-ERR wrong number of arguments for 'latency|latest' command\r\n"),
        ("latency foo", b"-ERR unknown subcommand 'foo'. Try LATENCY HELP.\r\n"),
    ]);
    let doctor = r.line("latency doctor");
    assert!(doctor.starts_with(b"$"), "{}", show(&doctor));
}

#[test]
fn latency_events() {
    let srv =
        Server::start_with(&["--latency-monitor-threshold", "10", "--enable-debug-command", "yes"]);
    let mut r = srv.raw();
    let before = now_secs();
    r.expect("debug sleep 0.05", b"+OK\r\n");
    r.expect("debug sleep 0", b"+OK\r\n");
    let latest = parse(&r.line("latency latest"));
    let ev = latest.arr()[0].arr();
    assert_eq!(ev[0].str(), "command");
    assert!((before..=now_secs()).contains(&ev[1].int()));
    let ms = ev[2].int();
    assert!((50..1000).contains(&ms), "latency {ms}");
    assert_eq!(ev[3].int(), ms, "max");
    let hist = parse(&r.line("latency history command"));
    assert_eq!(hist.arr().len(), 1);
    assert_eq!(hist.arr()[0].arr()[1].int(), ms);

    let graph = parse(&r.line("latency graph command")).str();
    let lines: Vec<&str> = graph.lines().collect();
    assert_eq!(lines[0], format!("command - high {ms} ms, low {ms} ms (all time high {ms} ms)"));
    assert_eq!(lines[1], "-".repeat(80));
    // One sample is both the lowest and the highest: a bar at the bottom row only.
    assert_eq!(&lines[2..6], [" ", " ", " ", "_"]);
    assert_eq!(lines[6], " ");
    assert!(lines[7].chars().all(|c| c.is_ascii_digit()) && lines[8] == "s", "{graph}");

    let doctor = parse(&r.line("latency doctor")).str();
    assert!(doctor.contains("command"), "{doctor}");
    r.expect("latency reset foo command", b":1\r\n");
    r.expect("latency latest", b"*0\r\n");
}

#[test]
fn latency_histogram() {
    let srv = Server::start();
    let mut r = srv.raw();
    for _ in 0..3 {
        r.line("ping");
    }
    r.line("client id");
    let h = parse(&r.line("latency histogram ping client"));
    let h = h.arr();
    assert_eq!(h.len(), 4, "{h:?}");
    assert_eq!(h[0].str(), "ping");
    let ping = h[1].arr();
    assert_eq!(ping[0].str(), "calls");
    assert_eq!(ping[1].int(), 3);
    assert_eq!(ping[2].str(), "histogram_usec");
    let buckets: Vec<i64> = ping[3].arr().iter().map(V::int).collect();
    assert!(!buckets.is_empty() && buckets.len().is_multiple_of(2));
    assert_eq!(*buckets.last().unwrap(), 3, "cumulative counts end at the number of calls");
    // A container name stands for its subcommands that have run.
    assert_eq!(h[2].str(), "client|id");
    assert_eq!(h[3].arr()[1].int(), 1);
    // Full names work, duplicates repeat, unknown or unused names are left out.
    let h = parse(&r.line("latency histogram client|id PING nosuch get ping"));
    let names: Vec<String> = h.arr().iter().step_by(2).map(V::str).collect();
    assert_eq!(names, ["client|id", "ping", "ping"]);
    // RESP3: maps.
    r.line("hello 3");
    let raw = r.line("latency histogram ping");
    assert!(
        raw.starts_with(
            b"%1\r\n$4\r\nping\r\n%2\r\n$5\r\ncalls\r\n:3\r\n$14\r\nhistogram_usec\r\n%"
        ),
        "{}",
        show(&raw)
    );
}

/// Reads MONITOR lines until one contains `needle`; the lines skipped on the way are kept in
/// `seen`.
fn monitor_line(m: &mut TcpStream, buf: &mut Vec<u8>, needle: &str) -> String {
    monitor_line_seen(m, buf, needle, &mut Vec::new())
}

fn monitor_line_seen(
    m: &mut TcpStream,
    buf: &mut Vec<u8>,
    needle: &str,
    seen: &mut Vec<String>,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..p + 2).collect();
            let line = String::from_utf8_lossy(&line[..p]).into_owned();
            if line.contains(needle) {
                return line;
            }
            seen.push(line);
        }
        assert!(Instant::now() < deadline, "no MONITOR line with {needle:?}");
        let mut chunk = [0u8; 4096];
        m.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let n = m.read(&mut chunk).unwrap();
        assert!(n > 0, "monitor connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `+<secs>.<6 digits> [<db> <origin>] <args>`: checks the shape, returns (db origin, args).
fn split_monitor_line(line: &str) -> (String, String) {
    let rest = line.strip_prefix('+').unwrap_or_else(|| panic!("{line}"));
    let (ts, rest) = rest.split_once(' ').unwrap();
    let (secs, micros) = ts.split_once('.').unwrap();
    assert!((now_secs() - 60..=now_secs()).contains(&secs.parse::<i64>().unwrap()), "{line}");
    assert_eq!(micros.len(), 6, "{line}");
    assert!(micros.chars().all(|c| c.is_ascii_digit()), "{line}");
    let rest = rest.strip_prefix('[').unwrap();
    let (origin, args) = rest.split_once("] ").unwrap();
    (origin.to_string(), args.to_string())
}

#[test]
fn monitor_sees_other_clients() {
    let srv = Server::start();
    let mut m = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    m.write_all(&encode(&["monitor"])).unwrap();
    let mut buf = Vec::new();
    let mut first = [0u8; 5];
    m.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    m.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"+OK\r\n");

    let mut c = srv.raw();
    let caddr = String::from_utf8(c.line("client info")).unwrap();
    let caddr = caddr.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap().to_string();
    c.expect("set a \"b c\\n\\x01\"", b"+OK\r\n");
    let line = monitor_line(&mut m, &mut buf, "\"set\"");
    assert_eq!(
        split_monitor_line(&line),
        (format!("0 {caddr}"), r#""set" "a" "b c\n\x01""#.into())
    );

    // Admin commands are not shown; secrets are redacted; SELECT shows the new db.
    c.line("client list");
    c.line("slowlog len");
    c.line("auth a b");
    c.line("hello 2 auth default pw");
    c.line("select 3");
    c.line("get x");
    let mut seen = Vec::new();
    let l = monitor_line_seen(&mut m, &mut buf, "\"auth\"", &mut seen);
    assert!(l.ends_with(r#"] "auth" "(redacted)" "(redacted)""#), "{l}");
    let l = monitor_line(&mut m, &mut buf, "\"hello\"");
    assert!(l.ends_with(r#"] "hello" "2" "auth" "(redacted)" "(redacted)""#), "{l}");
    let l = monitor_line(&mut m, &mut buf, "\"select\"");
    assert_eq!(split_monitor_line(&l).0, format!("3 {caddr}"));
    let l = monitor_line(&mut m, &mut buf, "\"get\"");
    assert_eq!(split_monitor_line(&l), (format!("3 {caddr}"), r#""get" "x""#.into()));
    assert!(seen.is_empty(), "admin commands shown: {seen:?}");

    // The monitoring connection itself may not touch the keyspace.
    let mut mr = Raw::connect(srv.port);
    mr.expect("monitor", b"+OK\r\n");
    mr.expect("get x", b"-ERR Replica can't interact with the keyspace\r\n");
    mr.expect("set x 1", b"-ERR Replica can't interact with the keyspace\r\n");
    // RESET ends monitoring.
    mr.expect("reset", b"+RESET\r\n");
    mr.expect("get x", b"$-1\r\n");
}

#[test]
fn monitor_twice_and_own_commands() {
    let srv = Server::start();
    let mut m = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    m.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A second MONITOR gets no reply at all; PING's reply comes before its own MONITOR line.
    m.write_all(&encode(&["monitor"])).unwrap();
    m.write_all(&encode(&["monitor"])).unwrap();
    m.write_all(&encode(&split_args("ping"))).unwrap();
    let mut buf = Vec::new();
    let line = monitor_line(&mut m, &mut buf, "\"ping\"");
    let (origin, args) = split_monitor_line(&line);
    assert!(origin.starts_with("0 127.0.0.1:"), "{origin}");
    assert_eq!(args, "\"ping\"");
    // Everything before it: +OK once, then +PONG.
    let mut all = Vec::new();
    let mut m2 = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    m2.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    m2.write_all(&encode(&["monitor"])).unwrap();
    m2.write_all(&encode(&["monitor"])).unwrap();
    m2.write_all(&encode(&["ping"])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !all.ends_with(b"\"ping\"\r\n") && Instant::now() < deadline {
        let mut chunk = [0u8; 4096];
        if let Ok(n) = m2.read(&mut chunk) {
            all.extend_from_slice(&chunk[..n]);
        }
    }
    let s = String::from_utf8(all).unwrap();
    assert!(s.starts_with("+OK\r\n+PONG\r\n+"), "{s:?}");
}

#[test]
fn monitor_unix_socket_origin() {
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("vireo-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let p = path.to_str().unwrap().to_string();
    let srv = Server::start_with(&["--unixsocket", &p]);
    let mut m = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    m.write_all(&encode(&["monitor"])).unwrap();
    let mut buf = Vec::new();
    // Monitoring has begun once +OK is back.
    monitor_line(&mut m, &mut buf, "+OK");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut u = loop {
        match UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    u.write_all(&encode(&["set", "a", "b"])).unwrap();
    let mut ok = [0u8; 5];
    u.read_exact(&mut ok).unwrap();
    let line = monitor_line(&mut m, &mut buf, "\"set\"");
    assert_eq!(split_monitor_line(&line), (format!("0 unix:{p}"), r#""set" "a" "b""#.into()));
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
