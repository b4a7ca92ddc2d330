//! The keys module: key access from module commands (every basic type, expiry, SCAN) and
//! calling other commands with options. Each `KEYS.*` command maps onto one SDK key
//! operation, so that a test can reach every one of them over the wire.
//!
//! Load it with `loadmodule /path/to/libvireo_keys.so` or `MODULE LOAD`.
#![forbid(unsafe_code)]

use vireo_module_api::{
    vireo_module, Args, CallErrorKind, CallOptions, Command, CommandResult, Context, Error, Expiry,
    InitContext, ListEnd, Reply,
};

fn end(args: &Args, i: usize) -> Result<ListEnd, Error> {
    if args.is(i, "head") {
        Ok(ListEnd::Head)
    } else if args.is(i, "tail") {
        Ok(ListEnd::Tail)
    } else {
        Err(Error::SYNTAX)
    }
}

fn expiry(e: Expiry) -> i64 {
    match e {
        Expiry::NoKey => -2,
        Expiry::Persistent => -1,
        Expiry::Ms(ms) => ms,
    }
}

fn bulks(v: Vec<Vec<u8>>) -> Reply {
    Reply::Array(v.into_iter().map(Reply::Bulk).collect())
}

fn scored(v: Vec<(Vec<u8>, f64)>) -> Reply {
    Reply::Array(v.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect())
}

/// The read commands: `KEYS.<op> key [arg ...]`.
fn read(ctx: &mut Context, args: &Args) -> CommandResult {
    let op = args.str(0)?.to_ascii_lowercase();
    let name = args.bytes(1)?.to_vec();
    let mut k = ctx.key(&name);
    let r: Reply = match op.as_str() {
        "keys.type" => Reply::Simple(k.key_type()?),
        "keys.len" => Reply::Int(k.len()? as i64),
        "keys.exists" => k.exists()?.into(),
        "keys.pttl" => Reply::Int(expiry(k.ttl()?)),
        "keys.pexpiretime" => Reply::Int(expiry(k.expire_at()?)),
        "keys.get" => k.get()?.into(),
        "keys.lindex" => k.list_index(args.i64(2)?)?.into(),
        "keys.lrange" => bulks(k.list_range(args.i64(2)?, args.i64(3)?)?),
        "keys.hget" => k.hash_get(args.bytes(2)?)?.into(),
        "keys.hgetall" => Reply::Map(
            k.hash_get_all()?.into_iter().map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v))).collect(),
        ),
        "keys.sismember" => k.set_is_member(args.bytes(2)?)?.into(),
        "keys.smembers" => {
            let mut m = k.set_members()?;
            m.sort();
            bulks(m)
        }
        "keys.zscore" => k.zset_score(args.bytes(2)?)?.into(),
        "keys.zrange" => scored(k.zset_range_by_rank(args.i64(2)?, args.i64(3)?)?),
        "keys.zrangebyscore" => scored(k.zset_range_by_score(args.f64(2)?, args.f64(3)?)?),
        "keys.scanelements" => {
            // Every element, one batch of `count` at a time.
            let count = if args.len() > 2 { args.i64(2)?.max(1) as usize } else { 10 };
            let (mut cursor, mut all) = (0, Vec::new());
            loop {
                let b = k.scan_elements(cursor, count)?;
                all.extend(b.items);
                cursor = b.cursor;
                if cursor == 0 {
                    break;
                }
            }
            bulks(all)
        }
        _ => return Err(Error::err("unknown read operation")),
    };
    ctx.reply(r);
    Ok(())
}

