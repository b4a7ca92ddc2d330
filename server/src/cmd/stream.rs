//! Stream commands (Redis 7.0's stream group), every one but the blocking wait itself.
//!
//! Propagation follows Redis 7.0:
//! - XADD with `*` or `<ms>-*` propagates the id it made; XADD and XTRIM with `~` propagate
//!   `=` and the stream's resulting length (MAXLEN) or first id (MINID), so replicas trim the
//!   same entries.
//! - XREADGROUP, XCLAIM and XAUTOCLAIM never propagate themselves: each entry they deliver or
//!   claim becomes `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id`;
//!   a NOACK read becomes `XGROUP SETID ... ENTRIESREAD n` (after `XGROUP CREATECONSUMER` when
//!   it created the consumer), and an XCLAIM LASTID that moved the group's id and claimed
//!   nothing becomes `XGROUP SETID`.
//! - Everything else propagates as called.
//!
//! A stream is never deleted for being empty.
//!
//! XREAD and XREADGROUP parse into a [`ReadRequest`] and answer through [`serve_read`], which
//! replies only when it has something to give: a blocked reader can later be served by calling
//! it again with the same request.

use std::sync::Arc;

use bytes::Bytes;

use super::client::{help_reply, subcommand_syntax_error};
use super::string::access;
use super::{Ctx, Handler};
use crate::blocking::Wants;
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Value};
use crate::resp::Reply;
use crate::types::stream::{
    parse_id, parse_interval, parse_loose, parse_strict, AddError, AddId, AutoClaimOpts, Claim,
    ClaimOpts, Entry, IdArg, NodeLimits, Stream, StreamId, Trim, TrimStrategy, Val,
};
use crate::types::Object;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("xack", xack),
    ("xadd", xadd),
    ("xautoclaim", xautoclaim),
    ("xclaim", xclaim),
    ("xdel", xdel),
    ("xgroup|create", xgroup_create),
    ("xgroup|createconsumer", xgroup_createconsumer),
    ("xgroup|delconsumer", xgroup_delconsumer),
    ("xgroup|destroy", xgroup_destroy),
    ("xgroup|help", xgroup_help),
    ("xgroup|setid", xgroup_setid),
    ("xinfo|consumers", xinfo_consumers),
    ("xinfo|groups", xinfo_groups),
    ("xinfo|help", xinfo_help),
    ("xinfo|stream", xinfo_stream),
    ("xlen", xlen),
    ("xpending", xpending),
    ("xrange", xrange),
    ("xread", xread),
    ("xreadgroup", xreadgroup),
    ("xrevrange", xrevrange),
    ("xsetid", xsetid),
    ("xtrim", xtrim),
];

const INVALID_ID: Error =
    Error(std::borrow::Cow::Borrowed("ERR Invalid stream ID specified as stream command argument"));

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn text(s: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(s)
}

fn id_arg(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

fn int_arg(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// `NOGROUP No such key 'k' or consumer group 'g'`.
fn no_key_or_group(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!("NOGROUP No such key '{}' or consumer group '{}'", text(key), text(group)))
}

/// `NOGROUP No such consumer group 'g' for key name 'k'`.
fn no_group_for_key(group: &[u8], key: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        text(group),
        text(key)
    ))
}

fn limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.core.cfg.stream_node_max_bytes,
        max_entries: ctx.core.cfg.stream_node_max_entries,
    }
}

/// The stream at `key` (recording an access): None if missing, WRONGTYPE for another type.
fn get_stream<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
    acc: Access,
) -> Result<Option<&'d mut Stream>, Error> {
    as_stream(db.lookup(key, now, acc))
}

/// The stream of a looked-up entry (`db.lookup_read` for a key the command reads, counted as
/// a hit or miss): None if missing, WRONGTYPE for another type.
fn as_stream(e: Option<&mut crate::keyspace::Entry>) -> Result<Option<&mut Stream>, Error> {
    match e {
        None => Ok(None),
        Some(e) => match e.obj_mut() {
            Some(Object::Stream(s)) => Ok(Some(s)),
            _ => Err(Error::WRONG_TYPE),
        },
    }
}

fn stream_value(s: Stream) -> Value<'static> {
    Value::Obj(Box::new(Object::Stream(Box::new(s))))
}

// ------------------------------------------------------------------------------------------------
// Replies

fn write_id(out: &mut Reply, id: StreamId) {
    let mut a = itoa::Buffer::new();
    let mut c = itoa::Buffer::new();
    let ms = a.format(id.ms).as_bytes();
    let seq = c.format(id.seq).as_bytes();
    let mut buf = [0u8; 41];
    buf[..ms.len()].copy_from_slice(ms);
    buf[ms.len()] = b'-';
    buf[ms.len() + 1..ms.len() + 1 + seq.len()].copy_from_slice(seq);
    out.bulk(&buf[..ms.len() + 1 + seq.len()]);
}

fn write_val(out: &mut Reply, v: Val) {
    match v {
        Val::Str(s) => out.bulk(s),
        Val::Int(n) => out.bulk_int(n),
    }
}

/// An entry as Redis replies it: `[id, [field, value, ...]]`.
fn write_entry(out: &mut Reply, e: &Entry) {
    out.array(2);
    write_id(out, e.id);
    out.array(2 * e.len());
    for (f, v) in e.pairs() {
        write_val(out, f);
        write_val(out, v);
    }
}

