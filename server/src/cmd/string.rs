//! String commands.
//!
//! Values are stored as Redis would encode them: a canonical decimal integer as an integer
//! (`int`), anything else as bytes; OBJECT ENCODING tells `embstr` from `raw` by length and by the
//! record's `TAG_RAW` bit, which APPEND and SETRANGE set (Redis turns a string it changes in
//! place into `raw`). Writes are propagated as Redis 7.0 rewrites them: relative expiries become
//! `SET ... PXAT` / `PEXPIREAT`, INCRBYFLOAT becomes `SET ... KEEPTTL`, GETDEL becomes `DEL`.

use std::borrow::Cow;

use bytes::Bytes;

use super::keys::del_for;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{new_value_tag, str_bytes, Access, Ttl, Value, ValueRef, TAG_RAW};
use crate::types::string as strops;
use crate::util::num::{incr_by_float, parse_i64};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("append", append),
    ("decr", decr),
    ("decrby", decrby),
    ("get", get),
    ("getdel", getdel),
    ("getex", getex),
    ("getrange", getrange),
    ("getset", getset),
    ("incr", incr),
    ("incrby", incrby),
    ("incrbyfloat", incrbyfloat),
    ("lcs", lcs),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("psetex", psetex),
    ("set", set),
    ("setex", setex),
    ("setnx", setnx),
    ("setrange", setrange),
    ("strlen", strlen),
    ("substr", substr),
];

pub(crate) fn access(ctx: &Ctx) -> Access {
    Access::of(ctx.core, ctx.client)
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// Writes the string value of `v` as a bulk reply, or fails with WRONGTYPE.
fn reply_value(out: &mut crate::resp::Reply, v: ValueRef) -> CmdResult {
    match v {
        ValueRef::Str(s) => out.bulk(s),
        ValueRef::Int(n) => out.bulk_int(n),
        ValueRef::Obj(_) => return Err(Error::WRONG_TYPE),
    }
    Ok(())
}

/// The expiry options of SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Default)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpKind, &'a [u8])>,
}