/// The write commands: `KEYS.<op> key [arg ...]`.
fn write(ctx: &mut Context, args: &Args) -> CommandResult {
    let op = args.str(0)?.to_ascii_lowercase();
    let name = args.bytes(1)?.to_vec();
    let rest: Vec<&[u8]> = args.iter().skip(2).collect();
    let mut k = ctx.open_key_writable(&name);
    let r: Reply = match op.as_str() {
        "keys.del" => k.delete()?.into(),
        "keys.unlink" => k.unlink()?.into(),
        "keys.pexpire" => k.set_ttl(args.i64(2)?)?.into(),
        "keys.pexpireat" => k.set_expire_at(args.i64(2)?)?.into(),
        "keys.persist" => k.remove_expire()?.into(),
        "keys.set" => {
            k.set(args.bytes(2)?)?;
            Reply::ok()
        }
        "keys.append" => Reply::Int(k.append(args.bytes(2)?)? as i64),
        "keys.setrange" => {
            let off =
                u64::try_from(args.i64(2)?).map_err(|_| Error::err("offset is out of range"))?;
            Reply::Int(k.set_range(off, args.bytes(3)?)? as i64)
        }
        "keys.push" => Reply::Int(k.list_push(end(args, 2)?, &rest[1..])? as i64),
        "keys.pop" => k.list_pop(end(args, 2)?)?.into(),
        "keys.hset" => k.hash_set(args.bytes(2)?, args.bytes(3)?)?.into(),
        "keys.hdel" => k.hash_del(args.bytes(2)?)?.into(),
        "keys.sadd" => Reply::Int(k.set_add(&rest)? as i64),
        "keys.srem" => Reply::Int(k.set_rem(&rest)? as i64),
        "keys.zadd" => k.zset_add(args.f64(2)?, args.bytes(3)?)?.into(),
        "keys.zrem" => k.zset_rem(args.bytes(2)?)?.into(),
        _ => return Err(Error::err("unknown write operation")),
    };
    ctx.reply(r);
    Ok(())
}

/// KEYS.SCAN [pattern]: every key of the database (sorted), walking SCAN's cursor in batches.
fn scan(ctx: &mut Context, args: &Args) -> CommandResult {
    let pattern = args.get(1);
    let (mut cursor, mut all) = (0, Vec::new());
    loop {
        let b = ctx.scan(cursor, 3, pattern)?;
        all.extend(b.items);
        cursor = b.cursor;
        if cursor == 0 {
            break;
        }
    }
    all.sort();
    all.dedup();
    ctx.reply(bulks(all));
    Ok(())
}

/// KEYS.MIRROR key value: sets `key` and `key:mirror` (a key no key spec names, so only the
/// key API's own invalidation covers it), then pushes the value onto `key:log`.
fn mirror(ctx: &mut Context, args: &Args) -> CommandResult {
    let key = args.bytes(1)?;
    let value = args.bytes(2)?;
    ctx.open_key_writable(key).set(value)?;
    let mut m = key.to_vec();
    m.extend_from_slice(b":mirror");
    ctx.open_key_writable(&m).set(value)?;
    m.truncate(key.len());
    m.extend_from_slice(b":log");
    let n = ctx.open_key_writable(&m).list_push(ListEnd::Tail, &[value])?;
    ctx.reply_int(n as i64);
    Ok(())
}

/// KEYS.MIXED key: a call and direct writes interleaved (SET key a, APPEND b directly, APPEND
/// c through a call, APPEND d directly): replicas and the AOF must apply them in that order.
fn mixed(ctx: &mut Context, args: &Args) -> CommandResult {
    let key = args.bytes(1)?;
    ctx.call_with(CallOptions::new(), &[&b"SET"[..], key, b"a"])?;
    ctx.open_key_writable(key).append("b")?;
    ctx.call_with(CallOptions::new(), &[&b"APPEND"[..], key, b"c"])?;
    ctx.open_key_writable(key).append("d")?;
    let v = ctx.key(key).get()?;
    ctx.reply(v);
    Ok(())
}

/// KEYS.CALL options command [arg ...]: runs the command with `options`, letters as Redis's
/// RM_Call modifiers (`C` ACL, `S` script mode, `W` no writes, `M` respect OOM, `2` RESP2
/// replies, `0` the caller's protocol; `-` for none). A refusal replies `<kind>: <error>`.
fn call(ctx: &mut Context, args: &Args) -> CommandResult {
    let mut opts = CallOptions::new();
    for c in args.str(1)?.chars() {
        opts = match c {
            'C' => opts.check_acl(),
            'S' => opts.script_mode(),
            'W' => opts.no_writes(),
            'M' => opts.respect_oom(),
            '2' => opts.resp2(),
            '0' => opts.resp_auto(),
            '-' => opts,
            _ => return Err(Error::SYNTAX),
        };
    }
    let argv: Vec<&[u8]> = args.iter().skip(2).collect();
    match ctx.call_with(opts, &argv) {
        Ok(r) => ctx.reply(r),
        Err(e) if e.kind == CallErrorKind::Command => return Err(e.into()),
        Err(e) => ctx.reply_error(&format!("{} {:?}: {}", e.code(), e.kind, e.message)),
    }
    Ok(())
}

