//! Hash commands.
//!
//! The data structure and its two encodings are in `types/hash.rs`; these handlers parse the
//! arguments, look the key up (lazy expiry, LRU access), call it and reply. A hash emptied by
//! HDEL is deleted. HINCRBYFLOAT is propagated as HSET of the resulting value, as Redis does.

use bytes::Bytes;
use rand::thread_rng;

use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Value, ValueRef};
use crate::types::hash::{Hash, Limits};
use crate::types::Object;
use crate::util::glob::glob_match;
use crate::util::num::{parse_i64, parse_long_double};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("hdel", hdel),
    ("hexists", hexists),
    ("hget", hget),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hkeys", hkeys),
    ("hlen", hlen),
    ("hmget", hmget),
    ("hmset", hmset),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
    ("hset", hset),
    ("hsetnx", hsetnx),
    ("hstrlen", hstrlen),
    ("hvals", hvals),
];

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        max_entries: ctx.core.cfg.hash_max_listpack_entries,
        max_value: ctx.core.cfg.hash_max_listpack_value,
    }
}

/// The hash at `key` for reading: None if there is no key, WRONGTYPE if it is not a hash.
fn read<'a>(db: &'a mut Db, key: &[u8], now: i64, acc: Access) -> Result<Option<&'a Hash>, Error> {
    match db.lookup(key, now, acc) {
        None => Ok(None),
        Some(e) => {
            let e: &'a _ = e;
            match e.value() {
                ValueRef::Obj(Object::Hash(h)) => Ok(Some(h)),
                _ => Err(Error::WRONG_TYPE),
            }
        }
    }
}

/// The hash at `key` for writing, created empty if there is no key.
fn write<'a>(db: &'a mut Db, key: &[u8], now: i64, acc: Access) -> Result<&'a mut Hash, Error> {
    let exists = match db.lookup(key, now, acc) {
        None => false,
        Some(e) => match e.value() {
            ValueRef::Obj(Object::Hash(_)) => true,
            _ => return Err(Error::WRONG_TYPE),
        },
    };
    if !exists {
        db.add(key, Value::Obj(Box::new(Object::Hash(Hash::new()))), None, 0, acc);
    }
    match db.peek(key, now).and_then(|e| e.obj_mut()) {
        Some(Object::Hash(h)) => Ok(h),
        _ => unreachable!("the key holds a hash"),
    }
}

/// The hash at `key` for modifying, if it exists.
fn modify<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
    acc: Access,
) -> Result<Option<&'a mut Hash>, Error> {
    match db.lookup(key, now, acc) {
        None => Ok(None),
        Some(e) => match e.obj_mut() {
            Some(Object::Hash(h)) => Ok(Some(h)),
            _ => Err(Error::WRONG_TYPE),
        },
    }
}

