//! RDB persistence, black-box: SAVE + restart and DEBUG RELOAD round trips for every type and
//! encoding, expiries, SHUTDOWN saving, corrupt files refusing start-up, files recorded from
//! Redis 7.0 and 7.4, DUMP/RESTORE, and (with a reference Redis) files and payloads moving both
//! ways between Redis and Vireo.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, reference_redis, DirServer as Proc};
use redis::Value;

const VIREO: &str = env!("CARGO_BIN_EXE_vireo-server");

/// Small conversion thresholds, so that small and large collections get both encodings.
const SMALL: &[&str] = &[
    "--list-max-listpack-size",
    "4",
    "--hash-max-listpack-entries",
    "4",
    "--zset-max-listpack-entries",
    "4",
    "--set-max-intset-entries",
    "4",
];

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vireo-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs Vireo on `dir` expecting it to refuse to start; returns its log.
fn failed_start(dir: &Path) -> String {
    let port = free_port();
    let mut child = Command::new(VIREO)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match common::wait_exit(&mut child, 10) {
        Some(status) => assert!(!status.success(), "start-up should fail"),
        None => {
            let _ = child.kill();
            panic!("server started on a bad file");
        }
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn cmd(c: &mut redis::Connection, args: &[&[u8]]) -> Value {
    let mut k = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

fn run(c: &mut redis::Connection, line: &str) -> Value {
    let args = common::split_args(line);
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    cmd(c, &refs)
}

fn bulks(v: Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => b,
                Value::Int(n) => n.to_string().into_bytes(),
                other => format!("{other:?}").into_bytes(),
            })
            .collect(),
        Value::Nil => vec![],
        other => panic!("not an array: {other:?}"),
    }
}

/// Everything observable about databases 0..4, in an order both Redis and Vireo give the same.
fn state(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..4 {
        run(c, &format!("SELECT {db}"));
        let mut keys = bulks(run(c, "KEYS *"));
        keys.sort();
        for k in keys {
            out.push(format!("db{db} {}", String::from_utf8_lossy(&k)));
            out.push(render(c, &k));
        }
    }
    run(c, "SELECT 0");
    out
}

