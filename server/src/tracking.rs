//! Client-side caching: CLIENT TRACKING, as Redis 7.0 does it.
//!
//! * Default mode: the keys a tracking client *reads* (every key of a `readonly` command, from
//!   its key specs) go into one table, key name → client ids, shared by all databases as in
//!   Redis. When a key in it is modified, each client that read it gets one invalidation and the
//!   entry is dropped (the client reads again, and is tracked again).
//! * BCAST mode: a client registers prefixes (the empty prefix matches every key). Modified keys
//!   matching a prefix are collected, and at the end of each batch of commands (Redis's
//!   `beforeSleep`) every client of the prefix gets one message with all of them, sorted.
//! * OPTIN / OPTOUT: CLIENT CACHING YES/NO decides for the next command only (a transaction
//!   counts as one), and CLIENT subcommands do not consume it.
//! * NOLOOP: no invalidation for the client's own writes.
//!
//! Delivery: a RESP3 client (or the client it redirects to, if RESP3) gets a push
//! `>2 invalidate <keys>`; a RESP2 client can only redirect to a client in pub/sub mode, which
//! gets a `message` on `__redis__:invalidate`. A FLUSHDB/FLUSHALL sends a null instead of the
//! array to every tracking client and empties the table. Messages for the client running the
//! command go into its output: invalidations of its own reads after the command's reply (as Redis
//! 7.0 does), messages it receives as a redirect target before it.
//!
//! The write path pays one branch when nothing is tracked: [`key_modified`] checks that the
//! table and the prefix registry are empty before anything else.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::client::{Client, ClientShared};
use crate::cmd::spec::CmdFlags;
use crate::cmd::Command;
use crate::config::ClientBufferLimit;
use crate::error::Error;
use crate::server::Core;

/// What CLIENT LIST shows of a client's tracking (`t`, `R`, `B` flags and `redir=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackingMeta {
    pub on: bool,
    pub broken_redirect: bool,
    pub bcast: bool,
    /// `redir=`: the redirect id while tracking (0 for none), else -1.
    pub redir: i64,
}

impl Default for TrackingMeta {
    fn default() -> Self {
        TrackingMeta { on: false, broken_redirect: false, bcast: false, redir: -1 }
    }
}

/// The options of one CLIENT TRACKING ON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// A tracking client.
pub struct Tracker {
    shared: Arc<ClientShared>,
    /// Client id invalidations go to; 0 for the client itself.
    pub redirect: u64,
    pub opts: Options,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) was given for the next command.
    pub caching: bool,
    /// The redirect target disconnected.
    pub broken_redirect: bool,
    /// BCAST prefixes, in byte order.
    pub prefixes: BTreeSet<Box<[u8]>>,
    resp3: bool,
}

impl Tracker {
    fn meta(&self) -> TrackingMeta {
        TrackingMeta {
            on: true,
            broken_redirect: self.broken_redirect,
            bcast: self.opts.bcast,
            redir: self.redirect as i64,
        }
    }

    fn publish_meta(&self) {
        self.shared.meta.lock().tracking = self.meta();
    }
}

/// One BCAST prefix: its clients and the matching keys modified since the last broadcast, each
/// with the client that modified it last (0: the server, e.g. expiry), for NOLOOP.
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Box<[u8]>, u64>,
}

#[derive(Default)]
pub struct Tracking {
    /// Key → clients that read it (default mode).
    table: HashMap<Box<[u8]>, Vec<u64>>,
    /// Sum of the table's client lists (INFO `tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Box<[u8]>, Prefix>,
    trackers: BTreeMap<u64, Tracker>,
    /// The client whose command is running (0: none), and whether it speaks RESP3.
    cur_id: u64,
    cur_resp3: bool,
    /// Messages for the running client, to go before its reply.
    before: Vec<u8>,
    /// Invalidations of the running client's own keys, sent after its reply (None: a flush).
    after: Vec<Option<Box<[u8]>>>,
    /// Some prefix has keys to broadcast.
    bcast_pending: bool,
    /// Calls of [`limit_table`] in a row that could not bring the table within its limit.
    calls_over_limit: usize,
}

