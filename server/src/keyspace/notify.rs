//! Keyspace notifications (`notify-keyspace-events`), as Redis 7.0 emits them.
//!
//! An event of class `c` named `e` on key `k` of database `d` is published, through the Pub/Sub
//! seam ([`crate::pubsub::publish`]), on `__keyspace@d__:k` with message `e` (class `K`) and then
//! on `__keyevent@d__:e` with message `k` (class `E`), if the configured classes include `c`.
//! With notifications off (the default) an event costs one branch.
//!
//! Handlers call [`crate::cmd::Ctx::notify`] after their change; the server calls [`notify`]
//! itself for what no command does (active expiry, eviction). Three events happen inside the
//! keyspace, where no `Core` is at hand: a key expiring lazily on lookup (`expired`), a key
//! coming to exist (`new`) and a read finding no key (`keymiss`). While some class wants them,
//! each [`Db`] records them in order in `Db::events`, and they are published before the next
//! event or at the end of the command ([`flush`]), so that they come in Redis's order: before
//! the event of the command that caused them.

use crate::config::notify as class;
use crate::pubsub::{publish, Local};
use crate::server::Core;

use super::Db;

/// An event a [`Db`] recorded on its own: see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbEvent {
    Expired,
    New,
    /// A key given a whole new value (recorded only for module KEY server events).
    Overwritten,
    /// A read found no key (`keymiss`: see `Db::miss_events`).
    Miss,
}

/// Publishes event `event` of class `class` (a [`crate::config::notify`] bit) on `key` of
/// database `db`, if the configuration asks for it. `local` is the client running the command,
/// whose own messages go before its reply.
pub fn notify(
    core: &mut Core,
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
    mut local: Option<Local>,
) {
    // Module listeners get the classes they subscribed to, whatever the configuration says.
    if core.modules.events.mask & class != 0 {
        crate::module_host::events::queue(core, class, event, key, db);
    }
    if core.cfg.notify_keyspace_events & class == 0 {
        return;
    }
    flush(core, reborrow(&mut local));
    emit(core, event, key, db, local);
}

/// Publishes the `expired` and `new` events the databases recorded (see the module docs).
#[inline]
pub fn flush(core: &mut Core, local: Option<Local>) {
    if wanted(core) & (class::EXPIRED | class::NEW | class::KEY_MISS) != 0
        || core.modules.events.overwrites
    {
        flush_recorded(core, local);
    }
}

fn flush_recorded(core: &mut Core, mut local: Option<Local>) {
    for db in 0..core.dbs.len() {
        let Some(events) = core.dbs[db].events.as_mut() else { continue };
        if events.is_empty() {
            continue;
        }
        let mut events = std::mem::take(events);
        let flags = core.cfg.notify_keyspace_events;
        for (ev, key) in events.drain(..) {
            let (c, name) = match ev {
                DbEvent::Expired => (class::EXPIRED, "expired"),
                DbEvent::New => (class::NEW, "new"),
                DbEvent::Miss => (class::KEY_MISS, "keymiss"),
                DbEvent::Overwritten => {
                    crate::module_host::events::queue_overwritten(core, &key, db);
                    continue;
                }
            };
            if core.modules.events.mask & c != 0 {
                crate::module_host::events::queue(core, c, name, &key, db);
            }
            if flags & c != 0 {
                emit(core, name, &key, db, reborrow(&mut local));
            }
        }
        // Keep the allocation for next time.
        if let Some(v) = core.dbs[db].events.as_mut().filter(|v| v.is_empty()) {
            *v = events;
        }
    }
}

/// Makes the databases record `expired` and `new` events exactly while the configuration would
/// publish some of them, or a module listens to them. Called at start-up, after CONFIG SET and
/// when modules load or unload.
pub fn sync(core: &mut Core) {
    let flags = core.cfg.notify_keyspace_events;
    let recorded = class::EXPIRED | class::NEW | class::KEY_MISS;
    let on = flags & (class::KEYSPACE | class::KEYEVENT) != 0 && flags & recorded != 0
        || core.modules.events.mask & recorded != 0
        || core.modules.events.overwrites;
    let overwrites = core.modules.events.overwrites;
    for db in &mut core.dbs {
        set_recording(db, on);
        db.record_overwrites = overwrites;
    }
}

/// The classes anyone wants: the configuration's, and those module listeners subscribed to.
#[inline]
pub fn wanted(core: &Core) -> u32 {
    core.cfg.notify_keyspace_events | core.modules.events.mask
}

fn set_recording(db: &mut Db, on: bool) {
    match (on, db.events.is_some()) {
        (true, false) => db.events = Some(Vec::new()),
        (false, true) => db.events = None,
        _ => {}
    }
}

fn reborrow<'b>(local: &'b mut Option<Local>) -> Option<Local<'b>> {
    local.as_mut().map(|l| Local { client: &mut *l.client, out: &mut *l.out })
}

fn emit(core: &mut Core, event: &str, key: &[u8], db: usize, mut local: Option<Local>) {
    let flags = core.cfg.notify_keyspace_events;
    let mut ib = itoa::Buffer::new();
    let dbs = ib.format(db).as_bytes();
    if flags & class::KEYSPACE != 0 {
        let mut ch = Vec::with_capacity(16 + dbs.len() + key.len());
        ch.extend_from_slice(b"__keyspace@");
        ch.extend_from_slice(dbs);
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(key);
        publish(core, &ch, event.as_bytes(), reborrow(&mut local));
    }
    if flags & class::KEYEVENT != 0 {
        let mut ch = Vec::with_capacity(16 + dbs.len() + event.len());
        ch.extend_from_slice(b"__keyevent@");
        ch.extend_from_slice(dbs);
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(event.as_bytes());
        publish(core, &ch, key, local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keyspace::{Access, Ttl, Value};

    #[test]
    fn databases_record_only_while_wanted() {
        let mut core = Core::new(Config::default());
        assert!(core.dbs[0].events.is_none());
        core.dbs[0].write(b"k", Value::string(b"v"), Ttl::Set(None), 0, 0, Access::lru(0));
        assert!(core.dbs[0].events.is_none());

        core.cfg.notify_keyspace_events = class::parse(b"Kn").unwrap();
        sync(&mut core);
        core.dbs[0].write(b"a", Value::string(b"v"), Ttl::Set(Some(10)), 0, 0, Access::lru(0));
        // Overwriting is not creating.
        core.dbs[0].write(b"a", Value::string(b"w"), Ttl::Keep, 0, 5, Access::lru(0));
        assert!(core.dbs[0].get(b"a", 20).is_none());
        let got = core.dbs[0].events.clone().unwrap();
        assert_eq!(got, vec![(DbEvent::New, b"a"[..].into()), (DbEvent::Expired, b"a"[..].into())]);
        flush(&mut core, None);
        assert_eq!(core.dbs[0].events.as_ref().map(Vec::len), Some(0));

        // Classes without K or E publish nothing, so nothing is recorded.
        core.cfg.notify_keyspace_events = class::parse(b"A").unwrap();
        sync(&mut core);
        assert!(core.dbs[0].events.is_none());
    }
}
