//! Pub/Sub: who subscribes to what, and delivery.
//!
//! The registries (channel, pattern and shard channel → subscribers) live in `Core::pubsub`,
//! behind the keyspace lock; each client keeps its own subscriptions in `Client::pubsub`. A
//! message is encoded once per protocol (RESP2 `*`, RESP3 `>`) and the same `Bytes` is pushed to
//! every receiver through its push channel (`ClientShared::push`, which also enforces the
//! output buffer limits). A message for the publishing client itself goes straight into its
//! output buffer, so that it comes before the command's reply, as in Redis.
//!
//! [`publish`] is the one entry point for anything holding the `Core` (PUBLISH, and later
//! keyspace notifications).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::client::{Client, ClientShared, ReplyMode};
use crate::config::ClientBufferLimit;
use crate::server::Core;
use crate::util::glob::glob_match;

/// The three kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    /// The confirmation's first element for a subscription.
    pub fn subscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    /// The confirmation's first element for an unsubscription.
    pub fn unsubscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

struct Subscriber {
    id: u64,
    client: Arc<ClientShared>,
}

/// Channel, pattern and shard channel → subscribers, in subscription order.
#[derive(Default)]
pub struct Registry {
    maps: [HashMap<Bytes, Vec<Subscriber>>; 3],
}

impl Registry {
    /// Distinct channels (patterns, shard channels) with at least one subscriber: INFO's
    /// `pubsub_channels`, PUBSUB NUMPAT.
    pub fn len(&self, kind: Kind) -> usize {
        self.maps[kind as usize].len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.iter().all(|m| m.is_empty())
    }

    /// Subscribers of one channel (pattern, shard channel).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.maps[kind as usize].get(name).map_or(0, |v| v.len())
    }

    /// Channels (patterns, shard channels) with subscribers, in no particular order.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &Bytes> {
        self.maps[kind as usize].keys()
    }

    /// Every subscription: its kind, name and subscriber.
    pub fn each(&self, mut f: impl FnMut(Kind, &Bytes, &Arc<ClientShared>)) {
        for (kind, map) in [Kind::Channel, Kind::Pattern, Kind::Shard].into_iter().zip(&self.maps) {
            for (name, subs) in map {
                for s in subs {
                    f(kind, name, &s.client);
                }
            }
        }
    }
}

/// One client's subscriptions. Each remembers when it was made, so that unsubscribing from
/// everything answers in subscription order.
#[derive(Default)]
pub struct ClientSubs {
    sets: [HashMap<Bytes, u64>; 3],
    seq: u64,
    /// Messages this client published to itself while its replies are off (CLIENT REPLY
    /// OFF/SKIP): ranges of the output buffer that [`drop_reply`] keeps.
    kept: Vec<Range<usize>>,
}

impl ClientSubs {
    /// (channels, patterns, shard channels), for CLIENT LIST `sub=`/`psub=`/`ssub=`.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.sets[0].len(), self.sets[1].len(), self.sets[2].len())
    }

    /// In pub/sub mode (Redis's `P` flag): any subscription of any kind.
    pub fn is_active(&self) -> bool {
        self.sets.iter().any(|s| !s.is_empty())
    }

    /// The count a confirmation shows: channels and patterns together, or shard channels.
    pub fn confirm_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.sets[0].len() + self.sets[1].len(),
            Kind::Shard => self.sets[2].len(),
        }
    }

    /// The client's subscriptions of a kind, oldest first.
    pub fn list(&self, kind: Kind) -> Vec<Bytes> {
        let mut v: Vec<(&Bytes, &u64)> = self.sets[kind as usize].iter().collect();
        v.sort_unstable_by_key(|(_, s)| **s);
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }
}

/// Subscribes `client`; false if it already was.
pub fn subscribe(core: &mut Core, client: &mut Client, kind: Kind, name: &Bytes) -> bool {
    let subs = &mut client.pubsub;
    if subs.sets[kind as usize].contains_key(name) {
        return false;
    }
    subs.seq += 1;
    subs.sets[kind as usize].insert(name.clone(), subs.seq);
    core.pubsub.maps[kind as usize]
        .entry(name.clone())
        .or_default()
        .push(Subscriber { id: client.id, client: client.shared.clone() });
    client.shared.out.set_pubsub(true);
    true
}

/// Unsubscribes `client`; false if it was not subscribed.
pub fn unsubscribe(core: &mut Core, client: &mut Client, kind: Kind, name: &[u8]) -> bool {
    if client.pubsub.sets[kind as usize].remove(name).is_none() {
        return false;
    }
    let map = &mut core.pubsub.maps[kind as usize];
    if let Some(v) = map.get_mut(name) {
        if let Some(i) = v.iter().position(|s| s.id == client.id) {
            v.remove(i);
        }
        if v.is_empty() {
            map.remove(name);
        }
    }
    if !client.pubsub.is_active() {
        client.shared.out.set_pubsub(false);
    }
    true
}

/// Drops every subscription without a word to the client (RESET, connection close).
pub fn unsubscribe_all(core: &mut Core, client: &mut Client) {
    if !client.pubsub.is_active() {
        return;
    }
    for kind in Kind::ALL {
        for name in client.pubsub.list(kind) {
            unsubscribe(core, client, kind, &name);
        }
    }
}

