//! WATCH: which clients watch which keys, and which of them a change has invalidated.
//!
//! The dispatcher touches the keys a write command wrote (from the command's key specs), and the
//! server touches the keys it deletes itself (expiry, eviction) and those a FLUSHDB, FLUSHALL or
//! SWAPDB changes. A touched watcher's next EXEC fails. With no watcher at all every touch is one
//! branch, so the write path pays nothing when WATCH is unused.
//!
//! A key that was already logically expired when it was watched ("stale") is, as in Redis 7.0,
//! not invalidated by its own deletion: deleting a key that was already gone changes nothing. It
//! is invalidated when it comes back to life (a write creates it again).

use std::collections::{HashMap, HashSet};

use super::Db;

struct Watcher {
    client: u64,
    /// The key was expired but not yet deleted when WATCH ran.
    stale: bool,
}

#[derive(Default)]
pub struct Watches {
    by_key: HashMap<(usize, Box<[u8]>), Vec<Watcher>>,
    /// Clients whose next EXEC must fail.
    dirty: HashSet<u64>,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds a watch; watching the same key twice is one watch. Returns false if it was there.
    pub fn watch(&mut self, db: &Db, key: &[u8], client: u64, now: i64) -> bool {
        let list = self.by_key.entry((db.id, key.into())).or_default();
        if list.iter().any(|w| w.client == client) {
            return false;
        }
        let stale = db.table.get(key).is_some_and(|e| super::is_expired(e, now));
        list.push(Watcher { client, stale });
        true
    }

    /// Removes every watch of `client` (the keys it watched are passed in) and its dirty flag.
    pub fn unwatch_all(&mut self, client: u64, keys: &[(usize, Box<[u8]>)]) {
        for k in keys {
            if let Some(list) = self.by_key.get_mut(k) {
                list.retain(|w| w.client != client);
                if list.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        self.dirty.remove(&client);
    }

    pub fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }

    /// A watched key that was live when watched and has expired since (it may not have been
    /// deleted yet). EXEC fails then, as Redis 7.0's does.
    pub fn any_expired(
        &self,
        dbs: &[Db],
        client: u64,
        keys: &[(usize, Box<[u8]>)],
        now: i64,
    ) -> bool {
        keys.iter().any(|k| {
            let fresh = self
                .by_key
                .get(k)
                .is_some_and(|l| l.iter().any(|w| w.client == client && !w.stale));
            fresh && dbs[k.0].table.get(&k.1).is_some_and(|e| super::is_expired(e, now))
        })
    }

    /// `key` in `db` was modified (called after the change).
    pub fn touch(&mut self, db: &Db, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        // The lookup wants an owned key; build it only when someone watches anything.
        let Some(list) = self.by_key.get_mut(&(db.id, Box::from(key))) else {
            return;
        };
        let present = db.table.contains(key);
        for w in list.iter_mut() {
            if w.stale && !present {
                // A stale key deleted: nothing a reader could see changed.
                w.stale = false;
            } else {
                self.dirty.insert(w.client);
            }
        }
    }

    /// Database `emptied` is about to be flushed, or (with `replaced_with`) swapped with
    /// another: every watched key of `emptied` that is live in it, or live in the database that
    /// takes its place, is touched.
    pub fn touch_db(&mut self, emptied: &Db, replaced_with: Option<&Db>, now: i64) {
        if self.by_key.is_empty() {
            return;
        }
        let live =
            |db: &Db, key: &[u8]| db.table.get(key).is_some_and(|e| !super::is_expired(e, now));
        for ((dbi, key), list) in &self.by_key {
            if *dbi != emptied.id {
                continue;
            }
            if live(emptied, key) || replaced_with.is_some_and(|r| live(r, key)) {
                self.dirty.extend(list.iter().map(|w| w.client));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;
    use std::borrow::Cow;

    fn db_with(keys: &[(&str, Option<i64>)]) -> Db {
        let mut db = Db::new(0);
        for (k, exp) in keys {
            db.set(k.as_bytes(), Value::Str(Cow::Borrowed(b"v")), *exp);
        }
        db
    }

    #[test]
    fn touch_marks_watchers_dirty() {
        let db = db_with(&[("a", None)]);
        let mut w = Watches::default();
        assert!(w.watch(&db, b"a", 1, 0));
        assert!(!w.watch(&db, b"a", 1, 0));
        w.watch(&db, b"b", 2, 0);
        w.touch(&db, b"a");
        assert!(w.is_dirty(1));
        assert!(!w.is_dirty(2));
        w.unwatch_all(1, &[(0, Box::from(&b"a"[..]))]);
        assert!(!w.is_dirty(1));
        w.unwatch_all(2, &[(0, Box::from(&b"b"[..]))]);
        assert!(w.is_empty());
    }

    #[test]
    fn deleting_a_stale_key_is_not_a_change() {
        let mut db = db_with(&[("a", Some(5))]);
        let mut w = Watches::default();
        w.watch(&db, b"a", 1, 10);
        db.remove(b"a");
        w.touch(&db, b"a");
        assert!(!w.is_dirty(1));
        // Created again: that is a change.
        db.set(b"a", Value::Str(Cow::Borrowed(b"v")), None);
        w.touch(&db, b"a");
        assert!(w.is_dirty(1));
    }

    #[test]
    fn flush_touches_live_keys_only() {
        let db = db_with(&[("live", None), ("stale", Some(5))]);
        let mut w = Watches::default();
        w.watch(&db, b"live", 1, 10);
        w.watch(&db, b"stale", 2, 10);
        w.watch(&db, b"missing", 3, 10);
        w.touch_db(&db, None, 10);
        assert!(w.is_dirty(1));
        assert!(!w.is_dirty(2));
        assert!(!w.is_dirty(3));
    }

    #[test]
    fn expired_since_watch() {
        let db = db_with(&[("a", Some(100)), ("s", Some(5))]);
        let mut w = Watches::default();
        w.watch(&db, b"a", 1, 10);
        w.watch(&db, b"s", 1, 10);
        let keys = [(0, Box::from(&b"a"[..])), (0, Box::from(&b"s"[..]))];
        assert!(!w.any_expired(std::slice::from_ref(&db), 1, &keys, 50));
        assert!(w.any_expired(std::slice::from_ref(&db), 1, &keys, 100));
    }
}
