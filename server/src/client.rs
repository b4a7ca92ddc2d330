//! Per-connection client state.
//!
//! `Client` is owned by its connection task and handed to handlers by `&mut`. The part other
//! clients need to see (CLIENT LIST, CLIENT KILL, MONITOR) lives in `ClientShared`, registered in
//! the server's client table.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::clock::{mstime, unix_secs};

/// What `CLIENT REPLY` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Currently skipping (the command after `CLIENT REPLY SKIP`).
    Skip,
}

/// Fields other clients can read, updated by the owner while it holds the keyspace lock.
#[derive(Clone, Debug)]
pub struct ClientMeta {
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub db: usize,
    pub resp: u8,
    pub user: String,
    pub last_cmd: &'static str,
    pub last_interaction_ms: i64,
    pub flags: ClientFlags,
    pub tot_cmds: u64,
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub tot_net_in: u64,
    pub tot_net_out: u64,
    /// Size of the connection's read buffer and the bytes its last read brought (CLIENT LIST
    /// `rbs=`/`rbp=`).
    pub rbs: usize,
    pub rbp: usize,
    /// Channel and pattern subscriptions (CLIENT LIST `sub=`/`psub=`/`ssub=`), copied from
    /// `Client::pubsub` by `sync_meta`.
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued by MULTI, or -1 outside a transaction (CLIENT LIST `multi=`).
    pub multi: i64,
    /// CLIENT TRACKING state (`t`/`R`/`B` flags, `redir=`), kept by `crate::tracking`.
    pub tracking: crate::tracking::TrackingMeta,
}

/// The kinds CLIENT LIST TYPE and CLIENT KILL TYPE select by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Replica,
    Master,
    PubSub,
}

impl ClientKind {
    /// Parses a type name as Redis does (`slave` is an alias of `replica`).
    pub fn from_name(name: &[u8]) -> Option<ClientKind> {
        let n = name.to_ascii_lowercase();
        Some(match &n[..] {
            b"normal" => ClientKind::Normal,
            b"slave" | b"replica" => ClientKind::Replica,
            b"master" => ClientKind::Master,
            b"pubsub" => ClientKind::PubSub,
            _ => return None,
        })
    }
}

impl ClientMeta {
    /// The client's kind: a MONITOR client counts as normal, as in Redis.
    pub fn kind(&self) -> ClientKind {
        if self.flags.master {
            ClientKind::Master
        } else if self.flags.replica {
            ClientKind::Replica
        } else if self.is_pubsub() {
            ClientKind::PubSub
        } else {
            ClientKind::Normal
        }
    }

    /// In pub/sub mode: subscribed to at least one channel, pattern or shard channel. This is
    /// Redis's `P` flag, kept as the subscription counts rather than a second flag that could
    /// disagree with them.
    pub fn is_pubsub(&self) -> bool {
        self.sub + self.psub + self.ssub > 0
    }

    /// The `flags=` letters of CLIENT LIST, in Redis's order (`N` when none applies).
    pub fn flag_letters(&self) -> String {
        let f = &self.flags;
        let mut s = String::new();
        if f.monitor {
            s.push('O');
        } else if f.replica {
            s.push('S');
        }
        if f.master {
            s.push('M');
        }
        if self.is_pubsub() {
            s.push('P');
        }
        if self.multi >= 0 {
            s.push('x');
        }
        if f.blocked {
            s.push('b');
        }
        if self.tracking.on {
            s.push('t');
        }
        if self.tracking.broken_redirect {
            s.push('R');
        }
        if self.tracking.bcast {
            s.push('B');
        }
        if f.close_after_reply {
            s.push('c');
        }
        if f.unix {
            s.push('U');
        }
        if f.no_evict {
            s.push('e');
        }
        if f.no_touch {
            s.push('T');
        }
        if s.is_empty() {
            s.push('N');
        }
        s
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientFlags {
    pub monitor: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    pub unix: bool,
    /// A replica connected to this server (`S`), or this server's master (`M`).
    pub replica: bool,
    pub master: bool,
    /// Waiting in a blocking command (`b`). Nothing blocks yet: the blocking-commands work
    /// (BLPOP & co, and the messaging issue's waits) sets it. Pub/sub mode is not a flag here:
    /// see `ClientMeta::is_pubsub`.
    pub blocked: bool,
    /// Closing once its pending replies are written (`c`).
    pub close_after_reply: bool,
}

/// The part of a client visible to others.
pub struct ClientShared {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created_ms: i64,
    pub meta: Mutex<ClientMeta>,
    kill: AtomicBool,
    /// The connection's push channel: KILL sends an empty message on it to wake the task. (A
    /// channel the task polls anyway costs nothing per read; a Notify would take a lock.)
    wake: mpsc::UnboundedSender<bytes::Bytes>,
    /// What was pushed and not yet written, and the output buffer limits' state.
    pub out: crate::outbuf::OutputState,
    /// How the reply of its blocked command reaches the socket (see `crate::blocking`).
    pub handoff: Mutex<crate::blocking::Handoff>,
}

impl ClientShared {
    /// Asks the connection to close; it does so before reading or running anything more, and
    /// abandons a write the peer is not reading.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::Release);
        let _ = self.wake.send(bytes::Bytes::new());
        self.out.killed.notify_one();
    }

    /// Pushes a message (pub/sub, MONITOR) to the connection, counting it against the client's
    /// output buffer limits; a client over them is closed as Redis does. False when the client
    /// is gone or closing: the caller may forget it.
    pub fn push(&self, msg: bytes::Bytes, limits: &[crate::config::ClientBufferLimit; 3]) -> bool {
        if self.is_killed() {
            return false;
        }
        let len = msg.len();
        // Counted before it is sent: the connection task may write it, and uncount it, at once
        // (counting after let the count dip below zero, and wrap, meanwhile).
        let check = self.out.add(len, limits);
        if self.wake.send(msg).is_err() {
            self.out.written(len, 1);
            return false;
        }
        if check == crate::outbuf::LimitCheck::Exceeded {
            tracing::warn!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                crate::cmd::client::info_line(self)
            );
            self.kill();
            return false;
        }
        true
    }

