//! List commands (the non-blocking ones).
//!
//! A list that becomes empty is deleted by the command that emptied it. Writes are propagated
//! as called, except LMPOP, which Redis 7.0 propagates as `LPOP|RPOP key <popped count>`.

use bytes::Bytes;

use super::string::access;
use super::{Ctx, Handler};
use crate::blocking::{parse_timeout, Wants};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Entry, Value};
use crate::types::list::{End, List};
use crate::types::Object;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("blmove", blmove),
    ("blmpop", blmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("brpoplpush", brpoplpush),
    ("lindex", lindex),
    ("linsert", linsert),
    ("llen", llen),
    ("lmove", lmove),
    ("lmpop", lmpop),
    ("lpop", lpop),
    ("lpos", lpos),
    ("lpush", lpush),
    ("lpushx", lpushx),
    ("lrange", lrange),
    ("lrem", lrem),
    ("lset", lset),
    ("ltrim", ltrim),
    ("rpop", rpop),
    ("rpoplpush", rpoplpush),
    ("rpush", rpush),
    ("rpushx", rpushx),
];

const INDEX_OUT_OF_RANGE: Error = Error(std::borrow::Cow::Borrowed("ERR index out of range"));

/// The list in `e`, or WRONGTYPE.
fn as_list(e: &mut Entry) -> Result<&mut List, Error> {
    match e.obj_mut() {
        Some(Object::List(l)) => Ok(l),
        _ => Err(Error::WRONG_TYPE),
    }
}

/// Looks `key` up as a list: None if missing, WRONGTYPE if not a list.
fn lookup_list<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
    acc: Access,
) -> Result<Option<&'d mut List>, Error> {
    match db.lookup(key, now, acc) {
        None => Ok(None),
        Some(e) => as_list(e).map(Some),
    }
}

/// The keyspace event of a push at `end`.
fn push_event(end: End) -> &'static str {
    if end == End::Head {
        "lpush"
    } else {
        "rpush"
    }
}

/// The keyspace event of a pop at `end`.
fn pop_event(end: End) -> &'static str {
    if end == End::Head {
        "lpop"
    } else {
        "rpop"
    }
}

/// Notifies the pop from `key` at `end`, and its deletion if that emptied it.
fn notify_pop(ctx: &mut Ctx, key: &[u8], end: End, emptied: bool) {
    ctx.notify(ev::LIST, pop_event(end), key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
}

fn new_list_value(l: List) -> Value<'static> {
    Value::Obj(Box::new(Object::List(l)))
}

fn parse_long(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NOT_INT)
}

/// Redis's getPositiveLongFromObjectOrReply (one message for any bad value).
fn parse_positive(arg: &[u8]) -> Result<i64, Error> {
    parse_range(arg, 0, "ERR value is out of range, must be positive")
}

/// Redis's getRangeLongFromObjectOrReply with a message: the message for any bad value.
fn parse_range(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, Error> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(Error::msg(msg)),
    }
}

/// LEFT or RIGHT.
fn parse_end(arg: &[u8]) -> Result<End, Error> {
    if Ctx::is(arg, "left") {
        Ok(End::Head)
    } else if Ctx::is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(Error::SYNTAX)
    }
}

fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let (now, acc, fill) = (ctx.now, access(ctx), ctx.core.cfg.list_max_listpack_size);
    let key = &argv[1];
    let db = ctx.db();
    let len = match lookup_list(db, key, now, acc)? {
        Some(l) => {
            for e in &argv[2..] {
                l.push(end, e, fill);
            }
            l.len()
        }
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {
            let mut l = List::new();
            for e in &argv[2..] {
                l.push(end, e, fill);
            }
            let len = l.len();
            db.add(key, new_list_value(l), None, 0, acc);
            len
        }
    };
    ctx.dirty(argv.len() as u64 - 2);
    ctx.notify(ev::LIST, push_event(end), key);
    ctx.out.int(len as i64);
    Ok(())
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Head, false)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Tail, false)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Head, true)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Tail, true)
}

