//! Databases: the key -> value tables, with expiry.
//!
//! An expired key is never visible: every lookup checks the record's expiry and deletes the key
//! when it has passed (lazy expiry); the server cron also walks each table with a cursor and
//! reclaims expired keys nobody reads (active expiry, `cron::active_expire_cycle`).
//!
//! Lookups come in two kinds, as Redis's `lookupKey*` do: [`Db::lookup`] is an access (it
//! updates the key's LRU/LFU field as its [`Access`] says), [`Db::peek`] is not (EXISTS, TYPE,
//! TTL, OBJECT). Both do lazy expiry and cost one hash lookup.

pub mod digest;
pub mod evict;
pub mod notify;
pub mod record;
pub mod table;
pub mod watch;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use crate::client::Client;
use crate::config::{Config, MaxmemoryPolicy};
use crate::server::Core;
use crate::types::Object;

pub type Entry = record::Entry<Object>;
pub type Value<'a> = record::Value<'a, Object>;
pub type ValueRef<'a> = record::ValueRef<'a, Object>;
pub type Table = table::Table<Object>;

/// Record tag bit (see [`record::Entry::tag`]): the string is what Redis calls `raw`, because
/// APPEND or SETRANGE changed it in place. Strings longer than [`EMBSTR_MAX`] are raw anyway.
pub const TAG_RAW: u8 = 1;
/// Record tag bit: an integer value Redis would not share (COPY duplicates shared integers
/// into private objects), so OBJECT REFCOUNT says 1 for it.
pub const TAG_UNSHARED: u8 = 2;
/// Longest string Redis stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;
/// Integers in `0..SHARED_INTEGERS` are shared objects in Redis (OBJECT REFCOUNT 2147483647).
pub const SHARED_INTEGERS: i64 = 10000;
/// The refcount Redis reports for shared objects.
pub const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// LFU counter of a new key (Redis's LFU_INIT_VAL).
pub const LFU_INIT_VAL: u32 = 5;

/// How the LRU/LFU field of a key is kept, from `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lru {
    /// LRU clock (24-bit seconds): the field holds the last access time.
    Clock(u32),
    /// LFU: the field holds 16 bits of minutes of the last decrement and an 8-bit log counter.
    Lfu { minutes: u16, log_factor: u32, decay_time: u32 },
}

/// What an access to a key does to its LRU/LFU field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub lru: Lru,
    /// False for clients in CLIENT NO-TOUCH mode: reads leave the field alone.
    pub touch: bool,
}

impl Access {
    /// An LRU-clock access at `clock`.
    pub fn lru(clock: u32) -> Access {
        Access { lru: Lru::Clock(clock), touch: true }
    }

    /// The access a command of `client` makes, from the server's clock and eviction policy.
    pub fn of(core: &Core, client: &Client) -> Access {
        Access { lru: lru_mode(core), touch: !client.flags.no_touch }
    }

    /// The same access, but one that always touches (TOUCH).
    pub fn forced(self) -> Access {
        Access { touch: true, ..self }
    }

    /// The field of a key created now.
    pub fn initial(&self) -> u32 {
        match self.lru {
            Lru::Clock(c) => c,
            Lru::Lfu { minutes, .. } => (u32::from(minutes) << 8) | LFU_INIT_VAL,
        }
    }

    /// Records an access to `e` (if this access touches).
    pub fn apply(&self, e: &mut Entry) {
        if !self.touch {
            return;
        }
        match self.lru {
            Lru::Clock(c) => e.set_lru(c),
            Lru::Lfu { minutes, log_factor, decay_time } => {
                let counter = lfu_decr(e.lru(), minutes, decay_time);
                let counter = lfu_log_incr(counter, log_factor);
                e.set_lru((u32::from(minutes) << 8) | counter);
            }
        }
    }
}

