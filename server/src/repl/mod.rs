//! Replication, as Redis 7.0 speaks it on the wire, so that Vireo and Redis can replicate from
//! each other.
//!
//! **Master side.** A replica connects as a client, announces itself (`REPLCONF listening-port`,
//! `capa`) and asks `PSYNC` (or `SYNC`). Every request is a full resynchronization: the reply is
//! `+FULLRESYNC <replid> <offset>`, then the data set as an RDB payload (`$<len>\r\n<bytes>`),
//! then the replication stream, which is what the propagator feeds the AOF (see `propagate`):
//! the connection receives it through its push channel, under the `replica` output buffer
//! limits. The replica acknowledges with `REPLCONF ACK <offset>`, which gets no reply. The master
//! sends `PING` down the stream every `repl-ping-replica-period` seconds.
//!
//! **Replica side.** `REPLICAOF host port` (or `replicaof` in the config) starts a link task:
//! handshake, `PSYNC ? -1`, the RDB (a sized payload, or the `$EOF:<mark>` form of a diskless
//! master), which replaces the data set, then the stream, applied as Redis applies it: by a client
//! flagged `master` that skips ACL and read-only checks and whose replies are dropped. The link
//! acknowledges its offset every second and reconnects after an error. Writes from other
//! clients get `READONLY` while `replica-read-only` is on. `REPLICAOF NO ONE` makes it a master
//! again, with a new replication id.
//!
//! Not there yet: partial resynchronization (every reconnection is a full one), the backlog,
//! diskless sync as a master, WAIT, chained replicas that forward the master's stream verbatim.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::client::ClientShared;
use crate::server::{Core, Server};

pub mod link;

/// A replica connected to this server.
pub struct Replica {
    pub client: Arc<ClientShared>,
    /// The port it listens on (`REPLCONF listening-port`), for INFO and ROLE.
    pub port: u16,
    pub ip: String,
    /// The offset it acknowledged last, and when (unix ms).
    pub ack: u64,
    pub ack_ms: i64,
}

/// What the stream sink shares with the commands: the replicas and the stream's offset.
pub struct Stream {
    /// Bytes of replication stream produced since this server became a master.
    pub offset: AtomicU64,
    pub replicas: Mutex<Vec<Replica>>,
    /// `client-output-buffer-limit`, as the stream's pushes check it (kept by the cron).
    pub limits: Mutex<[crate::config::ClientBufferLimit; 3]>,
}

/// The propagator's sink for the replicas.
struct StreamSink(Arc<Stream>);

impl Default for Stream {
    fn default() -> Self {
        Stream {
            offset: AtomicU64::new(0),
            replicas: Mutex::new(Vec::new()),
            limits: Mutex::new(crate::config::defaults().client_output_buffer_limit),
        }
    }
}

impl Stream {
    /// Sends bytes of stream to every replica, counting them in the offset.
    fn broadcast(&self, bytes: &[u8]) {
        self.offset.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut replicas = self.replicas.lock();
        if replicas.is_empty() {
            return;
        }
        let limits = *self.limits.lock();
        let msg = Bytes::copy_from_slice(bytes);
        // A replica that is gone, or over its output limit, is dropped.
        replicas.retain(|r| r.client.push(msg.clone(), &limits));
    }
}

impl crate::propagate::Sink for StreamSink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.broadcast(bytes);
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
}