    /// Wakes the connection task so that it looks at its state again.
    pub fn wake(&self) {
        let _ = self.wake.send(bytes::Bytes::new());
    }

    /// The connection's push channel, for a `Client` that acts on its behalf.
    pub fn push_sender(&self) -> mpsc::UnboundedSender<bytes::Bytes> {
        self.wake.clone()
    }

    pub fn is_killed(&self) -> bool {
        self.kill.load(Ordering::Acquire)
    }

    pub fn age_secs(&self) -> i64 {
        (mstime() - self.created_ms) / 1000
    }
}

/// Everything a handler may change about its own client.
pub struct Client {
    pub id: u64,
    pub shared: Arc<ClientShared>,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    pub user: String,
    /// The ACL epoch `acl_unrestricted` was worked out at (see `cmd::acl::check`).
    pub acl_epoch: u64,
    /// The user may run any command on any key and channel.
    pub acl_unrestricted: bool,
    pub name: Option<Vec<u8>>,
    pub reply_mode: ReplyMode,
    pub flags: ClientFlags,
    /// Close the connection once the pending replies are written (QUIT, some errors).
    pub close_after_reply: bool,
    /// Full name of the last command run, for CLIENT LIST `cmd=`.
    pub last_cmd: Option<&'static str>,
    /// Messages pushed to this client from elsewhere (MONITOR lines, pub/sub); pushes that count
    /// against the output buffer limits go through `ClientShared::push`.
    pub push_tx: mpsc::UnboundedSender<bytes::Bytes>,
    /// What CLIENT SETINFO LIB-NAME / LIB-VER said.
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    /// The transaction being queued, between MULTI and EXEC/DISCARD.
    pub multi: Option<Multi>,
    /// Keys this client WATCHes, as (db, key); the registry is `Core::watches`.
    pub watched: Vec<(usize, Box<[u8]>)>,
    /// EXEC is running this client's queued commands, or this is a blocked client's command
    /// run again to serve it: either way it was checked already and must not block.
    pub in_exec: bool,
    /// This is a blocked client's command run again to serve it (see `cmd::serve_blocked`):
    /// the key that became ready, which it is served from.
    pub serving_blocked: Option<bytes::Bytes>,
    /// What a replica announced with REPLCONF listening-port / ip-address.
    pub repl_port: u16,
    pub repl_ip: Option<String>,
    /// The replica announced `REPLCONF capa eof`: it reads an RDB payload of unknown length.
    pub repl_capa_eof: bool,
    /// `REPLCONF rdb-only 1` (`redis-cli --rdb`): the payload is all it wants; no stream after.
    pub repl_rdb_only: bool,
    /// `REPLCONF rdb-filter-only <filters>`: the payload leaves the keys out, and keeps the
    /// function libraries only with the `functions` filter (`redis-cli --functions-rdb`).
    pub repl_only_functions: Option<bool>,
    /// A replica's full synchronization, streamed to it before anything else is written (see
    /// `repl::full_sync`).
    pub rdb_transfer: Option<tokio::sync::mpsc::Receiver<crate::repl::Piece>>,
    /// The snapshot went out with an EOF mark: the stream waits for the replica's first
    /// `REPLCONF ACK`, since a replica finds the mark only at the end of what it read.
    pub repl_await_ack: bool,
    /// The client a Lua script runs its commands as (MONITOR shows them as `lua`).
    pub lua: bool,
    /// The time (unix ms) the script this client runs for started: its commands check expiry
    /// against it, as in Redis no key expires while a script runs.
    pub time_snapshot: Option<i64>,
    /// The client that replays the AOF at start-up (not refused with -LOADING).
    pub aof_loader: bool,
    /// Channels, patterns and shard channels this client subscribes to.
    pub pubsub: crate::pubsub::ClientSubs,
    /// SCRIPT DEBUG YES|SYNC: the next EVAL starts a debugging session.
    pub lua_debug: Option<crate::cmd::ldb::DebugMode>,
    /// The debugging session an EVAL started: the connection relays it, then closes.
    pub debug_session: Option<crate::cmd::ldb::DebugLink>,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    pub queued: Vec<Vec<bytes::Bytes>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// Union of the queued commands' flags (EXEC is a write for CLIENT PAUSE and maxmemory if
    /// any queued command is).
    pub flags: crate::cmd::spec::CmdFlags,
}