fn hset_generic(ctx: &mut Ctx, argv: &[Bytes]) -> Result<i64, Error> {
    if !argv.len().is_multiple_of(2) {
        return Err(Error::arity(ctx.cmd.fullname));
    }
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let h = write(ctx.db(), &argv[1], now, acc)?;
    let mut created = 0;
    for fv in argv[2..].chunks(2) {
        created += h.set(&fv[0], &fv[1], lim) as i64;
    }
    ctx.dirty((argv.len() as u64 - 2) / 2);
    ctx.notify(ev::HASH, "hset", &argv[1]);
    Ok(created)
}

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = hset_generic(ctx, argv)?;
    ctx.out.int(n);
    Ok(())
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    hset_generic(ctx, argv)?;
    ctx.out.ok();
    Ok(())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let h = write(ctx.db(), &argv[1], now, acc)?;
    if h.contains(&argv[2]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.set(&argv[2], &argv[3], lim);
    ctx.dirty(1);
    ctx.notify(ev::HASH, "hset", &argv[1]);
    ctx.out.int(1);
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    match read(db, &argv[1], now, acc)?.and_then(|h| h.get(&argv[2])) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let h = read(db, &argv[1], now, acc)?;
    out.array(argv.len() - 2);
    for f in &argv[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let Some(h) = modify(db, &argv[1], now, acc)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let emptied = h.is_empty();
    if emptied {
        db.remove(&argv[1]);
    }
    ctx.dirty(deleted);
    if deleted > 0 {
        ctx.notify(ev::HASH, "hdel", &argv[1]);
        if emptied {
            ctx.notify(ev::GENERIC, "del", &argv[1]);
        }
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = read(db, &argv[1], now, acc)?.map_or(0, |h| h.len());
    out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = read(db, &argv[1], now, acc)?.and_then(|h| h.get(&argv[2])).map_or(0, |v| v.len());
    out.int(n as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let found = read(db, &argv[1], now, acc)?.is_some_and(|h| h.contains(&argv[2]));
    out.int(found as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Vals,
    Both,
}

fn getall_generic(ctx: &mut Ctx, argv: &[Bytes], part: Part) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(h) = read(db, &argv[1], now, acc)? else {
        if part == Part::Both {
            out.map(0);
        } else {
            out.array(0);
        }
        return Ok(());
    };
    match part {
        Part::Both => {
            out.map(h.len());
            for (k, v) in h.iter() {
                out.bulk(k);
                out.bulk(v);
            }
        }
        Part::Keys => out.bulks(h.iter().map(|(k, _)| k).collect::<Vec<_>>().into_iter()),
        Part::Vals => out.bulks(h.iter().map(|(_, v)| v).collect::<Vec<_>>().into_iter()),
    }
    Ok(())
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    getall_generic(ctx, argv, Part::Both)
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    getall_generic(ctx, argv, Part::Keys)
}

/// HVALS key
fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    getall_generic(ctx, argv, Part::Vals)
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_i64(&argv[3]).ok_or(Error::NOT_INT)?;
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let h = write(ctx.db(), &argv[1], now, acc)?;
    let cur = match h.get(&argv[2]) {
        Some(v) => parse_i64(v).ok_or_else(|| Error::err("hash value is not an integer"))?,
        None => 0,
    };
    let new = cur.checked_add(incr).ok_or(Error::OVERFLOW)?;
    h.set(&argv[2], itoa::Buffer::new().format(new).as_bytes(), lim);
    ctx.dirty(1);
    ctx.notify(ev::HASH, "hincrby", &argv[1]);
    ctx.out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_long_double(&argv[3]).ok_or(Error::NOT_FLOAT)?;
    if !incr.is_finite() {
        return Err(Error::err("value is NaN or Infinity"));
    }
    let (now, acc, lim) = (ctx.now, access(ctx), limits(ctx));
    let h = write(ctx.db(), &argv[1], now, acc)?;
    let cur = match h.get(&argv[2]) {
        Some(v) => parse_long_double(v).ok_or_else(|| Error::err("hash value is not a float"))?,
        None => crate::util::num::LongDouble::ZERO,
    };
    let sum = cur.add(&incr);
    if !sum.is_finite() {
        return Err(Error::err("increment would produce NaN or Infinity"));
    }
    let new = sum.to_human();
    h.set(&argv[2], &new, lim);
    ctx.dirty(1);
    ctx.notify(ev::HASH, "hincrbyfloat", &argv[1]);
    ctx.out.bulk(&new);
    let new = Bytes::from(new);
    ctx.propagate(vec![Bytes::from_static(b"HSET"), argv[1].clone(), argv[2].clone(), new]);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    if argv.len() == 2 {
        let (db, out) = ctx.db_out();
        match read(db, &argv[1], now, acc)?.and_then(|h| h.random(&mut thread_rng())) {
            Some((k, _)) => out.bulk(k),
            None => out.null(),
        }
        return Ok(());
    }
    let l = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    if l == i64::MIN {
        return Err(Error::err(
            "value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        ));
    }
    let withvalues = match argv.len() {
        3 => false,
        4 if Ctx::is(&argv[3], "withvalues") => true,
        _ => return Err(Error::SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(Error::err("value is out of range"));
    }
    let (db, out) = ctx.db_out();
    let Some(h) = read(db, &argv[1], now, acc)? else {
        out.array(0);
        return Ok(());
    };
    let resp3 = out.is_resp3();
    let header = |out: &mut crate::resp::Reply, n: usize| {
        if withvalues && !resp3 {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    let pair = |out: &mut crate::resp::Reply, k: &[u8], v: &[u8]| {
        if withvalues {
            if resp3 {
                out.array(2);
            }
            out.bulk(k);
            out.bulk(v);
        } else {
            out.bulk(k);
        }
    };
    let mut rng = thread_rng();
    if l < 0 {
        let count = l.unsigned_abs() as usize;
        header(out, count);
        h.random_with_repeats(count, &mut rng, |k, v| pair(out, k, v));
    } else if l as u64 >= h.len() as u64 {
        header(out, h.len());
        for (k, v) in h.iter() {
            pair(out, k, v);
        }
    } else {
        let picked = h.random_distinct(l as usize, &mut rng);
        header(out, picked.len());
        for (k, v) in picked {
            pair(out, k, v);
        }
    }
    Ok(())
}

/// A field and its value, copied out of a scan step.
type Pair = (Box<[u8]>, Box<[u8]>);

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut cursor = super::parse_cursor(&argv[2]).ok_or_else(|| Error::err("invalid cursor"))?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(h) = read(db, &argv[1], now, acc)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let super::ScanOpts { count, pattern: pat, .. } = super::parse_scan_opts(&argv[3..], false)?;
    let count = count as usize;
    let mut found: Vec<Pair> = Vec::new();
    let mut budget = count.saturating_mul(10);
    loop {
        cursor = h.scan(cursor, |k, v| {
            if pat.is_none_or(|p| glob_match(p, k, false)) {
                found.push((k.into(), v.into()));
            }
        });
        if cursor == 0 || budget == 0 || found.len() * 2 >= count {
            break;
        }
        budget -= 1;
    }
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(found.len() * 2);
    for (k, v) in found {
        out.bulk(&k);
        out.bulk(&v);
    }
    Ok(())
}