impl Repl {
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
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
/// which the stream flows to it. Returns the bytes to send (the `+FULLRESYNC` line with `psync`).
pub fn full_sync(
    core: &mut Core,
    client: &mut crate::client::Client,
    psync: bool,
) -> std::io::Result<Vec<u8>> {
    let rdb = crate::persist::snapshot::write_core(core, Vec::new(), false)?;
    if !core.repl.sink_added {
        core.prop.add_sink(Box::new(StreamSink(core.repl.stream.clone())));
        core.repl.sink_added = true;
    }
    *core.repl.stream.limits.lock() = core.cfg.client_output_buffer_limit;
    // The stream restarts with a SELECT for the newcomer.
    core.prop.force_select();
    let offset = core.repl.stream.offset.load(Ordering::Relaxed);
    let mut out = Vec::with_capacity(rdb.len() + 80);
    if psync {
        out.extend_from_slice(format!("+FULLRESYNC {} {offset}\r\n", core.replid).as_bytes());
    }
    out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    out.extend_from_slice(&rdb);
    client.flags.replica = true;
    client.shared.out.set_replica(true);
    let ip = client.repl_ip.clone().unwrap_or_else(|| peer_ip(&client.shared.addr));
    let now = crate::clock::mstime();
    core.repl.stream.replicas.lock().push(Replica {
        client: client.shared.clone(),
        port: client.repl_port,
        ip,
        ack: 0,
        ack_ms: now,
    });
    tracing::info!(
        "Replica {} asks for synchronization; full resync with {} bytes of RDB",
        client.shared.addr,
        rdb.len()
    );
    Ok(out)
}

/// The host part of `ip:port` or `[ip6]:port`.
fn peer_ip(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}

/// `REPLCONF ACK <offset>` from a replica.
pub fn ack(core: &mut Core, client_id: u64, offset: u64) {
    let now = crate::clock::mstime();
    if let Some(r) = core.repl.stream.replicas.lock().iter_mut().find(|r| r.client.id == client_id)
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
    core.repl.stream.replicas.lock().iter().filter(|r| r.ack >= offset).count()
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
    core.repl.stream.broadcast(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
    None
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
            core.blocking.finish(id, &w.shared, format!(":{have}\r\n").into_bytes());
        }
    }
}

/// A replica's connection closed.
pub fn forget(core: &mut Core, client_id: u64) {
    core.repl.stream.replicas.lock().retain(|r| r.client.id != client_id);
}

/// A client's connection closed: it waits for nothing any more.
pub fn forget_wait(core: &mut Core, client_id: u64) {
    core.repl.waits.retain(|w| w.0 != client_id);
}

/// The cron's part: a PING down the stream every `repl-ping-replica-period`, replicas that
/// are gone forgotten.
pub fn cron(core: &mut Core) {
    if core.repl.is_replica() || !core.repl.sink_added {
        return;
    }
    core.repl.stream.replicas.lock().retain(|r| !r.client.is_killed());
    let now = crate::clock::mstime();
    let period = i64::from(core.cfg.repl_ping_replica_period.max(1)) * 1000;
    if now - core.repl.last_ping_ms >= period && !core.repl.stream.replicas.lock().is_empty() {
        core.repl.last_ping_ms = now;
        *core.repl.stream.limits.lock() = core.cfg.client_output_buffer_limit;
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
                // A new history starts here: the old id stays as replid2, as in Redis.
                core.replid2 = std::mem::replace(&mut core.replid, crate::server::random_hex40());
                core.repl.stream.offset.store(m.offset, Ordering::Relaxed);
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
            core.repl.master = Some(Master {
                host: host.clone(),
                port,
                state: LinkState::Connect,
                offset: 0,
                last_io_ms: 0,
                epoch,
            });
            // Replicas of ours resynchronize from the new history.
            for r in core.repl.stream.replicas.lock().drain(..) {
                r.client.kill();
            }
            tokio::spawn(link::run(server.clone(), host, port, epoch));
        }
    }
    let is_replica = core.repl.is_replica();
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
            if !up {
                let _ = write!(out, "master_link_down_since_seconds:-1\r\n");
            }
        }
        None => {
            let _ = write!(out, "role:master\r\n");
        }
    }
    let replicas = core.repl.stream.replicas.lock();
    let _ = write!(out, "connected_slaves:{}\r\n", replicas.len());
    for (i, r) in replicas.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            r.ip,
            r.port,
            r.ack,
            (now - r.ack_ms).max(0) / 1000
        );
    }
    drop(replicas);
    let offset = core.repl.offset();
    let _ = write!(
        out,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
         master_repl_offset:{offset}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:{}\r\n\
         repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:0\r\n",
        core.replid,
        core.replid2,
        i32::from(core.repl.sink_added),
        core.cfg.repl_backlog_size,
        if core.repl.sink_added { 1 } else { 0 },
    );
}
