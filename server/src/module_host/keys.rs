//! API 1.1: key access (`HostCtx::key_op`) and call options (`HostCtx::call_with`).
//!
//! A key operation runs the handler of the built-in command that does the same (LPUSH for a
//! list push, ZRANGE ... WITHSCORES for a range...) directly, without the dispatcher: no
//! command statistics, slow log or MONITOR line of its own (the module command has those), but
//! everything the built-in's write does to the data set happens as for a client's command: its
//! keyspace notifications, the dirty counter, WATCH and client-side tracking invalidation of the
//! keys it names, and propagation to AOF and replicas as the built-in command (so replicas and
//! AOF replay need no module). Propagation joins the module command's other writes (its calls)
//! in one MULTI/EXEC, in the order they ran.

use abi_stable::std_types::{RErr, ROk, RResult, RSlice, RString};
use bytes::Bytes;
use vireo_module_api::abi::{call_error, call_flags, key_op, CallError, CallReply};

use super::Host;
use crate::cmd::spec::CmdFlags;
use crate::cmd::{self, Ctx, Lookup};
use crate::resp::Reply;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The built-in command that gives the length of a key of type `ty` (TYPE's name).
fn len_command(ty: &[u8]) -> Option<&'static str> {
    Some(match ty {
        b"string" => "STRLEN",
        b"list" => "LLEN",
        b"hash" => "HLEN",
        b"set" => "SCARD",
        b"zset" => "ZCARD",
        b"stream" => "XLEN",
        _ => return None,
    })
}

const WRONG_ARGS: &str = "ERR wrong number of arguments for this key operation";

/// `HostCtx::key_op`.
pub(super) fn key_op(
    host: &mut Host,
    op: u32,
    key: &[u8],
    args: &[RSlice<'_, u8>],
) -> RResult<CallReply, RString> {
    // The operations of the server's own, before copying anything: JSON runs them on every write.
    match op {
        key_op::OPEN_WRITE | key_op::UNCHANGED | key_op::REMOVE if !args.is_empty() => {
            return RErr(WRONG_ARGS.into());
        }
        key_op::OPEN_WRITE => {
            host.ctx.key_modified(key);
            return ROk(CallReply::Simple("OK".into()));
        }
        key_op::UNCHANGED => {
            let core = &mut host.ctx.core;
            core.dirty = core.dirty.saturating_sub(std::mem::take(&mut host.value_marks));
            return ROk(CallReply::Simple("OK".into()));
        }
        key_op::REMOVE => return ROk(remove(host, key)),
        _ => {}
    }
    let k = Bytes::copy_from_slice(key);
    let a: Vec<Bytes> = args.iter().map(|x| Bytes::copy_from_slice(x)).collect();
    let with = |name: &'static str, n: Option<usize>| -> Option<Vec<Bytes>> {
        if n.is_some_and(|n| n != a.len()) {
            return None;
        }
        let mut v = Vec::with_capacity(2 + a.len());
        v.push(b(name));
        v.push(k.clone());
        v.extend(a.iter().cloned());
        Some(v)
    };
    let argv = match op {
        key_op::TYPE => with("TYPE", Some(0)),
        key_op::DEL => with("DEL", Some(0)),
        key_op::UNLINK => with("UNLINK", Some(0)),
        key_op::EXISTS => with("EXISTS", Some(0)),
        key_op::PTTL => with("PTTL", Some(0)),
        key_op::PEXPIRETIME => with("PEXPIRETIME", Some(0)),
        key_op::PEXPIRE => with("PEXPIRE", Some(1)),
        key_op::PEXPIREAT => with("PEXPIREAT", Some(1)),
        key_op::PERSIST => with("PERSIST", Some(0)),
        key_op::GET => with("GET", Some(0)),
        key_op::SET => with("SET", Some(1)),
        key_op::APPEND => with("APPEND", Some(1)),
        key_op::SETRANGE => with("SETRANGE", Some(2)),
        key_op::LPUSH => with("LPUSH", None),
        key_op::RPUSH => with("RPUSH", None),
        key_op::LPOP => with("LPOP", Some(0)),
        key_op::RPOP => with("RPOP", Some(0)),
        key_op::LINDEX => with("LINDEX", Some(1)),
        key_op::LRANGE => with("LRANGE", Some(2)),
        key_op::HGET => with("HGET", Some(1)),
        key_op::HSET => with("HSET", Some(2)),
        key_op::HDEL => with("HDEL", Some(1)),
        key_op::HGETALL => with("HGETALL", Some(0)),
        key_op::SADD => with("SADD", None),
        key_op::SREM => with("SREM", None),
        key_op::SISMEMBER => with("SISMEMBER", Some(1)),
        key_op::SMEMBERS => with("SMEMBERS", Some(0)),
        key_op::ZADD => with("ZADD", Some(2)),
        key_op::ZREM => with("ZREM", None),
        key_op::ZSCORE => with("ZSCORE", Some(1)),
        key_op::ZRANGE_RANK => with("ZRANGE", Some(2)).map(|mut v| {
            v.push(b("WITHSCORES"));
            v
        }),
        key_op::ZRANGE_SCORE => with("ZRANGE", Some(2)).map(|mut v| {
            v.extend([b("BYSCORE"), b("WITHSCORES")]);
            v
        }),
        key_op::LEN => {
            if !a.is_empty() {
                return RErr(WRONG_ARGS.into());
            }
            let ty = match run_builtin(host, vec![b("TYPE"), k.clone()]) {
                Ok(CallReply::Simple(t)) => t,
                Ok(_) => return RErr("ERR TYPE gave no type".into()),
                Err(e) => return RErr(e.into()),
            };
            match len_command(ty.as_bytes()) {
                Some(c) => Some(vec![Bytes::from_static(c.as_bytes()), k]),
                None => return ROk(CallReply::Int(0)),
            }
        }
        key_op::SCAN => {
            // The key is the cursor; the arguments: COUNT's value, then MATCH's if any.
            let mut v = vec![b("SCAN"), k];
            match a.as_slice() {
                [count] => v.extend([b("COUNT"), count.clone()]),
                [count, pattern] => {
                    v.extend([b("COUNT"), count.clone(), b("MATCH"), pattern.clone()])
                }
                _ => return RErr(WRONG_ARGS.into()),
            }
            Some(v)
        }
        key_op::SCAN_ELEMENTS => {
            let [cursor, count] = a.as_slice() else { return RErr(WRONG_ARGS.into()) };
            let ty = match run_builtin(host, vec![b("TYPE"), k.clone()]) {
                Ok(CallReply::Simple(t)) => t,
                Ok(_) => return RErr("ERR TYPE gave no type".into()),
                Err(e) => return RErr(e.into()),
            };
            let c = match ty.as_str() {
                "hash" => "HSCAN",
                "set" => "SSCAN",
                "zset" => "ZSCAN",
                "none" => {
                    let done = CallReply::Bulk(b"0".to_vec().into());
                    return ROk(CallReply::Array(
                        vec![done, CallReply::Array(Default::default())].into(),
                    ));
                }
                _ => return RErr(crate::error::Error::WRONG_TYPE.0.as_ref().into()),
            };
            Some(vec![
                Bytes::from_static(c.as_bytes()),
                k,
                cursor.clone(),
                b("COUNT"),
                count.clone(),
            ])
        }
        _ => return RErr(format!("ERR unknown key operation {op}").into()),
    };
    let Some(argv) = argv else { return RErr(WRONG_ARGS.into()) };
    match run_builtin(host, argv) {
        Ok(r) => ROk(r),
        Err(e) => RErr(e.into()),
    }
}