/// Parses SET's (`for_set`) or GETEX's options from `argv[start..]`, with Redis's rules for
/// which options exclude which (any conflict is a syntax error; a repeated EX is not).
fn parse_ext(argv: &[Bytes], start: usize, for_set: bool) -> Result<ExtOpts<'_>, Error> {
    let mut o = ExtOpts::default();
    let mut j = start;
    while j < argv.len() {
        let a = &argv[j][..];
        let next = argv.get(j + 1);
        let kind = o.expire.map(|(k, _)| k);
        let exp_ok = |k: ExpKind| {
            !o.keepttl && !o.persist && kind.is_none_or(|cur| cur == k) && next.is_some()
        };
        if for_set && Ctx::is(a, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && Ctx::is(a, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && Ctx::is(a, "get") {
            o.get = true;
        } else if for_set && Ctx::is(a, "keepttl") && !o.persist && kind.is_none() {
            o.keepttl = true;
        } else if !for_set && Ctx::is(a, "persist") && kind.is_none() && !o.keepttl {
            o.persist = true;
        } else if let Some(k) = [
            ("ex", ExpKind::Ex),
            ("px", ExpKind::Px),
            ("exat", ExpKind::ExAt),
            ("pxat", ExpKind::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| Ctx::is(a, name))
        .map(|(_, k)| k)
        .filter(|&k| exp_ok(k))
        {
            o.expire = Some((k, &argv[j + 1][..]));
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The absolute expiry in unix ms for an EX/PX/EXAT/PXAT argument, with Redis's checks.
fn expire_ms(ctx: &Ctx, kind: ExpKind, arg: &[u8]) -> Result<i64, Error> {
    let v = parse_i64(arg).ok_or(Error::NOT_INT)?;
    let seconds = matches!(kind, ExpKind::Ex | ExpKind::ExAt);
    let bad = || Error::invalid_expire(ctx.cmd.fullname);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(kind, ExpKind::Ex | ExpKind::Px) {
        ms = ms.checked_add(ctx.wall_ms()).ok_or_else(bad)?;
    }
    if ms <= 0 {
        return Err(bad());
    }
    Ok(ms)
}

/// How SET-like commands answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReply {
    /// `+OK`, or a null bulk when NX/XX stops it (SET, SETEX, PSETEX).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

fn set_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    key: &Bytes,
    val: &Bytes,
    o: ExtOpts,
    how: SetReply,
) -> CmdResult {
    let expire = match o.expire {
        Some((kind, arg)) => Some(expire_ms(ctx, kind, arg)?),
        None => None,
    };
    let (now, acc, tag) = (ctx.now, access(ctx), new_value_tag(&ctx.core.cfg));
    // The write counts as one access to an existing key (Redis looks it up for writing).
    let mut write_acc = acc;
    if o.get || o.nx || o.xx {
        let (db, out) = ctx.db_out();
        // SET ... GET reads the key as GET does.
        let e = if o.get { db.lookup_read(key, now, acc) } else { db.lookup(key, now, acc) };
        let found = match e {
            Some(e) => {
                if o.get {
                    reply_value(out, e.value())?;
                    // With GET Redis reads the key, then looks it up again for writing.
                    acc.apply(e);
                }
                true
            }
            None => {
                if o.get {
                    out.null();
                }
                false
            }
        };
        let out = &mut ctx.out;
        write_acc = Access { touch: false, ..acc };
        if (o.nx && found) || (o.xx && !found) {
            match (o.get, how) {
                (true, _) => {}
                (false, SetReply::Ok) => out.null(),
                (false, SetReply::Int) => out.int(0),
            }
            return Ok(());
        }
    }
    let ttl = if o.keepttl { Ttl::Keep } else { Ttl::Set(expire) };
    ctx.db().write(key, Value::string(val), ttl, tag, now, write_acc);
    ctx.dirty(1);
    ctx.notify(ev::STRING, "set", key);
    if expire.is_some() {
        ctx.notify(ev::GENERIC, "expire", key);
    }
    if !o.get {
        match how {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
    if let Some(ms) = expire {
        ctx.propagate(vec![b("SET"), key.clone(), val.clone(), b("PXAT"), int_bytes(ms)]);
    } else if o.get {
        let kept = argv
            .iter()
            .enumerate()
            .filter(|(i, a)| *i < 3 || !Ctx::is(a, "get"))
            .map(|(_, a)| a.clone());
        ctx.propagate(kept.collect());
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_ext(argv, 3, true)?;
    set_generic(ctx, argv, &argv[1], &argv[2], o, SetReply::Ok)
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = ExtOpts { nx: true, ..Default::default() };
    set_generic(ctx, argv, &argv[1], &argv[2], o, SetReply::Int)
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = ExtOpts { expire: Some((ExpKind::Ex, &argv[2][..])), ..Default::default() };
    set_generic(ctx, argv, &argv[1], &argv[3], o, SetReply::Ok)
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = ExtOpts { expire: Some((ExpKind::Px, &argv[2][..])), ..Default::default() };
    set_generic(ctx, argv, &argv[1], &argv[3], o, SetReply::Ok)
}

/// GET key
fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    match db.lookup(&argv[1], now, acc) {
        None => out.null(),
        Some(e) => reply_value(out, e.value())?,
    }
    Ok(())
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    match db.lookup_read(&argv[1], now, acc) {
        None => {
            out.null();
            return Ok(());
        }
        Some(e) => reply_value(out, e.value())?,
    }
    db.remove(&argv[1]);
    ctx.dirty(1);
    ctx.notify(ev::GENERIC, "del", &argv[1]);
    let del = del_for(ctx.core.cfg.lazyfree_lazy_user_del);
    ctx.propagate(vec![del, argv[1].clone()]);
    Ok(())
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_ext(argv, 2, false)?;
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let had_ttl = {
        let (db, out) = ctx.db_out();
        let Some(e) = db.lookup_read(key, now, acc) else {
            out.null();
            return Ok(());
        };
        if !e.is_string() {
            return Err(Error::WRONG_TYPE);
        }
        e.expire_at().is_some()
    };
    let expire = match o.expire {
        Some((kind, arg)) => Some((kind, expire_ms(ctx, kind, arg)?)),
        None => None,
    };
    let (db, out) = ctx.db_out();
    reply_value(out, db.peek(key, now).expect("looked up above").value())?;
    match expire {
        Some((ExpKind::ExAt | ExpKind::PxAt, ms)) if ms <= now && !crate::keyspace::loading() => {
            db.remove(key);
            ctx.dirty(1);
            ctx.notify(ev::GENERIC, "del", key);
            let del = del_for(ctx.core.cfg.lazyfree_lazy_expire);
            ctx.propagate(vec![del, key.clone()]);
        }
        Some((_, ms)) => {
            db.set_expire(key, Some(ms));
            ctx.dirty(1);
            ctx.notify(ev::GENERIC, "expire", key);
            ctx.propagate(vec![b("PEXPIREAT"), key.clone(), int_bytes(ms)]);
        }
        None if o.persist && had_ttl => {
            db.set_expire(key, None);
            ctx.dirty(1);
            ctx.notify(ev::GENERIC, "persist", key);
            ctx.propagate(vec![b("PERSIST"), key.clone()]);
        }
        None => {}
    }
    Ok(())
}

/// GETSET key value
fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc, tag) = (ctx.now, access(ctx), new_value_tag(&ctx.core.cfg));
    let (db, out) = ctx.db_out();
    match db.lookup_read(&argv[1], now, acc) {
        None => out.null(),
        Some(e) => reply_value(out, e.value())?,
    }
    db.write(&argv[1], Value::string(&argv[2]), Ttl::Set(None), tag, now, acc);
    ctx.dirty(1);
    ctx.notify(ev::STRING, "set", &argv[1]);
    ctx.propagate(vec![b("SET"), argv[1].clone(), argv[2].clone()]);
    Ok(())
}

/// GETRANGE key start end
fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    let end = parse_i64(&argv[3]).ok_or(Error::NOT_INT)?;
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(e) = db.lookup(&argv[1], now, acc) else {
        out.bulk(b"");
        return Ok(());
    };
    let mut buf = itoa::Buffer::new();
    let s = str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?;
    out.bulk(strops::range(s, start, end));
    Ok(())
}

/// SUBSTR key start end
fn substr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    getrange(ctx, argv)
}

/// STRLEN key
fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let n = match db.lookup(&argv[1], now, acc) {
        None => 0,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?.len()
        }
    };
    out.int(n as i64);
    Ok(())
}