const READS: &[(&str, i32)] = &[
    ("keys.type", 2),
    ("keys.len", 2),
    ("keys.exists", 2),
    ("keys.pttl", 2),
    ("keys.pexpiretime", 2),
    ("keys.get", 2),
    ("keys.lindex", 3),
    ("keys.lrange", 4),
    ("keys.hget", 3),
    ("keys.hgetall", 2),
    ("keys.sismember", 3),
    ("keys.smembers", 2),
    ("keys.zscore", 3),
    ("keys.zrange", 4),
    ("keys.zrangebyscore", 4),
    ("keys.scanelements", -2),
];

const WRITES: &[(&str, i32)] = &[
    ("keys.del", 2),
    ("keys.unlink", 2),
    ("keys.pexpire", 3),
    ("keys.pexpireat", 3),
    ("keys.persist", 2),
    ("keys.set", 3),
    ("keys.append", 3),
    ("keys.setrange", 4),
    ("keys.push", -4),
    ("keys.pop", 3),
    ("keys.hset", 4),
    ("keys.hdel", 3),
    ("keys.sadd", -3),
    ("keys.srem", -3),
    ("keys.zadd", 4),
    ("keys.zrem", 3),
];

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    for &(name, arity) in READS {
        ctx.register(Command::new(name, read).arity(arity).flags("readonly").keys(1, 1, 1))?;
    }
    for &(name, arity) in WRITES {
        ctx.register(Command::new(name, write).arity(arity).flags("write deny-oom").keys(1, 1, 1))?;
    }
    ctx.register(Command::new("keys.scan", scan).arity(-1).flags("readonly"))?;
    ctx.register(
        Command::new("keys.mirror", mirror).arity(3).flags("write deny-oom").keys(1, 1, 1),
    )?;
    ctx.register(Command::new("keys.mixed", mixed).arity(2).flags("write deny-oom").keys(1, 1, 1))?;
    ctx.register(Command::new("keys.call", call).arity(-3).flags("write"))
}

vireo_module! {
    name: "keys",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::testing::{KeyValue, TestModule};

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    #[test]
    fn every_type_in_memory() {
        let mut m = TestModule::load("keys", init, &[]).unwrap();
        assert_eq!(m.run(&["keys.push", "l", "tail", "a", "b", "c"]), Reply::Int(3));
        assert_eq!(m.run(&["keys.pop", "l", "head"]), Reply::bulk("a"));
        assert_eq!(
            m.run(&["keys.lrange", "l", "0", "-1"]),
            bulks(vec![b"b".to_vec(), b"c".to_vec()])
        );
        assert_eq!(m.run(&["keys.type", "l"]), Reply::simple("list"));
        assert_eq!(m.run(&["keys.get", "l"]), Reply::error(WRONGTYPE));
        assert_eq!(m.run(&["keys.hset", "h", "f", "v"]), Reply::Int(1));
        assert_eq!(m.run(&["keys.hget", "h", "f"]), Reply::bulk("v"));
        assert_eq!(m.run(&["keys.sadd", "s", "x", "y", "x"]), Reply::Int(2));
        assert_eq!(m.run(&["keys.len", "s"]), Reply::Int(2));
        assert_eq!(m.run(&["keys.zadd", "z", "2.5", "m"]), Reply::Int(1));
        assert_eq!(m.run(&["keys.zscore", "z", "m"]), Reply::bulk("2.5"));
        assert_eq!(m.run(&["keys.set", "str", "abc"]), Reply::ok());
        assert_eq!(m.run(&["keys.setrange", "str", "5", "z"]), Reply::Int(6));
        assert_eq!(m.keyspace().get(b"str"), Some(&KeyValue::String(b"abc\0\0z".to_vec())));
        assert_eq!(m.run(&["keys.pexpire", "str", "100000"]), Reply::Int(1));
        let Reply::Int(ttl) = m.run(&["keys.pttl", "str"]) else { panic!("pttl") };
        assert!(ttl > 99_000 && ttl <= 100_000);
        assert_eq!(m.run(&["keys.scan", "s*"]), bulks(vec![b"s".to_vec(), b"str".to_vec()]));
        assert_eq!(m.run(&["keys.del", "str"]), Reply::Int(1));
        assert_eq!(m.run(&["keys.pttl", "str"]), Reply::Int(-2));
    }
}