/// A key's type, whether it has a TTL, and its value, in a form Redis and Vireo give alike.
fn render(c: &mut redis::Connection, k: &[u8]) -> String {
    let t = match cmd(c, &[b"TYPE", k]) {
        Value::SimpleString(s) => s,
        Value::Okay => "OK".into(),
        other => format!("{other:?}"),
    };
    let ttl = match cmd(c, &[b"PTTL", k]) {
        Value::Int(n) => n,
        _ => -3,
    };
    let head = format!("{t} ttl>0:{}", ttl > 0);
    let v = match t.as_str() {
        "string" => format!("{:?}", cmd(c, &[b"GET", k])),
        "list" => format!("{:?}", cmd(c, &[b"LRANGE", k, b"0", b"-1"])),
        "set" => {
            let mut m = bulks(cmd(c, &[b"SMEMBERS", k]));
            m.sort();
            format!("{m:?}")
        }
        "zset" => format!("{:?}", cmd(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"])),
        "hash" => {
            let flat = bulks(cmd(c, &[b"HGETALL", k]));
            let mut pairs: Vec<_> = flat.chunks(2).map(|p| p.to_vec()).collect();
            pairs.sort();
            format!("{pairs:?}")
        }
        "stream" => format!(
            "{:?} {:?}",
            cmd(c, &[b"XRANGE", k, b"-", b"+"]),
            cmd(c, &[b"XINFO", b"STREAM", k, b"FULL"])
        ),
        _ => String::new(),
    };
    format!("{head} {v}")
}

fn encodings(c: &mut redis::Connection, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| match run(c, &format!("OBJECT ENCODING {k}")) {
            Value::BulkString(b) => format!("{k}:{}", String::from_utf8_lossy(&b)),
            other => format!("{k}:{other:?}"),
        })
        .collect()
}

/// Every type, each in its small and its large encoding, expiries, several databases.
fn populate(c: &mut redis::Connection) {
    let big: String = (0..300).map(|i| format!("w{i} ")).collect();
    for line in [
        "SET str hello",
        "SET int 12345",
        "SET neg -7",
        "SET bigint 99999999999999",
        "SET f 3.25",
        "SET empty \"\"",
        "SET ttl v PX 500000",
        "RPUSH lsmall a b 1 2",
        "RPUSH lbig a b c d e f g h i j k 100 200 300 -5 -70000 9999999999",
        "SADD sint 1 2 3",
        "SADD sbigint 1 2 3 4 5 6 7",
        "SADD sstr a b c",
        "ZADD zsmall 1 a 2 b 3.5 c",
        "ZADD zbig 1 a 2 b 3 c 4 d 5 e 6 f -inf g inf h 0.1 i -2.5e-10 j",
        "HSET hsmall f1 v1 f2 2",
        "HSET hbig a 1 b 2 c 3 d 4 e 5 f 6",
        "XADD st 1-1 a 1 b 2",
        "XADD st 1-2 a 3 b 4",
        "XADD st 2-1 c 5",
        "XADD st 3-0 a x b y",
        "XDEL st 1-2",
        "XGROUP CREATE st g1 0",
        "XGROUP CREATE st g2 $",
        "XREADGROUP GROUP g1 alice COUNT 2 STREAMS st >",
        "XREADGROUP GROUP g1 bob COUNT 1 STREAMS st >",
        "XGROUP CREATECONSUMER st g1 carol",
        "XADD stempty MAXLEN 0 * a 1",
        "SELECT 3",
        "SET indb3 yes",
        "EXPIRE indb3 100000",
        "RPUSH l3 x",
        "SELECT 0",
    ] {
        run(c, line);
    }
    cmd(c, &[b"SET", b"compressible", big.as_bytes()]);
    cmd(c, &[b"RPUSH", b"lbig", big.as_bytes(), big.as_bytes()]);
    cmd(c, &[b"HSET", b"hlongval", b"f", big.as_bytes()]);
    let binary: Vec<u8> = (0..=255u8).collect();
    cmd(c, &[b"SET", b"bin", &binary]);
    cmd(c, &[b"SADD", b"sstr", &binary]);
}

const ENC_KEYS: &[&str] = &[
    "str",
    "int",
    "compressible",
    "lsmall",
    "lbig",
    "sint",
    "sbigint",
    "sstr",
    "zsmall",
    "zbig",
    "hsmall",
    "hbig",
    "hlongval",
];

#[test]
fn save_and_restart_round_trips_every_type() {
    let dir = tempdir("restart");
    let mut args = vec!["--save", ""];
    args.extend_from_slice(SMALL);
    let p = Proc::start(Path::new(VIREO), &dir, &args);
    let mut c = p.conn();
    populate(&mut c);
    let before = state(&mut c);
    let enc_before = encodings(&mut c, ENC_KEYS);
    assert_eq!(run(&mut c, "SAVE"), Value::Okay);
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    assert!(info.contains("rdb_saves:1\r\n"), "{info}");
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(info.contains(&format!("rdb_last_save_time:{lastsave}\r\n")));
    assert!(dir.join("dump.rdb").is_file());
    assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("temp-")));
    p.stop();

    let p = Proc::start(Path::new(VIREO), &dir, &args);
    let mut c = p.conn();
    assert_eq!(state(&mut c), before);
    assert_eq!(encodings(&mut c, ENC_KEYS), enc_before);
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_last_load_keys_loaded:"), "{info}");
    let ttl: i64 = redis::cmd("PTTL").arg("ttl").query(&mut c).unwrap();
    assert!(ttl > 400_000 && ttl <= 500_000, "{ttl}");
    p.stop();
    // Uncompressed and unchecksummed files load too.
    let mut plain = args.clone();
    plain.extend_from_slice(&["--rdbcompression", "no", "--rdbchecksum", "no"]);
    let p = Proc::start(Path::new(VIREO), &dir, &plain);
    run(&mut p.conn(), "SAVE");
    let raw = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert_eq!(&raw[raw.len() - 8..], &[0; 8]);
    assert!(raw.windows(20).any(|w| w == b"w0 w1 w2 w3 w4 w5 w6"));
    p.stop();
    let p = Proc::start(Path::new(VIREO), &dir, &args);
    assert_eq!(state(&mut p.conn()), before);
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_keeps_everything() {
    let dir = tempdir("reload");
    let mut args = vec!["--save", "", "--enable-debug-command", "yes"];
    args.extend_from_slice(SMALL);
    let p = Proc::start(Path::new(VIREO), &dir, &args);
    let mut c = p.conn();
    populate(&mut c);
    let before = state(&mut c);
    let enc = encodings(&mut c, ENC_KEYS);
    let digest = run(&mut c, "DEBUG DIGEST");
    assert_eq!(run(&mut c, "DEBUG RELOAD"), Value::Okay);
    assert_eq!(state(&mut c), before);
    assert_eq!(run(&mut c, "DEBUG DIGEST"), digest);
    assert_eq!(encodings(&mut c, ENC_KEYS), enc);
    // NOSAVE reloads the file as it is: a key written since is gone.
    run(&mut c, "SET after 1");
    assert_eq!(run(&mut c, "DEBUG RELOAD NOSAVE"), Value::Okay);
    assert_eq!(run(&mut c, "EXISTS after"), Value::Int(0));
    // MERGE alone still empties the dataset first (as Redis); NOFLUSH MERGE keeps keys that
    // are not in the file.
    run(&mut c, "SET after 1");
    assert_eq!(run(&mut c, "DEBUG RELOAD MERGE NOSAVE"), Value::Okay);
    assert_eq!(run(&mut c, "EXISTS after str"), Value::Int(1));
    run(&mut c, "SET after 1");
    assert_eq!(run(&mut c, "DEBUG RELOAD NOFLUSH MERGE NOSAVE"), Value::Okay);
    assert_eq!(run(&mut c, "EXISTS after str"), Value::Int(2));
    // NOFLUSH without MERGE refuses a file whose keys exist (Redis exits), keeping the data.
    assert!(matches!(
        redis::cmd("DEBUG").arg("RELOAD").arg("NOFLUSH").arg("NOSAVE").query::<Value>(&mut c),
        Err(e) if e.to_string().contains("Error trying to load the RDB dump")
    ));
    assert_eq!(run(&mut c, "EXISTS after str"), Value::Int(2));
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_saves_when_save_points_are_set() {
    let dir = tempdir("shutdown");
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", "3600 1"]);
    let mut c = p.conn();
    run(&mut c, "SET k v");
    let _ = redis::cmd("SHUTDOWN").query::<Value>(&mut c);
    p.wait_exit();
    assert!(dir.join("dump.rdb").is_file());
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", "3600 1"]);
    let mut c = p.conn();
    assert_eq!(run(&mut c, "GET k"), Value::BulkString(b"v".to_vec()));
    // NOSAVE: the change is lost.
    run(&mut c, "SET k w");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<Value>(&mut c);
    p.wait_exit();
    // SAVE without save points saves anyway.
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", ""]);
    let mut c = p.conn();
    assert_eq!(run(&mut c, "GET k"), Value::BulkString(b"v".to_vec()));
    run(&mut c, "SET k x");
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<Value>(&mut c);
    p.wait_exit();
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", ""]);
    assert_eq!(run(&mut p.conn(), "GET k"), Value::BulkString(b"x".to_vec()));
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_saves_when_save_points_are_set() {
    let dir = tempdir("sigterm");
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", "3600 1"]);
    run(&mut p.conn(), "SET k v");
    let pid = p.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    p.wait_exit();
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", ""]);
    assert_eq!(run(&mut p.conn(), "GET k"), Value::BulkString(b"v".to_vec()));
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expired_keys_are_dropped_at_load() {
    let dir = tempdir("expired");
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = p.conn();
    run(&mut c, "DEBUG SET-ACTIVE-EXPIRE 0");
    run(&mut c, "SET soon v PX 150");
    run(&mut c, "SET later v EX 1000");
    run(&mut c, "SAVE");
    p.stop();
    std::thread::sleep(Duration::from_millis(300));
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", ""]);
    let mut c = p.conn();
    assert_eq!(run(&mut c, "DBSIZE"), Value::Int(1));
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_last_load_keys_expired:1\r\n"), "{info}");
    assert!(info.contains("rdb_last_load_keys_loaded:1\r\n"), "{info}");
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_or_truncated_files_refuse_start_up() {
    let dir = tempdir("corrupt");
    let p = Proc::start(Path::new(VIREO), &dir, &["--save", ""]);
    let mut c = p.conn();
    populate(&mut c);
    run(&mut c, "SAVE");
    p.stop();
    let good = std::fs::read(dir.join("dump.rdb")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("no checksum", good[..good.len() - 8].to_vec()),
        ("bad checksum", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 1] ^= 0xff;
            b
        }),
        ("flipped byte", {
            let mut b = good.clone();
            b[good.len() / 3] ^= 0x5a;
            b
        }),
        ("garbage", b"this is not an rdb file at all".to_vec()),
        ("newer version", [&b"REDIS0013"[..], &good[9..]].concat()),
    ];
    for (what, bytes) in cases {
        std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
        let log = failed_start(&dir);
        assert!(log.contains("Fatal error loading the DB"), "{what}: {log}");
        if what == "newer version" {
            assert!(log.contains("Can't handle RDB format version 13"), "{log}");
        }
        if what == "bad checksum" {
            assert!(log.contains("wrong RDB checksum"), "{log}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

/// What `rdb-fixtures-fill.txt` leaves in a server.
fn check_fixture_data(c: &mut redis::Connection) {
    let s = |c: &mut redis::Connection, l: &str| format!("{:?}", run(c, l));
    assert_eq!(run(c, "GET s1"), Value::BulkString(b"hello".to_vec()));
    assert_eq!(run(c, "GET s2"), Value::BulkString(b"12345".to_vec()));
    assert_eq!(run(c, "GET s6"), Value::BulkString(b"9999999999999".to_vec()));
    assert_eq!(run(c, "STRLEN s4"), Value::Int(86));
    assert_eq!(run(c, "PEXPIRETIME ex1"), Value::Int(4102444800000));
    assert_eq!(run(c, "LLEN l2"), Value::Int(15));
    assert_eq!(run(c, "LINDEX l2 -1"), Value::BulkString(b"-5".to_vec()));
    assert_eq!(run(c, "SCARD set2"), Value::Int(7));
    assert_eq!(run(c, "SISMEMBER set3 b"), Value::Int(1));
    assert_eq!(run(c, "ZSCORE z1 c"), Value::BulkString(b"3.5".to_vec()));
    assert_eq!(run(c, "ZSCORE z2 g"), Value::BulkString(b"-inf".to_vec()));
    assert_eq!(run(c, "ZCARD z2"), Value::Int(9));
    assert_eq!(run(c, "HGET h2 f"), Value::BulkString(b"6".to_vec()));
    assert_eq!(run(c, "XLEN st"), Value::Int(3));
    assert_eq!(run(c, "XLEN st2"), Value::Int(0));
    assert!(s(c, "XPENDING st g1").contains("alice"));
    assert!(s(c, "XINFO CONSUMERS st g1").contains("carol"));
    assert_eq!(run(c, "SELECT 3"), Value::Okay);
    assert_eq!(run(c, "GET indb3"), Value::BulkString(b"yes".to_vec()));
    run(c, "SELECT 0");
}

fn start_on_file(name: &str, bytes: &[u8]) -> (Proc, PathBuf) {
    let dir = tempdir(name);
    std::fs::write(dir.join("dump.rdb"), bytes).unwrap();
    (Proc::start(Path::new(VIREO), &dir, &["--save", ""]), dir)
}

#[test]
fn loads_files_written_by_redis_7_0_and_7_4() {
    let (p, dir) = start_on_file("fixture70", &fixture("redis-7.0.rdb"));
    check_fixture_data(&mut p.conn());
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let (p, dir) = start_on_file("fixture74", &fixture("redis-7.4.rdb"));
    let mut c = p.conn();
    check_fixture_data(&mut c);
    // Redis 7.4's set listpack.
    assert_eq!(run(&mut c, "SCARD set4"), Value::Int(2));
    assert_eq!(run(&mut c, "HLEN hbig"), Value::Int(6));
    // The function library is kept and written back.
    run(&mut c, "SAVE");
    let saved = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert!(saved.windows(10).any(|w| w == b"name=mylib"));
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn module_data_is_refused_by_name() {
    let dir = tempdir("modules");
    std::fs::write(dir.join("dump.rdb"), fixture("redis-7.4-stack-modules.rdb")).unwrap();
    let log = failed_start(&dir);
    // The first module record in the file is RediSearch's aux data, before any value.
    assert!(
        log.contains(
            "The RDB file contains AUX module data I can't load: no matching module 'scdtype00'"
        ),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dump_restore_round_trip_and_errors() {
    let dir = tempdir("dump");
    let mut args = vec!["--save", ""];
    args.extend_from_slice(SMALL);
    let p = Proc::start(Path::new(VIREO), &dir, &args);
    let mut c = p.conn();
    populate(&mut c);
    let before = state(&mut c);
    let keys = bulks(run(&mut c, "KEYS *"));
    let mut payloads = Vec::new();
    for k in &keys {
        let Value::BulkString(pl) = cmd(&mut c, &[b"DUMP", k]) else { panic!() };
        let pttl = match cmd(&mut c, &[b"PTTL", k]) {
            Value::Int(n) if n > 0 => n,
            _ => 0,
        };
        payloads.push((k.clone(), pl, pttl));
    }
    run(&mut c, "FLUSHDB");
    for (k, pl, ttl) in &payloads {
        let ttl = ttl.to_string();
        assert_eq!(cmd(&mut c, &[b"RESTORE", k, ttl.as_bytes(), pl]), Value::Okay);
    }
    assert_eq!(state(&mut c), before);
    assert_eq!(run(&mut c, "DUMP nosuchkey"), Value::Nil);

    let (k, pl, _) = &payloads[0];
    let err = |c: &mut redis::Connection, args: &[&[u8]]| {
        let mut q = redis::cmd("RESTORE");
        for a in args {
            q.arg(*a);
        }
        match q.query::<Value>(c) {
            Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    };
    assert_eq!(err(&mut c, &[k, b"0", pl]), "BUSYKEY Target key name already exists.");
    assert_eq!(err(&mut c, &[b"new", b"-1", pl]), "ERR Invalid TTL value, must be >= 0");
    let mut bad = pl.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        err(&mut c, &[b"new", b"0", &bad]),
        "ERR DUMP payload version or checksum are wrong"
    );
    let mut newer = pl.clone();
    newer[n - 10] = 99;
    assert_eq!(
        err(&mut c, &[b"new", b"0", &newer]),
        "ERR DUMP payload version or checksum are wrong"
    );
    // A valid footer around a bad body.
    let mut junk = vec![0u8, 0x80, 0xff, 0xff];
    junk.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&junk);
    junk.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(err(&mut c, &[b"new", b"0", &junk]), "ERR Bad data format");
    assert_eq!(
        err(&mut c, &[b"new", b"0", pl, b"IDLETIME", b"-1"]),
        "ERR Invalid IDLETIME value, must be >= 0"
    );
    assert_eq!(
        err(&mut c, &[b"new", b"0", pl, b"FREQ", b"256"]),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    assert_eq!(
        err(&mut c, &[b"new", b"0", pl, b"IDLETIME", b"1", b"FREQ", b"1"]),
        "ERR syntax error"
    );
    // REPLACE, ABSTTL, and an expiry in the past (nothing is created).
    assert_eq!(cmd(&mut c, &[b"RESTORE", k, b"0", pl, b"REPLACE"]), Value::Okay);
    assert_eq!(cmd(&mut c, &[b"RESTORE", b"past", b"1", pl, b"ABSTTL"]), Value::Okay);
    assert_eq!(run(&mut c, "EXISTS past"), Value::Int(0));
    assert_eq!(cmd(&mut c, &[b"RESTORE", b"idle", b"0", pl, b"IDLETIME", b"1000"]), Value::Okay);
    assert!(matches!(run(&mut c, "OBJECT IDLETIME idle"), Value::Int(n) if n >= 1000));
    p.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// CRC-64/Jones as Redis computes it (bitwise, for the test's own payloads).
fn crc64(data: &[u8]) -> u64 {
    let mut c = 0u64;
    for &b in data {
        c ^= u64::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x95ac_9329_ac4b_c9b5 } else { c >> 1 };
        }
    }
    c
}

// ------------------------------------------------------------------------------------------------
// Differential: with the reference Redis

fn reference(what: &str) -> Option<PathBuf> {
    let r = reference_redis();
    if r.is_none() {
        eprintln!("SKIPPED {what}: no reference Redis (set VIREO_REFERENCE_REDIS or put redis-server on PATH)");
    }
    r
}

#[test]
fn reference_rdb_loads_into_vireo_and_back() {
    let Some(redis_bin) = reference("reference_rdb_loads_into_vireo_and_back") else { return };
    let mut args = vec!["--save", "", "--appendonly", "no", "--enable-debug-command", "local"];
    args.extend_from_slice(SMALL);

    // Redis writes, Vireo reads.
    let rdir = tempdir("ref-redis");
    let r = Proc::start(&redis_bin, &rdir, &args);
    let mut rc = r.conn();
    populate(&mut rc);
    let want = state(&mut rc);
    let enc = encodings(&mut rc, ENC_KEYS);
    // DEBUG DIGEST fingerprints the whole dataset; equal digests on both sides mean equal data.
    let digest = run(&mut rc, "DEBUG DIGEST");
    assert!(matches!(&digest, Value::SimpleString(d) if d.len() == 40 && *d != "0".repeat(40)));
    assert_eq!(run(&mut rc, "SAVE"), Value::Okay);
    let vdir = tempdir("ref-vireo");
    std::fs::copy(rdir.join("dump.rdb"), vdir.join("dump.rdb")).unwrap();
    let v = Proc::start(Path::new(VIREO), &vdir, &args);
    let mut vc = v.conn();
    assert_eq!(state(&mut vc), want);
    assert_eq!(encodings(&mut vc, ENC_KEYS), enc);
    assert_eq!(run(&mut vc, "DEBUG DIGEST"), digest);

    // Vireo writes, redis-check-rdb accepts it, Redis reads it.
    std::fs::remove_file(vdir.join("dump.rdb")).unwrap();
    assert_eq!(run(&mut vc, "SAVE"), Value::Okay);
    let check = redis_bin.with_file_name("redis-check-rdb");
    if check.is_file() {
        let out = Command::new(&check).arg(vdir.join("dump.rdb")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success() && text.contains("RDB looks OK"), "{text}");
    } else {
        eprintln!("no redis-check-rdb next to {}: check skipped", redis_bin.display());
    }
    r.stop();
    let rdir2 = tempdir("ref-redis2");
    std::fs::copy(vdir.join("dump.rdb"), rdir2.join("dump.rdb")).unwrap();
    let r2 = Proc::start(&redis_bin, &rdir2, &args);
    let mut rc2 = r2.conn();
    assert_eq!(state(&mut rc2), want);
    assert_eq!(encodings(&mut rc2, ENC_KEYS), enc);
    assert_eq!(run(&mut rc2, "DEBUG DIGEST"), digest);

    // DUMP payloads both ways: a copy restored on the other server equals the original there.
    let keys = bulks(run(&mut vc, "KEYS *"));
    for k in &keys {
        let Value::BulkString(from_v) = cmd(&mut vc, &[b"DUMP", k]) else { panic!() };
        let Value::BulkString(from_r) = cmd(&mut rc2, &[b"DUMP", k]) else { panic!() };
        let nk = [b"copy:".as_slice(), k].concat();
        assert_eq!(cmd(&mut rc2, &[b"RESTORE", &nk, b"0", &from_v]), Value::Okay);
        assert_eq!(cmd(&mut vc, &[b"RESTORE", &nk, b"0", &from_r]), Value::Okay);
        for c in [&mut vc, &mut rc2] {
            let orig = render(c, k).replace("ttl>0:true", "ttl>0:false");
            assert_eq!(render(c, &nk), orig, "{}", String::from_utf8_lossy(k));
        }
    }
    assert_eq!(run(&mut vc, "DEBUG DIGEST"), run(&mut rc2, "DEBUG DIGEST"));
    v.stop();
    r2.stop();
    for d in [rdir, vdir, rdir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}
