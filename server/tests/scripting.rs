//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, black-box; and what scripts propagate.

use crate::common;

use common::{InProcess, Server};

const INCR: &str = "return redis.call('INCR', KEYS[1])";
/// sha1 of INCR.
fn sha_of(body: &str) -> String {
    vireo_scripting::sha1hex(body.as_bytes())
}

#[test]
fn eval_returns_converted_values() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(
        "EVAL \"return {1, 'a', {ok='x'}, {err='y'}, false, 2.9}\" 0",
        b"*6\r\n:1\r\n$1\r\na\r\n+x\r\n-y\r\n$-1\r\n:2\r\n",
    );
    c.expect(
        "EVAL \"return {KEYS[1], ARGV[1], #KEYS, #ARGV}\" 1 k a b",
        b"*4\r\n$1\r\nk\r\n$1\r\na\r\n:1\r\n:2\r\n",
    );
    c.expect("EVAL \"return redis.call('SET', KEYS[1], ARGV[1])\" 1 k v", b"+OK\r\n");
    c.expect("GET k", b"$1\r\nv\r\n");
    c.expect("EVAL \"return redis.call('GET', 'nokey') == false\" 0", b":1\r\n");
    c.expect("EVAL \"return 1\" -1", b"-ERR Number of keys can't be negative\r\n");
    c.expect(
        "EVAL \"return 1\" 2 a",
        b"-ERR Number of keys can't be greater than number of args\r\n",
    );
    c.expect("EVAL \"return 1\" x", b"-ERR value is not an integer or out of range\r\n");
}

