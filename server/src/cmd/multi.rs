//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! The dispatcher queues commands between MULTI and EXEC (see `execute_inner`); EXEC runs them
//! back to back under the keyspace lock the connection already holds, so no other client's
//! command lands between them. The WATCH registry is `keyspace::watch`.

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::client::{Client, Multi};
use crate::error::{CmdResult, Error};
use crate::server::Core;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

/// Forgets every key `client` watches.
pub fn unwatch_all(core: &mut Core, client: &mut Client) {
    if !client.watched.is_empty() {
        core.watches.unwatch_all(client.id, &client.watched);
        client.watched.clear();
    }
}

/// Drops the transaction being queued, if any, and the client's watches (DISCARD, RESET, an
/// aborted EXEC).
pub fn discard_transaction(core: &mut Core, client: &mut Client) {
    client.multi = None;
    unwatch_all(core, client);
}

/// MULTI
fn multi(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

/// EXEC
fn exec(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(m) = ctx.client.multi.take() else {
        return Err(Error::msg("ERR EXEC without MULTI"));
    };
    // EXEC itself is never propagated: the commands it ran are, wrapped in MULTI/EXEC.
    ctx.propagate_as = Some(Vec::new());
    if m.aborted {
        unwatch_all(ctx.core, ctx.client);
        return Err(Error::msg("EXECABORT Transaction discarded because of previous errors."));
    }
    let id = ctx.client.id;
    let failed = ctx.core.watches.is_dirty(id)
        || ctx.core.watches.any_expired(&ctx.core.dbs, id, &ctx.client.watched, ctx.now);
    unwatch_all(ctx.core, ctx.client);
    if failed {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(m.queued.len());
    ctx.core.prop.begin_transaction();
    ctx.client.in_exec = true;
    for argv in &m.queued {
        if let Some(e) = super::acl::exec_check(ctx.server, ctx.core, ctx.client, argv) {
            super::Reply::new(ctx.out.buf, ctx.client.resp == 3).error(&e.0);
            super::count_error(ctx.core, &e);
            continue;
        }
        super::execute(ctx.server, ctx.core, ctx.client, argv, ctx.out.buf);
    }
    ctx.client.in_exec = false;
    ctx.core.prop.end_transaction();
    // A command in the transaction may have switched protocols (HELLO).
    ctx.out.resp3 = ctx.client.resp == 3;
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::msg("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx.core, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let (id, dbi, now) = (ctx.client.id, ctx.client.db, ctx.now);
    for key in &argv[1..] {
        if ctx.core.watches.watch(&ctx.core.dbs[dbi], key, id, now) {
            ctx.client.watched.push((dbi, key[..].into()));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    unwatch_all(ctx.core, ctx.client);
    ctx.out.ok();
    Ok(())
}
