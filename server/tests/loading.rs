//! Start-up loading, as Redis 7.0: the server listens while it loads its RDB file or its AOF
//! (slowed down with `key-load-delay`), refuses commands without the `loading` flag with
//! -LOADING, shows the progress in INFO persistence and the log, and serves the data after.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, TempDir};

const VIREO: &str = env!("CARGO_BIN_EXE_vireo-server");
const LOADING: &[u8] = b"-LOADING Redis is loading the dataset in memory\r\n";

/// A Vireo process on `dir`, its log in `dir/server.log`.
struct Proc {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Proc {
    /// Starts and waits only until the port accepts connections (`loaded` false) or until the
    /// data set has loaded.
    fn start(dir: &Path, args: &[&str], loaded: bool) -> Proc {
        for _ in 0..5 {
            let port = common::free_port();
            let log = std::fs::File::create(dir.join("server.log")).unwrap();
            let mut child = Command::new(VIREO)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--enable-debug-command", "yes"])
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            if common::wait_port(port, Some(&mut child), loaded) {
                return Proc { child, port, dir: dir.to_path_buf() };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("vireo did not start in {}", dir.display());
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Waits until PING is answered (the load is over); how long that took.
    fn wait_loaded(&self, r: &mut Raw) -> Duration {
        let start = Instant::now();
        while r.call(&["PING"]) != b"+PONG\r\n" {
            assert!(start.elapsed() < Duration::from_secs(60), "never loaded: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

fn field(info: &str, name: &str) -> Option<String> {
    info.split("\r\n").find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

/// What a client sees while the data set loads: -LOADING for commands without the `loading`
/// flag (also inside MULTI, which EXEC then aborts), answers for the others, and INFO's
/// progress fields, in Redis 7.0's order after the AOF fields.
fn check_while_loading(r: &mut Raw, total_bytes: u64, rdb_used_mem: bool) {
    assert_eq!(r.call(&["PING"]), LOADING);
    assert_eq!(r.call(&["GET", "key:1"]), LOADING);
    assert_eq!(r.call(&["DBSIZE"]), LOADING);
    assert_eq!(r.call(&["SET", "new", "1"]), LOADING);
    assert_eq!(r.call(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(r.call(&["ECHO", "x"]), b"$1\r\nx\r\n");
    assert_eq!(r.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(r.call(&["GET", "a"]), LOADING);
    assert_eq!(
        r.call(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let cfg = r.call(&["CONFIG", "GET", "key-load-delay"]);
    assert!(text(&cfg).contains("key-load-delay"), "{}", text(&cfg));
    let info = text(&r.call(&["INFO", "persistence"]));
    assert_eq!(field(&info, "loading").as_deref(), Some("1"), "{info}");
    assert_eq!(field(&info, "async_loading").as_deref(), Some("0"), "{info}");
    let names: Vec<&str> = info
        .split("\r\n")
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .skip_while(|k| !k.starts_with("loading_"))
        .collect();
    assert_eq!(
        names,
        [
            "loading_start_time",
            "loading_total_bytes",
            "loading_rdb_used_mem",
            "loading_loaded_bytes",
            "loading_loaded_perc",
            "loading_eta_seconds"
        ],
        "{info}"
    );
    let num = |k: &str| field(&info, k).unwrap().parse::<f64>().unwrap();
    assert_eq!(num("loading_total_bytes") as u64, total_bytes, "{info}");
    assert!(num("loading_loaded_bytes") <= total_bytes as f64, "{info}");
    assert!((0.0..100.0).contains(&num("loading_loaded_perc")), "{info}");
    let start = num("loading_start_time") as i64;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    assert!((now.as_secs() as i64 - start).abs() < 60, "{info}");
    assert_eq!(num("loading_rdb_used_mem") > 0.0, rdb_used_mem, "{info}");
    assert!(field(&info, "loading_loaded_perc").unwrap().split('.').nth(1).unwrap().len() == 2);
}

fn check_loaded(r: &mut Raw, keys: i64) {
    assert_eq!(r.call(&["DBSIZE"]), format!(":{keys}\r\n").as_bytes());
    assert_eq!(r.call(&["GET", "key:7"]), b"$7\r\nvalue:7\r\n");
    let info = text(&r.call(&["INFO", "persistence"]));
    assert_eq!(field(&info, "loading").as_deref(), Some("0"), "{info}");
    assert!(!info.contains("loading_"), "{info}");
}

const KEYS: i64 = 30_000;

#[test]
fn rdb_loads_while_clients_get_loading() {
    let dir = TempDir::new("loading-rdb");
    {
        let p = Proc::start(&dir.0, &["--save", ""], true);
        let mut r = p.raw();
        assert_eq!(r.call(&["DEBUG", "POPULATE", &KEYS.to_string()]), b"+OK\r\n");
        assert_eq!(r.call(&["SAVE"]), b"+OK\r\n");
    }
    let size = std::fs::metadata(dir.0.join("dump.rdb")).unwrap().len();
    // 100 µs a key: about three seconds.
    let p = Proc::start(&dir.0, &["--save", "", "--key-load-delay", "100"], false);
    let mut r = p.raw();
    check_while_loading(&mut r, size, true);
    // The live key count of INFO moves while the file loads.
    let info = text(&r.call(&["INFO", "persistence"]));
    let keys: i64 = field(&info, "rdb_last_load_keys_loaded").unwrap().parse().unwrap();
    if field(&info, "loading").as_deref() == Some("1") {
        assert!((0..=KEYS).contains(&keys), "{info}");
    }
    let waited = p.wait_loaded(&mut r);
    assert!(waited > Duration::from_millis(500), "loaded too fast to test: {waited:?}");
    check_loaded(&mut r, KEYS);
    let info = text(&r.call(&["INFO", "persistence"]));
    assert_eq!(field(&info, "rdb_last_load_keys_loaded"), Some(KEYS.to_string()), "{info}");
    let log = p.log();
    assert!(log.contains("Loading: ") && log.contains("per second"), "{log}");
    assert!(log.contains("Done loading RDB, keys loaded: 30000, keys expired: 0."), "{log}");
    assert!(log.contains("Ready to accept connections"), "{log}");
}

#[test]
fn aof_loads_while_clients_get_loading() {
    let dir = TempDir::new("loading-aof");
    let aof = ["--save", "", "--appendonly", "yes", "--aof-use-rdb-preamble", "no"];
    {
        let p = Proc::start(&dir.0, &aof, true);
        let mut r = p.raw();
        assert_eq!(r.call(&["DEBUG", "POPULATE", &KEYS.to_string()]), b"+OK\r\n");
        // DEBUG POPULATE is not propagated: a rewrite puts the keys in the base file.
        assert_eq!(r.call(&["BGREWRITEAOF"]).first(), Some(&b'+'));
        let t = Instant::now();
        while !text(&r.call(&["INFO", "persistence"])).contains("aof_rewrite_in_progress:0") {
            assert!(t.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(r.call(&["SET", "after", "rewrite"]), b"+OK\r\n");
    }
    let adir = dir.0.join("appendonlydir");
    let total: u64 = std::fs::read_dir(&adir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".manifest"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let mut args = aof.to_vec();
    args.extend(["--key-load-delay", "100"]);
    let p = Proc::start(&dir.0, &args, false);
    let mut r = p.raw();
    check_while_loading(&mut r, total, false);
    let info = text(&r.call(&["INFO", "persistence"]));
    // Not on until loaded, as Redis 7.0 (its size fields show zeros meanwhile).
    assert_eq!(field(&info, "aof_enabled").as_deref(), Some("0"), "{info}");
    assert_eq!(field(&info, "aof_current_size").as_deref(), Some("0"), "{info}");
    p.wait_loaded(&mut r);
    check_loaded(&mut r, KEYS + 1);
    assert_eq!(r.call(&["GET", "after"]), b"$7\r\nrewrite\r\n");
    let info = text(&r.call(&["INFO", "persistence"]));
    assert_eq!(field(&info, "aof_enabled").as_deref(), Some("1"), "{info}");
    // Every command replayed (the AOF-format base's and the incremental file's) is a change
    // not in an RDB file yet: Redis 7.0 counts them all (RDB-preamble keys it does not).
    let changes = (KEYS + 1).to_string();
    assert_eq!(field(&info, "rdb_changes_since_last_save"), Some(changes), "{info}");
    assert!(p.log().contains("Loading: "), "{}", p.log());
}

#[test]
fn shutdown_while_loading_does_not_save() {
    let dir = TempDir::new("loading-shutdown");
    {
        let p = Proc::start(&dir.0, &["--save", ""], true);
        let mut r = p.raw();
        assert_eq!(r.call(&["DEBUG", "POPULATE", "20000"]), b"+OK\r\n");
        assert_eq!(r.call(&["SAVE"]), b"+OK\r\n");
    }
    let before = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    // Save points are set: a SHUTDOWN would save, but not a data set still loading.
    let mut p = Proc::start(&dir.0, &["--save", "900 1", "--key-load-delay", "200"], false);
    let mut r = p.raw();
    assert_eq!(r.call(&["PING"]), LOADING);
    r.send_cmd(&["SHUTDOWN"]);
    let t = Instant::now();
    while p.child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(10), "no exit: {}", p.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(dir.0.join("dump.rdb")).unwrap(), before);
}
