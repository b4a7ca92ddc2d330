//! Keyspace and server events, and replication control (API 1.1).
//!
//! - [`InitContext::subscribe_keyspace`]: a listener called with `(db, event, key)` for each
//!   keyspace event of the given [`notify_class`] classes, whatever `notify-keyspace-events`
//!   says.
//! - [`InitContext::subscribe_server_event`]: a listener called with a typed [`ServerEvent`].
//! - [`Context::notify_keyspace_event`] / [`EventContext::notify_keyspace_event`]: raise an
//!   event of one's own, which Pub/Sub subscribers see as they see built-in ones.
//! - [`Context::replicate_verbatim`] and [`Context::replicate`]: what a module command
//!   propagates to the AOF and replicas instead of the commands it called.
//!
//! Listeners run on the server's execution thread, after the command that raised the event
//! (see `docs/modules.md`); a panic in one is caught, logged, and the server goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RErr, ROk, RSlice, RStr};

use crate::abi::{
    server_event as se, EventHost_TO, KeyspaceListener, KeyspaceListener_TO, LogLevel,
    ServerEventData, ServerEventListener, ServerEventListener_TO,
};
use crate::command::panic_message;
use crate::{Context, Error, InitContext, Reply};

pub use crate::abi::notify_class;

/// Parses `notify-keyspace-events` class letters (`g$lshzxetmdn`, `A` for all) into
/// [`notify_class`] bits; `None` on another character (`K` and `E` mean nothing to a module).
pub fn parse_classes(letters: &str) -> Option<u32> {
    use notify_class::*;
    let mut c = 0;
    for ch in letters.chars() {
        c |= match ch {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(c)
}

/// A server event kind to subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEventKind {
    FlushDb,
    SwapDb,
    Loading,
    Persistence,
    Shutdown,
    ModuleChange,
    ConfigChange,
    Key,
    ReplicationRole,
}

impl ServerEventKind {
    pub fn code(self) -> u32 {
        match self {
            ServerEventKind::FlushDb => se::FLUSHDB,
            ServerEventKind::SwapDb => se::SWAPDB,
            ServerEventKind::Loading => se::LOADING,
            ServerEventKind::Persistence => se::PERSISTENCE,
            ServerEventKind::Shutdown => se::SHUTDOWN,
            ServerEventKind::ModuleChange => se::MODULE_CHANGE,
            ServerEventKind::ConfigChange => se::CONFIG_CHANGE,
            ServerEventKind::Key => se::KEY,
            ServerEventKind::ReplicationRole => se::REPLICATION_ROLE,
        }
    }
}

/// Where a two-phase event (flush, loading, persistence) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Start,
    End,
    Failed,
}

/// What persistence started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// BGSAVE (and the cron's saves).
    Rdb,
    /// SAVE, under the lock.
    SyncRdb,
    /// BGREWRITEAOF.
    Aof,
}

/// What happened to a key, in a [`ServerEvent::Key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChange {
    Deleted,
    Expired,
    Evicted,
    Overwritten,
}

/// A server event, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// FLUSHDB (`db: Some(n)`) or FLUSHALL (`db: None`), before (`Start`) and after (`End`).
    FlushDb {
        phase: Phase,
        db: Option<i64>,
    },
    SwapDb {
        first: i64,
        second: i64,
    },
    Loading(Phase),
    PersistenceStart(Persistence),
    /// A save ended, `Phase::End` or `Phase::Failed`.
    PersistenceEnd(Phase),
    Shutdown,
    ModuleLoaded(String),
    ModuleUnloaded(String),
    /// CONFIG SET changed these parameters.
    ConfigChange(Vec<String>),
    Key {
        change: KeyChange,
        db: i64,
        key: Vec<u8>,
    },
    /// `true`: this server became a replica.
    ReplicationRole {
        replica: bool,
    },
    /// An event this SDK does not know (a newer server's).
    Other(ServerEventData),
}

