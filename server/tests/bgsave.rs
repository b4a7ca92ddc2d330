//! BGSAVE, black-box: a point-in-time image written while clients keep writing, the save
//! schedule, BGSAVE's refusals and INFO fields, FLUSHALL abandoning it, and MISCONF after a
//! failed one (`stop-writes-on-bgsave-error`).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{DirServer, Raw};

const VIREO: &str = env!("CARGO_BIN_EXE_vireo-server");

/// Vireo in `dir`.
fn start(dir: &Path, extra: &[&str]) -> DirServer {
    DirServer::start(Path::new(VIREO), dir, extra)
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vireo-bgsave-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn info_field(r: &mut Raw, field: &str) -> String {
    r.info_field("persistence", field)
}

fn wait_bgsave_done(r: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(r, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The file BGSAVE writes holds the data as it was when BGSAVE was called, although every key
/// is rewritten, deleted or joined by new ones while it runs (slowed down with
/// `rdb-key-save-delay` so that all of that happens mid-save).
#[test]
fn bgsave_writes_the_data_of_its_instant_while_clients_write() {
    const N: usize = 40_000;
    let dir = tempdir("instant");
    let srv = start(&dir, &["--save", ""]);
    let mut r = srv.raw();
    pipeline(&mut r, (0..N).map(|i| vec![b"SET".to_vec(), key(i), format!("v{i}").into_bytes()]));
    r.line("RPUSH list a b c");
    r.line("HSET h f1 1 f2 2");
    r.line("SELECT 3");
    r.line("SET other db3");
    r.line("SELECT 0");
    // 20 µs a record (after each slice of the walk) makes the save last ~0.8 s, so the writes
    // below land in the middle of it.
    r.expect("CONFIG SET rdb-key-save-delay 20", b"+OK\r\n");
    r.expect("BGSAVE", b"+Background saving started\r\n");
    assert_eq!(info_field(&mut r, "rdb_bgsave_in_progress"), "1");
    r.expect("BGSAVE", b"-ERR Background save already in progress\r\n");
    r.expect("SAVE", b"-ERR Background save already in progress\r\n");
    pipeline(
        &mut r,
        (0..N).flat_map(|i| {
            let k = key(i);
            let change = match i % 3 {
                0 => vec![b"SET".to_vec(), k, b"changed".to_vec()],
                1 => vec![b"DEL".to_vec(), k],
                _ => vec![b"APPEND".to_vec(), k, b"-more".to_vec()],
            };
            [change, vec![b"SET".to_vec(), format!("new{i}").into_bytes(), b"x".to_vec()]]
        }),
    );
    r.line("RPUSH list d");
    r.line("HDEL h f1");
    r.line("SWAPDB 0 3");
    assert_eq!(info_field(&mut r, "rdb_bgsave_in_progress"), "1", "the writes were mid-save");
    wait_bgsave_done(&mut r);
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut r, "rdb_saves"), "1");
    drop(srv);

    let srv = start(&dir, &["--save", ""]);
    let mut r = srv.raw();
    assert_eq!(r.int("DBSIZE"), N as i64 + 2, "no new key, none deleted");
    for i in 0..N {
        let v = format!("v{i}");
        r.send_cmd(&[b"GET".to_vec(), key(i)]);
        assert_eq!(r.read_reply(), format!("${}\r\n{v}\r\n", v.len()).into_bytes(), "k{i}");
    }
    r.expect("LRANGE list 0 -1", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    r.expect("HGET h f1", b"$1\r\n1\r\n");
    r.expect("SELECT 3", b"+OK\r\n");
    r.expect("DBSIZE", b":1\r\n");
    r.expect("GET other", b"$3\r\ndb3\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

/// Sends the commands a thousand at a time, reading each thousand's replies.
fn pipeline(r: &mut Raw, cmds: impl Iterator<Item = Vec<Vec<u8>>>) {
    let cmds: Vec<_> = cmds.collect();
    for chunk in cmds.chunks(1000) {
        let buf: Vec<u8> = chunk.iter().flat_map(|c| common::encode(c)).collect();
        r.send(&buf);
        for _ in chunk {
            r.read_reply();
        }
    }
}

/// `save <seconds> <changes>` starts a BGSAVE on its own; LASTSAVE moves and the change count
/// goes back to 0.
#[test]
fn save_points_trigger_a_background_save() {
    let dir = tempdir("schedule");
    let srv = start(&dir, &["--save", "1 2"]);
    let mut r = srv.raw();
    let before = r.int("LASTSAVE");
    r.line("SET a 1");
    r.line("SET b 2");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("dump.rdb").exists() || info_field(&mut r, "rdb_changes_since_last_save") != "0"
    {
        assert!(Instant::now() < deadline, "no save within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_bgsave_done(&mut r);
    assert!(r.int("LASTSAVE") >= before);
    assert_eq!(info_field(&mut r, "rdb_saves"), "1");
    let _ = std::fs::remove_dir_all(&dir);
}

/// FLUSHALL stops a BGSAVE in progress (as Redis kills its child), which is not a failure, and
/// the next BGSAVE runs.
#[test]
fn flushall_abandons_a_bgsave() {
    let dir = tempdir("flush");
    let srv = start(&dir, &["--save", ""]);
    let mut r = srv.raw();
    pipeline(&mut r, (0..20000).map(|i| vec![b"SET".to_vec(), key(i), b"v".to_vec()]));
    r.expect("CONFIG SET rdb-key-save-delay 100", b"+OK\r\n");
    r.expect("BGSAVE", b"+Background saving started\r\n");
    r.expect("FLUSHALL", b"+OK\r\n");
    wait_bgsave_done(&mut r);
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    assert!(!dir.join("dump.rdb").exists(), "an abandoned save leaves no file");
    r.expect("CONFIG SET rdb-key-save-delay 0", b"+OK\r\n");
    r.line("SET after 1");
    r.expect("BGSAVE", b"+Background saving started\r\n");
    wait_bgsave_done(&mut r);
    assert!(dir.join("dump.rdb").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

const MISCONF: &[u8] = b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";

/// A BGSAVE that cannot write its file (the directory is gone) fails; with save points and
/// `stop-writes-on-bgsave-error yes` writes and PING then get MISCONF (as Redis 7.0.15
/// answered), reads go on, and turning the option off lets writes in again.
#[test]
fn a_failed_bgsave_stops_writes() {
    let dir = tempdir("misconf");
    let srv = start(&dir, &["--save", "3600 1"]);
    let mut r = srv.raw();
    r.line("SET a 1");
    std::fs::remove_dir_all(&dir).unwrap();
    r.expect("BGSAVE", b"+Background saving started\r\n");
    wait_bgsave_done(&mut r);
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "err");
    r.expect("SET b 2", MISCONF);
    r.expect("PING", MISCONF);
    r.expect("GET a", b"$1\r\n1\r\n");
    r.expect("CONFIG SET stop-writes-on-bgsave-error no", b"+OK\r\n");
    r.expect("SET b 2", b"+OK\r\n");
    r.expect("PING", b"+PONG\r\n");
}
