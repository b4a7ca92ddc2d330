//! Persistence commands: SAVE, DUMP, RESTORE (RDB files and payloads, see `persist::rdb`).

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::{self, Access, Entry, Lru};
use crate::persist::{rdb, snapshot};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("save", save),
    ("bgsave", bgsave),
    ("dump", dump),
    ("restore", restore),
    // What a cluster sends during a slot migration: a RESTORE, as Redis runs it without cluster.
    ("restore-asking", restore),
];

/// SAVE
fn save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.core.rdb.bgsave.is_some() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    use crate::module_host::events::{data, fire};
    use vireo_module_api::abi::server_event as se;
    fire(ctx.server, ctx.core, data(se::PERSISTENCE, se::SYNC_RDB_START, 0));
    let r = snapshot::save(ctx.core);
    let end = if r.is_ok() { se::END } else { se::FAILED };
    fire(ctx.server, ctx.core, data(se::PERSISTENCE, end, 0));
    match r {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(_) => Err(Error::msg("ERR")),
    }
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if Ctx::is(a, "schedule") => true,
        Some(_) => return Err(Error::SYNTAX),
    };
    if ctx.core.rdb.bgsave.is_none() && ctx.core.aof.rewriting.is_some() {
        if !schedule {
            return Err(Error::msg("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
        }
        ctx.core.rdb.bgsave_scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    snapshot::bgsave(ctx.server, ctx.core).map_err(Error::msg)?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// DUMP key
fn dump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, Access::of(ctx.core, ctx.client));
    let opts = rdb::save::SaveOpts { compress: ctx.core.cfg.rdbcompression, ..Default::default() };
    let Some(e) = ctx.core.dbs[ctx.client.db].lookup(&argv[1], now, acc) else {
        ctx.out.null();
        return Ok(());
    };
    let payload = rdb::save::dump_payload(e, &opts);
    ctx.out.bulk(&payload);
    Ok(())
}

/// Sets the LRU/LFU field of a restored key from IDLETIME or FREQ, when the eviction policy
/// keeps that kind of field (Redis's objectSetLRUOrLFU).
fn set_age(e: &mut Entry, acc: Access, freq: Option<i64>, idle: Option<i64>) {
    match acc.lru {
        Lru::Lfu { minutes, .. } => {
            if let Some(f) = freq {
                e.set_lru((u32::from(minutes) << 8) | f as u32);
            }
        }
        Lru::Clock(clock) => {
            if let (Some(idle), None) = (idle, freq) {
                let max = i64::from(keyspace::record::LRU_MAX);
                let mut abs = i64::from(clock) - idle;
                if abs < 0 {
                    abs = (i64::from(clock) + max / 2) % max;
                }
                e.set_lru(abs as u32);
            }
        }
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if Ctx::is(&argv[j], "replace") {
            replace = true;
        } else if Ctx::is(&argv[j], "absttl") {
            absttl = true;
        } else if Ctx::is(&argv[j], "idletime") && more && freq.is_none() {
            let v = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?;
            if v < 0 {
                return Err(Error::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if Ctx::is(&argv[j], "freq") && more && idle.is_none() {
            let v = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?;
            if !(0..=255).contains(&v) {
                return Err(Error::msg("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let key = &argv[1];
    let now = ctx.now;
    if !replace && ctx.db().peek(key, now).is_some() {
        return Err(Error::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    if ttl < 0 {
        return Err(Error::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = &argv[3];
    if !rdb::load::verify_payload(payload, true) {
        return Err(Error::msg("ERR DUMP payload version or checksum are wrong"));
    }
    let opts = snapshot::load_opts(ctx.core);
    let Some(value) = rdb::load::payload_value(payload, &opts) else {
        return Err(Error::msg("ERR Bad data format"));
    };
    // REPLACE removes what is there even if its time has passed, as Redis's dbDelete: no
    // `expired` event or DEL for it, only the `restore`.
    let deleted = replace && ctx.db().delete_stored(key);
    let at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.saturating_add(ctx.wall_ms())),
    };
    if let Some(at) = at {
        if at <= ctx.wall_ms() {
            if deleted {
                let lazy = ctx.core.cfg.lazyfree_lazy_server_del;
                ctx.propagate(vec![super::keys::del_for(lazy), key.clone()]);
                ctx.notify(ev::GENERIC, "del", key);
                ctx.dirty(1);
            }
            ctx.out.ok();
            return Ok(());
        }
    }
    let acc = Access::of(ctx.core, ctx.client);
    let mut e = Entry::new(key, value, at);
    e.set_tag(keyspace::new_value_tag(&ctx.core.cfg));
    e.set_lru(acc.initial());
    set_age(&mut e, acc, freq, idle);
    ctx.db().insert(e);
    ctx.notify(ev::GENERIC, "restore", key);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}
