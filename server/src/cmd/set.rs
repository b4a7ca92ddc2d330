//! Set commands (Redis 7.0's set group).
//!
//! Writes are propagated as Redis 7.0 does: SPOP as `SREM key member` (with a count, as SREM
//! commands of at most 1024 members, or as DEL/UNLINK when it empties the set); everything else
//! verbatim. A set that becomes empty is deleted.

use bytes::Bytes;
use rand::seq::index::sample;
use rand::{thread_rng, Rng};

use super::keys::del_for;
use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Entry, Ttl, Value};
use crate::resp::Reply;
use crate::types::set::{Member, Set};
use crate::types::Object;
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("scard", scard),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sismember", sismember),
    ("smembers", smembers),
    ("smismember", smismember),
    ("smove", smove),
    ("spop", spop),
    ("srandmember", srandmember),
    ("srem", srem),
    ("sscan", sscan),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
];

/// Members per SREM that SPOP with a count is propagated as.
const SPOP_PROPAGATE_BATCH: usize = 1024;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn as_set(e: &Entry) -> Result<&Set, Error> {
    match e.obj() {
        Some(Object::Set(s)) => Ok(s),
        _ => Err(Error::WRONG_TYPE),
    }
}

fn as_set_mut(e: &mut Entry) -> Result<&mut Set, Error> {
    match e.obj_mut() {
        Some(Object::Set(s)) => Ok(s),
        _ => Err(Error::WRONG_TYPE),
    }
}

fn max_intset(ctx: &Ctx) -> usize {
    ctx.core.cfg.set_max_intset_entries
}

fn reply_member(out: &mut Reply, m: Member) {
    match m {
        Member::Int(n) => out.bulk_int(n),
        Member::Str(s) => out.bulk(s),
    }
}

/// Replies with every member of `s` as a RESP3 set (an array on RESP2).
fn reply_set(out: &mut Reply, s: &Set) {
    out.set(s.len());
    for m in s.iter() {
        reply_member(out, m);
    }
}

fn set_value(s: Set) -> Value<'static> {
    Value::Obj(Box::new(Object::Set(s)))
}

