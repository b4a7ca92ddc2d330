use super::*;

/// A host that answers from a fixed table and records the calls.
#[derive(Default)]
struct FakeHost {
    calls: Vec<Vec<Vec<u8>>>,
    logs: Vec<(i64, Vec<u8>)>,
}

impl ScriptHost for FakeHost {
    fn call(&mut self, argv: Vec<bytes::Bytes>) -> Reply {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        self.calls.push(argv.clone());
        match &argv[0][..] {
            b"status" => Reply::Status(b"OK".to_vec()),
            b"err" => Reply::Error(b"WRONGTYPE bad".to_vec()),
            b"int" => Reply::Int(7),
            b"nil" => Reply::Null,
            b"map" => Reply::Map(vec![(bulk("k"), Reply::Double(2.5))]),
            b"bool" => Reply::Bool(true),
            b"arr" => Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Null, Reply::Int(2)]),
            _ => Reply::Bulk(argv.last().unwrap().clone()),
        }
    }
    fn log(&mut self, level: i64, msg: &[u8]) {
        self.logs.push((level, msg.to_vec()));
    }
}

fn eval(src: &str) -> Reply {
    eval_with(src, &[], &[]).0
}

fn eval_with(src: &str, keys: &[&[u8]], args: &[&[u8]]) -> (Reply, FakeHost) {
    let mut e = Engine::new().unwrap();
    let mut h = FakeHost::default();
    let r = match e.load(src.as_bytes()) {
        Ok(sha) => e.run(sha.as_bytes(), keys, args, &mut h).unwrap(),
        Err(msg) => Reply::Error(msg.into_bytes()),
    };
    (r, h)
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

fn err_of(r: Reply) -> String {
    match r {
        Reply::Error(e) => String::from_utf8(e).unwrap(),
        r => panic!("not an error: {r:?}"),
    }
}

#[test]
fn lua_to_resp_rules() {
    assert_eq!(eval("return 1.9"), Reply::Int(1));
    assert_eq!(eval("return -1.9"), Reply::Int(-1));
    assert_eq!(eval("return 1e20"), Reply::Int(i64::MIN));
    assert_eq!(eval("return 0/0"), Reply::Int(i64::MIN));
    assert_eq!(eval("return 'a'"), bulk("a"));
    assert_eq!(eval("return true"), Reply::Int(1));
    assert_eq!(eval("return false"), Reply::Null);
    assert_eq!(eval("return nil"), Reply::Null);
    assert_eq!(eval("return {1,2,nil,3}"), Reply::Array(vec![Reply::Int(1), Reply::Int(2)]));
    assert_eq!(eval("return {ok='fine'}"), Reply::Status(b"fine".to_vec()));
    assert_eq!(eval("return {err='bad'}"), Reply::Error(b"bad".to_vec()));
    assert_eq!(eval("return {ok=5}"), Reply::Array(vec![]));
    assert_eq!(eval("return {double=3.5}"), Reply::Double(3.5));
    assert_eq!(
        eval("return {1, {ok='x'}, {err='y'}, false}"),
        Reply::Array(vec![
            Reply::Int(1),
            Reply::Status(b"x".to_vec()),
            Reply::Error(b"y".to_vec()),
            Reply::Null
        ])
    );
}

#[test]
fn resp_to_lua_rules() {
    assert_eq!(eval("return type(redis.call('int'))"), bulk("number"));
    assert_eq!(eval("return redis.call('nil') == false"), Reply::Int(1));
    assert_eq!(eval("return redis.call('status').ok"), bulk("OK"));
    assert_eq!(eval("return redis.pcall('err').err"), bulk("WRONGTYPE bad"));
    assert_eq!(
        eval("local t = redis.call('arr') return {#t, t[1], t[2] == false}"),
        Reply::Array(vec![Reply::Int(3), bulk("a"), Reply::Int(1)])
    );
}

#[test]
fn keys_argv_and_call_arguments() {
    let (r, h) = eval_with("return redis.call('x', KEYS[1], ARGV[1], 0.1, 3)", &[b"k"], &[b"v"]);
    assert_eq!(r, bulk("3"));
    assert_eq!(
        h.calls[0],
        vec![
            b"x".to_vec(),
            b"k".to_vec(),
            b"v".to_vec(),
            b"0.10000000000000001".to_vec(),
            b"3".to_vec()
        ]
    );
}

#[test]
fn error_formats() {
    let sha = sha1hex(b"error('boom')");
    assert_eq!(
        err_of(eval("error('boom')")),
        format!("ERR user_script:1: boom script: {sha}, on @user_script:1.")
    );
    let src = "\nreturn redis.call('err')";
    assert_eq!(
        err_of(eval(src)),
        format!("WRONGTYPE bad script: {}, on @user_script:2.", sha1hex(src.as_bytes()))
    );
    let src = "error({err='x'})";
    assert_eq!(
        err_of(eval(src)),
        format!("x script: {}, on @user_script:1.", sha1hex(src.as_bytes()))
    );
    let src = "local ok, e = pcall(function() redis.call('err') end) return e";
    assert_eq!(eval(src), bulk("WRONGTYPE bad"));
    let src = "local ok, e = pcall(function() redis.call('err') end) error(e, 0)";
    assert!(err_of(eval(src)).starts_with("ERR WRONGTYPE bad script: "));
    assert!(err_of(eval("return redis.call()"))
        .starts_with("ERR Please specify at least one argument for this redis lib call script: "));
    assert!(err_of(eval("return redis.call('x', true)"))
        .starts_with("ERR Lua redis lib command arguments must be strings or integers script: "));
    assert_eq!(
        err_of(eval("return 1 +")),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
}

#[test]
fn reply_helpers() {
    assert_eq!(eval("return redis.error_reply('My Error')"), Reply::Error(b"My Error".to_vec()));
    assert_eq!(eval("return redis.error_reply('x').err"), bulk("ERR x"));
    assert_eq!(eval("return redis.status_reply('X')"), Reply::Status(b"X".to_vec()));
    assert_eq!(
        eval("return redis.error_reply()"),
        Reply::Error(b"ERR wrong number or type of arguments".to_vec())
    );
    assert_eq!(eval("return redis.sha1hex('')"), bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    let (r, h) = eval_with("redis.log(redis.LOG_WARNING, 'hi', 2) return 1", &[], &[]);
    assert_eq!(r, Reply::Int(1));
    assert_eq!(h.logs, vec![(3, b"hi 2".to_vec())]);
}

#[test]
fn sandbox() {
    assert!(err_of(eval("x = 5"))
        .starts_with("ERR user_script:1: Attempt to modify a readonly table script:"));
    assert!(err_of(eval("return y")).starts_with(
        "ERR user_script:1: Script attempted to access nonexistent global variable 'y' script:"
    ));
    for g in ["dofile", "require", "io", "os", "print", "loadfile", "debug", "getfenv", "setfenv"] {
        let e = err_of(eval(&format!("return {g}")));
        assert!(e.contains(&format!("nonexistent global variable '{g}'")), "{e}");
    }
    assert_eq!(eval("return loadstring"), Reply::Null);
    assert!(err_of(eval("setmetatable(_G, nil)"))
        .starts_with("ERR Attempt to modify a readonly table script:"));
    assert!(err_of(eval("redis.call = nil")).contains("Attempt to modify a readonly table"));
    assert_eq!(eval("return _G"), Reply::Array(vec![]));
    assert!(err_of(eval("rawset(_G, 'x', 1)")).contains("Attempt to modify a readonly table"));
    assert!(err_of(eval("rawset(redis, 'call', 1)")).contains("Attempt to modify a readonly table"));
}

#[test]
fn shebang() {
    assert!(parse_shebang(b"#!lua flags=no-writes\nreturn 1").unwrap().0.no_writes);
    assert_eq!(
        parse_shebang(b"#!lua flags=bad\n").unwrap_err(),
        "ERR Unexpected flag in script shebang: bad"
    );
    assert_eq!(
        parse_shebang(b"#!foo\n").unwrap_err(),
        "ERR Unexpected engine in script shebang: #!foo"
    );
    assert!(err_of(eval("#!lua\nerror('x')")).ends_with("on @user_script:2."));
}

#[test]
fn cjson_round_trips() {
    assert_eq!(
        eval("return cjson.encode({1, 'a/b', {x=true}, 1.5})"),
        bulk("[1,\"a\\/b\",{\"x\":true},1.5]")
    );
    assert_eq!(eval("return cjson.encode({})"), bulk("{}"));
    assert_eq!(eval("return cjson.encode({[1]=1,[3]=3})"), bulk("[1,null,3]"));
    assert_eq!(eval("local t = cjson.decode('{\"a\":[1,\"\\\\u00e9\",null]}') return {t.a[1], t.a[2], t.a[3] == cjson.null}"),
        Reply::Array(vec![Reply::Int(1), bulk("\u{e9}"), Reply::Int(1)]));
    assert!(err_of(eval("return cjson.decode('[1,')"))
        .starts_with("ERR user_script:1: Expected value but found T_END at character 4 script:"));
    assert!(err_of(eval("return cjson.encode({[1]=1,[20]=3})"))
        .starts_with("ERR user_script:1: Cannot serialise table: excessively sparse array"));
    assert!(err_of(eval("local t = {} t[1] = t return cjson.encode(t)"))
        .contains("Cannot serialise, excessive nesting (1001)"));
    assert!(err_of(eval(&format!("return cjson.decode('{}')", "[".repeat(1100))))
        .contains("Found too many nested data structures (1001)"));
}

#[test]
fn resp3_replies_to_lua() {
    assert_eq!(
        eval("redis.setresp(3) local m = redis.call('map').map return m.k.double"),
        Reply::Int(2)
    );
    assert_eq!(
        eval("redis.setresp(3) return {redis.call('nil') == nil, redis.call('bool') == true}"),
        // After setresp(3) the script's booleans reply as booleans, as in Redis.
        Reply::Array(vec![Reply::Bool(true), Reply::Bool(true)])
    );
    assert_eq!(eval("redis.setresp(3) return false"), Reply::Bool(false));
    assert_eq!(eval("return false"), Reply::Null);
    // Under RESP2 a map is a flat array and a double a string.
    assert_eq!(
        eval("local m = redis.call('map') return {m[1], m[2]}"),
        Reply::Array(vec![bulk("k"), bulk("2.5")])
    );
    assert!(
        err_of(eval("redis.setresp(4)")).starts_with("ERR RESP version must be 2 or 3. script:")
    );
}

#[test]
fn cmsgpack_encodes_as_redis() {
    let hex = |r: Reply| match r {
        Reply::Bulk(b) => b.iter().map(|c| format!("{c:02x}")).collect::<String>(),
        r => panic!("{r:?}"),
    };
    assert_eq!(
        hex(eval("return cmsgpack.pack(1, -33, 256, 1.5, 0.1)")),
        "01d0dfcd0100ca3fc00000cb3fb999999999999a"
    );
    assert_eq!(hex(eval("return cmsgpack.pack({1,2}, {1,nil,3}, {})")), "920102820101030390");
    assert_eq!(
        eval("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 1)}"),
        Reply::Array(vec![Reply::Int(2), Reply::Int(2)])
    );
    assert!(err_of(eval("return cmsgpack.unpack('\\205')")).contains("Missing bytes in input."));
}

#[test]
fn struct_packs_as_redis() {
    assert_eq!(
        eval("return struct.pack('>!4 b i', 1, 2)"),
        Reply::Bulk(b"\x01\0\0\0\0\0\0\x02".to_vec())
    );
    assert_eq!(
        eval("return {struct.unpack('<h s', '\\1\\0ab\\0')}"),
        Reply::Array(vec![Reply::Int(1), bulk("ab"), Reply::Int(6)])
    );
    assert_eq!(eval("return struct.size('!8 b d')"), Reply::Int(16));
    assert!(err_of(eval("return struct.size('s')")).contains("option 's' has no fixed size"));
}

#[test]
fn cjson_settings_persist_until_flush() {
    let mut e = Engine::new().unwrap();
    let mut h = FakeHost::default();
    let mut run = |e: &mut Engine, src: &str| {
        let sha = e.load(src.as_bytes()).unwrap();
        e.run(sha.as_bytes(), &[], &[], &mut h).unwrap()
    };
    assert_eq!(
        run(&mut e, "cjson.encode_number_precision(3) return cjson.encode(1.23456)"),
        bulk("1.23")
    );
    assert_eq!(run(&mut e, "return cjson.encode(1.23456)"), bulk("1.23"));
    assert!(
        err_of(run(&mut e, "return cjson.encode({[1]=1,[20]=2})")).contains("excessively sparse")
    );
    assert_eq!(
        run(&mut e, "cjson.encode_sparse_array(true) return cjson.encode({[1]=1,[20]=2})"),
        bulk("{\"1\":1,\"20\":2}")
    );
}

#[test]
fn math_random_is_rand48() {
    assert_eq!(
        eval("math.randomseed(1) return tostring(math.random())"),
        bulk("0.041630344484761")
    );
    assert!(err_of(eval("math.random = nil")).contains("Attempt to modify a readonly table"));
}

struct KillAfter(std::sync::atomic::AtomicU32, u32);

impl Watchdog for KillAfter {
    fn tick(&self) -> Option<String> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (n >= self.1).then(|| "ERR Script killed by user with SCRIPT KILL...".to_string())
    }
}

#[test]
fn watchdog_kills_and_pcall_cannot_catch_it() {
    let mut e = Engine::new().unwrap();
    e.set_watchdog(std::sync::Arc::new(KillAfter(Default::default(), 2))).unwrap();
    let mut h = FakeHost::default();
    let src = "while true do pcall(function() while true do end end) end";
    let sha = e.load(src.as_bytes()).unwrap();
    let r = e.run(sha.as_bytes(), &[], &[], &mut h).unwrap();
    assert!(err_of(r).starts_with("ERR Script killed by user with SCRIPT KILL... script: "));
    let src = "return {xpcall(function() while true do end end, function(e) return 'caught' end)}";
    let sha = e.load(src.as_bytes()).unwrap();
    let r = e.run(sha.as_bytes(), &[], &[], &mut h).unwrap();
    assert!(err_of(r).contains("Script killed by user"));
}

#[test]
fn memory_limit_is_an_error() {
    let mut e = Engine::new().unwrap();
    e.set_memory_limit(32 << 20).unwrap();
    let mut h = FakeHost::default();
    let src = "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end";
    let sha = e.load(src.as_bytes()).unwrap();
    let r = e.run(sha.as_bytes(), &[], &[], &mut h).unwrap();
    assert!(err_of(r).contains("not enough memory"));
    let sha = e.load(b"return 1").unwrap();
    assert_eq!(e.run(sha.as_bytes(), &[], &[], &mut h).unwrap(), Reply::Int(1));
}

/// Keys and arguments the capped heap has no room for are not pushed onto the Lua stack
/// (where failing to allocate them would have nowhere to raise the error): they go as tables
/// made outside the cap, so the script starts, and meets the cap when it allocates itself.
#[test]
fn arguments_beyond_the_heap_cap() {
    let mut e = Engine::new().unwrap();
    e.set_memory_limit(4 << 20).unwrap();
    let mut h = FakeHost::default();
    let big = vec![b'x'; 6 << 20];
    let sha = e.load(b"return #ARGV[1] + #KEYS").unwrap();
    let r = e.run(sha.as_bytes(), &[b"k"], &[&big], &mut h).unwrap();
    assert_eq!(r, Reply::Int((6 << 20) + 1));
    let sha = e.load(b"return {#ARGV[1]}").unwrap();
    let r = e.run(sha.as_bytes(), &[], &[&big], &mut h).unwrap();
    assert!(err_of(r).contains("not enough memory"));
    // Small ones go on the stack again.
    let sha = e.load(b"return {KEYS[1], ARGV[1]}").unwrap();
    let r = e.run(sha.as_bytes(), &[b"k"], &[b"a"], &mut h).unwrap();
    assert_eq!(r, Reply::Array(vec![Reply::Bulk(b"k".to_vec()), Reply::Bulk(b"a".to_vec())]));
}

/// Tens of thousands of cached scripts (a handle per script once ran out of mlua's reference
/// stack after about 8,000).
#[test]
fn many_cached_scripts() {
    let mut e = Engine::new().unwrap();
    let mut h = FakeHost::default();
    let shas: Vec<String> =
        (0..20_000).map(|i| e.load(format!("return {i}").as_bytes()).unwrap()).collect();
    assert_eq!(e.len(), 20_000);
    for i in [0, 9_999, 19_999] {
        let r = e.run(shas[i].to_uppercase().as_bytes(), &[], &[], &mut h).unwrap();
        assert_eq!(r, Reply::Int(i as i64));
    }
    e.flush();
    assert!(!e.exists(shas[0].as_bytes()));
    let sha = e.load(b"return 'again'").unwrap();
    assert_eq!(e.run(sha.as_bytes(), &[], &[], &mut h).unwrap(), Reply::Bulk(b"again".to_vec()));
}
