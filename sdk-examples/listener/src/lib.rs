//! The listener module: keyspace events, server events, raising events of its own, and choosing
//! what a command replicates.
//!
//! - It counts every keyspace event by name (`LISTENER.STATS`), remembers the last deleted key
//!   (`LISTENER.LASTDEL`), pushes deleted keys on the list `listener:deleted`, and counts expiries in the key `listener:expired`, written from its
//!   listener through `call`.
//! - It records FLUSHDB/FLUSHALL, SWAPDB, CONFIG SET, module load/unload, loading and
//!   persistence server events, and keys deleted, expired, evicted or overwritten
//!   (`LISTENER.SERVER`).
//! - A keyspace event on `listener:panic` makes its listener panic (to show that the SDK
//!   catches it).
//! - `LISTENER.EMIT key event` raises a module keyspace event (class `d`).
//! - `LISTENER.INCR key` increments through `call` but replicates `SET key <new value>`;
//!   `LISTENER.SETV key value` sets through `call` and replicates itself verbatim.
//!
//! Load it with `loadmodule /path/to/libvireo_listener.so`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use vireo_module_api::{
    notify_class, vireo_module, Args, Command, CommandResult, Context, Error, EventContext,
    InitContext, Phase, Reply, ServerEvent, ServerEventKind,
};