/// Looks up the set at `key` (an access): None when missing, WRONGTYPE for another type.
fn lookup_set<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
    acc: Access,
) -> Result<Option<&'d mut Set>, Error> {
    match db.lookup(key, now, acc) {
        None => Ok(None),
        Some(e) => as_set_mut(e).map(Some),
    }
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, max) = (ctx.now, access(ctx), max_intset(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let added = match lookup_set(db, key, now, acc)? {
        Some(s) => argv[2..].iter().filter(|m| s.add(m, max)).count(),
        None => {
            let mut s = Set::new();
            let n = argv[2..].iter().filter(|m| s.add(m, max)).count();
            db.add(key, set_value(s), None, 0, acc);
            n
        }
    };
    ctx.dirty(added as u64);
    if added > 0 {
        ctx.notify(ev::SET, "sadd", key);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let (removed, emptied) = match lookup_set(db, key, now, acc)? {
        None => (0, false),
        Some(s) => {
            let mut n = 0;
            for m in &argv[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if emptied {
        db.remove(key);
    }
    ctx.dirty(removed);
    if removed > 0 {
        ctx.notify(ev::SET, "srem", key);
        if emptied {
            ctx.notify(ev::GENERIC, "del", key);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let found = lookup_set(db, &argv[1], now, acc)?.is_some_and(|s| s.contains(&argv[2]));
    out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let s = lookup_set(db, &argv[1], now, acc)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        out.int(s.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = lookup_set(db, &argv[1], now, acc)?.map_or(0, |s| s.len());
    out.int(n as i64);
    Ok(())
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    match lookup_set(db, &argv[1], now, acc)? {
        None => out.set(0),
        Some(s) => reply_set(out, s),
    }
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, max) = (ctx.now, access(ctx), max_intset(ctx));
    let (src, dst, m) = (&argv[1], &argv[2], &argv[3]);
    let db = ctx.db();
    let src_is = db.lookup(src, now, acc).map(|e| as_set(e).is_ok());
    let dst_is = db.lookup(dst, now, acc).map(|e| as_set(e).is_ok());
    match src_is {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(false) => return Err(Error::WRONG_TYPE),
        Some(true) => {}
    }
    if dst_is == Some(false) {
        return Err(Error::WRONG_TYPE);
    }
    if src == dst {
        let s = as_set(db.table.get(src).expect("looked up"))?;
        let found = s.contains(m);
        ctx.out.int(found as i64);
        return Ok(());
    }
    let s = as_set_mut(db.table.get_mut(src).expect("looked up"))?;
    if !s.remove(m) {
        ctx.out.int(0);
        return Ok(());
    }
    let emptied = s.is_empty();
    if emptied {
        db.remove(src);
    }
    // Redis's order: the source's events before the destination is created.
    ctx.notify(ev::SET, "srem", src);
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
    let db = ctx.db();
    let mut dirty = 1;
    match db.table.get_mut(dst) {
        Some(e) => {
            if as_set_mut(e)?.add(m, max) {
                dirty += 1;
            }
        }
        None => {
            let mut s = Set::new();
            s.add(m, max);
            db.add(dst, set_value(s), None, 0, acc);
            dirty += 1;
        }
    }
    ctx.dirty(dirty);
    // The destination is signalled only if the member was new there, as in Redis.
    ctx.key_modified(src);
    if dirty > 1 {
        ctx.key_modified(dst);
        ctx.notify(ev::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(Error::SYNTAX);
    }
    if argv.len() == 3 {
        return spop_count(ctx, argv);
    }
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let Some(s) = lookup_set(db, key, now, acc)? else {
        ctx.out.null();
        return Ok(());
    };
    let m = s.pop(&mut thread_rng()).expect("sets are never empty");
    let emptied = s.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty(1);
    ctx.notify(ev::SET, "spop", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    ctx.out.bulk(&m);
    ctx.propagate(vec![b("SREM"), key.clone(), Bytes::from(m)]);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
    let count = parse_i64(&argv[2])
        .filter(|&n| n >= 0)
        .ok_or_else(|| Error::err("value is out of range, must be positive"))?;
    let count = count as usize;
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let lazy = ctx.core.cfg.lazyfree_lazy_server_del;
    let (db, out) = ctx.db_out();
    let Some(s) = lookup_set(db, key, now, acc)? else {
        out.set(0);
        return Ok(());
    };
    if count == 0 {
        out.set(0);
        return Ok(());
    }
    if count >= s.len() {
        reply_set(out, s);
        db.remove(key);
        ctx.dirty(1);
        ctx.notify(ev::SET, "spop", key);
        ctx.notify(ev::GENERIC, "del", key);
        ctx.propagate(vec![del_for(lazy), key.clone()]);
        return Ok(());
    }
    let mut rng = thread_rng();
    let picked: Vec<Vec<u8>> =
        sample(&mut rng, s.len(), count).into_iter().map(|i| s.get(i).to_vec()).collect();
    out.set(picked.len());
    for m in &picked {
        out.bulk(m);
        s.remove(m);
    }
    ctx.dirty(picked.len() as u64);
    ctx.notify(ev::SET, "spop", key);
    for chunk in picked.chunks(SPOP_PROPAGATE_BATCH) {
        let mut cmd = Vec::with_capacity(chunk.len() + 2);
        cmd.push(b("SREM"));
        cmd.push(key.clone());
        cmd.extend(chunk.iter().map(|m| Bytes::copy_from_slice(m)));
        ctx.propagate(cmd);
    }
    Ok(())
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(Error::SYNTAX);
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => {
            let n = parse_i64(a).ok_or(Error::NOT_INT)?;
            if n == i64::MIN {
                return Err(Error::err(
                    "value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807",
                ));
            }
            Some(n)
        }
    };
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let s = lookup_set(db, &argv[1], now, acc)?;
    let mut rng = thread_rng();
    let Some(count) = count else {
        match s.and_then(|s| s.random(&mut rng)) {
            None => out.null(),
            Some(m) => reply_member(out, m),
        }
        return Ok(());
    };
    let Some(s) = s else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
    } else if count < 0 {
        // With repeats: each pick is independent.
        let n = count.unsigned_abs() as usize;
        out.array(n);
        for _ in 0..n {
            reply_member(out, s.get(rng.gen_range(0..s.len())));
        }
    } else if count as usize >= s.len() {
        out.array(s.len());
        for m in s.iter() {
            reply_member(out, m);
        }
    } else {
        let idx = sample(&mut rng, s.len(), count as usize);
        out.array(idx.len());
        for i in idx {
            reply_member(out, s.get(i));
        }
    }
    Ok(())
}

/// Reads every key as a set (an access each; missing keys are None). Fails with WRONGTYPE at
/// the first key that holds another type, as Redis does.
fn sets_of<'d>(
    db: &'d mut Db,
    keys: &[Bytes],
    now: i64,
    acc: Access,
) -> Result<Vec<Option<&'d Set>>, Error> {
    for k in keys {
        if let Some(e) = db.lookup_read(k, now, acc) {
            as_set(e)?;
        }
    }
    // Every key left is live: borrow them all at once.
    let db: &'d Db = db;
    keys.iter().map(|k| db.table.get(k).map(as_set).transpose()).collect()
}

/// Members of the intersection, in the iteration order of the smallest set, at most `limit`.
fn intersect<'s>(sets: &[Option<&'s Set>], limit: usize) -> Vec<Member<'s>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let mut out = Vec::new();
    let (first, rest) = sets.split_first().expect("at least one key");
    for m in first.iter() {
        if out.len() >= limit {
            break;
        }
        if rest.iter().all(|s| std::ptr::eq(*s, *first) || s.contains_member(m)) {
            out.push(m);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// The union or difference as a new set (encoded as SADD would encode it).
fn union_diff(sets: &[Option<&Set>], op: Op, max: usize) -> Set {
    let mut dst = Set::new();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    dst.add_member(m, max);
                }
            }
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else { return dst };
            let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
            if others.iter().any(|o| std::ptr::eq(*o, *first)) {
                return dst;
            }
            for m in first.iter() {
                if !others.iter().any(|o| o.contains_member(m)) {
                    dst.add_member(m, max);
                }
            }
        }
    }
    dst
}

/// Stores `s` at `dst` (replacing any value and its expiry), or deletes `dst` when `s` is
/// empty; replies with the cardinality. `event` is the command's keyspace event.
fn store(ctx: &mut Ctx, dst: &[u8], s: Set, event: &str) {
    let (now, acc) = (ctx.now, access(ctx));
    let n = s.len();
    let db = ctx.db();
    if n == 0 {
        if db.delete_stored(dst) {
            ctx.dirty(1);
            ctx.notify(ev::GENERIC, "del", dst);
        }
    } else {
        db.write(dst, set_value(s), Ttl::Set(None), 0, now, acc);
        ctx.dirty(1);
        ctx.notify(ev::SET, event, dst);
    }
    ctx.out.int(n as i64);
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let sets = sets_of(db, &argv[1..], now, acc)?;
    let r = intersect(&sets, usize::MAX);
    out.set(r.len());
    for m in r {
        reply_member(out, m);
    }
    Ok(())
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, max) = (ctx.now, access(ctx), max_intset(ctx));
    let db = ctx.db();
    let sets = sets_of(db, &argv[2..], now, acc)?;
    let mut dst = Set::new();
    for m in intersect(&sets, usize::MAX) {
        dst.add_member(m, max);
    }
    store(ctx, &argv[1], dst, "sinterstore");
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = parse_i64(&argv[1])
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::err("numkeys should be greater than 0"))?;
    if numkeys > argv.len() as i64 - 2 {
        return Err(Error::err("Number of keys can't be greater than number of args"));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0i64;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        if Ctx::is(&argv[j], "limit") && j + 1 < argv.len() {
            limit = parse_i64(&argv[j + 1])
                .filter(|&n| n >= 0)
                .ok_or_else(|| Error::err("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let limit = if limit == 0 { usize::MAX } else { limit as usize };
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let sets = sets_of(db, &argv[2..2 + numkeys], now, acc)?;
    out.int(intersect(&sets, limit).len() as i64);
    Ok(())
}

fn union_diff_cmd(ctx: &mut Ctx, argv: &[Bytes], op: Op, store_at: Option<&Bytes>) -> CmdResult {
    let (now, acc, max) = (ctx.now, access(ctx), max_intset(ctx));
    let keys = if store_at.is_some() { &argv[2..] } else { &argv[1..] };
    let (db, out) = ctx.db_out();
    let sets = sets_of(db, keys, now, acc)?;
    let r = union_diff(&sets, op, max);
    match store_at {
        Some(dst) => {
            let event = if op == Op::Union { "sunionstore" } else { "sdiffstore" };
            store(ctx, dst, r, event);
        }
        None => reply_set(out, &r),
    }
    Ok(())
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, argv, Op::Union, None)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, argv, Op::Union, Some(&argv[1]))
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, argv, Op::Diff, None)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, argv, Op::Diff, Some(&argv[1]))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = super::parse_cursor(&argv[2]).ok_or_else(|| Error::err("invalid cursor"))?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(s) = lookup_set(db, &argv[1], now, acc)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let super::ScanOpts { count, pattern: pat, .. } = super::parse_scan_opts(&argv[3..], false)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut buf = itoa::Buffer::new();
    let next = s.scan(cursor, count as usize, |m| {
        let bytes = m.bytes(&mut buf);
        if pat.is_none_or(|p| glob_match(p, bytes, false)) {
            found.push(bytes.to_vec());
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(found.iter());
    Ok(())
}
