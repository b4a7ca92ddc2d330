//! Replication commands: REPLICAOF SLAVEOF ROLE, and PSYNC SYNC REPLCONF that replicas send
//! (see `repl`).

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::repl;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("role", role),
    ("psync", psync),
    ("sync", sync),
    ("replconf", replconf),
    ("wait", wait),
    ("failover", failover),
];

/// WAIT numreplicas timeout
fn wait(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.core.repl.is_replica() {
        return Err(Error::msg(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis \
             4.0 if a replica is configured to be writable (which is not the default) writes to \
             replicas are just local and are not propagated.",
        ));
    }
    let wanted = parse_i64(&argv[1]).ok_or(Error::NOT_INT)?;
    let timeout = parse_i64(&argv[2])
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let wanted = usize::try_from(wanted).unwrap_or(0);
    // Inside a transaction or a script nothing waits: what is there now is the answer.
    if ctx.client.in_exec {
        ctx.out.int(repl::acked(ctx.core, ctx.core.repl.offset()) as i64);
        return Ok(());
    }
    match repl::wait(ctx.core, ctx.client.id, wanted) {
        Some(n) => ctx.out.int(n as i64),
        None => {
            let deadline = (timeout > 0).then(|| ctx.now.saturating_add(timeout));
            ctx.block(&[], deadline, crate::blocking::Wants::Replicas);
        }
    }
    Ok(())
}