/// The eviction policy's view of the LRU field: an LFU `maxmemory-policy` keeps LFU counters,
/// every other policy the LRU clock.
fn lru_mode(core: &Core) -> Lru {
    if is_lfu(core.cfg.maxmemory_policy) {
        Lru::Lfu {
            minutes: lfu_minutes_now(),
            log_factor: core.cfg.lfu_log_factor,
            decay_time: core.cfg.lfu_decay_time,
        }
    } else {
        Lru::Clock(core.lru_clock)
    }
}

/// Whether a `maxmemory-policy` keeps LFU counters in the LRU field.
pub fn is_lfu(p: MaxmemoryPolicy) -> bool {
    matches!(p, MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu)
}

/// Whether Redis would share small integer values under this configuration (it does not when
/// `maxmemory` is set with an LRU or LFU policy, which needs a per-key LRU field).
pub fn shares_integers(cfg: &Config) -> bool {
    use MaxmemoryPolicy::*;
    cfg.maxmemory == 0
        || !matches!(cfg.maxmemory_policy, VolatileLru | VolatileLfu | AllkeysLru | AllkeysLfu)
}

/// Minutes clock of the LFU field (Redis's LFUGetTimeInMinutes).
pub fn lfu_minutes_now() -> u16 {
    ((crate::clock::unix_secs() / 60) & 0xffff) as u16
}

