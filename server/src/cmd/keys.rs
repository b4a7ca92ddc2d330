//! Generic key commands, and the database-wide ones (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).

use bytes::Bytes;
use rand::thread_rng;

use super::string::access;
use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{self, dup_value, Access, Db, Lru};
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;
use vireo_module_api::abi::server_event as SE;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("copy", copy),
    ("dbsize", dbsize),
    ("del", del),
    ("exists", exists),
    ("expire", expire),
    ("expireat", expireat),
    ("expiretime", expiretime),
    ("flushall", flushall),
    ("flushdb", flushdb),
    ("keys", keys),
    ("move", move_),
    ("object|encoding", object_encoding),
    ("object|freq", object_freq),
    ("object|help", object_help),
    ("object|idletime", object_idletime),
    ("object|refcount", object_refcount),
    ("persist", persist),
    ("pexpire", pexpire),
    ("pexpireat", pexpireat),
    ("pexpiretime", pexpiretime),
    ("pttl", pttl),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("scan", scan),
    ("swapdb", swapdb),
    ("touch", touch),
    ("ttl", ttl),
    ("type", type_),
    ("unlink", unlink),
];

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// The command a deletion is propagated as: UNLINK when the matching `lazyfree-lazy-*` option
/// is on, else DEL.
pub(crate) fn del_for(lazy: bool) -> Bytes {
    b(if lazy { "UNLINK" } else { "DEL" })
}

const SAME_OBJECT: Error =
    Error(std::borrow::Cow::Borrowed("ERR source and destination objects are the same"));

