//! CLIENT subcommands, idle timeout and maxclients.
//!
//! Expected replies are Redis 7.0.15's, recorded from a reference server; where a value varies
//! by nature (ids, addresses, ages, memory) the test checks its shape instead.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{encode, reply_len, show, Raw, Server};

/// A plain connection that can tell when the server closed it.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s, buf: Vec::new() }
    }

    /// The address the server sees for this connection (`addr=` in CLIENT LIST).
    fn addr(&self) -> String {
        self.s.local_addr().unwrap().to_string()
    }

    fn send(&mut self, line: &str) {
        self.s.write_all(&encode(&common::split_args(line))).unwrap();
    }

    /// Reads one reply, or `None` if nothing complete arrives within `wait`.
    fn reply_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 16384];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    fn call(&mut self, line: &str) -> Vec<u8> {
        self.send(line);
        self.reply_within(Duration::from_secs(10)).unwrap_or_else(|| panic!("no reply to `{line}`"))
    }

    fn int(&mut self, line: &str) -> i64 {
        let r = self.call(line);
        std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap()
    }

    /// Whether the server closes the connection within `wait` (pending bytes are discarded).
    fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// The body of a bulk (`$`) or verbatim (`=`, without its `txt:`) reply.
fn body(reply: &[u8]) -> String {
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut s = &reply[start..reply.len() - 2];
    if reply[0] == b'=' {
        s = &s[4..];
    }
    String::from_utf8(s.to_vec()).unwrap()
}

/// A CLIENT LIST line as (field, value) pairs.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("bad field {kv:?} in {line}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field(line: &str, name: &str) -> String {
    fields(line)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
        .1
}

/// Redis 7.0's CLIENT LIST fields in order, then the two 7.2 added (CLIENT SETINFO's).
const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
    "lib-name",
    "lib-ver",
];

fn check_shape(line: &str) {
    let names: Vec<String> = fields(line).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, FIELDS, "fields of {line}");
    for n in
        ["id", "fd", "age", "idle", "db", "qbuf", "qbuf-free", "argv-mem", "rbs", "rbp", "tot-mem"]
    {
        field(line, n).parse::<u64>().unwrap_or_else(|_| panic!("{n} of {line}"));
    }
    for (n, v) in [("sub", "0"), ("psub", "0"), ("ssub", "0"), ("multi", "-1"), ("multi-mem", "0")]
    {
        assert_eq!(field(line, n), v, "{n} of {line}");
    }
    for (n, v) in [("obl", "0"), ("oll", "0"), ("omem", "0"), ("events", "r"), ("user", "default")]
    {
        assert_eq!(field(line, n), v, "{n} of {line}");
    }
    assert_eq!(field(line, "redir"), "-1");
}

