//! MULTI/EXEC/DISCARD/WATCH across clients, and what transactions propagate. Single-connection
//! behaviour (queueing, errors, EXECABORT, a client's own writes invalidating its WATCH) is also
//! compared with Redis in differential/multi.txt.

use crate::common;

use common::{InProcess, Server};

#[test]
fn another_clients_write_fails_exec() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect("SET k 1", b"+OK\r\n");
    a.expect("WATCH k other", b"+OK\r\n");
    b.expect("SET unrelated 1", b"+OK\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("INCR k", b"+QUEUED\r\n");
    a.expect("EXEC", b"*1\r\n:2\r\n");

    a.expect("WATCH k", b"+OK\r\n");
    b.expect("INCR k", b":3\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("INCR k", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
    // EXEC forgets the watches, whatever its outcome.
    b.expect("INCR k", b":4\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("INCR k", b"+QUEUED\r\n");
    a.expect("EXEC", b"*1\r\n:5\r\n");
}

#[test]
fn writes_of_every_kind_invalidate() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    // (setup on b, the write on b that must invalidate a's WATCH of `k`)
    let cases: &[(&str, &str)] = &[
        ("SET k v", "APPEND k x"),
        ("RPUSH k a", "LPOP k"),
        ("HSET k f v", "HDEL k f"),
        ("SADD k m", "SADD k n"),
        ("ZADD k 1 m", "ZINCRBY k 1 m"),
        ("SET k v", "EXPIRE k 100"),
        ("SET k v", "DEL k"),
        ("SET src v", "RENAME src k"),
        ("SADD s1 a", "SUNIONSTORE k s1"),
        ("SET k v", "FLUSHALL"),
        ("SET k v", "FLUSHDB"),
    ];
    for (setup, write) in cases {
        b.expect("FLUSHALL", b"+OK\r\n");
        b.line(setup);
        a.expect("WATCH k", b"+OK\r\n");
        b.line(write);
        a.expect("MULTI", b"+OK\r\n");
        a.expect("PING", b"+QUEUED\r\n");
        assert_eq!(a.line("EXEC"), b"*-1\r\n", "`{write}` did not invalidate WATCH k");
    }
}

#[test]
fn moves_between_databases_invalidate_both_sides() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    b.expect("SET k v", b"+OK\r\n");
    // a watches k in db 5; b moves its db-0 k there.
    a.expect("SELECT 5", b"+OK\r\n");
    a.expect("WATCH k", b"+OK\r\n");
    b.expect("MOVE k 5", b":1\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
    // COPY ... DB into a watched key.
    b.expect("SET c v", b"+OK\r\n");
    a.expect("WATCH c", b"+OK\r\n");
    b.expect("COPY c c DB 5", b":1\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
    // SWAPDB brings a live key into the watched database.
    b.expect("SET w v", b"+OK\r\n");
    a.expect("WATCH w", b"+OK\r\n");
    b.expect("SWAPDB 0 5", b"+OK\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
}

#[test]
fn server_deletions_invalidate() {
    let s = Server::start_with(&["--hz", "100"]);
    let mut a = s.raw();
    let mut b = s.raw();
    // Active expiry deletes the key while nobody touches it.
    a.expect("SET e v PX 30", b"+OK\r\n");
    a.expect("WATCH e", b"+OK\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.int("DBSIZE") != 0 {
        assert!(std::time::Instant::now() < deadline, "key never expired");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    a.expect("MULTI", b"+OK\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
    // Eviction.
    a.expect("SET v v", b"+OK\r\n");
    a.expect("WATCH v", b"+OK\r\n");
    b.expect("CONFIG SET maxmemory-policy allkeys-random", b"+OK\r\n");
    b.expect("CONFIG SET maxmemory 1", b"+OK\r\n");
    b.line("GET x");
    b.expect("CONFIG SET maxmemory 0", b"+OK\r\n");
    assert_eq!(b.int("DBSIZE"), 0);
    a.expect("MULTI", b"+OK\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", b"*-1\r\n");
}

#[test]
fn queued_commands_run_only_at_exec() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect("MULTI", b"+OK\r\n");
    a.expect("SET q 1", b"+QUEUED\r\n");
    a.expect("INCR q", b"+QUEUED\r\n");
    b.expect("GET q", b"$-1\r\n");
    let list = b.line("CLIENT LIST");
    let list = String::from_utf8_lossy(&list);
    assert!(list.contains("flags=x") && list.contains("multi=2"), "{list}");
    a.expect("EXEC", b"*2\r\n+OK\r\n:2\r\n");
    b.expect("GET q", b"$1\r\n2\r\n");
    // DISCARD drops the queue and the watches.
    a.expect("WATCH q", b"+OK\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("SET q 9", b"+QUEUED\r\n");
    a.expect("DISCARD", b"+OK\r\n");
    b.expect("SET q 3", b"+OK\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("GET q", b"+QUEUED\r\n");
    a.expect("EXEC", b"*1\r\n$1\r\n3\r\n");
}

#[test]
fn oom_at_exec_discards_the_transaction() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect("MULTI", b"+OK\r\n");
    a.expect("SET k v", b"+QUEUED\r\n");
    b.expect("CONFIG SET maxmemory 1", b"+OK\r\n");
    a.expect(
        "EXEC",
        b"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    a.expect("EXEC", b"-ERR EXEC without MULTI\r\n");
    // While over the limit, queueing any command is refused and aborts the transaction.
    a.expect("MULTI", b"+OK\r\n");
    a.expect("GET k", b"-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    b.expect("CONFIG SET maxmemory 0", b"+OK\r\n");
    a.expect("EXEC", b"-EXECABORT Transaction discarded because of previous errors.\r\n");
}

#[test]
fn transactions_propagate_wrapped_in_multi_exec() {
    let mut h = InProcess::new();
    for line in ["MULTI", "SET a 1", "GET a", "INCR a", "EXEC"] {
        h.run(line);
    }
    let got = h.take();
    let want: Vec<Vec<String>> = [
        vec!["SELECT", "0"],
        vec!["MULTI"],
        vec!["SET", "a", "1"],
        vec!["INCR", "a"],
        vec!["EXEC"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(got, want);
    // One write: no wrapper. Only reads: nothing.
    for line in ["MULTI", "SET b 1", "GET b", "EXEC", "MULTI", "GET a", "EXEC"] {
        h.run(line);
    }
    assert_eq!(h.take(), vec![vec!["SET".to_string(), "b".into(), "1".into()]]);
    // The SELECT of a transaction that starts in another database goes before its MULTI.
    for line in ["MULTI", "SELECT 2", "SET c 1", "SELECT 0", "SET d 1", "EXEC"] {
        h.run(line);
    }
    let got = h.take();
    let names: Vec<String> = got.iter().map(|c| c.join(" ")).collect();
    assert_eq!(names, ["SELECT 2", "MULTI", "SET c 1", "SELECT 0", "SET d 1", "EXEC"]);
}
