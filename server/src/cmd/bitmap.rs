//! Bitmap commands: bit operations on string values (see `types::bitmap`).
//!
//! A command that writes bits turns the value into a `raw` string grown with zero bytes, as
//! Redis's lookupStringForBitCommand does; an integer-encoded value is its decimal text.
//! Offsets are limited by `proto-max-bulk-len`.

use std::borrow::Cow;

use bytes::Bytes;

use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{str_bytes, Ttl, Value, TAG_RAW};
use crate::types::bitmap::{self as bm, FieldType, Op, Overflow};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("bitcount", bitcount),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
    ("bitop", bitop),
    ("bitpos", bitpos),
    ("getbit", getbit),
    ("setbit", setbit),
];

const BAD_OFFSET: Error = Error(Cow::Borrowed("ERR bit offset is not an integer or out of range"));
const BAD_BIT: Error = Error(Cow::Borrowed("ERR bit is not an integer or out of range"));
const BAD_TYPE: Error = Error(Cow::Borrowed(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but \
     i64 is.",
));

/// Parses a bit offset; with `hash_bits`, `#N` means `N * bits` (BITFIELD).
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Error> {
    let (digits, mul) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let off = parse_i64(digits).ok_or(BAD_OFFSET)?.wrapping_mul(mul);
    if off < 0 || (off >> 3) >= ctx.core.cfg.proto_max_bulk_len {
        return Err(BAD_OFFSET);
    }
    Ok(off as u64)
}

/// Looks `key` up for a bit write reaching bit `maxbit`: creates a zero-filled string or grows
/// the existing one with zero bytes (making it `raw`). Returns whether the key was created or
/// its length changed.
fn string_for_bits(ctx: &mut Ctx, key: &[u8], maxbit: u64) -> Result<bool, Error> {
    let len = (maxbit >> 3) as usize + 1;
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    match db.lookup(key, now, acc) {
        None => {
            db.add(key, Value::Str(Cow::Owned(vec![0; len])), None, TAG_RAW, acc);
            Ok(true)
        }
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            let old = str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?.len();
            let new = e.str_grow(len).expect("a string").len();
            e.set_tag(TAG_RAW);
            Ok(old != new)
        }
    }
}

/// The mutable bytes of a string key that [`string_for_bits`] prepared.
fn bits_mut<'a>(db: &'a mut crate::keyspace::Db, key: &[u8], now: i64) -> &'a mut [u8] {
    let e = db.peek(key, now).expect("prepared above");
    e.str_grow(0).expect("a string")
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &argv[2], None)?;
    let on = match parse_i64(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BAD_BIT),
    };
    let grown = string_for_bits(ctx, &argv[1], offset)?;
    let now = ctx.now;
    let old = bm::set_bit(bits_mut(ctx.db(), &argv[1], now), offset, on);
    if grown || old != on {
        ctx.dirty(1);
        ctx.notify(ev::STRING, "setbit", &argv[1]);
    }
    ctx.out.int(i64::from(old));
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &argv[2], None)?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let bit = match db.lookup(&argv[1], now, acc) {
        None => false,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            bm::get_bit(str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?, offset)
        }
    };
    out.int(i64::from(bit));
    Ok(())
}

