//! Custom data types of modules: `sdk-examples/counter` (a `counter_t` type) built with cargo,
//! loaded at start-up, and its values used over the wire: TYPE, OBJECT ENCODING, WRONGTYPE,
//! MEMORY USAGE, DUMP/RESTORE, COPY, MOVE, SWAPDB, DEBUG RELOAD, SAVE and a restart from the
//! RDB file (aux data included), BGREWRITEAOF and a restart from the AOF, MODULE UNLOAD refused
//! while values exist, and a restart without the module refusing the file.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{build_module, show, DirServer, Raw, TempDir};

const VIREO: &str = env!("CARGO_BIN_EXE_vireo-server");
const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn counter() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-counter", "vireo_counter").display().to_string())
}

fn start(dir: &Path, extra: &[&str]) -> DirServer {
    let mut args = vec![
        "--loadmodule",
        counter(),
        "--enable-module-command",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    DirServer::start(Path::new(VIREO), dir, &args)
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

#[test]
fn values_in_the_keyspace() {
    let dir = TempDir::new("modtypes-keyspace");
    let srv = start(&dir.0, &[]);
    let mut r = srv.raw();
    r.expect("COUNTER.INCRBY c 5", b":5\r\n");
    r.expect("COUNTER.INCRBY c -2", b":3\r\n");
    r.expect("COUNTER.GET c", b":3\r\n");
    r.expect("COUNTER.GET missing", b"$-1\r\n");
    r.expect("TYPE c", b"+counter_t\r\n");
    r.expect("OBJECT ENCODING c", b"$3\r\nraw\r\n");
    // Built-in commands on a module key, and module commands on a built-in key.
    r.expect("GET c", WRONGTYPE);
    r.expect("LPUSH c x", WRONGTYPE);
    r.expect("SET s v", b"+OK\r\n");
    r.expect("COUNTER.INCRBY s 1", WRONGTYPE);
    r.expect("COUNTER.GET s", WRONGTYPE);
    let usage = r.int("MEMORY USAGE c");
    assert!(usage > 16, "MEMORY USAGE counts the record and the module's 16 bytes: {usage}");
    r.expect("DBSIZE", b":2\r\n");

    // DUMP / RESTORE: the payload carries the module type's id and items.
    let payload = r.call(&["DUMP", "c"]);
    let body = &payload[payload.iter().position(|&b| b == b'\n').unwrap() + 1..payload.len() - 2];
    assert_eq!(body[0], 7, "RDB_TYPE_MODULE_2: {}", show(&payload));
    assert_eq!(r.call(&[&b"RESTORE"[..], b"c2", b"0", body]), b"+OK\r\n");
    r.expect("COUNTER.INFO c2", b"*2\r\n:3\r\n:2\r\n");
    let mut bad = body.to_vec();
    let n = bad.len();
    bad[n - 12] ^= 0xff;
    assert_eq!(
        r.call(&[&b"RESTORE"[..], b"c9", b"0", &bad]),
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );

    // COPY makes an independent value; MOVE and SWAPDB carry it.
    r.expect("COPY c c3", b":1\r\n");
    r.expect("COUNTER.INCRBY c3 10", b":13\r\n");
    r.expect("COUNTER.GET c", b":3\r\n");
    r.expect("COPY c c3", b":0\r\n");
    r.expect("COPY c c3 DB 2", b":1\r\n");
    r.expect("MOVE c3 1", b":1\r\n");
    r.expect("SELECT 1", b"+OK\r\n");
    r.expect("COUNTER.GET c3", b":13\r\n");
    r.expect("SWAPDB 0 1", b"+OK\r\n");
    r.expect("COUNTER.GET c3", b"$-1\r\n");
    r.expect("COUNTER.GET c", b":3\r\n");
    r.expect("SELECT 0", b"+OK\r\n");
    r.expect("COUNTER.GET c3", b":13\r\n");

    // MODULE UNLOAD is refused while values of its type exist.
    let refused: &[u8] = b"-ERR Error unloading module: the module exports one or more module-side data types, can't unload\r\n";
    r.expect("MODULE UNLOAD counter", refused);
    r.expect("FLUSHALL", b"+OK\r\n");
    r.expect("MODULE UNLOAD counter", b"+OK\r\n");
    r.expect("TYPE c", b"+none\r\n");
}

#[test]
fn persistence_through_rdb() {
    let dir = TempDir::new("modtypes-rdb");
    let srv = start(&dir.0, &["--save", ""]);
    let mut r = srv.raw();
    r.expect("COUNTER.INCRBY c 40", b":40\r\n");
    r.expect("COUNTER.INCRBY c 2", b":42\r\n");
    r.expect("COUNTER.INCRBY other 1", b":1\r\n");
    r.expect("PEXPIRE other 1000000", b":1\r\n");
    r.expect("SET plain v", b"+OK\r\n");
    // The digest covers module values through the type's digest callback: a reload and a
    // restart keep it, a change of the value changes it (below).
    let digest = r.line("DEBUG DIGEST");
    let value_digest = r.line("DEBUG DIGEST-VALUE c");
    r.expect("DEBUG RELOAD", b"+OK\r\n");
    assert_eq!(r.line("DEBUG DIGEST"), digest);
    assert_eq!(r.line("DEBUG DIGEST-VALUE c"), value_digest);
    r.expect("COUNTER.INFO c", b"*2\r\n:42\r\n:2\r\n");
    assert!(r.int("PTTL other") > 0);
    r.expect("SAVE", b"+OK\r\n");
    drop(r);
    srv.stop();

    // A restart loads the module first, then the file: values and aux data come back.
    let srv = start(&dir.0, &["--save", ""]);
    let mut r = srv.raw();
    r.expect("COUNTER.INFO c", b"*2\r\n:42\r\n:2\r\n");
    r.expect("COUNTER.GET other", b":1\r\n");
    assert!(r.int("PTTL other") > 0, "the expiry survives");
    r.expect("GET plain", &bulk("v"));
    r.expect("COUNTER.TOTAL", b":3\r\n");
    r.expect("TYPE c", b"+counter_t\r\n");
    assert_eq!(r.line("DEBUG DIGEST"), digest);
    r.expect("COUNTER.INCRBY c 1", b":43\r\n");
    assert_ne!(r.line("DEBUG DIGEST-VALUE c"), value_digest);
    assert_ne!(r.line("DEBUG DIGEST"), digest);
    drop(r);
    srv.stop();

    // Without the module, the file is refused with a message naming the type.
    let out = Command::new(VIREO)
        .args(["--port", &common::free_port().to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(&dir.0)
        .args(["--logfile", "vireo.log"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let log = std::fs::read_to_string(dir.0.join("vireo.log")).unwrap();
    assert!(
        log.contains(
            "The RDB file contains module data I can't load: no matching module type 'counter_t'"
        ),
        "{log}"
    );
}

fn wait_rewrite(r: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = String::from_utf8_lossy(&r.call(&["INFO", "persistence"])).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && !info.contains("aof_rewrite_scheduled:1") {
            return;
        }
        assert!(Instant::now() < deadline, "the rewrite did not finish: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn aof_round_trip(preamble: &str) {
    let dir = TempDir::new(&format!("modtypes-aof-{preamble}"));
    let extra = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble, "--save", ""];
    let srv = start(&dir.0, &extra);
    let mut r = srv.raw();
    r.expect("COUNTER.INCRBY c 5", b":5\r\n");
    r.expect("COUNTER.INCRBY c 5", b":10\r\n");
    r.expect("BGREWRITEAOF", b"+Background append only file rewriting started\r\n");
    wait_rewrite(&mut r);
    // Written after the rewrite: replayed from the incremental file.
    r.expect("COUNTER.INCRBY c 1", b":11\r\n");
    r.expect("COUNTER.RESET d", b"$-1\r\n");
    r.expect("COUNTER.INCRBY d 3", b":3\r\n");
    r.expect("COUNTER.RESET d", b":3\r\n");
    drop(r);
    srv.stop();

    let srv = start(&dir.0, &extra);
    let mut r = srv.raw();
    r.expect("COUNTER.INFO c", b"*2\r\n:11\r\n:3\r\n");
    r.expect("COUNTER.GET d", b":0\r\n");
    r.expect("TYPE d", b"+counter_t\r\n");
}

#[test]
fn aof_rewrite_uses_the_callback() {
    aof_round_trip("no");
}

#[test]
fn aof_with_an_rdb_preamble() {
    aof_round_trip("yes");
}
