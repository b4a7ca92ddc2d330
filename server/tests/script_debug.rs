//! SCRIPT DEBUG: Lua debugging sessions as `redis-cli --ldb` drives them. The expected bytes
//! were recorded from Redis 7.0; `sessions_match_redis` replays the same sessions against a
//! reference server when one is installed.

use crate::common;

use std::time::{Duration, Instant};

use common::{show, Raw, Server};

/// A reply as text (the replies here are ASCII).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends one debugger command (or EVAL) and returns the reply.
fn cmd(c: &mut Raw, args: &[&str]) -> Vec<u8> {
    c.call(args)
}

/// The session's end: `<endsession>` after the last log lines, then the script's reply, then
/// the connection closes.
fn read_end(c: &mut Raw) -> (Vec<u8>, Vec<u8>) {
    let log = c.read_reply();
    let reply = c.read_reply();
    (log, reply)
}

const SCRIPT: &str = "local foo = redis.call('ping')
local t = {1,2,\"x\",{a=1}}
redis.call('set', KEYS[1], ARGV[1])
local n = 5
for i=1,3 do
  n = n + i
end
redis.debug(\"dbg\", n, t)
return {foo, n}
";

fn start(c: &mut Raw, mode: &str, script: &str) -> Vec<u8> {
    assert_eq!(text(&cmd(c, &["SCRIPT", "DEBUG", mode])), "+OK\r\n");
    cmd(c, &["EVAL", script, "1", "k1", "a1"])
}

/// Steps, prints, lists, breakpoints, trace, eval, redis, maxlen and redis.debug, byte for byte
/// as Redis 7.0.
fn walk_session(c: &mut Raw) -> Vec<Vec<u8>> {
    let mut got = vec![start(c, "SYNC", SCRIPT)];
    for line in [
        "s",
        "n",
        "print",
        "print t",
        "p n",
        "list",
        "l 3 1",
        "w",
        "b 6",
        "b",
        "c",
        "trace",
        "e 1+1",
        "e return n",
        "r get k1",
        "redis incr nosuch",
        "maxlen 5",
        "maxlen 0",
        "bogus",
        "b -6",
        "b x",
        "b 99",
    ] {
        got.push(cmd(c, &line.split(' ').collect::<Vec<_>>()));
    }
    c.send_cmd(&["c"]);
    let (log, reply) = read_end(c);
    got.push(log);
    got.push(reply);
    got
}

#[test]
fn a_session_answers_as_redis() {
    let s = Server::start();
    let mut c = s.raw();
    let got = walk_session(&mut c);
    let want: &[&[u8]] = &[
        b"*2\r\n+* Stopped at 1, stop reason = step over\r\n+-> 1   local foo = redis.call('ping')\r\n",
        b"*4\r\n+<redis> ping\r\n+<reply> \"+PONG\"\r\n+* Stopped at 2, stop reason = step over\r\n+-> 2   local t = {1,2,\"x\",{a=1}}\r\n",
        b"*2\r\n+* Stopped at 3, stop reason = step over\r\n+-> 3   redis.call('set', KEYS[1], ARGV[1])\r\n",
        b"*2\r\n+<value> foo = {[\"ok\"]=\"PONG\"}\r\n+<value> t = {1; 2; \"x\"; {[\"a\"]=1}}\r\n",
        b"*1\r\n+<value> {1; 2; \"x\"; {[\"a\"]=1}}\r\n",
        b"*1\r\n+No such variable.\r\n",
        b"*8\r\n+   1   local foo = redis.call('ping')\r\n+   2   local t = {1,2,\"x\",{a=1}}\r\n+-> 3   redis.call('set', KEYS[1], ARGV[1])\r\n+   4   local n = 5\r\n+   5   for i=1,3 do\r\n+   6     n = n + i\r\n+   7   end\r\n+   8   redis.debug(\"dbg\", n, t)\r\n",
        b"*3\r\n+   2   local t = {1,2,\"x\",{a=1}}\r\n+-> 3   redis.call('set', KEYS[1], ARGV[1])\r\n+   4   local n = 5\r\n",
        b"*9\r\n+   1   local foo = redis.call('ping')\r\n+   2   local t = {1,2,\"x\",{a=1}}\r\n+-> 3   redis.call('set', KEYS[1], ARGV[1])\r\n+   4   local n = 5\r\n+   5   for i=1,3 do\r\n+   6     n = n + i\r\n+   7   end\r\n+   8   redis.debug(\"dbg\", n, t)\r\n+   9   return {foo, n}\r\n",
        b"*3\r\n+   5   for i=1,3 do\r\n+  #6     n = n + i\r\n+   7   end\r\n",
        b"*2\r\n+1 breakpoints set:\r\n+  #6     n = n + i\r\n",
        b"*2\r\n+* Stopped at 6, stop reason = break point\r\n+->#6     n = n + i\r\n",
        b"*2\r\n+In top level:\r\n+->#6     n = n + i\r\n",
        b"*1\r\n+<retval> 2\r\n",
        b"*1\r\n+<error> ldb_eval:1: Script attempted to access nonexistent global variable 'n'\r\n",
        b"*2\r\n+<redis> get k1\r\n+<reply> \"a1\"\r\n",
        b"*2\r\n+<redis> incr nosuch\r\n+<reply> 1\r\n",
        b"*1\r\n+<value> replies are truncated at 60 bytes.\r\n",
        b"*1\r\n+<value> replies are unlimited.\r\n",
        b"*1\r\n+<error> Unknown Redis Lua debugger command or wrong number of arguments.\r\n",
        b"*1\r\n+Breakpoint removed.\r\n",
        b"*1\r\n+Invalid argument:'x'\r\n",
        b"*1\r\n+Wrong line number.\r\n",
        b"*2\r\n+<debug> line 8: \"dbg\", 11, {1; 2; \"x\"; {[\"a\"]=1}}\r\n+<endsession>\r\n",
        b"*2\r\n+PONG\r\n:11\r\n",
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(show(g), show(w), "step {i}");
    }
    // The session's client is closed after it; SYNC kept the script's changes.
    let mut other = s.raw();
    other.expect("GET k1", b"$2\r\na1\r\n");
    other.expect("GET nosuch", b"$1\r\n1\r\n");
}

#[test]
fn sessions_match_redis() {
    let Some(r) = Server::start_reference("redis") else {
        eprintln!("SKIPPED: no reference redis-server (see docs/development.md)");
        return;
    };
    let v = Server::start();
    let script = "local function add(a, b)\n  local s = a + b\n  return s\nend\nlocal x = add(1, 2)\nredis.breakpoint()\nlocal y = add(x, 10)\nlocal v = {nil, true, false, 1.5, 1e100, 1550000, \"a\\\"b\\n\\0c\", {}, {x={y={z=1}}}}\nredis.call('rpush', 'L', 'a', 'b')\nredis.pcall('incr', 'L')\nredis.call('get', 'nokey')\nredis.setresp(3)\nredis.call('zadd', 'Z', 1, 'm', 2.5, 'n')\nredis.call('zrange', 'Z', 0, -1, 'withscores')\nredis.call('hset', 'H', 'f', 'v')\nredis.call('hgetall', 'H')\nredis.call('get', 'nokey')\nfor i = 1, 2 do\n  local j = i * 2\nend\nredis.call('bogus')\n";
    let steps = [
        "s",
        "s",
        "s",
        "trace",
        "s",
        "s",
        "p",
        "p KEYS",
        "p ARGV",
        "s",
        "s",
        "s",
        "s",
        "maxlen 61",
        "p v",
        "maxlen 0",
        "p v",
        "s",
        "s",
        "s",
        "s",
        "s",
        "s",
        "s",
        "s",
        "s",
        "s",
        "p",
        "r bogus 1",
        "r set",
        "r hello 3",
        "e",
        "e 1 +",
        "e {1,2}",
        "e error(\"x\")",
        "e redis.call(\"ping\")",
        "b 3 13 100",
        "b 0",
        "b",
        "l 0 0",
        "l 100",
        "l -1",
        "l 1 2 3",
    ];
    compare_sessions(&r, &v, script, &steps);
    // Stepping enters a coroutine the script made; print and trace show its frame.
    let script = "local outer = 1\nlocal co = coroutine.create(function(a)\n  local inner = a + 1\n  return inner\nend)\nlocal ok, v = coroutine.resume(co, 5)\nreturn v\n";
    let steps = ["s", "s", "s", "s", "s", "p", "trace", "p a", "e a", "s"];
    compare_sessions(&r, &v, script, &steps);
    // Trailing empty lines are not listed; an empty script has no line.
    compare_sessions(&r, &v, "\n", &["w", "l"]);
    compare_sessions(&r, &v, "\nreturn 1\n\n", &["w"]);
    // The shebang's flags hold under the debugger too.
    compare_sessions(&r, &v, "#!lua flags=no-writes\nredis.call('set','a','1')\nreturn 1\n", &[]);
}

/// Runs the same session (`steps`, then `c`) on the reference and on Vireo and compares each
/// reply.
fn compare_sessions(r: &Server, v: &Server, script: &str, steps: &[&str]) {
    let mut transcripts = Vec::new();
    for port in [r.port, v.port] {
        let mut c = Raw::connect(port);
        c.call(&["FLUSHALL"]);
        assert_eq!(text(&c.call(&["SCRIPT", "DEBUG", "YES"])), "+OK\r\n");
        let mut t = vec![show(&c.call(&["EVAL", script, "1", "k1", "a1"]))];
        for step in steps {
            t.push(show(&c.call(&step.split(' ').collect::<Vec<_>>())));
        }
        c.send_cmd(&["c"]);
        let (log, reply) = read_end(&mut c);
        t.push(show(&log));
        // An error names the script's SHA1, the same on both.
        t.push(show(&reply));
        transcripts.push(t);
    }
    // Function addresses differ between processes.
    let addr = |s: &String| {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find("@0x") {
            out.push_str(&rest[..i + 3]);
            rest = rest[i + 3..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        }
        out + rest
    };
    for (i, (a, b)) in transcripts[0].iter().zip(&transcripts[1]).enumerate() {
        assert_eq!(addr(a), addr(b), "step {i} ({:?})", steps.get(i.wrapping_sub(1)));
    }
}

#[test]
fn yes_mode_runs_on_a_copy_while_others_are_served() {
    let s = Server::start();
    let mut other = s.raw();
    other.expect("SET k1 before", b"+OK\r\n");
    let mut c = s.raw();
    start(&mut c, "YES", "redis.call('set', KEYS[1], ARGV[1])\nreturn redis.call('get', KEYS[1])");
    let stepped = cmd(&mut c, &["s"]);
    assert!(text(&stepped).contains("<redis> set k1 a1"), "{}", show(&stepped));
    // The server is not blocked and does not see the session's changes.
    other.expect("GET k1", b"$6\r\nbefore\r\n");
    other.expect("SET k2 x", b"+OK\r\n");
    // The session does not see the server's later changes either.
    assert!(text(&cmd(&mut c, &["r", "exists", "k2"])).contains("<reply> 0"));
    c.send_cmd(&["c"]);
    let (_, reply) = read_end(&mut c);
    assert_eq!(text(&reply), "$2\r\na1\r\n");
    // Rolled back.
    other.expect("GET k1", b"$6\r\nbefore\r\n");
}

#[test]
fn a_yes_session_never_writes_the_servers_files() {
    let dir = common::TempDir::new("ldb-files");
    let s = Server::start_with(&["--dir", dir.0.to_str().unwrap(), "--save", "900 1"]);
    let mut other = s.raw();
    other.expect("SET k v", b"+OK\r\n");
    other.expect("SAVE", b"+OK\r\n");
    let dump = dir.0.join("dump.rdb");
    let before = std::fs::read(&dump).unwrap();
    let mut c = s.raw();
    start(&mut c, "YES", "redis.call('flushall')\nreturn redis.call('dbsize')");
    c.send_cmd(&["c"]);
    let (_, reply) = read_end(&mut c);
    assert_eq!(text(&reply), ":0\r\n");
    // FLUSHALL saves when save points are set: not the copy over the server's file.
    assert_eq!(std::fs::read(&dump).unwrap(), before);
    other.expect("GET k", b"$1\r\nv\r\n");
}

#[test]
fn sync_mode_blocks_the_server_until_the_session_ends() {
    let s = Server::start();
    let mut c = s.raw();
    start(&mut c, "SYNC", "redis.call('incr', KEYS[1])\nreturn 1");
    cmd(&mut c, &["s"]);
    let port = s.port;
    let waiter = std::thread::spawn(move || {
        let mut o = Raw::connect(port);
        let t = Instant::now();
        let r = o.line("GET k1");
        (r, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished(), "another client was served during a SYNC session");
    c.send_cmd(&["c"]);
    let (_, reply) = read_end(&mut c);
    assert_eq!(text(&reply), ":1\r\n");
    let (r, waited) = waiter.join().unwrap();
    assert_eq!(text(&r), "$1\r\n1\r\n");
    assert!(waited >= Duration::from_millis(250));
}

#[test]
fn a_sync_session_wakes_blocked_clients_and_reaches_the_aof() {
    let dir = common::TempDir::new("ldb-aof");
    let d = dir.0.to_str().unwrap();
    let s = Server::start_with(&["--dir", d, "--appendonly", "yes", "--appendfsync", "always"]);
    let mut blocked = s.raw();
    blocked.send_cmd(&["BLPOP", "q", "10"]);
    common::eventually(5, "BLPOP to block", || {
        s.raw().info_field("clients", "blocked_clients") == "1"
    });
    let mut c = s.raw();
    start(&mut c, "SYNC", "redis.call('lpush', 'q', 'x')\nredis.call('set', 'k', 'v')\nreturn 1");
    c.send_cmd(&["c"]);
    let (_, reply) = read_end(&mut c);
    assert_eq!(text(&reply), ":1\r\n");
    assert_eq!(text(&blocked.read_reply()), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    // The script's effects are in the AOF as a transaction, as an EVAL's.
    let mut other = s.raw();
    other.expect("SET after 1", b"+OK\r\n");
    let aof = std::fs::read_dir(dir.0.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".incr."))
        .map(|e| text(&std::fs::read(e.path()).unwrap()))
        .collect::<String>();
    let set = aof.find("$3\r\nset\r\n$1\r\nk\r\n").expect("SET k in the AOF");
    let multi = aof.find("MULTI").or_else(|| aof.find("multi")).expect("MULTI in the AOF");
    assert!(multi < set, "{aof}");
}

#[test]
fn a_client_that_leaves_ends_its_session() {
    let s = Server::start();
    for mode in ["SYNC", "YES"] {
        let mut c = s.raw();
        start(&mut c, mode, "redis.call('set', 'gone', '1')\nreturn 1");
        drop(c);
        // The lock a SYNC session held is released.
        let mut other = s.raw();
        other.expect("PING", b"+PONG\r\n");
        common::eventually(5, "the session to end", || other.line("SET after 1") == b"+OK\r\n");
        other.expect("EXISTS gone", b":0\r\n");
    }
}

#[test]
fn errors_and_the_ways_out() {
    let s = Server::start_with(&["--busy-reply-threshold", "100"]);
    let mut c = s.raw();
    c.expect("SCRIPT DEBUG maybe", b"-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n");
    c.expect("SCRIPT DEBUG", b"-ERR wrong number of arguments for 'script|debug' command\r\n");
    c.expect("MULTI", b"+OK\r\n");
    c.expect("SCRIPT DEBUG YES", b"+QUEUED\r\n");
    c.expect("EXEC", b"*1\r\n-ERR SCRIPT DEBUG must be called outside a pipeline\r\n");
    c.expect("SCRIPT DEBUG YES", b"+OK\r\n");
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    c.expect(
        &format!("EVALSHA {sha} 0"),
        b"-ERR Please use EVAL instead of EVALSHA for debugging\r\n",
    );
    // FCALL is not debugged.
    c.expect(
        "FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\"",
        b"$3\r\nlib\r\n",
    );
    c.expect("FCALL f 0", b":1\r\n");
    c.expect("SCRIPT DEBUG NO", b"+OK\r\n");
    c.expect("EVAL \"return 1\" 0", b":1\r\n");

    // A compile error ends the session at once.
    c.expect("SCRIPT DEBUG SYNC", b"+OK\r\n");
    c.send_cmd(&["EVAL", "return 1 +", "0"]);
    let (log, reply) = read_end(&mut c);
    assert_eq!(text(&log), "*1\r\n+<endsession>\r\n");
    assert!(reply.starts_with(b"-ERR Error compiling script"), "{}", show(&reply));

    // A `no-writes` script cannot write under the debugger either.
    let mut c = s.raw();
    start(&mut c, "SYNC", "#!lua flags=no-writes\nredis.call('set', 'a', '1')\nreturn 1");
    c.send_cmd(&["s"]);
    let (log, reply) = read_end(&mut c);
    assert_eq!(
        text(&log),
        "*3\r\n+<redis> set a 1\r\n+<error> Write commands are not allowed from read-only \
         scripts.\r\n+<endsession>\r\n"
    );
    assert!(text(&reply).starts_with("-ERR Write commands are not allowed from read-only scripts."));
    s.raw().expect("EXISTS a", b":0\r\n");

    // abort, and an inline command (a protocol error), stop the script with Redis's errors.
    for (how, err) in [
        (&b"*1\r\n$5\r\nabort\r\n"[..], "-ERR script aborted for user request script: "),
        (&b"print\r\n"[..], "-ERR protocol error script: "),
    ] {
        let mut c = s.raw();
        start(&mut c, "SYNC", "local x = 1\nreturn x");
        c.send(how);
        let (log, reply) = read_end(&mut c);
        assert_eq!(text(&log), "*1\r\n+<endsession>\r\n");
        assert!(text(&reply).starts_with(err), "{}", show(&reply));
        assert!(text(&reply).ends_with(", on @user_script:1.\r\n"), "{}", show(&reply));
    }

    // An endless loop is stopped once it runs past busy-reply-threshold, as a breakpoint.
    let mut c = s.raw();
    start(&mut c, "YES", "local i = 0\nwhile true do\n  i = i + 1\nend");
    let r = cmd(&mut c, &["c"]);
    assert!(text(&r).contains("stop reason = timeout reached, infinite loop?"), "{}", show(&r));
    c.send_cmd(&["a"]);
    let (_, reply) = read_end(&mut c);
    assert!(reply.starts_with(b"-ERR script aborted for user request"));
    s.raw().expect("PING", b"+PONG\r\n");
}

/// A YES session's copy must not push the server past maxmemory (it would evict real keys):
/// refused there, SYNC still possible.
#[test]
fn a_yes_session_that_would_not_fit_is_refused() {
    let s = Server::start();
    let mut c = s.raw();
    let big = vec![b'x'; 5 << 20];
    assert_eq!(text(&c.call(&[&b"SET"[..], b"big", &big])), "+OK\r\n");
    // Room for the dataset, not for a second one.
    let used: u64 = c.info_field("memory", "used_memory").parse().unwrap();
    c.expect(&format!("CONFIG SET maxmemory {}", used + used / 2), b"+OK\r\n");
    c.expect("SCRIPT DEBUG YES", b"+OK\r\n");
    c.expect(
        "EVAL \"return 1\" 0",
        b"-ERR not enough room below maxmemory for a copy of the dataset: use SCRIPT DEBUG SYNC\r\n",
    );
    c.expect("EXISTS big", b":1\r\n");
    start(&mut c, "SYNC", "return redis.call('strlen', 'big')");
    c.send_cmd(&["c"]);
    let (_, reply) = read_end(&mut c);
    assert_eq!(text(&reply), format!(":{}\r\n", 5 << 20));
}

/// At a YES session's start the server lets go of the client, as Redis's parent closes it at
/// the fork: its subscriptions end, so nothing piles up for it meanwhile.
#[test]
fn a_yes_session_lets_go_of_the_clients_subscriptions() {
    let s = Server::start();
    let mut c = s.raw();
    assert!(c.line("HELLO 3").starts_with(b"%"));
    assert!(text(&c.line("SUBSCRIBE ch")).starts_with(">3\r\n"));
    let mut other = s.raw();
    other.expect("PUBLISH ch before", b":1\r\n");
    assert!(text(&c.read_reply()).contains("before"));
    let stop = start(&mut c, "YES", "return 1");
    assert!(text(&stop).contains("Stopped at 1"), "{}", show(&stop));
    other.expect("PUBLISH ch during", b":0\r\n");
    c.send_cmd(&["c"]);
    let (log, reply) = read_end(&mut c);
    assert_eq!(text(&log), "*1\r\n+<endsession>\r\n");
    assert_eq!(text(&reply), ":1\r\n");
}
