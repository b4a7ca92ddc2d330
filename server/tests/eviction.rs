//! maxmemory and eviction: the OOM refusal, which keys each policy evicts, the statistics, and
//! what eviction propagates. Limits are set relative to the server's own `used_memory`, with
//! values large enough (1 KB) that the dataset dominates it.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::Raw;

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn info_u64(r: &mut Raw, section: &str, field: &str) -> u64 {
    r.info_field(section, field).parse().unwrap()
}

fn used(r: &mut Raw) -> u64 {
    info_u64(r, "memory", "used_memory")
}

/// Writes `keys` (1 KB values), each with an expiry of `ttl(i)` seconds if it says so.
fn fill(r: &mut Raw, keys: &[String], ttl: impl Fn(usize) -> Option<u64>) {
    let value = "v".repeat(1000);
    for (i, k) in keys.iter().enumerate() {
        match ttl(i) {
            Some(t) => r.send_cmd(&["SET", k, &value, "EX", &t.to_string()]),
            None => r.send_cmd(&["SET", k, &value]),
        }
    }
    for _ in keys {
        assert_eq!(r.read_reply(), b"+OK\r\n");
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn existing(r: &mut Raw, keys: &[String]) -> HashSet<String> {
    for k in keys {
        r.send_cmd(&["EXISTS", k]);
    }
    let mut out = HashSet::new();
    for k in keys {
        if r.read_reply() == b":1\r\n" {
            out.insert(k.clone());
        }
    }
    out
}

/// Lowers maxmemory so that about `evict_bytes` must go, then writes one key.
fn squeeze(r: &mut Raw, evict_bytes: u64) {
    let limit = used(r) - evict_bytes;
    r.expect(&format!("CONFIG SET maxmemory {limit}"), b"+OK\r\n");
    r.expect("SET trigger x", b"+OK\r\n");
}

/// Writes until the server refuses with OOM (eviction may take a few rounds first).
fn wait_for_oom(r: &mut Raw) {
    for _ in 0..500 {
        if r.line("SET more x") == OOM {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("never refused a write");
}

#[test]
fn noeviction_refuses_writes_but_serves_reads() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    fill(&mut r, &names("k", 50), |_| None);
    r.expect("CONFIG SET maxmemory 1", b"+OK\r\n");
    r.expect("SET a b", OOM);
    r.expect("APPEND k:1 more", OOM);
    // Reads and commands that cannot grow memory still run.
    assert_eq!(r.line("GET k:1").len(), 1000 + 9);
    r.expect("EXISTS k:2", b":1\r\n");
    r.expect("DEL k:3", b":1\r\n");
    // CLIENT NO-EVICT is about client eviction: the OOM check still applies.
    r.expect("CLIENT NO-EVICT on", b"+OK\r\n");
    r.expect("SET a b", OOM);
    assert_eq!(r.info_field("errorstats", "errorstat_OOM"), "count=3");
    let set = r.info_field("commandstats", "cmdstat_set");
    assert!(set.contains("calls=50,") && set.contains("rejected_calls=2,"), "{set}");
    assert_eq!(info_u64(&mut r, "stats", "evicted_keys"), 0);
    assert_eq!(r.info_field("memory", "maxmemory_policy"), "noeviction");
    // Raising the limit lets writes in again.
    r.expect("CONFIG SET maxmemory 0", b"+OK\r\n");
    r.expect("SET a b", b"+OK\r\n");
    r.expect("DBSIZE", b":50\r\n");
}

#[test]
fn lower_maxmemory_evicts_on_next_write() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "allkeys-random"]);
    let mut r = srv.raw();
    let keys = names("k", 2000);
    fill(&mut r, &keys, |_| None);
    let before = used(&mut r);
    let limit = before - 500_000;
    r.expect(&format!("CONFIG SET maxmemory {limit}"), b"+OK\r\n");
    r.expect("SET x y", b"+OK\r\n");
    let left = r.int("DBSIZE") as u64;
    let evicted = info_u64(&mut r, "stats", "evicted_keys");
    assert!(evicted >= 300, "evicted {evicted}");
    // Every command evicts while over the limit: INFO may have evicted a few more.
    assert!((2001..2010).contains(&(left + evicted)), "{left} left, {evicted} evicted");
    assert!(used(&mut r) <= limit + 64 * 1024, "{} > {limit}", used(&mut r));
    assert!(info_u64(&mut r, "stats", "total_eviction_exceeded_time") < 10_000);
    assert_eq!(info_u64(&mut r, "stats", "current_eviction_exceeded_time"), 0);
    // RESETSTAT clears the counter. The limit goes first: used memory sits at it, so any
    // allocation (a reply buffer growing for INFO) would make the next command evict again.
    r.expect("CONFIG SET maxmemory 0", b"+OK\r\n");
    r.expect("CONFIG RESETSTAT", b"+OK\r\n");
    assert_eq!(info_u64(&mut r, "stats", "evicted_keys"), 0);
}

