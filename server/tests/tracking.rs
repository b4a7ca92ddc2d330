//! Client-side caching (CLIENT TRACKING): RESP3 pushes and RESP2 redirection, BCAST prefixes,
//! OPTIN/OPTOUT, NOLOOP, flushes, expiry, broken redirects, CLIENT TRACKINGINFO, CLIENT LIST
//! and INFO fields.
//!
//! Expected bytes are Redis 7.0.15's, recorded from a reference server.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{encode, show, split_args, Conn, Server};

impl Conn {
    fn text_has(&mut self, line: &str, needle: &str) -> bool {
        let r = self.call(line);
        String::from_utf8_lossy(&r).contains(needle)
    }

    fn info_field(&mut self, section: &str, field: &str) -> String {
        let r = self.call(&format!("INFO {section}"));
        let text = String::from_utf8_lossy(&r).into_owned();
        let prefix = format!("{field}:");
        text.split("\r\n")
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("no {field} in {text}"))
    }
}

/// `>2 invalidate [keys]` as a RESP3 push.
fn push(keys: &[&str]) -> Vec<u8> {
    let mut v = b">2\r\n$10\r\ninvalidate\r\n".to_vec();
    v.extend_from_slice(&encode(keys));
    v
}

const NULL_PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n_\r\n";

#[test]
fn resp3_client_is_told_of_keys_it_read() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    a.expect("GET k1", b"_\r\n");
    a.expect("MGET k2 k3", b"*2\r\n_\r\n_\r\n");
    a.expect("STRLEN k4", b":0\r\n");
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "4");
    assert_eq!(a.info_field("stats", "tracking_total_items"), "4");
    assert_eq!(a.info_field("clients", "tracking_clients"), "1");
    b.expect("SET k1 v", b"+OK\r\n");
    a.expect_bytes(&push(&["k1"]), "SET k1");
    b.expect("MSET k2 1 k3 2", b"+OK\r\n");
    a.expect_bytes(&[push(&["k2"]), push(&["k3"])].concat(), "MSET");
    // Told once: the key is tracked again only when read again.
    b.expect("SET k1 w", b"+OK\r\n");
    a.expect_silence();
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "1");
    // Keys are tracked by name across databases; writes that change nothing tell nobody.
    a.expect("GET k1", b"$1\r\nw\r\n");
    b.expect("SET k1 x NX", b"$-1\r\n");
    a.expect_silence();
    b.expect("SELECT 1", b"+OK\r\n");
    b.expect("SET k1 v", b"+OK\r\n");
    a.expect_bytes(&push(&["k1"]), "SET k1 in db 1");
    // A read-only command that fails still tracks its keys.
    a.expect("LPUSH l x", b":1\r\n");
    a.expect("GET l", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    b.expect("SELECT 0", b"+OK\r\n");
    b.expect("LPUSH l y", b":2\r\n");
    a.expect_bytes(&push(&["l"]), "LPUSH l");
    // After OFF nothing more arrives, but the keys read stay counted until modified (k4, w).
    a.expect("GET w", b"_\r\n");
    a.expect("CLIENT TRACKING OFF", b"+OK\r\n");
    assert_eq!(a.info_field("clients", "tracking_clients"), "0");
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "2");
    b.expect("SET w 1", b"+OK\r\n");
    a.expect_silence();
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "1");
}

