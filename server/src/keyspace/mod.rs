//! Databases: the key -> value tables, with expiry.
//!
//! An expired key is never visible: every lookup checks the record's expiry and deletes the key
//! when it has passed (lazy expiry); the server cron also walks each table with a cursor and
//! reclaims expired keys nobody reads (active expiry, see `expire.rs`).

pub mod expire;
pub mod record;
pub mod table;

use crate::types::Object;

pub type Entry = record::Entry<Object>;
pub type Value = record::Value<Object>;
pub type ValueRef<'a> = record::ValueRef<'a, Object>;
pub type Table = table::Table<Object>;

pub struct Db {
    pub id: usize,
    pub table: Table,
    /// Number of keys with an expiry (INFO keyspace `expires=`).
    pub expires: usize,
    /// Cursor of the active expire cycle over `table`.
    pub expire_cursor: u64,
    /// Keys removed by lazy expiry since the dispatcher last looked; it propagates a DEL for each.
    pub lazy_expired: Vec<Box<[u8]>>,
}

impl Db {
    pub fn new(id: usize) -> Self {
        Db { id, table: Table::new(), expires: 0, expire_cursor: 0, lazy_expired: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Deletes `key` if it has expired at `now`. Returns true if it was deleted.
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        let expired = match self.table.get(key) {
            Some(e) => matches!(e.expire_at(), Some(t) if t <= now),
            None => false,
        };
        if expired {
            self.remove(key);
            self.lazy_expired.push(key.into());
        }
        expired
    }

    /// The live entry for `key`, if any.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        self.table.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        self.expire_if_needed(key, now);
        self.table.get_mut(key)
    }

    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// Sets `key` to `value` with the given expiry, replacing any existing key.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: Option<i64>) {
        let e = Entry::new(key, value, expire_at);
        self.insert(e);
    }

    /// Inserts a whole entry, replacing any existing key. Returns the replaced entry.
    pub fn insert(&mut self, e: Entry) -> Option<Entry> {
        if e.expire_at().is_some() {
            self.expires += 1;
        }
        let old = self.table.insert(e);
        if let Some(o) = &old {
            if o.expire_at().is_some() {
                self.expires -= 1;
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

    /// Changes the expiry of an existing live key. Returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>) -> bool {
        let Some(e) = self.table.get_mut(key) else { return false };
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
}