/// The LFU counter of field `lru` decayed to `now` minutes (Redis's LFUDecrAndReturn).
pub fn lfu_decr(lru: u32, now: u16, decay_time: u32) -> u32 {
    let ldt = (lru >> 8) as u16;
    let counter = lru & 0xff;
    let elapsed =
        if now >= ldt { u32::from(now - ldt) } else { 65535 - u32::from(ldt) + u32::from(now) };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment of an LFU counter (Redis's LFULogIncr).
fn lfu_log_incr(counter: u32, log_factor: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let r: f64 = rand::random();
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Idle time in ms of a key whose LRU field is `lru`, at LRU clock `clock` (Redis's
/// estimateObjectIdleTime: the 24-bit clock wraps).
pub fn idle_ms(lru: u32, clock: u32) -> u64 {
    let idle = if clock >= lru { clock - lru } else { clock + (record::LRU_MAX - lru) };
    u64::from(idle) * 1000
}

/// The bytes of a string value, or None for an object. An integer is formatted into `buf`.
pub fn str_bytes<'a>(v: ValueRef<'a>, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
    match v {
        ValueRef::Str(s) => Some(s),
        ValueRef::Int(n) => Some(buf.format(n).as_bytes()),
        ValueRef::Obj(_) => None,
    }
}

/// The name OBJECT ENCODING answers for an entry.
pub fn encoding_name(e: &Entry) -> &'static str {
    match e.value() {
        ValueRef::Int(_) => "int",
        ValueRef::Str(s) if s.len() > EMBSTR_MAX || e.tag() & TAG_RAW != 0 => "raw",
        ValueRef::Str(_) => "embstr",
        ValueRef::Obj(o) => o.encoding_name(),
    }
}

/// The name TYPE answers for an entry.
pub fn type_name(e: &Entry) -> &str {
    match e.value() {
        ValueRef::Obj(o) => o.type_name(),
        _ => "string",
    }
}

/// What OBJECT REFCOUNT answers for an entry. Whether an integer is shared was decided when it
/// was written (see [`new_value_tag`]); `shared_ints` false says 1 regardless.
pub fn refcount(e: &Entry, shared_ints: bool) -> i64 {
    match e.value() {
        ValueRef::Int(n)
            if shared_ints && (0..SHARED_INTEGERS).contains(&n) && e.tag() & TAG_UNSHARED == 0 =>
        {
            SHARED_REFCOUNT
        }
        _ => 1,
    }
}

/// The tag of a value written now: Redis decides when it creates an integer value whether it
/// is a shared object, and keeps it so.
pub fn new_value_tag(cfg: &Config) -> u8 {
    if shares_integers(cfg) {
        0
    } else {
        TAG_UNSHARED
    }
}

/// What a write does to the expiry of the key it overwrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Keep the key's expiry (KEEPTTL, and the overwrite of INCR and friends).
    Keep,
    /// Set this expiry (None: no expiry).
    Set(Option<i64>),
}

fn is_expired(e: &Entry, now: i64) -> bool {
    expired_in(e, now, mode())
}

/// Whether `e` is past its deadline and, in `mode`, that counts.
#[inline]
fn expired_in(e: &Entry, now: i64, mode: u8) -> bool {
    matches!(e.expire_at(), Some(t) if t <= now) && mode & (LOADING | MASTER_STREAM) == 0
}

/// How expiry behaves now, one word for the whole process (one server per process), read once
/// per lookup. Bits:
static MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The server loads its data at start-up (AOF, RDB): nothing expires then, as in Redis (a
/// command of the file that touches a key whose deadline has passed since it was written must
/// still find it); the active expire cycle and lazy expiry delete it afterwards.
const LOADING: u8 = 1;
/// A replica applies its master's stream: the master's commands see keys past their deadline
/// as they are, since on the master they still exist.
const MASTER_STREAM: u8 = 2;
/// This server is a replica: keys expire when the master says so (a DEL in its stream), as in
/// Redis. A replica deleting an expired key itself could miss the master extending it a moment
/// before, and keep a data set the master does not have. Its clients meanwhile see such a key
/// as missing (see [`Db::peek`]); nothing deletes it.
const REPLICA: u8 = 4;

#[inline]
fn mode() -> u8 {
    MODE.load(std::sync::atomic::Ordering::Relaxed)
}

fn set_mode(bit: u8, on: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    if on {
        MODE.fetch_or(bit, Relaxed);
    } else {
        MODE.fetch_and(!bit, Relaxed);
    }
}

/// This server became a replica (`true`) or a master again (see [`REPLICA`]).
pub fn set_replica(on: bool) {
    set_mode(REPLICA, on);
}

/// Whether keys past their deadline wait for the master's DEL (see [`REPLICA`]).
#[inline]
pub fn replica() -> bool {
    mode() & REPLICA != 0
}

/// Brackets the master's commands on a replica (see [`MASTER_STREAM`]); the core lock is held.
pub fn set_applying_master_stream(on: bool) {
    set_mode(MASTER_STREAM, on);
}

/// Whether the server is loading its data (see [`LOADING`]).
#[inline]
pub fn loading() -> bool {
    mode() & LOADING != 0
}

pub fn set_loading(on: bool) {
    set_mode(LOADING, on);
}

pub struct Db {
    pub id: usize,
    pub table: Table,
    /// Number of keys with an expiry (INFO keyspace `expires=`).
    pub expires: usize,
    /// Cursor of the active expire cycle over `table`.
    pub expire_cursor: u64,
    /// Keys removed by lazy expiry since the dispatcher last looked; it propagates a DEL for each.
    pub lazy_expired: Vec<Box<[u8]>>,
    /// Clients blocked on each key (BLPOP & co), oldest first; kept by `crate::blocking`.
    pub blocked_on: HashMap<Box<[u8]>, VecDeque<u64>>,
    /// Keys of `blocked_on` that received a value since the dispatcher last served blocked
    /// clients (Redis's ready_keys).
    pub ready: Vec<Box<[u8]>>,
    /// `expired` and `new` events waiting to be published, recorded only while the configured
    /// notification classes want them (see [`notify`]); None otherwise.
    pub events: Option<Vec<(notify::DbEvent, Box<[u8]>)>>,
    /// `events` also records keys overwritten by a whole new value (a module listens to KEY
    /// server events).
    pub record_overwrites: bool,
    /// Key lookups so far (the dispatcher turns a command's deltas into INFO's keyspace_hits and
    /// keyspace_misses).
    pub lookups: Lookups,
    /// Which lookups that find nothing record a `keymiss` event in `events`: set by the
    /// dispatcher around each command while someone listens for them.
    pub miss_events: ReadLookups,
}

/// Which of a command's key lookups are reads, as Redis counts them (INFO keyspace_hits and
/// keyspace_misses) and notifies them (`keymiss`): each command's, decided once per command
/// (`cmd::Command`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadLookups {
    /// None of its own (MEMORY USAGE; EVAL_RO, whose commands count theirs).
    #[default]
    None,
    /// Only [`Db::lookup_read`]s: a write command's.
    Marked,
    /// Every lookup: a read-only command's.
    All,
}

/// Counts of a database's key lookups, ever.
#[derive(Clone, Copy, Default)]
pub struct Lookups {
    /// Lookups that found a live key / found none: a read-only command's hits and misses.
    pub hits: u64,
    pub misses: u64,
    /// The subset made through [`Db::lookup_read`]: what a write command read (Redis's
    /// lookupKeyRead, SINTERSTORE's sources), which is what it counts as hits and misses.
    pub read_hits: u64,
    pub read_misses: u64,
}

impl Db {
    pub fn new(id: usize) -> Self {
        Db {
            id,
            table: Table::new(),
            expires: 0,
            expire_cursor: 0,
            lazy_expired: Vec::new(),
            blocked_on: HashMap::new(),
            ready: Vec::new(),
            events: None,
            record_overwrites: false,
            lookups: Lookups::default(),
            miss_events: ReadLookups::None,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Removes an expired key and records it for propagation.
    fn expire_now(&mut self, key: &[u8]) {
        self.remove(key);
        self.lazily_expired(key);
    }

    /// Records a key deleted by lazy expiry, for propagation and notification.
    fn lazily_expired(&mut self, key: &[u8]) {
        self.lazy_expired.push(key.into());
        if let Some(ev) = &mut self.events {
            ev.push((notify::DbEvent::Expired, key.into()));
        }
    }

    /// The live entry for `key`, if any, without touching it.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.peek(key, now).map(|e| &*e)
    }

    /// The live entry for `key`, mutably, without touching it.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        self.peek(key, now)
    }

    /// The live entry for `key`, without touching its LRU field (Redis's LOOKUP_NOTOUCH).
    /// One hash lookup; an expired key is deleted.
    #[inline]
    pub fn peek(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        self.probe(key, now, false)
    }

    fn probe(&mut self, key: &[u8], now: i64, read: bool) -> Option<&mut Entry> {
        let mode = mode();
        let replica = mode & REPLICA != 0;
        let found = match self.table.probe_mut(key, |e| !replica && expired_in(e, now, mode)) {
            table::Probe::Missing => None,
            // A replica keeps it for the master's DEL (see `set_replica`).
            table::Probe::Live(e) if replica && expired_in(e, now, mode) => None,
            table::Probe::Live(e) => Some(e),
            table::Probe::Removed(e) => {
                if e.expire_at().is_some() {
                    self.expires -= 1;
                }
                // (Not `lazily_expired`: `e` borrows the table until the match ends.)
                self.lazy_expired.push(key.into());
                if let Some(ev) = &mut self.events {
                    ev.push((notify::DbEvent::Expired, key.into()));
                }
                None
            }
        };
        let n = &mut self.lookups;
        if found.is_some() {
            n.hits += 1;
            n.read_hits += u64::from(read);
            return found;
        }
        n.misses += 1;
        n.read_misses += u64::from(read);
        let miss_event = match self.miss_events {
            ReadLookups::None => false,
            ReadLookups::Marked => read,
            ReadLookups::All => true,
        };
        if let (true, Some(ev)) = (miss_event, &mut self.events) {
            ev.push((notify::DbEvent::Miss, key.into()));
        }
        None
    }

    /// The live entry for `key`, recording the access (Redis's lookupKeyRead/Write).
    pub fn lookup(&mut self, key: &[u8], now: i64, access: Access) -> Option<&mut Entry> {
        let e = self.peek(key, now)?;
        access.apply(e);
        Some(e)
    }

    /// [`Db::lookup`] of a key a command reads, as Redis's lookupKeyRead: a write command
    /// counts these (and only these) in INFO's keyspace_hits and keyspace_misses.
    pub fn lookup_read(&mut self, key: &[u8], now: i64, access: Access) -> Option<&mut Entry> {
        let e = self.probe(key, now, true)?;
        access.apply(e);
        Some(e)
    }

    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        self.peek(key, now).is_some()
    }

    /// Sets `key` to `value` with the given expiry, replacing any existing key.
    pub fn set(&mut self, key: &[u8], value: Value<'_>, expire_at: Option<i64>) {
        let e = Entry::new(key, value, expire_at);
        self.insert(e);
    }

    /// Writes a string (or any) value as SET does: the key is created or its value replaced;
    /// `ttl` says what happens to the expiry; the tag is set to `tag`; the LRU field is set as
    /// for a new value (LRU) or counts one access (LFU). Returns true if a live key was
    /// overwritten. One hash lookup for an existing key.
    pub fn write(
        &mut self,
        key: &[u8],
        value: Value<'_>,
        ttl: Ttl,
        tag: u8,
        now: i64,
        access: Access,
    ) -> bool {
        if let Some(e) = self.table.get_mut(key) {
            let expired = is_expired(e, now);
            if !expired {
                let old = e.expire_at();
                let new = match ttl {
                    Ttl::Keep => old,
                    Ttl::Set(t) => t,
                };
                e.set_value(value);
                e.set_tag(tag);
                match access.lru {
                    // Overwriting is an access (Redis looks the key up for writing first), and
                    // under LFU the new value inherits the counter (dbSetValue).
                    Lru::Lfu { .. } => access.apply(e),
                    Lru::Clock(_) => e.set_lru(access.initial()),
                }
                if old != new {
                    e.set_expire(new);
                    match (old.is_some(), new.is_some()) {
                        (false, true) => self.expires += 1,
                        (true, false) => self.expires -= 1,
                        _ => {}
                    }
                }
                if self.record_overwrites {
                    if let Some(ev) = &mut self.events {
                        ev.push((notify::DbEvent::Overwritten, key.into()));
                    }
                }
                return true;
            }
            self.expire_now(key);
        }
        let exp = match ttl {
            Ttl::Keep => None,
            Ttl::Set(t) => t,
        };
        let mut e = Entry::new(key, value, exp);
        e.set_tag(tag);
        e.set_lru(access.initial());
        self.insert(e);
        false
    }

    /// Adds a key that the caller knows does not exist (after a lookup said so).
    pub fn add(
        &mut self,
        key: &[u8],
        value: Value<'_>,
        expire_at: Option<i64>,
        tag: u8,
        access: Access,
    ) {
        let mut e = Entry::new(key, value, expire_at);
        e.set_tag(tag);
        e.set_lru(access.initial());
        self.insert(e);
    }

    /// A key that exists already received something a blocked client may wait for (XADD).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if !self.blocked_on.is_empty() && self.blocked_on.contains_key(key) {
            self.ready.push(key.into());
        }
    }

    /// Inserts a whole entry, replacing any existing key. Returns the replaced entry. A key that
    /// did not exist is `new` for keyspace notifications (loading a dataset must not come here
    /// while notifications are on).
    pub fn insert(&mut self, e: Entry) -> Option<Entry> {
        if e.expire_at().is_some() {
            self.expires += 1;
        }
        // Every way a key comes to exist goes through here: a client blocked on it may now be
        // served, if it is of a type one can wait for (as Redis, which does not look at a
        // string, so an expired one is not deleted then). Nobody blocked: one branch.
        if !self.blocked_on.is_empty() && self.blocked_on.contains_key(e.key()) {
            let waitable = matches!(
                e.value(),
                ValueRef::Obj(
                    Object::List(_) | Object::ZSet(_) | Object::Stream(_) | Object::Module(_)
                )
            );
            if waitable {
                self.ready.push(e.key().into());
            }
        }
        let new_key = self.events.is_some().then(|| Box::<[u8]>::from(e.key()));
        let old = self.table.insert(e);
        if let Some(o) = &old {
            if o.expire_at().is_some() {
                self.expires -= 1;
            }
        }
        if let (Some(k), Some(ev)) = (new_key, &mut self.events) {
            match &old {
                None => ev.push((notify::DbEvent::New, k)),
                Some(_) if self.record_overwrites => ev.push((notify::DbEvent::Overwritten, k)),
                Some(_) => {}
            }
        }
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.table.remove(key);
        if let Some(o) = &old {
            if o.expire_at().is_some() {
                self.expires -= 1;
            }
        }
        old
    }

    /// Deletes `key` as DEL does: returns the live entry removed, or None if there was none
    /// (an expired key is removed and counted as lazily expired). One hash lookup.
    pub fn delete(&mut self, key: &[u8], now: i64) -> Option<Entry> {
        let e = self.remove(key)?;
        if is_expired(&e, now) {
            self.lazily_expired(key);
            return None;
        }
        Some(e)
    }

    /// Deletes `key` whether or not its time has passed, as Redis's dbDelete when a `*STORE`
    /// command's result is empty: a key that expired but is still there goes as a `del`, not
    /// as an `expired`. Returns whether there was a key.
    pub fn delete_stored(&mut self, key: &[u8]) -> bool {
        self.remove(key).is_some()
    }

    /// Changes the expiry of an existing key. Returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>) -> bool {
        let Some(e) = self.table.get_mut(key) else {
            return false;
        };
        let had = e.expire_at().is_some();
        e.set_expire(at);
        match (had, at.is_some()) {
            (false, true) => self.expires += 1,
            (true, false) => self.expires -= 1,
            _ => {}
        }
        true
    }

    /// Removes every key, returning the old table so the caller can free it wherever it likes.
    pub fn take_all(&mut self) -> Table {
        self.expires = 0;
        self.expire_cursor = 0;
        self.table.take()
    }

    /// Exchanges the contents of two databases (SWAPDB); ids and pending propagation stay.
    pub fn swap_contents(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.expire_cursor, &mut other.expire_cursor);
        // Clients blocked on a database stay with its index; keys they wait for may now exist.
        for db in [self, other] {
            let present: Vec<Box<[u8]>> =
                db.blocked_on.keys().filter(|k| db.table.contains(k)).cloned().collect();
            db.ready.extend(present);
        }
    }
}

