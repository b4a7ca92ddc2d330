//! The blocking module: a command served from a background thread, with a timeout, and a
//! command that waits for a list to get an element.
//!
//! - `BLOCK.SLEEP ms timeout-ms`: a thread sleeps `ms` and replies `ms`; if `timeout-ms` (0:
//!   never) passes first the client gets `+TIMEOUT`. A client that disconnects meanwhile is
//!   counted.
//! - `BLOCK.POP key timeout-ms`: LPOP, or waits until the list `key` has an element (as BLPOP,
//!   but replying only the element, and a key of another type is an error only at first); a
//!   null reply on timeout.
//! - `BLOCK.STATS`: `[replied, timed out, disconnected]` for BLOCK.SLEEP since load.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vireo_module_api::{
    vireo_module, Args, Command, CommandResult, Context, Error, InitContext, KeySpec, Reply,
};

#[derive(Default)]
struct Stats {
    replied: AtomicU64,
    timed_out: AtomicU64,
    disconnected: AtomicU64,
}

/// BLOCK.SLEEP ms timeout-ms
fn sleep(stats: &Arc<Stats>, ctx: &mut Context, args: &Args) -> CommandResult {
    let mut p = args.parser();
    let ms = p.next_i64()?;
    let timeout = p.next_i64()?;
    p.done()?;
    if ms < 0 || timeout < 0 {
        return Err(Error::err("ms and timeout must not be negative"));
    }
    let (s1, s2) = (stats.clone(), stats.clone());
    let blocked = ctx.block_client_with_disconnect(
        timeout as u64,
        move |ctx| {
            s1.timed_out.fetch_add(1, Ordering::Relaxed);
            ctx.reply_simple("TIMEOUT");
            Ok(())
        },
        move || {
            s2.disconnected.fetch_add(1, Ordering::Relaxed);
        },
    );
    let stats = stats.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms as u64));
        // False when the client timed out, was unblocked or went away meanwhile.
        let replied = blocked.reply(move |ctx| {
            ctx.reply_int(ms);
            Ok(())
        });
        if replied {
            stats.replied.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(())
}

/// Pops the head of list `key` into the reply; false when there is none.
fn pop_into(ctx: &mut Context, key: &[u8]) -> Result<bool, Error> {
    match ctx.call(&[&b"LPOP"[..], key]) {
        Reply::Bulk(v) => {
            ctx.reply_bulk(v);
            Ok(true)
        }
        Reply::Error(e) => Err(Error::new(e)),
        _ => Ok(false),
    }
}

/// BLOCK.POP key timeout-ms
fn pop(ctx: &mut Context, args: &Args) -> CommandResult {
    let key = args.bytes(1)?.to_vec();
    let timeout = args.i64(2)?;
    if timeout < 0 {
        return Err(Error::err("timeout is negative"));
    }
    if pop_into(ctx, &key)? {
        return Ok(());
    }
    // Woken when the key is written to: served if it is a list now; a key of another type
    // leaves the client waiting, as BLPOP does.
    let ready = |ctx: &mut Context, key: &[u8]| Ok(pop_into(ctx, key).unwrap_or(false));
    ctx.block_on_keys(&[key], timeout as u64, ready, |ctx| {
        ctx.reply_null();
        Ok(())
    });
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    ctx.register(
        Command::new("block.sleep", move |c: &mut Context, a: &Args| sleep(&s, c, a))
            .arity(3)
            .flags("blocking")
            .summary("Replies after a thread slept, or +TIMEOUT"),
    )?;
    ctx.register(
        Command::new("block.pop", pop)
            .arity(3)
            .flags("write blocking")
            .key_spec(KeySpec::range("RW ACCESS DELETE", 1, 1, 1))
            .summary("Pops the head of a list, waiting for one if need be"),
    )?;
    ctx.register(Command::new("block.stats", move |c: &mut Context, _a: &Args| {
        c.reply(vec![
            stats.replied.load(Ordering::Relaxed) as i64,
            stats.timed_out.load(Ordering::Relaxed) as i64,
            stats.disconnected.load(Ordering::Relaxed) as i64,
        ]);
        Ok(())
    }))
}

vireo_module! {
    name: "blocking",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::testing::{TestModule, BLOCKING_UNSUPPORTED};

    #[test]
    fn pops_without_blocking_and_checks_arguments() {
        let mut m = TestModule::load("blocking", init, &[]).unwrap();
        m.on_call(|argv| match &argv[0][..] {
            b"LPOP" if argv[1] == b"full" => Reply::bulk("x"),
            b"LPOP" if argv[1] == b"str" => Reply::error(Error::WRONG_TYPE.message()),
            _ => Reply::Null,
        });
        assert_eq!(m.run(&["block.pop", "full", "0"]), Reply::bulk("x"));
        assert!(
            matches!(m.run(&["block.pop", "str", "0"]), Reply::Error(e) if e.starts_with("WRONGTYPE"))
        );
        // The fake host blocks nothing: the command's reply says so.
        assert_eq!(m.run(&["block.pop", "empty", "0"]), Reply::error(BLOCKING_UNSUPPORTED));
        assert_eq!(
            m.run(&["block.sleep", "x", "0"]),
            Reply::error("ERR value is not an integer or out of range")
        );
        assert_eq!(
            m.run(&["block.sleep", "-1", "0"]),
            Reply::error("ERR ms and timeout must not be negative")
        );
        assert_eq!(m.run(&["block.stats"]), Reply::from(vec![0i64, 0, 0]));
    }
}
