//! Connection commands: PING ECHO SELECT QUIT HELLO AUTH RESET.

use bytes::Bytes;

use super::keys::{db_index, parse_int32};
use super::{Ctx, Handler};
use crate::client::ReplyMode;
use crate::error::{CmdResult, Error};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("select", select),
    ("quit", quit),
    ("hello", hello),
    ("auth", auth),
    ("reset", reset),
];

/// PING [message]
fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // A RESP2 client in pub/sub mode gets `["pong", message or ""]`, as a message would come.
    if ctx.client.resp == 2 && ctx.client.pubsub.is_active() && argv.len() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).map_or(&b""[..], |m| &m[..]));
        return Ok(());
    }
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&argv[1]),
        _ => return Err(Error::arity("ping")),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&argv[1]);
    Ok(())
}

/// SELECT index
///
/// The checks come in Redis's order: an integer at all, then one within C's `int`, then (in
/// cluster mode) database 0, then an existing database.
fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_int32(&argv[1])?;
    if ctx.core.cfg.cluster_enabled && id != 0 {
        return Err(Error::msg("ERR SELECT is not allowed in cluster mode"));
    }
    ctx.client.db = db_index(ctx, id)?;
    ctx.out.ok();
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {
            if ctx.core.acl.default_is_nopass() {
                return Err(Error::msg(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            super::acl::authenticate(ctx, b"default", &argv[1])?;
        }
        3 => super::acl::authenticate(ctx, &argv[1], &argv[2])?,
        _ => return Err(Error::SYNTAX),
    }
    ctx.out.ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut ver = None;
    let mut i = 1;
    if argv.len() >= 2 {
        let v = parse_i64(&argv[1])
            .ok_or_else(|| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(Error::msg("NOPROTO unsupported protocol version"));
        }
        ver = Some(v as u8);
        i = 2;
    }
    let mut auth = None;
    let mut setname = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if Ctx::is(&argv[i], "auth") && more >= 2 {
            auth = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 3;
        } else if Ctx::is(&argv[i], "setname") && more >= 1 {
            setname = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(Error::err(format_args!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            )));
        }
    }
    if let Some((u, p)) = auth {
        super::acl::authenticate(ctx, &u, &p)?;
    }
    if !ctx.client.authenticated {
        return Err(Error::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = setname {
        super::client::validate_name(&name)?;
        ctx.client.name = if name.is_empty() { None } else { Some(name.to_vec()) };
    }
    if let Some(v) = ver {
        ctx.client.resp = v;
        ctx.out.resp3 = v == 3;
    }
    let out = &mut ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(ctx.client.resp as i64);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// RESET
fn reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.client.db = 0;
    ctx.client.resp = 2;
    ctx.out.resp3 = false;
    ctx.client.name = None;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.flags.no_evict = false;
    ctx.client.flags.no_touch = false;
    if ctx.client.flags.monitor {
        ctx.client.flags.monitor = false;
        let id = ctx.client.id;
        ctx.core.monitors.retain(|(c, _)| *c != id);
    }
    super::multi::discard_transaction(ctx.core, ctx.client);
    crate::pubsub::unsubscribe_all(ctx.core, ctx.client);
    ctx.core.tracking.disable(ctx.client.id);
    ctx.client.user = "default".into();
    ctx.client.acl_epoch = 0;
    ctx.client.authenticated = ctx.core.acl.default_needs_no_auth();
    ctx.out.simple("RESET");
    Ok(())
}