/// As for a call: the module command itself is not propagated, its effects are, wrapped in
/// MULTI/EXEC with whatever else it writes.
fn effects_propagate(host: &mut Host) {
    let ctx = &mut *host.ctx;
    ctx.propagate_as.get_or_insert_with(Vec::new);
    if !host.wrapped && !ctx.core.prop.in_transaction() {
        ctx.core.prop.begin_transaction();
        host.wrapped = true;
    }
}

/// `key_op::REMOVE`: deletes the key as DEL does, without DEL's keyspace event.
fn remove(host: &mut Host, key: &[u8]) -> CallReply {
    let now = host.ctx.now;
    if host.ctx.db().delete(key, now).is_none() {
        return CallReply::Int(0);
    }
    effects_propagate(host);
    let ctx = &mut *host.ctx;
    ctx.key_modified(key);
    ctx.dirty(1);
    let db = ctx.client.db;
    ctx.core.prop.feed(db, &[b("DEL"), Bytes::copy_from_slice(key)]);
    CallReply::Int(1)
}

/// Runs built-in command `argv` (its handler, in the calling client's database) and does what
/// the dispatcher does after a write: WATCH and tracking invalidation of its keys, lazy-expiry
/// deletions and the command itself to the propagation stream. The reply is the RESP3 one;
/// an error reply is the `Err`.
fn run_builtin(host: &mut Host, argv: Vec<Bytes>) -> Result<CallReply, String> {
    let ctx = &mut *host.ctx;
    let Some(cmd) = ctx.server.commands.get(&argv[0]) else {
        return Err(format!("ERR no built-in command {}", String::from_utf8_lossy(&argv[0])));
    };
    let Some(handler) = cmd.handler else {
        return Err(format!("ERR command '{}' is not implemented in Vireo yet", cmd.fullname));
    };
    let (arity, argc) = (cmd.spec.arity, argv.len() as i32);
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(WRONG_ARGS.into());
    }
    effects_propagate(host);
    let ctx = &mut *host.ctx;
    let db = ctx.client.db;
    let dirty_before = ctx.core.dirty;
    let mut buf = Vec::new();
    let (result, propagate_as, touched_own, forced) = {
        let mut sub = Ctx {
            core: &mut *ctx.core,
            server: ctx.server,
            client: &mut *ctx.client,
            out: Reply::new(&mut buf, true),
            now: crate::clock::mstime(),
            propagate_as: None,
            cmd,
            blocked: None,
            touched_own: false,
            force_propagation: false,
        };
        let r = handler(&mut sub, &argv);
        (r, sub.propagate_as.take(), sub.touched_own, sub.force_propagation)
    };
    let core = &mut *ctx.core;
    // A handler that signalled the keys it changed itself has done so already.
    if cmd::propagate_call(core, db, &argv, propagate_as, dirty_before, forced) && !touched_own {
        cmd::touch_written_keys(core, cmd, &argv, db);
    }
    if let Err(e) = result {
        return Err(e.0.into_owned());
    }
    // Keyspace events for the caller itself (a RESP3 client subscribed to them) are pushes
    // written ahead of the reply: they go to the client's output.
    let mut at = 0;
    while buf.get(at) == Some(&b'>') {
        match vireo_scripting::parse_reply(&buf[at..]) {
            Some((_, n)) => {
                ctx.out.buf.extend_from_slice(&buf[at..at + n]);
                at += n;
            }
            None => break,
        }
    }
    match vireo_scripting::parse_reply(&buf[at..]) {
        Some((vireo_scripting::Reply::Error(e), _)) => Err(String::from_utf8_lossy(&e).into()),
        Some((r, _)) => Ok(Host::to_call_reply(r)),
        None => Err("ERR the command gave no reply".into()),
    }
}

