//! Output accounting for what other clients push to a connection (pub/sub messages, MONITOR
//! lines), and Redis's `client-output-buffer-limit`.
//!
//! A push goes through the client's unbounded push channel; the connection loop writes it when the
//! socket takes it. What was pushed and not yet written is counted here (bytes and messages), so
//! that a reader that never reads cannot make the server's memory grow without bound: a push that
//! takes the pending bytes past the hard limit of the client's class, or keeps them over the soft
//! limit for longer than its seconds, closes the client as Redis does ("scheduled to be closed ASAP
//! for overcoming of output buffer limits"). Replies to the client's own commands are written
//! before it reads more, so they never pile up and are not counted.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::config::{ClientBufferLimit, ClientClass};

/// The pending-output counters and limit state of one client.
#[derive(Default)]
pub struct OutputState {
    /// Bytes pushed and not yet written to the socket.
    bytes: AtomicUsize,
    /// Messages pushed and not yet written (CLIENT LIST `oll=`).
    msgs: AtomicUsize,
    /// Unix ms when the pending bytes were first seen over the soft limit; 0 when under it.
    soft_since_ms: AtomicI64,
    /// In pub/sub mode (class `pubsub` for the limits); kept by the pub/sub commands.
    pubsub: AtomicBool,
    /// A replica connection (class `replica`); kept by replication.
    replica: AtomicBool,
    /// The client speaks RESP3: pushes to it use the `>` type. Kept by the connection loop.
    resp3: AtomicBool,
    /// Notified when the client is killed, to abandon a write the peer does not read.
    pub(crate) killed: Notify,
}

/// What a push found about the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitCheck {
    Within,
    /// Over the hard limit, or over the soft limit for too long: the client must close.
    Exceeded,
}

impl OutputState {
    pub fn pending_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn pending_msgs(&self) -> usize {
        self.msgs.load(Ordering::Relaxed)
    }

    pub fn set_pubsub(&self, on: bool) {
        self.pubsub.store(on, Ordering::Relaxed);
    }

    pub fn is_pubsub(&self) -> bool {
        self.pubsub.load(Ordering::Relaxed)
    }

    pub fn set_replica(&self, on: bool) {
        self.replica.store(on, Ordering::Relaxed);
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    pub fn set_resp3(&self, on: bool) {
        self.resp3.store(on, Ordering::Relaxed);
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }

    /// The class whose limits apply, as Redis's getClientType: a replica before pub/sub.
    pub fn class(&self) -> ClientClass {
        if self.replica.load(Ordering::Relaxed) {
            ClientClass::Replica
        } else if self.pubsub.load(Ordering::Relaxed) {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        }
    }

    /// Counts `len` bytes pushed and checks the limits of the client's class.
    pub fn add(&self, len: usize, limits: &[ClientBufferLimit; 3]) -> LimitCheck {
        let total = self.bytes.fetch_add(len, Ordering::Relaxed) + len;
        self.msgs.fetch_add(1, Ordering::Relaxed);
        let l = limits[self.class() as usize];
        self.check(total as u64, l, crate::clock::mstime)
    }

    /// Redis's rule: over the hard limit closes at once; over the soft limit starts a clock (or,
    /// once it ran for more than `soft_seconds`, closes); under it stops the clock.
    fn check(&self, total: u64, l: ClientBufferLimit, now: impl Fn() -> i64) -> LimitCheck {
        if l.hard > 0 && total >= l.hard {
            return LimitCheck::Exceeded;
        }
        if l.soft > 0 && total >= l.soft {
            let now = now();
            let since = self.soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                self.soft_since_ms.store(now, Ordering::Relaxed);
            } else if now - since > l.soft_seconds as i64 * 1000 {
                return LimitCheck::Exceeded;
            }
        } else if self.soft_since_ms.load(Ordering::Relaxed) != 0 {
            self.soft_since_ms.store(0, Ordering::Relaxed);
        }
        LimitCheck::Within
    }

    /// The connection loop wrote `bytes` of pushed data making up `msgs` messages.
    pub fn written(&self, bytes: usize, msgs: usize) {
        if bytes > 0 || msgs > 0 {
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.msgs.fetch_sub(msgs, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(hard: u64, soft: u64, soft_seconds: u64) -> ClientBufferLimit {
        ClientBufferLimit { hard, soft, soft_seconds }
    }

    #[test]
    fn hard_limit_and_accounting() {
        let o = OutputState::default();
        o.set_pubsub(true);
        let limits = [lim(0, 0, 0), lim(0, 0, 0), lim(100, 0, 0)];
        assert_eq!(o.add(60, &limits), LimitCheck::Within);
        assert_eq!(o.pending_bytes(), 60);
        o.written(60, 1);
        assert_eq!(o.add(60, &limits), LimitCheck::Within);
        assert_eq!(o.add(40, &limits), LimitCheck::Exceeded);
        assert_eq!((o.pending_bytes(), o.pending_msgs()), (100, 2));
        // The normal class is unlimited here.
        o.set_pubsub(false);
        assert_eq!(o.add(1000, &limits), LimitCheck::Within);
    }

    #[test]
    fn soft_limit_needs_time_over_it() {
        let o = OutputState::default();
        let l = lim(0, 10, 2);
        assert_eq!(o.check(20, l, || 1000), LimitCheck::Within);
        assert_eq!(o.check(20, l, || 3000), LimitCheck::Within);
        assert_eq!(o.check(20, l, || 3001), LimitCheck::Exceeded);
        // Dropping under the soft limit restarts the clock.
        assert_eq!(o.check(5, l, || 3002), LimitCheck::Within);
        assert_eq!(o.check(20, l, || 9000), LimitCheck::Within);
        assert_eq!(o.check(20, l, || 10000), LimitCheck::Within);
        // With zero seconds the second push over the limit closes.
        let o = OutputState::default();
        let l = lim(0, 10, 0);
        assert_eq!(o.check(20, l, || 5000), LimitCheck::Within);
        assert_eq!(o.check(20, l, || 5001), LimitCheck::Exceeded);
    }

    #[test]
    fn replica_class_wins() {
        let o = OutputState::default();
        o.set_pubsub(true);
        assert_eq!(o.class(), ClientClass::Pubsub);
        o.set_replica(true);
        assert_eq!(o.class(), ClientClass::Replica);
    }
}