impl Tracking {
    /// Some key or prefix is tracked: modifications must be looked at.
    #[inline]
    pub fn watching(&self) -> bool {
        !self.table.is_empty() || !self.prefixes.is_empty()
    }

    pub fn has_trackers(&self) -> bool {
        !self.trackers.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<&Tracker> {
        self.trackers.get(&id)
    }

    /// INFO clients `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.trackers.len()
    }

    /// INFO stats `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.table.len(), self.items, self.prefixes.len())
    }

    /// Something waits to be written into the running client's output.
    pub fn has_local(&self) -> bool {
        !self.before.is_empty() || !self.after.is_empty()
    }

    /// Checks new BCAST prefixes against each other and against those `id` has: no prefix may
    /// be a prefix of another.
    pub fn check_prefixes(&self, id: u64, new: &[Bytes]) -> Result<(), Error> {
        let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let existing = self.trackers.get(&id).filter(|t| t.opts.bcast).map(|t| &t.prefixes);
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = existing.and_then(|e| e.iter().find(|o| overlap(p, o))) {
                return Err(Error::err(format_args!(
                    "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single \
                     client must not overlap.",
                    s(p),
                    s(old)
                )));
            }
            if let Some(other) = new[i + 1..].iter().find(|o| overlap(p, o)) {
                return Err(Error::err(format_args!(
                    "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a \
                     single client must not overlap.",
                    s(p),
                    s(other)
                )));
            }
        }
        Ok(())
    }

    /// CLIENT TRACKING ON, once the options were checked. Prefixes add to those the client has;
    /// BCAST without prefixes adds the empty one.
    pub fn enable(&mut self, client: &Client, redirect: u64, opts: Options, prefixes: &[Bytes]) {
        let id = client.id;
        let t = self.trackers.entry(id).or_insert_with(|| Tracker {
            shared: client.shared.clone(),
            redirect: 0,
            opts: Options::default(),
            caching: false,
            broken_redirect: false,
            prefixes: BTreeSet::new(),
            resp3: false,
        });
        t.redirect = redirect;
        t.opts = opts;
        t.broken_redirect = false;
        t.resp3 = client.resp == 3;
        if opts.bcast {
            let empty: [Bytes; 1] = [Bytes::new()];
            let list = if prefixes.is_empty() { &empty[..] } else { prefixes };
            for p in list {
                if t.prefixes.insert(p[..].into()) {
                    self.prefixes.entry(p[..].into()).or_default().clients.insert(id);
                }
            }
        }
        t.publish_meta();
    }

    /// CLIENT TRACKING OFF, RESET, disconnection. The keys the client read stay in the table
    /// until modified (their invalidation then skips it), as in Redis.
    pub fn disable(&mut self, id: u64) {
        let Some(t) = self.trackers.remove(&id) else { return };
        for p in &t.prefixes {
            if let Some(state) = self.prefixes.get_mut(p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
        t.shared.meta.lock().tracking = TrackingMeta::default();
    }

    /// CLIENT CACHING YES|NO.
    pub fn caching(&mut self, id: u64, arg: &[u8]) -> Result<(), Error> {
        let Some(t) = self.trackers.get_mut(&id) else {
            return Err(Error::msg(
                "ERR CLIENT CACHING can be called only when the client is in tracking mode with \
                 OPTIN or OPTOUT mode enabled",
            ));
        };
        if arg.eq_ignore_ascii_case(b"yes") {
            if !t.opts.optin {
                return Err(Error::msg(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                ));
            }
        } else if arg.eq_ignore_ascii_case(b"no") {
            if !t.opts.optout {
                return Err(Error::msg(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                ));
            }
        } else {
            return Err(Error::SYNTAX);
        }
        t.caching = true;
        Ok(())
    }

    /// Marks `client` as the one running a command; returns what to restore after it. A blocked
    /// client served on another's behalf does not become current (the client whose command
    /// served it stays so, as in Redis).
    pub fn enter(&mut self, client: &Client) -> (u64, bool) {
        let prev = (self.cur_id, self.cur_resp3);
        if client.serving_blocked.is_none() {
            self.cur_id = client.id;
            self.cur_resp3 = client.resp == 3;
        }
        prev
    }

    pub fn leave(&mut self, prev: (u64, bool)) {
        (self.cur_id, self.cur_resp3) = prev;
    }

    fn remember(&mut self, id: u64, key: &[u8]) {
        let ids = self.table.entry(key.into()).or_default();
        if !ids.contains(&id) {
            ids.push(id);
            self.items += 1;
        }
    }
}

/// The array an invalidation carries.
enum Payload<'a> {
    Key(&'a [u8]),
    /// A flush: null, in the tracking client's protocol.
    Null,
    /// An encoded array of keys (BCAST).
    Array(&'a [u8]),
}

fn push_bulk(v: &mut Vec<u8>, b: &[u8]) {
    v.push(b'$');
    v.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
}

fn array_of<'k>(keys: impl ExactSizeIterator<Item = &'k [u8]>) -> Vec<u8> {
    let mut v = Vec::new();
    v.push(b'*');
    v.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
    v.extend_from_slice(b"\r\n");
    for k in keys {
        push_bulk(&mut v, k);
    }
    v
}

/// Where messages go: the running client's output (`local`), or other clients' push channels.
struct Sink<'a> {
    clients: &'a BTreeMap<u64, Arc<ClientShared>>,
    limits: &'a [ClientBufferLimit; 3],
    cur_id: u64,
    cur_resp3: bool,
    local: &'a mut Vec<u8>,
}