#[test]
fn id_and_names() {
    let srv = Server::start();
    let mut r = srv.raw();
    let id1 = r.int("client id");
    let id2 = srv.raw().int("client id");
    assert!(id1 > 0 && id2 > 0 && id2 != id1);
    r.script(&[
        ("client getname", b"$-1\r\n"),
        (
            "client setname \"a b\"",
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        (
            "client setname \"a\\nb\"",
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        ("client setname foo", b"+OK\r\n"),
        ("client getname", b"$3\r\nfoo\r\n"),
        ("client setname \"\"", b"+OK\r\n"),
        ("client getname", b"$-1\r\n"),
        ("client id x", b"-ERR wrong number of arguments for 'client|id' command\r\n"),
        ("client getname x", b"-ERR wrong number of arguments for 'client|getname' command\r\n"),
        ("client setname", b"-ERR wrong number of arguments for 'client|setname' command\r\n"),
        ("client", b"-ERR wrong number of arguments for 'client' command\r\n"),
        ("client foo", b"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"),
    ]);
    // HELLO's SETNAME shares the rule.
    r.expect(
        "hello 2 setname \"x y\"",
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
}

#[test]
fn list_and_info() {
    let srv = Server::start();
    let mut a = Conn::new(srv.port);
    let mut b = Conn::new(srv.port);
    let ida = a.int("client id");
    let idb = b.int("client id");
    assert_eq!(b.call("client setname bob"), b"+OK\r\n");
    assert_eq!(b.call("select 2"), b"+OK\r\n");
    assert_eq!(b.call("ping"), b"+PONG\r\n");

    let reply = a.call("client list");
    assert_eq!(reply[0], b'$');
    let text = body(&reply);
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        check_shape(l);
    }
    // The caller's own line shows this very command; the other shows its last one.
    let by_id = |id: i64| *lines.iter().find(|l| field(l, "id") == id.to_string()).unwrap();
    let (la, lb) = (by_id(ida), by_id(idb));
    // Sorted by id.
    assert!(field(lines[0], "id").parse::<i64>().unwrap() < field(lines[1], "id").parse().unwrap());
    assert_eq!(field(la, "id"), ida.to_string());
    assert_eq!(field(la, "addr"), a.addr());
    assert_eq!(field(la, "laddr"), format!("127.0.0.1:{}", srv.port));
    assert_eq!(field(la, "name"), "");
    assert_eq!(field(la, "flags"), "N");
    assert_eq!(field(la, "idle"), "0");
    assert_eq!(field(la, "cmd"), "client|list");
    assert_eq!(field(la, "qbuf"), "26");
    assert_eq!(field(la, "argv-mem"), "10");
    assert_eq!(field(la, "resp"), "2");
    assert_eq!(field(lb, "id"), idb.to_string());
    assert_eq!(field(lb, "addr"), b.addr());
    assert_eq!(field(lb, "name"), "bob");
    assert_eq!(field(lb, "db"), "2");
    assert_eq!(field(lb, "cmd"), "ping");
    assert_eq!(field(lb, "argv-mem"), "0");

    // Filters.
    assert_eq!(body(&a.call("client list type normal")).lines().count(), 2);
    assert_eq!(body(&a.call("client list TYPE Normal")).lines().count(), 2);
    for t in ["pubsub", "master", "replica", "slave"] {
        assert_eq!(a.call(&format!("client list type {t}")), b"$0\r\n\r\n", "type {t}");
    }
    let ordered = body(&a.call(&format!("client list id {idb} {ida} {idb}")));
    let ids: Vec<String> = ordered.lines().map(|l| field(l, "id")).collect();
    assert_eq!(ids, [idb.to_string(), ida.to_string(), idb.to_string()]);
    for (line, reply) in [
        ("client list id 0", &b"$0\r\n\r\n"[..]),
        ("client list id -1", b"$0\r\n\r\n"),
        ("client list id 99999", b"$0\r\n\r\n"),
        ("client list type foo", b"-ERR Unknown client type 'foo'\r\n"),
        ("client list type", b"-ERR syntax error\r\n"),
        ("client list id", b"-ERR syntax error\r\n"),
        ("client list foo", b"-ERR syntax error\r\n"),
        ("client list type normal id 1", b"-ERR syntax error\r\n"),
        ("client list id 1 2 abc", b"-ERR Invalid client ID\r\n"),
    ] {
        assert_eq!(show(&a.call(line)), show(reply), "{line}");
    }

    // CLIENT INFO: the caller's line alone.
    let info = body(&b.call("client info"));
    assert!(info.ends_with('\n') && info.lines().count() == 1, "{info:?}");
    check_shape(info.trim_end());
    assert_eq!(field(&info, "cmd"), "client|info");
    assert_eq!(field(&info, "name"), "bob");
    assert_eq!(field(&info, "db"), "2");

    // RESP3: verbatim strings.
    let mut r = srv.raw();
    r.line("hello 3");
    r.expect("client list id 0", b"=4\r\ntxt:\r\n");
    let info = r.line("client info");
    assert!(info.starts_with(b"=") && show(&info).contains("\\r\\ntxt:id="), "{}", show(&info));
    assert_eq!(field(&body(&info), "resp"), "3");
}

#[test]
fn kill() {
    let srv = Server::start();
    let mut me = Conn::new(srv.port);
    for (line, reply) in [
        ("client kill", &b"-ERR wrong number of arguments for 'client|kill' command\r\n"[..]),
        ("client kill 1.2.3.4:5", b"-ERR No such client\r\n"),
        ("client kill addr", b"-ERR No such client\r\n"),
        ("client kill id 999", b":0\r\n"),
        ("client kill id abc", b"-ERR client-id should be greater than 0\r\n"),
        ("client kill id 0", b"-ERR client-id should be greater than 0\r\n"),
        ("client kill id -5", b"-ERR client-id should be greater than 0\r\n"),
        ("client kill foo bar", b"-ERR syntax error\r\n"),
        ("client kill skipme maybe", b"-ERR syntax error\r\n"),
        ("client kill id 1 type", b"-ERR syntax error\r\n"),
        ("client kill addr 1.2.3.4:5 skipme", b"-ERR syntax error\r\n"),
        ("client kill type foo", b"-ERR Unknown client type 'foo'\r\n"),
        ("client kill type foo id abc", b"-ERR Unknown client type 'foo'\r\n"),
        ("client kill id abc type foo", b"-ERR client-id should be greater than 0\r\n"),
        ("client kill user nobody", b"-ERR No such user 'nobody'\r\n"),
        ("client kill type master", b":0\r\n"),
        ("client kill type pubsub", b":0\r\n"),
        ("client kill laddr 1.2.3.4:5", b":0\r\n"),
        ("client kill skipme yes", b":0\r\n"),
        ("client kill user default", b":0\r\n"),
        ("client kill id 1 id 2", b":0\r\n"),
    ] {
        assert_eq!(show(&me.call(line)), show(reply), "{line}");
    }

    // Old form: by address, +OK, and the other connection goes away.
    let mut b = Conn::new(srv.port);
    b.call("ping");
    assert_eq!(me.call(&format!("client kill {}", b.addr())), b"+OK\r\n");
    assert!(b.closed_within(Duration::from_secs(5)), "killed client still open");

    // New form by ID.
    let mut c = Conn::new(srv.port);
    let idc = c.int("client id");
    assert_eq!(me.call(&format!("client kill id {idc}")), b":1\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));

    // By ADDR and LADDR, combined with TYPE.
    let mut d = Conn::new(srv.port);
    d.call("ping");
    let line = format!("client kill addr {} laddr 127.0.0.1:{} type normal", d.addr(), srv.port);
    assert_eq!(me.call(&line), b":1\r\n");
    assert!(d.closed_within(Duration::from_secs(5)));

    // USER default: everyone but the caller (SKIPME defaults to yes).
    let mut e = Conn::new(srv.port);
    let mut f = Conn::new(srv.port);
    e.call("ping");
    f.call("ping");
    assert_eq!(me.call("client kill user default"), b":2\r\n");
    assert!(e.closed_within(Duration::from_secs(5)));
    assert!(f.closed_within(Duration::from_secs(5)));
    assert_eq!(me.call("ping"), b"+PONG\r\n");

    // MAXAGE (Redis 7.4): only connections older than the given seconds.
    assert_eq!(me.call("client kill maxage 100"), b":0\r\n");

    // Killing oneself: the reply comes first, then the connection closes.
    let id = me.int("client id");
    assert_eq!(me.call(&format!("client kill id {id} skipme no")), b":1\r\n");
    assert!(me.closed_within(Duration::from_secs(5)));
    let mut g = Conn::new(srv.port);
    let addr = g.addr();
    assert_eq!(g.call(&format!("client kill {addr}")), b"+OK\r\n");
    assert!(g.closed_within(Duration::from_secs(5)));
}

#[test]
fn pause() {
    let srv = Server::start();
    let mut a = srv.raw();
    a.script(&[
        ("client pause", b"-ERR wrong number of arguments for 'client|pause' command\r\n"),
        ("client pause abc", b"-ERR timeout is not an integer or out of range\r\n"),
        ("client pause 99999999999999999999 all", b"-ERR timeout is not an integer or out of range\r\n"),
        ("client pause -1", b"-ERR timeout is negative\r\n"),
        ("client pause 10 foo", b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
        ("client pause abc foo", b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
        (
            "client pause 10 write extra",
            b"-ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.\r\n",
        ),
        ("client unpause x", b"-ERR wrong number of arguments for 'client|unpause' command\r\n"),
        ("client pause 0", b"+OK\r\n"),
        ("client unpause", b"+OK\r\n"),
    ]);
    let mut b = Conn::new(srv.port);
    b.call("ping");

    // WRITE: reads go on, writes wait for the end of the pause.
    a.expect("client pause 1500 write", b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.call("get k"), b"$-1\r\n");
    assert!(t.elapsed() < Duration::from_millis(700), "read delayed {:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(b.call("set k v"), b"+OK\r\n");
    assert!(t.elapsed() >= Duration::from_millis(900), "write not delayed {:?}", t.elapsed());

    // ALL: reads wait too.
    a.expect("client pause 600 all", b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.call("get k"), b"$1\r\nv\r\n");
    assert!(t.elapsed() >= Duration::from_millis(350), "read not delayed {:?}", t.elapsed());

    // UNPAUSE releases the waiting client at once.
    a.expect("client pause 20000 write", b"+OK\r\n");
    b.send("set k w");
    assert_eq!(b.reply_within(Duration::from_millis(300)), None);
    a.expect("client unpause", b"+OK\r\n");
    assert_eq!(b.reply_within(Duration::from_secs(2)).as_deref(), Some(&b"+OK\r\n"[..]));

    // A paused command still counts as the one CLIENT REPLY SKIP silences.
    a.expect("client pause 300 write", b"+OK\r\n");
    b.send("client reply skip");
    b.send("set k skipped");
    assert_eq!(b.call("get k"), b"$7\r\nskipped\r\n");
    assert_eq!(b.reply_within(Duration::from_millis(200)), None);
}

#[test]
fn reply_modes() {
    let srv = Server::start();
    let mut c = Conn::new(srv.port);
    assert_eq!(c.call("client reply foo"), b"-ERR syntax error\r\n");
    assert_eq!(
        c.call("client reply"),
        b"-ERR wrong number of arguments for 'client|reply' command\r\n"
    );
    assert_eq!(c.call("client reply on"), b"+OK\r\n");
    // OFF: nothing at all until ON, errors included.
    c.send("client reply off");
    c.send("set k v");
    c.send("ping");
    c.send("nosuchcommand");
    assert_eq!(c.call("client reply on"), b"+OK\r\n");
    assert_eq!(c.call("get k"), b"$1\r\nv\r\n");
    // SKIP: no reply to itself and the next command.
    c.send("client reply skip");
    c.send("set k skipped");
    assert_eq!(c.call("get k"), b"$7\r\nskipped\r\n");
    assert_eq!(c.reply_within(Duration::from_millis(200)), None);
}

#[test]
fn no_evict_and_help() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("client no-evict", b"-ERR wrong number of arguments for 'client|no-evict' command\r\n"),
        ("client no-evict maybe", b"-ERR syntax error\r\n"),
        ("client no-evict on", b"+OK\r\n"),
    ]);
    assert_eq!(field(&body(&r.line("client info")), "flags"), "e");
    r.expect("client no-evict OFF", b"+OK\r\n");
    assert_eq!(field(&body(&r.line("client info")), "flags"), "N");

    let help = r.line("client help");
    assert_eq!(show(&help), show(CLIENT_HELP));
}

/// CLIENT HELP as Redis 7.0 answers it.
const CLIENT_HELP: &[u8] = b"*48\r\n\
+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+CACHING (YES|NO)\r\n\
+    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.\r\n\
+GETREDIR\r\n\
+    Return the client ID we are redirecting to when tracking is enabled.\r\n\
+GETNAME\r\n\
+    Return the name of the current connection.\r\n\
+ID\r\n\
+    Return the ID of the current connection.\r\n\
+INFO\r\n\
+    Return information about the current client connection.\r\n\
+KILL <ip:port>\r\n\
+    Kill connection made from <ip:port>.\r\n\
+KILL <option> <value> [<option> <value> [...]]\r\n\
+    Kill connections. Options are:\r\n\
+    * ADDR (<ip:port>|<unixsocket>:0)\r\n\
+      Kill connections made from the specified address\r\n\
+    * LADDR (<ip:port>|<unixsocket>:0)\r\n\
+      Kill connections made to specified local address\r\n\
+    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)\r\n\
+      Kill connections by type.\r\n\
+    * USER <username>\r\n\
+      Kill connections authenticated by <username>.\r\n\
+    * SKIPME (YES|NO)\r\n\
+      Skip killing current connection (default: yes).\r\n\
+LIST [options ...]\r\n\
+    Return information about client connections. Options:\r\n\
+    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)\r\n\
+      Return clients of specified type.\r\n\
+UNPAUSE\r\n\
+    Stop the current client pause, resuming traffic.\r\n\
+PAUSE <timeout> [WRITE|ALL]\r\n\
+    Suspend all, or just write, clients for <timeout> milliseconds.\r\n\
+REPLY (ON|OFF|SKIP)\r\n\
+    Control the replies sent to the current connection.\r\n\
+SETNAME <name>\r\n\
+    Assign the name <name> to the current connection.\r\n\
+UNBLOCK <clientid> [TIMEOUT|ERROR]\r\n\
+    Unblock the specified blocked client.\r\n\
+TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]\r\n\
+         [OPTIN] [OPTOUT] [NOLOOP]\r\n\
+    Control server assisted client side caching.\r\n\
+TRACKINGINFO\r\n\
+    Report tracking status for the current connection.\r\n\
+NO-EVICT (ON|OFF)\r\n\
+    Protect current client connection from eviction.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";

#[test]
fn idle_timeout_closes_client() {
    let srv = Server::start_with(&["--timeout", "1"]);
    let mut idle = Conn::new(srv.port);
    assert_eq!(idle.call("ping"), b"+PONG\r\n");
    let mut busy = Conn::new(srv.port);
    let t = Instant::now();
    // The busy client keeps talking; the idle one is closed after a bit more than a second.
    let mut closed = false;
    while t.elapsed() < Duration::from_secs(5) {
        assert_eq!(busy.call("ping"), b"+PONG\r\n");
        if idle.closed_within(Duration::from_millis(200)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "idle client not closed");
    assert!(t.elapsed() >= Duration::from_millis(900), "closed too early: {:?}", t.elapsed());
    assert_eq!(busy.call("ping"), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_extra_clients() {
    let srv = Server::start_with(&["--maxclients", "2"]);
    // The start-up probe's connection may take a moment to leave.
    let admitted = || {
        let t = Instant::now();
        loop {
            let mut c = Conn::new(srv.port);
            if c.call("ping") == b"+PONG\r\n" {
                return c;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "client refused");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let a = admitted();
    let mut b = admitted();
    let mut c = Conn::new(srv.port);
    c.send("ping");
    assert_eq!(
        c.reply_within(Duration::from_secs(5)).as_deref(),
        Some(&b"-ERR max number of clients reached\r\n"[..])
    );
    assert!(c.closed_within(Duration::from_secs(5)));
    // A slot frees up when a client leaves.
    drop(a);
    let _d = admitted();
    assert_eq!(b.call("ping"), b"+PONG\r\n");
}

#[test]
fn unix_socket_clients() {
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("vireo-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let p = path.to_str().unwrap().to_string();
    let srv = Server::start_with(&["--unixsocket", &p]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // CLIENT INFO, not LIST: the harness's readiness probe may still be listed for a moment.
    s.write_all(&encode(&["client", "info"])).unwrap();
    let mut buf = Vec::new();
    while reply_len(&buf).is_none() {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = body(&buf);
    assert_eq!(field(&line, "addr"), format!("{p}:0"));
    assert_eq!(field(&line, "laddr"), format!("{p}:0"));
    assert_eq!(field(&line, "flags"), "U");
    // TCP clients see it too, and can kill it by its address.
    let mut r = Raw::connect(srv.port);
    let l = r.line(&format!("client kill addr {p}:0"));
    assert_eq!(l, b":1\r\n");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CLIENT SETINFO and CLIENT NO-TOUCH came with Redis 7.2; Vireo has them (their metadata is in
/// server/commands/vireo/) and shows lib-name/lib-ver in CLIENT LIST as 7.2 does.
#[test]
fn redis72_setinfo_and_no_touch() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("client setinfo lib-name x", b"+OK\r\n"),
        ("client setinfo LIB-VER 1.2", b"+OK\r\n"),
        (
            "client setinfo lib-name \"a b\"",
            b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
        ),
        (
            "client setinfo LIB-ver \"a b\"",
            b"-ERR LIB-ver cannot contain spaces, newlines or special characters.\r\n",
        ),
        ("client setinfo foo x", b"-ERR Unrecognized option 'foo'\r\n"),
        (
            "client setinfo lib-name",
            b"-ERR wrong number of arguments for 'client|setinfo' command\r\n",
        ),
        ("client no-touch on", b"+OK\r\n"),
        ("client no-touch x", b"-ERR syntax error\r\n"),
        ("client no-touch", b"-ERR wrong number of arguments for 'client|no-touch' command\r\n"),
    ]);
    let info = body(&r.line("client info"));
    let info = info.trim_end_matches('\n');
    assert_eq!(field(info, "lib-name"), "x");
    assert_eq!(field(info, "lib-ver"), "1.2");
    assert_eq!(field(info, "flags"), "T");
}
