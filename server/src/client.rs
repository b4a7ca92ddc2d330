//! Per-connection client state.
//!
//! `Client` is owned by its connection task and handed to handlers by `&mut`. The part other
//! clients need to see (CLIENT LIST, CLIENT KILL, MONITOR) lives in `ClientShared`, registered in
//! the server's client table.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

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
    pub obuf: usize,
    pub tot_net_in: u64,
    pub tot_net_out: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientFlags {
    pub monitor: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    pub unix: bool,
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
    pub kill_notify: Notify,
}

impl ClientShared {
    /// Asks the connection to close; it does so before reading or running anything more.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::Release);
        self.kill_notify.notify_one();
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
    pub name: Option<Vec<u8>>,
    pub reply_mode: ReplyMode,
    pub flags: ClientFlags,
    /// Close the connection once the pending replies are written (QUIT, some errors).
    pub close_after_reply: bool,
    /// Full name of the last command run, for CLIENT LIST `cmd=`.
    pub last_cmd: Option<&'static str>,
    /// Messages pushed to this client from elsewhere (MONITOR lines, later pub/sub).
    pub push_tx: mpsc::UnboundedSender<bytes::Bytes>,
}

impl Client {
    pub fn new(
        id: u64,
        shared: Arc<ClientShared>,
        authenticated: bool,
        push_tx: mpsc::UnboundedSender<bytes::Bytes>,
    ) -> Self {
        Client {
            id,
            shared,
            db: 0,
            resp: 2,
            authenticated,
            user: "default".into(),
            name: None,
            reply_mode: ReplyMode::On,
            flags: ClientFlags::default(),
            close_after_reply: false,
            last_cmd: None,
            push_tx,
        }
    }
}

impl ClientShared {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, unix: bool) -> Self {
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
                obuf: 0,
                tot_net_in: 0,
                tot_net_out: 0,
            }),
            kill: AtomicBool::new(false),
            kill_notify: Notify::new(),
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