/// An `int` argument as Redis's getIntFromObjectOrReply reads it.
pub(super) fn parse_int32(arg: &[u8]) -> Result<i32, Error> {
    let n = parse_i64(arg).ok_or(Error::NOT_INT)?;
    i32::try_from(n).map_err(|_| {
        Error::err("value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// A database index, or `ERR DB index is out of range`.
pub(super) fn db_index(ctx: &Ctx, n: i32) -> Result<usize, Error> {
    usize::try_from(n).ok().filter(|&i| i < ctx.core.dbs.len()).ok_or(Error::DB_INDEX)
}

/// DEL key [key ...]
fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.db().delete(k, now).is_some() {
            n += 1;
            ctx.key_modified(k);
            ctx.notify(ev::GENERIC, "del", k);
        }
    }
    ctx.dirty(n as u64);
    ctx.out.int(n);
    Ok(())
}

/// UNLINK key [key ...]
fn unlink(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Strings are freed in O(1); collections will be handed to a background thread when large.
    del(ctx, argv)
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let n = argv[1..].iter().filter(|k| db.peek(k, now).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx).forced());
    let db = ctx.db();
    let n = argv[1..].iter().filter(|k| db.lookup(k, now, acc).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TYPE key
fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    out.simple(db.peek(&argv[1], now).map_or("none", |e| keyspace::type_name(e)));
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (src, dst) = (&argv[1], &argv[2]);
    let db = ctx.db();
    if db.lookup(src, now, acc).is_none() {
        return Err(Error::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if db.lookup(dst, now, acc).is_some() {
        if nx {
            ctx.out.int(0);
            return Ok(());
        }
        db.remove(dst);
    }
    let e = db.remove(src).expect("looked up above");
    db.insert(e.rekey(dst));
    ctx.dirty(1);
    ctx.notify(ev::GENERIC, "rename_from", src);
    ctx.notify(ev::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// KEYS pattern
fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let pat = &argv[1][..];
    let all = pat == b"*";
    let (db, out) = ctx.db_out();
    let mut found: Vec<&[u8]> = Vec::new();
    for e in db.table.iter() {
        let live = !matches!(e.expire_at(), Some(t) if t <= now);
        if live && (all || glob_match(pat, e.key(), false)) {
            found.push(e.key());
        }
    }
    out.bulks(found.into_iter());
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut cursor = super::parse_cursor(&argv[1]).ok_or_else(|| Error::err("invalid cursor"))?;
    let super::ScanOpts { count, pattern: pat, typ } = super::parse_scan_opts(&argv[2..], true)?;
    let now = ctx.now;
    let count = count as usize;
    let (db, out) = ctx.db_out();
    let mut found: Vec<(Bytes, bool)> = Vec::new();
    let mut budget = count.saturating_mul(10);
    loop {
        cursor = db.table.scan(cursor, |e| {
            if pat.is_some_and(|p| !glob_match(p, e.key(), false)) {
                return;
            }
            if typ.is_some_and(|t| !t.eq_ignore_ascii_case(keyspace::type_name(e).as_bytes())) {
                return;
            }
            let expired = matches!(e.expire_at(), Some(t) if t <= now);
            found.push((Bytes::copy_from_slice(e.key()), expired));
        });
        if cursor == 0 || budget == 0 || found.len() >= count {
            break;
        }
        budget -= 1;
    }
    // Expired keys are deleted (and propagated) rather than returned.
    found.retain(|(k, expired)| !*expired || db.peek(k, now).is_some());
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.bulks(found.iter().map(|(k, _)| k));
    Ok(())
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut rng = thread_rng();
    // A replica does not delete expired keys (its master does): when every key it picks is
    // expired it answers one of them after a while, as Redis does, rather than loop forever.
    let mut tries = if keyspace::replica() { 100 } else { u32::MAX };
    loop {
        let Some(e) = db.table.random(&mut rng) else {
            out.null();
            return Ok(());
        };
        tries -= 1;
        if !matches!(e.expire_at(), Some(t) if t <= now) || tries == 0 {
            out.bulk(e.key());
            return Ok(());
        }
        let k: Box<[u8]> = e.key().into();
        db.peek(&k, now);
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: `basetime` is 0 for the absolute forms.
fn expire_generic(ctx: &mut Ctx, argv: &[Bytes], basetime: i64, seconds: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &argv[3..] {
        if Ctx::is(a, "nx") {
            nx = true;
        } else if Ctx::is(a, "xx") {
            xx = true;
        } else if Ctx::is(a, "gt") {
            gt = true;
        } else if Ctx::is(a, "lt") {
            lt = true;
        } else {
            return Err(Error::err(format_args!(
                "Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::err("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(Error::err("GT and LT options at the same time are not compatible"));
    }
    let mut when = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    let bad = || Error::invalid_expire(ctx.cmd.fullname);
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(bad());
        }
        when *= 1000;
    }
    if when > i64::MAX - basetime {
        return Err(bad());
    }
    when += basetime;
    let (now, wall, acc) = (ctx.now, ctx.wall_ms(), access(ctx));
    let key = &argv[1];
    let db = ctx.db();
    let Some(e) = db.lookup(key, now, acc) else {
        ctx.out.int(0);
        return Ok(());
    };
    let cur = e.expire_at();
    let refused = (nx && cur.is_some())
        || (xx && cur.is_none())
        || (gt && cur.is_none_or(|c| when <= c))
        || (lt && cur.is_some_and(|c| when >= c));
    if refused {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= wall && !crate::keyspace::loading() {
        db.remove(key);
        ctx.notify(ev::GENERIC, "del", key);
        let del = del_for(ctx.core.cfg.lazyfree_lazy_expire);
        ctx.propagate(vec![del, key.clone()]);
    } else {
        db.set_expire(key, Some(when));
        ctx.notify(ev::GENERIC, "expire", key);
        if basetime != 0 || seconds {
            let mut rewritten = argv.to_vec();
            if !Ctx::is(&argv[0], "pexpireat") {
                rewritten[0] = b("PEXPIREAT");
            }
            rewritten[2] = int_bytes(when);
            ctx.propagate(rewritten);
        }
    }
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.wall_ms();
    expire_generic(ctx, argv, now, true)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.wall_ms();
    expire_generic(ctx, argv, now, false)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, 0, true)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, 0, false)
}

/// TTL and friends: `ms` for milliseconds, `abs` for the absolute time.
fn ttl_generic(ctx: &mut Ctx, argv: &[Bytes], ms: bool, abs: bool) -> CmdResult {
    let (now, wall) = (ctx.now, ctx.wall_ms());
    let (db, out) = ctx.db_out();
    let Some(e) = db.peek(&argv[1], now) else {
        out.int(-2);
        return Ok(());
    };
    match e.expire_at() {
        None => out.int(-1),
        Some(t) => {
            let v = if abs { t } else { t.saturating_sub(wall) }.max(0);
            // Rounded to the nearest second, without overflowing near i64::MAX.
            out.int(if ms { v } else { ((i128::from(v) + 500) / 1000) as i64 });
        }
    }
    Ok(())
}

/// TTL key
fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, false, false)
}

/// PTTL key
fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, true, false)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, false, true)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, true, true)
}

/// PERSIST key
fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let had = db.lookup(&argv[1], now, acc).is_some_and(|e| e.expire_at().is_some());
    if had {
        db.set_expire(&argv[1], None);
        ctx.dirty(1);
        ctx.notify(ev::GENERIC, "persist", &argv[1]);
    }
    ctx.out.int(had as i64);
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let src_id = ctx.client.db;
    let (mut dst_id, mut replace) = (src_id, false);
    let mut j = 3;
    while j < argv.len() {
        if Ctx::is(&argv[j], "replace") {
            replace = true;
        } else if Ctx::is(&argv[j], "db") && j + 1 < argv.len() {
            let n = parse_int32(&argv[j + 1])?;
            dst_id = db_index(ctx, n)?;
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let (key, newkey) = (&argv[1], &argv[2]);
    if src_id == dst_id && key == newkey {
        return Err(SAME_OBJECT);
    }
    let (now, acc) = (ctx.now, access(ctx));
    let Some(e) = ctx.core.dbs[src_id].lookup_read(key, now, acc) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (value, tag) = dup_value(e).map_err(|m| Error(m.into()))?;
    let expire_at = e.expire_at();
    let dst = &mut ctx.core.dbs[dst_id];
    let exists = dst.lookup(newkey, now, acc).is_some();
    if dst_id != src_id {
        super::propagate_lazy_expired(ctx.core, dst_id);
    }
    if exists {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.core.dbs[dst_id].remove(newkey);
    }
    ctx.core.dbs[dst_id].add(newkey, value, expire_at, tag, acc);
    if dst_id != src_id {
        ctx.core.watches.touch(&ctx.core.dbs[dst_id], newkey);
    }
    ctx.dirty(1);
    ctx.notify_db(ev::GENERIC, "copy_to", newkey, dst_id);
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db
fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = parse_int32(&argv[2])?;
    let dst_id = db_index(ctx, n)?;
    let src_id = ctx.client.db;
    if src_id == dst_id {
        return Err(SAME_OBJECT);
    }
    let (now, acc) = (ctx.now, access(ctx));
    let key = &argv[1];
    if ctx.core.dbs[src_id].lookup(key, now, acc).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let taken = ctx.core.dbs[dst_id].lookup(key, now, acc).is_some();
    super::propagate_lazy_expired(ctx.core, dst_id);
    if taken {
        ctx.out.int(0);
        return Ok(());
    }
    let e = ctx.core.dbs[src_id].remove(key).expect("looked up above");
    ctx.core.dbs[dst_id].insert(e);
    ctx.core.watches.touch(&ctx.core.dbs[dst_id], key);
    ctx.dirty(1);
    ctx.notify(ev::GENERIC, "move_from", key);
    ctx.notify_db(ev::GENERIC, "move_to", key, dst_id);
    ctx.out.int(1);
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_int32(&argv[1]).map_err(|_| Error::err("invalid first DB index"))?;
    let b2 = parse_int32(&argv[2]).map_err(|_| Error::err("invalid second DB index"))?;
    let (a, b2) = (db_index(ctx, a)?, db_index(ctx, b2)?);
    if a != b2 {
        let (dbs, now) = (&ctx.core.dbs, ctx.now);
        ctx.core.watches.touch_db(&dbs[a], Some(&dbs[b2]), now);
        ctx.core.watches.touch_db(&dbs[b2], Some(&dbs[a]), now);
        let (lo, hi) = (a.min(b2), a.max(b2));
        let (left, right) = ctx.core.dbs.split_at_mut(hi);
        left[lo].swap_contents(&mut right[0]);
    }
    let mut d = crate::module_host::events::data(SE::SWAPDB, 0, a as i64);
    d.other_db = b2 as i64;
    crate::module_host::events::fire(ctx.server, ctx.core, d);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// The LFU clock and decay time, if the eviction policy keeps LFU counters.
fn lfu_policy(ctx: &Ctx) -> Option<(u16, u32)> {
    match Access::of(ctx.core, ctx.client).lru {
        Lru::Lfu { minutes, decay_time, .. } => Some((minutes, decay_time)),
        Lru::Clock(_) => None,
    }
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.peek(&argv[2], now) {
        None => out.null(),
        Some(e) => out.bulk(keyspace::encoding_name(e).as_bytes()),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.peek(&argv[2], now) {
        None => out.null(),
        Some(e) => out.int(keyspace::refcount(e, true)),
    }
    Ok(())
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, lfu, clock) = (ctx.now, lfu_policy(ctx), ctx.core.lru_clock);
    let (db, out) = ctx.db_out();
    let Some(e) = db.peek(&argv[2], now) else {
        out.null();
        return Ok(());
    };
    if lfu.is_some() {
        return Err(Error::err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    out.int((keyspace::idle_ms(e.lru(), clock) / 1000) as i64);
    Ok(())
}

/// OBJECT FREQ key
fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, lfu) = (ctx.now, lfu_policy(ctx));
    let (db, out) = ctx.db_out();
    let Some(e) = db.peek(&argv[2], now) else {
        out.null();
        return Ok(());
    };
    let Some((minutes, decay)) = lfu else {
        return Err(Error::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note \
             that when switching between policies at runtime LRU and LFU data will take some time \
             to adjust.",
        ));
    };
    out.int(i64::from(keyspace::lfu_decr(e.lru(), minutes, decay)));
    Ok(())
}

/// OBJECT HELP
fn object_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
    Ok(())
}

/// The `[ASYNC | SYNC]` argument of FLUSHDB and FLUSHALL: true for asynchronous.
fn flush_mode(ctx: &Ctx, argv: &[Bytes]) -> Result<bool, Error> {
    match argv.len() {
        1 => Ok(ctx.core.cfg.lazyfree_lazy_user_flush),
        2 if Ctx::is(&argv[1], "sync") => Ok(false),
        2 if Ctx::is(&argv[1], "async") => Ok(true),
        _ => Err(Error::SYNTAX),
    }
}

/// Empties databases; with `lazy` the memory is freed on another thread so that no client
/// waits for it. Returns the number of keys removed.
fn empty_dbs(dbs: &mut [Db], lazy: bool) -> u64 {
    let tables: Vec<_> = dbs.iter_mut().filter(|d| !d.is_empty()).map(|d| d.take_all()).collect();
    let n = tables.iter().map(|t| t.len() as u64).sum();
    if lazy && !tables.is_empty() {
        std::thread::spawn(move || drop(tables));
    }
    n
}

/// What emptying database `db` (all with None) tells others before it happens: modules get
/// the flush's start event, WATCHes of existing keys fail, tracking clients are told to drop
/// everything. The caller fires the end event once the databases are empty.
pub(crate) fn signal_flush(ctx: &mut Ctx, db: Option<usize>) {
    let id = db.map_or(-1, |d| d as i64);
    crate::module_host::events::flush(ctx.server, ctx.core, SE::START, id);
    let dbs = match db {
        Some(d) => &ctx.core.dbs[d..=d],
        None => &ctx.core.dbs[..],
    };
    for d in dbs {
        ctx.core.watches.touch_db(d, None, ctx.now);
    }
    crate::tracking::flush(ctx.core);
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    let id = ctx.client.db;
    signal_flush(ctx, Some(id));
    let n = empty_dbs(&mut ctx.core.dbs[id..=id], lazy);
    crate::module_host::events::flush(ctx.server, ctx.core, SE::END, id as i64);
    // Propagated even when the database was empty already, as Redis does.
    ctx.dirty(n.max(1));
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    signal_flush(ctx, None);
    // A BGSAVE in progress stops, as Redis kills its child.
    crate::persist::background::abandon_all(ctx.core);
    let n = empty_dbs(&mut ctx.core.dbs, lazy);
    crate::module_host::events::flush(ctx.server, ctx.core, SE::END, -1);
    // With save points configured, Redis writes the now empty dataset at once.
    if !ctx.core.cfg.save.is_empty() {
        let _ = crate::persist::snapshot::save(ctx.core);
    }
    ctx.dirty(n + 1);
    // (Even when the save above left the count below where it was.)
    ctx.force_propagation = true;
    ctx.out.ok();
    Ok(())
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}