/// `BYTE` or `BIT`: whether the range is in bits.
fn unit(arg: &[u8]) -> Result<bool, Error> {
    if Ctx::is(arg, "bit") {
        Ok(true)
    } else if Ctx::is(arg, "byte") {
        Ok(false)
    } else {
        Err(Error::SYNTAX)
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(e) = db.lookup(&argv[1], now, acc) else {
        out.int(0);
        return Ok(());
    };
    let mut buf = itoa::Buffer::new();
    let s = str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?;
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let start = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
            let end = parse_i64(&argv[3]).ok_or(Error::NOT_INT)?;
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return Ok(());
            }
            let is_bit = match argv.get(4) {
                Some(a) => unit(a)?,
                None => false,
            };
            Some((start, end, is_bit))
        }
        _ => return Err(Error::SYNTAX),
    };
    out.int(bm::count(s, range));
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bit = match parse_i64(&argv[2]).ok_or(Error::NOT_INT)? {
        0 => false,
        1 => true,
        _ => return Err(Error::err("The bit argument must be 1 or 0.")),
    };
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(e) = db.lookup(&argv[1], now, acc) else {
        out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut buf = itoa::Buffer::new();
    let s = str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?;
    let (mut start, mut end, mut is_bit) = (None, None, false);
    match argv.len() {
        3 => {}
        4..=6 => {
            start = Some(parse_i64(&argv[3]).ok_or(Error::NOT_INT)?);
            if let Some(a) = argv.get(5) {
                is_bit = unit(a)?;
            }
            if let Some(a) = argv.get(4) {
                end = Some(parse_i64(a).ok_or(Error::NOT_INT)?);
            }
        }
        _ => return Err(Error::SYNTAX),
    }
    out.int(bm::pos(s, bit, start, end, is_bit));
    Ok(())
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
fn bitop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let op = [("and", Op::And), ("or", Op::Or), ("xor", Op::Xor), ("not", Op::Not)]
        .into_iter()
        .find(|(n, _)| Ctx::is(&argv[1], n))
        .map(|(_, o)| o)
        .ok_or(Error::SYNTAX)?;
    if op == Op::Not && argv.len() != 4 {
        return Err(Error::err("BITOP NOT must be called with a single source key."));
    }
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let mut srcs: Vec<Vec<u8>> = Vec::with_capacity(argv.len() - 3);
    for k in &argv[3..] {
        match db.lookup_read(k, now, acc) {
            None => srcs.push(Vec::new()),
            Some(e) => {
                let mut buf = itoa::Buffer::new();
                srcs.push(str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?.to_vec());
            }
        }
    }
    let refs: Vec<&[u8]> = srcs.iter().map(|s| &s[..]).collect();
    let res = bm::bitop(op, &refs);
    let len = res.len();
    let dest = &argv[2];
    if len > 0 {
        db.write(dest, Value::Str(Cow::Owned(res)), Ttl::Set(None), TAG_RAW, now, acc);
        ctx.dirty(1);
        ctx.notify(ev::STRING, "set", dest);
    } else if db.delete_stored(dest) {
        ctx.dirty(1);
        ctx.notify(ev::GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

struct Field {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]]
fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

/// BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]
fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], ro: bool) -> CmdResult {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest = 0u64;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let a = &argv[j][..];
        let op = if Ctx::is(a, "get") && rem >= 2 {
            FieldOp::Get
        } else if Ctx::is(a, "set") && rem >= 3 {
            FieldOp::Set
        } else if Ctx::is(a, "incrby") && rem >= 3 {
            FieldOp::Incrby
        } else if Ctx::is(a, "overflow") && rem >= 1 {
            let t = &argv[j + 1][..];
            overflow = if Ctx::is(t, "wrap") {
                Overflow::Wrap
            } else if Ctx::is(t, "sat") {
                Overflow::Sat
            } else if Ctx::is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(Error::SYNTAX);
        };
        let ty = FieldType::parse(&argv[j + 1]).ok_or(BAD_TYPE)?;
        let offset = bit_offset(ctx, &argv[j + 2], Some(ty.bits))?;
        let mut value = 0;
        if op != FieldOp::Get {
            highest = highest.max(offset + u64::from(ty.bits) - 1);
            value = parse_i64(&argv[j + 3]).ok_or(Error::NOT_INT)?;
        }
        ops.push(Field { op, ty, offset, value, overflow });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let readonly = ops.iter().all(|o| o.op == FieldOp::Get);
    let (now, acc) = (ctx.now, access(ctx));
    if readonly {
        let (db, out) = ctx.db_out();
        let mut buf = itoa::Buffer::new();
        // Only GETs: it reads the key (BITFIELD_RO and BITFIELD alike).
        let s: &[u8] = match db.lookup_read(&argv[1], now, acc) {
            None => &[],
            Some(e) => str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?,
        };
        out.array(ops.len());
        for o in &ops {
            if o.ty.signed {
                out.int(bm::get_signed(s, o.offset, o.ty.bits));
            } else {
                out.int(bm::get_unsigned(s, o.offset, o.ty.bits) as i64);
            }
        }
        return Ok(());
    }
    if ro {
        return Err(Error::err("BITFIELD_RO only supports the GET subcommand"));
    }
    let grew = string_for_bits(ctx, &argv[1], highest)?;
    let (db, out) = ctx.db_out();
    let s = bits_mut(db, &argv[1], now);
    out.array(ops.len());
    // As Redis: a write that ran (not a failed OVERFLOW FAIL) notifies when the string was
    // made or grown for it, or when a write changed a stored bit.
    let mut written = 0;
    let mut changes = 0;
    for o in &ops {
        let bits = o.ty.bits;
        if o.op == FieldOp::Get {
            if o.ty.signed {
                out.int(bm::get_signed(s, o.offset, bits));
            } else {
                out.int(bm::get_unsigned(s, o.offset, bits) as i64);
            }
            continue;
        }
        // The field as stored, read once: the old value, and what tells a change.
        let raw = bm::get_unsigned(s, o.offset, bits);
        let (reply, newval) = if o.ty.signed {
            let old = bm::sign_extend(raw, bits);
            let incr = o.op == FieldOp::Incrby;
            let r = if incr {
                bm::add_signed(old, o.value, bits, o.overflow)
            } else {
                bm::add_signed(o.value, 0, bits, o.overflow)
            };
            match r {
                Ok(v) | Err(Some(v)) => (Some(if incr { v } else { old }), v as u64),
                Err(None) => (None, 0),
            }
        } else {
            let old = raw;
            let incr = o.op == FieldOp::Incrby;
            let r = if incr {
                bm::add_unsigned(old, o.value, bits, o.overflow)
            } else {
                bm::add_unsigned(o.value as u64, 0, bits, o.overflow)
            };
            match r {
                Ok(v) | Err(Some(v)) => (Some(if incr { v as i64 } else { old as i64 }), v),
                Err(None) => (None, 0),
            }
        };
        match reply {
            Some(r) => {
                out.int(r);
                bm::set_field(s, o.offset, bits, newval);
                written += 1;
                let mask = u64::MAX >> (64 - bits);
                if newval & mask != raw {
                    changes += 1;
                }
            }
            // An OVERFLOW FAIL that failed changes nothing (Redis does not count it).
            None => out.null(),
        }
    }
    if written > 0 && (grew || changes > 0) {
        ctx.dirty(written);
        ctx.notify(ev::STRING, "setbit", &argv[1]);
    }
    Ok(())
}
