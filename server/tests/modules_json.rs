//! The JSON module (`modules/json`, MODULE LIST name `ReJSON`) loaded into a server: black-box
//! checks on Vireo alone, and the corpus `tests/differential/modules/json.txt` compared byte
//! for byte with Redis Stack (RedisJSON 2.8) on RESP2 and RESP3.
//!
//! The reference is `$VIREO_REFERENCE_STACK`: a `redis-server` that loads RedisJSON itself, as
//! the wrapper `scripts/reference-stack` installs and prints. Without it the differential test
//! says it was skipped.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use common::{build_module, free_port, show, wait_ready, Server};

fn json_module() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-json", "vireo_json").display().to_string())
}

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

/// Starts the reference Redis Stack on a free port, or `None` without `VIREO_REFERENCE_STACK`.
fn start_stack() -> Option<(Child, u16)> {
    let spec = std::env::var("VIREO_REFERENCE_STACK").ok().filter(|s| !s.trim().is_empty())?;
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(&spec);
        cmd.args(["--port", &port.to_string()]);
        let dir = std::env::temp_dir().join(format!("vireo-stack-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {spec}: {e}"));
        if wait_ready(port, Some(&mut child)) {
            return Some((child, port));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("the reference Redis Stack ({spec}) did not start");
}

#[test]
fn corpus_matches_redis_stack() {
    let Some((mut stack, rport)) = start_stack() else {
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
    let mut c = srv.raw();
    c.expect("JSON.GET doc", want);
    c.expect("DBSIZE", b":2\r\n");
}
