//! SORT and SORT_RO.
//!
//! As in Redis 7.0: options are parsed first, then the key is looked up (a missing key sorts as
//! an empty list). Lists and sorted sets keep their own order under a BY pattern without `*`
//! (`BY nosort`), reversed by DESC, and only the LIMIT window is read from them; a set keeps its
//! iteration order, except with STORE, where it is sorted ALPHA so that what is stored does not
//! depend on the set's internals. A sorted set is converted to its skiplist encoding for good,
//! as Redis does. `SORT ... STORE` is propagated as called (it only counts as a change when it
//! stored something or deleted the destination).

use std::borrow::Cow;

use bytes::Bytes;

use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{Access, Db, Ttl, Value, ValueRef};
use crate::types::list::{End, List};
use crate::types::sort::{self as order, Item, Order, Pattern};
use crate::types::Object;
use crate::util::num::{parse_f64_strtod, parse_i64};

pub const HANDLERS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

const NOT_DOUBLE: Error =
    Error(Cow::Borrowed("ERR One or more scores can't be converted into double"));

/// The options of one SORT call.
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    store: Option<&'a Bytes>,
    /// The last BY pattern.
    by: Option<&'a [u8]>,
    /// Set by any BY pattern without `*`, and never unset.
    dontsort: bool,
    gets: Vec<Pattern<'a>>,
}

