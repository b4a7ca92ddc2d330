//! Sorted set commands.
//!
//! Every range command turns its range (ranks, scores or lex bounds) into a rank interval of the
//! set ([`ZSet::score_range`], [`ZSet::lex_range`]) and walks it forwards or backwards. Replies
//! follow Redis 7.0: scores are doubles (`,` on RESP3, bulk strings on RESP2); WITHSCORES gives
//! a flat array on RESP2 and an array of pairs on RESP3. Propagation is Redis's: writes go as
//! they were called, except ZMPOP, which goes as ZPOPMIN/ZPOPMAX with a count.

use bytes::Bytes;
use rand::Rng;

use super::string::access;
use super::{Ctx, Handler};
use crate::blocking::{parse_timeout, Wants};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Entry, Ttl, Value};
use crate::resp::Reply;
use crate::types::zset::{Lex, Limits, ScoreBound, ZSet};
use crate::types::Object;
use crate::util::glob::glob_match;
use crate::util::num::{fmt_double_resp, parse_f64, parse_f64_lenient, parse_i64};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("bzmpop", bzmpop),
    ("bzpopmax", bzpopmax),
    ("bzpopmin", bzpopmin),
    ("zadd", zadd),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zdiff", zdiff),
    ("zdiffstore", zdiffstore),
    ("zincrby", zincrby),
    ("zinter", zinter),
    ("zintercard", zintercard),
    ("zinterstore", zinterstore),
    ("zlexcount", zlexcount),
    ("zmpop", zmpop),
    ("zmscore", zmscore),
    ("zpopmax", zpopmax),
    ("zpopmin", zpopmin),
    ("zrandmember", zrandmember),
    ("zrange", zrange),
    ("zrangebylex", zrangebylex),
    ("zrangebyscore", zrangebyscore),
    ("zrangestore", zrangestore),
    ("zrank", zrank),
    ("zrem", zrem),
    ("zremrangebylex", zremrangebylex),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zrevrange", zrevrange),
    ("zrevrangebylex", zrevrangebylex),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrevrank", zrevrank),
    ("zscan", zscan),
    ("zscore", zscore),
    ("zunion", zunion),
    ("zunionstore", zunionstore),
];

/// (member, score) pairs.
type Pairs = Vec<(Vec<u8>, f64)>;

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const SCORE_RANGE_ERR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERR: &str = "ERR min or max not valid string range item";

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.core.cfg.zset_max_listpack_entries,
        value: ctx.core.cfg.zset_max_listpack_value,
    }
}

/// The sorted set at `key` (recording an access), None if missing, WRONGTYPE for another type.
pub(crate) fn get_zset<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
    acc: Access,
) -> Result<Option<&'a mut ZSet>, Error> {
    as_zset(db.lookup(key, now, acc))
}

/// The sorted set of a looked-up entry, WRONGTYPE for another type.
pub(crate) fn as_zset(e: Option<&mut Entry>) -> Result<Option<&mut ZSet>, Error> {
    match e {
        None => Ok(None),
        Some(e) => match e.obj_mut() {
            Some(Object::ZSet(z)) => Ok(Some(z)),
            _ => Err(Error::WRONG_TYPE),
        },
    }
}

/// Deletes `key` if its set became empty; returns whether it did.
fn drop_if_empty(db: &mut Db, key: &[u8], now: i64) -> bool {
    let empty =
        matches!(db.peek(key, now).and_then(|e| e.obj()), Some(Object::ZSet(z)) if z.is_empty());
    if empty {
        db.remove(key);
    }
    empty
}

/// Notifies `event` on `key`, then its deletion if `deleted`.
fn notify_removal(ctx: &mut Ctx, event: &str, key: &[u8], deleted: bool) {
    ctx.notify(ev::ZSET, event, key);
    if deleted {
        ctx.notify(ev::GENERIC, "del", key);
    }
}

fn pop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

fn parse_long(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NOT_INT)
}

fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    match arg.first() {
        Some(b'(') => parse_f64_lenient(&arg[1..]).map(|value| ScoreBound { value, excl: true }),
        _ => parse_f64_lenient(arg).map(|value| ScoreBound { value, excl: false }),
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), Error> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::msg(SCORE_RANGE_ERR)),
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<(Lex, Lex), Error> {
    match (Lex::parse(min), Lex::parse(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::msg(LEX_RANGE_ERR)),
    }
}

/// Writes `count` (member, score) pairs produced by `fill`.
fn reply_pairs_header(out: &mut Reply, count: usize, withscores: bool) {
    if withscores && !out.is_resp3() {
        out.array(count * 2);
    } else {
        out.array(count);
    }
}

#[inline]
fn reply_pair(out: &mut Reply, m: &[u8], s: f64, withscores: bool) {
    if withscores {
        if out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        out.double(s);
    } else {
        out.bulk(m);
    }
}

fn reply_vec(out: &mut Reply, v: &[(Vec<u8>, f64)], withscores: bool) {
    reply_pairs_header(out, v.len(), withscores);
    for (m, s) in v {
        reply_pair(out, m, *s, withscores);
    }
}

/// Writes a sorted set `z` as the value of `dst` (replacing it and its TTL), or deletes `dst`
/// when the result is empty. Returns whether the dataset changed. `event` is the command's
/// keyspace event.
pub(crate) fn store(ctx: &mut Ctx, dst: &[u8], pairs: Vec<(Vec<u8>, f64)>, event: &str) -> bool {
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let db = ctx.db();
    if pairs.is_empty() {
        let deleted = db.delete_stored(dst);
        if deleted {
            ctx.dirty(1);
            ctx.notify(ev::GENERIC, "del", dst);
        }
        return deleted;
    }
    let z = ZSet::from_pairs(pairs, lim);
    db.write(dst, Value::Obj(Box::new(Object::ZSet(z))), Ttl::Set(None), 0, now, acc);
    ctx.dirty(1);
    ctx.notify(ev::ZSET, event, dst);
    true
}

// ------------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

