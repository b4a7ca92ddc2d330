//! Server state: `Core` is everything commands touch, behind one lock taken once per batch of
//! pipelined commands (see the execution model in docs/architecture.md); `Server` is the shared,
//! immutable-or-atomic rest.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::client::ClientShared;
use crate::cmd::Commands;
use crate::config::Config;
use crate::keyspace::Db;
use crate::propagate::Propagator;
use crate::stats::{LatencyMonitor, SlowLog, Stats};

/// A CLIENT PAUSE in force.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    pub until_ms: i64,
    /// `WRITE` pauses only commands that may write; `ALL` pauses every command.
    pub writes_only: bool,
}

pub struct Core {
    pub cfg: Config,
    pub dbs: Vec<Db>,
    pub stats: Stats,
    pub slowlog: SlowLog,
    pub latency: LatencyMonitor,
    pub clients: BTreeMap<u64, Arc<ClientShared>>,
    pub monitors: Vec<(u64, mpsc::UnboundedSender<Bytes>)>,
    /// Changes since the last save, as Redis's `server.dirty`.
    pub dirty: u64,
    pub prop: Propagator,
    pub pause: Option<Pause>,
    /// Redis's LRU clock: seconds, 24 bits.
    pub lru_clock: u32,
    pub active_expire_enabled: bool,
    pub errorstats: HashMap<String, u64>,
    pub lastsave: i64,
    /// Set by SHUTDOWN: the accept loop and the cron stop, connections close.
    pub shutting_down: bool,
    pub watches: crate::keyspace::watch::Watches,
    pub blocking: crate::blocking::Blocking,
    /// Pub/Sub subscriptions (see `pubsub`).
    pub pubsub: crate::pubsub::Registry,
    /// Client-side caching (see `tracking`).
    pub tracking: crate::tracking::Tracking,
    pub replid: String,
    pub replid2: String,
    /// The Lua engine and script cache, created by the first script (see `cmd::scripting`).
    pub scripts: Option<Box<vireo_scripting::Engine>>,
    /// The function libraries and their Lua state, created by the first FUNCTION LOAD (see
    /// `cmd::function`).
    pub functions: Option<Box<vireo_scripting::Functions>>,
    /// RDB bookkeeping (see `persist::snapshot`).
    pub rdb: crate::persist::snapshot::RdbState,
    /// The append only file (see `persist::aof`).
    pub aof: crate::persist::aof::Aof,
    /// The loaded modules and their commands (see `module_host`).
    pub modules: crate::module_host::Modules,
    /// Users and the ACL log (see `acl`).
    pub acl: crate::acl::Acl,
    /// Replication: this server's master and replicas (see `repl`).
    pub repl: crate::repl::Repl,
    /// Connections MIGRATE keeps open to its targets.
    pub migrate: crate::cmd::migrate::Sockets,
}

impl Core {
    pub fn new(cfg: Config) -> Self {
        let dbs = (0..cfg.databases).map(Db::new).collect();
        let mut core = Core {
            dbs,
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
            clients: BTreeMap::new(),
            monitors: Vec::new(),
            dirty: 0,
            prop: Propagator::default(),
            pause: None,
            lru_clock: lru_clock_now(),
            active_expire_enabled: true,
            errorstats: HashMap::new(),
            lastsave: crate::clock::unix_secs(),
            shutting_down: false,
            watches: Default::default(),
            blocking: Default::default(),
            pubsub: Default::default(),
            tracking: Default::default(),
            replid: random_hex40(),
            replid2: "0".repeat(40),
            scripts: None,
            functions: None,
            rdb: crate::persist::snapshot::RdbState::new(),
            aof: Default::default(),
            modules: Default::default(),
            acl: Default::default(),
            repl: Default::default(),
            migrate: Default::default(),
            cfg,
        };
        let pass = core.cfg.requirepass.clone();
        core.acl.set_requirepass(pass.as_deref());
        crate::keyspace::notify::sync(&mut core);
        core
    }
}

/// 24-bit seconds clock as Redis's LRU_CLOCK.
pub fn lru_clock_now() -> u32 {
    ((crate::clock::mstime() / 1000) as u32) & 0x00FF_FFFF
}

pub fn random_hex40() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..40).map(|_| std::char::from_digit(r.gen_range(0..16), 16).unwrap()).collect()
}

pub struct Server {
    pub core: Mutex<Core>,
    pub commands: &'static Commands,
    pub next_client_id: AtomicU64,
    /// Notified when SHUTDOWN or a signal asks the server to stop.
    pub shutdown: Notify,
    pub shutdown_requested: AtomicBool,
    /// Connections currently open (maxclients is checked against it).
    pub connected: AtomicU64,
    pub start_ms: i64,
    pub run_id: String,
    pub tcp_port: AtomicU64,
    pub config_file: Option<std::path::PathBuf>,
    pub executable: String,
    /// The script running, if any, as other connections see it without the lock.
    pub script: Arc<crate::script_run::ScriptRun>,
    /// Start-up loading of the RDB file or the AOF (see `persist::loading`).
    pub loading: crate::persist::loading::Loading,
}

impl Server {
    pub fn new(cfg: Config, config_file: Option<std::path::PathBuf>) -> Arc<Server> {
        let port = cfg.port as u64;
        let commands = Commands::build_renamed(&cfg.rename_commands);
        Arc::new(Server {
            core: Mutex::new(Core::new(cfg)),
            commands,
            next_client_id: AtomicU64::new(1),
            shutdown: Notify::new(),
            shutdown_requested: AtomicBool::new(false),
            connected: AtomicU64::new(0),
            start_ms: crate::clock::mstime(),
            run_id: random_hex40(),
            tcp_port: AtomicU64::new(port),
            config_file,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            script: Arc::default(),
            loading: Default::default(),
        })
    }

    /// The core lock, for a task: while a script runs past `busy-reply-threshold` (the lock
    /// held for as long as it runs) this waits without holding a worker thread, so that the
    /// connections that SCRIPT KILL or SHUTDOWN NOSAVE come from are still served. Uncontended,
    /// it is one `try_lock`.
    pub async fn lock_core(&self) -> parking_lot::MutexGuard<'_, Core> {
        loop {
            // Waits as `lock()` would unless a busy script holds the lock: only then sleep.
            if let Some(g) = self.try_lock_core() {
                return g;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The core lock, or None while a busy script or a SYNC debugging session holds it (after
    /// waiting a little for a holder that is not one).
    pub fn try_lock_core(&self) -> Option<parking_lot::MutexGuard<'_, Core>> {
        loop {
            if let Some(g) = self.core.try_lock() {
                return Some(g);
            }
            if self.script.busy().is_some() || self.script.debugging() {
                return None;
            }
            if let Some(g) = self.core.try_lock_for(std::time::Duration::from_millis(2)) {
                return Some(g);
            }
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }
}
