//! The wire protocol and connection limits, seen from a client: pipelining, inline commands,
//! RESP3, protocol errors, proto-max-bulk-len, client-query-buffer-limit, AUTH.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Server;

/// Reads until the server closes the connection; returns what it sent before closing.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("connection not closed: {e}; got {}", common::show(&out)),
        }
    }
}

fn connect(srv: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", srv.port)).unwrap()
}

#[test]
fn deep_pipeline_answers_every_command_in_order() {
    let srv = Server::start();
    let mut r = srv.raw();
    let mut wire = Vec::new();
    for i in 0..10_000 {
        if i % 1000 == 0 {
            wire.extend_from_slice(b"PING\r\n");
        }
        wire.extend_from_slice(&common::encode(&["INCR", "n"]));
    }
    r.send(&wire);
    let mut pings = 0;
    for i in 0..10_000 {
        if i % 1000 == 0 {
            assert_eq!(r.read_reply(), b"+PONG\r\n");
            pings += 1;
        }
        assert_eq!(r.read_reply(), format!(":{}\r\n", i + 1).as_bytes());
    }
    assert_eq!(pings, 10);
}

#[test]
fn inline_commands_and_quoting() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.send(b"SET k \"a b\\x41\\n\"\r\nGET k\r\n\r\nEXISTS 'k'\n");
    assert_eq!(r.read_reply(), b"+OK\r\n");
    assert_eq!(r.read_reply(), b"$5\r\na bA\n\r\n");
    assert_eq!(r.read_reply(), b":1\r\n");
    let mut s = connect(&srv);
    s.write_all(b"SET k \"unterminated\r\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"-ERR Protocol error: unbalanced quotes in request\r\n");
}

#[test]
fn protocol_errors_reply_then_close_and_the_server_stays_up() {
    let srv = Server::start();
    for (wire, msg) in [
        (&b"*1\r\n$-5\r\n"[..], "invalid bulk length"),
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*1\r\n:12\r\n", "expected '$', got ':'"),
        (b"*3000000000\r\n", "invalid multibulk length"),
    ] {
        let mut s = connect(&srv);
        s.write_all(wire).unwrap();
        let want = format!("-ERR Protocol error: {msg}\r\n");
        assert_eq!(common::show(&read_to_close(&mut s)), common::show(want.as_bytes()));
    }
    // Commands before the bad frame in the same read still run and answer.
    let mut s = connect(&srv);
    s.write_all(b"*1\r\n$4\r\nPING\r\n*x\r\n").unwrap();
    assert_eq!(
        common::show(&read_to_close(&mut s)),
        "+PONG\\r\\n-ERR Protocol error: invalid multibulk length\\r\\n"
    );
    srv.raw().expect("PING", b"+PONG\r\n");
}

#[test]
fn bulk_longer_than_proto_max_bulk_len_is_refused() {
    let srv = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut s = connect(&srv);
    s.write_all(format!("*2\r\n$4\r\nECHO\r\n${}\r\n", 1024 * 1024 + 1).as_bytes()).unwrap();
    assert_eq!(read_to_close(&mut s), b"-ERR Protocol error: invalid bulk length\r\n");
    // Exactly the limit is fine.
    let mut r = srv.raw();
    let big = vec![b'x'; 1024 * 1024];
    let reply = r.call(&[&b"ECHO"[..], &big]);
    assert_eq!(reply.len(), big.len() + "$1048576\r\n\r\n".len());
}

#[test]
fn query_buffer_limit_closes_only_the_offender() {
    let srv = Server::start_with(&[
        "--client-query-buffer-limit",
        "1mb",
        "--proto-max-bulk-len",
        "100mb",
    ]);
    let mut other = srv.raw();
    let mut s = connect(&srv);
    // A 2 MB argument that never completes: the buffer passes 1 MB and the client is closed.
    s.write_all(b"*2\r\n$3\r\nSET\r\n$2000000\r\n").unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < 1_500_000 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert_eq!(read_to_close(&mut s), b"");
    other.expect("PING", b"+PONG\r\n");
}

#[test]
fn requirepass_and_pipelined_auth() {
    let srv = Server::start_with(&["--requirepass", "s3cret"]);
    let mut r = srv.raw();
    r.expect("GET k", b"-NOAUTH Authentication required.\r\n");
    r.expect("AUTH wrong", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    // AUTH and the commands after it arrive in one packet: all of them run.
    let mut wire = common::encode(&["AUTH", "s3cret"]);
    wire.extend_from_slice(&common::encode(&["SET", "k", "v"]));
    wire.extend_from_slice(&common::encode(&["GET", "k"]));
    r.send(&wire);
    assert_eq!(r.read_reply(), b"+OK\r\n");
    assert_eq!(r.read_reply(), b"+OK\r\n");
    assert_eq!(r.read_reply(), b"$1\r\nv\r\n");
    // Before authenticating, a client may not announce huge requests.
    let mut s = connect(&srv);
    s.write_all(b"*20\r\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"-ERR Protocol error: invalid multibulk length\r\n");
    let mut s = connect(&srv);
    s.write_all(b"*1\r\n$20000\r\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"-ERR Protocol error: invalid bulk length\r\n");
    // HELLO with AUTH authenticates and switches protocol at once.
    let mut h = srv.raw();
    let reply = h.line("HELLO 3 AUTH default s3cret");
    assert!(
        reply.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{}",
        common::show(&reply)
    );
    h.expect("GET nokey", b"_\r\n");
}

#[test]
fn resp3_reply_types() {
    let srv = Server::start();
    let mut r = srv.raw();
    let hello = r.line("HELLO 3");
    assert!(hello.starts_with(b"%7\r\n"));
    r.expect("GET missing", b"_\r\n");
    r.expect("CONFIG GET maxmemory", b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    let id = r.int("CLIENT ID");
    r.expect("HELLO 2", &{
        let mut v = b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n".to_vec();
        v.extend_from_slice(
            format!("${}\r\n{}\r\n", vireo_server::REDIS_VERSION.len(), vireo_server::REDIS_VERSION)
                .as_bytes(),
        );
        v.extend_from_slice(b"$5\r\nproto\r\n:2\r\n$2\r\nid\r\n");
        v.extend_from_slice(format!(":{id}\r\n").as_bytes());
        v.extend_from_slice(
            b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
        );
        v
    });
    r.expect("GET missing", b"$-1\r\n");
}

#[test]
fn quit_closes_after_its_reply() {
    let srv = Server::start();
    let mut s = connect(&srv);
    s.write_all(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"+OK\r\n");
}

#[test]
fn unix_socket_serves_commands() {
    let dir = std::env::temp_dir().join(format!("vireo-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vireo.sock");
    let srv =
        Server::start_with(&["--unixsocket", path.to_str().unwrap(), "--unixsocketperm", "700"]);
    let mut u = std::os::unix::net::UnixStream::connect(&path).unwrap();
    u.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    u.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connections arriving faster than the server accepts them wait in the kernel's accept queue,
/// `tcp-backlog` (511) long as in Redis: here all of a burst of 300 complete while the server is
/// stopped, and are served once it resumes. (Past the queue the kernel drops the handshake and the
/// client retries a second later.)
#[test]
fn a_burst_of_connections_waits_in_the_accept_queue() {
    let srv = Server::start();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &srv.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], srv.port));
    let conns: Vec<TcpStream> = (0..300)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .unwrap_or_else(|e| panic!("connection {i} not accepted into the queue: {e}"))
        })
        .collect();
    signal("-CONT");
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+PONG\r\n");
    }
}
