//! Keyspace and server events for modules (API 1.1).
//!
//! **Keyspace events.** A module subscribes in `init` to classes of keyspace events. The
//! server raises events as it always did ([`crate::keyspace::notify::notify`] and the events
//! the databases record); an event of a class some module listens to is queued here whatever
//! `notify-keyspace-events` says, and [`deliver`] runs the listeners once the command that
//! raised it has finished (at the end of the top-level [`crate::cmd::execute`], and after the
//! cron's active expiry), still under the core lock, before any other client runs: what Redis
//! 7.2 calls a post-notification job. Running them later than Redis's synchronous callbacks
//! means a listener never sees a half-done command, and may write through `call` safely.
//!
//! Re-entrancy: a listener's `call`s run nested, and the events they raise are queued and
//! delivered after it returns (by the same [`deliver`] loop, never recursively), to every
//! listener but the one whose call raised them (as Redis skips an active subscriber). Each
//! event carries a depth (events of a command: 0; events raised by a listener of a depth-n
//! event: n+1); past [`MAX_DEPTH`] events are dropped with a warning, so two modules that
//! answer each other's events cannot loop forever.
//!
//! **Server events** (FLUSHDB, SWAPDB, CONFIG SET...) run synchronously where they happen
//! ([`fire`]), so that a flush's `start` comes before the flush. A listener is not called
//! again for an event its own `call` causes while it runs. `KEY` events (a key deleted, expired,
//! evicted) are derived from the generic `del`, `expired` and `evicted` keyspace events and
//! delivered with them.

use std::collections::VecDeque;
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RSlice, RStr, RString, RVec};
use bytes::Bytes;
use vireo_module_api::abi::{
    notify_class, server_event as se, CallReply, EventHost, EventHost_TO, KeyspaceListener_TO,
    LogLevel, ServerEventData, ServerEventListener_TO, API_MINOR,
};

use crate::client::{Client, ClientShared};
use crate::server::{Core, Server};

/// How many listener hops an event may be away from a client's command.
pub const MAX_DEPTH: u8 = 8;

type KsListener = Arc<KeyspaceListener_TO<'static, RBox<()>>>;
type SeListener = Arc<ServerEventListener_TO<'static, RBox<()>>>;

struct KeyspaceSub {
    id: u64,
    module: String,
    classes: u32,
    listener: KsListener,
}

struct ServerSub {
    id: u64,
    module: String,
    event: u32,
    listener: SeListener,
}

struct Pending {
    class: u32,
    event: Box<str>,
    key: Box<[u8]>,
    db: usize,
    /// The listener whose `call` raised it: not delivered back to it.
    skip: Option<u64>,
    depth: u8,
}

/// Module event subscriptions and the keyspace events waiting for delivery (in `Modules`).
#[derive(Default)]
pub struct Events {
    keyspace: Vec<KeyspaceSub>,
    server: Vec<ServerSub>,
    /// The keyspace classes some module wants (KEY server events add `g`, `x` and `e`).
    pub mask: u32,
    /// Some module listens to KEY server events: the databases record overwritten keys.
    pub overwrites: bool,
    pending: VecDeque<Pending>,
    draining: bool,
    /// The listener running now and the depth of its event.
    current: Option<(u64, u8)>,
    /// Server listeners running now (not called again for what they cause).
    active: Vec<u64>,
    /// The last subscription id given (ids start at 1).
    next_id: u64,
    dropped_warned: bool,
}