impl From<ServerEventData> for ServerEvent {
    fn from(d: ServerEventData) -> ServerEvent {
        let phase = |s| match s {
            se::START => Phase::Start,
            se::FAILED => Phase::Failed,
            _ => Phase::End,
        };
        let name = || String::from_utf8_lossy(&d.name).into_owned();
        match (d.event, d.subevent) {
            (se::FLUSHDB, s) => {
                ServerEvent::FlushDb { phase: phase(s), db: (d.db >= 0).then_some(d.db) }
            }
            (se::SWAPDB, _) => ServerEvent::SwapDb { first: d.db, second: d.other_db },
            (se::LOADING, s) => ServerEvent::Loading(phase(s)),
            (se::PERSISTENCE, se::RDB_START) => ServerEvent::PersistenceStart(Persistence::Rdb),
            (se::PERSISTENCE, se::SYNC_RDB_START) => {
                ServerEvent::PersistenceStart(Persistence::SyncRdb)
            }
            (se::PERSISTENCE, se::AOF_START) => ServerEvent::PersistenceStart(Persistence::Aof),
            (se::PERSISTENCE, s @ (se::END | se::FAILED)) => ServerEvent::PersistenceEnd(phase(s)),
            (se::SHUTDOWN, _) => ServerEvent::Shutdown,
            (se::MODULE_CHANGE, se::LOADED) => ServerEvent::ModuleLoaded(name()),
            (se::MODULE_CHANGE, se::UNLOADED) => ServerEvent::ModuleUnloaded(name()),
            (se::CONFIG_CHANGE, _) => {
                ServerEvent::ConfigChange(d.names.iter().map(|n| n.to_string()).collect())
            }
            (se::KEY, s @ (se::DELETED | se::EXPIRED | se::EVICTED | se::OVERWRITTEN)) => {
                let change = match s {
                    se::DELETED => KeyChange::Deleted,
                    se::EXPIRED => KeyChange::Expired,
                    se::EVICTED => KeyChange::Evicted,
                    _ => KeyChange::Overwritten,
                };
                ServerEvent::Key { change, db: d.db, key: d.name.to_vec() }
            }
            (se::REPLICATION_ROLE, s) => ServerEvent::ReplicationRole { replica: s == se::REPLICA },
            _ => ServerEvent::Other(d),
        }
    }
}

/// What a listener works through while the server delivers one event.
pub struct EventContext<'a, 'p> {
    host: EventHost_TO<'a, RMut<'p, ()>>,
}

impl<'a, 'p> EventContext<'a, 'p> {
    pub fn new(host: EventHost_TO<'a, RMut<'p, ()>>) -> Self {
        EventContext { host }
    }

    /// The event's database (what [`EventContext::call`] runs against).
    pub fn db(&self) -> i64 {
        self.host.db()
    }

    /// Runs a command in the event's database and returns its reply, typed as on RESP3. The
    /// events it raises are delivered after this listener returns, never to this listener
    /// itself.
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        let args: Vec<RSlice<'_, u8>> =
            argv.iter().map(|a| RSlice::from_slice(a.as_ref())).collect();
        self.host.call(RSlice::from_slice(&args)).into()
    }

    /// Raises keyspace event `event` of `class` on `key` of the event's database.
    pub fn notify_keyspace_event(&mut self, class: u32, event: &str, key: impl AsRef<[u8]>) {
        self.host.notify_keyspace_event(
            class,
            RStr::from_str(event),
            RSlice::from_slice(key.as_ref()),
        );
    }

    pub fn log(&self, level: LogLevel, msg: &str) {
        self.host.log(level, RStr::from_str(msg));
    }

    pub fn server_api_minor(&self) -> u32 {
        self.host.api_minor()
    }
}

type KeyspaceFn = Box<dyn Fn(&mut EventContext, i64, &str, &[u8]) + Send + Sync>;
type ServerFn = Box<dyn Fn(&mut EventContext, &ServerEvent) + Send + Sync>;

struct KeyspaceAdapter(KeyspaceFn);
struct ServerAdapter(ServerFn);

fn report_panic(ctx: &EventContext, what: &str, p: Box<dyn std::any::Any + Send>) {
    let msg = panic_message(p.as_ref()).replace(['\r', '\n'], " ");
    ctx.log(LogLevel::Warning, &format!("{what} listener panicked: {msg}"));
}