#[test]
fn own_writes_are_invalidated_after_the_reply_unless_noloop() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    a.expect("SET k v", b"+OK\r\n");
    a.expect("GET k", b"$1\r\nv\r\n");
    a.send("SET k x");
    a.send("PING");
    a.expect_bytes(&[&b"+OK\r\n"[..], &push(&["k"]), b"+PONG\r\n"].concat(), "SET k");
    // A transaction's invalidations follow EXEC's reply.
    a.expect("GET k", b"$1\r\nx\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("SET k 1", b"+QUEUED\r\n");
    a.expect("PING", b"+QUEUED\r\n");
    a.expect("EXEC", &[&b"*2\r\n+OK\r\n+PONG\r\n"[..], &push(&["k"])].concat());
    // Pushes survive CLIENT REPLY OFF.
    a.expect("GET k", b"$1\r\n1\r\n");
    a.send("CLIENT REPLY OFF");
    a.send("SET k 2");
    a.expect_bytes(&push(&["k"]), "SET k with replies off");
    a.expect("CLIENT REPLY ON", b"+OK\r\n");
    // NOLOOP: the client's own writes tell it nothing, and still drop the key.
    a.expect("CLIENT TRACKING ON NOLOOP", b"+OK\r\n");
    a.expect("GET z", b"_\r\n");
    a.expect("SET z 1", b"+OK\r\n");
    a.expect_silence();
    let mut b = Conn::new(&srv);
    b.expect("DEL z", b":1\r\n");
    a.expect_silence();
    a.expect("GET z", b"_\r\n");
    b.expect("SET z 1", b"+OK\r\n");
    a.expect_bytes(&push(&["z"]), "SET z by another client");
}

