//! The JSON module (`modules/json`, MODULE LIST name `ReJSON`) loaded into a server: black-box
//! checks on Vireo alone, and the corpus `tests/differential/modules/json.txt` compared byte
//! for byte with Redis Stack (RedisJSON 2.8) on RESP2 and RESP3.
//!
//! The reference is `$VIREO_REFERENCE_STACK`: a `redis-server` that loads RedisJSON itself, as
//! the wrapper `scripts/reference-stack` installs and prints. Without it the differential test
//! says it was skipped.

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{free_port, json_module, show, wait_ready, Server};

fn start() -> Server {
    Server::start_with(&["--loadmodule", json_module()])
}

#[test]
fn module_list_names_it_rejson() {
    let srv = start();
    let mut c = srv.raw();
    let list = c.call(&["MODULE", "LIST"]);
    let text = String::from_utf8_lossy(&list);
    assert!(text.contains("$4\r\nname\r\n$6\r\nReJSON\r\n$3\r\nver\r\n:20803\r\n"), "{text}");
    let info = c.call(&["COMMAND", "INFO", "json.mset"]);
    assert!(
        info.starts_with(b"*1\r\n*10\r\n$9\r\njson.mset\r\n:-1\r\n*3\r\n+write\r\n+denyoom\r\n+module\r\n:1\r\n:-1\r\n:3\r\n"),
        "{}",
        show(&info)
    );
}

#[test]
fn commands_over_the_wire() {
    let srv = start();
    let mut c = srv.raw();
    c.expect("JSON.SET k $ {\"a\":[1,2],\"n\":1.5}", b"+OK\r\n");
    c.expect("JSON.GET k $.a[*]", b"$5\r\n[1,2]\r\n");
    c.expect("JSON.NUMINCRBY k .n 1", b"$3\r\n2.5\r\n");
    c.expect("JSON.ARRAPPEND k $.a 3 4", b"*1\r\n:4\r\n");
    c.expect("JSON.TYPE k .a", b"$5\r\narray\r\n");
    c.expect("JSON.GET nokey", b"$-1\r\n");
    c.expect("JSON.SET k $ {", b"-EOF while parsing an object at line 1 column 1\r\n");
    c.expect("JSON.GET", b"-ERR wrong number of arguments for 'json.get' command\r\n");
    c.expect("SET plain v", b"+OK\r\n");
    c.expect("JSON.GET plain", b"-Existing key has wrong Redis type\r\n");
    c.expect("JSON.DEL k", b":1\r\n");
    c.expect("EXISTS k", b":0\r\n");
    c.call(&["HELLO", "3"]);
    c.expect("JSON.SET k $ {\"n\":1}", b"+OK\r\n");
    c.expect("JSON.TYPE k .n", b"*1\r\n$7\r\ninteger\r\n");
    c.expect("JSON.NUMINCRBY k .n 2", b"*1\r\n:3\r\n");
    c.expect("JSON.GET k .nope", b"-ERR Path '$.nope' does not exist\r\n");
    c.expect("JSON.RESP k", b"*3\r\n+{\r\n$1\r\nn\r\n:3\r\n");
}

#[test]
fn deep_nesting_is_refused_with_a_message() {
    let srv = start();
    let mut c = srv.raw();
    for n in [128usize, 100_000] {
        let doc = format!("{}{}", "[".repeat(n), "]".repeat(n));
        let r = c.call(&["JSON.SET", "d", "$", &doc]);
        assert_eq!(r, b"-recursion limit exceeded at line 1 column 128\r\n", "{n}");
    }
    // Nesting built up through paths stops at the module's limit, with an error.
    let level = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(c.call(&["JSON.SET", "d", "$", &level]), b"+OK\r\n");
    let mut path = "$".to_string();
    let mut refused = false;
    for _ in 0..12 {
        path.push_str(&"[0]".repeat(99));
        let r = c.call(&["JSON.SET", "d", &path, &level]);
        if r.starts_with(b"-ERR the document would be nested deeper than") {
            refused = true;
            break;
        }
        assert_eq!(r, b"+OK\r\n", "{}", show(&r));
    }
    assert!(refused);
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
}

