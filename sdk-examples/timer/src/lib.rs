//! The timer module: timers, and a thread running commands through a thread-safe context.
//!
//! - `TIMER.SET ms key value`: after `ms`, a timer sets `key` to `value`; replies the timer id.
//! - `TIMER.STOP id`: stops the timer; replies the key it would have set, or null.
//! - `TIMER.THREADSET ms key value`: a thread sleeps `ms`, locks the server through a
//!   [`ThreadSafeContext`] and sets `key`; replies OK at once.
//! - `TIMER.LOCKHERE`: tries to lock the server from a command (which holds it already): replies
//!   the error that refuses it, instead of deadlocking.
#![forbid(unsafe_code)]

use std::time::Duration;

use vireo_module_api::{
    vireo_module, Args, Command, CommandResult, Context, Error, InitContext, LogLevel,
    ThreadSafeContext, TimerId,
};

/// TIMER.SET ms key value
fn set(ctx: &mut Context, args: &Args) -> CommandResult {
    let ms = args.i64(1)?;
    if ms < 0 {
        return Err(Error::err("ms is negative"));
    }
    let kv = (args.bytes(2)?.to_vec(), args.bytes(3)?.to_vec());
    let id = ctx.create_timer(ms as u64, kv, |ctx, (k, v)| {
        let r = ctx.call(&[&b"SET"[..], &k, &v]);
        ctx.log(LogLevel::Verbose, &format!("timer set {}: {r:?}", String::from_utf8_lossy(&k)));
    });
    ctx.reply_int(id.0 as i64);
    Ok(())
}

/// TIMER.STOP id
fn stop(ctx: &mut Context, args: &Args) -> CommandResult {
    let id = TimerId(args.i64(1)? as u64);
    match ctx.stop_timer::<(Vec<u8>, Vec<u8>)>(id) {
        Some((k, _)) => ctx.reply_bulk(k),
        None => ctx.reply_null(),
    }
    Ok(())
}

/// TIMER.THREADSET ms key value
fn thread_set(ctx: &mut Context, args: &Args) -> CommandResult {
    let ms = args.i64(1)?.max(0) as u64;
    let (k, v) = (args.bytes(2)?.to_vec(), args.bytes(3)?.to_vec());
    let tsc = ThreadSafeContext::new();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        // Fails only when the server shuts down meanwhile.
        if let Ok(mut locked) = tsc.lock() {
            locked.call(&[&b"SET"[..], &k, &v]);
        }
    });
    ctx.reply_ok();
    Ok(())
}

/// TIMER.LOCKHERE
fn lock_here(ctx: &mut Context, _args: &Args) -> CommandResult {
    let tsc = ctx.thread_safe_context();
    let _locked = tsc.lock()?;
    ctx.reply_ok();
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    ctx.register(
        Command::new("timer.set", set).arity(4).flags("write").summary("Sets a key later"),
    )?;
    ctx.register(Command::new("timer.stop", stop).arity(2).summary("Stops a timer"))?;
    ctx.register(
        Command::new("timer.threadset", thread_set).arity(4).summary("Sets a key from a thread"),
    )?;
    ctx.register(Command::new("timer.lockhere", lock_here).arity(1))
}

vireo_module! {
    name: "timer",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::testing::TestModule;
    use vireo_module_api::Reply;

    #[test]
    fn arguments_and_no_server() {
        let mut m = TestModule::load("timer", init, &[]).unwrap();
        assert_eq!(m.run(&["timer.set", "-1", "k", "v"]), Reply::error("ERR ms is negative"));
        // The fake host runs no timers (id 0) and has no timer to stop.
        assert_eq!(m.run(&["timer.set", "10", "k", "v"]), Reply::Int(0));
        assert_eq!(m.run(&["timer.stop", "1"]), Reply::Null);
        // Nor a server to lock.
        assert_eq!(m.run(&["timer.lockhere"]), Reply::error("ERR no server to lock"));
    }
}