#[test]
fn evalsha_and_the_script_cache() {
    let s = Server::start();
    let mut c = s.raw();
    let sha = sha_of(INCR);
    c.expect(&format!("EVALSHA {sha} 1 n"), b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    c.expect(&format!("SCRIPT LOAD \"{INCR}\""), format!("$40\r\n{sha}\r\n").as_bytes());
    c.expect(&format!("EVALSHA {sha} 1 n"), b":1\r\n");
    c.expect(&format!("EVALSHA {} 1 n", sha.to_uppercase()), b":2\r\n");
    c.expect(&format!("SCRIPT EXISTS {sha} 0000"), b"*2\r\n:1\r\n:0\r\n");
    c.expect("SCRIPT FLUSH BAD", b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
    c.expect("SCRIPT FLUSH ASYNC", b"+OK\r\n");
    c.expect(&format!("SCRIPT EXISTS {sha}"), b"*1\r\n:0\r\n");
    // EVAL caches what it runs.
    c.expect(&format!("EVAL \"{INCR}\" 1 n"), b":3\r\n");
    c.expect(&format!("EVALSHA_RO {sha} 1 n"), format!("-ERR Write commands are not allowed from read-only scripts. script: {sha}, on @user_script:1.\r\n").as_bytes());
    c.expect("SCRIPT KILL", b"-NOTBUSY No scripts in execution right now.\r\n");
    c.expect("SCRIPT LOAD \"return 1 +\"", b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n");
}

#[test]
fn read_only_scripts_refuse_writes() {
    let s = Server::start();
    let mut c = s.raw();
    let body = "return redis.call('SET', 'a', 'b')";
    c.expect(&format!("EVAL_RO \"{body}\" 0"), format!("-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.\r\n", sha_of(body)).as_bytes());
    let body = "#!lua flags=no-writes\nreturn redis.call('GET', 'a')";
    let r = c.call(&["EVAL", body, "0"]);
    assert_eq!(r, b"$-1\r\n");
    let body = "#!lua flags=no-writes\nreturn redis.call('SET', 'a', 'b')";
    let r = c.call(&["EVAL", body, "0"]);
    assert_eq!(r, format!("-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.\r\n", sha_of(body)).into_bytes());
    c.expect("EXISTS a", b":0\r\n");
}

#[test]
fn call_errors_and_pcall() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect("SET k v", b"+OK\r\n");
    let body = "return redis.call('LPUSH', 'k', 'x')";
    c.expect(&format!("EVAL \"{body}\" 0"), format!("-WRONGTYPE Operation against a key holding the wrong kind of value script: {}, on @user_script:1.\r\n", sha_of(body)).as_bytes());
    c.expect(
        "EVAL \"return redis.pcall('LPUSH', 'k', 'x')\" 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.expect(
        "EVAL \"return redis.pcall('nosuch').err\" 0",
        b"$44\r\nERR Unknown Redis command called from script\r\n",
    );
    c.expect(
        "EVAL \"return redis.pcall('get').err\" 0",
        b"$58\r\nERR Wrong number of args calling Redis command from script\r\n",
    );
    for cmd in ["'eval', 'return 1', '0'", "'multi'", "'blpop', 'l', '0'", "'subscribe', 'c'"] {
        let r = c.call(&["EVAL", &format!("return redis.pcall({cmd}).err"), "0"]);
        assert_eq!(r, b"$49\r\nERR This Redis command is not allowed from script\r\n", "{cmd}");
    }
    // The server is fine after a script error, and what ran before the error stays done.
    let body = "redis.call('SET', 'x', '1') error('boom')";
    c.expect(
        &format!("EVAL \"{body}\" 0"),
        format!("-ERR user_script:1: boom script: {}, on @user_script:1.\r\n", sha_of(body))
            .as_bytes(),
    );
    c.expect("GET x", b"$1\r\n1\r\n");
}

#[test]
fn sandbox_refuses_globals_and_host_access() {
    let s = Server::start();
    let mut c = s.raw();
    for (body, want) in [
        ("x = 5", "ERR user_script:1: Attempt to modify a readonly table"),
        (
            "return y",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'y'",
        ),
        (
            "return os.execute('true')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
        (
            "return io.open('/etc/passwd')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'io'",
        ),
        (
            "return require('x')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'require'",
        ),
    ] {
        let r = c.call(&["EVAL", body, "0"]);
        assert_eq!(
            r,
            format!("-{want} script: {}, on @user_script:1.\r\n", sha_of(body)).into_bytes()
        );
    }
    // Runaway recursion is an error, not a crash.
    let r = c.call(&["EVAL", "local function f() return f() + 1 end return f()", "0"]);
    assert!(
        r.starts_with(b"-ERR user_script:1: stack overflow"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    c.expect("PING", b"+PONG\r\n");
}

#[test]
fn scripts_propagate_as_their_effects() {
    let mut h = InProcess::new();
    h.run("EVAL \"redis.call('SET', 'a', '1') redis.call('GET', 'a') redis.call('INCR', 'a')\" 0");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["SELECT 0", "MULTI", "SET a 1", "INCR a", "EXEC"]);
    // One write: no wrapper; only reads: nothing.
    h.run("EVAL \"return redis.call('SET', 'b', '1')\" 0");
    h.run("EVAL \"return redis.call('GET', 'b')\" 0");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["SET b 1"]);
    // Inside MULTI/EXEC the script's writes join the transaction.
    for line in ["MULTI", "SET c 1", "EVAL \"return redis.call('INCR', 'c')\" 0", "EXEC"] {
        h.run(line);
    }
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["MULTI", "SET c 1", "INCR c", "EXEC"]);
}

#[test]
fn info_counts_cached_scripts() {
    let s = Server::start();
    let mut c = s.raw();
    let field = |c: &mut common::Raw, name: &str| -> String {
        let info = String::from_utf8(c.call(&["INFO", "memory"])).unwrap();
        let line = info.lines().find(|l| l.starts_with(&format!("{name}:"))).unwrap().to_string();
        line.split_once(':').unwrap().1.to_string()
    };
    assert_eq!(field(&mut c, "number_of_cached_scripts"), "0");
    c.call(&["SCRIPT", "LOAD", "return 1"]);
    c.call(&["EVAL", "return 2", "0"]);
    assert_eq!(field(&mut c, "number_of_cached_scripts"), "2");
    assert!(field(&mut c, "used_memory_lua").parse::<u64>().unwrap() > 0);
    c.call(&["SCRIPT", "FLUSH"]);
    assert_eq!(field(&mut c, "number_of_cached_scripts"), "0");
}

#[test]
fn monitor_shows_script_commands_as_lua() {
    use std::io::{Read, Write};
    let s = Server::start();
    let mut m = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    m.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    m.write_all(&common::encode(&["MONITOR"])).unwrap();
    let mut ok = [0u8; 5];
    m.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let mut c = s.raw();
    c.expect("EVAL \"redis.call('SET', 'mk', '1') return 1\" 0", b":1\r\n");
    let mut buf = Vec::new();
    while !buf.ends_with(b"\"mk\" \"1\"\r\n") {
        let mut chunk = [0u8; 4096];
        let n = m.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("\"EVAL\" \"redis.call('SET', 'mk', '1') return 1\" \"0\""),
        "{text}"
    );
    assert!(lines[1].ends_with("[0 lua] \"SET\" \"mk\" \"1\""), "{text}");
}

#[test]
fn slowlog_logs_the_script_not_its_commands() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect("CONFIG SET slowlog-log-slower-than 0", b"+OK\r\n");
    c.expect("SLOWLOG RESET", b"+OK\r\n");
    c.expect("EVAL \"return redis.call('SET', 'sk', '1')\" 0", b"+OK\r\n");
    let log = String::from_utf8_lossy(&c.call(&["SLOWLOG", "GET"])).into_owned();
    assert!(log.contains("EVAL"), "{log}");
    assert!(!log.contains("$3\r\nSET\r\n"), "{log}");
}

/// No key expires while a script runs (its commands check expiry against the time it started),
/// but TTLs are computed against the current time, as Redis 7.0 does: a key set with PX 1
/// still exists 20 ms later inside the script, while PTTL has gone down.
#[test]
fn keys_do_not_expire_while_a_script_runs() {
    let s = Server::start();
    let mut c = s.raw();
    let body = "redis.call('SET', KEYS[1], 'v', 'PX', 1) \
        redis.call('SET', KEYS[2], 'v', 'PX', 100000) \
        local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
        while true do \
          local u = redis.call('TIME') \
          if u[1] * 1000000 + u[2] - start > 20000 then break end \
        end \
        return {redis.call('EXISTS', KEYS[1]), redis.call('PTTL', KEYS[2]) <= 99990 and 1 or 0}";
    assert_eq!(c.call(&["EVAL", body, "2", "k1", "k2"]), b"*2\r\n:1\r\n:1\r\n");
    c.expect("EXISTS k1", b":0\r\n");
}

/// More keys and arguments than go onto the Lua stack at once (the engine then builds KEYS and
/// ARGV itself), for a script and for a library's function.
#[test]
fn thousands_of_keys_and_arguments() {
    let s = Server::start();
    let mut c = s.conn();
    let (nkeys, nargs) = (5000, 3000);
    // `name first` followed by numkeys, the keys and the arguments.
    let call = |name: &str, first: &str| {
        let mut cmd = redis::cmd(name);
        cmd.arg(first).arg(nkeys);
        for i in 0..nkeys {
            cmd.arg(format!("k{i}"));
        }
        for i in 0..nargs {
            cmd.arg(format!("a{i}"));
        }
        cmd
    };
    let want =
        (5000, 3000, "k0".to_string(), "k4999".to_string(), "a0".to_string(), "a2999".to_string());
    let body = "return {#KEYS, #ARGV, KEYS[1], KEYS[#KEYS], ARGV[1], ARGV[#ARGV]}";
    let got: (i64, i64, String, String, String, String) = call("EVAL", body).query(&mut c).unwrap();
    assert_eq!(got, want);

    let lib = "#!lua name=big\nredis.register_function('sizes', function(k, a) return {#k, #a, k[1], k[#k], a[1], a[#a]} end)";
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut c).unwrap();
    let got: (i64, i64, String, String, String, String) =
        call("FCALL", "sizes").query(&mut c).unwrap();
    assert_eq!(got, want);
    // And a small call after the large ones still sees its own KEYS only.
    let got: (i64, i64) =
        redis::cmd("EVAL").arg("return {#KEYS, #ARGV}").arg(1).arg("k").query(&mut c).unwrap();
    assert_eq!(got, (1, 0));
}