#[test]
fn steady_writes_stay_near_maxmemory() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let mut r = srv.raw();
    let base = used(&mut r);
    let limit = base + 2_000_000;
    r.expect(&format!("CONFIG SET maxmemory {limit}"), b"+OK\r\n");
    let value = "v".repeat(200);
    for round in 0..10 {
        for i in 0..2000 {
            r.send_cmd(&["SET", &format!("k:{round}:{i}"), &value]);
        }
        for _ in 0..2000 {
            assert_eq!(r.read_reply(), b"+OK\r\n");
        }
        let u = used(&mut r);
        assert!(u <= limit + limit / 20, "round {round}: used {u} > limit {limit}");
    }
    assert!(info_u64(&mut r, "stats", "evicted_keys") > 5000);
}

/// Each volatile policy evicts only keys with an expiry, and refuses writes once none is left.
#[test]
fn volatile_policies_evict_only_keys_with_ttl() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
        let srv = common::Server::start_with(&["--maxmemory-policy", policy]);
        let mut r = srv.raw();
        let persistent = names("p", 500);
        let volatile = names("v", 500);
        fill(&mut r, &persistent, |_| None);
        fill(&mut r, &volatile, |i| Some(1000 + i as u64));
        squeeze(&mut r, 200_000);
        assert_eq!(existing(&mut r, &persistent).len(), 500, "{policy}");
        let left = existing(&mut r, &volatile).len();
        assert!(left < 500 - 100 && left > 0, "{policy}: {left} volatile keys left");
        // evicted_keys counts evictions; its exact value against the keys gone is not
        // asserted here (a known discrepancy under load, in the notes of the eviction work).
        assert!(info_u64(&mut r, "stats", "evicted_keys") > 0, "{policy}");
        // Below every volatile key's worth: they all go, then writes are refused (once the
        // eviction that ran out of time per call has finished in the background).
        r.expect("CONFIG SET maxmemory 1", b"+OK\r\n");
        wait_for_oom(&mut r);
        assert_eq!(existing(&mut r, &volatile).len(), 0, "{policy}");
        assert_eq!(existing(&mut r, &persistent).len(), 500, "{policy}");
    }
}

/// volatile-ttl evicts the keys closest to expiring first (approximately: from samples).
#[test]
fn volatile_ttl_evicts_soonest_first() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "volatile-ttl"]);
    let mut r = srv.raw();
    let keys = names("v", 1000);
    // Shuffled TTLs: key i expires in 1000 + perm(i) seconds.
    let perm = |i: usize| (i * 617) % 1000;
    fill(&mut r, &keys, |i| Some(1000 + perm(i) as u64));
    squeeze(&mut r, 300_000);
    let left = existing(&mut r, &keys);
    let evicted: Vec<usize> = (0..1000).filter(|&i| !left.contains(&keys[i])).map(perm).collect();
    assert!(evicted.len() >= 150, "evicted {}", evicted.len());
    // Nearly all evicted keys were among the soonest to expire: none from the latest half.
    let late = evicted.iter().filter(|&&rank| rank >= 500).count();
    assert!(late <= evicted.len() / 20, "{late} of {} evicted keys had late TTLs", evicted.len());
}

