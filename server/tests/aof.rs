//! The append only file: writes survive restarts (every type, transactions, scripts,
//! expiries), BGREWRITEAOF, damaged files, SIGKILL under load, and appendonly directories moved
//! between Vireo and the reference Redis 7.0 in both directions.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDir;
use redis::Value;

/// A server process in a directory that outlives it (so it can be restarted on the same data).
struct Node {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    args: Vec<String>,
    /// Started with SIGXFSZ ignored, so that a file size limit (`prlimit --fsize`) makes its
    /// writes fail with an error instead of killing it.
    ignore_xfsz: bool,
}

fn vireo_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vireo-server"))
}

impl Node {
    fn new(bin: PathBuf, dir: &Path, args: &[&str]) -> Node {
        Node {
            bin,
            dir: dir.to_path_buf(),
            port: 0,
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            ignore_xfsz: false,
        }
    }

    /// Starts the server; false when it exits before it listens (its log says why).
    fn try_start(&mut self) -> bool {
        for _ in 0..5 {
            self.port = common::free_port();
            let log = std::fs::File::create(self.log_path()).unwrap();
            let mut cmd = if self.ignore_xfsz {
                let mut c = Command::new("sh");
                c.args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""]).arg(&self.bin);
                c
            } else {
                Command::new(&self.bin)
            };
            cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .args(&self.args)
                .current_dir(&self.dir)
                .stdin(Stdio::null());
            let mut child = if self.ignore_xfsz {
                // A file size limit would stop the log file too: the log goes through a pipe
                // this process copies into the file.
                let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
                let out = child.stdout.take().unwrap();
                let err = child.stderr.take().unwrap();
                for (mut from, mut to) in [
                    (Box::new(out) as Box<dyn std::io::Read + Send>, log.try_clone().unwrap()),
                    (Box::new(err), log),
                ] {
                    std::thread::spawn(move || std::io::copy(&mut from, &mut to));
                }
                child
            } else {
                cmd.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap()
            };
            if common::wait_loaded(self.port, Some(&mut child)) {
                self.child = Some(child);
                return true;
            }
            let _ = child.kill();
            if let Ok(Some(_)) = child.wait().map(Some) {
                // Exited: a port taken meanwhile is retried; anything else is the answer.
                if !self.log().contains("Address already in use") {
                    return false;
                }
            }
        }
        false
    }

    fn start(&mut self) {
        assert!(self.try_start(), "server did not start; log:\n{}", self.log());
        // Redis answers -LOADING while it loads its files: wait until it is done.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = self.conn();
        while redis::cmd("PING").query::<String>(&mut c).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the log shows `line` within a few seconds (the logger writes from a thread of
    /// its own, so a line can trail the reply of the command that logged it).
    fn logged(&self, line: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log().contains(line) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        c.get_connection().unwrap_or_else(|e| {
            panic!("connect to {} on {}: {e}; log:\n{}", self.bin.display(), self.port, self.log())
        })
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SHUTDOWN (NOSAVE: only the AOF matters here) and wait for the exit.
    fn shutdown(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _: redis::RedisResult<()> =
                redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut self.conn());
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        Value::Nil => "(nil)".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}

fn items(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// Everything observable about the data of databases 0..3, in a canonical form (set members
/// and hash fields sorted; no idle times).
fn dump(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..3 {
        q(c, &["SELECT", &db.to_string()]);
        let mut keys = items(&q(c, &["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let t = text(&q(c, &["TYPE", &k]));
            let exp = text(&q(c, &["PEXPIRETIME", &k]));
            let v = match t.as_str() {
                "string" => text(&q(c, &["GET", &k])),
                "list" => text(&q(c, &["LRANGE", &k, "0", "-1"])),
                "set" => {
                    let mut m = items(&q(c, &["SMEMBERS", &k]));
                    m.sort();
                    m.join(",")
                }
                "zset" => text(&q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "hash" => {
                    let mut f: Vec<String> =
                        items(&q(c, &["HGETALL", &k])).chunks(2).map(|p| p.join("=")).collect();
                    f.sort();
                    f.join(",")
                }
                "stream" => {
                    let mut s = text(&q(c, &["XRANGE", &k, "-", "+"]));
                    let info = items(&q(c, &["XINFO", "STREAM", &k]));
                    // length, last-generated-id, max-deleted-entry-id, entries-added, groups
                    s += &format!(" info={}", info[..10].join(","));
                    if let Value::Array(groups) = q(c, &["XINFO", "GROUPS", &k]) {
                        for g in groups {
                            // entries-read and lag are left out: Redis 7.0 propagates an
                            // XREADGROUP as XCLAIMs that do not carry the group's read counter, so
                            // it is not the same after a reload of an AOF (in Redis neither).
                            let g = items(&g);
                            s += &format!(" group={}", g[..8].join(","));
                            let name = &g[1];
                            let pend = q(c, &["XPENDING", &k, name, "-", "+", "100"]);
                            if let Value::Array(p) = pend {
                                for e in p {
                                    let e = items(&e);
                                    s += &format!(" pel={}/{}/{}", e[0], e[1], e[3]);
                                }
                            }
                            let cons = q(c, &["XINFO", "CONSUMERS", &k, name]);
                            if let Value::Array(cs) = cons {
                                for cv in cs {
                                    let cv = items(&cv);
                                    s += &format!(" consumer={}/{}", cv[1], cv[3]);
                                }
                            }
                        }
                    }
                    s
                }
                _ => String::new(),
            };
            out.push(format!("db{db} {k} {t} exp={exp} {v}"));
        }
    }
    q(c, &["SELECT", "0"]);
    out
}

/// Writes of every type, through every path that propagates something else than the command
/// (relative expiries, INCRBYFLOAT, MULTI/EXEC, scripts, SPOP, XREADGROUP...).
fn write_everything(c: &mut redis::Connection) {
    let far = "4102444800"; // 2100-01-01
    let cmds: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "n", "42"],
        &["INCR", "n"],
        &["APPEND", "s", " world"],
        &["SET", "ttl", "v", "EX", "1000"],
        &["SET", "gone", "v", "PX", "1"],
        &["SETEX", "ttl2", "500", "x"],
        &["SET", "persisted", "x", "EX", "100"],
        &["PERSIST", "persisted"],
        &["SET", "abs", "x"],
        &["EXPIREAT", "abs", far],
        &["INCRBYFLOAT", "f", "1.1"],
        &["INCRBYFLOAT", "f", "2.25"],
        &["SETBIT", "bits", "77", "1"],
        &["PFADD", "hll", "a", "b", "c"],
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["LPUSH", "l", "z"],
        &["LPOP", "l"],
        &["LINSERT", "l", "BEFORE", "c", "bb"],
        &["HSET", "h", "f1", "v1", "f2", "v2", "f3", "3"],
        &["HINCRBY", "h", "f3", "4"],
        &["HINCRBYFLOAT", "h", "fl", "0.5"],
        &["HDEL", "h", "f2"],
        &["SADD", "set", "x", "y", "z"],
        &["SADD", "iset", "1", "2", "3", "4"],
        &["SREM", "set", "y"],
        &["SPOP", "iset"],
        &["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d"],
        &["ZINCRBY", "z", "10", "a"],
        &["ZREM", "z", "b"],
        &["XADD", "st", "1-1", "f", "v"],
        &["XADD", "st", "*", "f", "v2", "g", "w"],
        &["XADD", "st", "*", "f", "v3"],
        &["XDEL", "st", "1-1"],
        &["XGROUP", "CREATE", "st", "g1", "0"],
        &["XGROUP", "CREATE", "st", "g2", "$"],
        &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "st", ">"],
        &["XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "st", ">"],
        &["XGROUP", "CREATECONSUMER", "st", "g1", "carol"],
        &["XADD", "empty", "5-5", "a", "b"],
        &["XDEL", "empty", "5-5"],
        &["XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM"],
        &["SELECT", "1"],
        &["SET", "in1", "one"],
        &["RPUSH", "l1", "x"],
        &["SELECT", "0"],
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1",
            "2",
            "script:s",
            "script:l",
            "sv",
        ],
        &["EVAL", "redis.call('SELECT', 2); redis.call('SET', 'in2', 'two'); return 1", "0"],
        &["DEL", "nonexistent"],
        &["SET", "todel", "x"],
        &["DEL", "todel"],
        &["RENAME", "ttl2", "ttl3"],
    ];
    for cmd in cmds {
        q(c, cmd);
    }
    // A big collection (several 64-item batches in a rewrite).
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("big");
    for i in 0..300 {
        cmd.arg(i);
    }
    let _: i64 = cmd.query(c).unwrap();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("bighash");
    for i in 0..200 {
        cmd.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = cmd.query(c).unwrap();
    // MULTI/EXEC.
    let v: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx1")
        .arg("a")
        .cmd("INCRBY")
        .arg("txn")
        .arg("5")
        .cmd("EXPIRE")
        .arg("tx1")
        .arg("1000")
        .query(c)
        .unwrap();
    assert_eq!(v.len(), 3);
    std::thread::sleep(Duration::from_millis(5));
}

/// Waits for the background AOF rewrite in progress to end.
fn wait_rewrite(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while text(&q(c, &["INFO", "persistence"])).contains("aof_rewrite_in_progress:1") {
        assert!(Instant::now() < deadline, "the AOF rewrite did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn read_manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

/// The incremental file the manifest names last.
fn last_incr(dir: &Path) -> PathBuf {
    let m = read_manifest(dir);
    let line = m.lines().rfind(|l| l.ends_with("type i")).expect("an incr file");
    dir.join("appendonlydir").join(line.split(' ').nth(1).unwrap())
}

#[test]
fn writes_survive_restart_and_rewrite() {
    let tmp = TempDir::new("aof-restart");
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    write_everything(&mut c);
    let before = dump(&mut c);
    assert!(before.iter().any(|l| l.contains("script:l")), "{before:?}");
    assert!(!before.iter().any(|l| l.contains(" gone ")));
    // Redis 7.0's layout.
    let m = read_manifest(&tmp.0);
    assert_eq!(
        m,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    // Killed, not shut down: what was acknowledged was written.
    node.kill9();
    node.start();
    let mut c = node.conn();
    assert_eq!(dump(&mut c), before);

    // Overwrites grow the incremental file; a rewrite makes the directory smaller.
    for i in 0..200 {
        q(&mut c, &["SET", "churn", &i.to_string()]);
    }
    let before = dump(&mut c);
    let aofdir = tmp.0.join("appendonlydir");
    let grown = dir_size(&aofdir);
    assert_eq!(
        text(&q(&mut c, &["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    wait_rewrite(&mut c);
    let m = read_manifest(&tmp.0);
    assert_eq!(
        m,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!aofdir.join("appendonly.aof.1.incr.aof").exists(), "history deleted");
    assert!(dir_size(&aofdir) < grown, "{} >= {grown}", dir_size(&aofdir));
    let info = text(&q(&mut c, &["INFO", "persistence"]));
    assert!(info.contains("aof_enabled:1\r\n") && info.contains("aof_rewrites:1\r\n"), "{info}");
    // Writes after the rewrite go to the new incremental file.
    q(&mut c, &["SET", "after", "rewrite"]);
    q(&mut c, &["SELECT", "1"]);
    q(&mut c, &["SET", "after1", "rewrite"]);
    q(&mut c, &["SELECT", "0"]);
    let before2 = dump(&mut c);
    assert_ne!(before, before2);
    node.shutdown();
    node.start();
    let mut c = node.conn();
    assert_eq!(dump(&mut c), before2);
}

/// A save resets the count of changes since the last save; SAVE, a SHUTDOWN that saves and
/// DEBUG RELOAD change nothing and must not reach the AOF (replayed, a SHUTDOWN stopped the
/// server again at every start), while a FLUSHALL that saves still does.
#[test]
fn saving_commands_stay_out_of_the_aof() {
    let tmp = TempDir::new("aof-save");
    let args = ["--appendonly", "yes", "--save", "3600 1", "--enable-debug-command", "yes"];
    let mut node = Node::new(vireo_bin(), &tmp.0, &args);
    node.start();
    let mut c = node.conn();
    q(&mut c, &["SET", "a", "1"]);
    assert_eq!(text(&q(&mut c, &["SAVE"])), "OK");
    q(&mut c, &["SET", "b", "1"]);
    assert_eq!(text(&q(&mut c, &["DEBUG", "RELOAD"])), "OK");
    q(&mut c, &["SET", "c", "1"]);
    assert_eq!(text(&q(&mut c, &["FLUSHALL"])), "OK");
    q(&mut c, &["SET", "d", "1"]);
    // A plain SHUTDOWN, which saves (save points are set).
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut c);
    node.child.take().unwrap().wait().unwrap();
    let aof = std::fs::read(last_incr(&tmp.0)).unwrap();
    let aof = String::from_utf8_lossy(&aof).to_lowercase();
    for word in ["save", "shutdown", "debug"] {
        assert!(!aof.contains(&format!("\r\n{word}\r\n")), "{word} in the AOF: {aof:?}");
    }
    assert!(aof.contains("\r\nflushall\r\n"), "{aof:?}");
    node.start();
    let mut c = node.conn();
    assert_eq!(items(&q(&mut c, &["KEYS", "*"])), ["d"]);
    node.shutdown();
}

#[test]
fn info_persistence_fields_in_redis_order() {
    let tmp = TempDir::new("aof-info");
    let mut node = Node::new(vireo_bin(), &tmp.0, &[]);
    node.start();
    let mut c = node.conn();
    let fields = |c: &mut redis::Connection| -> Vec<String> {
        text(&q(c, &["INFO", "persistence"]))
            .lines()
            .filter(|l| l.starts_with("aof_") || l.starts_with("module_fork"))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    let off = fields(&mut c);
    let want_off = [
        "aof_enabled",
        "aof_rewrite_in_progress",
        "aof_rewrite_scheduled",
        "aof_last_rewrite_time_sec",
        "aof_current_rewrite_time_sec",
        "aof_last_bgrewrite_status",
        "aof_rewrites",
        "aof_rewrites_consecutive_failures",
        "aof_last_write_status",
        "aof_last_cow_size",
        "module_fork_in_progress",
        "module_fork_last_cow_size",
    ];
    assert_eq!(off, want_off);
    // Turned on at runtime: a base of the current data, then appending.
    q(&mut c, &["SET", "before", "on"]);
    assert_eq!(text(&q(&mut c, &["CONFIG", "SET", "appendonly", "yes"])), "OK");
    let on = fields(&mut c);
    let mut want_on: Vec<&str> = want_off.to_vec();
    want_on.extend([
        "aof_current_size",
        "aof_base_size",
        "aof_pending_rewrite",
        "aof_buffer_length",
        "aof_pending_bio_fsync",
        "aof_delayed_fsync",
    ]);
    assert_eq!(on, want_on);
    let base = std::fs::read(tmp.0.join("appendonlydir/appendonly.aof.1.base.rdb")).unwrap();
    assert!(String::from_utf8_lossy(&base).contains("before"));
    q(&mut c, &["SET", "after", "on"]);
    assert_eq!(text(&q(&mut c, &["CONFIG", "SET", "appendonly", "no"])), "OK");
    q(&mut c, &["SET", "while", "off"]);
    let incr = std::fs::read(last_incr(&tmp.0)).unwrap();
    let incr = String::from_utf8_lossy(&incr);
    assert!(incr.contains("after") && !incr.contains("while"), "{incr}");
}

#[test]
fn timestamps_annotate_the_incremental_file() {
    let tmp = TempDir::new("aof-ts");
    let mut node =
        Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes", "--aof-timestamp-enabled", "yes"]);
    node.start();
    let mut c = node.conn();
    q(&mut c, &["SET", "a", "1"]);
    q(&mut c, &["SET", "b", "2"]);
    let incr = std::fs::read_to_string(last_incr(&tmp.0)).unwrap();
    assert!(incr.starts_with("#TS:"), "{incr:?}");
    node.kill9();
    node.start();
    let mut c = node.conn();
    assert_eq!(text(&q(&mut c, &["MGET", "a", "b"])), "[1,2]");
}

/// Writes keys, kills the server, and returns the incremental file's path and content.
fn prepare_damaged(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut node = Node::new(vireo_bin(), dir, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    for i in 0..10 {
        q(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    node.kill9();
    let p = last_incr(dir);
    let data = std::fs::read(&p).unwrap();
    (p, data)
}

#[test]
fn truncated_tail_is_dropped_with_aof_load_truncated_yes() {
    let tmp = TempDir::new("aof-trunc-yes");
    let (p, data) = prepare_damaged(&tmp.0);
    let mut damaged = data.clone();
    damaged.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk1");
    std::fs::write(&p, &damaged).unwrap();
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    assert_eq!(text(&q(&mut c, &["DBSIZE"])), "10");
    assert!(node.logged("Truncating the AOF"), "{}", node.log());
    // The file was cut back to its last complete command, and appending goes on after it.
    assert_eq!(std::fs::read(&p).unwrap(), data);
    q(&mut c, &["SET", "more", "x"]);
    node.kill9();
    node.start();
    assert_eq!(text(&q(&mut node.conn(), &["DBSIZE"])), "11");
}

#[test]
fn unfinished_transaction_at_the_end_is_reverted() {
    let tmp = TempDir::new("aof-trunc-multi");
    let (p, data) = prepare_damaged(&tmp.0);
    let mut damaged = data.clone();
    damaged.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
    std::fs::write(&p, &damaged).unwrap();
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    assert_eq!(text(&q(&mut c, &["DBSIZE"])), "10");
    assert_eq!(text(&q(&mut c, &["EXISTS", "x"])), "0");
    assert_eq!(std::fs::read(&p).unwrap(), data);
}

#[test]
fn truncated_tail_is_refused_with_aof_load_truncated_no() {
    let tmp = TempDir::new("aof-trunc-no");
    let (p, mut data) = prepare_damaged(&tmp.0);
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk1");
    std::fs::write(&p, &data).unwrap();
    let mut node =
        Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert!(!node.try_start(), "started on a truncated AOF");
    let log = node.log();
    assert!(
        log.contains("Unexpected end of file") && log.contains("appendonly.aof.1.incr.aof"),
        "{log}"
    );
    // Nothing was changed.
    assert_eq!(std::fs::read(&p).unwrap(), data);
}

#[test]
fn corruption_in_the_middle_is_refused() {
    let tmp = TempDir::new("aof-corrupt");
    let (p, data) = prepare_damaged(&tmp.0);
    // Break the 5th command's array header.
    let mut at = 0;
    for _ in 0..5 {
        at += 1 + data[at + 1..].iter().position(|&c| c == b'*').unwrap();
    }
    let mut damaged = data.clone();
    damaged[at] = b'!';
    std::fs::write(&p, &damaged).unwrap();
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    assert!(!node.try_start(), "started on a corrupt AOF");
    let log = node.log();
    assert!(
        log.contains("Bad file format")
            && log.contains("appendonly.aof.1.incr.aof")
            && log.contains(&format!("offset {at}")),
        "{log}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), damaged, "a corrupt file is left as it is");
}

#[test]
fn legacy_single_file_is_upgraded_and_missing_dir_starts_empty() {
    let tmp = TempDir::new("aof-legacy");
    std::fs::write(
        tmp.0.join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$3\r\nold\r\n",
    )
    .unwrap();
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    assert_eq!(text(&q(&mut c, &["GET", "x"])), "old");
    assert!(!tmp.0.join("appendonly.aof").exists());
    assert_eq!(
        read_manifest(&tmp.0),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    q(&mut c, &["SET", "y", "new"]);
    node.kill9();
    node.start();
    assert_eq!(text(&q(&mut node.conn(), &["MGET", "x", "y"])), "[old,new]");

    let empty = TempDir::new("aof-nodir");
    let mut node = Node::new(vireo_bin(), &empty.0, &["--appendonly", "yes"]);
    node.start();
    assert_eq!(text(&q(&mut node.conn(), &["DBSIZE"])), "0");
    assert!(empty.0.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
}

/// Clients write for a while with acknowledged replies recorded, the server is SIGKILLed
/// mid-load, restarted, and every acknowledged write must be there.
fn crash_round(fsync: &str, writers: usize, run: Duration) -> (u64, u64) {
    let tmp = TempDir::new(&format!("crash-{fsync}"));
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes", "--appendfsync", fsync]);
    node.start();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..writers {
        let port = node.port;
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let mut c = c.get_connection().unwrap();
            // (last acknowledged counter, acknowledged list length)
            let mut acked = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r: redis::RedisResult<(u64,)> = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(format!("ctr{w}"))
                    .cmd("RPUSH")
                    .arg(format!("log{w}"))
                    .arg(i)
                    .ignore()
                    .cmd("SET")
                    .arg(format!("last{w}"))
                    .arg(i)
                    .ignore()
                    .query(&mut c);
                match r {
                    Ok((n,)) => acked = n,
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    std::thread::sleep(run);
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    node.start();
    let mut c = node.conn();
    let mut missing = 0u64;
    let mut total = 0u64;
    for (w, &a) in acked.iter().enumerate() {
        let got: u64 = text(&q(&mut c, &["GET", &format!("ctr{w}")])).parse().unwrap_or(0);
        let len: u64 = text(&q(&mut c, &["LLEN", &format!("log{w}")])).parse().unwrap();
        // Transactions are all or nothing: the counter and the list agree.
        assert_eq!(got, len, "writer {w}: counter and list disagree");
        if got > 0 {
            let last = text(&q(&mut c, &["GET", &format!("last{w}")]));
            assert_eq!(last, got.to_string(), "writer {w}");
        }
        missing += a.saturating_sub(got);
        total += a;
    }
    if fsync == "always" {
        assert_eq!(missing, 0, "acknowledged writes lost with appendfsync always: {acked:?}");
    }
    (total, missing)
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_write_with_fsync_always() {
    let (total, _) = crash_round("always", 4, Duration::from_millis(1500));
    assert!(total > 0, "no write was acknowledged");
}

#[test]
fn sigkill_under_load_with_everysec_loads_a_consistent_dataset() {
    let (total, missing) = crash_round("everysec", 4, Duration::from_millis(1500));
    assert!(total > 0);
    // Process death only (the OS keeps what was written): writes go out before replies.
    assert_eq!(missing, 0);
}

/// Starts the reference Redis in `dir` with AOF on (`preamble`: RDB bases or AOF-format ones).
fn reference_node(dir: &Path, preamble: &str) -> Option<Node> {
    let bin = common::reference_redis()?;
    Some(Node::new(bin, dir, &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]))
}

#[test]
fn appendonlydir_moves_between_redis_and_vireo() {
    appendonlydir_round_trip("no");
}

/// The same with the default `aof-use-rdb-preamble yes`: bases are RDB files.
#[test]
fn appendonlydir_with_rdb_bases_moves_between_redis_and_vireo() {
    appendonlydir_round_trip("yes");
}

fn appendonlydir_round_trip(preamble: &str) {
    let tmp = TempDir::new("aof-diff");
    let Some(mut reference) = reference_node(&tmp.0, preamble) else {
        eprintln!("SKIPPED appendonlydir_moves_between_redis_and_vireo: no reference Redis");
        return;
    };
    // Redis writes (a base after a rewrite, then incremental writes), Vireo loads.
    reference.start();
    let mut c = reference.conn();
    write_everything(&mut c);
    q(&mut c, &["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while text(&q(&mut c, &["INFO", "persistence"])).contains("aof_rewrite_in_progress:1")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    q(&mut c, &["SET", "after", "rewrite"]);
    q(&mut c, &["XADD", "st", "*", "late", "1"]);
    let want = dump(&mut c);
    reference.shutdown();
    let mut vireo = Node::new(
        vireo_bin(),
        &tmp.0,
        &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble],
    );
    vireo.start();
    let mut c = vireo.conn();
    assert_eq!(dump(&mut c), want, "Redis's AOF loaded into Vireo");

    // Vireo writes (incremental, then a rewritten base), Redis loads.
    q(&mut c, &["SET", "vireo", "wrote"]);
    q(&mut c, &["HSET", "vh", "a", "1"]);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite(&mut c);
    q(&mut c, &["ZADD", "vz", "1.5", "m"]);
    q(&mut c, &["XADD", "st", "*", "later", "2"]);
    let want = dump(&mut c);
    vireo.shutdown();
    let mut reference = reference_node(&tmp.0, preamble).unwrap();
    reference.start();
    let mut c = reference.conn();
    assert_eq!(dump(&mut c), want, "Vireo's AOF loaded into Redis");
}

#[test]
fn unknown_command_in_the_aof_is_refused() {
    let tmp = TempDir::new("aof-unknown");
    std::fs::write(
        tmp.0.join("appendonly.aof"),
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$7\r\nNOSUCH1\r\n$1\r\nx\r\n",
    )
    .unwrap();
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    assert!(!node.try_start(), "started on an AOF with an unknown command");
    let log = node.log();
    assert!(log.contains("Unknown command 'NOSUCH1'") && log.contains("offset 27"), "{log}");
}

/// Function libraries are part of the data set: they survive a restart from the incremental
/// file, from a rewritten base in either format, and from an RDB file.
#[test]
fn function_libraries_survive_restarts() {
    const LIB: &str =
        "#!lua name=lib\nredis.register_function('hello', function() return 'hi' end)";
    for preamble in ["yes", "no"] {
        let tmp = TempDir::new("aof-fn");
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
        let mut node = Node::new(vireo_bin(), &tmp.0, &args);
        node.start();
        assert_eq!(text(&q(&mut node.conn(), &["FUNCTION", "LOAD", LIB])), "lib");
        node.kill9();
        node.start();
        assert_eq!(text(&q(&mut node.conn(), &["FCALL", "hello", "0"])), "hi", "{preamble}");
        let mut c = node.conn();
        q(&mut c, &["BGREWRITEAOF"]);
        wait_rewrite(&mut c);
        node.kill9();
        node.start();
        assert_eq!(text(&q(&mut node.conn(), &["FCALL", "hello", "0"])), "hi", "{preamble}");
    }
    let tmp = TempDir::new("aof-fn-rdb");
    let mut node = Node::new(vireo_bin(), &tmp.0, &[]);
    node.start();
    q(&mut node.conn(), &["FUNCTION", "LOAD", LIB]);
    q(&mut node.conn(), &["SAVE"]);
    node.kill9();
    node.start();
    assert_eq!(text(&q(&mut node.conn(), &["FCALL", "hello", "0"])), "hi", "from dump.rdb");
}

/// BGREWRITEAOF runs in the background: writes made while it runs are in the data after a
/// crash (they went to the new incremental file, the base holds the image of its instant); a
/// BGSAVE meanwhile is refused with Redis's message or scheduled, and runs after it.
#[test]
fn background_rewrite_keeps_concurrent_writes() {
    let tmp = TempDir::new("aof-bgrewrite");
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.start();
    let mut c = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "50"]);
    assert_eq!(
        text(&q(&mut c, &["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        match i % 3 {
            0 => pipe.cmd("DEL").arg(format!("k{i}")).ignore(),
            1 => pipe.cmd("INCR").arg(format!("k{i}")).ignore(),
            _ => pipe.cmd("SET").arg(format!("new{i}")).arg("x").ignore(),
        };
    }
    let () = pipe.query(&mut c).unwrap();
    let info = text(&q(&mut c, &["INFO", "persistence"]));
    assert!(info.contains("aof_rewrite_in_progress:1"), "writes were mid-rewrite: {info}");
    assert_eq!(
        redis::cmd("BGSAVE").query::<String>(&mut c).unwrap_err().to_string(),
        "An error was signalled by the server - ResponseError: Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
    );
    assert_eq!(text(&q(&mut c, &["BGSAVE", "SCHEDULE"])), "Background saving scheduled");
    let want = dump(&mut c);
    q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_rewrite(&mut c);
    let info = text(&q(&mut c, &["INFO", "persistence"]));
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tmp.0.join("dump.rdb").exists() {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE did not run");
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill9();
    node.start();
    assert_eq!(dump(&mut node.conn()), want);
    assert!(read_manifest(&tmp.0).starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"));
}

/// Sets the server's soft file size limit (`None`: unlimited) with util-linux's `prlimit`;
/// false when there is no `prlimit`.
fn set_fsize_limit(pid: u32, bytes: Option<u64>) -> bool {
    let limit = bytes.map_or("unlimited:".to_string(), |b| format!("{b}:"));
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("prlimit: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => false,
    }
}

fn raw_info_field(r: &mut common::Raw, name: &str) -> String {
    let info = String::from_utf8(r.call(&["INFO", "persistence"])).unwrap();
    let prefix = format!("{name}:");
    info.split("\r\n").find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
}

const AOF_MISCONF: &[u8] = b"-MISCONF Errors writing to the AOF file: No space left on device\r\n";

/// An AOF write that fails (here: a file size limit the write crosses, so a short write, which
/// Redis reports as ENOSPC) makes INFO say `aof_last_write_status:err` and refuses writes and
/// PING with Redis 7.0's MISCONF until a write succeeds again; the short write is cut off the
/// file, so the AOF loads whole afterwards.
#[test]
fn aof_write_errors_refuse_writes_until_a_write_succeeds() {
    let tmp = TempDir::new("aof-write-error");
    let mut node = Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes"]);
    node.ignore_xfsz = true;
    node.start();
    let pid = node.child.as_ref().unwrap().id();
    let mut r = common::Raw::connect(node.port);
    assert_eq!(r.call(&["SET", "k1", "v1"]), b"+OK\r\n");
    let incr = last_incr(&tmp.0);
    let size = std::fs::metadata(&incr).unwrap().len();
    if !set_fsize_limit(pid, Some(size + 50)) {
        eprintln!("SKIPPED aof_write_errors_refuse_writes_until_a_write_succeeds: no prlimit");
        return;
    }
    let big = "x".repeat(300);
    // The write fails after the command ran: its reply is +OK, as Redis's.
    assert_eq!(r.call(&["SET", "big", &big]), b"+OK\r\n");
    assert_eq!(raw_info_field(&mut r, "aof_last_write_status"), "err");
    assert_eq!(r.call(&["SET", "k2", "v2"]), AOF_MISCONF);
    assert_eq!(r.call(&["PING"]), AOF_MISCONF);
    assert_eq!(r.call(&["GET", "k1"]), b"$2\r\nv1\r\n");
    assert_eq!(r.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(r.call(&["INCR", "n"]), AOF_MISCONF);
    assert_eq!(
        r.call(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // The bytes that got in were cut off again.
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
    assert!(node.logged("Short write while writing to the AOF file"), "{}", node.log());
    assert!(set_fsize_limit(pid, None));
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.call(&["PING"]) != b"+PONG\r\n" {
        assert!(Instant::now() < deadline, "the write was not retried: {}", node.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(raw_info_field(&mut r, "aof_last_write_status"), "ok");
    assert_eq!(r.call(&["SET", "k2", "v2"]), b"+OK\r\n");
    assert!(node.logged("AOF write error looks solved, Redis can write again."));
    // Everything acknowledged is in the file once.
    node.kill9();
    node.ignore_xfsz = false;
    node.start();
    let mut r = common::Raw::connect(node.port);
    assert_eq!(r.call(&["DBSIZE"]), b":3\r\n");
    assert_eq!(r.call(&["GET", "big"]), format!("$300\r\n{big}\r\n").as_bytes());
    assert_eq!(r.call(&["GET", "k2"]), b"$2\r\nv2\r\n");
}

/// With `appendfsync always` a failed AOF write stops the server, as Redis 7.0 (it cannot
/// promise the write it is about to acknowledge).
#[test]
fn aof_write_error_with_fsync_always_exits() {
    let tmp = TempDir::new("aof-write-error-always");
    let mut node =
        Node::new(vireo_bin(), &tmp.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    node.ignore_xfsz = true;
    node.start();
    let pid = node.child.as_ref().unwrap().id();
    let mut r = common::Raw::connect(node.port);
    assert_eq!(r.call(&["SET", "k1", "v1"]), b"+OK\r\n");
    let size = std::fs::metadata(last_incr(&tmp.0)).unwrap().len();
    if !set_fsize_limit(pid, Some(size + 10)) {
        eprintln!("SKIPPED aof_write_error_with_fsync_always_exits: no prlimit");
        return;
    }
    r.send_cmd(&["SET", "big", &"x".repeat(300)]);
    let mut child = node.child.take().unwrap();
    let status = common::wait_exit(&mut child, 10)
        .unwrap_or_else(|| panic!("still running: {}", node.log()));
    assert_eq!(status.code(), Some(1));
    let log = node.log();
    assert!(
        log.contains(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        ),
        "{log}"
    );
}