/// REPLICAOF <host port | NO ONE>
fn replicaof(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.core.repl.failover.is_some() {
        return Err(Error::msg("ERR REPLICAOF not allowed while failing over."));
    }
    if Ctx::is(&argv[1], "no") && Ctx::is(&argv[2], "one") {
        repl::set_master(ctx.server, ctx.core, None);
        ctx.out.ok();
        return Ok(());
    }
    if ctx.client.flags.replica {
        return Err(Error::msg("ERR Command is not valid when client is a replica."));
    }
    let port = parse_i64(&argv[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| Error::msg("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if repl::set_master(ctx.server, ctx.core, Some((host, port as u16))) {
        ctx.out.ok();
    } else {
        ctx.out.simple("OK Already connected to specified master");
    }
    Ok(())
}

/// ROLE
fn role(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let core = &*ctx.core;
    match &core.repl.master {
        Some(m) => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(m.host.as_bytes());
            ctx.out.int(i64::from(m.port));
            ctx.out.bulk(m.state.name().as_bytes());
            ctx.out.int(if m.state == repl::LinkState::Connected { m.offset as i64 } else { -1 });
        }
        None => {
            let replicas: Vec<(String, u16, u64)> = core
                .repl
                .stream
                .lock()
                .replicas
                .iter()
                .map(|r| (r.ip.clone(), r.port, r.ack))
                .collect();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(core.repl.offset() as i64);
            ctx.out.array(replicas.len());
            for (ip, port, ack) in replicas {
                ctx.out.array(3);
                ctx.out.bulk(ip.as_bytes());
                ctx.out.bulk(port.to_string().as_bytes());
                ctx.out.bulk(ack.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// Refuses a sync from a replica of a replica whose own link is down, or during a failover,
/// as Redis does.
fn check_can_sync(ctx: &Ctx) -> CmdResult {
    if ctx.client.flags.replica {
        return Err(Error::msg("ERR Replica already synchronized"));
    }
    if ctx.core.repl.failover.is_some() {
        return Err(Error::msg("NOMASTERLINK Can't SYNC while failing over"));
    }
    match &ctx.core.repl.master {
        Some(m) if m.state != repl::LinkState::Connected => {
            Err(Error::msg("NOMASTERLINK Can't SYNC while not connected with my master"))
        }
        _ => Ok(()),
    }
}

/// PSYNC replicationid offset [FAILOVER]
fn psync(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // A master failing over to this replica (see `repl::failover`): it takes over, then lets
    // the old master continue the shared history as its replica.
    if argv.len() > 3 && Ctx::is(&argv[3], "failover") && !ctx.client.flags.replica {
        if argv[1] != ctx.core.replid.as_bytes() {
            return Err(Error::msg("ERR PSYNC FAILOVER replid must match my replid."));
        }
        tracing::info!("Failover request received for replid {}.", ctx.core.replid);
        repl::set_master(ctx.server, ctx.core, None);
    }
    if &argv[1][..] != b"?" {
        check_can_sync(ctx)?;
        if let Some(from) = parse_i64(&argv[2]).and_then(|o| u64::try_from(o).ok()) {
            if let Some(bytes) = repl::partial_sync(ctx.core, ctx.client, &argv[1], from) {
                ctx.out.raw(&bytes);
                return Ok(());
            }
        }
        ctx.core.repl.sync_partial_err += 1;
    }
    full_sync(ctx, true)
}

/// SYNC
fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    full_sync(ctx, false)
}

fn full_sync(ctx: &mut Ctx, psync: bool) -> CmdResult {
    check_can_sync(ctx)?;
    if let Some(bytes) =
        repl::full_sync(ctx.server, ctx.core, ctx.client, psync).map_err(Error::err)?
    {
        ctx.out.raw(&bytes);
    }
    Ok(())
}

/// REPLCONF <option value> [<option value> ...]
fn replconf(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(Error::SYNTAX);
    }
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if Ctx::is(opt, "listening-port") {
            let port = parse_i64(val).filter(|p| (0..=65535).contains(p)).ok_or(Error::NOT_INT)?;
            ctx.client.repl_port = port as u16;
        } else if Ctx::is(opt, "ip-address") {
            ctx.client.repl_ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if Ctx::is(opt, "ack") {
            // An acknowledgement gets no reply.
            if ctx.client.flags.replica {
                ctx.client.repl_await_ack = false;
                if let Some(o) = parse_i64(val).filter(|o| *o >= 0) {
                    repl::ack(ctx.core, ctx.client.id, o as u64);
                }
            }
            return Ok(());
        } else if Ctx::is(opt, "getack") {
            // Only a master asks that of its replica, on the link (see repl::link).
            return Ok(());
        } else if Ctx::is(opt, "capa") {
            // `eof`: the snapshot can be streamed to it as it is taken (see repl::full_sync);
            // `psync2` needs nothing.
            ctx.client.repl_capa_eof |= Ctx::is(val, "eof");
        } else if Ctx::is(opt, "rdb-only") {
            match parse_i64(val) {
                Some(v @ 0..=1) => ctx.client.repl_rdb_only = v == 1,
                Some(_) => {
                    return Err(Error::msg("ERR value is out of range, value must between 0 and 1"))
                }
                None => return Err(Error::NOT_INT),
            }
        } else if Ctx::is(opt, "rdb-filter-only") {
            let mut functions = false;
            for filter in val.split(|b| *b == b' ').filter(|f| !f.is_empty()) {
                if !filter.eq_ignore_ascii_case(b"functions") {
                    return Err(Error::err(format_args!(
                        "Unsupported rdb-filter-only option: {}",
                        String::from_utf8_lossy(filter)
                    )));
                }
                functions = true;
            }
            ctx.client.repl_only_functions = Some(functions);
        } else {
            return Err(Error::err(format_args!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]
fn failover(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut target, mut timeout, mut force, mut abort) = (None, None, false, false);
    let mut j = 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if Ctx::is(&argv[j], "to") && more >= 2 && target.is_none() {
            let port = parse_i64(&argv[j + 2]).ok_or(Error::NOT_INT)?;
            target = Some((String::from_utf8_lossy(&argv[j + 1]).into_owned(), port));
            j += 2;
        } else if Ctx::is(&argv[j], "timeout") && more >= 1 && timeout.is_none() {
            let t = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?;
            if t <= 0 {
                return Err(Error::msg("ERR FAILOVER timeout must be greater than 0"));
            }
            timeout = Some(t);
            j += 1;
        } else if Ctx::is(&argv[j], "force") && !force {
            force = true;
        } else if Ctx::is(&argv[j], "abort") && !abort {
            abort = true;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    if abort {
        if target.is_some() || timeout.is_some() || force {
            return Err(Error::SYNTAX);
        }
        if ctx.core.repl.failover.is_none() {
            return Err(Error::msg("ERR No failover in progress."));
        }
        repl::failover::abort(ctx.server, ctx.core, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    if ctx.core.repl.is_replica() {
        return Err(Error::msg("ERR FAILOVER is not valid when server is a replica."));
    }
    let replicas: Vec<(String, u16, bool)> = {
        let s = ctx.core.repl.stream.lock();
        s.replicas
            .iter()
            .map(|r| (r.ip.clone(), r.port, r.state == repl::ReplicaState::Online))
            .collect()
    };
    if replicas.is_empty() && ctx.core.repl.waiting_syncs() == 0 {
        return Err(Error::msg("ERR FAILOVER requires connected replicas."));
    }
    if ctx.core.repl.failover.is_some() {
        return Err(Error::msg("ERR FAILOVER already in progress."));
    }
    if force && (timeout.is_none() || target.is_none()) {
        return Err(Error::msg(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let target = match target {
        None => None,
        Some((host, port)) => {
            let found = u16::try_from(port)
                .ok()
                .and_then(|p| replicas.iter().find(|r| r.0 == host && r.1 == p));
            match found {
                None => {
                    return Err(Error::msg("ERR FAILOVER target HOST and PORT is not a replica."))
                }
                Some((_, _, false)) => {
                    return Err(Error::msg("ERR FAILOVER target replica is not online."))
                }
                Some((h, p, true)) => Some((h.clone(), *p)),
            }
        }
    };
    repl::failover::start(ctx.core, target, timeout, force);
    ctx.out.ok();
    Ok(())
}