/// Parses the options after the key, in Redis's order of checks.
fn parse_opts<'a>(ctx: &Ctx, argv: &'a [Bytes], readonly: bool) -> Result<Opts<'a>, Error> {
    let args = &argv[2..];
    let cluster = ctx.core.cfg.cluster_enabled;
    // BY and GET patterns read keys the ACL cannot see in the arguments: they need a user that
    // may read every key (the master's stream and the AOF are obeyed whatever the rules).
    let reads_all = || {
        let c = &*ctx.client;
        c.flags.master
            || c.aof_loader
            || ctx
                .core
                .acl
                .user(c.user.as_bytes())
                .is_none_or(|u| u.reads_every_key_for(ctx.cmd, argv))
    };
    let mut o = Opts {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 0;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if Ctx::is(a, "asc") {
            o.desc = false;
        } else if Ctx::is(a, "desc") {
            o.desc = true;
        } else if Ctx::is(a, "alpha") {
            o.alpha = true;
        } else if Ctx::is(a, "limit") && left >= 2 {
            o.offset = parse_i64(&args[j + 1]).ok_or(Error::NOT_INT)?;
            o.count = parse_i64(&args[j + 2]).ok_or(Error::NOT_INT)?;
            j += 2;
        } else if !readonly && Ctx::is(a, "store") && left >= 1 {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if Ctx::is(a, "by") && left >= 1 {
            let p = &args[j + 1];
            o.by = Some(p);
            if !order::by_sorts(p) {
                o.dontsort = true;
            } else if cluster {
                return Err(Error::err("BY option of SORT denied in Cluster mode."));
            } else if !reads_all() {
                return Err(Error::err(
                    "BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            j += 1;
        } else if Ctx::is(a, "get") && left >= 1 {
            if cluster {
                return Err(Error::err("GET option of SORT denied in Cluster mode."));
            }
            if !reads_all() {
                return Err(Error::err(
                    "GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(Pattern::parse(&args[j + 1]));
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What `pat` finds for `elem`: the element itself, the string at the key it names, or the field
/// of the hash there. A missing key or field, or another type, is None.
fn lookup<'d>(
    db: &'d mut Db,
    pat: &Pattern,
    elem: &'d [u8],
    now: i64,
    acc: Access,
) -> Option<Cow<'d, [u8]>> {
    if *pat == Pattern::Element {
        return Some(Cow::Borrowed(elem));
    }
    let key = pat.key(elem)?;
    let e = db.lookup_read(&key, now, acc)?;
    match pat.field() {
        Some(f) => match e.obj() {
            Some(Object::Hash(h)) => h.get(f).map(Cow::Borrowed),
            _ => None,
        },
        None => match e.value() {
            ValueRef::Str(s) => Some(Cow::Borrowed(s)),
            ValueRef::Int(n) => Some(Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())),
            ValueRef::Obj(_) => None,
        },
    }
}

/// The elements to sort, and the window of them to reply with (first index, count). Under
/// `dontsort`, lists and sorted sets give only their window, in their order (reversed by `desc`).
fn load(
    db: &mut Db,
    key: &[u8],
    o: &mut Opts,
    now: i64,
    acc: Access,
) -> Result<(Vec<Item>, usize, usize), Error> {
    let Some(e) = db.lookup_read(key, now, acc) else { return Ok((Vec::new(), 0, 0)) };
    let len = match e.obj() {
        Some(v @ (Object::List(_) | Object::Set(_) | Object::ZSet(_))) => v.len(),
        _ => return Err(Error::WRONG_TYPE),
    };
    if o.dontsort && o.store.is_some() && matches!(e.obj(), Some(Object::Set(_))) {
        // What is stored must not depend on the set's encoding or hash order.
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let (start, n) = order::window(len, o.offset, o.count);
    let own = |m: &[u8]| Item::new(m.to_vec());
    let mut items = Vec::new();
    match e.obj_mut() {
        Some(Object::List(l)) if o.dontsort => {
            if o.desc {
                items.extend(l.range(len - start - n, n).map(own));
                items.reverse();
            } else {
                items.extend(l.range(start, n).map(own));
            }
            return Ok((items, 0, n));
        }
        Some(Object::List(l)) => items.extend(l.iter().map(own)),
        Some(Object::Set(s)) => {
            let mut buf = itoa::Buffer::new();
            items.extend(s.iter().map(|m| own(m.bytes(&mut buf))));
        }
        Some(Object::ZSet(z)) => {
            z.convert_to_skiplist();
            if o.dontsort {
                let lo = if o.desc { len - start - n } else { start };
                z.for_range(lo, lo + n, o.desc, |m, _| items.push(own(m)));
                return Ok((items, 0, n));
            }
            z.for_range(0, len, false, |m, _| items.push(own(m)));
        }
        _ => unreachable!("type checked above"),
    }
    Ok((items, start, n))
}

fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = parse_opts(ctx, argv, readonly)?;
    let (now, acc) = (ctx.now, access(ctx));
    let fill = ctx.core.cfg.list_max_listpack_size;
    let db = ctx.db();
    let (mut items, start, n) = load(db, &argv[1], &mut o, now, acc)?;

    if !o.dontsort {
        let by = o.by.map(Pattern::parse);
        let mut bad = false;
        for it in &mut items {
            let val = match &by {
                Some(p) => match lookup(db, p, &it.elem, now, acc) {
                    Some(v) => v.into_owned(),
                    None => continue,
                },
                None => {
                    if !o.alpha {
                        match parse_f64_strtod(&it.elem) {
                            Some(s) => it.score = s,
                            None => bad = true,
                        }
                    }
                    continue;
                }
            };
            if o.alpha {
                it.by = Some(val);
            } else {
                match parse_f64_strtod(&val) {
                    Some(s) => it.score = s,
                    None => bad = true,
                }
            }
        }
        if bad {
            return Err(NOT_DOUBLE);
        }
        let ord = if o.alpha {
            Order::Alpha { by: o.by.is_some(), binary: o.store.is_some() }
        } else {
            Order::Numeric
        };
        order::sort(&mut items, ord, o.desc);
    }

    let window = &items[start..start + n];
    let per = o.gets.len().max(1);
    match o.store {
        None => {
            let (db, out) = ctx.db_out();
            out.array(n * per);
            for it in window {
                if o.gets.is_empty() {
                    out.bulk(&it.elem);
                }
                for g in &o.gets {
                    match lookup(db, g, &it.elem, now, acc) {
                        Some(v) => out.bulk(&v),
                        None => out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut l = List::new();
            for it in window {
                if o.gets.is_empty() {
                    l.push(End::Tail, &it.elem, fill);
                }
                for g in &o.gets {
                    let v = lookup(db, g, &it.elem, now, acc);
                    l.push(End::Tail, v.as_deref().unwrap_or_default(), fill);
                }
            }
            let stored = l.len();
            if stored > 0 {
                let v = Value::Obj(Box::new(Object::List(l)));
                db.write(dst, v, Ttl::Set(None), 0, now, acc);
                ctx.dirty(stored as u64);
                ctx.notify(ev::LIST, "sortstore", dst);
            } else if db.delete_stored(dst) {
                ctx.dirty(1);
                ctx.notify(ev::GENERIC, "del", dst);
            }
            ctx.out.int(stored as i64);
        }
    }
    Ok(())
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}
