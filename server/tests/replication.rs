//! Replication over the wire: a Vireo replica of a Vireo master, and each of them with a Redis
//! 7.0 reference on the other side (skipped, with a message, without one).

use crate::common;

use std::time::{Duration, Instant};

use common::{eventually, Raw, Server};

/// `master_repl_offset` (it moves on by itself: the master PINGs its replicas).
fn offset_of(r: &mut Raw) -> u64 {
    r.info_field("replication", "master_repl_offset").parse().unwrap()
}

/// The offset the first replica acknowledged, as its master's INFO shows it.
fn acked(m: &mut Raw) -> u64 {
    let slave0 = m.info_field("replication", "slave0");
    let field = slave0.split(',').find_map(|f| f.strip_prefix("offset=")).expect("offset");
    field.parse().unwrap()
}

fn link_up(r: &mut Raw) -> bool {
    r.info_field("replication", "master_link_status") == "up"
}

/// The same data on master and replica: keys of every type, in two databases, with a TTL.
fn fill(m: &mut Raw) {
    for line in [
        "SET s v",
        "RPUSH l a b c",
        "HSET h f1 v1 f2 v2",
        "SADD st x y",
        "ZADD z 1 a 2 b",
        "XADD x 1-1 f v",
        "SET ttl v EX 1000",
        "SELECT 5",
        "SET other db5",
        "SELECT 0",
    ] {
        let reply = m.line(line);
        assert!(!reply.starts_with(b"-"), "{line}: {}", String::from_utf8_lossy(&reply));
    }
}

