//! FUNCTION and FCALL, black-box: real-world shaped libraries (a rate limiter, a lock, a
//! queue), the load-time environment, DUMP/RESTORE, what functions propagate, and the
//! persistence entry points.

use crate::common;

use common::{InProcess, Server};

/// A fixed-window rate limiter: `limit` calls per `window` seconds per key.
const RATELIMIT: &str = "#!lua name=ratelimit
local function hit(keys, args)
  local limit = tonumber(args[1])
  local window = tonumber(args[2])
  local n = redis.call('INCR', keys[1])
  if n == 1 then redis.call('EXPIRE', keys[1], window) end
  if n > limit then
    return redis.error_reply('LIMITED retry in ' .. redis.call('TTL', keys[1]) .. 's')
  end
  return limit - n
end
redis.register_function{function_name='rl_hit', callback=hit,
  description='count a call against a fixed window'}
redis.register_function{function_name='rl_left', flags={'no-writes'},
  callback=function(keys, args)
    local n = tonumber(redis.call('GET', keys[1]) or '0')
    return math.max(tonumber(args[1]) - n, 0)
  end}
";

/// A lock with owner tokens: acquire, release and extend only by the owner.
const LOCK: &str = "#!lua name=lock
redis.register_function('lock_acquire', function(keys, args)
  return redis.call('SET', keys[1], args[1], 'NX', 'PX', args[2]) and 1 or 0
end)
redis.register_function('lock_release', function(keys, args)
  if redis.call('GET', keys[1]) == args[1] then return redis.call('DEL', keys[1]) end
  return 0
end)
redis.register_function('lock_extend', function(keys, args)
  if redis.call('GET', keys[1]) ~= args[1] then return redis.error_reply('NOTOWNER lock held by another client') end
  return redis.call('PEXPIRE', keys[1], args[2])
end)
";

/// A reliable queue: push, pop into a processing list with a deadline, ack, and requeue of
/// the expired ones.
const QUEUE: &str = "#!lua name=queue
redis.register_function('q_push', function(keys, args)
  return redis.call('LPUSH', keys[1], unpack(args))
end)
redis.register_function('q_pop', function(keys, args)
  local job = redis.call('RPOPLPUSH', keys[1], keys[2])
  if not job then return false end
  redis.call('ZADD', keys[3], tonumber(args[1]), job)
  return job
end)
redis.register_function('q_ack', function(keys, args)
  redis.call('LREM', keys[1], 1, args[1])
  return redis.call('ZREM', keys[2], args[1])
end)
redis.register_function('q_requeue', function(keys, args)
  local expired = redis.call('ZRANGEBYSCORE', keys[3], '-inf', args[1])
  for _, job in ipairs(expired) do
    redis.call('LREM', keys[2], 1, job)
    redis.call('ZREM', keys[3], job)
    redis.call('RPUSH', keys[1], job)
  end
  return #expired
end)
";

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

#[test]
fn rate_limiter_library() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.call(&["FUNCTION", "LOAD", RATELIMIT]), bulk("ratelimit"));
    for left in [2, 1, 0] {
        c.expect("FCALL rl_hit 1 rl:alice 3 60", format!(":{left}\r\n").as_bytes());
    }
    c.expect("FCALL rl_hit 1 rl:alice 3 60", b"-LIMITED retry in 60s\r\n");
    c.expect("FCALL_RO rl_left 1 rl:alice 3", b":0\r\n");
    c.expect("FCALL_RO rl_left 1 rl:bob 3", b":3\r\n");
    c.expect("TTL rl:alice", b":60\r\n");
    c.expect(
        "FCALL_RO rl_hit 1 rl:alice 3 60",
        b"-ERR Can not execute a script with write flag using *_ro command.\r\n",
    );
    // Names are case-insensitive for FCALL.
    c.expect("FCALL RL_LEFT 1 rl:bob 5", b":5\r\n");
}

#[test]
fn lock_library() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.call(&["FUNCTION", "LOAD", LOCK]), bulk("lock"));
    c.expect("FCALL lock_acquire 1 lk tokenA 10000", b":1\r\n");
    c.expect("FCALL lock_acquire 1 lk tokenB 10000", b":0\r\n");
    c.expect("FCALL lock_release 1 lk tokenB", b":0\r\n");
    c.expect("FCALL lock_extend 1 lk tokenB 50000", b"-NOTOWNER lock held by another client\r\n");
    c.expect("FCALL lock_extend 1 lk tokenA 50000", b":1\r\n");
    assert!(c.int("PTTL lk") > 10000);
    c.expect("FCALL lock_release 1 lk tokenA", b":1\r\n");
    c.expect("EXISTS lk", b":0\r\n");
}

