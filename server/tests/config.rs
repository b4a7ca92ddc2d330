//! Configuration, black-box: start-up from a redis.conf-style file and the command line, the
//! FATAL start-up errors, CONFIG GET/SET/RESETSTAT/REWRITE over the wire, daemonize and the pid
//! file. Also keeps docs/configuration.md in step with the directive table
//! (`VIREO_BLESS=1 cargo test -p vireo-server --test integration config::` rewrites it).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, wait_ready, Raw};

const BIN: &str = env!("CARGO_BIN_EXE_vireo-server");

fn temp_dir(tag: &str) -> PathBuf {
    let n =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let d = std::env::temp_dir().join(format!("vireo-config-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A server started from a config file in its own temporary directory.
struct FileServer {
    port: u16,
    dir: PathBuf,
    conf: PathBuf,
    child: Child,
}

impl FileServer {
    /// Writes `conf` to `<dir>/vireo.conf` and starts the server with it and `--port <free>`
    /// plus `extra` after it.
    fn start(tag: &str, conf: &str, extra: &[&str]) -> FileServer {
        let dir = temp_dir(tag);
        let path = dir.join("vireo.conf");
        std::fs::write(&path, conf).unwrap();
        Self::start_at(dir, path, extra)
    }

    fn start_at(dir: PathBuf, conf: PathBuf, extra: &[&str]) -> FileServer {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(BIN)
                .arg(&conf)
                .args(["--port", &port.to_string()])
                .args(extra)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start vireo-server");
            let mut s = FileServer { port, dir: dir.clone(), conf: conf.clone(), child };
            if wait_ready(port, Some(&mut s.child)) {
                return s;
            }
        }
        panic!("vireo-server did not start with {}", conf.display());
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Stops the server with SIGTERM and waits for it (killed after ten seconds).
    fn terminate(&mut self) {
        if !self.exits_on_sigterm(Duration::from_secs(10)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Sends SIGTERM and says whether the server exited by itself within `limit`.
    fn exits_on_sigterm(&mut self, limit: Duration) -> bool {
        signal_term(self.child.id());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

/// The next datagram on `sock` (a systemd notification, a syslog line) as text; ten seconds
/// at most.
fn next_datagram(sock: &std::os::unix::net::UnixDatagram) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `shutdown-on-sigterm`, as Redis: `nosave` skips the final save that save points ask for,
/// `save` saves without them, and a save that fails keeps the server running (it does not exit
/// losing what it was to save) unless `force`.
#[test]
fn shutdown_on_sigterm_flags() {
    let mut s =
        FileServer::start("sigterm-nosave", "save 3600 1\nshutdown-on-sigterm nosave\n", &[]);
    s.raw().expect("SET k v", b"+OK\r\n");
    assert!(s.exits_on_sigterm(Duration::from_secs(5)));
    assert!(!s.dir.join("dump.rdb").exists(), "nosave saved");

    let mut s = FileServer::start("sigterm-save", "save \"\"\nshutdown-on-sigterm save\n", &[]);
    s.raw().expect("SET k v", b"+OK\r\n");
    assert!(s.exits_on_sigterm(Duration::from_secs(5)));
    assert!(s.dir.join("dump.rdb").exists(), "save did not save");

    // The default with save points, and a save that cannot be written (its directory is gone).
    let mut s = FileServer::start("sigterm-fails", "save 3600 1\n", &[]);
    let mut r = s.raw();
    r.expect("SET k v", b"+OK\r\n");
    std::fs::remove_dir_all(&s.dir).unwrap();
    assert!(!s.exits_on_sigterm(Duration::from_secs(5)), "exited without its save");
    r.expect("GET k", b"$1\r\nv\r\n");
    r.expect("CONFIG SET shutdown-on-sigterm force", b"+OK\r\n");
    assert!(s.exits_on_sigterm(Duration::from_secs(5)), "force did not exit");
}

/// `supervised systemd` (and `auto` under systemd), as Debian's `Type=notify` unit runs
/// Redis: the server says on `NOTIFY_SOCKET` (a path or an `@abstract` name) that it is ready
/// once it accepts connections, and that it stops.
#[test]
fn supervised_systemd_notifies_readiness() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let dir = temp_dir("supervised");
    let path = dir.join("notify.sock");
    let abstract_name = format!("vireo-test-notify-{}", std::process::id());
    let sockets = [
        (UnixDatagram::bind(&path).unwrap(), path.to_string_lossy().into_owned(), "systemd"),
        (
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap())
                .unwrap(),
            format!("@{abstract_name}"),
            "auto",
        ),
    ];
    for (sock, env, mode) in sockets {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["--port", &port.to_string(), "--save", "", "--supervised", mode])
            .env("NOTIFY_SOCKET", &env)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let recv = || next_datagram(&sock);
        assert_eq!(recv(), "STATUS=Ready to accept connections\n", "{mode}");
        assert_eq!(recv(), "READY=1\n", "{mode}");
        // Ready means ready: it answers.
        let mut r = Raw::connect(port);
        r.expect("PING", b"+PONG\r\n");
        r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
        assert_eq!(recv(), "STOPPING=1\n", "{mode}");
        child.wait().unwrap();
    }
    // A replica is ready at once, and says it waits for its master until it has synchronized.
    let master = common::Server::start();
    let sock = UnixDatagram::bind(dir.join("replica.sock")).unwrap();
    let mut replica = Command::new(BIN)
        .args(["--port", &free_port().to_string(), "--save", "", "--supervised", "systemd"])
        .args(["--replicaof", "127.0.0.1", &master.port.to_string()])
        .env("NOTIFY_SOCKET", dir.join("replica.sock"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let recv = || next_datagram(&sock);
    assert_eq!(
        recv(),
        "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n"
    );
    assert_eq!(recv(), "READY=1\n");
    assert!(recv().starts_with("STATUS=MASTER <-> REPLICA sync: Finished with success."));
    let _ = replica.kill();
    let _ = replica.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `syslog-enabled`: log lines also reach the system logger's socket with the facility and
/// ident configured, at the level's priority.
#[test]
fn syslog_enabled_sends_log_lines() {
    use std::os::unix::net::UnixDatagram;
    let dir = temp_dir("syslog");
    let path = dir.join("log.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string(), "--save", "", "--enable-debug-command", "yes"])
        .args(["--syslog-enabled", "yes", "--syslog-ident", "vtest", "--syslog-facility", "local3"])
        .env("VIREO_SYSLOG_SOCKET", &path)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let recv = || next_datagram(&sock);
    // local3 is facility 19: notice 19*8+5, warning 19*8+4.
    let ready = format!("<157>vtest[{pid}]: Ready to accept connections");
    while recv() != ready {}
    assert!(wait_ready(port, Some(&mut child)));
    Raw::connect(port).expect("DEBUG LOG hello-syslog", b"+OK\r\n");
    loop {
        let line = recv();
        if line.contains("hello-syslog") {
            assert!(line.starts_with(&format!("<156>vtest[{pid}]: ")), "{line}");
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// TLS is not built: a `tls-port` stops start-up saying so, rather than leaving the port
/// silently unserved.
#[test]
fn a_tls_port_stops_start_up() {
    let (code, err) = start_failing(Path::new("."), &["--port", "0", "--tls-port", "6380"]);
    assert_eq!(code, 1);
    assert!(err.contains("Vireo does not support TLS (tls-port 6380)"), "{err}");
}

/// Runs the server expecting it to fail at start-up; returns (exit code, stderr).
fn start_failing(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run vireo-server");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The value of one directive through CONFIG GET (RESP2: a 2-element array).
fn config_get(r: &mut Raw, name: &str) -> String {
    let reply = r.call(&["CONFIG", "GET", name]);
    let s = String::from_utf8_lossy(&reply).into_owned();
    assert!(s.starts_with("*2\r\n"), "CONFIG GET {name} answered {s:?}");
    let mut parts = s.split("\r\n");
    parts.next();
    parts.next();
    parts.next();
    parts.next();
    parts.next().unwrap().to_string()
}

/// A redis.conf as distributions ship it (directives and values of Redis 7.0's stock file;
/// comments are ours), with paths pointing into the test's directory.
fn stock_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"# Vireo test: a stock-style redis.conf.
#
# include /path/to/local.conf

################################## NETWORK #####################################
bind 127.0.0.1 -::1
protected-mode yes
port 6379
tcp-backlog 511
timeout 0
tcp-keepalive 300

################################# GENERAL #####################################
daemonize no
pidfile {d}/redis-server.pid
loglevel notice
logfile {d}/redis-server.log
databases 16
always-show-logo no
set-proc-title yes
proc-title-template "{{title}} {{listen-addr}} {{server-mode}}"

################################ SNAPSHOTTING  ################################
# save 3600 1 300 100 60 10000
stop-writes-on-bgsave-error yes
rdbcompression yes
rdbchecksum yes
dbfilename dump.rdb
rdb-del-sync-files no
dir {d}

################################# REPLICATION #################################
# replicaof <masterip> <masterport>
replica-serve-stale-data yes
replica-read-only yes
repl-diskless-sync yes
repl-diskless-sync-delay 5
repl-diskless-sync-max-replicas 0
repl-diskless-load disabled
repl-disable-tcp-nodelay no
replica-priority 100

################################## SECURITY ###################################
acllog-max-len 128
# rename-command CONFIG ""

############################# LAZY FREEING ####################################
lazyfree-lazy-eviction no
lazyfree-lazy-expire no
lazyfree-lazy-server-del no
replica-lazy-flush no
lazyfree-lazy-user-del no
lazyfree-lazy-user-flush no

############################ KERNEL OOM CONTROL ##############################
oom-score-adj no
oom-score-adj-values 0 200 800

#################### KERNEL transparent hugepage CONTROL ######################
disable-thp yes

############################## APPEND ONLY MODE ###############################
appendonly no
appendfilename "appendonly.aof"
appenddirname "appendonlydir"
appendfsync everysec
no-appendfsync-on-rewrite no
auto-aof-rewrite-percentage 100
auto-aof-rewrite-min-size 64mb
aof-load-truncated yes
aof-use-rdb-preamble yes
aof-timestamp-enabled no

################################## SLOW LOG ###################################
slowlog-log-slower-than 10000
slowlog-max-len 128

################################ LATENCY MONITOR ##############################
latency-monitor-threshold 0

############################# EVENT NOTIFICATION ##############################
notify-keyspace-events ""

############################### ADVANCED CONFIG ###############################
hash-max-listpack-entries 512
hash-max-listpack-value 64
list-max-listpack-size -2
list-compress-depth 0
set-max-intset-entries 512
zset-max-listpack-entries 128
zset-max-listpack-value 64
hll-sparse-max-bytes 3000
stream-node-max-bytes 4096
stream-node-max-entries 100
activerehashing yes
client-output-buffer-limit normal 0 0 0
client-output-buffer-limit replica 256mb 64mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
hz 10
dynamic-hz yes
aof-rewrite-incremental-fsync yes
rdb-save-incremental-fsync yes
jemalloc-bg-thread yes
"#
    )
}

#[test]
fn stock_redis_conf_loads() {
    let dir = temp_dir("stock");
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, stock_conf(&dir)).unwrap();
    let mut srv =
        FileServer::start_at(dir.clone(), conf, &["--maxmemory", "100mb", "--save", "900 1"]);
    let mut r = srv.raw();
    r.expect("PING", b"+PONG\r\n");
    assert_eq!(config_get(&mut r, "bind"), "127.0.0.1 -::1");
    assert_eq!(config_get(&mut r, "port"), srv.port.to_string());
    assert_eq!(config_get(&mut r, "maxmemory"), "104857600");
    assert_eq!(config_get(&mut r, "save"), "900 1");
    assert_eq!(config_get(&mut r, "appendonly"), "no");
    assert_eq!(config_get(&mut r, "auto-aof-rewrite-min-size"), "67108864");
    assert_eq!(config_get(&mut r, "hash-max-ziplist-entries"), "512");
    assert_eq!(
        config_get(&mut r, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    // `dir` changed the working directory; CONFIG GET shows it.
    let cwd = config_get(&mut r, "dir");
    assert_eq!(std::fs::canonicalize(&cwd).unwrap(), std::fs::canonicalize(&dir).unwrap());
    // The pid file holds the pid; the log goes to the log file.
    let pidfile = dir.join("redis-server.pid");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), format!("{}\n", srv.child.id()));
    srv.terminate();
    assert!(!pidfile.exists(), "pid file left behind");
    let log = std::fs::read_to_string(dir.join("redis-server.log")).unwrap();
    assert!(!log.is_empty(), "nothing logged to the log file");
}

#[test]
fn bad_directive_stops_start_up() {
    let dir = temp_dir("bad");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "# ok so far\nport 7001\n  bogus-directive  yes\n").unwrap();
    let (code, err) = start_failing(&dir, &[conf.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n\
         >>> 'bogus-directive  yes'\nBad directive or wrong number of arguments\n"
    );

    // A bad value from the command line: its line counts after the file's.
    let (code, err) = start_failing(&dir, &[conf.to_str().unwrap(), "--maxmemory", "lots"]);
    assert_eq!(code, 1);
    assert!(err.contains("at line 3\n"), "{err}");
    std::fs::write(&conf, "port 7001\n").unwrap();
    let (code, err) = start_failing(&dir, &[conf.to_str().unwrap(), "--maxmemory", "lots"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n\
         >>> 'maxmemory \"lots\"'\nargument must be a memory value\n"
    );

    let (code, err) = start_failing(&dir, &["--port", "70000"]);
    assert_eq!(code, 1);
    assert!(
        err.ends_with(">>> 'port \"70000\"'\nargument must be between 0 and 65535 inclusive\n"),
        "{err}"
    );

    let (code, err) = start_failing(&dir, &["missing.conf"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Fatal error, can't open config file '/"), "{err}");
    assert!(err.ends_with("missing.conf': No such file or directory\n"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_get_patterns_and_resp3_map() {
    let srv = common::Server::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let mut r = srv.raw();
    r.expect(
        "CONFIG GET maxmemory-policy",
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n",
    );
    // The name comes back as asked; each directive once, case-insensitively.
    r.expect("CONFIG GET TIMEOUT timeout", b"*2\r\n$7\r\nTIMEOUT\r\n$1\r\n0\r\n");
    r.expect("CONFIG GET nosuch", b"*0\r\n");
    r.expect("CONFIG GET slaveof", b"*2\r\n$7\r\nslaveof\r\n$0\r\n\r\n");
    // Patterns list aliases too; hidden directives only by exact name.
    let reply = r.call(&["CONFIG", "GET", "*max*entries*"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    assert!(text.starts_with("*12\r\n"), "{text}");
    for name in ["hash-max-listpack-entries", "hash-max-ziplist-entries", "set-max-intset-entries"]
    {
        assert!(text.contains(name), "{name} missing: {text}");
    }
    let all = r.call(&["CONFIG", "GET", "*"]);
    assert!(all.starts_with(b"*384\r\n"), "{}", String::from_utf8_lossy(&all[..10]));
    assert!(!String::from_utf8_lossy(&all).contains("key-load-delay"));
    r.expect("CONFIG GET key-load-delay", b"*2\r\n$14\r\nkey-load-delay\r\n$1\r\n0\r\n");
    // Several patterns, RESP3 map.
    r.line("HELLO 3");
    r.expect(
        "CONFIG GET maxmemory hz",
        b"%2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$2\r\nhz\r\n$2\r\n10\r\n",
    );
}

#[test]
fn config_set_checks_everything_first() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect("CONFIG SET maxmemory 1gb maxmemory-policy volatile-lru", b"+OK\r\n");
    assert_eq!(config_get(&mut r, "maxmemory"), "1073741824");
    assert_eq!(config_get(&mut r, "maxmemory-policy"), "volatile-lru");
    // One bad pair: nothing changes.
    r.expect(
        "CONFIG SET hz 50 maxmemory lots",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    );
    assert_eq!(config_get(&mut r, "hz"), "10");
    r.expect(
        "CONFIG SET hz 50 nosuch 1",
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
    r.expect("CONFIG SET hz 1 hz", b"-ERR syntax error\r\n");
    r.expect(
        "CONFIG SET hz 1 HZ 2",
        b"-ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter\r\n",
    );
    r.expect(
        "CONFIG SET daemonize yes",
        b"-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
    );
    r.expect(
        "CONFIG SET dir /tmp",
        b"-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n",
    );
    r.expect(
        "CONFIG SET slave-priority x",
        b"-ERR CONFIG SET failed (possibly related to argument 'slave-priority') - argument couldn't be parsed into an integer\r\n",
    );
    r.expect(
        "CONFIG SET appendonly maybe",
        b"-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n",
    );
    r.expect(
        "CONFIG SET maxmemory-policy lots",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    );
    // Multi-argument values are split at spaces.
    r.expect(
        "CONFIG SET save \"100 1 200 2\" client-output-buffer-limit \"pubsub 1mb 2mb 3\"",
        b"+OK\r\n",
    );
    assert_eq!(config_get(&mut r, "save"), "100 1 200 2");
    assert!(config_get(&mut r, "client-output-buffer-limit").ends_with("pubsub 1048576 2097152 3"));
    r.expect("CONFIG SET save \"\"", b"+OK\r\n");
    assert_eq!(config_get(&mut r, "save"), "");
    // Values the server acts on at once.
    r.expect("CONFIG SET requirepass s3cret", b"+OK\r\n");
    let mut other = srv.raw();
    other.expect("PING", b"-NOAUTH Authentication required.\r\n");
    other.expect("AUTH s3cret", b"+OK\r\n");
    r.expect("CONFIG SET requirepass \"\" loglevel warning", b"+OK\r\n");
    assert_eq!(config_get(&mut r, "loglevel"), "warning");
}

#[test]
fn config_resetstat_and_help() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.line("SET a 1");
    r.line("NOSUCHCOMMAND");
    r.expect("CONFIG RESETSTAT", b"+OK\r\n");
    let info = r.call(&["INFO", "commandstats"]);
    assert!(
        !String::from_utf8_lossy(&info).contains("cmdstat_set"),
        "{}",
        String::from_utf8_lossy(&info)
    );
    let help = r.call(&["CONFIG", "HELP"]);
    assert!(help.starts_with(
        b"*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
}

/// What RESETSTAT clears and keeps, as Redis 7.0.15 showed it for the same sequence: a fresh
/// connection's INFO after the reset counts only itself and the RESETSTAT (whose own call and
/// `+OK` are counted after the reset), no errors, no keyspace hits; the memory peak stays.
#[test]
fn config_resetstat_clears_counters_keeps_peak() {
    fn field(info: &str, name: &str) -> String {
        let prefix = format!("{name}:");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    }
    let srv = common::Server::start();
    let mut a = srv.raw();
    a.line("SET k v");
    a.line("GET k");
    a.line("GET nokey");
    a.line("NOSUCHCOMMAND");
    a.line("INCR k");
    a.line("SET e v PX 1");
    std::thread::sleep(Duration::from_millis(20));
    a.line("GET e");
    for _ in 0..3 {
        srv.raw().line("PING");
    }
    // A peak well above what is used at the reset.
    a.call(&["SET", "big", &"x".repeat(4 << 20)]);
    a.call(&["INFO", "memory"]);
    a.line("DEL big");
    let before = String::from_utf8(a.call(&["INFO", "memory"])).unwrap();
    let peak: u64 = field(&before, "used_memory_peak").parse().unwrap();
    let used: u64 = field(&before, "used_memory").parse().unwrap();
    assert!(peak > used + (3 << 20), "peak {peak}, used {used}");
    a.expect("CONFIG RESETSTAT", b"+OK\r\n");

    let mut b = srv.raw();
    let info = String::from_utf8(b.call(&["INFO", "everything"])).unwrap();
    for (name, want) in [
        ("total_connections_received", "1"),
        ("total_commands_processed", "1"),
        ("total_net_input_bytes", "31"),
        ("total_net_output_bytes", "5"),
        ("rejected_connections", "0"),
        ("expired_keys", "0"),
        ("expired_stale_perc", "0.00"),
        ("evicted_keys", "0"),
        ("keyspace_hits", "0"),
        ("keyspace_misses", "0"),
        ("total_error_replies", "0"),
        ("unexpected_error_replies", "0"),
        ("total_reads_processed", "1"),
        ("total_writes_processed", "1"),
    ] {
        assert_eq!(field(&info, name), want, "{name}");
    }
    let stats: Vec<&str> = info
        .lines()
        .filter(|l| l.starts_with("cmdstat_") || l.starts_with("errorstat_"))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(stats, ["cmdstat_config|resetstat"]);
    assert!(info.contains("cmdstat_config|resetstat:calls=1,"), "{info}");
    let peak_after: u64 = field(&info, "used_memory_peak").parse().unwrap();
    assert!(peak_after >= peak, "peak {peak} became {peak_after}");
}

#[test]
fn config_rewrite_round_trip() {
    let conf = "# My settings\nport 6379\n\n# memory\nmaxmemory 10mb\nsave 900 1\nsave 300 10\n# the end\n";
    let mut srv = FileServer::start("rewrite", conf, &[]);
    let mut r = srv.raw();
    r.expect("CONFIG SET maxmemory 20mb timeout 30 save \"60 5\"", b"+OK\r\n");
    r.expect("CONFIG REWRITE", b"+OK\r\n");
    let text = std::fs::read_to_string(&srv.conf).unwrap();
    let dir = config_get(&mut r, "dir");
    let port = srv.port;
    assert_eq!(
        text,
        format!(
            "# My settings\nport {port}\n\n# memory\nmaxmemory 20mb\nsave 60 5\n\n# the end\n\n\
             # Generated by CONFIG REWRITE\ntimeout 30\ndir \"{dir}\"\nlatency-tracking-info-percentiles 50 99 99.9\n\
             user default on nopass ~* &* +@all\n"
        )
    );
    // The rewritten file starts a server with the same settings.
    srv.terminate();
    let child = Command::new(BIN)
        .arg(&srv.conf)
        .current_dir(&srv.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    srv.child = child;
    assert!(wait_ready(port, Some(&mut srv.child)), "restart from the rewritten file failed");
    let mut r = srv.raw();
    assert_eq!(config_get(&mut r, "maxmemory"), "20971520");
    assert_eq!(config_get(&mut r, "timeout"), "30");
    assert_eq!(config_get(&mut r, "save"), "60 5");
}

#[test]
fn config_rewrite_needs_a_file() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect("CONFIG REWRITE", b"-ERR The server is running without a config file\r\n");
}

#[tokio::test]
async fn redis_crate_client_sees_settings() {
    let srv = common::Server::start_with(&["--hash-max-ziplist-value", "1kb"]);
    let client = redis::Client::open(srv.addr()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hash-max-listpack-value")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v, vec!["hash-max-listpack-value".to_string(), "1024".to_string()]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async(&mut con)
        .await
        .unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v[1], "AKE");
}

#[test]
fn daemonize_forks_and_writes_pidfile() {
    let dir = temp_dir("daemon");
    let port = free_port();
    let pidfile = dir.join("v.pid");
    let conf = dir.join("d.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize yes\nport {port}\nbind 127.0.0.1\nsave \"\"\npidfile {}\n",
            pidfile.display()
        ),
    )
    .unwrap();
    let status = Command::new(BIN).arg(&conf).current_dir(&dir).status().unwrap();
    assert!(status.success(), "the foreground process exits 0");
    assert!(wait_ready(port, None), "daemon did not start");
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let mut r = Raw::connect(port);
    assert_eq!(config_get(&mut r, "daemonize"), "yes");
    signal_term(pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pidfile.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pidfile.exists(), "pid file not removed at exit");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_doc_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let want = vireo_server::config::doc::render();
    if std::env::var_os("VIREO_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/configuration.md is stale: run `VIREO_BLESS=1 cargo test -p vireo-server --test integration config::`"
    );
}

/// With `cluster-enabled yes` only database 0 can be selected; the argument is still checked
/// first, as Redis 7.0.15 does (replies recorded from a `--cluster-enabled yes` reference).
#[test]
fn cluster_enabled_select() {
    let srv = common::Server::start_with(&["--cluster-enabled", "yes"]);
    let mut r = srv.raw();
    r.script(&[
        ("SELECT 0", b"+OK\r\n"),
        ("SELECT 1", b"-ERR SELECT is not allowed in cluster mode\r\n"),
        ("SELECT 16", b"-ERR SELECT is not allowed in cluster mode\r\n"),
        ("SELECT -1", b"-ERR SELECT is not allowed in cluster mode\r\n"),
        ("SELECT x", b"-ERR value is not an integer or out of range\r\n"),
        (
            "SELECT 2147483648",
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        ),
        // Cluster commands are not built: with cluster-enabled yes they say so, rather than
        // "cluster support disabled" (their answer with cluster-enabled no).
        ("CLUSTER INFO", b"-ERR command 'cluster|info' is not implemented in Vireo yet\r\n"),
        ("READONLY", b"-ERR command 'readonly' is not implemented in Vireo yet\r\n"),
    ]);
    // And the log says so at start-up.
    let log = std::fs::read_to_string(srv.dir.join("server.log")).unwrap();
    assert!(log.contains("cluster-enabled is yes, but Vireo has no cluster mode yet"), "{log}");
}

/// Starts the server under `ulimit -n <nofile>` (soft and hard) on `port`, its log in `log`.
fn start_with_nofile(nofile: u32, port: u16, log: &Path) -> Child {
    Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$@\""))
        .arg("bash")
        .args([BIN, "--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `maxclients` needs `maxclients + 32` descriptors. Where the limit cannot be raised that far,
/// maxclients is lowered to fit, with Redis's warnings, and CONFIG SET past what fits is
/// refused with Redis's error; with not even the 32 reserved ones, the server does not start.
/// (A process allowed to raise its hard limit raises it instead, and says so, as Redis.)
#[test]
fn maxclients_fits_the_open_files_limit() {
    let dir = common::TempDir::new("nofile");
    let log = dir.0.join("log");
    let port = free_port();
    let mut child = start_with_nofile(256, port, &log);
    assert!(wait_ready(port, Some(&mut child)), "did not start");
    let mut r = Raw::connect(port);
    let maxclients = r.call(&["CONFIG", "GET", "maxclients"]);
    let text = || std::fs::read_to_string(&log).unwrap();
    if maxclients.ends_with(b"$5\r\n10000\r\n") {
        eprintln!("this process may raise its hard limit: checking that it did");
        assert!(
            text().contains(
                "Increased maximum number of open files to 10032 (it was originally set to 256)."
            ),
            "{}",
            text()
        );
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    assert_eq!(maxclients, b"*2\r\n$10\r\nmaxclients\r\n$3\r\n224\r\n");
    r.expect(
        "CONFIG SET maxclients 1000",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating \
          system is not able to handle the specified number of clients, try with 224\r\n",
    );
    r.expect("CONFIG GET maxclients", b"*2\r\n$10\r\nmaxclients\r\n$3\r\n224\r\n");
    r.expect("CONFIG SET maxclients 200", b"+OK\r\n");
    r.expect("CONFIG SET maxclients 224", b"+OK\r\n");
    let _ = child.kill();
    let _ = child.wait();
    for line in [
        "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
        "Server can't set maximum open files to 10032 because of OS error: Operation not \
         permitted.",
        "Current maximum open files is 256. maxclients has been reduced to 224 to compensate for \
         low ulimit. If you need higher maxclients increase 'ulimit -n'.",
    ] {
        assert!(text().contains(line), "no {line:?} in {}", text());
    }

    let port = free_port();
    let mut child = start_with_nofile(20, port, &log);
    let status = common::wait_exit(&mut child, 10).expect("started with 20 descriptors");
    assert!(!status.success());
    let want = "Your current 'ulimit -n' of 20 is not enough for the server to start. Please \
                increase your open file limit to at least 10032. Exiting.";
    // The whole line as Redis writes it: `<pid>:M 24 Nov 2026 06:13:08.532 # <message>`.
    let text = text();
    let line = text.lines().find(|l| l.ends_with(want)).unwrap_or_else(|| panic!("{text}"));
    let head: Vec<&str> = line[..line.len() - want.len()].split(' ').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let month = |m: &str| {
        "JanFebMarAprMayJunJulAugSepOctNovDec".as_bytes().chunks(3).any(|c| c == m.as_bytes())
    };
    assert_eq!(head.len(), 7, "{line}");
    assert_eq!(head[0], format!("{}:M", child.id()), "{line}");
    assert!(digits(head[1], 2) && month(head[2]), "{line}");
    assert!(digits(head[3], 4) && head[4].len() == 12, "{line}");
    let time: Vec<&str> = head[4].split([':', '.']).collect();
    assert!(time.len() == 4 && time[..3].iter().all(|t| digits(t, 2)), "{line}");
    assert!(digits(time[3], 3) && head[5] == "#" && head[6].is_empty(), "{line}");
}

/// `rename-command` as in a hardened redis.conf: a command under a new name (its replies,
/// errors and stats keep its own name, as Redis's), a command removed, scripts and COMMAND
/// seeing the same table, CONFIG REWRITE keeping the lines, and Redis's start-up errors.
#[test]
fn rename_command_lines() {
    let dir = common::TempDir::new("rename");
    let conf = dir.0.join("vireo.conf");
    std::fs::write(
        &conf,
        "rename-command FLUSHALL \"\"\nrename-command config my-config\nrename-command get FETCH\n",
    )
    .unwrap();
    let srv = common::ConfServer::start(&dir.0, &conf, &[]);
    let mut r = srv.raw();
    r.expect("SET a 1", b"+OK\r\n");
    r.expect("fetch a", b"$1\r\n1\r\n");
    r.expect("GET a", b"-ERR unknown command 'GET', with args beginning with: 'a' \r\n");
    r.expect("FLUSHALL", b"-ERR unknown command 'FLUSHALL', with args beginning with: \r\n");
    r.expect("FETCH", b"-ERR wrong number of arguments for 'get' command\r\n");
    r.expect("EVAL \"return redis.call('fetch', 'a')\" 0", b"$1\r\n1\r\n");
    let e = r.line("EVAL \"return redis.call('get', 'a')\" 0");
    assert!(e.starts_with(b"-ERR Unknown Redis command called from script"));
    assert!(r.line("COMMAND INFO fetch").starts_with(b"*1\r\n*10\r\n$3\r\nget\r\n"));
    r.expect("COMMAND INFO get", b"*1\r\n$-1\r\n");
    let count = r.int("COMMAND COUNT");
    let stats = r.info_field("commandstats", "cmdstat_get");
    assert!(stats.starts_with("calls=2,") && stats.contains("rejected_calls=1,"), "{stats}");
    // ACL rules name commands by their own names, as Redis's.
    r.expect("ACL SETUSER u1 on nopass ~* +get", b"+OK\r\n");
    r.expect(
        "ACL SETUSER u2 on nopass ~* +fetch",
        b"-ERR Error in ACL SETUSER modifier '+fetch': Unknown command or category name in ACL\r\n",
    );
    r.expect("ACL DRYRUN u1 fetch a", b"+OK\r\n");
    let acl = text_of(&r.line("ACL LIST"));
    assert!(acl.contains("user u1 on nopass ~* resetchannels -@all +get\r\n"), "{acl}");
    r.expect("my-config SET maxmemory-policy allkeys-lru", b"+OK\r\n");
    r.expect("my-config REWRITE", b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("rename-command FLUSHALL \"\"\nrename-command config my-config\n"));
    drop(srv);
    // Without the lines, one command more.
    let srv = common::Server::start();
    assert_eq!(srv.raw().int("COMMAND COUNT"), count + 1);

    for (line, err) in [
        ("rename-command nosuch x", "No such command in rename-command"),
        ("rename-command get set", "Target command name already exists"),
        ("rename-command get", "Bad directive or wrong number of arguments"),
    ] {
        std::fs::write(&conf, format!("{line}\n")).unwrap();
        let (code, out) = start_failing(&dir.0, &[conf.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(out.ends_with(&format!("{err}\n")), "{line}: {out}");
    }
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A stock Redis 7.2 or 7.4 redis.conf: 7.0's with `locale-collate ""` and
/// `set-max-listpack-*` set. It loads unchanged.
#[test]
fn redis_7_4_stock_conf_loads() {
    let dir = temp_dir("stock74");
    let conf = dir.join("redis.conf");
    let text = stock_conf(&dir)
        .replace("set-proc-title yes\n", "set-proc-title yes\nlocale-collate \"\"\n")
        .replace(
            "set-max-intset-entries 512\n",
            "set-max-intset-entries 512\nset-max-listpack-entries 128\nset-max-listpack-value 64\n",
        );
    assert!(text.contains("locale-collate") && text.contains("set-max-listpack-value"));
    std::fs::write(&conf, text).unwrap();
    let srv = FileServer::start_at(dir, conf, &[]);
    let mut r = srv.raw();
    r.expect("SET k v", b"+OK\r\n");
    r.expect("CONFIG GET locale-collate", b"*2\r\n$14\r\nlocale-collate\r\n$0\r\n\r\n");
    // Set once at start-up (the process locale cannot change under running threads).
    r.expect(
        "CONFIG SET locale-collate C",
        b"-ERR CONFIG SET failed (possibly related to argument 'locale-collate') - can't set immutable config\r\n",
    );
    let all = text_of(&r.line("CONFIG GET *"));
    assert!(!all.contains("\nlocale-collate"), "listed by a pattern");
}

/// A locale the system does not have stops start-up with Redis 7.2's reason.
#[test]
fn an_unknown_locale_collate_stops_start_up() {
    let args = ["--port", "0", "--locale-collate", "xx_NOWHERE.UTF-8"];
    let (code, err) = start_failing(Path::new("."), &args);
    assert_ne!(code, 0);
    assert!(
        err.contains(">>> 'locale-collate \"xx_NOWHERE.UTF-8\"'\nInvalid locale name"),
        "{err}"
    );
}

/// A Redis 7.2+ redis.conf sets `set-max-listpack-entries/value`: it loads, CONFIG GET/SET
/// answer them by name, and patterns still list Redis 7.0's directives only.
#[test]
fn redis_7_2_set_listpack_lines_load() {
    let dir = common::TempDir::new("conf72");
    let conf = dir.0.join("redis.conf");
    std::fs::write(&conf, "set-max-listpack-entries 100\nset-max-listpack-value 32\n").unwrap();
    let srv = common::ConfServer::start(&dir.0, &conf, &[]);
    let mut r = srv.raw();
    r.expect(
        "CONFIG GET set-max-listpack-entries",
        b"*2\r\n$24\r\nset-max-listpack-entries\r\n$3\r\n100\r\n",
    );
    r.expect("CONFIG SET set-max-listpack-value 64", b"+OK\r\n");
    r.expect(
        "CONFIG GET set-max-listpack-value",
        b"*2\r\n$22\r\nset-max-listpack-value\r\n$2\r\n64\r\n",
    );
    let all = text_of(&r.line("CONFIG GET *"));
    assert!(!all.contains("\nset-max-listpack"), "listed by a pattern");
    // Sets keep Redis 7.0's encodings.
    r.expect("SADD s a b", b":2\r\n");
    r.expect("OBJECT ENCODING s", b"$9\r\nhashtable\r\n");
    r.expect("CONFIG REWRITE", b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("set-max-listpack-entries 100\n"), "{text}");
    assert!(text.contains("set-max-listpack-value 64\n"), "{text}");
}
