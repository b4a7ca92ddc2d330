//! Replication, as Redis 7.0 speaks it on the wire, so that Vireo and Redis can replicate from
//! each other.
//!
//! **Master side.** A replica connects as a client, announces itself (`REPLCONF listening-port`,
//! `capa`) and asks `PSYNC <replid> <offset>` (or `SYNC`). When the replid is this server's and
//! the offset is still in the backlog (the last `repl-backlog-size` bytes of stream), the reply
//! is `+CONTINUE <replid>` and the missing bytes; otherwise `+FULLRESYNC <replid> <offset>`, the
//! data set as an RDB payload streamed from a fork-free snapshot (see [`full_sync`]). Then the
//! replication stream flows, which is what the propagator feeds the AOF (see `propagate`): the
//! connection receives it through its push channel, under the `replica` output buffer limits.
//! The replica acknowledges with `REPLCONF ACK <offset>`, which gets no reply. The master sends
//! `PING` down the stream every `repl-ping-replica-period` seconds, and `REPLCONF GETACK *` when
//! a client is in WAIT.
//!
//! **Replica side.** `REPLICAOF host port` (or `replicaof` in the config) starts a link task:
//! handshake, `PSYNC` (`? -1` the first time, the master's replid and the next offset after a
//! broken link), then either the missing stream or the RDB (a sized payload, or the
//! `$EOF:<mark>` form of a diskless master), which replaces the data set, then the stream,
//! applied as Redis applies it: by a client flagged `master` that skips ACL and read-only checks
//! and whose replies are dropped. The link acknowledges its offset every second and reconnects
//! after an error. Writes from other clients get `READONLY` while `replica-read-only` is on.
//! `REPLICAOF NO ONE` makes it a master again, with a new replication id; the old one stays as
//! `replid2`, valid up to `second_repl_offset`, so that replicas of the old history continue.
//!
//! **Chains.** A replica passes its master's stream on byte for byte to its own replicas and
//! its backlog ([`Stream::proxy`]), never its own writes: the whole chain shares the top
//! master's id and offsets, and any server of it can be promoted without the others resyncing
//! fully. `FAILOVER` (see [`failover`]) builds on that.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::client::ClientShared;
use crate::cmd::spec::CmdFlags;
use crate::server::{Core, Server};

pub mod failover;
pub mod link;

/// A replica connected to this server.
pub struct Replica {
    pub client: Arc<ClientShared>,
    pub state: ReplicaState,
    /// The port it listens on (`REPLCONF listening-port`), for INFO and ROLE.
    pub port: u16,
    pub ip: String,
    /// The offset it acknowledged last, and when (unix ms).
    pub ack: u64,
    pub ack_ms: i64,
}

/// Where a replica is in its synchronization, as INFO names it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Its full synchronization waits for the running snapshot to end.
    WaitBgsave,
    /// Its snapshot is being sent; the stream meanwhile waits in its output buffer.
    SendBulk,
    Online,
}

impl ReplicaState {
    fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What the stream sink shares with the commands: the stream's offset, and behind one lock
/// (taken once per command fed), the replicas, their output limits and the backlog.
pub struct Stream {
    /// Bytes of replication stream produced (a master) or passed on (a replica) so far.
    pub offset: AtomicU64,
    /// A replica passes its master's stream on byte for byte ([`Stream::proxy`]) and none of
    /// its own writes, as Redis: its replicas, and its backlog, then have the master's offsets
    /// and history, so they can continue with whichever server is promoted.
    proxying: std::sync::atomic::AtomicBool,
    state: Mutex<StreamState>,
}

pub struct StreamState {
    pub replicas: Vec<Replica>,
    /// `client-output-buffer-limit`, as the stream's pushes check it (see [`config_changed`]).
    limits: [crate::config::ClientBufferLimit; 3],
    /// The last `repl-backlog-size` bytes of the stream, for replicas that reconnect
    /// (partial resynchronization); it ends at `offset`.
    backlog: Backlog,
}

#[derive(Default)]
struct Backlog {
    bytes: std::collections::VecDeque<u8>,
    size: usize,
}

impl Backlog {
    /// Drops what is past `size` bytes back.
    fn trim(&mut self) {
        let excess = self.bytes.len().saturating_sub(self.size);
        self.bytes.drain(..excess);
    }
}

/// The propagator's sink for the replicas.
struct StreamSink(Arc<Stream>);

impl Default for Stream {
    fn default() -> Self {
        Stream {
            offset: AtomicU64::new(0),
            proxying: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(StreamState {
                replicas: Vec::new(),
                limits: crate::config::defaults().client_output_buffer_limit,
                backlog: Backlog::default(),
            }),
        }
    }
}

impl Stream {
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, StreamState> {
        self.state.lock()
    }