#[derive(Clone, Copy)]
enum Agg {
    Array,
    Map,
}

/// Writes an aggregate whose length is known only after its elements: `f` writes them and
/// returns how many there were; the header goes in front.
fn deferred<'a, R>(
    out: &mut Reply<'a>,
    kind: Agg,
    f: impl FnOnce(&mut Reply<'a>) -> (usize, R),
) -> R {
    let start = out.buf.len();
    let (n, r) = f(out);
    let mut hdr = Vec::with_capacity(12);
    let mut h = Reply::new(&mut hdr, out.resp3);
    match kind {
        Agg::Array => h.array(n),
        Agg::Map => h.map(n),
    }
    out.buf.splice(start..start, hdr);
    r
}

// ------------------------------------------------------------------------------------------------
// XADD, XTRIM

/// The options XADD and XTRIM share.
struct AddTrimArgs {
    trim: Option<Trim>,
    /// Index of the MAXLEN/MINID threshold argument.
    threshold_idx: usize,
    nomkstream: bool,
    /// XADD: the id and its index (one past the end when missing).
    id: AddId,
    id_idx: usize,
}

/// Parses `[NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]` and (XADD) the id, as
/// Redis 7.0's streamParseAddOrTrimArgsOrReply does, errors and their order included.
fn parse_add_trim(ctx: &Ctx, argv: &[Bytes], xadd: bool) -> Result<AddTrimArgs, Error> {
    let mut a = AddTrimArgs {
        trim: None,
        threshold_idx: 0,
        nomkstream: false,
        id: AddId::Auto,
        id_idx: argv.len() + 1,
    };
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    let incompatible =
        || Error::err("syntax error, MAXLEN and MINID options at the same time are not compatible");
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i][..];
        if xadd && opt == b"*" {
            a.id = AddId::Auto;
            a.id_idx = i;
            break;
        } else if (Ctx::is(opt, "maxlen") || Ctx::is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(incompatible());
            }
            let next = &argv[i + 1][..];
            approx = more >= 2 && next == b"~";
            if more >= 2 && (next == b"~" || next == b"=") {
                i += 1;
            }
            i += 1;
            strategy = Some(if Ctx::is(opt, "maxlen") {
                let max = parse_i64(&argv[i]).ok_or(Error::NOT_INT)?;
                if max < 0 {
                    return Err(Error::err("The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(max as u64)
            } else {
                TrimStrategy::MinId(parse_strict(&argv[i]).ok_or(INVALID_ID)?)
            });
            a.threshold_idx = i;
        } else if Ctx::is(opt, "limit") && more > 0 {
            limit = parse_i64(&argv[i + 1]).ok_or(Error::NOT_INT)?;
            if limit < 0 {
                return Err(Error::err("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && Ctx::is(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = match parse_id(opt, 0, true, true).ok_or(INVALID_ID)? {
                IdArg::Exact(id) => AddId::Exact(id),
                IdArg::AutoSeq(ms) => AddId::AutoSeq(ms),
            };
            a.id_idx = i;
            break;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    if limit != 0 && strategy.is_none() {
        return Err(Error::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && strategy.is_none() {
        return Err(Error::err("syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given {
        if !approx {
            return Err(Error::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if approx {
        let per_node = ctx.core.cfg.stream_node_max_entries;
        limit = match per_node.checked_mul(100) {
            Some(n) if n > 0 && n <= 10000 => n as i64,
            _ => 10000,
        };
    } else {
        limit = 0;
    }
    a.trim = strategy.map(|strategy| Trim { strategy, approx, limit: limit as u64 });
    Ok(a)
}

/// Rewrites `MAXLEN|MINID ~ x` into `= <what the stream now is>` for propagation.
fn rewrite_approx(args: &mut [Bytes], s: &Stream, trim: &Trim, threshold_idx: usize) {
    args[threshold_idx - 1] = b("=");
    args[threshold_idx] = match trim.strategy {
        TrimStrategy::MaxLen(_) => int_arg(s.log.length as i64),
        TrimStrategy::MinId(_) => id_arg(s.log.first_node_id().unwrap_or(StreamId::MAX)),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
fn xadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, true)?;
    let field_pos = a.id_idx + 1;
    if argv.len() < field_pos + 2 || (argv.len() - field_pos) % 2 == 1 {
        return Err(Error::arity("xadd"));
    }
    if a.id == AddId::Exact(StreamId::MIN) {
        return Err(Error::err("The ID specified in XADD must be greater than 0-0"));
    }
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let key = &argv[1];
    let (db, out) = ctx.db_out();
    if get_stream(db, key, now, acc)?.is_none() {
        if a.nomkstream {
            out.null();
            return Ok(());
        }
        db.add(key, stream_value(Stream::new()), None, 0, acc);
    }
    let Some(s) = get_stream(db, key, now, acc)? else { return Ok(()) };
    if s.log.last_id == StreamId::MAX {
        return Err(Error::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let pairs: Vec<&[u8]> = argv[field_pos..].iter().map(|x| &x[..]).collect();
    let id = match s.log.add(a.id, &pairs, lim, now.max(0) as u64) {
        Ok(id) => id,
        Err(AddError::NotGreater) => {
            return Err(Error::err(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            ))
        }
        Err(AddError::TooLarge) => return Err(Error::err("Elements are too large to be stored")),
    };
    write_id(out, id);
    let mut rewritten: Option<Vec<Bytes>> = None;
    let mut trimmed = 0;
    if let Some(t) = a.trim {
        trimmed = s.log.trim(t);
        if t.approx {
            let args = rewritten.get_or_insert_with(|| argv.to_vec());
            rewrite_approx(args, s, &t, a.threshold_idx);
        }
    }
    if !matches!(a.id, AddId::Exact(_)) {
        rewritten.get_or_insert_with(|| argv.to_vec())[a.id_idx] = id_arg(id);
    }
    if let Some(args) = rewritten {
        ctx.propagate(args);
    }
    ctx.dirty(1);
    ctx.notify(ev::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(ev::STREAM, "xtrim", key);
    }
    ctx.db().signal_ready(&argv[1]);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, false)?;
    let Some(t) = a.trim else { return Err(Error::SYNTAX) };
    let (now, acc) = (ctx.now, access(ctx));
    let Some(s) = get_stream(ctx.db(), &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = s.log.trim(t);
    if deleted > 0 && t.approx {
        let mut args = argv.to_vec();
        rewrite_approx(&mut args, s, &t, a.threshold_idx);
        ctx.propagate(args);
    }
    ctx.dirty(deleted);
    if deleted > 0 {
        ctx.notify(ev::STREAM, "xtrim", &argv[1]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// XRANGE, XREVRANGE, XLEN, XDEL

fn xrange_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (&argv[3], &argv[2]) } else { (&argv[2], &argv[3]) };
    let (mut start, sx) = parse_interval(start_arg, 0).ok_or(INVALID_ID)?;
    if sx {
        start = start.incr().ok_or_else(|| Error::err("invalid start ID for the interval"))?;
    }
    let (mut end, ex) = parse_interval(end_arg, u64::MAX).ok_or(INVALID_ID)?;
    if ex {
        end = end.decr().ok_or_else(|| Error::err("invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if Ctx::is(&argv[j], "count") && j + 1 < argv.len() {
            count = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?.max(0);
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(s) = get_stream(db, &argv[1], now, acc)? else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.null_array();
        return Ok(());
    }
    let limit = if count < 0 { usize::MAX } else { count as usize };
    deferred(out, Agg::Array, |out| {
        let mut n = 0;
        if rev {
            for e in s.log.rev_range(start, end).take(limit) {
                write_entry(out, &e);
                n += 1;
            }
        } else {
            for e in s.log.range(start, end).take(limit) {
                write_entry(out, &e);
                n += 1;
            }
        }
        (n, ())
    });
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, argv, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, argv, true)
}

/// XLEN key
fn xlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = get_stream(db, &argv[1], now, acc)?.map_or(0, |s| s.log.length);
    out.int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let Some(s) = get_stream(ctx.db(), &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict(a).ok_or(INVALID_ID))
        .collect::<Result<Vec<_>, _>>()?;
    let n = s.log.delete(&ids);
    ctx.dirty(n);
    if n > 0 {
        ctx.notify(ev::STREAM, "xdel", &argv[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// XREAD, XREADGROUP

/// A parsed XREAD or XREADGROUP. [`serve_read`] answers it now, and can answer it again when a
/// blocked reader is woken.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub keys: Vec<Bytes>,
    /// Per key, entries after this id are wanted. In a group read, `StreamId::MAX` is `>`
    /// (entries never delivered to the group), anything else reads the consumer's history.
    pub ids: Vec<StreamId>,
    /// Most entries per stream; 0 for no limit.
    pub count: usize,
    /// XREADGROUP's group and consumer.
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
    /// BLOCK: None when not given; Some(0) to wait forever, else the unix ms deadline.
    pub block: Option<i64>,
}

/// Parses XREAD/XREADGROUP and resolves each id (`$`, `>`) against the keyspace, with Redis
/// 7.0's errors in its order (options, then per key: type, group, id).
pub fn parse_read(ctx: &mut Ctx, argv: &[Bytes], group_cmd: bool) -> Result<ReadRequest, Error> {
    let mut req = ReadRequest {
        keys: Vec::new(),
        ids: Vec::new(),
        count: 0,
        group: None,
        noack: false,
        block: None,
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let o = &argv[i][..];
        if Ctx::is(o, "block") && more > 0 {
            i += 1;
            let t = parse_i64(&argv[i])
                .ok_or_else(|| Error::err("timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Error::err("timeout is negative"));
            }
            req.block = Some(if t > 0 {
                t.checked_add(ctx.now).ok_or_else(|| Error::err("timeout is out of range"))?
            } else {
                0
            });
        } else if Ctx::is(o, "count") && more > 0 {
            i += 1;
            let c = parse_i64(&argv[i]).ok_or(Error::NOT_INT)?;
            req.count = c.max(0) as usize;
        } else if Ctx::is(o, "streams") && more > 0 {
            streams_at = i + 1;
            if !(argv.len() - streams_at).is_multiple_of(2) {
                return Err(Error::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be \
                     specified.",
                ));
            }
            break;
        } else if Ctx::is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(Error::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            req.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if Ctx::is(o, "noack") {
            if !group_cmd {
                return Err(Error::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            req.noack = true;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(Error::SYNTAX);
    }
    if group_cmd && req.group.is_none() {
        return Err(Error::err("Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - streams_at) / 2;
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    for k in 0..n {
        let key = &argv[streams_at + k];
        let arg = &argv[streams_at + n + k][..];
        let s = as_stream(db.lookup_read(key, now, acc))?;
        if let Some((group, _)) = &req.group {
            if !s.as_ref().is_some_and(|s| s.groups.contains_key(&group[..])) {
                return Err(Error::msg(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP \
                     option",
                    text(key),
                    text(group)
                )));
            }
        }
        let id = if arg == b"$" {
            if group_cmd {
                return Err(Error::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the \
                     history of this consumer by specifying a proper ID, or use the > ID to get \
                     new messages. The $ ID would just return an empty result set.",
                ));
            }
            s.map_or(StreamId::MIN, |s| s.log.last_id)
        } else if arg == b">" {
            if !group_cmd {
                return Err(Error::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP \
                     <group> <consumer> option.",
                ));
            }
            StreamId::MAX
        } else {
            parse_strict(arg).ok_or(INVALID_ID)?
        };
        req.keys.push(key.clone());
        req.ids.push(id);
    }
    Ok(req)
}

/// Answers a read if any of its streams has something for it: writes the whole reply, records
/// group changes and their propagation, and returns true. Returns false, having written
/// nothing, when the reader would have to wait. Keys that are missing, of another type, or
/// (for a group read) lack the group are passed over.
pub fn serve_read(ctx: &mut Ctx, req: &ReadRequest) -> bool {
    let (now, acc) = (ctx.now, access(ctx));
    let count = req.count;
    let noack = req.noack;
    let dbi = ctx.client.db;
    let out = &mut ctx.out;
    let db = &mut ctx.core.dbs[dbi];
    let mut props: Vec<Vec<Bytes>> = Vec::new();
    let mut changed = false;
    let mut new_consumers: Vec<&Bytes> = Vec::new();
    let kind = if out.resp3 { Agg::Map } else { Agg::Array };
    let start_len = out.buf.len();
    // Woken by one stream: that stream alone answers, as in Redis 7.0.
    let ready = ctx.client.serving_blocked.as_ref();
    let served = deferred(out, kind, |out| {
        let mut served = 0;
        for (key, &gt) in req.keys.iter().zip(&req.ids) {
            if ready.is_some_and(|k| k != key) {
                continue;
            }
            let Ok(Some(s)) = as_stream(db.lookup_read(key, now, acc)) else { continue };
            match &req.group {
                None => {
                    let Some(last) = s.log.edge_id(false) else { continue };
                    let Some(start) = gt.incr().filter(|_| last > gt) else { continue };
                    served += 1;
                    if !out.resp3 {
                        out.array(2);
                    }
                    out.bulk(key);
                    deferred(out, Agg::Array, |out| {
                        let mut n = 0;
                        for e in s.log.range(start, StreamId::MAX) {
                            if count != 0 && n >= count {
                                break;
                            }
                            write_entry(out, &e);
                            n += 1;
                        }
                        (n, ())
                    });
                }
                Some((gname, cname)) => {
                    let Some(g) = s.groups.get(&gname[..]) else { continue };
                    let history = gt != StreamId::MAX;
                    if !history {
                        let Some(last) = s.log.edge_id(false) else { continue };
                        if last <= g.last_id {
                            continue;
                        }
                    }
                    served += 1;
                    if !out.resp3 {
                        out.array(2);
                    }
                    out.bulk(key);
                    let Some(g) = s.groups.get_mut(&gname[..]) else { continue };
                    let (consumer, created) = g.touch_consumer(cname, now);
                    changed |= created;
                    if created {
                        new_consumers.push(key);
                    }
                    if created && noack {
                        props.push(vec![
                            b("XGROUP"),
                            b("CREATECONSUMER"),
                            key.clone(),
                            gname.clone(),
                            cname.clone(),
                        ]);
                    }
                    if history {
                        let start = gt.incr().unwrap_or(StreamId::MAX);
                        deferred(out, Agg::Array, |out| {
                            let n = s.read_history(
                                &gname[..],
                                &cname[..],
                                start,
                                count,
                                now,
                                |id, e| match e {
                                    Some(e) => write_entry(out, e),
                                    None => {
                                        out.array(2);
                                        write_id(out, id);
                                        out.null_array();
                                    }
                                },
                            );
                            changed |= n > 0;
                            (n, ())
                        });
                    } else {
                        let ids = deferred(out, Agg::Array, |out| {
                            let ids = s.read_new(&gname[..], &consumer, count, noack, now, |e| {
                                write_entry(out, e)
                            });
                            (ids.len(), ids)
                        });
                        if ids.is_empty() {
                            continue;
                        }
                        changed = true;
                        let Some(g) = s.groups.get(&gname[..]) else { continue };
                        if noack {
                            props.push(setid_args(key, gname, g.last_id, g.entries_read));
                        } else {
                            for id in ids {
                                if let Some(n) = g.pel.get(&id) {
                                    props.push(xclaim_args(
                                        key,
                                        gname,
                                        &n.consumer,
                                        id,
                                        n.delivery_time,
                                        n.delivery_count,
                                        id,
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        (served, served)
    });
    if served == 0 {
        out.buf.truncate(start_len);
        return false;
    }
    for key in new_consumers {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    if req.group.is_some() {
        // XREADGROUP never propagates itself, only what it did.
        ctx.propagate_as.get_or_insert_with(Vec::new).extend(props);
        if changed {
            ctx.dirty(1);
        }
    }
    true
}

/// The XCLAIM that reproduces one delivery or claim on a replica.
fn xclaim_args(
    key: &Bytes,
    group: &Bytes,
    consumer: &Arc<[u8]>,
    id: StreamId,
    time: i64,
    count: u64,
    last_id: StreamId,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::copy_from_slice(consumer),
        b("0"),
        id_arg(id),
        b("TIME"),
        int_arg(time),
        b("RETRYCOUNT"),
        int_arg(count as i64),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_arg(last_id),
    ]
}

fn setid_args(key: &Bytes, group: &Bytes, last_id: StreamId, entries_read: i64) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        group.clone(),
        id_arg(last_id),
        b("ENTRIESREAD"),
        int_arg(entries_read),
    ]
}

fn xread_generic(ctx: &mut Ctx, argv: &[Bytes], group_cmd: bool) -> CmdResult {
    let req = parse_read(ctx, argv, group_cmd)?;
    if group_cmd {
        // Whatever happens, XREADGROUP itself is not propagated.
        ctx.propagate_as.get_or_insert_with(Vec::new);
    }
    if serve_read(ctx, &req) {
        return Ok(());
    }
    let Some(block) = req.block else {
        ctx.out.null_array();
        return Ok(());
    };
    // `$` means the last id now: when woken, the reader wants what came after it, so it is
    // run again with that id written out.
    let n = req.keys.len();
    let ids = &argv[argv.len() - n..];
    let rerun = ids.iter().any(|a| &a[..] == b"$").then(|| {
        let mut v = argv.to_vec();
        for (k, a) in ids.iter().enumerate() {
            if &a[..] == b"$" {
                v[argv.len() - n + k] = id_arg(req.ids[k]);
            }
        }
        v
    });
    let deadline = (block != 0).then_some(block);
    ctx.block_as(&req.keys, deadline, Wants::Stream, rerun);
    Ok(())
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xread_generic(ctx, argv, false)
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
fn xreadgroup(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xread_generic(ctx, argv, true)
}

// ------------------------------------------------------------------------------------------------
// XGROUP

/// The common start of the XGROUP subcommands (Redis's xgroupCommand): options of CREATE and
/// SETID, then the key, then the group. Returns the stream (None only for CREATE MKSTREAM of
/// a missing key), MKSTREAM, and ENTRIESREAD (-1 when not given).
fn xgroup_prelude<'d>(
    ctx: &'d mut Ctx,
    argv: &[Bytes],
) -> Result<(Option<&'d mut Stream>, bool, i64), Error> {
    let sub = &argv[1][..];
    let create = Ctx::is(sub, "create");
    let mut mkstream = false;
    let mut entries_read = -1;
    if create || Ctx::is(sub, "setid") {
        let mut i = 5;
        while i < argv.len() {
            if create && Ctx::is(&argv[i], "mkstream") {
                mkstream = true;
            } else if Ctx::is(&argv[i], "entriesread") && i + 1 < argv.len() {
                entries_read = parse_i64(&argv[i + 1]).ok_or(Error::NOT_INT)?;
                if entries_read < 0 && entries_read != -1 {
                    return Err(Error::err("value for ENTRIESREAD must be positive or -1"));
                }
                i += 1;
            } else {
                return Err(subcommand_syntax_error(argv));
            }
            i += 1;
        }
    }
    let (now, acc) = (ctx.now, access(ctx));
    let s = get_stream(ctx.db(), &argv[2], now, acc)?;
    if !mkstream {
        let Some(s) = &s else {
            return Err(Error::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may \
                 want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        let needs_group =
            ["setid", "createconsumer", "delconsumer"].iter().any(|c| Ctx::is(sub, c));
        if needs_group && !s.groups.contains_key(&argv[3][..]) {
            return Err(no_group_for_key(&argv[3], &argv[2]));
        }
    }
    Ok((s, mkstream, entries_read))
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]
fn xgroup_create(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, _, entries_read) = xgroup_prelude(ctx, argv)?;
    if argv.len() > 8 {
        return Err(subcommand_syntax_error(argv));
    }
    let last = s.as_ref().map_or(StreamId::MIN, |s| s.log.last_id);
    let id = if &argv[4][..] == b"$" { last } else { parse_strict(&argv[4]).ok_or(INVALID_ID)? };
    let exists = s.is_some();
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[2];
    let db = ctx.db();
    if !exists {
        db.add(key, stream_value(Stream::new()), None, 0, acc);
    }
    let Some(s) = get_stream(db, key, now, acc)? else { return Ok(()) };
    if !s.create_group(&argv[3], id, entries_read) {
        return Err(Error::msg("BUSYGROUP Consumer Group name already exists"));
    }
    ctx.dirty(1);
    // Only the stream MKSTREAM created is signalled, not the group.
    ctx.signal_nothing();
    if !exists {
        ctx.key_modified(key);
    }
    ctx.notify(ev::STREAM, "xgroup-create", key);
    ctx.out.ok();
    Ok(())
}

/// XGROUP SETID key group id|$ [ENTRIESREAD entries-read]
fn xgroup_setid(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, _, entries_read) = xgroup_prelude(ctx, argv)?;
    if argv.len() != 5 && argv.len() != 7 {
        return Err(subcommand_syntax_error(argv));
    }
    let Some(s) = s else { return Ok(()) };
    let id = if &argv[4][..] == b"$" {
        s.log.last_id
    } else {
        parse_loose(&argv[4], 0).ok_or(INVALID_ID)?
    };
    if let Some(g) = s.groups.get_mut(&argv[3][..]) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    group_changed(ctx, "xgroup-setid", &argv[2]);
    ctx.out.ok();
    Ok(())
}

/// XGROUP DESTROY key group
fn xgroup_destroy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, _, _) = xgroup_prelude(ctx, argv)?;
    let removed = s.is_some_and(|s| s.groups.remove(&argv[3][..]).is_some());
    if removed {
        group_changed(ctx, "xgroup-destroy", &argv[2]);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// XGROUP CREATECONSUMER key group consumer
fn xgroup_createconsumer(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (s, _, _) = xgroup_prelude(ctx, argv)?;
    let created = s
        .and_then(|s| s.groups.get_mut(&argv[3][..]))
        .is_some_and(|g| g.create_consumer(&argv[4], now));
    if created {
        group_changed(ctx, "xgroup-createconsumer", &argv[2]);
    }
    ctx.out.int(created as i64);
    Ok(())
}

/// XGROUP DELCONSUMER key group consumer
fn xgroup_delconsumer(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, _, _) = xgroup_prelude(ctx, argv)?;
    let pending =
        s.and_then(|s| s.groups.get_mut(&argv[3][..])).and_then(|g| g.delete_consumer(&argv[4]));
    if pending.is_some() {
        group_changed(ctx, "xgroup-delconsumer", &argv[2]);
    }
    ctx.out.int(pending.unwrap_or(0) as i64);
    Ok(())
}

/// A consumer group changed: one change, signalled to no one (as Redis 7.0), and its event.
fn group_changed(ctx: &mut Ctx, event: &str, key: &[u8]) {
    ctx.dirty(1);
    ctx.signal_nothing();
    ctx.notify(ev::STREAM, event, key);
}

/// XGROUP HELP
fn xgroup_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// XSETID

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_strict(&argv[2]).ok_or(INVALID_ID)?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if Ctx::is(&argv[i], "entriesadded") && more {
            entries_added = parse_i64(&argv[i + 1]).ok_or(Error::NOT_INT)?;
            if entries_added < 0 {
                return Err(Error::err("entries_added must be positive"));
            }
        } else if Ctx::is(&argv[i], "maxdeletedid") && more {
            max_deleted = parse_strict(&argv[i + 1]).ok_or(INVALID_ID)?;
            if id < max_deleted {
                return Err(Error::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(Error::SYNTAX);
        }
        i += 2;
    }
    let (now, acc) = (ctx.now, access(ctx));
    let Some(s) = get_stream(ctx.db(), &argv[1], now, acc)? else {
        return Err(Error::NO_SUCH_KEY);
    };
    if let Some(top) = s.log.edge_id(false) {
        if id < top {
            return Err(Error::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.log.length > entries_added as u64 {
            return Err(Error::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.log.last_id = id;
    if entries_added != -1 {
        s.log.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        s.log.max_deleted = max_deleted;
    }
    ctx.dirty(1);
    ctx.signal_nothing();
    ctx.notify(ev::STREAM, "xsetid", &argv[1]);
    ctx.out.ok();
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let g = as_stream(ctx.db().lookup_read(&argv[1], now, acc))?
        .and_then(|s| s.groups.get_mut(&argv[2][..]));
    let Some(g) = g else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict(a).ok_or(INVALID_ID))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ids.into_iter().filter(|&id| g.ack(id)).count();
    ctx.dirty(n as u64);
    ctx.signal_nothing();
    ctx.out.int(n as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let argc = argv.len();
    let summary = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0;
    if argc >= 6 {
        let mut at = 3;
        if Ctx::is(&argv[3], "idle") {
            min_idle = parse_i64(&argv[4]).ok_or(Error::NOT_INT)?;
            if argc < 8 {
                return Err(Error::SYNTAX);
            }
            at += 2;
        }
        let count = parse_i64(&argv[at + 2]).ok_or(Error::NOT_INT)?.max(0);
        let (mut start, sx) = parse_interval(&argv[at], 0).ok_or(INVALID_ID)?;
        if sx {
            start = start.incr().ok_or_else(|| Error::err("invalid start ID for the interval"))?;
        }
        let (mut end, ex) = parse_interval(&argv[at + 1], u64::MAX).ok_or(INVALID_ID)?;
        if ex {
            end = end.decr().ok_or_else(|| Error::err("invalid end ID for the interval"))?;
        }
        let consumer = argv.get(at + 3);
        range = Some((start, end, count as usize, consumer));
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let s = get_stream(db, &argv[1], now, acc)?;
    let Some(g) = s.and_then(|s| s.groups.get(&argv[2][..])) else {
        return Err(no_key_or_group(&argv[1], &argv[2]));
    };
    if summary {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((&first, _)), Some((&last, _))) => {
                write_id(out, first);
                write_id(out, last);
                let with: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
                out.array(with.len());
                for (name, c) in with {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let Some((start, end, count, consumer)) = range else { return Ok(()) };
    if start > end {
        out.array(0);
        return Ok(());
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            Some(c) => Box::new(c.pel.range(start..=end).copied()),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None => Box::new(g.pel.range(start..=end).map(|(id, _)| *id)),
    };
    deferred(out, Agg::Array, |out| {
        let mut n = 0;
        for id in ids {
            if n >= count {
                break;
            }
            let Some(nack) = g.pel.get(&id) else { continue };
            let idle = now - nack.delivery_time;
            if min_idle != 0 && idle < min_idle {
                continue;
            }
            out.array(4);
            write_id(out, id);
            out.bulk(&nack.consumer);
            out.int(idle.max(0));
            out.int(nack.delivery_count as i64);
            n += 1;
        }
        (n, ())
    });
    Ok(())
}

/// Replies with the entries (or ids) claimed; returns the propagation of what was done.
fn reply_claims(
    out: &mut Reply,
    s: &Stream,
    claims: &[Claim],
    justid: bool,
    key: &Bytes,
    group: &Bytes,
    consumer: &[u8],
) -> Vec<Vec<Bytes>> {
    let claimed = claims.iter().filter(|c| matches!(c, Claim::Claimed { .. })).count();
    out.array(claimed);
    let last_id = s.groups.get(&group[..]).map_or(StreamId::MIN, |g| g.last_id);
    let me: Arc<[u8]> = consumer.into();
    let mut props = Vec::new();
    for c in claims {
        match c {
            Claim::Claimed { id, time, count } => {
                if justid {
                    write_id(out, *id);
                } else {
                    match s.log.get(*id) {
                        Some(e) => write_entry(out, &e),
                        None => out.null(),
                    }
                }
                props.push(xclaim_args(key, group, &me, *id, *time, *count, last_id));
            }
            Claim::Deleted { id, consumer, time, count } => {
                props.push(xclaim_args(key, group, consumer, *id, *time, *count, last_id));
            }
        }
    }
    props
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
fn xclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (key, group, consumer) = (&argv[1], &argv[2], &argv[3]);
    let (db, out) = ctx.db_out();
    let s = as_stream(db.lookup_read(key, now, acc))?;
    let Some(s) = s.filter(|s| s.groups.contains_key(&group[..])) else {
        return Err(no_key_or_group(key, group));
    };
    let min_idle = parse_i64(&argv[4])
        .ok_or_else(|| Error::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match parse_strict(&argv[j]) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let mut time: Option<i64> = None;
    let mut retry: i64 = -1;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = &argv[j][..];
        if Ctx::is(opt, "force") {
            force = true;
        } else if Ctx::is(opt, "justid") {
            justid = true;
        } else if Ctx::is(opt, "idle") && more {
            j += 1;
            let idle = parse_i64(&argv[j])
                .ok_or_else(|| Error::err("Invalid IDLE option argument for XCLAIM"))?;
            time = Some(now.wrapping_sub(idle));
        } else if Ctx::is(opt, "time") && more {
            j += 1;
            time = Some(
                parse_i64(&argv[j])
                    .ok_or_else(|| Error::err("Invalid TIME option argument for XCLAIM"))?,
            );
        } else if Ctx::is(opt, "retrycount") && more {
            j += 1;
            retry = parse_i64(&argv[j])
                .ok_or_else(|| Error::err("Invalid RETRYCOUNT option argument for XCLAIM"))?;
        } else if Ctx::is(opt, "lastid") && more {
            j += 1;
            last_id = parse_strict(&argv[j]).ok_or(INVALID_ID)?;
        } else {
            return Err(Error::err(format!("Unrecognized XCLAIM option '{}'", text(opt))));
        }
        j += 1;
    }
    let mut moved_last_id = false;
    if let Some(g) = s.groups.get_mut(&group[..]) {
        if last_id > g.last_id {
            g.last_id = last_id;
            moved_last_id = true;
        }
    }
    let time = match time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let opts = ClaimOpts { min_idle, time, retry_count: u64::try_from(retry).ok(), force, justid };
    // One id at a time, so that each claim propagates with the id as it was given.
    let mut claims = Vec::new();
    let mut raw = Vec::new();
    let had_consumer = has_consumer(s, group, consumer);
    for (k, &id) in ids.iter().enumerate() {
        for c in s.claim(group, consumer, &[id], opts, now) {
            claims.push(c);
            raw.push(argv[5 + k].clone());
        }
    }
    let mut props = reply_claims(out, s, &claims, justid, key, group, consumer);
    for (p, r) in props.iter_mut().zip(raw) {
        p[5] = r;
    }
    if props.is_empty() && moved_last_id {
        if let Some(g) = s.groups.get(&group[..]) {
            props.push(setid_args(key, group, g.last_id, g.entries_read));
        }
    }
    let created = !had_consumer && has_consumer(s, group, consumer);
    if !props.is_empty() {
        ctx.dirty(props.len() as u64);
    }
    ctx.signal_nothing();
    if created {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as.get_or_insert_with(Vec::new).extend(props);
    Ok(())
}

/// Whether `group` of `s` has a consumer named `consumer`.
fn has_consumer(s: &Stream, group: &[u8], consumer: &[u8]) -> bool {
    s.groups.get(group).is_some_and(|g| g.consumers.contains_key(consumer))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, group, consumer) = (&argv[1], &argv[2], &argv[3]);
    // Redis looks the key up before it reads the arguments (its type is checked after them):
    // a key whose time has passed goes (and its DEL propagates) even when they are bad.
    let (now, acc) = (ctx.now, access(ctx));
    ctx.db().lookup_read(key, now, acc);
    let min_idle = parse_i64(&argv[4])
        .ok_or_else(|| Error::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let (mut start, sx) = parse_interval(&argv[5], 0).ok_or(INVALID_ID)?;
    if sx {
        start = start.incr().ok_or_else(|| Error::err("invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        if Ctx::is(&argv[j], "count") && j + 1 < argv.len() {
            let max = i64::MAX / 16;
            count = parse_i64(&argv[j + 1])
                .filter(|c| (1..=max).contains(c))
                .ok_or_else(|| Error::err("COUNT must be > 0"))?;
            j += 1;
        } else if Ctx::is(&argv[j], "justid") {
            justid = true;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let (db, out) = ctx.db_out();
    let s = get_stream(db, key, now, acc)?;
    let Some(s) = s.filter(|s| s.groups.contains_key(&group[..])) else {
        return Err(no_key_or_group(key, group));
    };
    // Redis allocates COUNT ids up front; past the address space that fails with this error.
    if count as u128 * 16 >= 1 << 47 {
        return Err(Error::err(
            "Insufficient memory, failed allocating transient memory, COUNT too high.",
        ));
    }
    let o = AutoClaimOpts { min_idle, start, count: count as u64, justid };
    let had_consumer = has_consumer(s, group, consumer);
    let (claims, next) = s.autoclaim(group, consumer, o, now);
    let created = !had_consumer && has_consumer(s, group, consumer);
    out.array(3);
    write_id(out, next);
    let props = reply_claims(out, s, &claims, justid, key, group, consumer);
    let deleted: Vec<StreamId> = claims
        .iter()
        .filter_map(|c| match c {
            Claim::Deleted { id, .. } => Some(*id),
            Claim::Claimed { .. } => None,
        })
        .collect();
    out.array(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    if !props.is_empty() {
        ctx.dirty(props.len() as u64);
    }
    ctx.signal_nothing();
    if created {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as.get_or_insert_with(Vec::new).extend(props);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// XINFO

/// XINFO STREAM key [FULL [COUNT count]]
fn xinfo_stream(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(s) = get_stream(db, &argv[2], now, acc)? else { return Err(Error::NO_SUCH_KEY) };
    let opts = &argv[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if !Ctx::is(&opts[0], "full") {
            return Err(subcommand_syntax_error(argv));
        }
        full = true;
        if opts.len() == 3 && Ctx::is(&opts[1], "count") {
            count = parse_i64(&opts[2]).ok_or(Error::NOT_INT)?;
            if count < 0 {
                count = 10;
            }
        } else if opts.len() != 1 {
            return Err(subcommand_syntax_error(argv));
        }
    }
    let log = &s.log;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(log.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(log.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(log.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, log.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, log.max_deleted);
    out.bulk(b"entries-added");
    out.int(log.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, log.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match log.iter().next() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match log.rev_range(StreamId::MIN, StreamId::MAX).next() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        return Ok(());
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    out.bulk(b"entries");
    deferred(out, Agg::Array, |out| {
        let mut n = 0;
        for e in log.iter().take(limit) {
            write_entry(out, &e);
            n += 1;
        }
        (n, ())
    });
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        if g.entries_read != -1 {
            out.int(g.entries_read);
        } else {
            out.null();
        }
        out.bulk(b"lag");
        match log.lag(g) {
            Some(l) => out.int(l),
            None => out.null(),
        }
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let shown = g.pel.len().min(limit);
        out.array(shown);
        for (id, nack) in g.pel.iter().take(shown) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let shown = c.pel.len().min(limit);
            out.array(shown);
            for id in c.pel.iter().take(shown) {
                let (time, count) =
                    g.pel.get(id).map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                out.array(3);
                write_id(out, *id);
                out.int(time);
                out.int(count as i64);
            }
        }
    }
    Ok(())
}

/// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(s) = get_stream(db, &argv[2], now, acc)? else { return Err(Error::NO_SUCH_KEY) };
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        if g.entries_read != -1 {
            out.int(g.entries_read);
        } else {
            out.null();
        }
        out.bulk(b"lag");
        match s.log.lag(g) {
            Some(l) => out.int(l),
            None => out.null(),
        }
    }
    Ok(())
}

/// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(s) = get_stream(db, &argv[2], now, acc)? else { return Err(Error::NO_SUCH_KEY) };
    let Some(g) = s.groups.get(&argv[3][..]) else {
        return Err(no_group_for_key(&argv[3], &argv[2]));
    };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
    Ok(())
}

/// XINFO HELP
fn xinfo_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