#[test]
fn queue_library() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.call(&["FUNCTION", "LOAD", QUEUE]), bulk("queue"));
    c.expect("FCALL q_push 1 jobs j1 j2 j3", b":3\r\n");
    c.expect("FCALL q_pop 3 jobs processing deadlines 100", b"$2\r\nj1\r\n");
    c.expect("FCALL q_pop 3 jobs processing deadlines 200", b"$2\r\nj2\r\n");
    c.expect("FCALL q_ack 2 processing deadlines j1", b":1\r\n");
    c.expect("FCALL q_requeue 3 jobs processing deadlines 150", b":0\r\n");
    c.expect("FCALL q_requeue 3 jobs processing deadlines 250", b":1\r\n");
    c.expect("LRANGE jobs 0 -1", b"*2\r\n$2\r\nj3\r\n$2\r\nj2\r\n");
    c.expect("LLEN processing", b":0\r\n");
    c.expect("FCALL q_pop 3 empty processing deadlines 1", b"$-1\r\n");
}

#[test]
fn load_replace_delete_and_list() {
    let s = Server::start();
    let mut c = s.raw();
    let v1 = "#!lua name=lib\nredis.register_function('f', function() return 1 end)";
    let v2 = "#!lua name=lib\nredis.register_function('f', function() return 2 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", v1]), bulk("lib"));
    assert_eq!(c.call(&["FUNCTION", "LOAD", v2]), b"-ERR Library 'lib' already exists\r\n");
    c.expect("FCALL f 0", b":1\r\n");
    assert_eq!(c.call(&["FUNCTION", "LOAD", "REPLACE", v2]), bulk("lib"));
    c.expect("FCALL f 0", b":2\r\n");
    // A failed replace keeps the old library.
    let bad = "#!lua name=lib\nreturn 1";
    assert_eq!(c.call(&["FUNCTION", "LOAD", "REPLACE", bad]), b"-ERR No functions registered\r\n");
    c.expect("FCALL f 0", b":2\r\n");
    // Another library may not take a function name.
    let other = "#!lua name=other\nredis.register_function('F', function() return 3 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", other]), b"-ERR Function F already exists\r\n");
    let list = c.call(&["FUNCTION", "LIST", "WITHCODE"]);
    let want = format!(
        "*1\r\n*8\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n\
         $9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n$-1\r\n\
         $5\r\nflags\r\n*0\r\n$12\r\nlibrary_code\r\n${}\r\n{v2}\r\n",
        v2.len()
    );
    assert_eq!(String::from_utf8_lossy(&list), want);
    c.expect("FUNCTION DELETE lib", b"+OK\r\n");
    c.expect("FCALL f 0", b"-ERR Function not found\r\n");
    c.expect("FUNCTION DELETE lib", b"-ERR Library not found\r\n");
}

#[test]
fn load_time_environment_and_timeout() {
    let s = Server::start();
    let mut c = s.raw();
    let call = "#!lua name=x\nredis.call('SET', 'a', 'b')";
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", call]),
        b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n".to_vec()
    );
    let start = std::time::Instant::now();
    let spin = "#!lua name=x\nlocal n = 0 while true do n = n + 1 end";
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", spin]),
        b"-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n".to_vec()
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    c.expect("PING", b"+PONG\r\n");
    c.expect("EXISTS a", b":0\r\n");
    // At run time the environment is EVAL's, without KEYS/ARGV and register_function.
    let lib = "#!lua name=env\n\
        redis.register_function('e1', function(k, a) return string.upper(a[1]) .. #k end)\n\
        redis.register_function('e2', function(k, a) return KEYS end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", lib]), bulk("env"));
    c.expect("FCALL e1 2 k1 k2 abc", b"$4\r\nABC2\r\n");
    c.expect("FCALL e2 0", b"-ERR user_function:3: Script attempted to access nonexistent global variable 'KEYS' script: e2, on @user_function:3.\r\n");
}

#[test]
fn functions_and_scripts_are_separate() {
    let s = Server::start();
    let mut c = s.raw();
    let lib = "#!lua name=lib\nredis.register_function('f', function() return 1 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", lib]), bulk("lib"));
    c.expect("SCRIPT LOAD \"return 1\"", b"$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n");
    c.expect("SCRIPT FLUSH", b"+OK\r\n");
    c.expect("FLUSHALL", b"+OK\r\n");
    c.expect("FCALL f 0", b":1\r\n");
    c.expect("SCRIPT LOAD \"return 1\"", b"$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n");
    c.expect("FUNCTION FLUSH", b"+OK\r\n");
    c.expect("SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db", b"*1\r\n:1\r\n");
    c.expect("FCALL f 0", b"-ERR Function not found\r\n");
    let info = String::from_utf8(c.call(&["INFO", "memory"])).unwrap();
    assert!(info.contains("number_of_libraries:0\r\n"), "{info}");
    assert_eq!(c.call(&["FUNCTION", "LOAD", lib]), bulk("lib"));
    let info = String::from_utf8(c.call(&["INFO", "memory"])).unwrap();
    assert!(
        info.contains("number_of_libraries:1\r\nnumber_of_functions:1\r\n")
            || info.contains("number_of_functions:1\r\nnumber_of_libraries:1\r\n"),
        "{info}"
    );
}