    /// Passes on bytes of a replica's master's stream, as they came.
    pub fn proxy(&self, bytes: &[u8]) {
        self.broadcast(bytes);
    }

    /// Sends bytes of stream to every replica, counting them in the offset.
    fn broadcast(&self, bytes: &[u8]) {
        self.offset.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut s = self.state.lock();
        s.backlog.bytes.extend(bytes);
        s.backlog.trim();
        if s.replicas.is_empty() {
            return;
        }
        let StreamState { replicas, limits, .. } = &mut *s;
        let msg = Bytes::copy_from_slice(bytes);
        // A replica that is gone, or over its output limit, is dropped.
        replicas.retain(|r| r.client.push(msg.clone(), limits));
    }
}

impl crate::propagate::Sink for StreamSink {
    fn write(&mut self, bytes: &[u8]) {
        if !self.0.proxying.load(Ordering::Relaxed) {
            self.0.broadcast(bytes);
        }
    }

    fn name(&self) -> &'static str {
        "replication"
    }
}

/// The state of the link to this server's master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; (re)connecting soon.
    Connect,
    /// Connecting and handshaking.
    Connecting,
    /// Receiving the data set.
    Sync,
    /// Applying the stream.
    Connected,
}

impl LinkState {
    /// As ROLE names it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// This server's master, when it is a replica.
pub struct Master {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// The offset of the master's stream applied so far.
    pub offset: u64,
    /// When something last came from the master (unix ms).
    pub last_io_ms: i64,
    /// Identifies the link task serving this master: a newer REPLICAOF makes it stop.
    pub epoch: u64,
    /// The data set is the master's up to `offset` (of history `replid`): a reconnection can
    /// ask to continue from there.
    pub synced: bool,
    /// When the link last went down (unix ms; 0: it never was up).
    pub down_since_ms: i64,
    /// The database the master's stream had selected when the link broke: a continued stream
    /// carries on in it without a new SELECT.
    pub db: usize,
    /// The RDB payload being received, for INFO (the link task updates it without the lock).
    pub transfer: Arc<Transfer>,
}

/// Progress of the RDB payload a replica receives (`master_sync_*_bytes` in INFO).
#[derive(Default)]
pub struct Transfer {
    /// Its announced length; 0 for the `$EOF:` form, whose length nobody knows (as Redis).
    pub size: std::sync::atomic::AtomicI64,
    pub read: AtomicU64,
    /// When bytes last came (unix ms).
    pub last_io_ms: std::sync::atomic::AtomicI64,
}

#[derive(Default)]
pub struct Repl {
    pub master: Option<Master>,
    pub stream: Arc<Stream>,
    /// Whether the sink is in the propagator (from the first replica on, as Redis's backlog).
    sink_added: bool,
    epoch: u64,
    /// When the stream last carried a PING (unix ms).
    last_ping_ms: i64,
    /// Clients in WAIT: (client id, offset to reach, replicas wanted).
    waits: Vec<(u64, u64, usize)>,
    /// INFO stats `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Replicas whose full synchronization waits for the running snapshot (a BGSAVE, an AOF
    /// rewrite, another replica's) to end: `wait_bgsave` in INFO.
    waiting: Vec<WaitingSync>,
    /// Up to which offset (`second_repl_offset`) `replid2`'s history is this server's: a
    /// replica of the old history can continue up to there (the old master after a FAILOVER).
    pub second_offset: Option<u64>,
    /// A FAILOVER under way (see [`failover`]).
    pub failover: Option<failover::Failover>,
}

/// A full synchronization not started yet.
struct WaitingSync {
    /// In state `WaitBgsave`; it joins the stream's replicas when its snapshot starts.
    replica: Replica,
    to: tokio::sync::mpsc::Sender<Piece>,
    /// PSYNC (the payload follows a `+FULLRESYNC` line), not SYNC.
    psync: bool,
    /// `REPLCONF rdb-only 1`: no stream after the payload; the connection closes.
    rdb_only: bool,
}

/// What a replica's connection sends during its full synchronization, from the thread that
/// takes the snapshot (see [`full_sync`]).
pub enum Piece {
    Bytes(Vec<u8>),
    /// All sent: the stream follows.
    End,
    /// The snapshot was abandoned (FLUSHALL, a failed write): the connection closes and the
    /// replica starts again.
    Failed,
}

/// Pieces in flight per transfer: a replica that reads slowly holds the snapshot's thread
/// back instead of making the master buffer its whole data set.
const PIECES_IN_FLIGHT: usize = 16;

/// Hands the encoded snapshot to the replica's connection, piece by piece.
struct PieceWriter(tokio::sync::mpsc::Sender<Piece>);

impl std::io::Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Piece::Bytes(buf.to_vec()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "replica gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Repl {
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Replicas whose full synchronization has not started yet.
    pub fn waiting_syncs(&self) -> usize {
        self.waiting.len()
    }

    /// `master_repl_offset`: the stream produced (a master) or applied (a replica).
    pub fn offset(&self) -> u64 {
        match &self.master {
            Some(m) => m.offset,
            None => self.stream.offset.load(Ordering::Relaxed),
        }
    }
}

/// A full resynchronization for the caller, a replica: the data set as an RDB payload, after
/// which the stream flows to it.
///
/// A replica that reads payloads of unknown length (`capa eof`, as every Redis since 2.8.18
/// and `redis-cli --rdb` announce) gets the snapshot as it is taken, without a fork and without pausing the
/// master (see `persist::background`): `+FULLRESYNC`, `$EOF:<mark>`, the RDB, the mark, all
/// streamed by its connection from the snapshot's thread ([`Piece`]s in
/// `client.rdb_transfer`); the stream from the snapshot's instant on waits in its output
/// buffer meanwhile, under the `replica` limits, as Redis's does. It waits for a snapshot
/// already running to end. Returns None then: the connection sends it all.
///
/// Others (an old replica) get a sized payload built at once under the lock, as the bytes to
/// reply.
pub fn full_sync(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut crate::client::Client,
    psync: bool,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut replica = become_replica(client);
    let rdb_only = client.repl_rdb_only;
    if client.repl_capa_eof && client.repl_only_functions.is_none() {
        let (to, from) = tokio::sync::mpsc::channel(PIECES_IN_FLIGHT);
        client.rdb_transfer = Some(from);
        replica.state = ReplicaState::WaitBgsave;
        core.repl.waiting.push(WaitingSync { replica, to, psync, rdb_only });
        start_syncs(server, core);
        return Ok(None);
    }
    let only_functions = client.repl_only_functions;
    let offset = start_stream(core);
    let (db, replid) = (stream_db(core), core.replid.clone());
    let rdb = crate::persist::snapshot::write_image(
        core,
        Vec::new(),
        false,
        only_functions,
        Some((db, &replid, offset)),
    )?;
    let mut out = payload_head(core, psync, offset, &rdb.len().to_string()).into_bytes();
    out.extend_from_slice(&rdb);
    tracing::info!(
        "Replica {} asks for synchronization; full resync with {} bytes of RDB",
        client.shared.addr,
        rdb.len()
    );
    if rdb_only {
        client.close_after_reply = true;
    } else {
        attach(core, replica);
    }
    Ok(Some(out))
}

/// The stream flows from here for a newcomer: the sink is in the propagator, the next command
/// selects its database. Returns the stream's offset.
fn start_stream(core: &mut Core) -> u64 {
    open_stream(core);
    core.repl.sync_full += 1;
    core.repl.stream.offset.load(Ordering::Relaxed)
}

/// The database the stream has selected where a new replica's payload leaves it: a replica's
/// master's, as it applies it (a master selects anew for the newcomer, see [`open_stream`]).
fn stream_db(core: &Core) -> usize {
    core.repl.master.as_ref().map_or(0, |m| m.db)
}

/// This replica's history changed (a full resynchronization, or a new master's id): its own
/// replicas must resynchronize, and are dropped.
pub(crate) fn drop_replicas(core: &mut Core) {
    for r in core.repl.stream.lock().replicas.drain(..) {
        r.client.kill();
    }
    for w in core.repl.waiting.drain(..) {
        w.replica.client.kill();
    }
}

/// A replica's full resynchronization installed its master's data set as of `offset`: the
/// stream it passes on starts there.
pub(crate) fn restart_stream(core: &mut Core, offset: u64) {
    drop_replicas(core);
    core.repl.stream.lock().backlog.bytes.clear();
    core.repl.stream.offset.store(offset, Ordering::Relaxed);
}

/// The stream (and its backlog) is kept from here on; the next command selects its database.
fn open_stream(core: &mut Core) {
    if !core.repl.sink_added {
        core.prop.add_sink(Box::new(StreamSink(core.repl.stream.clone())));
        core.repl.sink_added = true;
        // The backlog keeps `repl-backlog-size` from now on (a replica's, before any replica
        // of its own comes).
        config_changed(core);
    }
    core.prop.force_select();
}

/// What precedes the RDB payload: `+FULLRESYNC <replid> <offset>` (PSYNC, not SYNC), then
/// `$<spec>`: the payload's length, or `EOF:<mark>`.
fn payload_head(core: &Core, psync: bool, offset: u64, spec: &str) -> String {
    match psync {
        true => format!("+FULLRESYNC {} {offset}\r\n${spec}\r\n", core.replid),
        false => format!("${spec}\r\n"),
    }
}

/// Starts the waiting full synchronization, when no snapshot runs (called by PSYNC and the
/// cron). One at a time: the tables hold one snapshot.
fn start_syncs(server: &Arc<Server>, core: &mut Core) {
    core.repl.waiting.retain(|w| !w.replica.client.is_killed() && !w.to.is_closed());
    if core.repl.waiting.is_empty() {
        return;
    }
    let Some(mut dump) = crate::persist::snapshot::RdbDump::begin(core) else {
        return;
    };
    let WaitingSync { mut replica, to, psync, rdb_only } = core.repl.waiting.remove(0);
    let client = replica.client.clone();
    let offset = start_stream(core);
    dump.for_replica(stream_db(core), &core.replid, offset);
    let mark = crate::server::random_hex40();
    let head = payload_head(core, psync, offset, &format!("EOF:{mark}"));
    // The channel is new and empty: the first piece fits.
    let _ = to.try_send(Piece::Bytes(head.into_bytes()));
    tracing::info!(
        "Replica {} asks for synchronization; starting a full resync streamed from a snapshot",
        client.addr
    );
    if !rdb_only {
        replica.state = ReplicaState::SendBulk;
        attach(core, replica);
    }
    let server = server.clone();
    std::thread::spawn(move || match dump.write(&server, PieceWriter(to.clone())) {
        Ok(_) => {
            let _ = to.blocking_send(Piece::Bytes(mark.into_bytes()));
            let _ = to.blocking_send(Piece::End);
        }
        Err(e) => {
            tracing::warn!("Full resync of replica {} failed: {e}", client.addr);
            let _ = to.blocking_send(Piece::Failed);
        }
    });
}

/// The replica `id` has its snapshot: it is `online`.
pub fn transfer_done(core: &mut Core, id: u64) {
    if let Some(r) = core.repl.stream.lock().replicas.iter_mut().find(|r| r.client.id == id) {
        r.state = ReplicaState::Online;
        r.ack_ms = crate::clock::mstime();
    }
}

/// A partial resynchronization, when the replica's history is this server's and what it lacks
/// is still in the backlog: `+CONTINUE <replid>` and the missing stream. `None` otherwise (the
/// caller then does a full one).
pub fn partial_sync(
    core: &mut Core,
    client: &mut crate::client::Client,
    replid: &[u8],
    from: u64,
) -> Option<Vec<u8>> {
    // Its history is this one, or the one this server continued (up to where it did).
    let ours = replid == core.replid.as_bytes()
        || replid == core.replid2.as_bytes() && core.repl.second_offset.is_some_and(|s| from <= s);
    if !core.repl.sink_added || !ours {
        return None;
    }
    let end = core.repl.stream.offset.load(Ordering::Relaxed);
    let out = {
        let s = core.repl.stream.lock();
        let b = &s.backlog;
        let first = (end + 1).saturating_sub(b.bytes.len() as u64);
        if from < first || from > end + 1 {
            return None;
        }
        let mut out = format!("+CONTINUE {}\r\n", core.replid).into_bytes();
        out.extend(b.bytes.range((from - first) as usize..));
        out
    };
    core.repl.sync_partial_ok += 1;
    let replica = become_replica(client);
    tracing::info!(
        "Partial resynchronization request from {} accepted, sending {} bytes of backlog \
         starting from offset {from}",
        client.shared.addr,
        end + 1 - from
    );
    attach(core, replica);
    Some(out)
}

/// `repl-backlog-size` or `client-output-buffer-limit` changed (or the first replica comes):
/// the backlog keeps that much, the stream's pushes check those limits.
pub fn config_changed(core: &mut Core) {
    let mut s = core.repl.stream.lock();
    s.limits = core.cfg.client_output_buffer_limit;
    s.backlog.size = usize::try_from(core.cfg.repl_backlog_size).unwrap_or(usize::MAX);
    s.backlog.trim();
}

/// Flags the caller as a replica (its output is then bounded by the `replica` limits), and
/// returns it as the stream knows replicas (`online` unless told otherwise).
fn become_replica(client: &mut crate::client::Client) -> Replica {
    client.flags.replica = true;
    client.shared.out.set_replica(true);
    Replica {
        client: client.shared.clone(),
        state: ReplicaState::Online,
        port: client.repl_port,
        ip: client.repl_ip.clone().unwrap_or_else(|| peer_ip(&client.shared.addr)),
        ack: 0,
        ack_ms: crate::clock::mstime(),
    }
}

/// Makes `replica` one the stream flows to.
fn attach(core: &mut Core, replica: Replica) {
    config_changed(core);
    core.repl.stream.lock().replicas.push(replica);
}

/// The host part of `ip:port` or `[ip6]:port`.
fn peer_ip(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}

/// `REPLCONF ACK <offset>` from a replica.
pub fn ack(core: &mut Core, client_id: u64, offset: u64) {
    let now = crate::clock::mstime();
    if let Some(r) = core.repl.stream.lock().replicas.iter_mut().find(|r| r.client.id == client_id)
    {
        r.ack = offset;
        r.ack_ms = now;
    }
    if !core.repl.waits.is_empty() {
        serve_waits(core);
    }
}

/// Replicas that acknowledged `offset` or more.
pub fn acked(core: &Core, offset: u64) -> usize {
    core.repl.stream.lock().replicas.iter().filter(|r| r.ack >= offset).count()
}

/// WAIT: the replicas that have what this server wrote so far, or (`None`) the client is to
/// block until `wanted` of them have it; they are asked to acknowledge at once.
pub fn wait(core: &mut Core, client_id: u64, wanted: usize) -> Option<usize> {
    let target = core.repl.offset();
    let have = acked(core, target);
    if have >= wanted {
        return Some(have);
    }
    core.repl.waits.push((client_id, target, wanted));
    request_acks(core);
    None
}

/// Asks every replica to acknowledge its offset now (`REPLCONF GETACK *` down the stream).
fn request_acks(core: &Core) {
    core.repl.stream.broadcast(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
}

/// A WAIT that timed out: its reply, the replicas that acknowledged meanwhile. `None` when
/// client `id` is not in WAIT.
pub fn wait_timed_out(core: &mut Core, id: u64) -> Option<Vec<u8>> {
    let at = core.repl.waits.iter().position(|w| w.0 == id)?;
    let (_, target, _) = core.repl.waits.remove(at);
    core.blocking.unblock(&mut core.dbs, id);
    Some(format!(":{}\r\n", acked(core, target)).into_bytes())
}

/// Answers the WAITs that enough replicas acknowledged.
fn serve_waits(core: &mut Core) {
    let mut i = 0;
    while i < core.repl.waits.len() {
        let (id, target, wanted) = core.repl.waits[i];
        let have = acked(core, target);
        if have < wanted {
            i += 1;
            continue;
        }
        core.repl.waits.remove(i);
        if let Some(w) = core.blocking.unblock(&mut core.dbs, id) {
            crate::blocking::finish(core, &w.shared, format!(":{have}\r\n").into_bytes());
        }
    }
}

/// Why replication refuses a command, as Redis checks in this order: a write on a master
/// without `min-replicas-to-write` good replicas (acknowledged within `min-replicas-max-lag`
/// seconds), a write on a read-only replica, anything but `stale` commands on a replica whose
/// link is down with `replica-serve-stale-data no`. The master's stream and the AOF are obeyed.
/// Every command asks: on a master without `min-replicas-to-write` it is three branches.
#[inline]
pub fn refusal(
    core: &Core,
    client: &crate::client::Client,
    cmd: &crate::cmd::Command,
    flags: CmdFlags,
) -> Option<&'static str> {
    if client.flags.master || client.aof_loader {
        return None;
    }
    let write = flags.contains(CmdFlags::WRITE);
    if write && !enough_good_replicas(core) {
        return Some("NOREPLICAS Not enough good replicas to write.");
    }
    let master = core.repl.master.as_ref()?;
    if write && core.cfg.replica_read_only {
        return Some("READONLY You can't write against a read only replica.");
    }
    if master.state != LinkState::Connected
        && !core.cfg.replica_serve_stale_data
        && !cmd.flags.contains(CmdFlags::STALE)
    {
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    None
}

/// Replicas that acknowledged within `min-replicas-max-lag` seconds.
fn good_replicas(core: &Core) -> usize {
    let now = crate::clock::mstime();
    let max_lag = i64::from(core.cfg.min_replicas_max_lag);
    let s = core.repl.stream.lock();
    let good = |r: &&Replica| r.state == ReplicaState::Online && (now - r.ack_ms) / 1000 <= max_lag;
    s.replicas.iter().filter(good).count()
}

/// `min-replicas-to-write`: whether writes are allowed (always on a replica, or when off).
fn enough_good_replicas(core: &Core) -> bool {
    let (want, lag) = (core.cfg.min_replicas_to_write, core.cfg.min_replicas_max_lag);
    core.repl.is_replica() || want == 0 || lag == 0 || good_replicas(core) >= want as usize
}

/// A replica's connection closed.
pub fn forget(core: &mut Core, client_id: u64) {
    core.repl.stream.lock().replicas.retain(|r| r.client.id != client_id);
    core.repl.waiting.retain(|w| w.replica.client.id != client_id);
}

/// A client's connection closed: it waits for nothing any more.
pub fn forget_wait(core: &mut Core, client_id: u64) {
    core.repl.waits.retain(|w| w.0 != client_id);
}

/// The cron's part: a waiting full synchronization started once no snapshot runs, a PING
/// down the stream every `repl-ping-replica-period`, replicas that are gone forgotten.
pub fn cron(server: &Arc<Server>, core: &mut Core) {
    if !core.repl.waiting.is_empty() {
        start_syncs(server, core);
    }
    failover::cron(server, core);
    if core.repl.is_replica() || !core.repl.sink_added {
        return;
    }
    core.repl.stream.lock().replicas.retain(|r| !r.client.is_killed());
    let now = crate::clock::mstime();
    let period = i64::from(core.cfg.repl_ping_replica_period.max(1)) * 1000;
    if now - core.repl.last_ping_ms >= period && !core.repl.stream.lock().replicas.is_empty() {
        core.repl.last_ping_ms = now;
        // Not through the propagator: the AOF has no use for it.
        core.repl.stream.broadcast(b"*1\r\n$4\r\nPING\r\n");
    }
}

/// Becomes a replica of `host:port` (or, with `None`, a master again). Returns false when it
/// was already replicating that master.
pub fn set_master(server: &Arc<Server>, core: &mut Core, target: Option<(String, u16)>) -> bool {
    use vireo_module_api::abi::server_event as se;
    let was_replica = core.repl.is_replica();
    match target {
        None => {
            if let Some(m) = core.repl.master.take() {
                tracing::info!(
                    "MASTER MODE enabled (user request from master {}:{})",
                    m.host,
                    m.port
                );
                // A new history starts here: the old id stays as replid2, valid up to here,
                // so that replicas of the old master (the old master itself, after a FAILOVER)
                // can continue, as in Redis.
                core.replid2 = std::mem::replace(&mut core.replid, crate::server::random_hex40());
                core.repl.second_offset = Some(m.offset + 1);
                // The backlog holds the old master's stream up to here, which such a replica
                // may still need (unless the link never got that far); this server's own
                // writes follow it.
                let passed_on = core.repl.stream.offset.swap(m.offset, Ordering::Relaxed);
                if passed_on != m.offset {
                    core.repl.stream.lock().backlog.bytes.clear();
                }
                core.repl.stream.proxying.store(false, Ordering::Relaxed);
                open_stream(core);
                // Our replicas learn the new id by asking again (and continue through replid2).
                drop_replicas(core);
                core.repl.epoch += 1;
            }
        }
        Some((host, port)) => {
            if let Some(m) = &core.repl.master {
                if m.host == host && m.port == port {
                    return false;
                }
            }
            core.repl.epoch += 1;
            let epoch = core.repl.epoch;
            tracing::info!("REPLICAOF {host}:{port} enabled");
            // It asks the new master to continue the history it has (as Redis caches its
            // master, or itself): the new master may be its old replica, or a sibling promoted.
            // (In the database its stream had selected.)
            let own = match &core.repl.master {
                Some(m) => m.synced.then_some((m.offset, m.db)),
                None => core
                    .repl
                    .sink_added
                    .then(|| (core.repl.stream.offset.load(Ordering::Relaxed), 0)),
            };
            core.repl.master = Some(Master {
                host: host.clone(),
                port,
                state: LinkState::Connect,
                offset: own.map_or(0, |o| o.0),
                last_io_ms: 0,
                epoch,
                synced: own.is_some(),
                down_since_ms: 0,
                db: own.map_or(0, |o| o.1),
                transfer: Arc::default(),
            });
            // Our replicas stay: from now on they get the new master's stream through this
            // server, which keeps a backlog of it (they are dropped if the history changes).
            open_stream(core);
            core.repl.stream.proxying.store(true, Ordering::Relaxed);
            tokio::spawn(link::run(server.clone(), host, port, epoch));
        }
    }
    let is_replica = core.repl.is_replica();
    crate::keyspace::set_replica(is_replica);
    if was_replica != is_replica {
        let sub = if is_replica { se::REPLICA } else { se::MASTER };
        crate::module_host::events::fire(
            server,
            core,
            crate::module_host::events::data(se::REPLICATION_ROLE, sub, 0),
        );
    }
    true
}

/// INFO's replication section.
pub fn info(core: &Core, out: &mut String) {
    use std::fmt::Write;
    let now = crate::clock::mstime();
    match &core.repl.master {
        Some(m) => {
            let up = m.state == LinkState::Connected;
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n\
                 master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
                 slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:{}\r\n\
                 slave_read_only:{}\r\nreplica_announced:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                if m.last_io_ms > 0 { (now - m.last_io_ms) / 1000 } else { -1 },
                i32::from(m.state == LinkState::Sync),
                m.offset,
                m.offset,
                core.cfg.replica_priority,
                i32::from(core.cfg.replica_read_only),
                i32::from(core.cfg.replica_announced),
            );
            if m.state == LinkState::Sync {
                let t = &m.transfer;
                let size = t.size.load(Ordering::Relaxed);
                let read = t.read.load(Ordering::Relaxed) as i64;
                let perc = if size > 0 { read as f64 * 100.0 / size as f64 } else { 0.0 };
                let _ = write!(
                    out,
                    "master_sync_total_bytes:{size}\r\nmaster_sync_read_bytes:{read}\r\n\
                     master_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
                     master_sync_last_io_seconds_ago:{}\r\n",
                    size - read,
                    (now - t.last_io_ms.load(Ordering::Relaxed)).max(0) / 1000
                );
            }
            if !up {
                let since = match m.down_since_ms {
                    0 => -1,
                    t => (now - t) / 1000,
                };
                let _ = write!(out, "master_link_down_since_seconds:{since}\r\n");
            }
        }
        None => {
            let _ = write!(out, "role:master\r\n");
        }
    }
    let connected = core.repl.stream.lock().replicas.len() + core.repl.waiting.len();
    let _ = write!(out, "connected_slaves:{connected}\r\n");
    if core.cfg.min_replicas_to_write > 0 && core.cfg.min_replicas_max_lag > 0 {
        let _ = write!(out, "min_slaves_good_slaves:{}\r\n", good_replicas(core));
    }
    let state = core.repl.stream.lock();
    let waiting = core.repl.waiting.iter().map(|w| &w.replica);
    for (i, r) in state.replicas.iter().chain(waiting).enumerate() {
        let lag = match r.state {
            ReplicaState::WaitBgsave => 0,
            _ => (now - r.ack_ms).max(0) / 1000,
        };
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            r.ip,
            r.port,
            r.state.name(),
            r.ack
        );
    }
    drop(state);
    let offset = core.repl.offset();
    let histlen = core.repl.stream.lock().backlog.bytes.len() as u64;
    let first = if core.repl.sink_added {
        (core.repl.stream.offset.load(Ordering::Relaxed) + 1).saturating_sub(histlen)
    } else {
        0
    };
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
         master_repl_offset:{offset}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\n\
         repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\n\
         repl_backlog_histlen:{histlen}\r\n",
        failover::state_name(core),
        core.replid,
        core.replid2,
        core.repl.second_offset.map_or(-1, |o| o as i64),
        i32::from(core.repl.sink_added),
        core.cfg.repl_backlog_size,
    );
}