/// What a replica must show of [`fill`] and of [`write_more`].
fn check_data(r: &mut Raw) {
    r.expect("GET s", b"$1\r\n2\r\n");
    r.expect("LRANGE l 0 -1", b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
    r.expect("HGET h f2", b"$2\r\nv2\r\n");
    r.expect("SCARD st", b":2\r\n");
    r.expect("ZSCORE z b", b"$1\r\n2\r\n");
    r.expect("XLEN x", b":1\r\n");
    let ttl = r.int("TTL ttl");
    assert!((900..=1000).contains(&ttl), "ttl {ttl}");
    r.expect("GET tx1", b"$1\r\n1\r\n");
    r.expect("GET tx2", b"$1\r\n2\r\n");
    r.expect("GET fromlua", b"$3\r\nlua\r\n");
    r.expect("EXISTS gone", b":0\r\n");
    r.expect("SELECT 5", b"+OK\r\n");
    r.expect("GET other", b"$3\r\ndb5\r\n");
    r.expect("SELECT 0", b"+OK\r\n");
}

/// Writes after the initial sync: plain, in a transaction, by a script, a deletion.
fn write_more(m: &mut Raw) {
    for line in [
        "SET s 2",
        "RPUSH l d",
        "MULTI",
        "SET tx1 1",
        "SET tx2 2",
        "EXEC",
        "EVAL \"redis.call('set', KEYS[1], 'lua')\" 1 fromlua",
        "SET gone 1",
        "DEL gone",
    ] {
        m.line(line);
    }
}

#[test]
fn a_replica_follows_its_master() {
    let master = Server::start();
    let replica = Server::start();
    let mut m = master.raw();
    let mut r = replica.raw();
    fill(&mut m);
    r.expect("SET stale 1", b"+OK\r\n");
    r.expect(&format!("REPLICAOF 127.0.0.1 {}", master.port), b"+OK\r\n");
    r.expect(
        &format!("REPLICAOF 127.0.0.1 {}", master.port),
        b"+OK Already connected to specified master\r\n",
    );
    eventually(10, "the link", || link_up(&mut r));
    // The data set was replaced by the master's.
    r.expect("EXISTS stale", b":0\r\n");
    write_more(&mut m);
    // WAIT returns once the replica acknowledged the writes, or at its timeout with those
    // that did.
    m.expect("WAIT 1 5000", b":1\r\n");
    let start = Instant::now();
    m.expect("WAIT 2 200", b":1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(190));
    r.expect(
        "WAIT 0 0",
        b"-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 \
          if a replica is configured to be writable (which is not the default) writes to replicas \
          are just local and are not propagated.\r\n",
    );
    let offset: u64 = m.info_field("replication", "master_repl_offset").parse().unwrap();
    eventually(5, "the stream", || offset_of(&mut r) >= offset);
    check_data(&mut r);
    // Writes are refused on the replica; reads are served.
    r.expect("SET s 3", b"-READONLY You can't write against a read only replica.\r\n");
    r.expect("MULTI", b"+OK\r\n");
    r.expect("SET s 3", b"-READONLY You can't write against a read only replica.\r\n");
    r.expect("EXEC", b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    // Both sides report the link.
    let role = String::from_utf8_lossy(&r.line("ROLE")).to_string();
    let head =
        format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:", master.port);
    let at: u64 = role.strip_prefix(&head).and_then(|r| r.trim_end().parse().ok()).expect(&role);
    assert!(at >= offset, "{role}");
    assert_eq!(r.info_field("replication", "role"), "slave");
    assert_eq!(m.info_field("replication", "connected_slaves"), "1");
    let slave0 = m.info_field("replication", "slave0");
    assert!(
        slave0.starts_with(&format!("ip=127.0.0.1,port={},state=online,", replica.port)),
        "{slave0}"
    );
    // The replica acknowledges what it applied, every second.
    eventually(5, "the acknowledgement", || acked(&mut m) >= offset);
    let role = String::from_utf8_lossy(&m.line("ROLE")).to_string();
    let port = replica.port.to_string();
    let listed = format!("*1\r\n*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len());
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:") && role.contains(&listed), "{role}");
    // The master's replication id, then a history of its own once promoted.
    let replid = m.info_field("replication", "master_replid");
    assert_eq!(r.info_field("replication", "master_replid"), replid);
    r.expect("REPLICAOF NO ONE", b"+OK\r\n");
    assert_eq!(r.info_field("replication", "role"), "master");
    assert_eq!(r.info_field("replication", "master_replid2"), replid);
    assert_ne!(r.info_field("replication", "master_replid"), replid);
    r.expect("SET s 3", b"+OK\r\n");
    m.expect("SET s 4", b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(100));
    r.expect("GET s", b"$1\r\n3\r\n");
    // The old master follows the promoted replica, then is promoted back: its backlog (of
    // the old history) is gone, and INFO adds up.
    m.expect(&format!("REPLICAOF 127.0.0.1 {}", replica.port), b"+OK\r\n");
    eventually(10, "the link", || link_up(&mut m));
    m.expect("REPLICAOF NO ONE", b"+OK\r\n");
    let offset = offset_of(&mut m);
    assert_eq!(m.info_field("replication", "repl_backlog_histlen"), "0");
    let first: u64 = m.info_field("replication", "repl_backlog_first_byte_offset").parse().unwrap();
    assert_eq!(first, offset + 1);
    m.expect("SET after 1", b"+OK\r\n");
    // The promoted replica forgot its own replica once that one's link was gone.
    eventually(5, "the replica to go", || r.info_field("replication", "connected_slaves") == "0");
}

#[test]
fn a_replica_reconnects_and_resyncs() {
    let master = Server::start();
    let replica = Server::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let mut r = replica.raw();
    let mut m = master.raw();
    m.expect("SET a 1", b"+OK\r\n");
    eventually(10, "the link", || link_up(&mut r) && r.line("GET a") == b"$1\r\n1\r\n");
    // The master drops the replica's connection: the replica connects again and continues
    // from where it was, with what it missed from the master's backlog.
    m.expect("CLIENT KILL TYPE replica", b":1\r\n");
    m.expect("SET b 2", b"+OK\r\n");
    eventually(10, "the resync", || r.line("GET b") == b"$1\r\n2\r\n");
    assert!(link_up(&mut r));
    assert_eq!(m.info_field("stats", "sync_full"), "1");
    assert_eq!(m.info_field("stats", "sync_partial_ok"), "1");
    let histlen: u64 = m.info_field("replication", "repl_backlog_histlen").parse().unwrap();
    assert_eq!(histlen, offset_of(&mut m));
    // The replica shows its link as a client flagged M; killing it makes the replica
    // reconnect (and continue).
    let list = String::from_utf8_lossy(&r.line("CLIENT LIST TYPE master")).to_string();
    assert!(list.contains(" flags=M "), "{list}");
    // The stream had selected database 3 when the link broke: it goes on there without a new
    // SELECT, and so must the replica.
    m.expect("SELECT 3", b"+OK\r\n");
    m.expect("SET d3 1", b"+OK\r\n");
    r.expect("SELECT 3", b"+OK\r\n");
    eventually(10, "the write in db 3", || r.line("GET d3") == b"$1\r\n1\r\n");
    r.expect("CLIENT KILL TYPE master", b":1\r\n");
    m.expect("SET b2 2", b"+OK\r\n");
    eventually(10, "the resync", || r.line("GET b2") == b"$1\r\n2\r\n");
    assert_eq!(m.info_field("stats", "sync_partial_ok"), "2");
    m.expect("SELECT 0", b"+OK\r\n");
    r.expect("SELECT 0", b"+OK\r\n");
    // What it missed is no longer in the backlog: a full resync.
    m.expect("CONFIG SET repl-backlog-size 100", b"+OK\r\n");
    m.expect("SET c 3", b"+OK\r\n");
    m.expect("CLIENT KILL TYPE replica", b":1\r\n");
    m.expect(&format!("SET big {}", "x".repeat(200)), b"+OK\r\n");
    eventually(10, "the full resync", || m.info_field("stats", "sync_full") == "2");
    eventually(10, "the data", || r.line("STRLEN big") == b":200\r\n");
    r.expect("GET c", b"$1\r\n3\r\n");
}

/// The master (whichever server it is) drops its replica's link; the replica continues from
/// the backlog and has what was written meanwhile.
fn partial_resync(m: &mut Raw, r: &mut Raw) {
    let before: u64 = m.info_field("stats", "sync_partial_ok").parse().unwrap();
    m.expect("CLIENT KILL TYPE replica", b":1\r\n");
    m.expect("SET missed 1", b"+OK\r\n");
    eventually(10, "the partial resync", || r.line("GET missed") == b"$1\r\n1\r\n");
    let after: u64 = m.info_field("stats", "sync_partial_ok").parse().unwrap();
    assert_eq!(after, before + 1);
}

/// Once the link is up: the writes reach the replica, which acknowledges them (also when WAIT
/// asks), and continues after its link is cut.
fn follows(m: &mut Raw, r: &mut Raw) {
    write_more(m);
    let offset: u64 = m.info_field("replication", "master_repl_offset").parse().unwrap();
    eventually(5, "the stream", || offset_of(r) >= offset);
    check_data(r);
    eventually(5, "the acknowledgement", || acked(m) >= offset);
    m.expect("SET after 1", b"+OK\r\n");
    m.expect("WAIT 1 5000", b":1\r\n");
    partial_resync(m, r);
    check_data(r);
}

#[test]
fn vireo_replicates_a_redis_master() {
    let Some(redis) = Server::start_reference("replication from Redis") else { return };
    let vireo = Server::start();
    let mut m = redis.raw();
    let mut r = vireo.raw();
    fill(&mut m);
    r.expect(&format!("REPLICAOF 127.0.0.1 {}", redis.port), b"+OK\r\n");
    eventually(20, "the link", || link_up(&mut r));
    follows(&mut m, &mut r);
}

#[test]
fn redis_replicates_a_vireo_master() {
    let vireo = Server::start();
    let mut m = vireo.raw();
    fill(&mut m);
    let port = vireo.port.to_string();
    let Some(redis) =
        Server::start_reference_with("replication to Redis", &["--replicaof", "127.0.0.1", &port])
    else {
        return;
    };
    let mut r = redis.raw();
    eventually(20, "the link", || link_up(&mut r));
    follows(&mut m, &mut r);
}

/// A master that answers the handshake, then sends `after` and closes; it serves every
/// connection the replica makes.
fn fake_master(after: &'static [u8]) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            // PING, REPLCONF listening-port, REPLCONF capa, PSYNC: four commands.
            for reply in [&b"+PONG\r\n"[..], b"+OK\r\n", b"+OK\r\n", after] {
                let mut line = String::new();
                let Ok(_) = r.read_line(&mut line) else { break };
                let argc: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                for _ in 0..argc * 2 {
                    line.clear();
                    let _ = r.read_line(&mut line);
                }
                let _ = s.write_all(reply);
            }
        }
    });
    port
}

#[test]
fn a_bad_master_never_brings_the_replica_down() {
    let cases: [&'static [u8]; 4] = [
        // A payload no memory holds.
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$99999999999999999999\r\n",
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$18446744073709551615\r\n",
        // Not an RDB.
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$5\r\nhello",
        // An answer that is no answer.
        b"-ERR go away\r\n",
    ];
    let replica = Server::start();
    let mut r = replica.raw();
    r.expect("SET kept 1", b"+OK\r\n");
    for after in cases {
        let port = fake_master(after);
        r.expect(&format!("REPLICAOF 127.0.0.1 {port}"), b"+OK\r\n");
        std::thread::sleep(Duration::from_millis(300));
        r.expect("PING", b"+PONG\r\n");
        assert_ne!(r.info_field("replication", "master_link_status"), "up");
        // The data set is untouched by a sync that failed.
        r.expect("GET kept", b"$1\r\n1\r\n");
    }
    r.expect("REPLICAOF NO ONE", b"+OK\r\n");
}

#[test]
fn writes_wait_for_good_replicas_and_a_stale_replica_can_refuse() {
    let master =
        Server::start_with(&["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]);
    let mut m = master.raw();
    m.expect("SET a 1", b"-NOREPLICAS Not enough good replicas to write.\r\n");
    m.expect("GET a", b"$-1\r\n");
    assert_eq!(m.info_field("replication", "min_slaves_good_slaves"), "0");
    let port = master.port.to_string();
    let args = ["--replicaof", "127.0.0.1", &port, "--replica-serve-stale-data", "no"];
    let replica = Server::start_with(&args);
    let mut r = replica.raw();
    eventually(10, "the link", || link_up(&mut r));
    eventually(5, "a good replica", || m.line("SET a 1") == b"+OK\r\n");
    assert_eq!(m.info_field("replication", "min_slaves_good_slaves"), "1");
    eventually(5, "the write", || r.line("GET a") == b"$1\r\n1\r\n");
    // The master goes away: the replica refuses what is not `stale`, as Redis does; INFO and
    // CONFIG still answer.
    drop(master);
    eventually(10, "the link to go down", || !link_up(&mut r));
    let masterdown: &[u8] =
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n";
    r.expect("GET a", masterdown);
    r.expect("PING", masterdown);
    r.expect("SET a 2", b"-READONLY You can't write against a read only replica.\r\n");
    r.expect("CONFIG SET replica-serve-stale-data yes", b"+OK\r\n");
    r.expect("GET a", b"$1\r\n1\r\n");
    let since: i64 = r.info_field("replication", "master_link_down_since_seconds").parse().unwrap();
    assert!((0..10).contains(&since), "{since}");
}

/// The state of the first replica in its master's INFO (`wait_bgsave`, `send_bulk`, `online`).
fn replica_state(m: &mut Raw) -> String {
    let slave0 = m.info_field("replication", "slave0");
    slave0.split(',').find_map(|f| f.strip_prefix("state=")).unwrap_or("").to_string()
}

/// A master whose snapshot takes over a second to send: each key's encoding sleeps 400 us.
fn slow_snapshot_master() -> Server {
    let master =
        Server::start_with(&["--rdb-key-save-delay", "400", "--enable-debug-command", "yes"]);
    master.raw().expect("DEBUG POPULATE 4000 key 10", b"+OK\r\n");
    master
}

/// The replica (started on `master`'s port) syncing: the master serves reads and writes while
/// the snapshot goes out; the writes reach the replica after it (as the stream from the
/// snapshot's instant), and the image is the one of that instant.
fn serves_during_the_sync(m: &mut Raw, r: &mut Raw) {
    eventually(10, "the transfer", || replica_state(m) == "send_bulk");
    // The replica shows the payload coming in: of unknown length in the EOF form (0, as Redis).
    eventually(5, "the replica's progress", || {
        let info = String::from_utf8_lossy(&r.call(&["INFO", "replication"])).to_string();
        let read = info.lines().find_map(|l| l.strip_prefix("master_sync_read_bytes:"));
        info.contains("master_sync_in_progress:1\r\n")
            && info.contains("master_sync_total_bytes:0\r\n")
            && read.and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > 0)
    });
    m.expect("SET key:1 changed", b"+OK\r\n");
    m.expect("DEL key:2", b":1\r\n");
    m.expect("INCR during", b":1\r\n");
    assert_eq!(m.info_field("replication", "connected_slaves"), "1");
    assert_eq!(replica_state(m), "send_bulk", "the transfer outlived the writes");
    eventually(20, "the link", || link_up(r));
    eventually(5, "online", || replica_state(m) == "online");
    let offset = offset_of(m);
    eventually(5, "the stream", || offset_of(r) >= offset);
    r.expect("DBSIZE", b":4000\r\n");
    r.expect("GET key:1", b"$7\r\nchanged\r\n");
    r.expect("EXISTS key:2", b":0\r\n");
    r.expect("GET key:3", b"$10\r\nvalue:3\0\0\0\r\n");
    r.expect("GET during", b"$1\r\n1\r\n");
    m.expect("WAIT 1 5000", b":1\r\n");
}

#[test]
fn a_full_sync_streams_a_snapshot_while_the_master_serves() {
    let master = slow_snapshot_master();
    let mut m = master.raw();
    // A BGSAVE is running: the replica's sync waits for it, then takes its own snapshot.
    m.expect("BGSAVE", b"+Background saving started\r\n");
    let replica = Server::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    eventually(5, "the wait", || replica_state(&mut m) == "wait_bgsave");
    serves_during_the_sync(&mut m, &mut replica.raw());
    assert_eq!(m.info_field("stats", "sync_full"), "1");
}

#[test]
fn redis_syncs_from_a_streamed_snapshot() {
    let master = slow_snapshot_master();
    let port = master.port.to_string();
    let Some(redis) = Server::start_reference_with(
        "streamed full sync to Redis",
        &["--replicaof", "127.0.0.1", &port],
    ) else {
        return;
    };
    serves_during_the_sync(&mut master.raw(), &mut redis.raw());
}

#[test]
fn a_sync_cut_by_flushall_starts_again() {
    let master = slow_snapshot_master();
    let mut m = master.raw();
    let replica = Server::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let mut r = replica.raw();
    eventually(10, "the transfer", || replica_state(&mut m) == "send_bulk");
    // FLUSHALL abandons the snapshot (as it kills Redis's child): the replica's connection
    // closes, it connects again and gets the data set as it now is.
    m.expect("FLUSHALL", b"+OK\r\n");
    m.expect("SET after 1", b"+OK\r\n");
    eventually(20, "the link", || link_up(&mut r));
    eventually(5, "the write", || r.line("GET after") == b"$1\r\n1\r\n");
    r.expect("DBSIZE", b":1\r\n");
    let full: u64 = m.info_field("stats", "sync_full").parse().unwrap();
    assert!(full >= 2, "sync_full {full}");
}

/// `redis-cli --rdb` (REPLCONF rdb-only, SYNC) and `--functions-rdb` (also rdb-filter-only
/// functions): the files they write load into a server. The first is the data set, streamed
/// from a snapshot (redis-cli announces `capa eof`); the second holds the function libraries
/// only. Neither client stays on as a replica.
#[test]
fn redis_cli_rdb_gets_the_data_set() {
    let Some(cli) = common::reference_tool("redis-cli") else {
        eprintln!("SKIPPED redis-cli --rdb: no redis-cli beside the reference Redis or on PATH");
        return;
    };
    let master = Server::start();
    let mut m = master.raw();
    fill(&mut m);
    let lib = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
    let reply = m.call(&["FUNCTION", "LOAD", lib]);
    assert_eq!(reply, b"$5\r\nmylib\r\n");
    let fetch = |mode: &str, name: &str| {
        let dir = std::env::temp_dir().join(format!("vireo-cli-{name}-{}", master.port));
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::process::Command::new(&cli)
            .args(["-p", &master.port.to_string(), mode])
            .arg(dir.join("dump.rdb"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).to_string();
        assert!(out.status.success() && said.contains("Transfer finished with success"), "{said}");
        dir
    };
    let dir = fetch("--rdb", "rdb");
    let loaded = Server::start_with(&["--dir", dir.to_str().unwrap()]);
    let mut r = loaded.raw();
    r.expect("HGET h f2", b"$2\r\nv2\r\n");
    r.expect("FCALL f 0", b":1\r\n");
    r.expect("SELECT 5", b"+OK\r\n");
    r.expect("GET other", b"$3\r\ndb5\r\n");
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
    let dir = fetch("--functions-rdb", "functions");
    let loaded = Server::start_with(&["--dir", dir.to_str().unwrap()]);
    let mut r = loaded.raw();
    r.expect("DBSIZE", b":0\r\n");
    r.expect("FCALL f 0", b":1\r\n");
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(m.info_field("stats", "sync_full"), "2");
    eventually(5, "the clients to go", || m.info_field("replication", "connected_slaves") == "0");
    m.expect("REPLCONF rdb-filter-only keys", b"-ERR Unsupported rdb-filter-only option: keys\r\n");
    m.expect("REPLCONF rdb-only 2", b"-ERR value is out of range, value must between 0 and 1\r\n");
}

/// A key past its deadline on a replica: missing for its clients, yet kept (in DBSIZE, through
/// its active expire cycles) until the master expires it and sends the DEL. `m` has its active
/// expiry off, so it expires the key only when it is touched.
fn leaves_expiry_to_the_master(m: &mut Raw, r: &mut Raw) {
    m.expect("DEBUG SET-ACTIVE-EXPIRE 0", b"+OK\r\n");
    m.expect("SET keep v", b"+OK\r\n");
    m.expect("SET k v PX 200", b"+OK\r\n");
    eventually(5, "the writes", || r.line("DBSIZE") == b":2\r\n");
    std::thread::sleep(Duration::from_millis(500));
    r.expect("GET k", b"$-1\r\n");
    r.expect("EXISTS k", b":0\r\n");
    r.expect("PTTL k", b":-2\r\n");
    r.expect("SCAN 0 MATCH k", b"*2\r\n$1\r\n0\r\n*0\r\n");
    r.expect("DBSIZE", b":2\r\n");
    m.expect("GET k", b"$-1\r\n");
    eventually(5, "the master's DEL", || r.line("DBSIZE") == b":1\r\n");
    r.expect("RANDOMKEY", b"$4\r\nkeep\r\n");
}

#[test]
fn a_replica_leaves_expiry_to_its_master() {
    let master = Server::start_with(&["--enable-debug-command", "yes"]);
    let port = master.port.to_string();
    let replica = Server::start_with(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    eventually(10, "the link", || link_up(&mut r));
    leaves_expiry_to_the_master(&mut master.raw(), &mut r);
}

#[test]
fn a_redis_replica_leaves_expiry_to_its_master_too() {
    let what = "replica expiry on Redis";
    let Some(master) = Server::start_reference_with(what, &["--enable-debug-command", "yes"])
    else {
        return;
    };
    let port = master.port.to_string();
    let Some(replica) = Server::start_reference_with(what, &["--replicaof", "127.0.0.1", &port])
    else {
        return;
    };
    let mut r = replica.raw();
    eventually(20, "the link", || link_up(&mut r));
    leaves_expiry_to_the_master(&mut master.raw(), &mut r);
}

/// `replica-announce-ip` and `-port`: the master lists the replica at the announced address
/// (what Sentinel reads there), a Vireo master and a Redis 7.0 one alike.
#[test]
fn a_replica_announces_the_address_it_is_given() {
    let vireo = Server::start();
    let redis = Server::start_reference("replica-announce-ip to a Redis master");
    for master in std::iter::once(&vireo).chain(redis.as_ref()) {
        let port = master.port.to_string();
        let replica = Server::start_with(&[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--replica-announce-ip",
            "10.1.2.3",
            "--replica-announce-port",
            "7777",
        ]);
        let mut r = replica.raw();
        eventually(20, "the link", || link_up(&mut r));
        let mut m = master.raw();
        let slave0 = m.info_field("replication", "slave0");
        assert!(slave0.starts_with("ip=10.1.2.3,port=7777,"), "{slave0}");
    }
}

/// A replica with `maxmemory` below its data set leaves eviction to its master
/// (`replica-ignore-maxmemory`, on by default): its clients' commands evict nothing, so it
/// keeps every key the master has. With the setting off it evicts on its own.
fn leaves_eviction_to_the_master(m: &mut Raw, r: &mut Raw) {
    let fill = "for i = 1, 20000 do redis.call('SET', 'k' .. i, string.rep('x', 100)) end";
    m.expect(&format!("EVAL \"{fill}\" 0"), b"$-1\r\n");
    eventually(10, "the writes", || r.line("DBSIZE") == b":20000\r\n");
    for _ in 0..3 {
        r.expect("GET k1", b"$100\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
    }
    r.expect("DBSIZE", b":20000\r\n");
    assert_eq!(r.info_field("stats", "evicted_keys"), "0");
    r.expect("CONFIG SET replica-ignore-maxmemory no", b"+OK\r\n");
    r.line("PING");
    let left = r.int("DBSIZE");
    assert!(left < 20000, "no eviction with replica-ignore-maxmemory no");
}

const SMALL_REPLICA: [&str; 4] = ["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random"];

#[test]
fn a_replica_leaves_eviction_to_its_master() {
    let master = Server::start();
    let port = master.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend(SMALL_REPLICA);
    let replica = Server::start_with(&args);
    let mut r = replica.raw();
    eventually(10, "the link", || link_up(&mut r));
    leaves_eviction_to_the_master(&mut master.raw(), &mut r);
}

#[test]
fn a_redis_replica_leaves_eviction_to_its_master_too() {
    let what = "replica eviction on Redis";
    let Some(master) = Server::start_reference(what) else { return };
    let port = master.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend(SMALL_REPLICA);
    let Some(replica) = Server::start_reference_with(what, &args) else { return };
    let mut r = replica.raw();
    eventually(20, "the link", || link_up(&mut r));
    leaves_eviction_to_the_master(&mut master.raw(), &mut r);
}

/// Replication's share of the network totals shows in INFO, as Redis 7.0 counts it: the
/// master's `total_net_repl_output_bytes` holds what it sends its replica (the full sync's
/// payload, then the stream), the replica's `total_net_repl_input_bytes` what it reads; both
/// are also in the totals (`total_net_output_bytes`, `total_net_input_bytes`). The same checks
/// pass on a Redis 7.0 pair.
#[test]
fn replication_traffic_is_counted() {
    fn check(master: &Server, replica: &Server) {
        let (mut m, mut r) = (master.raw(), replica.raw());
        r.expect(&format!("REPLICAOF 127.0.0.1 {}", master.port), b"+OK\r\n");
        eventually(10, "the link", || link_up(&mut r));
        m.expect("WAIT 1 5000", b":1\r\n");
        let stat = |c: &mut Raw, f: &str| -> u64 { c.info_field("stats", f).parse().unwrap() };
        let repl_out = stat(&mut m, "total_net_repl_output_bytes");
        let repl_in = stat(&mut r, "total_net_repl_input_bytes");
        // At least the RDB payload (its header and footer alone are more than 9 bytes).
        assert!(repl_out > 9 && repl_in > 9, "{repl_out} {repl_in}");
        let (out, input) =
            (stat(&mut m, "total_net_output_bytes"), stat(&mut r, "total_net_input_bytes"));
        let value = "x".repeat(100_000);
        assert_eq!(m.call(&["SET", "big", &value]), b"+OK\r\n");
        m.expect("WAIT 1 5000", b":1\r\n");
        let sent = stat(&mut m, "total_net_repl_output_bytes") - repl_out;
        let read = stat(&mut r, "total_net_repl_input_bytes") - repl_in;
        // The SET as propagated, plus a PING or GETACK at most.
        assert!((100_000..101_000).contains(&sent), "sent {sent}");
        assert!((100_000..101_000).contains(&read), "read {read}");
        // The totals hold them, and the INFO replies.
        let total_out = stat(&mut m, "total_net_output_bytes") - out;
        let total_in = stat(&mut r, "total_net_input_bytes") - input;
        assert!((sent..sent + 20_000).contains(&total_out), "output {total_out}, sent {sent}");
        assert!((read..read + 20_000).contains(&total_in), "input {total_in}, read {read}");
    }
    check(&Server::start(), &Server::start());
    match (Server::start_reference("redis"), Server::start_reference("redis")) {
        (Some(master), Some(replica)) => check(&master, &replica),
        _ => eprintln!("SKIPPED the Redis pair: no reference Redis (VIREO_REFERENCE_REDIS)"),
    }
}

/// Through a replica (`middle`), `bottom` gets the top master's stream as it is: the same
/// replication id and offsets, the database selected before it came (the payload says which),
/// and when `middle` is promoted, `bottom` continues with it without a full resynchronization.
fn chain(top: &mut Raw, top_port: u16, middle: &mut Raw, middle_port: u16, bottom: &mut Raw) {
    top.expect("SET a 1", b"+OK\r\n");
    middle.expect(&format!("REPLICAOF 127.0.0.1 {top_port}"), b"+OK\r\n");
    eventually(20, "the first link", || link_up(middle));
    // The top's stream has db 5 selected when the bottom arrives.
    top.expect("SELECT 5", b"+OK\r\n");
    top.expect("SET five 5", b"+OK\r\n");
    eventually(10, "the write in db 5", || offset_of(middle) == offset_of(top));
    bottom.expect(&format!("REPLICAOF 127.0.0.1 {middle_port}"), b"+OK\r\n");
    eventually(20, "the second link", || link_up(bottom));
    top.expect("SET later 1", b"+OK\r\n");
    top.expect("SELECT 0", b"+OK\r\n");
    top.expect("SET zero 0", b"+OK\r\n");
    // (The top's PINGs move the offset on meanwhile.)
    eventually(10, "the stream down the chain", || {
        let offset = offset_of(top);
        offset_of(middle) == offset && offset_of(bottom) == offset
    });
    let id = top.info_field("replication", "master_replid");
    assert_eq!(bottom.info_field("replication", "master_replid"), id);
    bottom.expect("GET zero", b"$1\r\n0\r\n");
    bottom.expect("SELECT 5", b"+OK\r\n");
    bottom.expect("GET later", b"$1\r\n1\r\n");
    bottom.expect("SELECT 0", b"+OK\r\n");

    // The bottom's link breaks while the top writes: it continues from the middle's backlog.
    let partial: u64 = middle.info_field("stats", "sync_partial_ok").parse().unwrap();
    middle.expect("CLIENT KILL TYPE replica", b":1\r\n");
    top.expect("SET missed 1", b"+OK\r\n");
    eventually(10, "the missed write", || bottom.line("GET missed") == b"$1\r\n1\r\n");
    let now: u64 = middle.info_field("stats", "sync_partial_ok").parse().unwrap();
    assert_eq!(now, partial + 1, "a partial resync from the middle");

    // The middle takes over; the bottom follows it on, from where it was.
    let full = middle.info_field("stats", "sync_full");
    middle.expect("REPLICAOF NO ONE", b"+OK\r\n");
    middle.expect("SET promoted 1", b"+OK\r\n");
    eventually(10, "the new master's write", || bottom.line("GET promoted") == b"$1\r\n1\r\n");
    assert_eq!(middle.info_field("stats", "sync_full"), full, "no full resync");
    assert_eq!(bottom.info_field("replication", "master_replid2"), id);
}

#[test]
fn a_chain_of_vireo_replicas_passes_the_stream_on() {
    let (top, middle, bottom) = (Server::start(), Server::start(), Server::start());
    let (mut t, mut m, mut b) = (top.raw(), middle.raw(), bottom.raw());
    chain(&mut t, top.port, &mut m, middle.port, &mut b);
}

#[test]
fn redis_replicates_through_a_vireo_replica() {
    let Some(top) = Server::start_reference_with(
        "a chain from Redis through Vireo to Redis",
        &["--repl-diskless-sync-delay", "0"],
    ) else {
        return;
    };
    let Some(bottom) = Server::start_reference("a chain to Redis") else { return };
    let middle = Server::start();
    let (mut t, mut m, mut b) = (top.raw(), middle.raw(), bottom.raw());
    chain(&mut t, top.port, &mut m, middle.port, &mut b);
}

#[test]
fn vireo_replicates_through_a_redis_replica() {
    let Some(middle) = Server::start_reference_with(
        "a chain from Vireo through Redis",
        &["--repl-diskless-sync-delay", "0"],
    ) else {
        return;
    };
    let (top, bottom) = (Server::start(), Server::start());
    let (mut t, mut m, mut b) = (top.raw(), middle.raw(), bottom.raw());
    chain(&mut t, top.port, &mut m, middle.port, &mut b);
}

/// A replica keeps a backlog of its master's stream even with no replica of its own: promoted,
/// it lets a sibling that missed the last writes continue from it.
#[test]
fn a_sibling_continues_from_the_promoted_replicas_backlog() {
    let (top, first, second) = (Server::start(), Server::start(), Server::start());
    let (mut t, mut a, mut b) = (top.raw(), first.raw(), second.raw());
    t.expect("SET base 1", b"+OK\r\n");
    for r in [&mut a, &mut b] {
        r.expect(&format!("REPLICAOF 127.0.0.1 {}", top.port), b"+OK\r\n");
        eventually(20, "the link", || link_up(r));
    }
    eventually(10, "both caught up", || offset_of(&mut a) == offset_of(&mut b));
    // The second misses a write (it reconnects a second after its link is cut).
    b.expect("CLIENT KILL TYPE master", b":1\r\n");
    t.expect("SET missed 1", b"+OK\r\n");
    eventually(5, "the first to have it", || a.line("GET missed") == b"$1\r\n1\r\n");
    a.expect("REPLICAOF NO ONE", b"+OK\r\n");
    b.expect(&format!("REPLICAOF 127.0.0.1 {}", first.port), b"+OK\r\n");
    eventually(10, "the missed write", || b.line("GET missed") == b"$1\r\n1\r\n");
    assert_eq!(a.info_field("stats", "sync_full"), "0", "no full resync");
    assert_eq!(a.info_field("stats", "sync_partial_ok"), "1");
}