impl Sink<'_> {
    fn deliver(&mut self, target: &ClientShared, msg: Vec<u8>) {
        if target.id == self.cur_id {
            self.local.extend_from_slice(&msg);
        } else {
            target.push(Bytes::from(msg), self.limits);
        }
    }

    /// Sends one invalidation for tracking client `t`, to it or to its redirect target.
    fn send(&mut self, t: &mut Tracker, payload: Payload) {
        let mut redirected = None;
        if t.redirect != 0 {
            match self.clients.get(&t.redirect) {
                Some(r) => redirected = Some(r.clone()),
                None => {
                    if !t.broken_redirect {
                        t.broken_redirect = true;
                        t.publish_meta();
                    }
                    if t.resp3 {
                        let mut m = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
                        m.extend_from_slice(itoa::Buffer::new().format(t.redirect).as_bytes());
                        m.extend_from_slice(b"\r\n");
                        let shared = t.shared.clone();
                        self.deliver(&shared, m);
                    }
                    return;
                }
            }
        }
        let target = redirected.as_ref().unwrap_or(&t.shared);
        let resp3 = if target.id == self.cur_id {
            self.cur_resp3
        } else if target.id == t.shared.id {
            t.resp3
        } else {
            target.out.is_resp3()
        };
        let mut m = Vec::new();
        if resp3 {
            m.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
        } else if redirected.is_some() && target.out.is_pubsub() {
            m.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
        } else {
            // RESP2 without a subscribed redirect target: nothing can carry it.
            return;
        }
        match payload {
            Payload::Key(k) => {
                m.extend_from_slice(b"*1\r\n");
                push_bulk(&mut m, k);
            }
            Payload::Null if t.resp3 => m.extend_from_slice(b"_\r\n"),
            Payload::Null => m.extend_from_slice(b"$-1\r\n"),
            Payload::Array(a) => m.extend_from_slice(a),
        }
        self.deliver(target, m);
    }
}