#[derive(Default)]
struct State {
    counts: BTreeMap<String, i64>,
    last_deleted: Option<Vec<u8>>,
    server: Vec<String>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A panic elsewhere cannot leave the counters half-updated in a way that matters.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn on_keyspace(state: &Shared, ctx: &mut EventContext, _db: i64, event: &str, key: &[u8]) {
    {
        let mut st = lock(state);
        *st.counts.entry(event.to_string()).or_insert(0) += 1;
        if event == "del" {
            st.last_deleted = Some(key.to_vec());
        }
    }
    if key == b"listener:panic" {
        // Caught by the SDK and logged: the server goes on.
        panic!("asked to panic on {event}");
    }
    if event == "del" {
        // A client blocked on the list (BLPOP listener:deleted) is served at once.
        ctx.call(&[b"RPUSH".as_slice(), b"listener:deleted", key]);
    }
    if event == "expired" {
        // A write from a listener: its own `incrby` event does not come back to this listener.
        ctx.call(&["INCR", "listener:expired"]);
    }
}

fn describe(ev: &ServerEvent) -> String {
    let phase = |p: &Phase| match p {
        Phase::Start => "start",
        Phase::End => "end",
        Phase::Failed => "failed",
    };
    match ev {
        ServerEvent::FlushDb { phase: p, db } => {
            format!("flushdb:{}:{}", phase(p), db.map_or("all".to_string(), |d| d.to_string()))
        }
        ServerEvent::SwapDb { first, second } => format!("swapdb:{first}:{second}"),
        ServerEvent::ConfigChange(names) => format!("config:{}", names.join(",")),
        ServerEvent::ModuleLoaded(n) => format!("module-loaded:{n}"),
        ServerEvent::ModuleUnloaded(n) => format!("module-unloaded:{n}"),
        ServerEvent::Key { change, key, .. } => {
            let change = format!("{change:?}").to_lowercase();
            format!("key-{change}:{}", String::from_utf8_lossy(key))
        }
        ServerEvent::ReplicationRole { replica: true } => "role:replica".into(),
        ServerEvent::ReplicationRole { replica: false } => "role:master".into(),
        other => format!("{other:?}"),
    }
}

/// LISTENER.STATS: a map of keyspace event name to count.
fn stats(state: &Shared, ctx: &mut Context) -> CommandResult {
    let st = lock(state);
    ctx.reply_map(st.counts.len());
    for (k, v) in &st.counts {
        ctx.reply_bulk(k);
        ctx.reply_int(*v);
    }
    Ok(())
}

/// LISTENER.INCR key: INCR through `call`, replicated as `SET key <value>`.
fn incr(ctx: &mut Context, args: &Args) -> CommandResult {
    let key = args.bytes(1)?;
    match ctx.call(&[b"INCR".as_slice(), key]) {
        Reply::Int(n) => {
            ctx.replicate("SET", &[key, n.to_string().as_bytes()])?;
            ctx.reply_int(n);
            Ok(())
        }
        Reply::Error(e) => Err(Error::new(e)),
        other => Err(Error::err(format!("unexpected reply {other:?}"))),
    }
}

/// LISTENER.SETV key value: SET through `call`, replicated as itself.
fn setv(ctx: &mut Context, args: &Args) -> CommandResult {
    let r = ctx.call(&[b"SET".as_slice(), args.bytes(1)?, args.bytes(2)?]);
    ctx.replicate_verbatim();
    ctx.reply_value(&r);
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let state: Shared = Arc::default();

    let s = state.clone();
    let classes = notify_class::ALL | notify_class::NEW;
    ctx.subscribe_keyspace(classes, move |c, db, ev, key| on_keyspace(&s, c, db, ev, key))?;
    for kind in [
        ServerEventKind::FlushDb,
        ServerEventKind::SwapDb,
        ServerEventKind::ConfigChange,
        ServerEventKind::ModuleChange,
        ServerEventKind::Loading,
        ServerEventKind::Persistence,
        ServerEventKind::Key,
        ServerEventKind::ReplicationRole,
    ] {
        let s = state.clone();
        ctx.subscribe_server_event(kind, move |_, ev| lock(&s).server.push(describe(ev)))?;
    }

    let s = state.clone();
    ctx.register(
        Command::new("listener.stats", move |c, _| stats(&s, c))
            .arity(1)
            .flags("readonly fast")
            .summary("Keyspace events seen, by name"),
    )?;
    let s = state.clone();
    ctx.register(
        Command::new("listener.lastdel", move |c, _| {
            c.reply(lock(&s).last_deleted.clone());
            Ok(())
        })
        .arity(1)
        .flags("readonly fast")
        .summary("The last key deleted"),
    )?;
    let s = state.clone();
    ctx.register(
        Command::new("listener.server", move |c, _| {
            c.reply(lock(&s).server.clone());
            Ok(())
        })
        .arity(1)
        .flags("readonly fast")
        .summary("Server events seen"),
    )?;
    let s = state;
    ctx.register(
        Command::new("listener.reset", move |c, _| {
            *lock(&s) = State::default();
            c.reply_ok();
            Ok(())
        })
        .arity(1)
        .flags("fast")
        .summary("Forgets what was seen"),
    )?;
    ctx.register(
        Command::new("listener.emit", |c, a| {
            c.notify_keyspace_event(notify_class::MODULE, a.str(2)?, a.bytes(1)?);
            c.reply_ok();
            Ok(())
        })
        .arity(3)
        .flags("fast")
        .keys(1, 1, 1)
        .summary("Raises a module keyspace event on a key"),
    )?;
    ctx.register(
        Command::new("listener.incr", incr)
            .arity(2)
            .flags("write deny-oom")
            .keys(1, 1, 1)
            .summary("INCR, replicated as SET"),
    )?;
    ctx.register(
        Command::new("listener.setv", setv)
            .arity(3)
            .flags("write deny-oom")
            .keys(1, 1, 1)
            .summary("SET, replicated verbatim"),
    )
}

vireo_module! {
    name: "listener",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::abi::{server_event as se, ServerEventData};
    use vireo_module_api::testing::TestModule;

    #[test]
    fn counts_events_and_writes_on_expiry() {
        let mut m = TestModule::load("listener", init, &[]).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        m.on_call(move |argv| {
            c.lock().unwrap().push(argv.to_vec());
            Reply::Int(1)
        });
        m.keyspace_event(0, notify_class::STRING, "set", b"a");
        m.keyspace_event(0, notify_class::GENERIC, "del", b"a");
        m.keyspace_event(0, notify_class::EXPIRED, "expired", b"b");
        // Key misses were not subscribed to.
        m.keyspace_event(0, notify_class::KEY_MISS, "keymiss", b"c");
        assert_eq!(
            m.run(&["listener.stats"]),
            Reply::array([
                Reply::bulk("del"),
                Reply::Int(1),
                Reply::bulk("expired"),
                Reply::Int(1),
                Reply::bulk("set"),
                Reply::Int(1)
            ])
        );
        assert_eq!(m.run(&["listener.lastdel"]), Reply::bulk("a"));
        let calls = calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            vec![
                vec![b"RPUSH".to_vec(), b"listener:deleted".to_vec(), b"a".to_vec()],
                vec![b"INCR".to_vec(), b"listener:expired".to_vec()]
            ]
        );
    }

    #[test]
    fn server_events_emit_and_replicate() {
        let mut m = TestModule::load("listener", init, &[]).unwrap();
        m.server_event(ServerEventData {
            event: se::FLUSHDB,
            subevent: se::START,
            db: -1,
            other_db: 0,
            name: Default::default(),
            names: Default::default(),
        });
        assert_eq!(m.run(&["listener.server"]), Reply::array([Reply::bulk("flushdb:start:all")]));

        assert_eq!(m.run(&["listener.emit", "k", "boom"]), Reply::ok());
        assert_eq!(m.notified(), vec![(notify_class::MODULE, "boom".into(), b"k".to_vec())]);

        m.on_call(|_| Reply::Int(5));
        assert_eq!(m.run(&["listener.incr", "n"]), Reply::Int(5));
        assert_eq!(m.replicated(), &[vec![b"SET".to_vec(), b"n".to_vec(), b"5".to_vec()]]);
        m.on_call(|_| Reply::ok());
        assert_eq!(m.run(&["listener.setv", "k", "v"]), Reply::ok());
        assert_eq!(
            m.replicated(),
            &[vec![b"listener.setv".to_vec(), b"k".to_vec(), b"v".to_vec()]]
        );
    }
}
