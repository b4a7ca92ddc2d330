//! Clients blocked on keys (BLPOP & co), as Redis serves them.
//!
//! A blocking command that finds nothing registers its client here, FIFO per key, and its
//! connection task waits outside the keyspace lock. When a key some client waits for comes to
//! exist (`Db::insert` marks it ready), the dispatcher, right after the command (or the whole
//! EXEC) that created it, runs the first waiter's command again on its behalf, under the same
//! lock, and hands the reply to the waiting connection. So the oldest waiter is served first,
//! and nothing can slip in between the write and the serving.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::client::ClientShared;
use crate::keyspace::Db;

/// The type of value a waiter can be served from. A key that comes to exist with another type
/// leaves its waiters waiting, as in Redis 7.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    List,
    ZSet,
    Stream,
    /// A module's `block_client` / `block_on_keys` (see `module_host::concurrency`).
    Module,
    /// WAIT: replicas to acknowledge (see `repl`); no keys.
    Replicas,
}

/// What a command that found nothing asks for (see `Ctx::block`).
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    pub deadline: Option<i64>,
    pub wants: Wants,
    /// The command to run when served, if not the one called.
    pub rerun: Option<Vec<Bytes>>,
}

/// A blocked client, with what it needs to run its command again.
pub struct Waiter {
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    pub resp: u8,
    pub wants: Wants,
    /// Unix ms after which it times out; None waits forever.
    pub deadline: Option<i64>,
    pub shared: Arc<ClientShared>,
}

/// The blocked clients; the per-key queues live in each `Db::blocked_on`.
#[derive(Default)]
pub struct Blocking {
    waiters: HashMap<u64, Waiter>,
    /// Replies for clients no longer blocked, waiting for their connection to pick them up.
    done: HashMap<u64, Vec<u8>>,
    /// Set while blocked clients are being served, so that serving does not recurse.
    pub serving: bool,
}

impl Blocking {
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// INFO's `blocked_clients`.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// INFO's `clients_in_timeout_table`: blocked clients with a timeout.
    pub fn with_timeout(&self) -> usize {
        self.waiters.values().filter(|w| w.deadline.is_some()).count()
    }

    pub fn waiter(&self, id: u64) -> Option<&Waiter> {
        self.waiters.get(&id)
    }

    pub fn waiter_mut(&mut self, id: u64) -> Option<&mut Waiter> {
        self.waiters.get_mut(&id)
    }

    /// Blocks client `id` on `w.keys`, behind the clients already waiting on them.
    pub fn block(&mut self, dbs: &mut [Db], id: u64, w: Waiter) {
        let db = &mut dbs[w.db];
        for k in &w.keys {
            let q = match db.blocked_on.get_mut(&k[..]) {
                Some(q) => q,
                None => db.blocked_on.entry(k[..].into()).or_default(),
            };
            // A key named twice in one call is one place in the queue.
            if q.back() != Some(&id) {
                q.push_back(id);
            }
        }
        self.waiters.insert(id, w);
    }

    /// Unblocks client `id` (served, timed out, CLIENT UNBLOCK, gone) and returns its entry.
    pub fn unblock(&mut self, dbs: &mut [Db], id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        let db = &mut dbs[w.db];
        for k in &w.keys {
            if let Some(q) = db.blocked_on.get_mut(&k[..]) {
                // Usually the served client is at the front.
                match q.front() {
                    Some(&c) if c == id => {
                        q.pop_front();
                    }
                    _ => q.retain(|&c| c != id),
                }
                if q.is_empty() {
                    db.blocked_on.remove(&k[..]);
                }
            }
        }
        Some(w)
    }

    /// Leaves `reply` for client `id` and wakes its connection.
    pub fn finish(&mut self, id: u64, shared: &ClientShared, reply: Vec<u8>) {
        self.done.insert(id, reply);
        shared.wake();
    }

    /// The reply left for client `id`, if it has been unblocked.
    pub fn take_done(&mut self, id: u64) -> Option<Vec<u8>> {
        self.done.remove(&id)
    }

    /// Forgets client `id` entirely (its connection closed).
    pub fn forget(&mut self, dbs: &mut [Db], id: u64) {
        self.unblock(dbs, id);
        self.done.remove(&id);
    }
}

/// The reply of a blocking command that timed out: a null array, as Redis 7.0 gives for every
/// blocking command.
pub fn timeout_reply(resp: u8) -> Vec<u8> {
    if resp == 3 {
        b"_\r\n".to_vec()
    } else {
        b"*-1\r\n".to_vec()
    }
}

/// Parses a blocking command's timeout (seconds, fractions allowed) into an absolute deadline
/// as Redis 7.0 does: `None` for 0 (forever); Redis's errors for what is not a number or is
/// negative (a value too large for milliseconds in a long long counts as negative, as the C
/// conversion makes it).
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, crate::error::Error> {
    use crate::error::Error;
    let v = crate::util::num::parse_long_double(arg)
        .map(|v| v.to_f64())
        .ok_or_else(|| Error::msg("ERR timeout is not a float or out of range"))?;
    let ms = (v * 1000.0).ceil();
    if !(0.0..9.223_372_036_854_775e18).contains(&ms) {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let ms = ms as i64;
    Ok((ms > 0).then(|| now_ms.saturating_add(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(b"0", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"1.5", 1000).unwrap(), Some(2500));
        assert_eq!(parse_timeout(b"1e-10", 1000).unwrap(), Some(1001));
        assert_eq!(parse_timeout(b"0x10", 0).unwrap(), Some(16000));
        assert!(parse_timeout(b"9.2e15", 0).unwrap().is_some());
        for neg in ["-1", "9.3e15", "1e400", "-1e400", "inf"] {
            let e = parse_timeout(neg.as_bytes(), 0).unwrap_err();
            assert_eq!(e.0, "ERR timeout is negative", "{neg}");
        }
        for bad in ["abc", "nan", "", " 1"] {
            let e = parse_timeout(bad.as_bytes(), 0).unwrap_err();
            assert_eq!(e.0, "ERR timeout is not a float or out of range", "{bad}");
        }
    }
}
