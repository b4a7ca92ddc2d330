//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
//!
//! Without cluster mode, shard channels behave as in a standalone Redis 7.0: a separate
//! namespace with its own subscription count, and no slot checks.

use bytes::Bytes;

use super::client::help_reply;
use super::{Command, Ctx, Handler};
use crate::client::Client;
use crate::error::{CmdResult, Error};
use crate::pubsub::{self, Kind, Local};
use crate::util::glob::glob_match;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("psubscribe", psubscribe),
    ("ssubscribe", ssubscribe),
    ("unsubscribe", unsubscribe),
    ("punsubscribe", punsubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub|channels", pubsub_channels),
    ("pubsub|shardchannels", pubsub_shardchannels),
    ("pubsub|numsub", pubsub_numsub),
    ("pubsub|shardnumsub", pubsub_shardnumsub),
    ("pubsub|numpat", pubsub_numpat),
    ("pubsub|help", pubsub_help),
];

/// The commands a RESP2 client may run while subscribed.
const ALLOWED_IN_CONTEXT: &[&str] = &[
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

/// The dispatcher's check: a RESP2 client in pub/sub mode may only (un)subscribe, PING, QUIT
/// and RESET. (A RESP3 client may run anything; its messages are push replies.)
pub fn context_error(client: &Client, cmd: &Command) -> Option<Error> {
    if client.resp != 2 || !client.pubsub.is_active() || ALLOWED_IN_CONTEXT.contains(&cmd.fullname)
    {
        return None;
    }
    Some(Error(
        format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
             are allowed in this context",
            cmd.fullname
        )
        .into(),
    ))
}

/// Writes one confirmation: `[subscribe|unsubscribe|..., name or nil, count]`.
fn confirm(ctx: &mut Ctx, what: &str, name: Option<&[u8]>, kind: Kind) {
    let count = ctx.client.pubsub.confirm_count(kind);
    ctx.out.push(3);
    ctx.out.bulk(what.as_bytes());
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn do_subscribe(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    for name in &argv[1..] {
        pubsub::subscribe(ctx.core, ctx.client, kind, name);
        confirm(ctx, kind.subscribe_name(), Some(name), kind);
    }
    Ok(())
}

fn do_unsubscribe(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    if argv.len() > 1 {
        for name in &argv[1..] {
            pubsub::unsubscribe(ctx.core, ctx.client, kind, name);
            confirm(ctx, kind.unsubscribe_name(), Some(name), kind);
        }
        return Ok(());
    }
    let names = ctx.client.pubsub.list(kind);
    if names.is_empty() {
        confirm(ctx, kind.unsubscribe_name(), None, kind);
    }
    for name in names {
        pubsub::unsubscribe(ctx.core, ctx.client, kind, &name);
        confirm(ctx, kind.unsubscribe_name(), Some(&name), kind);
    }
    Ok(())
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
fn ssubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Shard)
}

/// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Channel)
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Pattern)
}

/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
fn sunsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Shard)
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let local = Local { client: &mut *ctx.client, out: &mut *ctx.out.buf };
    let n = pubsub::publish(ctx.core, &argv[1], &argv[2], Some(local));
    ctx.out.int(n as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let local = Local { client: &mut *ctx.client, out: &mut *ctx.out.buf };
    let n = pubsub::publish_shard(ctx.core, &argv[1], &argv[2], Some(local));
    ctx.out.int(n as i64);
    Ok(())
}

fn list_names(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    if argv.len() > 3 {
        return Err(super::client::subcommand_syntax_error(argv));
    }
    let pattern = argv.get(2).map(|p| &p[..]);
    let names: Vec<&Bytes> = ctx
        .core
        .pubsub
        .names(kind)
        .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    ctx.out.array((argv.len() - 2) * 2);
    for name in &argv[2..] {
        ctx.out.bulk(name);
        ctx.out.int(ctx.core.pubsub.subscribers(kind, name) as i64);
    }
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    list_names(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn pubsub_shardchannels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    list_names(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMSUB [channel [channel ...]]
fn pubsub_numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
fn pubsub_shardnumsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMPAT
///
/// Distinct patterns with subscribers (Redis 7.0 no longer counts each subscription).
fn pubsub_numpat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.core.pubsub.len(Kind::Pattern) as i64);
    Ok(())
}

/// PUBSUB HELP
fn pubsub_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