/// `key` was modified (any database): invalidates it for the clients that read it, and queues
/// it for the BCAST prefixes it matches. One branch when nothing is tracked.
#[inline]
pub fn key_modified(core: &mut Core, key: &[u8]) {
    if core.tracking.watching() {
        invalidate(core, key);
    }
}

fn invalidate(core: &mut Core, key: &[u8]) {
    let tr = &mut core.tracking;
    if !tr.prefixes.is_empty() {
        for (p, state) in tr.prefixes.iter_mut() {
            if key.starts_with(p) {
                state.keys.insert(key.into(), tr.cur_id);
                tr.bcast_pending = true;
            }
        }
    }
    forget(core, key);
}

/// Takes `key` out of the tracking table, telling the clients that read it (not BCAST: its
/// prefixes learn of modifications only).
fn forget(core: &mut Core, key: &[u8]) {
    let Core { tracking: tr, clients, cfg, .. } = core;
    let Some(ids) = tr.table.remove(key) else { return };
    tr.items -= ids.len();
    let mut sink = Sink {
        clients,
        limits: &cfg.client_output_buffer_limit,
        cur_id: tr.cur_id,
        cur_resp3: tr.cur_resp3,
        local: &mut tr.before,
    };
    for id in ids {
        let Some(t) = tr.trackers.get_mut(&id) else { continue };
        // A client that switched to BCAST since it read the key is not told.
        if t.opts.bcast {
            continue;
        }
        if id == sink.cur_id {
            if !t.opts.noloop {
                tr.after.push(Some(key.into()));
            }
            continue;
        }
        sink.send(t, Payload::Key(key));
    }
}

/// Keeps the tracking table within `tracking-table-max-keys` (0: no limit), as Redis does from
/// its event loop: keys are dropped from the table, their clients told to invalidate them as if
/// they had been modified, until the table is back within the limit; at most 100 keys per call
/// for each call in a row that found the table over it, so a huge excess is worked off in steps.
pub fn limit_table(core: &mut Core) {
    let max = core.cfg.tracking_table_max_keys;
    let tr = &mut core.tracking;
    if max == 0 || tr.table.len() <= max {
        tr.calls_over_limit = 0;
        return;
    }
    let effort = 100 * (tr.calls_over_limit + 1);
    let excess = tr.table.len() - max;
    let victims: Vec<Box<[u8]>> = tr.table.keys().take(excess.min(effort)).cloned().collect();
    if excess > effort {
        tr.calls_over_limit += 1;
    } else {
        tr.calls_over_limit = 0;
    }
    for key in victims {
        forget(core, &key);
    }
}

/// FLUSHDB / FLUSHALL: every tracking client gets a null invalidation, and the table empties.
pub fn flush(core: &mut Core) {
    let Core { tracking: tr, clients, cfg, .. } = core;
    if tr.trackers.is_empty() && tr.table.is_empty() {
        return;
    }
    let mut sink = Sink {
        clients,
        limits: &cfg.client_output_buffer_limit,
        cur_id: tr.cur_id,
        cur_resp3: tr.cur_resp3,
        local: &mut tr.before,
    };
    for (&id, t) in tr.trackers.iter_mut() {
        if id == sink.cur_id {
            tr.after.push(None);
        } else {
            sink.send(t, Payload::Null);
        }
    }
    tr.table = HashMap::new();
    tr.items = 0;
}