/// Starts the reference Redis Stack on a free port, in a directory of its own that goes when the
/// returned guard does; `None` without `VIREO_REFERENCE_STACK`.
fn start_stack() -> Option<(Child, u16, common::TempDir)> {
    let spec = std::env::var("VIREO_REFERENCE_STACK").ok().filter(|s| !s.trim().is_empty())?;
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(&spec);
        cmd.args(["--port", &port.to_string()]);
        let dir = common::TempDir::new("stack");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {spec}: {e}"));
        if wait_ready(port, Some(&mut child)) {
            return Some((child, port, dir));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("the reference Redis Stack ({spec}) did not start");
}

#[test]
fn corpus_matches_redis_stack() {
    let Some((mut stack, rport, _dir)) = start_stack() else {
        eprintln!(
            "SKIPPED JSON differential tests: no reference Redis Stack (set \
             VIREO_REFERENCE_STACK to the redis-server wrapper scripts/reference-stack prints)"
        );
        return;
    };
    let vireo = start();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/modules/json.txt");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    // `3?> ` lines: doubles, which Vireo formats as Redis 7.0 does (`%.17g`) and Redis Stack 7.4
    // in the shortest form.
    for resp in [2, 3] {
        let ports = (rport, vireo.port);
        compared += common::run_differential("json.txt", &text, resp, ports, &mut failures);
    }
    let _ = stack.kill();
    let _ = stack.wait();
    eprintln!("JSON differential: {compared} commands compared on RESP2 and RESP3");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Documents are values of the module type `ReJSON-RL`, as RedisJSON's: TYPE names it, built-in
/// commands refuse it, updates keep the key's TTL, and documents survive DEBUG RELOAD, SAVE and a
/// restart with the module loaded, DUMP/RESTORE and COPY.
#[test]
fn documents_are_a_persistent_module_type() {
    let dir = common::TempDir::new("json-type");
    let lib = json_module();
    let dirs = dir.0.to_str().unwrap();
    let args = ["--loadmodule", lib, "--dir", dirs, "--enable-debug-command", "yes"];
    let srv = Server::start_with(&args);
    let mut c = srv.raw();
    c.expect("JSON.SET doc $ {\"a\":[1,2],\"n\":12345678901234567890,\"f\":1.5}", b"+OK\r\n");
    c.expect("TYPE doc", b"+ReJSON-RL\r\n");
    c.expect("GET doc", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    c.expect("EXPIRE doc 1000", b":1\r\n");
    c.expect("JSON.SET doc $.a[0] 7", b"+OK\r\n");
    let ttl = c.call(&["TTL", "doc"]);
    assert!(ttl == b":1000\r\n" || ttl == b":999\r\n", "{}", show(&ttl));
    c.expect("PERSIST doc", b":1\r\n");
    let want = b"$44\r\n{\"a\":[7,2],\"n\":12345678901234567890,\"f\":1.5}\r\n";
    c.expect("DEBUG RELOAD", b"+OK\r\n");
    c.expect("JSON.GET doc", want);
    c.expect("COPY doc doc2", b":1\r\n");
    c.expect("JSON.GET doc2 .f", b"$3\r\n1.5\r\n");
    let dump = c.call(&["DUMP", "doc"]);
    let payload = &dump[dump.iter().position(|&b| b == b'\n').unwrap() + 1..dump.len() - 2];
    c.expect("DEL doc", b":1\r\n");
    assert_eq!(c.call(&[b"RESTORE".as_slice(), b"doc", b"0", payload]), b"+OK\r\n");
    c.expect("JSON.GET doc", want);
    c.expect("SAVE", b"+OK\r\n");
    drop(c);
    drop(srv);
    let srv = Server::start_with(&args);
    assert!(common::wait_loaded(srv.port, None), "the RDB never loaded");
    let mut c = srv.raw();
    c.expect("JSON.GET doc", want);
    c.expect("DBSIZE", b":2\r\n");
}

/// JSON writes tell client-side caches what RedisJSON's do (`tracking/json.txt`).
#[test]
fn invalidations_match_redis_stack() {
    let Some((mut stack, rport, _dir)) = start_stack() else {
        eprintln!(
            "SKIPPED JSON tracking differential: no reference Redis Stack (VIREO_REFERENCE_STACK)"
        );
        return;
    };
    let vireo =
        Server::start_with(&["--loadmodule", json_module(), "--enable-debug-command", "local"]);
    let text = include_str!("tracking/json.txt");
    let mut failures = Vec::new();
    common::run_tracking_differential("json.txt", text, (rport, vireo.port), &mut failures);
    let _ = stack.kill();
    let _ = stack.wait();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// What the AOF holds replays to the same documents after a restart: updates, and deletions of
/// whole documents (with and without a path) too. Writes that fail or change nothing are not in
/// it (nor counted as changes), as RedisJSON replicates only what changed; except JSON.MSET,
/// which RedisJSON replicates whole whenever it succeeds.
#[test]
fn the_aof_replays_writes_and_deletions() {
    let dir = common::TempDir::new("json-aof");
    let dirs = dir.0.to_str().unwrap();
    let args = ["--loadmodule", json_module(), "--dir", dirs, "--appendonly", "yes"];
    let srv = Server::start_with(&[&args[..], &["--appendfsync", "always"]].concat());
    let mut c = srv.raw();
    for k in ["a", "b", "c"] {
        c.expect(&format!("JSON.SET {k} $ {{\"x\":[1]}}"), b"+OK\r\n");
    }
    c.expect("JSON.DEL a", b":1\r\n");
    c.expect("JSON.FORGET b $", b":1\r\n");
    c.expect("JSON.ARRAPPEND c $.x 2", b"*1\r\n:2\r\n");
    let changes = c.info_field("persistence", "rdb_changes_since_last_save");
    c.expect("JSON.ARRAPPEND c $.x nope", b"-expected ident at line 1 column 2\r\n");
    c.expect("JSON.DEL c $.nosuch", b":0\r\n");
    c.expect("JSON.MSET c $.x.nosuch 1", b"+OK\r\n");
    assert_eq!(c.info_field("persistence", "rdb_changes_since_last_save"), changes);
    let aof = std::fs::read_dir(dir.0.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let text = String::from_utf8_lossy(&std::fs::read(aof).unwrap()).into_owned();
    assert!(!text.contains("nope") && !text.contains("\r\n$.nosuch\r\n"), "{text}");
    assert!(text.contains("\r\nJSON.MSET\r\n$1\r\nc\r\n$10\r\n$.x.nosuch\r\n"), "{text}");
    // Deletions of whole documents go as the commands themselves, as RedisJSON's.
    assert!(text.contains("\r\nJSON.DEL\r\n$1\r\na\r\n"), "{text}");
    assert!(text.contains("\r\nJSON.FORGET\r\n$1\r\nb\r\n$1\r\n$\r\n"), "{text}");
    drop(c);
    drop(srv);
    let srv = Server::start_with(&args);
    // (It takes connections while it loads the AOF.)
    assert!(common::wait_loaded(srv.port, None), "the AOF never loaded");
    let mut c = srv.raw();
    c.expect("EXISTS a b", b":0\r\n");
    c.expect("JSON.GET c", b"$11\r\n{\"x\":[1,2]}\r\n");
}

/// The bulk strings of a RESP reply, in order (the integers of a subscription reply skipped).
fn bulk_strings(reply: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = reply[i..].iter().position(|&b| b == b'$').map(|p| p + i) {
        let end = at + reply[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let n: usize = std::str::from_utf8(&reply[at + 1..end]).unwrap().parse().unwrap();
        out.push(String::from_utf8_lossy(&reply[end + 2..end + 2 + n]).into_owned());
        i = end + 2 + n + 2;
    }
    out
}

/// Runs `lines` on the server at `port` with `notify-keyspace-events KEAm` and returns, for each,
/// the keyevent notifications it raised as `event:key`, space separated. A `PUBLISH` on a
/// channel of its own after each command marks where its events end.
fn events_of(port: u16, lines: &[&str]) -> Vec<String> {
    let mut c = common::Raw::connect(port);
    c.expect("FLUSHALL", b"+OK\r\n");
    c.expect("CONFIG SET notify-keyspace-events KEAm", b"+OK\r\n");
    let mut sub = common::Raw::connect(port);
    sub.send_cmd(&["PSUBSCRIBE", "__keyevent@*__:*"]);
    sub.read_reply();
    sub.send_cmd(&["SUBSCRIBE", "mark"]);
    sub.read_reply();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        c.line(line);
        c.call(&["PUBLISH", "mark", &i.to_string()]);
        let mut evs = Vec::new();
        loop {
            let m = bulk_strings(&sub.read_reply());
            if m[0] == "message" {
                assert_eq!(m[2], i.to_string());
                break;
            }
            let event = m[2].rsplit(':').next().unwrap().to_string();
            evs.push(format!("{event}:{}", m[3]));
        }
        out.push(evs.join(" "));
    }
    out
}

/// Each JSON write raises RedisJSON's keyspace event (class `d`), and no-ops raise none. The
/// table is what Redis Stack 7.4.1 (RedisJSON 2.8) raises; it is checked on Vireo always and on
/// the reference when `VIREO_REFERENCE_STACK` is set.
#[test]
fn keyspace_events_are_redisjson_s() {
    #[rustfmt::skip]
    let table: &[(&str, &str)] = &[
        (r#"JSON.SET k $ {"a":1,"s":"x","arr":[1,2,3],"b":true,"o":{"x":1}}"#, "json.set:k"),
        ("JSON.SET k $.a 2", "json.set:k"),
        ("JSON.SET k $.new 2", "json.set:k"),
        ("JSON.SET k $.zz 2 XX", ""),
        ("JSON.SET k $.a 3 NX", ""),
        ("JSON.SET k $.missing.deep 2", ""),
        (r#"JSON.MERGE k $ {"m":1}"#, "json.merge:k"),
        (r#"JSON.MERGE k $ {"m":1}"#, "json.merge:k"),
        (r#"JSON.MERGE k $.zz.y {"a":1}"#, ""),
        ("JSON.NUMINCRBY k $.a 1", "json.numincrby:k"),
        ("JSON.NUMINCRBY k $.s 1", ""),
        ("JSON.NUMMULTBY k $.a 2", "json.nummultby:k"),
        ("JSON.NUMPOWBY k $.a 2", "json.numpowby:k"),
        ("JSON.NUMINCRBY k .a x", ""),
        (r#"JSON.STRAPPEND k $.s "\"y\"""#, "json.strappend:k"),
        (r#"JSON.STRAPPEND k $.a "\"y\"""#, ""),
        (r#"JSON.STRAPPEND k .s "\"\"""#, "json.strappend:k"),
        ("JSON.ARRAPPEND k $.arr 4", "json.arrappend:k"),
        ("JSON.ARRAPPEND k $.nothere 4", ""),
        ("JSON.ARRINSERT k $.arr 0 0", "json.arrinsert:k"),
        ("JSON.ARRPOP k $.arr", "json.arrpop:k"),
        ("JSON.ARRPOP k $.s", ""),
        ("JSON.ARRTRIM k $.arr 0 1", "json.arrtrim:k"),
        ("JSON.ARRTRIM k $.a 0 1", ""),
        ("JSON.TOGGLE k $.b", "json.toggle:k"),
        ("JSON.TOGGLE k $.a", ""),
        ("JSON.CLEAR k $.o", "json.clear:k"),
        ("JSON.CLEAR k $.o", ""),
        ("JSON.DEL k $.nothere", ""),
        ("JSON.DEL k $.m", "json.del:k"),
        ("JSON.FORGET k $.new", "json.del:k"),
        ("JSON.MSET k $.a 5 k2 $ [1] k3 $ {} k2 $ [2]",
         "json.mset:k json.mset:k2 json.mset:k3 json.mset:k2"),
        ("JSON.MSET k3 $.x.y 1 k4 $ 3", "json.mset:k4"),
        ("JSON.GET k", ""),
        ("JSON.SET e $ []", "json.set:e"),
        ("JSON.ARRPOP e $", ""),
        // A legacy path on an empty array: RedisJSON raises the event all the same.
        ("JSON.ARRPOP e", "json.arrpop:e"),
        ("JSON.ARRTRIM e $ 0 1", "json.arrtrim:e"),
        ("JSON.DEL nokey", ""),
        ("JSON.ARRPOP nokey", ""),
        ("JSON.SET x $ {\"a\":1}", "json.set:x"),
        ("EXPIRE x 100", "expire:x"),
        ("JSON.SET x $ {\"b\":1}", "json.set:x"),
        ("JSON.MERGE n $ {\"a\":1}", "json.merge:n"),
        // Deleting the whole document: `json.del` only, no `del`.
        ("JSON.SET d $ 1", "json.set:d"),
        ("JSON.DEL d", "json.del:d"),
        ("JSON.SET d $ 1", "json.set:d"),
        ("JSON.FORGET d $", "json.del:d"),
        // Reads of missing keys: keymiss, whatever the path.
        ("JSON.GET nokey", "keymiss:nokey"),
        ("JSON.MGET nokey d $", "keymiss:nokey keymiss:d"),
        ("JSON.MGET nokey d $[", "keymiss:nokey keymiss:d"),
        ("JSON.TYPE nokey", "keymiss:nokey"),
    ];
    let lines: Vec<&str> = table.iter().map(|t| t.0).collect();
    let want: Vec<&str> = table.iter().map(|t| t.1).collect();
    let srv = start();
    assert_eq!(events_of(srv.port, &lines), want);
    let Some((mut stack, port, _dir)) = start_stack() else {
        eprintln!("SKIPPED keyspace events on Redis Stack: VIREO_REFERENCE_STACK is not set");
        return;
    };
    let on_stack = events_of(port, &lines);
    let _ = stack.kill();
    let _ = stack.wait();
    assert_eq!(on_stack, want);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

/// The documents of `fixtures/redis-7.4-rejson.rdb` (`rdb-rejson-fill.txt`), as JSON.GET gives
/// them on Redis Stack.
const REJSON_DOCS: &[(&str, &str)] = &[
    (
        "doc",
        r#"{"name":"Vireo","tags":["a","b"],"n":42,"neg":-7,"big":18446744073709551615,"bigneg":-9223372036854775808,"f":1.5,"exp":1e300,"small":0.1,"whole":3.0,"t":true,"z":null,"nested":{"deep":{"arr":[[1,2],[3,{"x":"y"}]],"empty":{},"none":[]}}}"#,
    ),
    (
        "text",
        "{\"uni\":\"h\u{e9}llo \u{65e5}\u{672c} \u{1f600}\",\"esc\":\"line\\nnext\\ttab \\\"q\\\" back\\\\slash \\u0001 \\u001f /\",\"u2028\":\"\u{2028}\",\"del\":\"\u{7f}\"}",
    ),
    ("arr", r#"[1,-2.25,"s",false,null,[],{}]"#),
    ("str", r#""just a string""#),
    ("nul", "null"),
    ("num", "18446744073709551615"),
    ("flt", "-0.0"),
    ("ttl", r#"{"expires":true}"#),
];

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// What the fixture holds, on a server that loaded it (Vireo, or Redis Stack from Vireo's file).
fn check_rejson_fixture(c: &mut common::Raw) {
    for (key, json) in REJSON_DOCS {
        assert_eq!(c.call(&["JSON.GET", key]), bulk(json), "{key}");
        assert_eq!(c.call(&["TYPE", key]), b"+ReJSON-RL\r\n", "{key}");
    }
    let long = c.call(&["JSON.GET", "long", "$.items[39]"]);
    assert_eq!(long, bulk(r#"[{"id":39,"label":"item","ok":true}]"#));
    c.expect("JSON.ARRLEN long .items", b":40\r\n");
    c.expect("PEXPIRETIME ttl", b":4102444800000\r\n");
    c.expect("TTL doc", b":-1\r\n");
    c.expect("GET plain", b"$5\r\nhello\r\n");
    c.expect("LRANGE list 0 -1", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    c.expect("HGET hash g", b"$1\r\nw\r\n");
    c.expect("DBSIZE", b":12\r\n");
    c.expect("SELECT 2", b"+OK\r\n");
    c.expect("JSON.GET indb2", &bulk(r#"{"db":2}"#));
    c.expect("SELECT 0", b"+OK\r\n");
}

/// An RDB file Redis Stack (RedisJSON 2.8) saved loads into Vireo with the JSON module, and the
/// documents Vireo saves are RedisJSON's bytes.
#[test]
fn loads_a_redis_stack_rejson_dump() {
    let dir = common::TempDir::new("json-rdb-in");
    std::fs::write(dir.0.join("dump.rdb"), fixture("redis-7.4-rejson.rdb")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_vireo-server"));
    let srv = common::DirServer::start(bin, &dir.0, &["--loadmodule", json_module()]);
    let mut c = srv.raw();
    check_rejson_fixture(&mut c);
    c.expect("SAVE", b"+OK\r\n");
    srv.stop();
    let saved = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    // A record too short to be compressed: key, module type id (`ReJSON-RL`, encver 3), one
    // string, the module EOF.
    let record = b"\x07\x03str\x81\x45\xe2\x52\x38\xdf\x91\x2c\x03\x05\x0f\"just a string\"\x00";
    for (what, file) in [("Redis Stack's", &fixture("redis-7.4-rejson.rdb")), ("Vireo's", &saved)] {
        assert!(file.windows(record.len()).any(|w| w == record), "{what} file");
    }
    // Without the module, the file is refused, naming the type.
    let rdb = fixture("redis-7.4-rejson.rdb");
    let dir2 = common::TempDir::new("json-rdb-nomod");
    std::fs::write(dir2.0.join("dump.rdb"), &rdb).unwrap();
    let (ok, log) = fails_in(&dir2.0, &[]);
    assert!(!ok && log.contains("no matching module type 'ReJSON-RL'"), "{log}");
}

/// Whether a server started on the files of `dir` exited successfully, and its log.
fn fails_in(dir: &Path, extra: &[&str]) -> (bool, String) {
    let log = dir.join("vireo.log");
    let mut args = vec!["--dir", dir.to_str().unwrap(), "--logfile", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, _) = common::start_fails(&args);
    (ok, std::fs::read_to_string(&log).unwrap_or_default())
}

/// A dump of Redis Stack with RediSearch too is still refused with only the JSON module: its
/// first module record is RediSearch's aux data.
#[test]
fn other_modules_data_is_still_refused_with_json_loaded() {
    let dir = common::TempDir::new("json-rdb-search");
    std::fs::write(dir.0.join("dump.rdb"), fixture("redis-7.4-stack-modules.rdb")).unwrap();
    let (ok, log) = fails_in(&dir.0, &["--loadmodule", json_module()]);
    assert!(!ok, "{log}");
    assert!(log.contains("no matching module 'scdtype00'"), "{log}");
}

/// Redis Stack loads the RDB file Vireo saved, and DUMP payloads restore across the two.
#[test]
fn redis_stack_loads_what_vireo_saves() {
    let dir = common::TempDir::new("json-rdb-out");
    std::fs::write(dir.0.join("dump.rdb"), fixture("redis-7.4-rejson.rdb")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_vireo-server"));
    let srv = common::DirServer::start(bin, &dir.0, &["--loadmodule", json_module()]);
    let mut c = srv.raw();
    // A payload Redis Stack's DUMP gave (RDB version 12) restores into Vireo.
    let payload = fixture("redis-7.4-rejson-text.dump");
    assert_eq!(c.call(&[b"RESTORE".as_slice(), b"t2", b"0", &payload]), b"+OK\r\n");
    assert_eq!(c.call(&["JSON.GET", "t2"]), c.call(&["JSON.GET", "text"]));
    c.expect("DEL t2", b":1\r\n");
    c.expect("SAVE", b"+OK\r\n");
    let dumped = c.call(&["DUMP", "doc"]);
    srv.stop();
    let Some(spec) = std::env::var_os("VIREO_REFERENCE_STACK").filter(|s| !s.is_empty()) else {
        eprintln!("SKIPPED Redis Stack loading Vireo's RDB: VIREO_REFERENCE_STACK is not set");
        return;
    };
    let stack = common::DirServer::start(Path::new(&spec), &dir.0, &["--save", ""]);
    let mut s = stack.raw();
    check_rejson_fixture(&mut s);
    // And a payload of Vireo's DUMP (RDB version 10) restores into Redis Stack.
    let payload = &dumped[dumped.iter().position(|&b| b == b'\n').unwrap() + 1..dumped.len() - 2];
    assert_eq!(s.call(&[b"RESTORE".as_slice(), b"d2", b"0", payload]), b"+OK\r\n");
    assert_eq!(s.call(&["JSON.GET", "d2"]), bulk(REJSON_DOCS[0].1));
    stack.stop();
}

/// MOVE and SWAPDB carry documents between databases, TTL included.
#[test]
fn move_and_swapdb_carry_documents() {
    let srv = start();
    let mut c = srv.raw();
    c.expect(r#"JSON.SET m $ {"a":[1,2]}"#, b"+OK\r\n");
    c.expect("PEXPIREAT m 4102444800000", b":1\r\n");
    c.expect("MOVE m 1", b":1\r\n");
    c.expect("EXISTS m", b":0\r\n");
    c.expect("SELECT 1", b"+OK\r\n");
    c.expect("JSON.GET m $.a[1]", b"$3\r\n[2]\r\n");
    c.expect("PEXPIRETIME m", b":4102444800000\r\n");
    c.expect("JSON.ARRAPPEND m .a 3", b":3\r\n");
    c.expect("SWAPDB 0 1", b"+OK\r\n");
    c.expect("EXISTS m", b":0\r\n");
    c.expect("SELECT 0", b"+OK\r\n");
    c.expect("JSON.GET m", &bulk(r#"{"a":[1,2,3]}"#));
    c.expect("TYPE m", b"+ReJSON-RL\r\n");
    c.expect("JSON.SET m2 $ 1", b"+OK\r\n");
    c.expect("SELECT 1", b"+OK\r\n");
    c.expect("JSON.SET m2 $ 2", b"+OK\r\n");
    c.expect("MOVE m2 0", b":0\r\n");
    c.expect("JSON.GET m2", b"$1\r\n2\r\n");
}

/// The shipped `vireo-modules.conf` starts a server with the JSON module, its `loadmodule` path
/// relative to the directory the server starts in (a copy of the repository's layout here).
#[test]
fn shipped_config_loads_the_bundled_modules() {
    let dir = common::TempDir::new("json-conf");
    std::fs::create_dir_all(dir.0.join("target/release")).unwrap();
    std::os::unix::fs::symlink(json_module(), dir.0.join("target/release/libvireo_json.so"))
        .unwrap();
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vireo-modules.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.lines().any(|l| l == "loadmodule target/release/libvireo_json.so"), "{text}");
    let srv = common::ConfServer::start(&dir.0, &conf, &[]);
    let mut c = srv.raw();
    let list = c.call(&["MODULE", "LIST"]);
    assert!(String::from_utf8_lossy(&list).contains("ReJSON"), "{}", show(&list));
    c.expect("JSON.SET k $ [1]", b"+OK\r\n");
    c.expect("JSON.GET k", b"$3\r\n[1]\r\n");
}

/// A document's memory is the server's: the module allocates from the server's jemalloc, so
/// `used_memory` (what `maxmemory` checks) drops by what MEMORY USAGE said when it is deleted.
#[test]
fn documents_count_in_used_memory() {
    let srv = start();
    let mut c = srv.raw();
    let used =
        |c: &mut common::Raw| -> i64 { c.info_field("memory", "used_memory").parse().unwrap() };
    let items: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"id":{i},"name":"item-{i}","tags":["a","b"]}}"#))
        .collect();
    let doc = format!(r#"{{"items":[{}]}}"#, items.join(","));
    // The first JSON.SET warms the module's parse buffers; the second is measured.
    assert_eq!(c.call(&["JSON.SET", "warm", "$", &doc]), b"+OK\r\n");
    assert_eq!(c.call(&["JSON.SET", "doc", "$", &doc]), b"+OK\r\n");
    let reply = c.call(&["MEMORY", "USAGE", "doc"]);
    let usage: i64 = String::from_utf8_lossy(&reply[1..reply.len() - 2]).parse().unwrap();
    assert!(usage > 1_000_000, "MEMORY USAGE {usage}");
    let before = used(&mut c);
    assert_eq!(c.call(&["DEL", "doc"]), b":1\r\n");
    let freed = before - used(&mut c);
    assert!(
        (freed - usage).abs() < usage / 20,
        "DEL freed {freed} bytes of used_memory; MEMORY USAGE said {usage}"
    );
}