/// Subscriptions a module's `init` made, committed only if it succeeds.
#[derive(Default)]
pub struct Staged {
    keyspace: Vec<(u32, KeyspaceListener_TO<'static, RBox<()>>)>,
    server: Vec<(u32, ServerEventListener_TO<'static, RBox<()>>)>,
}

impl Staged {
    pub fn keyspace(&mut self, classes: u32, l: KeyspaceListener_TO<'static, RBox<()>>) {
        self.keyspace.push((classes, l));
    }

    pub fn server(&mut self, event: u32, l: ServerEventListener_TO<'static, RBox<()>>) -> bool {
        if !(se::FLUSHDB..=se::REPLICATION_ROLE).contains(&event) {
            return false;
        }
        self.server.push((event, l));
        true
    }
}

impl Events {
    /// Adds what module `module`'s `init` subscribed to.
    pub fn commit(&mut self, module: &str, staged: Staged) {
        for (classes, l) in staged.keyspace {
            self.next_id += 1;
            let listener = Arc::new(l);
            let sub = KeyspaceSub { id: self.next_id, module: module.into(), classes, listener };
            self.keyspace.push(sub);
        }
        for (event, l) in staged.server {
            self.next_id += 1;
            let listener = Arc::new(l);
            self.server.push(ServerSub {
                id: self.next_id,
                module: module.into(),
                event,
                listener,
            });
        }
        self.update_mask();
    }

    /// Drops module `module`'s subscriptions (MODULE UNLOAD).
    pub fn remove_module(&mut self, module: &str) {
        self.keyspace.retain(|s| s.module != module);
        self.server.retain(|s| s.module != module);
        self.update_mask();
    }

    fn update_mask(&mut self) {
        let mut m = self.keyspace.iter().fold(0, |m, s| m | s.classes);
        self.overwrites = self.server.iter().any(|s| s.event == se::KEY);
        if self.overwrites {
            m |= notify_class::GENERIC | notify_class::EXPIRED | notify_class::EVICTED;
        }
        self.mask = m;
    }

    pub fn has_server_listeners(&self, event: u32) -> bool {
        self.server.iter().any(|s| s.event == event)
    }
}

/// Queues keyspace event `event` of `class` on `key` of `db` for the module listeners (the
/// caller checked `mask`).
pub fn queue(core: &mut Core, class: u32, event: &str, key: &[u8], db: usize) {
    let ev = &mut core.modules.events;
    let (skip, depth) = match ev.current {
        Some((id, d)) => (Some(id), d + 1),
        None => (None, 0),
    };
    if depth > MAX_DEPTH {
        if !ev.dropped_warned {
            ev.dropped_warned = true;
            tracing::warn!(
                "module keyspace event '{event}' dropped: raised {depth} listener hops away from \
                 a command (modules answering each other's events?)"
            );
        }
        return;
    }
    ev.pending.push_back(Pending { class, event: event.into(), key: key.into(), db, skip, depth });
}

/// Queues a KEY `overwritten` server event (no keyspace class: no keyspace listener gets it).
pub fn queue_overwritten(core: &mut Core, key: &[u8], db: usize) {
    if core.modules.events.overwrites {
        queue(core, 0, OVERWRITTEN, key, db);
    }
}

const OVERWRITTEN: &str = "overwritten";

/// Runs the module listeners of the queued keyspace events, oldest first, until none is left
/// (events their calls raise included). Does nothing when called from inside a listener: the
/// outer call goes on with what was queued.
pub fn deliver(server: &Arc<Server>, core: &mut Core) {
    if core.modules.events.pending.is_empty() || core.modules.events.draining {
        return;
    }
    core.modules.events.draining = true;
    while let Some(p) = core.modules.events.pending.pop_front() {
        let subs: Vec<(u64, String, KsListener)> = core
            .modules
            .events
            .keyspace
            .iter()
            .filter(|s| s.classes & p.class != 0 && Some(s.id) != p.skip)
            .map(|s| (s.id, s.module.clone(), s.listener.clone()))
            .collect();
        for (id, module, l) in subs {
            let saved = core.modules.events.current.replace((id, p.depth));
            let mut host = Host { server, core: &mut *core, db: p.db, module: &module };
            l.on_event(
                EventHost_TO::from_ptr(RMut::new(&mut host), TD_Opaque),
                p.db as i64,
                p.class,
                RStr::from_str(&p.event),
                RSlice::from_slice(&p.key),
            );
            core.modules.events.current = saved;
        }
        let change = match (p.class, &*p.event) {
            (notify_class::GENERIC, "del") => Some(se::DELETED),
            (notify_class::EXPIRED, _) => Some(se::EXPIRED),
            (notify_class::EVICTED, _) => Some(se::EVICTED),
            (0, OVERWRITTEN) => Some(se::OVERWRITTEN),
            _ => None,
        };
        if let Some(sub) = change.filter(|_| core.modules.events.has_server_listeners(se::KEY)) {
            let mut d = data(se::KEY, sub, p.db as i64);
            d.name = p.key.to_vec().into();
            // What its listeners' calls raise is one hop further (id 0 is no subscriber).
            let saved = core.modules.events.current.replace((0, p.depth));
            fire(server, core, d);
            core.modules.events.current = saved;
        }
    }
    core.modules.events.draining = false;
}

/// A server event's payload with no name.
pub fn data(event: u32, subevent: u32, db: i64) -> ServerEventData {
    ServerEventData { event, subevent, db, other_db: 0, name: RVec::new(), names: RVec::new() }
}

/// Runs the module listeners of server event `d` now (one branch when none listens).
#[inline]
pub fn fire(server: &Arc<Server>, core: &mut Core, d: ServerEventData) {
    if core.modules.events.has_server_listeners(d.event) {
        fire_slow(server, core, d);
    }
}

fn fire_slow(server: &Arc<Server>, core: &mut Core, d: ServerEventData) {
    let ev = &core.modules.events;
    let subs: Vec<(u64, String, SeListener)> = ev
        .server
        .iter()
        .filter(|s| s.event == d.event && !ev.active.contains(&s.id))
        .map(|s| (s.id, s.module.clone(), s.listener.clone()))
        .collect();
    let db = d.db.max(0) as usize;
    for (id, module, l) in subs {
        core.modules.events.active.push(id);
        let depth = core.modules.events.current.map_or(0, |c| c.1);
        let saved = core.modules.events.current.replace((id, depth));
        let mut host = Host { server, core: &mut *core, db, module: &module };
        l.on_event(EventHost_TO::from_ptr(RMut::new(&mut host), TD_Opaque), d.clone());
        core.modules.events.current = saved;
        core.modules.events.active.retain(|&a| a != id);
    }
}

/// [`fire`], taking the core lock (for callers outside a command).
pub fn fire_locked(server: &Arc<Server>, d: ServerEventData) {
    let mut core = server.core.lock();
    fire(server, &mut core, d);
}

/// FLUSHDB (`db`) or FLUSHALL (`db` -1), `sub` START or END.
pub fn flush(server: &Arc<Server>, core: &mut Core, sub: u32, db: i64) {
    fire(server, core, data(se::FLUSHDB, sub, db));
}

/// CONFIG SET changed `names`.
pub fn config_changed(server: &Arc<Server>, core: &mut Core, names: &[&str]) {
    let mut d = data(se::CONFIG_CHANGE, 0, 0);
    d.names = names.iter().map(|n| RString::from(*n)).collect();
    fire(server, core, d);
}

/// A module `name` was loaded (`se::LOADED`) or unloaded.
pub fn module_changed(server: &Arc<Server>, core: &mut Core, sub: u32, name: &str) {
    let mut d = data(se::MODULE_CHANGE, sub, 0);
    d.name = name.as_bytes().to_vec().into();
    fire(server, core, d);
}

/// What a listener works through: the server, for one event.
struct Host<'a> {
    server: &'a Arc<Server>,
    core: &'a mut Core,
    db: usize,
    module: &'a str,
}

/// A client with no connection that runs a listener's calls.
fn listener_client(db: usize) -> Client {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = u64::MAX - 1;
    let shared =
        Arc::new(ClientShared::new(id, String::new(), String::new(), -1, true, tx.clone()));
    let mut c = Client::new(id, shared, true, tx);
    c.db = db;
    c.resp = 3;
    // As inside EXEC: nothing blocks.
    c.in_exec = true;
    c
}

impl EventHost for Host<'_> {
    fn db(&self) -> i64 {
        self.db as i64
    }

    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        if argv.is_empty() {
            return CallReply::Error("ERR empty command".into());
        }
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let mut client = listener_client(self.db);
        let mut out = Vec::new();
        crate::cmd::execute(self.server, self.core, &mut client, &argv, &mut out);
        super::parse_call_reply(&out)
    }

    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        crate::keyspace::notify::notify(self.core, class, event.as_str(), &key, self.db, None);
    }

    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        super::log(level, self.module, msg.as_str());
    }

    fn api_minor(&self) -> u32 {
        API_MINOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use vireo_module_api::abi::KeyspaceListener;

    /// Answers every string event with `INCR <counter>`.
    struct Incr(&'static [u8]);

    impl KeyspaceListener for Incr {
        fn on_event(
            &self,
            ctx: EventHost_TO<'_, RMut<'_, ()>>,
            _db: i64,
            _class: u32,
            _event: RStr<'_>,
            _key: RSlice<'_, u8>,
        ) {
            let mut ctx = ctx;
            let argv = [RSlice::from_slice(&b"INCR"[..]), RSlice::from_slice(self.0)];
            ctx.call(RSlice::from_slice(&argv));
        }
    }

    /// On each KEY event: `INCR seq`, then creates and deletes key `k<seq>`.
    struct Churn;

    impl vireo_module_api::abi::ServerEventListener for Churn {
        fn on_event(&self, ctx: EventHost_TO<'_, RMut<'_, ()>>, _event: ServerEventData) {
            let mut ctx = ctx;
            let mut call = |args: &[&[u8]]| {
                let argv: Vec<RSlice<u8>> = args.iter().map(|a| RSlice::from_slice(a)).collect();
                ctx.call(RSlice::from_slice(&argv))
            };
            let CallReply::Int(n) = call(&[b"INCR", b"seq"]) else { panic!("INCR") };
            let key = format!("k{n}");
            call(&[b"SET", key.as_bytes(), b"1"]);
            call(&[b"DEL", key.as_bytes()]);
        }
    }

    fn subscribe(core: &mut Core, module: &str, counter: &'static [u8]) {
        let mut staged = Staged::default();
        staged.keyspace(
            notify_class::STRING,
            KeyspaceListener_TO::from_value(Incr(counter), TD_Opaque),
        );
        core.modules.events.commit(module, staged);
    }

    fn run(server: &Arc<Server>, core: &mut Core, argv: &[&str]) -> Vec<u8> {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut client = listener_client(0);
        client.in_exec = false;
        let mut out = Vec::new();
        crate::cmd::execute(server, core, &mut client, &argv, &mut out);
        out
    }

    #[test]
    fn a_listener_does_not_hear_its_own_writes() {
        let server = Server::new(Config::default(), None);
        let mut core = server.core.lock();
        subscribe(&mut core, "a", b"ca");
        assert_eq!(run(&server, &mut core, &["SET", "k", "v"]), b"+OK\r\n");
        // One INCR for the SET; its own `incrby` event did not come back.
        assert_eq!(run(&server, &mut core, &["GET", "ca"]), b"$1\r\n1\r\n");
    }

    #[test]
    fn listeners_answering_each_other_stop_after_max_depth() {
        let server = Server::new(Config::default(), None);
        let mut core = server.core.lock();
        subscribe(&mut core, "a", b"ca");
        subscribe(&mut core, "b", b"cb");
        assert_eq!(run(&server, &mut core, &["SET", "k", "v"]), b"+OK\r\n");
        assert!(core.modules.events.pending.is_empty());
        let count = |core: &mut Core, k: &str| {
            let r = run(&server, core, &["GET", k]);
            String::from_utf8_lossy(&r).lines().nth(1).unwrap().parse::<u32>().unwrap()
        };
        let (a, b) = (count(&mut core, "ca"), count(&mut core, "cb"));
        // The SET reaches both (depth 0); each INCR's event reaches the other one, up to
        // MAX_DEPTH hops: two chains of MAX_DEPTH + 1 INCRs.
        assert_eq!(a + b, 2 * (MAX_DEPTH as u32 + 1), "a {a} b {b}");
        assert!(core.modules.events.dropped_warned);
    }

    #[test]
    fn key_listeners_causing_key_events_stop_after_max_depth() {
        let server = Server::new(Config::default(), None);
        let mut core = server.core.lock();
        let mut staged = Staged::default();
        assert!(staged.server(se::KEY, ServerEventListener_TO::from_value(Churn, TD_Opaque)));
        core.modules.events.commit("churn", staged);
        crate::keyspace::notify::sync(&mut core);
        assert_eq!(run(&server, &mut core, &["SET", "k", "v"]), b"+OK\r\n");
        assert_eq!(run(&server, &mut core, &["DEL", "k"]), b":1\r\n");
        // The DEL's event (depth 0) and each one the listener's DELs raised, up to MAX_DEPTH.
        let want = format!("${}\r\n{}\r\n", (MAX_DEPTH + 1).to_string().len(), MAX_DEPTH + 1);
        assert_eq!(run(&server, &mut core, &["GET", "seq"]), want.as_bytes());
    }
}