/// A copy of a value for another key (COPY): integers Redis shares become private. A module
/// value is copied by its type's callback, which may fail (the error is the reply).
pub fn dup_value(e: &Entry) -> Result<(Value<'static>, u8), String> {
    Ok(match e.value() {
        ValueRef::Int(n) => (Value::Int(n), e.tag() | TAG_UNSHARED),
        ValueRef::Str(s) => (Value::Str(Cow::Owned(s.to_vec())), e.tag()),
        ValueRef::Obj(o) => (Value::Obj(Box::new(o.try_clone()?)), e.tag()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(c: u32) -> Access {
        Access::lru(c)
    }

    #[test]
    fn lookup_expires_and_touches() {
        let mut db = Db::new(0);
        db.write(b"a", Value::string(b"1"), Ttl::Set(Some(100)), 0, 0, acc(5));
        db.write(b"b", Value::string(b"x"), Ttl::Set(None), 0, 0, acc(5));
        assert_eq!(db.expires, 1);
        assert_eq!(db.lookup(b"b", 50, acc(9)).unwrap().lru(), 9);
        assert_eq!(db.peek(b"b", 50).unwrap().lru(), 9);
        let no_touch = Access { touch: false, ..acc(11) };
        assert_eq!(db.lookup(b"b", 50, no_touch).unwrap().lru(), 9);
        assert!(db.lookup(b"a", 99, acc(1)).is_some());
        assert!(db.lookup(b"a", 100, acc(1)).is_none());
        assert_eq!(db.lazy_expired, vec![Box::from(&b"a"[..])]);
        assert_eq!((db.len(), db.expires), (1, 0));
    }

    #[test]
    fn write_keeps_or_sets_ttl() {
        let mut db = Db::new(0);
        assert!(!db.write(b"k", Value::string(b"v"), Ttl::Set(Some(1000)), TAG_RAW, 0, acc(1)));
        assert!(db.write(b"k", Value::string(b"w"), Ttl::Keep, 0, 10, acc(2)));
        let e = db.peek(b"k", 10).unwrap();
        assert_eq!((e.expire_at(), e.tag(), e.lru()), (Some(1000), 0, 2));
        assert!(db.write(b"k", Value::string(b"w"), Ttl::Set(None), 0, 10, acc(2)));
        assert_eq!(db.expires, 0);
        // An expired key is not overwritten in place: KEEPTTL must not keep its old TTL.
        db.set_expire(b"k", Some(20));
        assert!(!db.write(b"k", Value::string(b"z"), Ttl::Keep, 0, 30, acc(2)));
        assert_eq!(db.peek(b"k", 30).unwrap().expire_at(), None);
        assert_eq!(db.expires, 0);
        assert_eq!(db.lazy_expired.len(), 1);
    }

    #[test]
    fn delete_counts_live_keys_only() {
        let mut db = Db::new(0);
        db.write(b"a", Value::string(b"1"), Ttl::Set(Some(5)), 0, 0, acc(0));
        db.write(b"b", Value::string(b"1"), Ttl::Set(None), 0, 0, acc(0));
        assert!(db.delete(b"a", 10).is_none());
        assert!(db.delete(b"b", 10).is_some());
        assert!(db.delete(b"c", 10).is_none());
        assert_eq!((db.len(), db.expires, db.lazy_expired.len()), (0, 0, 1));
    }

    #[test]
    fn encodings_and_refcounts() {
        let mut db = Db::new(0);
        let mut enc = |v: &[u8], tag: u8| {
            db.write(b"k", Value::string(v), Ttl::Set(None), tag, 0, acc(0));
            let e = db.peek(b"k", 0).unwrap();
            (encoding_name(e), refcount(e, true))
        };
        assert_eq!(enc(b"9999", 0), ("int", SHARED_REFCOUNT));
        assert_eq!(enc(b"9999", TAG_UNSHARED), ("int", 1));
        assert_eq!(enc(b"10000", 0), ("int", 1));
        assert_eq!(enc(b"-1", 0), ("int", 1));
        assert_eq!(enc(b"007", 0), ("embstr", 1));
        assert_eq!(enc(&[b'x'; 44], 0), ("embstr", 1));
        assert_eq!(enc(&[b'x'; 45], 0), ("raw", 1));
        assert_eq!(enc(b"ab", TAG_RAW), ("raw", 1));
    }

    #[test]
    fn lfu_counter() {
        let lfu =
            Access { lru: Lru::Lfu { minutes: 100, log_factor: 0, decay_time: 1 }, touch: true };
        let mut db = Db::new(0);
        db.write(b"k", Value::string(b"v"), Ttl::Set(None), 0, 0, lfu);
        assert_eq!(db.peek(b"k", 0).unwrap().lru(), (100 << 8) | LFU_INIT_VAL);
        // log_factor 0: every access increments.
        db.lookup(b"k", 0, lfu);
        assert_eq!(db.peek(b"k", 0).unwrap().lru() & 0xff, LFU_INIT_VAL + 1);
        // Three minutes later with decay 1/minute: 6 - 3.
        assert_eq!(lfu_decr(db.peek(b"k", 0).unwrap().lru(), 103, 1), 3);
        // The 16-bit minutes clock wraps (as Redis counts it: 65535 - ldt + now).
        assert_eq!(lfu_decr((65535 << 8) | 10, 2, 1), 8);
        assert_eq!(lfu_decr((1 << 8) | 10, 100, 0), 10);
    }

    #[test]
    fn idle_wraps() {
        assert_eq!(idle_ms(10, 15), 5000);
        assert_eq!(idle_ms(record::LRU_MAX - 1, 3), 4000);
    }
}