/// Sends the keys modified under each BCAST prefix since the last call (end of a batch, after
/// the expire cycle), one message per prefix and client.
pub fn flush_bcast(core: &mut Core) {
    if !core.tracking.bcast_pending {
        return;
    }
    let Core { tracking: tr, clients, cfg, .. } = core;
    tr.bcast_pending = false;
    let mut local = Vec::new();
    let mut sink = Sink {
        clients,
        limits: &cfg.client_output_buffer_limit,
        cur_id: 0,
        cur_resp3: false,
        local: &mut local,
    };
    for state in tr.prefixes.values_mut() {
        if state.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut state.keys);
        let mut all: Option<Vec<u8>> = None;
        for id in &state.clients {
            let Some(t) = tr.trackers.get_mut(id) else { continue };
            if t.opts.noloop {
                let mine: Vec<&[u8]> =
                    keys.iter().filter(|(_, by)| **by != *id).map(|(k, _)| &k[..]).collect();
                if mine.is_empty() {
                    continue;
                }
                let arr = array_of(mine.into_iter());
                sink.send(t, Payload::Array(&arr));
            } else {
                let arr = all.get_or_insert_with(|| array_of(keys.keys().map(|k| &k[..])));
                sink.send(t, Payload::Array(arr));
            }
        }
    }
}

/// After a command of a tracking client: remembers the keys a read-only command read (unless
/// BCAST, or OPTIN/OPTOUT says otherwise), and consumes CLIENT CACHING.
pub fn after_call(core: &mut Core, client: &Client, cmd: &Command, argv: &[Bytes]) {
    let tr = &mut core.tracking;
    let id = client.id;
    let Some(t) = tr.trackers.get_mut(&id) else { return };
    t.resp3 = client.resp == 3;
    let remember = cmd.flags.contains(CmdFlags::READONLY)
        && !cmd.flags.contains(CmdFlags::PUBSUB)
        && !t.opts.bcast
        && if t.opts.optin {
            t.caching
        } else if t.opts.optout {
            !t.caching
        } else {
            true
        };
    // CLIENT CACHING holds for the next command; a whole transaction counts as one, and CLIENT
    // subcommands (CACHING itself included) leave it in place.
    if !cmd.fullname.starts_with("client|") && !client.in_exec && client.multi.is_none() {
        t.caching = false;
    }
    if !remember {
        return;
    }
    for (i, _) in cmd.keys_after_call(argv) {
        tr.remember(id, &argv[i]);
    }
}

/// Writes what the command just run left for its own client: messages it receives as a
/// redirect target before its reply (which starts at `reply_start`), invalidations of its own
/// reads after it.
pub fn deliver_local(core: &mut Core, client: &Client, out: &mut Vec<u8>, reply_start: usize) {
    let Core { tracking: tr, clients, cfg, .. } = core;
    if !tr.before.is_empty() {
        let before = std::mem::take(&mut tr.before);
        let at = reply_start.min(out.len());
        out.splice(at..at, before);
    }
    if tr.after.is_empty() {
        return;
    }
    let after = std::mem::take(&mut tr.after);
    let mut sink = Sink {
        clients,
        limits: &cfg.client_output_buffer_limit,
        cur_id: client.id,
        cur_resp3: client.resp == 3,
        local: out,
    };
    let Some(t) = tr.trackers.get_mut(&client.id) else { return };
    t.resp3 = client.resp == 3;
    for key in after {
        match key {
            Some(k) => sink.send(t, Payload::Key(&k)),
            None => sink.send(t, Payload::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_key_arrays() {
        let keys: Vec<&[u8]> = vec![b"a1", b"a2"];
        assert_eq!(array_of(keys.into_iter()), b"*2\r\n$2\r\na1\r\n$2\r\na2\r\n".to_vec());
    }

    #[test]
    fn prefix_overlaps() {
        let t = Tracking::default();
        let p = |v: &[&str]| v.iter().map(|s| Bytes::from(s.to_string())).collect::<Vec<_>>();
        assert!(t.check_prefixes(1, &p(&["a", "b"])).is_ok());
        let e = t.check_prefixes(1, &p(&["ab", "a"])).unwrap_err();
        assert_eq!(
            &*e.0,
            "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single \
             client must not overlap."
        );
        assert!(t.check_prefixes(1, &p(&["", "x"])).is_err());
    }
}