/// Pops up to `count` elements from the list at `key` (which must exist and be a list) into an
/// array reply, deleting the key if emptied. Returns the number popped.
fn pop_into_reply(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> usize {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let e = db.peek(key, now).expect("looked up by the caller");
    let l = as_list(e).expect("checked by the caller");
    let n = count.min(l.len());
    out.array(n);
    for _ in 0..n {
        let v = l.pop(end).expect("counted");
        out.bulk(&v);
    }
    let emptied = l.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty(1);
    notify_pop(ctx, key, end, emptied);
    n
}

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(Error::arity(ctx.cmd.fullname));
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_positive(a)?),
        None => None,
    };
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let (db, out) = ctx.db_out();
    let Some(l) = lookup_list(db, key, now, acc)? else {
        if count.is_some() {
            out.null_array();
        } else {
            out.null();
        }
        return Ok(());
    };
    match count {
        Some(0) => out.array(0),
        Some(n) => {
            pop_into_reply(ctx, key, end, n as usize);
        }
        None => {
            let v = l.pop(end).expect("lists are never empty");
            out.bulk(&v);
            let emptied = l.is_empty();
            if emptied {
                db.remove(key);
            }
            ctx.dirty(1);
            notify_pop(ctx, key, end, emptied);
        }
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Head)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Tail)
}