fn zadd_generic(ctx: &mut Ctx, argv: &[Bytes], zincrby: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincrby);
    let mut idx = 2;
    // ZINCRBY reads ZADD's flags too, as Redis (its arity leaves a flag no room but to make
    // a syntax error).
    while idx < argv.len() {
        let a = &argv[idx][..];
        if Ctx::is(a, "nx") {
            nx = true;
        } else if Ctx::is(a, "xx") {
            xx = true;
        } else if Ctx::is(a, "gt") {
            gt = true;
        } else if Ctx::is(a, "lt") {
            lt = true;
        } else if Ctx::is(a, "ch") {
            ch = true;
        } else if Ctx::is(a, "incr") {
            incr = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(Error::SYNTAX);
    }
    let elements = elements / 2;
    if nx && xx {
        return Err(Error::err("XX and NX options at the same time are not compatible"));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Error::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && elements > 1 {
        return Err(Error::err("INCR option supports a single increment-element pair"));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(parse_f64(&argv[idx + j * 2]).ok_or(Error::NOT_FLOAT)?);
    }
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let key = &argv[1];
    let (db, out) = ctx.db_out();
    let exists = get_zset(db, key, now, acc)?.is_some();
    if !exists {
        if xx {
            if incr {
                out.null();
            } else {
                out.int(0);
            }
            return Ok(());
        }
        let z = ZSet::for_first(argv[idx + 1].len(), lim);
        db.add(key, Value::Obj(Box::new(Object::ZSet(z))), None, 0, acc);
    }
    let z = match db.peek(key, now).and_then(|e| e.obj_mut()) {
        Some(Object::ZSet(z)) => z,
        _ => unreachable!("created above"),
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    let mut nan = false;
    for (j, &score) in scores.iter().enumerate() {
        let member = &argv[idx + j * 2 + 1][..];
        match z.score(member) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { score + cur } else { score };
                if new.is_nan() {
                    nan = true;
                    break;
                }
                if (lt && new >= cur) || (gt && new <= cur) {
                    continue;
                }
                last = new;
                processed += 1;
                if new != cur {
                    z.insert(member, new, lim);
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(member, score, lim);
                last = score;
                added += 1;
                processed += 1;
            }
        }
    }
    if z.is_empty() {
        db.remove(key);
    }
    ctx.dirty((added + updated) as u64);
    if added + updated > 0 {
        ctx.notify(ev::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(Error::msg(NAN_ERR));
    }
    if incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub(crate) fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, false)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, true)
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let Some(z) = get_zset(db, &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let deleted = drop_if_empty(db, &argv[1], now);
    ctx.dirty(n);
    if n > 0 {
        notify_removal(ctx, "zrem", &argv[1], deleted);
    }
    ctx.out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Reads of one key

/// ZCARD key
fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = get_zset(db, &argv[1], now, acc)?.map_or(0, |z| z.len());
    out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    match get_zset(db, &argv[1], now, acc)?.and_then(|z| z.score(&argv[2])) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let z = get_zset(db, &argv[1], now, acc)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(z) = get_zset(db, &argv[1], now, acc)? else {
        out.null();
        return Ok(());
    };
    match z.rank(&argv[2]) {
        Some((r, _)) => out.int(if rev { z.len() - 1 - r } else { r } as i64),
        None => out.null(),
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (min, max) = parse_score_range(&argv[2], &argv[3])?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = get_zset(db, &argv[1], now, acc)?.map_or(0, |z| {
        let (lo, hi) = z.score_range(min, max);
        hi - lo
    });
    out.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (min, max) = parse_lex_range(&argv[2], &argv[3])?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = get_zset(db, &argv[1], now, acc)?.map_or(0, |z| {
        let (lo, hi) = z.lex_range(&min, &max, false, 0);
        hi - lo
    });
    out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// ZRANGE and friends

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Rank,
    Score,
    Lex,
}

/// The rank interval (ascending) and walking direction a ZRANGE-like call selects, after its
/// LIMIT: `[start, end)` walked backwards when `rev`.
fn select(
    z: &ZSet,
    rt: RangeType,
    rev: bool,
    a: &[u8],
    bnd: &[u8],
    offset: i64,
    limit: i64,
) -> (usize, usize) {
    let len = z.len() as i64;
    match rt {
        RangeType::Rank => {
            let (mut start, mut end) = (parse_i64(a).unwrap_or(0), parse_i64(bnd).unwrap_or(0));
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return (0, 0);
            }
            if end >= len {
                end = len - 1;
            }
            if rev {
                ((len - 1 - end) as usize, (len - start) as usize)
            } else {
                (start as usize, (end + 1) as usize)
            }
        }
        RangeType::Score | RangeType::Lex => {
            if offset < 0 || limit == 0 {
                return (0, 0);
            }
            let (lo, hi, off) = if rt == RangeType::Score {
                let (min, max) = parse_score_range(a, bnd).expect("checked");
                let (lo, hi) = z.score_range(min, max);
                (lo, hi, offset as u64)
            } else {
                // The offset is walked as Redis walks it (see `ZSet::lex_range`).
                let (min, max) = parse_lex_range(a, bnd).expect("checked");
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                let (lo, hi) = z.lex_range(&min, &max, rev, skip);
                (lo, hi, 0)
            };
            let avail = (hi - lo) as u64;
            let off = off.min(avail) as usize;
            let take = if limit < 0 { avail as usize } else { (limit as u64).min(avail) as usize };
            if rev {
                let e = hi - off;
                (e.saturating_sub(take).max(lo), e)
            } else {
                let s = lo + off;
                (s, (s + take).min(hi))
            }
        }
    }
}

/// The shared body of ZRANGE, ZRANGESTORE and the older range commands. `key_idx` is the source
/// key's index; the min/max (or start/stop) follow it.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    key_idx: usize,
    dst: Option<&Bytes>,
    fixed_type: Option<RangeType>,
    fixed_rev: Option<bool>,
) -> CmdResult {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let (mut rt, mut rev) = (fixed_type, fixed_rev);
    let mut j = key_idx + 3;
    while j < argv.len() {
        let a = &argv[j][..];
        let left = argv.len() - j - 1;
        if dst.is_none() && Ctx::is(a, "withscores") {
            withscores = true;
        } else if Ctx::is(a, "limit") && left >= 2 {
            offset = parse_long(&argv[j + 1])?;
            limit = parse_long(&argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && Ctx::is(a, "rev") {
            rev = Some(true);
        } else if fixed_type.is_none() && rt.is_none() && Ctx::is(a, "bylex") {
            rt = Some(RangeType::Lex);
        } else if fixed_type.is_none() && rt.is_none() && Ctx::is(a, "byscore") {
            rt = Some(RangeType::Score);
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let rt = rt.unwrap_or(RangeType::Rank);
    if limit != -1 && rt == RangeType::Rank {
        return Err(Error::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rt == RangeType::Lex {
        return Err(Error::err("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut a, mut bnd) = (&argv[key_idx + 1][..], &argv[key_idx + 2][..]);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut a, &mut bnd);
    }
    match rt {
        RangeType::Rank => {
            parse_long(a)?;
            parse_long(bnd)?;
        }
        RangeType::Score => {
            parse_score_range(a, bnd)?;
        }
        RangeType::Lex => {
            parse_lex_range(a, bnd)?;
        }
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    // (ZRANGESTORE reads its source.)
    let z = as_zset(db.lookup_read(&argv[key_idx], now, acc))?;
    let Some(dst) = dst else {
        let Some(z) = z else {
            out.array(0);
            return Ok(());
        };
        let (s, e) = select(z, rt, rev, a, bnd, offset, limit);
        reply_pairs_header(out, e - s, withscores);
        z.for_range(s, e, rev, |m, sc| reply_pair(out, m, sc, withscores));
        return Ok(());
    };
    let mut pairs = Vec::new();
    if let Some(z) = z {
        let (s, e) = select(z, rt, rev, a, bnd, offset, limit);
        pairs.reserve(e - s);
        z.for_range(s, e, rev, |m, sc| pairs.push((m.to_vec(), sc)));
    }
    let n = pairs.len();
    store(ctx, dst, pairs, "zrangestore");
    ctx.out.int(n as i64);
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, None, None)
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(&argv[1]), None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(true))
}

// ------------------------------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrange_generic(ctx: &mut Ctx, argv: &[Bytes], rt: RangeType) -> CmdResult {
    match rt {
        RangeType::Rank => {
            parse_long(&argv[2])?;
            parse_long(&argv[3])?;
        }
        RangeType::Score => {
            parse_score_range(&argv[2], &argv[3])?;
        }
        RangeType::Lex => {
            parse_lex_range(&argv[2], &argv[3])?;
        }
    }
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let Some(z) = get_zset(db, &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (s, e) = match rt {
        RangeType::Lex => {
            let (min, max) = parse_lex_range(&argv[2], &argv[3]).expect("checked");
            z.lex_range_to_remove(&min, &max)
        }
        _ => select(z, rt, false, &argv[2], &argv[3], 0, -1),
    };
    let n = z.remove_range(s, e);
    let deleted = drop_if_empty(db, &argv[1], now);
    ctx.dirty(n as u64);
    if n > 0 {
        let event = match rt {
            RangeType::Rank => "zremrangebyrank",
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
        };
        notify_removal(ctx, event, &argv[1], deleted);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeType::Rank)
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeType::Score)
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeType::Lex)
}

// ------------------------------------------------------------------------------------------------
// Pops

/// Pops up to `count` elements from the first non-empty set among `keys`. `nested` asks for
/// pairs as arrays; `emit_key` for ZMPOP's `[key, pairs]` reply.
fn pop_generic(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: usize,
    nested: bool,
    emit_key: bool,
) -> Result<Option<(Bytes, usize)>, Error> {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let mut found = None;
    for k in keys {
        if get_zset(db, k, now, acc)?.is_some() {
            found = Some(k);
            break;
        }
    }
    let Some(key) = found else {
        if emit_key {
            out.null_array();
        } else {
            out.array(0);
        }
        return Ok(None);
    };
    let z = get_zset(db, key, now, Access { touch: false, ..acc })?.expect("found above");
    let len = z.len();
    let n = count.min(len);
    let (s, e) = if max { (len - n, len) } else { (0, n) };
    if emit_key {
        out.array(2);
        out.bulk(key);
    }
    if nested {
        out.array(n);
    } else {
        out.array(n * 2);
    }
    z.for_range(s, e, max, |m, sc| {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(sc);
    });
    z.remove_range(s, e);
    let deleted = drop_if_empty(db, key, now);
    ctx.dirty(n as u64);
    notify_removal(ctx, pop_event(max), key, deleted);
    Ok(Some((key.clone(), n)))
}

fn zpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(Error::SYNTAX);
    }
    let mut count = 1;
    if argv.len() == 3 {
        let c = parse_i64(&argv[2])
            .filter(|&c| c >= 0)
            .ok_or_else(|| Error::err("value is out of range, must be positive"))?;
        if c == 0 {
            // Still a type check, as Redis: WRONGTYPE for another type.
            let (now, acc) = (ctx.now, access(ctx));
            get_zset(ctx.db(), &argv[1], now, acc)?;
            ctx.out.array(0);
            return Ok(());
        }
        count = c as usize;
    }
    let nested = ctx.out.is_resp3() && argv.len() == 3;
    pop_generic(ctx, &argv[1..2], max, count, nested, false)?;
    Ok(())
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop(ctx, argv, false)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop(ctx, argv, true)
}

/// A long in `min..=max`, or `ERR <msg>` (also for a non-integer, as getRangeLong... does).
fn range_long(arg: &[u8], min: i64, max: i64, msg: &str) -> Result<i64, Error> {
    match parse_i64(arg) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Error::err(msg)),
    }
}

/// The arguments of ZMPOP and BZMPOP from `numkeys` on: the keys, MAX or not, the count.
fn parse_mpop(argv: &[Bytes]) -> Result<(&[Bytes], bool, usize), Error> {
    let numkeys = range_long(&argv[0], 1, i64::MAX, "numkeys should be greater than 0")?;
    let where_idx = (numkeys as u64).saturating_add(1);
    if where_idx >= argv.len() as u64 {
        return Err(Error::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if Ctx::is(&argv[where_idx], "min") {
        false
    } else if Ctx::is(&argv[where_idx], "max") {
        true
    } else {
        return Err(Error::SYNTAX);
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count == -1 && Ctx::is(&argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            count = range_long(&argv[j], 1, i64::MAX, "count should be greater than 0")?;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let count = if count == -1 { 1 } else { count };
    Ok((&argv[1..where_idx], max, count as usize))
}

/// Pops from the first non-empty sorted set of `keys`, answering `[key, [[member, score]...]]`,
/// propagated as `ZPOPMIN|ZPOPMAX key <popped count>` as Redis 7.0 does. Returns false, having answered nothing, if all are
/// empty.
fn mpop(ctx: &mut Ctx, keys: &[Bytes], max: bool, count: usize) -> Result<bool, Error> {
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let mut any = false;
    for k in keys {
        if get_zset(db, k, now, acc)?.is_some() {
            any = true;
            break;
        }
    }
    if !any {
        return Ok(false);
    }
    if let Some((key, popped)) = pop_generic(ctx, keys, max, count, true, true)? {
        ctx.key_modified(&key);
        let cmd = if max { b("ZPOPMAX") } else { b("ZPOPMIN") };
        let c = Bytes::copy_from_slice(itoa::Buffer::new().format(popped).as_bytes());
        ctx.propagate(vec![cmd, key, c]);
    }
    Ok(true)
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(&argv[1..])?;
    if !mpop(ctx, keys, max, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(&argv[2..])?;
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    if !mpop(ctx, ctx.keys_to_serve(keys), max, count)? {
        ctx.block(keys, deadline, Wants::ZSet);
    }
    Ok(())
}

/// BZPOPMIN / BZPOPMAX: `[key, member, score]` from the first non-empty sorted set, else block.
/// Propagated as ZPOPMIN|ZPOPMAX key.
fn bzpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    let (now, acc) = (ctx.now, access(ctx));
    let serve = ctx.keys_to_serve(keys);
    let (db, out) = ctx.db_out();
    for key in serve {
        let Some(z) = get_zset(db, key, now, acc)? else { continue };
        let rank = if max { z.len() - 1 } else { 0 };
        out.array(3);
        out.bulk(key);
        z.for_range(rank, rank + 1, false, |m, sc| {
            out.bulk(m);
            out.double(sc);
        });
        z.remove_range(rank, rank + 1);
        let deleted = drop_if_empty(db, key, now);
        ctx.dirty(1);
        // The sorted set popped from only, not every key named.
        ctx.key_modified(key);
        notify_removal(ctx, pop_event(max), key, deleted);
        ctx.propagate(vec![if max { b("ZPOPMAX") } else { b("ZPOPMIN") }, key.clone()]);
        return Ok(());
    }
    ctx.block(keys, deadline, Wants::ZSet);
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

// ------------------------------------------------------------------------------------------------
// ZRANDMEMBER

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut withscores = false;
    let mut count = None;
    if argv.len() >= 3 {
        let c = parse_long(&argv[2])?;
        if c == i64::MIN {
            return Err(Error::err(
                "value is out of range, value must between -9223372036854775807 and \
                 9223372036854775807",
            ));
        }
        if argv.len() == 4 {
            if !Ctx::is(&argv[3], "withscores") {
                return Err(Error::SYNTAX);
            }
            withscores = true;
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&c) {
                return Err(Error::err("value is out of range"));
            }
        } else if argv.len() > 4 {
            return Err(Error::SYNTAX);
        }
        count = Some(c);
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let z = get_zset(db, &argv[1], now, acc)?;
    let mut rng = rand::thread_rng();
    let Some(c) = count else {
        match z {
            None => out.null(),
            Some(z) => {
                let (m, _) = z.at(rng.gen_range(0..z.len())).expect("non-empty");
                out.bulk(&m);
            }
        }
        return Ok(());
    };
    let Some(z) = z else {
        out.array(0);
        return Ok(());
    };
    if c == 0 {
        out.array(0);
        return Ok(());
    }
    let len = z.len();
    if c < 0 {
        let n = c.unsigned_abs() as usize;
        reply_pairs_header(out, n, withscores);
        for _ in 0..n {
            let (m, s) = z.at(rng.gen_range(0..len)).expect("in range");
            reply_pair(out, &m, s, withscores);
        }
        return Ok(());
    }
    let n = (c as usize).min(len);
    // The whole set comes out tail first, as Redis 7.0 gives it.
    let picked: Vec<usize> = if n == len {
        (0..len).rev().collect()
    } else {
        rand::seq::index::sample(&mut rng, len, n).into_vec()
    };
    reply_pairs_header(out, n, withscores);
    for i in picked {
        let (m, s) = z.at(i).expect("in range");
        reply_pair(out, &m, s, withscores);
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggr {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggr, target: &mut f64, v: f64) {
    match a {
        Aggr::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggr::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggr::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

fn setop_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    dst: Option<&Bytes>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let setnum = parse_long(&argv[numkeys_idx])?;
    if setnum < 1 {
        return Err(Error::err(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.cmd.fullname
        )));
    }
    if setnum as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(Error::SYNTAX);
    }
    let setnum = setnum as usize;
    let (now, acc) = (ctx.now, access(ctx));
    // Inputs: None for a missing key.
    let mut srcs: Vec<Option<Pairs>> = Vec::with_capacity(setnum);
    {
        let db = ctx.db();
        for k in &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum] {
            // Plain sets count too, every member with score 1, as in Redis.
            srcs.push(match db.lookup_read(k, now, acc) {
                None => None,
                Some(e) => match e.obj() {
                    Some(Object::ZSet(z)) => Some(z.to_vec()),
                    Some(Object::Set(st)) => Some(st.iter().map(|m| (m.to_vec(), 1.0)).collect()),
                    _ => return Err(Error::WRONG_TYPE),
                },
            });
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut aggr = Aggr::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j][..];
        if op != SetOp::Diff && !card_only && remaining > setnum && Ctx::is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w =
                    parse_f64(&argv[j]).ok_or_else(|| Error::err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && Ctx::is(a, "aggregate") {
            let v = &argv[j + 1][..];
            aggr = if Ctx::is(v, "sum") {
                Aggr::Sum
            } else if Ctx::is(v, "min") {
                Aggr::Min
            } else if Ctx::is(v, "max") {
                Aggr::Max
            } else {
                return Err(Error::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && Ctx::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && Ctx::is(a, "limit") {
            // Not a number is "negative" too, as Redis words it.
            limit = parse_i64(&argv[j + 1])
                .filter(|&n| n >= 0)
                .ok_or_else(|| Error::err("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            if srcs.iter().all(Option::is_some) {
                let mut order: Vec<usize> = (0..setnum).collect();
                order.sort_by_key(|&i| srcs[i].as_ref().map_or(0, Vec::len));
                let maps: Vec<std::collections::HashMap<&[u8], f64>> = order[1..]
                    .iter()
                    .map(|&i| {
                        srcs[i]
                            .as_ref()
                            .expect("all present")
                            .iter()
                            .map(|(m, s)| (&m[..], *s))
                            .collect()
                    })
                    .collect();
                let first = order[0];
                'outer: for (m, s) in srcs[first].as_ref().expect("all present") {
                    let mut score = weights[first] * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (k, map) in maps.iter().enumerate() {
                        let Some(&v) = map.get(&m[..]) else { continue 'outer };
                        let mut v = weights[order[k + 1]] * v;
                        if v.is_nan() {
                            v = 0.0;
                        }
                        aggregate(aggr, &mut score, v);
                    }
                    if card_only {
                        result.push((Vec::new(), 0.0));
                        if limit > 0 && result.len() as i64 >= limit {
                            break;
                        }
                    } else {
                        result.push((m.clone(), score));
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc_map: std::collections::HashMap<Vec<u8>, f64> = Default::default();
            for (i, src) in srcs.iter().enumerate() {
                let Some(src) = src else { continue };
                for (m, s) in src {
                    let mut v = weights[i] * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc_map.get_mut(m) {
                        Some(t) => aggregate(aggr, t, v),
                        None => {
                            acc_map.insert(m.clone(), v);
                        }
                    }
                }
            }
            result = acc_map.into_iter().collect();
        }
        SetOp::Diff => {
            if let Some(first) = &srcs[0] {
                let others: Vec<std::collections::HashSet<&[u8]>> = srcs[1..]
                    .iter()
                    .flatten()
                    .map(|v| v.iter().map(|(m, _)| &m[..]).collect())
                    .collect();
                result = first
                    .iter()
                    .filter(|(m, _)| others.iter().all(|o| !o.contains(&m[..])))
                    .cloned()
                    .collect();
            }
        }
    }
    if card_only {
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    if let Some(dst) = dst {
        let n = result.len();
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store(ctx, dst, result, event);
        ctx.out.int(n as i64);
        return Ok(());
    }
    result.sort_by(|a, b| crate::types::zset::cmp_pair(a.1, &a.0, b.1, &b.0));
    reply_vec(&mut ctx.out, &result, withscores);
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Diff, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, Some(&argv[1]), 2, SetOp::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, true)
}

// ------------------------------------------------------------------------------------------------
// ZSCAN

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A listpack is returned whole (cursor 0), as Redis does; a skiplist is walked over its
/// member table's home buckets with Redis's reverse-binary cursor, so that a member present for
/// the whole iteration is returned even when others are added or removed between calls.
fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = super::parse_cursor(&argv[2]).ok_or_else(|| Error::err("invalid cursor"))?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    // A missing key answers before the options are read, as HSCAN and SSCAN (and Redis).
    let Some(z) = get_zset(db, &argv[1], now, acc)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let super::ScanOpts { count, pattern: pat, .. } = super::parse_scan_opts(&argv[3..], false)?;
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count as usize, |m, sc| {
        if pat.is_none_or(|p| glob_match(p, m, false)) {
            items.push((m.to_vec(), sc));
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items.len() * 2);
    for (m, sc) in items {
        out.bulk(&m);
        out.bulk(&fmt_double_resp(sc));
    }
    Ok(())
}