impl Client {
    pub fn new(
        id: u64,
        shared: Arc<ClientShared>,
        authenticated: bool,
        push_tx: mpsc::UnboundedSender<bytes::Bytes>,
    ) -> Self {
        let flags = shared.meta.lock().flags;
        Client::with_flags(id, shared, authenticated, push_tx, flags, "default".into())
    }

    /// The client a script of `caller` runs its commands as: the caller's id, connection,
    /// user, flags and database, flagged as inside a script, with the clock stopped at `now`
    /// (made from the caller's fields, without taking the connection's lock).
    pub fn for_script(caller: &Client, now: i64) -> Client {
        let (shared, push) = (caller.shared.clone(), caller.push_tx.clone());
        let user = caller.user.clone();
        let mut c = Client::with_flags(caller.id, shared, true, push, caller.flags, user);
        c.db = caller.db;
        (c.acl_epoch, c.acl_unrestricted) = (caller.acl_epoch, caller.acl_unrestricted);
        c.in_exec = true;
        c.lua = true;
        c.time_snapshot = Some(now);
        c
    }

    fn with_flags(
        id: u64,
        shared: Arc<ClientShared>,
        authenticated: bool,
        push_tx: mpsc::UnboundedSender<bytes::Bytes>,
        flags: ClientFlags,
        user: String,
    ) -> Self {
        Client {
            id,
            shared,
            db: 0,
            resp: 2,
            authenticated,
            user,
            acl_epoch: 0,
            acl_unrestricted: false,
            name: None,
            reply_mode: ReplyMode::On,
            flags,
            close_after_reply: false,
            last_cmd: None,
            push_tx,
            lib_name: None,
            lib_ver: None,
            multi: None,
            watched: Vec::new(),
            in_exec: false,
            serving_blocked: None,
            repl_port: 0,
            repl_ip: None,
            repl_capa_eof: false,
            repl_rdb_only: false,
            repl_only_functions: None,
            rdb_transfer: None,
            repl_await_ack: false,
            lua: false,
            time_snapshot: None,
            aof_loader: false,
            pubsub: Default::default(),
            lua_debug: None,
            debug_session: None,
        }
    }

    /// Copies the state other clients may look at into `m` (the connection loop calls it after
    /// each batch, under the core lock; CLIENT LIST calls it for the caller's own line).
    pub fn sync_meta(&self, m: &mut ClientMeta) {
        m.db = self.db;
        m.resp = self.resp;
        m.user.clone_from(&self.user);
        m.name.clone_from(&self.name);
        m.lib_name.clone_from(&self.lib_name);
        m.lib_ver.clone_from(&self.lib_ver);
        m.flags = self.flags;
        m.multi = self.multi.as_ref().map_or(-1, |t| t.queued.len() as i64);
        m.flags.close_after_reply |= self.close_after_reply;
        if let Some(c) = self.last_cmd {
            m.last_cmd = c;
        }
        (m.sub, m.psub, m.ssub) = self.pubsub.counts();
        self.shared.out.set_resp3(self.resp == 3);
    }
}

impl ClientShared {
    pub fn new(
        id: u64,
        addr: String,
        laddr: String,
        fd: i32,
        unix: bool,
        wake: mpsc::UnboundedSender<bytes::Bytes>,
    ) -> Self {
        let now = mstime();
        ClientShared {
            id,
            addr,
            laddr,
            fd,
            created_ms: now,
            meta: Mutex::new(ClientMeta {
                name: None,
                lib_name: None,
                lib_ver: None,
                db: 0,
                resp: 2,
                user: "default".into(),
                last_cmd: "NULL",
                last_interaction_ms: now,
                flags: ClientFlags { unix, ..ClientFlags::default() },
                tot_cmds: 0,
                qbuf: 0,
                qbuf_free: 0,
                tot_net_in: 0,
                tot_net_out: 0,
                rbs: 0,
                rbp: 0,
                sub: 0,
                psub: 0,
                ssub: 0,
                multi: -1,
                tracking: Default::default(),
            }),
            kill: AtomicBool::new(false),
            wake,
            out: Default::default(),
            handoff: Default::default(),
        }
    }
}

/// Formats an address as Redis shows it in CLIENT LIST (`127.0.0.1:6379`, `[::1]:6379`).
pub fn fmt_addr(a: &SocketAddr) -> String {
    a.to_string()
}

pub fn now_secs() -> i64 {
    unix_secs()
}