impl KeyspaceListener for KeyspaceAdapter {
    fn on_event(
        &self,
        ctx: EventHost_TO<'_, RMut<'_, ()>>,
        db: i64,
        _class: u32,
        event: RStr<'_>,
        key: RSlice<'_, u8>,
    ) {
        let mut c = EventContext::new(ctx);
        let run = AssertUnwindSafe(|| (self.0)(&mut c, db, event.as_str(), key.as_slice()));
        if let Err(p) = catch_unwind(run) {
            report_panic(&c, "keyspace event", p);
        }
    }
}

impl ServerEventListener for ServerAdapter {
    fn on_event(&self, ctx: EventHost_TO<'_, RMut<'_, ()>>, event: ServerEventData) {
        let mut c = EventContext::new(ctx);
        let ev = ServerEvent::from(event);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (self.0)(&mut c, &ev))) {
            report_panic(&c, "server event", p);
        }
    }
}

impl InitContext<'_, '_> {
    /// Calls `listener(ctx, db, event, key)` for each keyspace event of `classes` (bits of
    /// [`notify_class`], or [`parse_classes`]`("g$x")`), whether or not
    /// `notify-keyspace-events` publishes them.
    pub fn subscribe_keyspace(
        &mut self,
        classes: u32,
        listener: impl Fn(&mut EventContext, i64, &str, &[u8]) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let l = KeyspaceListener_TO::from_value(KeyspaceAdapter(Box::new(listener)), TD_Opaque);
        match self.host.subscribe_keyspace(classes, l) {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    /// Calls `listener(ctx, event)` for each server event of `kind`.
    pub fn subscribe_server_event(
        &mut self,
        kind: ServerEventKind,
        listener: impl Fn(&mut EventContext, &ServerEvent) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let l = ServerEventListener_TO::from_value(ServerAdapter(Box::new(listener)), TD_Opaque);
        match self.host.subscribe_server_event(kind.code(), l) {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }
}

impl Context<'_, '_> {
    /// Raises keyspace event `event` of `class` (usually [`notify_class::MODULE`]) on `key` of
    /// the client's database: Pub/Sub subscribers see it as a built-in event (if
    /// `notify-keyspace-events` has the class), module listeners of the class get it.
    pub fn notify_keyspace_event(&mut self, class: u32, event: &str, key: impl AsRef<[u8]>) {
        self.host.notify_keyspace_event(
            class,
            RStr::from_str(event),
            RSlice::from_slice(key.as_ref()),
        );
    }

    /// Propagates this command itself, as the client sent it, to the AOF and replicas,
    /// instead of the writes it made through [`Context::call`] (which are then not
    /// propagated). Replicas and AOF loading must have the module loaded.
    pub fn replicate_verbatim(&mut self) {
        self.host.replicate_verbatim();
    }

    /// Propagates `command args...` to the AOF and replicas instead of the writes the command
    /// made through [`Context::call`]. Called several times (or with
    /// [`Context::replicate_verbatim`]), everything goes in order inside one MULTI/EXEC. An
    /// error when `command` is not a known command.
    pub fn replicate<A: AsRef<[u8]>>(&mut self, command: &str, args: &[A]) -> Result<(), Error> {
        let mut argv: Vec<RSlice<'_, u8>> = Vec::with_capacity(args.len() + 1);
        argv.push(RSlice::from_slice(command.as_bytes()));
        argv.extend(args.iter().map(|a| RSlice::from_slice(a.as_ref())));
        match self.host.replicate(RSlice::from_slice(&argv)) {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_letters() {
        assert_eq!(parse_classes("g$"), Some(notify_class::GENERIC | notify_class::STRING));
        assert_eq!(parse_classes("A"), Some(notify_class::ALL));
        assert_eq!(parse_classes("K"), None);
    }

    #[test]
    fn typed_server_events() {
        let d = |event, subevent, db| ServerEventData {
            event,
            subevent,
            db,
            other_db: 0,
            name: b"k".to_vec().into(),
            names: Default::default(),
        };
        assert_eq!(
            ServerEvent::from(d(se::FLUSHDB, se::START, -1)),
            ServerEvent::FlushDb { phase: Phase::Start, db: None }
        );
        assert_eq!(
            ServerEvent::from(d(se::KEY, se::EXPIRED, 3)),
            ServerEvent::Key { change: KeyChange::Expired, db: 3, key: b"k".to_vec() }
        );
        assert!(matches!(ServerEvent::from(d(99, 0, 0)), ServerEvent::Other(_)));
    }
}