/// Checks that a string of `len + add` bytes is within proto-max-bulk-len.
fn check_len(ctx: &Ctx, len: u64, add: u64) -> CmdResult {
    match len.checked_add(add) {
        Some(t) if t <= ctx.core.cfg.proto_max_bulk_len.max(0) as u64 => Ok(()),
        _ => Err(Error::STRING_TOO_LONG),
    }
}

/// APPEND key value
fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (key, val) = (&argv[1], &argv[2]);
    let cur_len = match ctx.db().lookup(key, now, acc) {
        None => None,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            Some(str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?.len())
        }
    };
    let total = match cur_len {
        None => {
            let tag = new_value_tag(&ctx.core.cfg);
            ctx.db().add(key, Value::string(val), None, tag, acc);
            val.len()
        }
        Some(len) => {
            check_len(ctx, len as u64, val.len() as u64)?;
            let e = ctx.db().peek(key, now).expect("looked up above");
            let n = e.str_append(val).expect("a string");
            e.set_tag(TAG_RAW);
            n
        }
    };
    ctx.dirty(1);
    ctx.notify(ev::STRING, "append", key);
    ctx.out.int(total as i64);
    Ok(())
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    if offset < 0 {
        return Err(Error::err("offset is out of range"));
    }
    let (now, acc) = (ctx.now, access(ctx));
    let (key, val) = (&argv[1], &argv[3]);
    let cur_len = match ctx.db().lookup(key, now, acc) {
        None => None,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            Some(str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?.len())
        }
    };
    if val.is_empty() {
        ctx.out.int(cur_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_len(ctx, offset as u64, val.len() as u64)?;
    let offset = offset as usize;
    let total = match cur_len {
        None => {
            let mut s = vec![0u8; offset + val.len()];
            s[offset..].copy_from_slice(val);
            ctx.db().add(key, Value::Str(Cow::Owned(s)), None, TAG_RAW, acc);
            offset + val.len()
        }
        Some(_) => {
            let e = ctx.db().peek(key, now).expect("looked up above");
            let n = e.str_setrange(offset, val).expect("a string");
            e.set_tag(TAG_RAW);
            n
        }
    };
    ctx.dirty(1);
    ctx.notify(ev::STRING, "setrange", key);
    ctx.out.int(total as i64);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], incr: i64) -> CmdResult {
    let (now, acc, tag) = (ctx.now, access(ctx), new_value_tag(&ctx.core.cfg));
    let db = ctx.db();
    let new = match db.lookup(key, now, acc) {
        Some(e) => {
            let cur = match e.value() {
                ValueRef::Int(n) => n,
                ValueRef::Str(s) => parse_i64(s).ok_or(Error::NOT_INT)?,
                ValueRef::Obj(_) => return Err(Error::WRONG_TYPE),
            };
            let new = cur.checked_add(incr).ok_or(Error::OVERFLOW)?;
            e.set_value(Value::Int(new));
            e.set_tag(tag);
            new
        }
        None => {
            db.add(key, Value::Int(incr), None, tag, acc);
            incr
        }
    };
    ctx.dirty(1);
    ctx.notify(ev::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    incr_generic(ctx, &argv[1], n)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    if n == i64::MIN {
        return Err(Error::err("decrement would overflow"));
    }
    incr_generic(ctx, &argv[1], -n)
}

/// INCRBYFLOAT key increment
fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    let (exists, result) = {
        let db = ctx.db();
        let e = db.lookup(key, now, acc);
        let exists = e.is_some();
        let mut buf = itoa::Buffer::new();
        let cur: &[u8] = match &e {
            None => b"0",
            Some(e) => str_bytes(e.value(), &mut buf).ok_or(Error::WRONG_TYPE)?,
        };
        let r = incr_by_float(cur, &argv[2]).map_err(|e| Error::msg(e.message()))?;
        (exists, r)
    };
    let db = ctx.db();
    if exists {
        let e = db.peek(key, now).expect("looked up above");
        e.set_value(Value::Str(Cow::Borrowed(&result)));
        e.set_tag(0);
    } else {
        db.add(key, Value::Str(Cow::Borrowed(&result)), None, 0, acc);
    }
    ctx.dirty(1);
    ctx.notify(ev::STRING, "incrbyfloat", key);
    ctx.out.bulk(&result);
    ctx.propagate(vec![b("SET"), key.clone(), Bytes::from(result), b("KEEPTTL")]);
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    out.array(argv.len() - 1);
    for k in &argv[1..] {
        match db.lookup(k, now, acc).map(|e| e.value()) {
            Some(ValueRef::Str(s)) => out.bulk(s),
            Some(ValueRef::Int(n)) => out.bulk_int(n),
            _ => out.null(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(Error::arity(ctx.cmd.fullname));
    }
    let (now, acc, tag) = (ctx.now, access(ctx), new_value_tag(&ctx.core.cfg));
    let db = ctx.db();
    if nx && argv[1..].chunks(2).any(|kv| db.lookup(&kv[0], now, acc).is_some()) {
        ctx.out.int(0);
        return Ok(());
    }
    for kv in argv[1..].chunks(2) {
        ctx.db().write(&kv[0], Value::string(&kv[1]), Ttl::Set(None), tag, now, acc);
        ctx.notify(ev::STRING, "set", &kv[0]);
    }
    ctx.dirty((argv.len() as u64 - 1) / 2);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let mut strs: [Vec<u8>; 2] = Default::default();
    let mut wrong_type = false;
    for (i, k) in argv[1..3].iter().enumerate() {
        if let Some(e) = ctx.db().lookup(k, now, acc) {
            let mut buf = itoa::Buffer::new();
            match str_bytes(e.value(), &mut buf) {
                Some(s) => strs[i] = s.to_vec(),
                None => wrong_type = true,
            }
        }
    }
    if wrong_type {
        return Err(Error::err("The specified keys must contain string values"));
    }
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let a = &argv[j][..];
        if Ctx::is(a, "idx") {
            get_idx = true;
        } else if Ctx::is(a, "len") {
            get_len = true;
        } else if Ctx::is(a, "withmatchlen") {
            with_len = true;
        } else if Ctx::is(a, "minmatchlen") && j + 1 < argv.len() {
            min_len = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?.max(0);
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    if get_idx && get_len {
        return Err(Error::err("If you want both the length and indexes, please just use IDX."));
    }
    let [a, bb] = &strs;
    if a.len() >= u32::MAX as usize - 1 || bb.len() >= u32::MAX as usize - 1 {
        return Err(Error::err("String too long for LCS"));
    }
    let cells = (a.len() as u64 + 1) * (bb.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.core.cfg.proto_max_bulk_len.max(0) as u64 {
        return Err(Error::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = strops::LcsTable::new(a, bb).ok_or_else(|| {
        Error::err("Insufficient memory, failed allocating transient memory for LCS")
    })?;
    let out = &mut ctx.out;
    if get_idx {
        let (_, ranges) = table.walk(a, bb, false);
        let shown: Vec<_> =
            ranges.iter().filter(|r| min_len == 0 || r.len() as i64 >= min_len).collect();
        out.map(2);
        out.bulk(b"matches");
        out.array(shown.len());
        for r in shown {
            out.array(2 + with_len as usize);
            for (s, e) in [(r.a_start, r.a_end), (r.b_start, r.b_end)] {
                out.array(2);
                out.int(s as i64);
                out.int(e as i64);
            }
            if with_len {
                out.int(r.len() as i64);
            }
        }
        out.bulk(b"len");
        out.int(table.len() as i64);
    } else if get_len {
        out.int(table.len() as i64);
    } else {
        let (s, _) = table.walk(a, bb, true);
        out.bulk(&s);
    }
    Ok(())
}