/// allkeys-lru keeps the keys read recently rather than those left idle.
#[test]
fn allkeys_lru_prefers_idle_keys() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let mut r = srv.raw();
    let keys = names("k", 1000);
    fill(&mut r, &keys, |_| None);
    // The LRU clock has a one-second resolution.
    std::thread::sleep(Duration::from_millis(2100));
    let hot: Vec<String> = keys.iter().step_by(2).cloned().collect();
    let cold: Vec<String> = keys.iter().skip(1).step_by(2).cloned().collect();
    for k in &hot {
        r.send_cmd(&["GET", k]);
    }
    for _ in &hot {
        r.read_reply();
    }
    squeeze(&mut r, 400_000);
    let hot_left = existing(&mut r, &hot).len() as f64 / hot.len() as f64;
    let cold_left = existing(&mut r, &cold).len() as f64 / cold.len() as f64;
    assert!(cold_left < 0.9, "nothing evicted? cold {cold_left}");
    assert!(hot_left > cold_left + 0.25, "hot kept {hot_left:.2}, cold kept {cold_left:.2}");
}

/// allkeys-lfu keeps the keys read often.
#[test]
fn allkeys_lfu_prefers_rare_keys() {
    let srv =
        common::Server::start_with(&["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"]);
    let mut r = srv.raw();
    let keys = names("k", 1000);
    fill(&mut r, &keys, |_| None);
    let hot: Vec<String> = keys.iter().step_by(2).cloned().collect();
    let cold: Vec<String> = keys.iter().skip(1).step_by(2).cloned().collect();
    for _ in 0..5 {
        for k in &hot {
            r.send_cmd(&["GET", k]);
        }
        for _ in &hot {
            r.read_reply();
        }
    }
    squeeze(&mut r, 400_000);
    let hot_left = existing(&mut r, &hot).len() as f64 / hot.len() as f64;
    let cold_left = existing(&mut r, &cold).len() as f64 / cold.len() as f64;
    assert!(cold_left < 0.9, "nothing evicted? cold {cold_left}");
    assert!(hot_left > cold_left + 0.4, "hot kept {hot_left:.2}, cold kept {cold_left:.2}");
}

/// allkeys-random evicts keys with and without an expiry alike.
#[test]
fn allkeys_random_evicts_any_key() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "allkeys-random"]);
    let mut r = srv.raw();
    let persistent = names("p", 500);
    let volatile = names("v", 500);
    fill(&mut r, &persistent, |_| None);
    fill(&mut r, &volatile, |_| Some(1000));
    squeeze(&mut r, 400_000);
    assert!(existing(&mut r, &persistent).len() < 480);
    assert!(existing(&mut r, &volatile).len() < 480);
}

/// Evicted keys are propagated as DEL, or as UNLINK with lazyfree-lazy-eviction.
#[test]
fn eviction_propagates_del_or_unlink() {
    for (lazy, del) in [("no", "DEL"), ("yes", "UNLINK")] {
        let mut h = common::InProcess::new();
        let mut run = |line: &str| h.run(line);
        run("SET a 1");
        run("SET b 2");
        run(&format!("CONFIG SET lazyfree-lazy-eviction {lazy}"));
        run("CONFIG SET maxmemory-policy allkeys-random");
        run("CONFIG SET maxmemory 1");
        // Nothing can get under one byte: both keys go, and the write is refused.
        assert_eq!(run("SET c 3"), OOM);
        assert_eq!(run("DBSIZE"), b":0\r\n");
        let stream = String::from_utf8(h.take_raw()).unwrap();
        let tail: String = stream.split("*1\r\n").next().unwrap().to_string();
        for k in ["a", "b"] {
            let cmd = format!("*2\r\n${}\r\n{del}\r\n$1\r\n{k}\r\n", del.len());
            assert!(tail.contains(&cmd), "{lazy}: no {cmd:?} in {stream:?}");
        }
        assert!(!stream.contains("\r\nc\r\n"), "{stream:?}");
    }
}