#[test]
fn dump_and_restore() {
    let s = Server::start();
    let mut c = s.raw();
    // FUNCTION DUMP of Redis 7.0.15 (rdbcompression yes): `lib` LZF-compressed, then `lib3`.
    let redis_payload: &[u8] = b"\xf5\xc3@\x87@\x91\x1f#!lua name=lib\nredis.register_fu\x06nction{\xc0\x08\x00_`)\r'f', callback=\xc0\x1b\x1f() return 1 end, flags={'no-writ\x01es 5\x00' 5\x12ow-stale'}, descrip@d\x05='dd'}\xf5@F#!lua name=lib3\nredis.register_function('f3', function() return 1 end)\n\x00\x99H\xe7N\x1fe\xa2;";
    c.expect("FUNCTION RESTORE abc", b"-ERR DUMP payload version or checksum are wrong\r\n");
    assert_eq!(c.call(&[&b"FUNCTION"[..], b"RESTORE", redis_payload]), b"+OK\r\n");
    c.expect("FCALL_RO f 0", b":1\r\n");
    c.expect(
        "FUNCTION LIST LIBRARYNAME lib",
        b"*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n$2\r\ndd\r\n$5\r\nflags\r\n*2\r\n+no-writes\r\n+allow-stale\r\n",
    );
    assert_eq!(
        c.call(&[&b"FUNCTION"[..], b"RESTORE", redis_payload]),
        b"-ERR Library lib already exists\r\n"
    );
    let dump = c.call(&["FUNCTION", "DUMP"]);
    let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = dump[start..dump.len() - 2].to_vec();
    c.expect("FUNCTION FLUSH", b"+OK\r\n");
    assert_eq!(c.call(&[&b"FUNCTION"[..], b"RESTORE", &payload]), b"+OK\r\n");
    c.expect("FCALL f3 0", b":1\r\n");
    assert_eq!(c.call(&[&b"FUNCTION"[..], b"RESTORE", &payload, b"REPLACE"]), b"+OK\r\n");
    let lib = "#!lua name=extra\nredis.register_function('e', function() return 1 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", lib]), bulk("extra"));
    assert_eq!(c.call(&[&b"FUNCTION"[..], b"RESTORE", &payload, b"FLUSH"]), b"+OK\r\n");
    c.expect("FCALL e 0", b"-ERR Function not found\r\n");
    c.expect("FCALL f 0", b":1\r\n");
}

#[test]
fn what_functions_propagate() {
    let mut h = InProcess::new();
    let lib = "#!lua name=p\nredis.register_function('two', function(k) redis.call('SET', k[1], '1') redis.call('GET', k[1]) return redis.call('INCR', k[1]) end)\nredis.register_function('one', function(k) return redis.call('SET', k[1], 'x') end)\nredis.register_function{function_name='rd', callback=function(k) return redis.call('GET', k[1]) end, flags={'no-writes'}}";
    let load = format!("FUNCTION LOAD \"{}\"", lib.replace('\n', "\\n"));
    assert_eq!(h.run(&load), bulk("p"));
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["SELECT 0".to_string(), format!("FUNCTION LOAD {lib}")]);
    // A failed load propagates nothing.
    h.run(&load);
    assert!(h.take().is_empty());
    h.run("FCALL two 1 a");
    h.run("FCALL one 1 b");
    h.run("FCALL_RO rd 1 b");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["MULTI", "SET a 1", "INCR a", "EXEC", "SET b x"]);
    h.run("FUNCTION DELETE nope");
    h.run("FUNCTION DELETE p");
    h.run("FUNCTION FLUSH ASYNC");
    let got: Vec<String> = h.take().iter().map(|c| c.join(" ")).collect();
    assert_eq!(got, ["FUNCTION DELETE p", "FUNCTION FLUSH ASYNC"]);
}

#[test]
fn persistence_entry_points() {
    let h = InProcess::new();
    let mut core = h.server.core.lock();
    assert!(vireo_server::cmd::function::library_codes(&core).is_empty());
    let v1 = b"#!lua name=a\nredis.register_function('fa', function() return 1 end)";
    let v2 = b"#!lua name=a\nredis.register_function('fa', function() return 2 end)";
    let b = b"#!lua name=b\nredis.register_function('fb', function() return 1 end)";
    use vireo_server::cmd::function::load_library;
    assert_eq!(load_library(&mut core, b), Ok("b".into()));
    assert_eq!(load_library(&mut core, v1), Ok("a".into()));
    // Loading replaces a library of the same name.
    assert_eq!(load_library(&mut core, v2), Ok("a".into()));
    assert_eq!(
        load_library(&mut core, b"#!lua name=c\nreturn 1"),
        Err("ERR No functions registered".into())
    );
    let codes = vireo_server::cmd::function::library_codes(&core);
    assert_eq!(codes, vec![v2.to_vec(), b.to_vec()]);
    let payload = vireo_server::cmd::function::dump_payload(&core);
    core.functions = None;
    vireo_server::cmd::function::restore_payload(
        &mut core,
        &payload,
        vireo_scripting::RestorePolicy::Append,
    )
    .unwrap();
    assert_eq!(vireo_server::cmd::function::library_codes(&core), codes);
}