fn refuse(kind: u32, message: impl Into<String>) -> RResult<CallReply, CallError> {
    RErr(CallError { kind, message: message.into().into() })
}

/// `HostCtx::call_with`: the checks Redis's `RM_Call` makes for its `C`, `S`, `W` and `M`
/// modifiers, then the call; an error reply is the `Err` too.
pub(super) fn call_with(
    host: &mut Host,
    flags: u32,
    argv: &[RSlice<'_, u8>],
) -> RResult<CallReply, CallError> {
    if argv.is_empty() {
        return refuse(call_error::UNKNOWN_COMMAND, "ERR empty command");
    }
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let ctx = &mut *host.ctx;
    let server = ctx.server;
    let mut module_cmd = None;
    let (cmd_flags, name, arity) = match cmd::resolve(server, ctx.core, &argv, &mut module_cmd) {
        Lookup::Found(c) => (c.flags, c.fullname, c.spec.arity),
        Lookup::Unknown => {
            return refuse(call_error::UNKNOWN_COMMAND, cmd::unknown_command_error(&argv).0)
        }
        Lookup::UnknownSub => {
            let sub: String = String::from_utf8_lossy(&argv[1]).chars().take(128).collect();
            let top = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
            let msg = format!("ERR unknown subcommand '{sub}'. Try {top} HELP.");
            return refuse(call_error::UNKNOWN_COMMAND, msg);
        }
    };
    drop(module_cmd);
    let argc = argv.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        let msg = format!("ERR wrong number of arguments for '{name}' command");
        return refuse(call_error::WRONG_ARITY, msg);
    }
    if flags & call_flags::CHECK_ACL != 0 {
        let mut module_cmd = None;
        if let Lookup::Found(c) = cmd::resolve(server, ctx.core, &argv, &mut module_cmd) {
            if let Err(refusal) = cmd::acl::check(ctx.core, ctx.client, c, &argv) {
                let module = crate::acl::LogContext::Module;
                cmd::acl::log_refusal(ctx.core, ctx.client, c, &argv, refusal, module);
                return refuse(call_error::NO_PERMISSION, crate::acl::noperm_error(refusal.0, c));
            }
        }
    }
    if flags & call_flags::SCRIPT_MODE != 0 && cmd_flags.contains(CmdFlags::NOSCRIPT) {
        let msg = format!("ERR command '{name}' is not allowed on script mode");
        return refuse(call_error::SCRIPT_MODE, msg);
    }
    if flags & call_flags::NO_WRITES != 0 && cmd_flags.contains(CmdFlags::WRITE) {
        let msg = format!("ERR Write command '{name}' was called while write is not allowed.");
        return refuse(call_error::NO_WRITES, msg);
    }
    if flags & call_flags::RESPECT_OOM != 0
        && cmd_flags.contains(CmdFlags::DENYOOM)
        && ctx.core.cfg.maxmemory > 0
        && crate::keyspace::evict::perform(server, ctx.core)
            == crate::keyspace::evict::Outcome::Fail
    {
        return refuse(call_error::OOM, crate::keyspace::evict::OOM_ERROR);
    }
    if flags & call_flags::SCRIPT_MODE != 0 && cmd_flags.contains(CmdFlags::WRITE) {
        let core = &*ctx.core;
        let refused = if crate::persist::snapshot::writes_refused(core) {
            Some(crate::persist::snapshot::MISCONF.to_string())
        } else if crate::persist::aof::failing(core) {
            crate::persist::aof::disk_error(core)
        } else {
            None
        };
        if let Some(msg) = refused {
            return refuse(call_error::SCRIPT_MODE, msg);
        }
    }
    let resp = if flags & call_flags::RESP_AUTO != 0 {
        ctx.client.resp
    } else if flags & call_flags::RESP2 != 0 {
        2
    } else {
        3
    };
    match host.run_call(&argv, resp) {
        CallReply::Error(e) => refuse(call_error::COMMAND, e),
        r => ROk(r),
    }
}
