//! FAILOVER: a master hands its role to a replica with no write lost, between Vireo servers and
//! with a Redis 7.0 reference on either side (skipped, with a message, without one).

use crate::common;

use std::time::Duration;

use common::{eventually, Conn, Raw, Server};

fn role(r: &mut Raw) -> String {
    r.info_field("replication", "role")
}

fn failover_state(r: &mut Raw) -> String {
    r.info_field("replication", "master_failover_state")
}

/// `replica` follows `master`, with the data written before and an acknowledged offset.
fn replicating(master: &mut Raw, replica: &mut Raw, master_port: u16) {
    replica.expect(&format!("REPLICAOF 127.0.0.1 {master_port}"), b"+OK\r\n");
    master.expect("SET before 1", b"+OK\r\n");
    master.expect("RPUSH list a b c", b":3\r\n");
    eventually(20, "the link", || replica.info_field("replication", "master_link_status") == "up");
    master.expect("WAIT 1 5000", b":1\r\n");
}

/// FAILOVER on `master`: its replica becomes the master, continuing the same history without a
/// full resynchronization, and the old master follows it.
fn hands_over(master: &mut Raw, replica: &mut Raw, replica_port: u16) {
    let old_id = master.info_field("replication", "master_replid");
    let full_syncs = replica.info_field("stats", "sync_full");
    master.expect("FAILOVER", b"+OK\r\n");
    eventually(10, "the roles to swap", || role(master) == "slave" && role(replica) == "master");
    assert_eq!(master.info_field("replication", "master_port"), replica_port.to_string());
    eventually(10, "the old master's link", || {
        master.info_field("replication", "master_link_status") == "up"
    });
    assert_eq!(failover_state(master), "no-failover");
    // The new master continues the old history: the old id is its second one.
    assert_eq!(replica.info_field("replication", "master_replid2"), old_id);
    assert_eq!(master.info_field("replication", "master_replid"), {
        replica.info_field("replication", "master_replid")
    });
    assert_eq!(replica.info_field("stats", "sync_full"), full_syncs, "no full resync");
    // The old master has everything, takes no writes, and follows the new one.
    master.expect("LRANGE list 0 -1", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    master.expect("SET x 1", b"-READONLY You can't write against a read only replica.\r\n");
    replica.expect("SET after 2", b"+OK\r\n");
    eventually(10, "the new master's writes", || master.line("GET after") == b"$1\r\n2\r\n");
}

#[test]
fn a_vireo_replica_takes_over() {
    let (m, r, other) = (Server::start(), Server::start(), Server::start());
    let (mut mr, mut rr, mut or) = (m.raw(), r.raw(), other.raw());
    replicating(&mut mr, &mut rr, m.port);
    // Another replica of the old master follows the new one through it (a chain).
    or.expect(&format!("REPLICAOF 127.0.0.1 {}", m.port), b"+OK\r\n");
    eventually(20, "the other link", || or.info_field("replication", "master_link_status") == "up");
    hands_over(&mut mr, &mut rr, r.port);
    eventually(10, "the write through the chain", || or.line("GET after") == b"$1\r\n2\r\n");
    assert_eq!(or.info_field("replication", "master_port"), m.port.to_string());
    assert_eq!(
        or.info_field("replication", "master_replid"),
        rr.info_field("replication", "master_replid")
    );
}

#[test]
fn a_redis_replica_takes_over_from_vireo() {
    let Some(redis) = Server::start_reference("failover to Redis") else { return };
    let vireo = Server::start();
    let (mut m, mut r) = (vireo.raw(), redis.raw());
    replicating(&mut m, &mut r, vireo.port);
    hands_over(&mut m, &mut r, redis.port);
}

#[test]
fn a_vireo_replica_takes_over_from_redis() {
    let Some(redis) =
        Server::start_reference_with("failover from Redis", &["--repl-diskless-sync-delay", "0"])
    else {
        return;
    };
    let vireo = Server::start();
    let (mut m, mut r) = (redis.raw(), vireo.raw());
    replicating(&mut m, &mut r, redis.port);
    hands_over(&mut m, &mut r, vireo.port);
}

/// Writes wait while the master waits for its replica; a timeout (or ABORT) lets them through
/// on the master it still is. With FORCE and TO, it fails over anyway.
#[test]
fn writes_wait_and_a_replica_that_does_not_catch_up_stops_the_failover() {
    let (m, r) = (Server::start(), Server::start_with(&["--enable-debug-command", "local"]));
    let (mut mr, mut rr) = (m.raw(), r.raw());
    replicating(&mut mr, &mut rr, m.port);
    let target = format!("TO 127.0.0.1 {}", r.port);

    // The replica stalls: it applies and acknowledges nothing for a while.
    let mut sleeper = r.raw();
    sleeper.send_cmd(&["DEBUG", "SLEEP", "1.5"]);
    std::thread::sleep(Duration::from_millis(100));
    mr.expect("SET during 1", b"+OK\r\n");
    mr.expect(&format!("FAILOVER {target} TIMEOUT 400"), b"+OK\r\n");
    assert_eq!(failover_state(&mut mr), "waiting-for-sync");
    mr.expect("FAILOVER", b"-ERR FAILOVER already in progress.\r\n");
    mr.expect("REPLICAOF NO ONE", b"-ERR REPLICAOF not allowed while failing over.\r\n");
    let mut writer = Conn::new(&m);
    writer.send("SET paused 1");
    assert_eq!(writer.reply_within(Duration::from_millis(200)), None, "the write waits");
    // Reads go on.
    mr.expect("GET during", b"$1\r\n1\r\n");
    eventually(5, "the timeout", || failover_state(&mut mr) == "no-failover");
    assert_eq!(writer.reply(), b"+OK\r\n");
    assert_eq!(role(&mut mr), "master");
    sleeper.read_reply();

    // ABORT ends the wait at once.
    sleeper.send_cmd(&["DEBUG", "SLEEP", "1"]);
    std::thread::sleep(Duration::from_millis(100));
    mr.expect("SET during 2", b"+OK\r\n");
    mr.expect("FAILOVER", b"+OK\r\n");
    mr.expect("FAILOVER ABORT", b"+OK\r\n");
    assert_eq!(failover_state(&mut mr), "no-failover");
    mr.expect("SET free 1", b"+OK\r\n");
    sleeper.read_reply();

    // FORCE: past the timeout the replica is asked to take over, caught up or not.
    sleeper.send_cmd(&["DEBUG", "SLEEP", "1"]);
    std::thread::sleep(Duration::from_millis(100));
    mr.expect("SET during 3", b"+OK\r\n");
    mr.expect(&format!("FAILOVER {target} FORCE TIMEOUT 200"), b"+OK\r\n");
    eventually(10, "the forced failover", || role(&mut mr) == "slave" && role(&mut rr) == "master");
    sleeper.read_reply();
}

#[test]
fn failover_arguments_and_states_are_checked_as_redis_does() {
    let (m, r) = (Server::start(), Server::start());
    let mut mr = m.raw();
    mr.expect("FAILOVER", b"-ERR FAILOVER requires connected replicas.\r\n");
    mr.expect("FAILOVER ABORT", b"-ERR No failover in progress.\r\n");
    mr.expect("FAILOVER TIMEOUT 0", b"-ERR FAILOVER timeout must be greater than 0\r\n");
    mr.expect("FAILOVER TIMEOUT x", b"-ERR value is not an integer or out of range\r\n");
    mr.expect("FAILOVER TO 127.0.0.1 x", b"-ERR value is not an integer or out of range\r\n");
    for bad in ["FAILOVER foo", "FAILOVER ABORT TIMEOUT 10", "FAILOVER TO 127.0.0.1"] {
        mr.expect(bad, b"-ERR syntax error\r\n");
    }
    let mut rr = r.raw();
    replicating(&mut mr, &mut rr, m.port);
    mr.expect(
        "FAILOVER TO 127.0.0.1 1",
        b"-ERR FAILOVER target HOST and PORT is not a replica.\r\n",
    );
    mr.expect(
        &format!("FAILOVER TO 127.0.0.1 {} FORCE", r.port),
        b"-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n",
    );
    rr.expect("FAILOVER", b"-ERR FAILOVER is not valid when server is a replica.\r\n");
    // Only the replica's own history may ask it to take over.
    let mut asker = r.raw();
    asker.expect(
        &format!("PSYNC {} 1 FAILOVER", "0".repeat(40)),
        b"-ERR PSYNC FAILOVER replid must match my replid.\r\n",
    );
    assert_eq!(role(&mut rr), "slave");
}
