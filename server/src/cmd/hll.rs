//! HyperLogLog commands. An HLL is a string value in Redis's own representation
//! (see `types::hll`), so GET, SET, DUMP and RESTORE move it between Redis and Vireo unchanged.
//! A command that changes it leaves a `raw` string, as Redis's dbUnshareStringValue does.

use std::borrow::Cow;

use bytes::Bytes;

use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::record::ValueMut;
use crate::keyspace::{Entry, Value, ValueRef, TAG_RAW};
use crate::types::hll;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("pfadd", pfadd),
    ("pfcount", pfcount),
    ("pfdebug", pfdebug),
    ("pfmerge", pfmerge),
    ("pfselftest", pfselftest),
];

const NOT_HLL: Error =
    Error(Cow::Borrowed("WRONGTYPE Key is not a valid HyperLogLog string value."));
const CORRUPT: Error = Error(Cow::Borrowed("INVALIDOBJ Corrupted HLL object detected"));

/// The HLL bytes of an entry, or Redis's error for a value that is not one.
fn hll_of(e: &Entry) -> Result<&[u8], Error> {
    match e.value() {
        ValueRef::Obj(_) => Err(Error::WRONG_TYPE),
        ValueRef::Int(_) => Err(NOT_HLL),
        ValueRef::Str(s) if hll::is_valid(s) => Ok(s),
        ValueRef::Str(_) => Err(NOT_HLL),
    }
}

/// Replaces an entry's HLL value (a `raw` string).
fn store(e: &mut Entry, v: Vec<u8>) {
    e.set_value(Value::Str(Cow::Owned(v)));
    e.set_tag(TAG_RAW);
}

/// PFADD key [element [element ...]]
fn pfadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let max = ctx.core.cfg.hll_sparse_max_bytes;
    let key = &argv[1];
    let db = ctx.db();
    let (mut v, existed) = match db.lookup(key, now, acc) {
        None => (hll::new_sparse(), false),
        Some(e) => {
            let v = hll_of(e)?.to_vec();
            e.set_tag(TAG_RAW);
            (v, true)
        }
    };
    let mut updated = u64::from(!existed);
    let mut failed = false;
    for ele in &argv[2..] {
        match hll::add(&mut v, ele, max) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(hll::Corrupt) => {
                failed = true;
                break;
            }
        }
    }
    if updated > 0 && !failed {
        hll::invalidate(&mut v);
    }
    if existed {
        if updated > 0 || failed {
            store(db.peek(key, now).expect("looked up above"), v);
        }
    } else {
        db.add(key, Value::Str(Cow::Owned(v)), None, TAG_RAW, acc);
    }
    if failed {
        return Err(CORRUPT);
    }
    ctx.dirty(updated);
    if updated > 0 {
        ctx.notify(ev::STRING, "pfadd", key);
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    if argv.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        let db = ctx.db();
        for k in &argv[1..] {
            let Some(e) = db.lookup(k, now, acc) else { continue };
            hll::merge_into(&mut max, hll_of(e)?).map_err(|_| CORRUPT)?;
        }
        let n = hll::estimate(&hll::raw_histogram(&max));
        ctx.out.int(n as i64);
        return Ok(());
    }
    let computed = {
        let Some(e) = ctx.db().lookup(&argv[1], now, acc) else {
            ctx.out.int(0);
            return Ok(());
        };
        let v = hll_of(e)?;
        match hll::cached(v) {
            Some(c) => {
                e.set_tag(TAG_RAW);
                ctx.out.int(c as i64);
                return Ok(());
            }
            None => {
                let c = hll::count(v).map_err(|_| CORRUPT)?;
                e.set_tag(TAG_RAW);
                if let ValueMut::Str(s) = e.value_mut() {
                    hll::set_cached(s, c);
                }
                c
            }
        }
    };
    // Updating the cache changes the value: it is propagated, as in Redis.
    ctx.dirty(1);
    ctx.out.int(computed as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey [sourcekey ...]]
fn pfmerge(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let sparse_max = ctx.core.cfg.hll_sparse_max_bytes;
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    let db = ctx.db();
    // Every key is read, the destination included.
    for k in &argv[1..] {
        let Some(e) = db.lookup_read(k, now, acc) else { continue };
        let v = hll_of(e)?;
        use_dense |= v[4] == hll::DENSE;
        hll::merge_into(&mut max, v).map_err(|_| CORRUPT)?;
    }
    let key = &argv[1];
    let (mut v, existed) = match db.lookup(key, now, acc) {
        None => (hll::new_sparse(), false),
        Some(e) => (hll_of(e)?.to_vec(), true),
    };
    if use_dense && v[4] == hll::SPARSE {
        match hll::to_dense(&v) {
            Ok(d) => v = d,
            Err(_) => {
                if !existed {
                    db.add(key, Value::Str(Cow::Owned(v)), None, TAG_RAW, acc);
                }
                return Err(CORRUPT);
            }
        }
    }
    for (j, &m) in max.iter().enumerate() {
        if m != 0 {
            let _ = hll::set(&mut v, j, m, sparse_max);
        }
    }
    hll::invalidate(&mut v);
    if existed {
        store(db.peek(key, now).expect("looked up above"), v);
    } else {
        db.add(key, Value::Str(Cow::Owned(v)), None, TAG_RAW, acc);
    }
    ctx.dirty(1);
    ctx.notify(ev::STRING, "pfadd", key);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG subcommand key
fn pfdebug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[2];
    let db = ctx.db();
    let Some(e) = db.lookup(key, now, acc) else {
        return Err(Error::err("The specified key does not exist"));
    };
    let v = hll_of(e)?.to_vec();
    e.set_tag(TAG_RAW);
    let sub = &argv[1][..];
    let sparse = v[4] == hll::SPARSE;
    if Ctx::is(sub, "getreg") {
        let v = if sparse {
            let d = hll::to_dense(&v).map_err(|_| CORRUPT)?;
            store(e, d.clone());
            ctx.dirty(1);
            d
        } else {
            v
        };
        let out = &mut ctx.out;
        out.array(hll::REGISTERS);
        for i in 0..hll::REGISTERS {
            out.int(i64::from(hll::dense_get(&v[hll::HDR_SIZE..], i)));
        }
    } else if Ctx::is(sub, "decode") {
        if !sparse {
            return Err(Error::err("HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::decode(&v).as_bytes());
    } else if Ctx::is(sub, "encoding") {
        ctx.out.simple(if sparse { "sparse" } else { "dense" });
    } else if Ctx::is(sub, "todense") {
        if sparse {
            let d = hll::to_dense(&v).map_err(|_| CORRUPT)?;
            store(e, d);
            ctx.dirty(1);
        }
        ctx.out.int(i64::from(sparse));
    } else {
        return Err(Error::err(format!(
            "Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// PFSELFTEST
fn pfselftest(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    match hll::self_test() {
        Ok(()) => ctx.out.ok(),
        Err(msg) => return Err(Error::msg(format!("TESTFAILED {msg}"))),
    }
    Ok(())
}