/// LLEN key
fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let n = lookup_list(ctx.db(), &argv[1], now, acc)?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_long(&argv[2])?;
    let end = parse_long(&argv[3])?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(l) = lookup_list(db, &argv[1], now, acc)? else {
        out.array(0);
        return Ok(());
    };
    let len = l.len() as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        out.array(0);
        return Ok(());
    }
    let end = end.min(len - 1);
    let n = (end - start + 1) as usize;
    out.array(n);
    for e in l.range(start as usize, n) {
        out.bulk(e);
    }
    Ok(())
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    // The key first, then the index, as Redis: a missing key is nil whatever the index.
    match lookup_list(db, &argv[1], now, acc)? {
        Some(l) => match l.index(parse_long(&argv[2])?).and_then(|i| l.get(i)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        },
        None => out.null(),
    }
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, fill) = (ctx.now, access(ctx), ctx.core.cfg.list_max_listpack_size);
    let l = lookup_list(ctx.db(), &argv[1], now, acc)?.ok_or(Error::NO_SUCH_KEY)?;
    let idx = parse_long(&argv[2])?;
    let i = l.index(idx).ok_or(INDEX_OUT_OF_RANGE)?;
    l.set(i, &argv[3], fill);
    ctx.dirty(1);
    ctx.notify(ev::LIST, "lset", &argv[1]);
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE | AFTER pivot element
fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if Ctx::is(&argv[2], "after") {
        true
    } else if Ctx::is(&argv[2], "before") {
        false
    } else {
        return Err(Error::SYNTAX);
    };
    let (now, acc, fill) = (ctx.now, access(ctx), ctx.core.cfg.list_max_listpack_size);
    let Some(l) = lookup_list(ctx.db(), &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pos) = l.position(&argv[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(pos + after as usize, &argv[4], fill);
    let len = l.len();
    ctx.dirty(1);
    ctx.notify(ev::LIST, "linsert", &argv[1]);
    ctx.out.int(len as i64);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = parse_long(&argv[2])?;
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let Some(l) = lookup_list(db, key, now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let from = if count < 0 { End::Tail } else { End::Head };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = l.remove(&argv[3], limit, from);
    let emptied = l.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty(removed as u64);
    if removed > 0 {
        ctx.notify(ev::LIST, "lrem", key);
        if emptied {
            ctx.notify(ev::GENERIC, "del", key);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_long(&argv[2])?;
    let end = parse_long(&argv[3])?;
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let Some(l) = lookup_list(db, key, now, acc)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len() as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    let (left, right) =
        if start > end || start >= len { (len, 0) } else { (start, len - end.min(len - 1) - 1) };
    l.drain(End::Head, left as usize);
    l.drain(End::Tail, right as usize);
    let emptied = l.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty((left + right) as u64);
    // Signalled even when nothing was trimmed, as Redis does.
    ctx.key_modified(key);
    ctx.notify(ev::LIST, "ltrim", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    ctx.out.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j][..];
        let Some(val) = argv.get(j + 1) else { return Err(Error::SYNTAX) };
        if Ctx::is(opt, "rank") {
            rank = parse_long(val)?;
            if rank == 0 {
                return Err(Error::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if Ctx::is(opt, "count") {
            count = Some(parse_range(val, 0, "ERR COUNT can't be negative")?);
        } else if Ctx::is(opt, "maxlen") {
            maxlen = parse_range(val, 0, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 2;
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(l) = lookup_list(db, &argv[1], now, acc)? else {
        if count.is_some() {
            out.array(0);
        } else {
            out.null();
        }
        return Ok(());
    };
    let len = l.len();
    let ele = &argv[2][..];
    let from_tail = rank < 0;
    // Redis negates a negative rank; LONG_MIN stays negative there, so it matches at once.
    let skip = if rank == i64::MIN { 0 } else { rank.unsigned_abs() - 1 };
    let limit = if maxlen == 0 { usize::MAX } else { maxlen as usize };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n as usize,
        None => 1,
    };
    let iter: Box<dyn Iterator<Item = &[u8]>> =
        if from_tail { Box::new(l.iter().rev()) } else { Box::new(l.iter()) };
    let mut found = Vec::new();
    let mut matches = 0u64;
    for (i, e) in iter.take(limit).enumerate() {
        if e == ele {
            matches += 1;
            if matches > skip {
                found.push(if from_tail { len - i - 1 } else { i });
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    if count.is_some() {
        out.array(found.len());
        for i in found {
            out.int(i as i64);
        }
    } else {
        match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        }
    }
    Ok(())
}

fn lmove_generic(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End) -> CmdResult {
    let (now, acc, fill) = (ctx.now, access(ctx), ctx.core.cfg.list_max_listpack_size);
    let db = ctx.db();
    if lookup_list(db, src, now, acc)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let db = ctx.db();
    if src == dst {
        let l = lookup_list(db, src, now, acc)?.expect("looked up above");
        let v = l.pop(from).expect("lists are never empty");
        l.push(to, &v, fill);
        ctx.dirty(1);
        ctx.notify(ev::LIST, push_event(to), dst);
        ctx.notify(ev::LIST, pop_event(from), src);
        ctx.out.bulk(&v);
        return Ok(());
    }
    let dst_exists = lookup_list(db, dst, now, acc)?.is_some();
    let l = as_list(db.peek(src, now).expect("looked up above")).expect("a list");
    let v = l.pop(from).expect("lists are never empty");
    let emptied = l.is_empty();
    if emptied {
        db.remove(src);
    }
    if dst_exists {
        let l = as_list(db.peek(dst, now).expect("looked up above")).expect("a list");
        l.push(to, &v, fill);
    } else {
        let mut l = List::new();
        l.push(to, &v, fill);
        db.add(dst, new_list_value(l), None, 0, acc);
    }
    ctx.dirty(1);
    // As Redis: the push, then the pop (WATCH and client-side caches too).
    ctx.key_modified(dst);
    ctx.key_modified(src);
    ctx.notify(ev::LIST, push_event(to), dst);
    notify_pop(ctx, src, from, emptied);
    ctx.out.bulk(&v);
    Ok(())
}

/// LMOVE source destination LEFT | RIGHT LEFT | RIGHT
fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    lmove_generic(ctx, &argv[1], &argv[2], from, to)
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, &argv[1], &argv[2], End::Tail, End::Head)
}

/// The arguments of LMPOP and BLMPOP from `numkeys` on: the keys, the end, the count.
fn parse_mpop(argv: &[Bytes]) -> Result<(&[Bytes], End, usize), Error> {
    let numkeys = parse_range(&argv[0], 1, "ERR numkeys should be greater than 0")?;
    let where_idx = usize::try_from(numkeys).ok().and_then(|n| n.checked_add(1));
    let Some(where_idx) = where_idx.filter(|&w| w < argv.len()) else {
        return Err(Error::SYNTAX);
    };
    let end = parse_end(&argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && Ctx::is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(parse_range(&argv[j + 1], 1, "ERR count should be greater than 0")?);
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok((&argv[1..where_idx], end, count.unwrap_or(1) as usize))
}

/// Pops up to `count` elements from the first non-empty list of `keys` and answers
/// `[key, [elements]]`, propagated as `LPOP|RPOP key <popped count>` as Redis 7.0 does. Returns
/// false, having answered nothing, if every list is empty.
fn mpop(ctx: &mut Ctx, keys: &[Bytes], end: End, count: usize) -> Result<bool, Error> {
    let (now, acc) = (ctx.now, access(ctx));
    for key in keys {
        if lookup_list(ctx.db(), key, now, acc)?.is_none() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        let n = pop_into_reply(ctx, key, end, count);
        ctx.key_modified(key);
        let n = Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes());
        ctx.propagate(vec![pop_name(end), key.clone(), n]);
        return Ok(true);
    }
    Ok(false)
}

fn pop_name(end: End) -> Bytes {
    Bytes::from_static(if end == End::Head { b"LPOP" } else { b"RPOP" })
}

/// LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(&argv[1..])?;
    if !mpop(ctx, keys, end, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(&argv[2..])?;
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    if !mpop(ctx, ctx.keys_to_serve(keys), end, count)? {
        ctx.block(keys, deadline, Wants::List);
    }
    Ok(())
}

/// BLPOP / BRPOP: one element from the first non-empty list, else block.
fn bpop(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    let (now, acc) = (ctx.now, access(ctx));
    for key in ctx.keys_to_serve(keys) {
        let db = ctx.db();
        let Some(l) = lookup_list(db, key, now, acc)? else { continue };
        let v = l.pop(end).expect("lists are never empty");
        let emptied = l.is_empty();
        if emptied {
            db.remove(key);
        }
        ctx.dirty(1);
        // The list popped from only, not every key named.
        ctx.key_modified(key);
        notify_pop(ctx, key, end, emptied);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&v);
        ctx.propagate(vec![pop_name(end), key.clone()]);
        return Ok(());
    }
    ctx.block(keys, deadline, Wants::List);
    Ok(())
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Head)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Tail)
}

/// BLMOVE / BRPOPLPUSH: LMOVE if the source has elements, else block on it. Propagated as
/// `lmove` (RPOPLPUSH for BRPOPLPUSH), with the ends spelled as Redis 7.0 spells them: as typed
/// when served at once, in lower case when served after blocking.
fn bmove(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, ends: (End, End), timeout: &[u8]) -> CmdResult {
    let deadline = parse_timeout(timeout, ctx.now)?;
    let (now, acc) = (ctx.now, access(ctx));
    if lookup_list(ctx.db(), src, now, acc)?.is_none() {
        ctx.block(std::slice::from_ref(src), deadline, Wants::List);
        return Ok(());
    }
    lmove_generic(ctx, src, dst, ends.0, ends.1)
}

/// BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout
fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ends = (parse_end(&argv[3])?, parse_end(&argv[4])?);
    bmove(ctx, &argv[1], &argv[2], ends, &argv[5])?;
    let word = |e: End| Bytes::from_static(if e == End::Head { b"left" } else { b"right" });
    let (from, to) = if ctx.client.serving_blocked.is_some() {
        (word(ends.0), word(ends.1))
    } else {
        (argv[3].clone(), argv[4].clone())
    };
    ctx.propagate(vec![Bytes::from_static(b"LMOVE"), argv[1].clone(), argv[2].clone(), from, to]);
    Ok(())
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, &argv[1], &argv[2], (End::Tail, End::Head), &argv[3])?;
    ctx.propagate(vec![Bytes::from_static(b"RPOPLPUSH"), argv[1].clone(), argv[2].clone()]);
    Ok(())
}
