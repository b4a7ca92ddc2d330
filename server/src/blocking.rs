//! Clients blocked on keys (BLPOP & co), as Redis serves them.
//!
//! A blocking command that finds nothing registers its client here, FIFO per key, and its
//! connection task waits outside the keyspace lock. When a key some client waits for comes to
//! exist (`Db::insert` marks it ready), the dispatcher, right after the command (or the whole
//! EXEC) that created it, runs the first waiter's command again on its behalf, under the same
//! lock, and hands the reply to the waiting connection. So the oldest waiter is served first,
//! and nothing can slip in between the write and the serving.
//!
//! The reply reaches the socket one of two ways (see [`Handoff`]). While the connection waits
//! with nothing of its own left to write, whoever serves it writes the reply itself, at once,
//! as Redis's event loop does: no task to wake, and the connection learns it was served when
//! its client sends the next command. Otherwise (the connection is writing pushed messages,
//! some are queued, the reply must wait for the AOF) the reply is left for the connection,
//! which is woken to write it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::client::ClientShared;
use crate::keyspace::Db;
use crate::net::socket::Socket;
use crate::server::Core;

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
}

/// Hands an unblocked client (see [`Blocking::unblock`]) its reply, which must not go out before
/// the AOF holds what was propagated so far (serving it included). Called under the core lock.
pub fn finish(core: &Core, shared: &ClientShared, reply: Vec<u8>) {
    let aof = core.aof.barrier();
    let mut h = shared.handoff.lock();
    let armed = std::mem::take(&mut h.armed);
    let direct = armed && aof.is_none() && shared.out.pending_bytes() == 0;
    if let (true, Some(socket)) = (direct, &h.socket) {
        let n = write_now(&**socket, &reply);
        crate::stats::count_output(n, false);
        if n == reply.len() {
            h.served = Some(Served::Written);
            drop(h);
            // CLIENT LIST stops showing it blocked now, not when it next sends something.
            shared.meta.lock().flags.blocked = false;
            return;
        }
        h.served = Some(if n == 0 {
            Served::Reply(reply, None)
        } else {
            Served::Rest(reply[n..].to_vec())
        });
    } else {
        h.served = Some(Served::Reply(reply, aof));
    }
    drop(h);
    shared.wake();
}

/// Writes what the socket takes without waiting: 0 if it takes nothing or is broken (the
/// connection then finds out for itself).
fn write_now(socket: &dyn Socket, buf: &[u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match socket.try_write(&buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    done
}

/// How a blocked client's reply gets to its socket: one per client, in its `ClientShared`,
/// shared by its connection task and whoever serves it (under the core lock).
#[derive(Default)]
pub struct Handoff {
    /// Set by the connection while it waits with nothing of its own to write; whoever serves
    /// the client may then write the reply to the socket itself. Cleared by either side.
    armed: bool,
    /// The client's socket, for those writes. Let go when the connection closes (see
    /// [`Handoff::close`]), so that it never keeps the socket open.
    socket: Option<Arc<dyn Socket>>,
    served: Option<Served>,
}

/// What serving a blocked client left its connection to do.
pub enum Served {
    /// Write this reply, once the AOF barrier (if any) is passed.
    Reply(Vec<u8>, Option<crate::persist::aof::Barrier>),
    /// Nothing: the reply was written whole.
    Written,
    /// The reply was written in part: write the rest before anything else.
    Rest(Vec<u8>),
}

impl Served {
    /// The bytes the connection still has to write, and the AOF barrier they wait for.
    pub fn into_parts(self) -> (Vec<u8>, Option<crate::persist::aof::Barrier>) {
        match self {
            Served::Reply(reply, aof) => (reply, aof),
            Served::Written => (Vec::new(), None),
            Served::Rest(rest) => (rest, None),
        }
    }
}

impl Handoff {
    /// The connection's socket, shared with it.
    pub fn set_socket(&mut self, socket: Arc<dyn Socket>) {
        self.socket = Some(socket);
    }

    /// The connection starts waiting with all its output written: arms the direct write unless
    /// the client was served already.
    pub fn arm(&mut self) {
        self.armed = self.served.is_none();
    }

    /// The connection is about to write to its socket itself: no direct write may start now.
    /// Returns a partly written reply's rest, which must go out first.
    pub fn disarm(&mut self) -> Option<Vec<u8>> {
        self.armed = false;
        match self.served.take() {
            Some(Served::Rest(rest)) => {
                self.served = Some(Served::Written);
                Some(rest)
            }
            other => {
                self.served = other;
                None
            }
        }
    }

    /// What serving the client left to do, if it was served. If not, the direct write stays
    /// armed only with `stay_armed` (the connection still has nothing of its own to do).
    pub fn take(&mut self, stay_armed: bool) -> Option<Served> {
        let served = self.served.take();
        if served.is_none() && !stay_armed {
            self.armed = false;
        }
        served
    }

    /// The connection is closing: lets go of its socket.
    pub fn close(&mut self) {
        self.armed = false;
        self.socket = None;
        self.served = None;
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