/// A message, encoded for each protocol on first need.
struct Encoded<'a> {
    parts: [&'a [u8]; 4],
    n: usize,
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<'a> Encoded<'a> {
    fn new(
        kind: &'static [u8],
        pattern: Option<&'a [u8]>,
        channel: &'a [u8],
        msg: &'a [u8],
    ) -> Self {
        let parts = match pattern {
            Some(p) => [kind, p, channel, msg],
            None => [kind, channel, msg, b""],
        };
        Encoded { parts, n: if pattern.is_some() { 4 } else { 3 }, resp2: None, resp3: None }
    }

    fn get(&mut self, resp3: bool) -> &Bytes {
        let slot = if resp3 { &mut self.resp3 } else { &mut self.resp2 };
        if slot.is_none() {
            let parts = &self.parts[..self.n];
            let mut v = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
            let mut ib = itoa::Buffer::new();
            v.push(if resp3 { b'>' } else { b'*' });
            v.extend_from_slice(ib.format(self.n).as_bytes());
            v.extend_from_slice(b"\r\n");
            for p in parts {
                v.push(b'$');
                v.extend_from_slice(ib.format(p.len()).as_bytes());
                v.extend_from_slice(b"\r\n");
                v.extend_from_slice(p);
                v.extend_from_slice(b"\r\n");
            }
            *slot = Some(Bytes::from(v));
        }
        slot.as_ref().expect("filled above")
    }
}

/// The client running the command that publishes, and its output buffer: a message for it is
/// written there, before the command's reply, rather than pushed.
pub struct Local<'a> {
    pub client: &'a mut Client,
    pub out: &'a mut Vec<u8>,
}

fn deliver(
    s: &Subscriber,
    m: &mut Encoded,
    limits: &[ClientBufferLimit; 3],
    local: &mut Option<Local>,
) {
    if let Some(l) = local.as_mut().filter(|l| l.client.id == s.id) {
        let start = l.out.len();
        l.out.extend_from_slice(m.get(l.client.resp == 3));
        // Redis 7.0 delivers a push even when the client's replies are off.
        if matches!(l.client.reply_mode, ReplyMode::Off | ReplyMode::Skip) {
            l.client.pubsub.kept.push(start..l.out.len());
        }
        return;
    }
    s.client.push(m.get(s.client.out.is_resp3()).clone(), limits);
}

/// Publishes `message` on `channel` to its subscribers and the subscribers of every matching
/// pattern; returns how many received it (a client subscribed to the channel and to two
/// matching patterns counts three times, as in Redis).
pub fn publish(core: &mut Core, channel: &[u8], message: &[u8], mut local: Option<Local>) -> usize {
    let limits = core.cfg.client_output_buffer_limit;
    let reg = &core.pubsub;
    let mut receivers = 0;
    if let Some(subs) = reg.maps[Kind::Channel as usize].get(channel) {
        let mut m = Encoded::new(b"message", None, channel, message);
        for s in subs {
            deliver(s, &mut m, &limits, &mut local);
        }
        receivers += subs.len();
    }
    for (pattern, subs) in &reg.maps[Kind::Pattern as usize] {
        if glob_match(pattern, channel, false) {
            let mut m = Encoded::new(b"pmessage", Some(pattern), channel, message);
            for s in subs {
                deliver(s, &mut m, &limits, &mut local);
            }
            receivers += subs.len();
        }
    }
    receivers
}

/// Publishes `message` on a shard channel (SPUBLISH); returns how many received it.
pub fn publish_shard(
    core: &mut Core,
    channel: &[u8],
    message: &[u8],
    mut local: Option<Local>,
) -> usize {
    let limits = core.cfg.client_output_buffer_limit;
    let Some(subs) = core.pubsub.maps[Kind::Shard as usize].get(channel) else { return 0 };
    let mut m = Encoded::new(b"smessage", None, channel, message);
    for s in subs {
        deliver(s, &mut m, &limits, &mut local);
    }
    subs.len()
}

/// Runs `f` with the client as [`Local`], inserting what it writes for the client into `out` at
/// `at` rather than at the end (keyspace events of a command that already wrote its reply).
pub fn local_at(client: &mut Client, out: &mut Vec<u8>, at: usize, f: impl FnOnce(Local)) {
    let kept_before = client.pubsub.kept.len();
    let mut tmp = Vec::new();
    f(Local { client: &mut *client, out: &mut tmp });
    if tmp.is_empty() {
        return;
    }
    let n = tmp.len();
    let kept = &mut client.pubsub.kept;
    for r in &mut kept[..kept_before] {
        if r.start >= at {
            *r = r.start + n..r.end + n;
        }
    }
    for r in &mut kept[kept_before..] {
        *r = r.start + at..r.end + at;
    }
    out.splice(at..at, tmp);
}

/// Drops the reply a command wrote into `out` from `start` (CLIENT REPLY OFF/SKIP), keeping the
/// messages it published to its own client.
pub fn drop_reply(client: &mut Client, out: &mut Vec<u8>, start: usize) {
    if client.pubsub.kept.is_empty() {
        out.truncate(start);
        return;
    }
    let mut kept = Vec::new();
    for r in client.pubsub.kept.drain(..) {
        if r.start >= start && r.end <= out.len() {
            kept.extend_from_slice(&out[r]);
        }
    }
    out.truncate(start);
    out.extend_from_slice(&kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_protocol_once() {
        let mut m = Encoded::new(b"message", None, b"ch", b"hello");
        assert_eq!(&m.get(false)[..], b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        let first = m.get(false).clone();
        assert_eq!(first.as_ptr(), m.get(false).as_ptr(), "RESP2 encoding is shared");
        assert_eq!(&m.get(true)[..], b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        let mut p = Encoded::new(b"pmessage", Some(b"c*"), b"ch", b"");
        assert_eq!(&p.get(true)[..], b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n");
    }
}