#[test]
fn resp2_clients_redirect_to_a_subscriber() {
    let srv = Server::start();
    let mut a = Conn::new(&srv);
    let mut b = Conn::new(&srv);
    let mut r = Conn::new(&srv);
    let rid = r.int("CLIENT ID");
    r.expect(
        "SUBSCRIBE __redis__:invalidate",
        b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n",
    );
    a.expect(&format!("CLIENT TRACKING ON REDIRECT {rid}"), b"+OK\r\n");
    assert_eq!(a.int("CLIENT GETREDIR"), rid);
    a.expect("GET k", b"$-1\r\n");
    b.expect("SET k 1", b"+OK\r\n");
    let msg = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
    r.expect_bytes(&[&msg[..], b"*1\r\n$1\r\nk\r\n"].concat(), "SET k");
    // A flush sends a null, in the tracking client's protocol.
    b.expect("FLUSHDB", b"+OK\r\n");
    r.expect_bytes(&[&msg[..], b"$-1\r\n"].concat(), "FLUSHDB");
    // The tracking client's own write goes to the redirect target too.
    a.expect("GET k", b"$-1\r\n");
    a.expect("SET k 2", b"+OK\r\n");
    r.expect_bytes(&[&msg[..], b"*1\r\n$1\r\nk\r\n"].concat(), "own SET k");
    a.expect_silence();
    // A pattern subscription is pub/sub mode too; no subscription at all: nothing can be sent.
    r.expect("UNSUBSCRIBE", b"*3\r\n$11\r\nunsubscribe\r\n$20\r\n__redis__:invalidate\r\n:0\r\n");
    r.expect("PSUBSCRIBE zz*", b"*3\r\n$10\r\npsubscribe\r\n$3\r\nzz*\r\n:1\r\n");
    a.expect("GET k", b"$1\r\n2\r\n");
    b.expect("SET k 1", b"+OK\r\n");
    r.expect_bytes(&[&msg[..], b"*1\r\n$1\r\nk\r\n"].concat(), "SET k, psubscribed");
    r.expect("PUNSUBSCRIBE", b"*3\r\n$12\r\npunsubscribe\r\n$3\r\nzz*\r\n:0\r\n");
    a.expect("GET k", b"$1\r\n1\r\n");
    b.expect("SET k 2", b"+OK\r\n");
    r.expect_silence();
    // A RESP3 target gets pushes, subscribed or not; it sees them before its own reply.
    assert_eq!(r.call("HELLO 3")[0], b'%');
    a.expect("GET k", b"$1\r\n2\r\n");
    b.expect("SET k 1", b"+OK\r\n");
    r.expect_bytes(&push(&["k"]), "SET k, RESP3 target");
    b.expect("FLUSHDB", b"+OK\r\n");
    r.expect_bytes(b">2\r\n$10\r\ninvalidate\r\n$-1\r\n", "FLUSHDB, RESP3 target");
    a.expect("GET k", b"$-1\r\n");
    r.expect("SET k 1", &[push(&["k"]), b"+OK\r\n".to_vec()].concat());
    // The target leaves: the redirect is broken.
    drop(r);
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.text_has(&format!("CLIENT LIST ID {rid}"), "id=") {
        assert!(Instant::now() < deadline, "the target never left");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.expect("GET k", b"$1\r\n1\r\n");
    b.expect("SET k 2", b"+OK\r\n");
    a.expect_silence();
    assert!(a.text_has("CLIENT INFO", "flags=tR "));
    let info = a.call("CLIENT TRACKINGINFO");
    let want = format!(
        "*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{rid}\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    assert_eq!(show(&info), show(want.as_bytes()));
    assert!(a.text_has("CLIENT INFO", &format!("redir={rid} ")));
    // In RESP3 the tracking client itself hears of it.
    assert_eq!(a.call("HELLO 3")[0], b'%');
    a.expect("GET k", b"$1\r\n2\r\n");
    b.expect("SET k 3", b"+OK\r\n");
    let broken = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{rid}\r\n");
    a.expect_bytes(broken.as_bytes(), "SET k, broken redirect");
    // Tracking again clears it.
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    a.expect(
        "CLIENT TRACKINGINFO",
        b"%3\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n",
    );
}

#[test]
fn bcast_sends_matching_keys_once_per_batch() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CLIENT TRACKING ON BCAST PREFIX a PREFIX b", b"+OK\r\n");
    assert!(a.text_has("CLIENT INFO", "flags=tB "));
    // One pipelined batch: keys sorted and deduplicated, one message per prefix.
    let lines = ["SET a2 1", "SET a1 1", "SET b1 1", "SET c1 1", "SET a2 2", "DEL a1"];
    let batch: Vec<u8> = lines.iter().flat_map(|l| encode(&split_args(l))).collect();
    b.s.write_all(&batch).unwrap();
    b.expect_bytes(b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n:1\r\n", "batch");
    a.expect_bytes(&[push(&["a1", "a2"]), push(&["b1"])].concat(), "batch");
    a.expect_silence();
    // Without NOLOOP the client hears of its own writes, after the replies of the batch (both
    // commands go in one write, so that the server reads them as one batch).
    let own: Vec<u8> = ["SET a3 1", "PING"].iter().flat_map(|l| encode(&split_args(l))).collect();
    a.s.write_all(&own).unwrap();
    a.expect_bytes(&[&b"+OK\r\n+PONG\r\n"[..], &push(&["a3"])].concat(), "own SET");
    // Prefixes add up; BCAST alone adds the empty prefix, matching every key.
    a.expect("CLIENT TRACKING ON BCAST NOLOOP", b"+OK\r\n");
    assert_eq!(a.info_field("stats", "tracking_total_prefixes"), "3");
    a.expect("SET a4 1", b"+OK\r\n");
    a.expect("SET zz 1", b"+OK\r\n");
    a.expect_silence();
    b.expect("SET a5 1", b"+OK\r\n");
    a.expect_bytes(&[push(&["a5"]), push(&["a5"])].concat(), "SET a5");
    a.expect(
        "CLIENT TRACKINGINFO",
        b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*3\r\n$0\r\n\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    // BCAST clients remember no keys.
    a.expect("GET a1", b"_\r\n");
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "0");
    // Disconnecting frees the prefixes.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.info_field("stats", "tracking_total_prefixes") != "0" {
        assert!(Instant::now() < deadline, "prefixes never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(b.info_field("clients", "tracking_clients"), "0");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CLIENT TRACKING ON OPTIN", b"+OK\r\n");
    a.expect("GET x1", b"_\r\n");
    a.expect("CLIENT CACHING YES", b"+OK\r\n");
    a.expect(
        "CLIENT TRACKINGINFO",
        b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n",
    );
    a.expect("GET x2", b"_\r\n");
    a.expect("GET x3", b"_\r\n");
    // A transaction is one command for CACHING; CLIENT subcommands do not consume it.
    a.expect("CLIENT CACHING YES", b"+OK\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("GET x4", b"+QUEUED\r\n");
    a.expect("GET x5", b"+QUEUED\r\n");
    a.expect("EXEC", b"*2\r\n_\r\n_\r\n");
    a.expect("GET x6", b"_\r\n");
    a.expect("CLIENT CACHING YES", b"+OK\r\n");
    a.int("CLIENT ID");
    a.expect("GET x7", b"_\r\n");
    b.expect("MSET x1 1 x2 1 x3 1 x4 1 x5 1 x6 1 x7 1", b"+OK\r\n");
    a.expect_bytes(&[push(&["x2"]), push(&["x4"]), push(&["x5"]), push(&["x7"])].concat(), "MSET");
    a.expect_silence();
    a.expect("CLIENT TRACKING OFF", b"+OK\r\n");
    a.expect("CLIENT TRACKING ON OPTOUT", b"+OK\r\n");
    a.expect("GET y1", b"_\r\n");
    a.expect("CLIENT CACHING NO", b"+OK\r\n");
    a.expect("GET y2", b"_\r\n");
    a.expect("GET y3", b"_\r\n");
    b.expect("MSET y1 1 y2 1 y3 1", b"+OK\r\n");
    a.expect_bytes(&[push(&["y1"]), push(&["y3"])].concat(), "MSET");
    a.expect_silence();
}

#[test]
fn flushes_send_a_null_to_every_tracking_client() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    let mut c = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    c.expect("CLIENT TRACKING ON BCAST PREFIX q", b"+OK\r\n");
    a.expect("GET f", b"_\r\n");
    a.expect("GET g", b"_\r\n");
    b.expect("SELECT 3", b"+OK\r\n");
    b.expect("FLUSHDB", b"+OK\r\n");
    a.expect_bytes(NULL_PUSH, "FLUSHDB");
    c.expect_bytes(NULL_PUSH, "FLUSHDB");
    // The whole table empties, whatever the database.
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "0");
    a.expect("GET f", b"_\r\n");
    b.expect("SET f 1", b"+OK\r\n");
    a.expect_bytes(&push(&["f"]), "SET f after the flush");
    // The flushing client's own null follows its reply.
    a.send("FLUSHALL");
    a.send("PING");
    a.expect_bytes(&[&b"+OK\r\n"[..], NULL_PUSH, b"+PONG\r\n"].concat(), "own FLUSHALL");
    c.expect_bytes(NULL_PUSH, "FLUSHALL");
}

#[test]
fn expired_keys_are_invalidated() {
    let srv = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut a = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    // Active expiry.
    b.expect("SET e1 1 PX 200", b"+OK\r\n");
    a.expect("GET e1", b"$1\r\n1\r\n");
    let got = a.reply_within(Duration::from_secs(5)).expect("invalidation of e1");
    assert_eq!(show(&got), show(&push(&["e1"])));
    // Lazy expiry, by another client's read.
    b.expect("DEBUG SET-ACTIVE-EXPIRE 0", b"+OK\r\n");
    b.expect("SET e2 1 PX 50", b"+OK\r\n");
    a.expect("GET e2", b"$1\r\n1\r\n");
    std::thread::sleep(Duration::from_millis(100));
    b.expect("GET e2", b"$-1\r\n");
    a.expect_bytes(&push(&["e2"]), "lazy expiry");
    // BCAST hears of expired keys too.
    let mut c = Conn::resp3(&srv);
    c.expect("CLIENT TRACKING ON BCAST PREFIX e", b"+OK\r\n");
    b.expect("DEBUG SET-ACTIVE-EXPIRE 1", b"+OK\r\n");
    b.expect("SET e3 1 PX 50", b"+OK\r\n");
    c.expect_bytes(&push(&["e3"]), "SET e3");
    let got = c.reply_within(Duration::from_secs(5)).expect("invalidation of e3");
    assert_eq!(show(&got), show(&push(&["e3"])));
}

#[test]
fn reset_and_client_list() {
    let srv = Server::start();
    let mut a = Conn::new(&srv);
    let mut b = Conn::new(&srv);
    let aid = a.int("CLIENT ID");
    a.expect("CLIENT TRACKING ON OPTIN NOLOOP", b"+OK\r\n");
    assert!(b.text_has("CLIENT LIST", &format!("id={aid} ")));
    let list = String::from_utf8_lossy(&b.call(&format!("CLIENT LIST ID {aid}"))).into_owned();
    assert!(list.contains(" flags=t ") && list.contains(" redir=0 "), "{list}");
    assert_eq!(b.info_field("clients", "tracking_clients"), "1");
    a.expect("RESET", b"+RESET\r\n");
    assert_eq!(a.int("CLIENT GETREDIR"), -1);
    let list = String::from_utf8_lossy(&b.call(&format!("CLIENT LIST ID {aid}"))).into_owned();
    assert!(list.contains(" flags=N ") && list.contains(" redir=-1 "), "{list}");
    assert_eq!(b.info_field("clients", "tracking_clients"), "0");
}

#[test]
fn the_table_is_kept_within_tracking_table_max_keys() {
    let srv = Server::start();
    let mut a = Conn::resp3(&srv);
    let mut b = Conn::new(&srv);
    a.expect("CONFIG SET tracking-table-max-keys 10", b"+OK\r\n");
    a.expect("CLIENT TRACKING ON", b"+OK\r\n");
    let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
    let r = a.call(&format!("MGET {}", keys.join(" ")));
    assert!(r.starts_with(b"*300\r\n"), "{}", show(&r));
    // The server drops keys from the table on its own, telling the client of each as if it had
    // been modified, until 10 are left (several steps: at most 100 keys at first).
    let mut dropped = std::collections::BTreeSet::new();
    while dropped.len() < 290 {
        let got = a.reply_within(Duration::from_secs(5)).expect("an invalidation");
        let key = keys
            .iter()
            .find(|k| got == push(&[k.as_str()]))
            .unwrap_or_else(|| panic!("not an invalidation of a key read: {}", show(&got)));
        assert!(dropped.insert(key.clone()), "{key} twice");
    }
    a.expect_silence();
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "10");
    // The keys still tracked are invalidated when modified; the dropped ones are not again.
    let kept: Vec<&String> = keys.iter().filter(|k| !dropped.contains(*k)).collect();
    b.expect(&format!("SET {} v", kept[0]), b"+OK\r\n");
    a.expect_bytes(&push(&[kept[0].as_str()]), "SET of a kept key");
    let gone = dropped.iter().next().unwrap();
    b.expect(&format!("SET {gone} v"), b"+OK\r\n");
    a.expect_silence();
    // 0 is no limit.
    a.expect("CONFIG SET tracking-table-max-keys 0", b"+OK\r\n");
    let r = a.call(&format!("MGET {}", keys.join(" ")));
    assert!(r.starts_with(b"*300\r\n"));
    a.expect_silence();
    assert_eq!(a.info_field("stats", "tracking_total_keys"), "300");
}

/// Every command of `tracking/invalidations.txt` answers as the reference Redis does and tells
/// tracking clients the same (see `common::run_tracking_differential`).
#[test]
fn invalidations_match_reference_redis() {
    let Some(reference) = Server::start_reference("tracking invalidations") else { return };
    let vireo = Server::start_with(&["--enable-debug-command", "local"]);
    let text = include_str!("tracking/invalidations.txt");
    let mut failures = Vec::new();
    let ports = (reference.port, vireo.port);
    common::run_tracking_differential("invalidations.txt", text, ports, &mut failures);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
