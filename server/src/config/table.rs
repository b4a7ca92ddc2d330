//! The directive table: every directive Vireo knows, its type and bounds, flags, the `Config`
//! field it reads and writes, whether Vireo acts on it, and a line of documentation.
//!
//! Defaults are not repeated here: a directive's default is its field's value in
//! `Config::default()`.

use std::borrow::Cow;

use super::special::{self, SpecialSpec};
use super::*;

/// Flags.
pub const IMMUTABLE: u8 = 1;
/// Changeable only when `enable-protected-configs` allows it.
pub const PROTECTED: u8 = 2;
/// Holds a secret (Redis redacts it from the slow log and MONITOR).
pub const SENSITIVE: u8 = 4;
/// Not listed by CONFIG GET patterns; an exact name still works.
pub const HIDDEN: u8 = 8;
/// Redis allows CONFIG SET; Vireo refuses it for now (the change would need a restart).
pub const VIREO_IMMUTABLE: u8 = 16;

/// What Vireo does with a directive (for the docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Takes effect, also when changed at runtime.
    Live,
    /// Read once at start-up.
    Startup,
    /// Accepted and stored with Redis's semantics, visible to CONFIG GET; no effect yet.
    Stored,
    /// Takes effect in part, as described.
    Partial(&'static str),
}

/// How an integer directive is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Plain,
    /// Bytes, with units: `1k` = 1000, `1kb` = 1024, `m`/`mb`, `g`/`gb`.
    Memory,
    /// Bytes with units, or a percentage (`10%`, stored negated).
    MemoryPercent,
    /// Octal digits (`unixsocketperm 700`).
    Octal,
}

/// Validates a string directive's value (Redis's error text on failure).
pub type StrCheck = fn(&[u8]) -> Result<(), &'static str>;

pub enum Kind {
    Bool {
        get: fn(&Config) -> bool,
        set: fn(&mut Config, bool),
    },
    Int {
        min: i128,
        max: i128,
        unit: Unit,
        get: fn(&Config) -> i128,
        set: fn(&mut Config, i128),
    },
    Enum {
        names: &'static [(&'static str, i32)],
        /// Several names may be given and are OR-ed together (bit flags).
        multi: bool,
        get: fn(&Config) -> i32,
        set: fn(&mut Config, i32),
    },
    Str {
        /// An empty value means "not set" (`None`); such a directive disappears from the file
        /// on CONFIG REWRITE when unset.
        null_if_empty: bool,
        check: Option<StrCheck>,
        get: fn(&Config) -> Option<&[u8]>,
        set: fn(&mut Config, Option<Vec<u8>>),
    },
    Special(&'static SpecialSpec),
}

pub enum Group {
    Network,
    Tls,
    General,
    Snapshotting,
    Replication,
    Tracking,
    Security,
    Clients,
    Memory,
    Lazyfree,
    Threads,
    Kernel,
    AppendOnly,
    Shutdown,
    Scripting,
    Cluster,
    Latency,
    Events,
    Advanced,
    Defrag,
    Hidden,
}

impl Group {
    pub fn title(&self) -> &'static str {
        match self {
            Group::Network => "Network",
            Group::Tls => "TLS",
            Group::General => "General",
            Group::Snapshotting => "Snapshotting (RDB)",
            Group::Replication => "Replication",
            Group::Tracking => "Client-side caching",
            Group::Security => "Security",
            Group::Clients => "Clients",
            Group::Memory => "Memory management",
            Group::Lazyfree => "Lazy freeing",
            Group::Threads => "Threads",
            Group::Kernel => "Kernel and process",
            Group::AppendOnly => "Append only file",
            Group::Shutdown => "Shutdown",
            Group::Scripting => "Scripting",
            Group::Cluster => "Cluster",
            Group::Latency => "Slow log and latency",
            Group::Events => "Keyspace notifications",
            Group::Advanced => "Encodings and advanced",
            Group::Defrag => "Active defragmentation",
            Group::Hidden => "Hidden (testing and debugging)",
        }
    }
}

pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub group: Group,
    pub kind: Kind,
    pub flags: u8,
    pub effect: Effect,
    pub doc: &'static str,
}

/// Text stored in a `String` / `Option<String>` / `Option<Vec<u8>>` field.
pub trait StrField {
    fn bytes(&self) -> Option<&[u8]>;
    fn from_bytes(v: Option<Vec<u8>>) -> Self;
}

impl StrField for String {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
    fn from_bytes(v: Option<Vec<u8>>) -> Self {
        v.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()
    }
}

impl StrField for Option<String> {
    fn bytes(&self) -> Option<&[u8]> {
        self.as_deref().map(str::as_bytes)
    }
    fn from_bytes(v: Option<Vec<u8>>) -> Self {
        v.map(|v| String::from_utf8_lossy(&v).into_owned())
    }
}

impl StrField for Option<Vec<u8>> {
    fn bytes(&self) -> Option<&[u8]> {
        self.as_deref()
    }
    fn from_bytes(v: Option<Vec<u8>>) -> Self {
        v
    }
}

macro_rules! alias {
    () => {
        None
    };
    ($a:literal) => {
        Some($a)
    };
}

/// One table entry. Shapes:
/// `d!(Group "name" [/ "alias"] bool field; flags, effect, "doc")`
/// `d!(Group "name" [/ "alias"] int field: type, Unit min, max; ...)`
/// `d!(Group "name" [/ "alias"] enum field: EnumType; ...)`
/// `d!(Group "name" [/ "alias"] str field [nullable] [check fn]; ...)`
/// `d!(Group "name" [/ "alias"] special SPEC; ...)`
macro_rules! d {
    ($g:ident $name:literal $(/ $alias:literal)? bool $field:ident; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Bool { get: |c| c.$field, set: |c, v| c.$field = v },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? int $field:ident: $ty:ty, $unit:ident $min:expr, $max:expr;
     $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Int {
                min: $min as i128, max: $max as i128, unit: Unit::$unit,
                get: |c| c.$field as i128, set: |c, v| c.$field = v as $ty,
            },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? enum $field:ident: $ety:ident; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Enum {
                names: $ety::NAMES, multi: false,
                get: |c| c.$field as i32, set: |c, v| c.$field = $ety::from_i32(v),
            },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? flags $field:ident: $names:expr; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Enum {
                names: $names, multi: true,
                get: |c| c.$field as i32, set: |c, v| c.$field = v as u32,
            },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? str $field:ident $(, check $check:expr)?; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Str {
                null_if_empty: false, check: d!(@check $($check)?),
                get: |c| StrField::bytes(&c.$field), set: |c, v| c.$field = StrField::from_bytes(v),
            },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? nstr $field:ident $(, check $check:expr)?; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Str {
                null_if_empty: true, check: d!(@check $($check)?),
                get: |c| StrField::bytes(&c.$field), set: |c, v| c.$field = StrField::from_bytes(v),
            },
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    ($g:ident $name:literal $(/ $alias:literal)? special $spec:expr; $flags:expr, $eff:expr, $doc:literal) => {
        Directive {
            name: $name, alias: alias!($($alias)?), group: Group::$g,
            kind: Kind::Special(&$spec),
            flags: $flags, effect: $eff, doc: $doc,
        }
    };
    (@check) => { None };
    (@check $c:expr) => { Some($c) };
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const LLONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;
const MB: i128 = 1024 * 1024;

use Effect::{Live, Startup, Stored};

const NONE: u8 = 0;

pub static DIRECTIVES: &[Directive] = &[
    // ---------------------------------------------------------------- network
    d!(Network "bind" special special::BIND; VIREO_IMMUTABLE, Startup,
        "Addresses to listen on; a `-` prefix makes an address optional (no error if it cannot be bound). IPv6 sockets are IPv6-only, as Redis's, so `bind 0.0.0.0 ::` listens on both families."),
    d!(Network "bind-source-addr" nstr bind_source_addr; NONE, Stored,
        "Source address for outgoing connections (replication)."),
    d!(Network "protected-mode" bool protected_mode; NONE, Live,
        "Refuse non-loopback clients while no password is set and `bind` was not given."),
    d!(Network "port" int port: u16, Plain 0, 65535; VIREO_IMMUTABLE, Startup,
        "TCP port; 0 disables TCP."),
    d!(Network "tcp-backlog" int tcp_backlog: u32, Plain 0, INT_MAX; IMMUTABLE, Startup,
        "Accept queue of the TCP and Unix-socket listeners (the kernel caps it at `net.core.somaxconn`; start-up warns when that is lower, as Redis does)."),
    d!(Network "unixsocket" nstr unixsocket; IMMUTABLE, Startup,
        "Path of a unix socket to listen on."),
    d!(Network "unixsocketperm" int unixsocketperm: u32, Octal 0, 0o777; IMMUTABLE, Startup,
        "Permissions of the unix socket, in octal."),
    d!(Network "timeout" int timeout: u64, Plain 0, INT_MAX; NONE, Live,
        "Close a client idle for this many seconds (0: never)."),
    d!(Network "tcp-keepalive" int tcp_keepalive: u64, Plain 0, INT_MAX; NONE, Live,
        "TCP keepalive period in seconds for new connections (0: off)."),
    d!(Network "socket-mark-id" int socket_mark_id: u32, Plain 0, UINT_MAX; IMMUTABLE, Stored,
        "Socket mark (SO_MARK) for listening sockets."),
    // ---------------------------------------------------------------- tls
    d!(Tls "tls-port" int tls_port: u16, Plain 0, 65535; VIREO_IMMUTABLE, Stored,
        "TLS port; 0 disables TLS. Vireo has no TLS yet: any other value stops start-up with a message saying so (put a TLS terminator in front of a plain port)."),
    d!(Tls "tls-cert-file" nstr tls_cert_file; NONE, Stored, "Server certificate (PEM)."),
    d!(Tls "tls-key-file" nstr tls_key_file; NONE, Stored, "Server private key (PEM)."),
    d!(Tls "tls-key-file-pass" nstr tls_key_file_pass; SENSITIVE, Stored,
        "Passphrase of the server private key."),
    d!(Tls "tls-client-cert-file" nstr tls_client_cert_file; NONE, Stored,
        "Certificate used when acting as a TLS client."),
    d!(Tls "tls-client-key-file" nstr tls_client_key_file; NONE, Stored,
        "Private key used when acting as a TLS client."),
    d!(Tls "tls-client-key-file-pass" nstr tls_client_key_file_pass; SENSITIVE, Stored,
        "Passphrase of the client private key."),
    d!(Tls "tls-dh-params-file" nstr tls_dh_params_file; NONE, Stored, "DH parameters file."),
    d!(Tls "tls-ca-cert-file" nstr tls_ca_cert_file; NONE, Stored, "CA certificate bundle."),
    d!(Tls "tls-ca-cert-dir" nstr tls_ca_cert_dir; NONE, Stored, "Directory of CA certificates."),
    d!(Tls "tls-auth-clients" enum tls_auth_clients: TlsAuthClients; NONE, Stored,
        "Whether TLS clients must present a certificate."),
    d!(Tls "tls-replication" bool tls_replication; NONE, Stored, "Use TLS for replication links."),
    d!(Tls "tls-cluster" bool tls_cluster; NONE, Stored, "Use TLS for the cluster bus."),
    d!(Tls "tls-protocols" nstr tls_protocols; NONE, Stored, "Allowed TLS protocol versions."),
    d!(Tls "tls-ciphers" nstr tls_ciphers; NONE, Stored, "Allowed ciphers (TLS 1.2 and below)."),
    d!(Tls "tls-ciphersuites" nstr tls_ciphersuites; NONE, Stored, "Allowed TLS 1.3 cipher suites."),
    d!(Tls "tls-prefer-server-ciphers" bool tls_prefer_server_ciphers; NONE, Stored,
        "Prefer the server's cipher order."),
    d!(Tls "tls-session-caching" bool tls_session_caching; NONE, Stored, "Cache TLS sessions."),
    d!(Tls "tls-session-cache-size" int tls_session_cache_size: u32, Plain 0, INT_MAX; NONE, Stored,
        "Number of cached TLS sessions."),
    d!(Tls "tls-session-cache-timeout" int tls_session_cache_timeout: u32, Plain 0, INT_MAX; NONE, Stored,
        "Lifetime of cached TLS sessions, seconds."),
    // ---------------------------------------------------------------- general
    d!(General "daemonize" bool daemonize; IMMUTABLE, Startup,
        "Run in the background (fork, detach, write the pid file)."),
    d!(General "supervised" enum supervised: Supervised; IMMUTABLE, Startup,
        "Supervision protocol: `systemd` (or `auto` when `NOTIFY_SOCKET` is set) tells a `Type=notify` unit when the server is ready and when it stops; `upstart` is not supported (a warning, then unsupervised)."),
    d!(General "pidfile" nstr pidfile; IMMUTABLE, Startup,
        "Write the process id here at start-up and remove it at exit (`/var/run/redis.pid` when daemonized without one)."),
    DIRECTIVE_LOGLEVEL,
    d!(General "logfile" str logfile; IMMUTABLE, Startup,
        "Log file; empty logs to standard output."),
    d!(General "syslog-enabled" bool syslog_enabled; IMMUTABLE, Startup,
        "Also send log lines to the system logger (the `/dev/log` socket; `VIREO_SYSLOG_SOCKET` in the environment names another)."),
    d!(General "syslog-ident" str syslog_ident; IMMUTABLE, Startup, "Syslog identity."),
    d!(General "syslog-facility" enum syslog_facility: SyslogFacility; IMMUTABLE, Startup, "Syslog facility."),
    d!(General "crash-log-enabled" bool crash_log_enabled; NONE, Stored, "Write a crash report on crash."),
    d!(General "crash-memcheck-enabled" bool crash_memcheck_enabled; NONE, Stored,
        "Run a memory check after a crash."),
    d!(General "databases" int databases: usize, Plain 1, INT_MAX; IMMUTABLE, Startup,
        "Number of databases."),
    d!(General "always-show-logo" bool always_show_logo; IMMUTABLE, Stored, "Show the ASCII logo at start-up."),
    d!(General "set-proc-title" bool set_proc_title; IMMUTABLE, Stored, "Set the process title."),
    d!(General "proc-title-template" str proc_title_template, check special::check_proc_title; NONE, Stored,
        "Template of the process title."),
    // ---------------------------------------------------------------- snapshotting
    d!(Snapshotting "save" special special::SAVE; NONE, Live,
        "Snapshot after `<seconds>` if at least `<changes>` writes happened; `\"\"` disables."),
    d!(Snapshotting "stop-writes-on-bgsave-error" bool stop_writes_on_bgsave_error; NONE, Live,
        "Refuse writes while the last background save failed."),
    d!(Snapshotting "rdbcompression" bool rdbcompression; NONE, Live, "Compress strings in RDB files (LZF)."),
    d!(Snapshotting "rdbchecksum" bool rdbchecksum; IMMUTABLE, Startup, "Write and check a CRC64 at the end of RDB files."),
    d!(Snapshotting "sanitize-dump-payload" enum sanitize_dump_payload: SanitizeDumpPayload; NONE, Stored,
        "Deep-check RDB and RESTORE payloads."),
    d!(Snapshotting "dbfilename" str dbfilename, check special::check_dbfilename; PROTECTED, Live,
        "RDB file name (inside `dir`)."),
    d!(Snapshotting "rdb-del-sync-files" bool rdb_del_sync_files; NONE,
        Effect::Partial("accepted; nothing to delete: Vireo has no replication yet, so it never writes sync files"),
        "Delete RDB files made only for replication when persistence is off."),
    d!(Snapshotting "dir" special special::DIR; PROTECTED, Live,
        "Working directory: the process changes into it; RDB/AOF files go here."),
    // ---------------------------------------------------------------- replication
    d!(Replication "replicaof" / "slaveof" special special::REPLICAOF; IMMUTABLE, Startup,
        "Replicate `<host> <port>` at start-up (use the REPLICAOF command at runtime)."),
    d!(Replication "masterauth" nstr masterauth; SENSITIVE, Live, "Password for the master."),
    d!(Replication "masteruser" nstr masteruser; NONE, Live, "ACL user name for the master."),
    d!(Replication "replica-serve-stale-data" / "slave-serve-stale-data" bool replica_serve_stale_data; NONE, Live,
        "Serve possibly stale data while the link to the master is down."),
    d!(Replication "replica-read-only" / "slave-read-only" bool replica_read_only; NONE, Live,
        "Refuse writes from clients on a replica."),
    d!(Replication "repl-diskless-sync" bool repl_diskless_sync; NONE, Stored,
        "Accepted; Vireo always streams the snapshot to replicas (no fork, no file)."),
    d!(Replication "repl-diskless-sync-delay" int repl_diskless_sync_delay: u32, Plain 0, INT_MAX; NONE, Stored,
        "Accepted, no effect: each replica's sync starts at once, with a snapshot of its own."),
    d!(Replication "repl-diskless-sync-max-replicas" int repl_diskless_sync_max_replicas: u32, Plain 0, INT_MAX; NONE, Stored,
        "Accepted, no effect (see repl-diskless-sync-delay)."),
    d!(Replication "repl-diskless-load" enum repl_diskless_load: ReplDisklessLoad; NONE, Stored,
        "How a replica loads the snapshot from the socket."),
    d!(Replication "repl-ping-replica-period" / "repl-ping-slave-period" int repl_ping_replica_period: u32, Plain 1, INT_MAX; NONE, Live,
        "Seconds between pings from master to replicas."),
    d!(Replication "repl-timeout" int repl_timeout: u32, Plain 1, INT_MAX; NONE, Live,
        "Replication timeout, seconds."),
    d!(Replication "repl-disable-tcp-nodelay" bool repl_disable_tcp_nodelay; NONE, Stored,
        "Disable TCP_NODELAY on the replication socket."),
    d!(Replication "repl-backlog-size" int repl_backlog_size: u64, Memory 1, LLONG_MAX; NONE, Live,
        "Size of the replication backlog."),
    d!(Replication "repl-backlog-ttl" int repl_backlog_ttl: u64, Plain 0, LONG_MAX; NONE, Stored,
        "Seconds without replicas before the backlog is freed (0: never)."),
    d!(Replication "replica-priority" / "slave-priority" int replica_priority: u32, Plain 0, INT_MAX; NONE, Live,
        "Priority for promotion by Sentinel (0: never)."),
    d!(Replication "propagation-error-behavior" enum propagation_error_behavior: PropagationErrorBehavior; NONE, Stored,
        "What a replica does when a replicated command fails."),
    d!(Replication "replica-ignore-disk-write-errors" bool replica_ignore_disk_write_errors; NONE, Stored,
        "Keep replicating when persisting on the replica fails."),
    d!(Replication "replica-announced" bool replica_announced; NONE, Live,
        "Whether Sentinel announces this replica."),
    d!(Replication "min-replicas-to-write" / "min-slaves-to-write" int min_replicas_to_write: u32, Plain 0, INT_MAX; NONE, Live,
        "Refuse writes with fewer connected good replicas than this."),
    d!(Replication "min-replicas-max-lag" / "min-slaves-max-lag" int min_replicas_max_lag: u32, Plain 0, INT_MAX; NONE, Live,
        "Lag, seconds, below which a replica counts as good."),
    d!(Replication "replica-announce-ip" / "slave-announce-ip" nstr replica_announce_ip; NONE, Live,
        "Address this replica reports to its master."),
    d!(Replication "replica-announce-port" / "slave-announce-port" int replica_announce_port: u16, Plain 0, 65535; NONE, Live,
        "Port this replica reports to its master."),
    d!(Replication "replica-ignore-maxmemory" / "slave-ignore-maxmemory" bool replica_ignore_maxmemory; NONE, Live,
        "A replica does not evict on its own (nor refuse writes as out of memory): its master's evictions reach it as deletions."),
    d!(Replication "replica-lazy-flush" / "slave-lazy-flush" bool replica_lazy_flush; NONE, Stored,
        "Free the old dataset in the background on full sync."),
    // ---------------------------------------------------------------- tracking
    d!(Tracking "tracking-table-max-keys" int tracking_table_max_keys: usize, Plain 0, LONG_MAX; NONE, Live,
        "Keys remembered for client-side caching invalidation; past it, keys leave the table (their clients told to invalidate them) at each cron tick. 0: no limit."),
    // ---------------------------------------------------------------- security
    d!(Security "acllog-max-len" int acllog_max_len: u64, Plain 0, LONG_MAX; NONE, Live,
        "Entries kept in the ACL log."),
    d!(Security "aclfile" str aclfile; IMMUTABLE, Startup, "External ACL users file."),
    d!(Security "requirepass" nstr requirepass; SENSITIVE, Live,
        "Password of the `default` user (empty: none)."),
    d!(Security "acl-pubsub-default" enum acl_pubsub_default: AclPubsubDefault; NONE, Live,
        "Default Pub/Sub channel permissions of new ACL users."),
    d!(Security "enable-protected-configs" enum enable_protected_configs: ProtectedAccess; IMMUTABLE, Live,
        "Allow CONFIG SET of protected directives (`dir`, `dbfilename`)."),
    d!(Security "enable-debug-command" enum enable_debug_command: ProtectedAccess; IMMUTABLE, Live,
        "Allow the DEBUG command."),
    d!(Security "enable-module-command" enum enable_module_command: ProtectedAccess; IMMUTABLE, Startup,
        "Allow the MODULE command."),
    // ---------------------------------------------------------------- clients
    d!(Clients "maxclients" int maxclients: usize, Plain 1, UINT_MAX; NONE, Live,
        "Maximum number of connected clients. Needs `maxclients` + 32 open files: the limit is raised to that at start-up and by CONFIG SET, or `maxclients` is lowered to fit (CONFIG SET is refused), as Redis."),
    // ---------------------------------------------------------------- memory
    d!(Memory "maxmemory" int maxmemory: u64, Memory 0, ULLONG_MAX; NONE, Live,
        "Memory limit (0: none)."),
    d!(Memory "maxmemory-policy" enum maxmemory_policy: MaxmemoryPolicy; NONE, Live,
        "What to evict when `maxmemory` is reached."),
    d!(Memory "maxmemory-samples" int maxmemory_samples: u32, Plain 1, INT_MAX; NONE, Live,
        "Keys sampled per eviction."),
    d!(Memory "maxmemory-eviction-tenacity" int maxmemory_eviction_tenacity: u32, Plain 0, 100; NONE, Live,
        "How long one eviction cycle may run."),
    d!(Memory "maxmemory-clients" int maxmemory_clients: i64, MemoryPercent -100, i64::MAX; NONE, Stored,
        "Memory limit of all clients together, bytes or a percentage of `maxmemory` (0: none)."),
    // ---------------------------------------------------------------- lazy freeing
    d!(Lazyfree "lazyfree-lazy-eviction" bool lazyfree_lazy_eviction; NONE, Live, "Free evicted values in the background."),
    d!(Lazyfree "lazyfree-lazy-expire" bool lazyfree_lazy_expire; NONE, Live, "Free expired values in the background."),
    d!(Lazyfree "lazyfree-lazy-server-del" bool lazyfree_lazy_server_del; NONE, Live,
        "Free values overwritten or deleted implicitly in the background."),
    d!(Lazyfree "lazyfree-lazy-user-del" bool lazyfree_lazy_user_del; NONE, Live, "DEL behaves as UNLINK."),
    d!(Lazyfree "lazyfree-lazy-user-flush" bool lazyfree_lazy_user_flush; NONE, Live,
        "FLUSHALL/FLUSHDB without a modifier are asynchronous."),
    // ---------------------------------------------------------------- threads
    d!(Threads "io-threads" int io_threads: u32, Plain 1, 128; IMMUTABLE, Stored,
        "Redis I/O threads (Vireo sizes its runtime to the CPUs it may use)."),
    d!(Threads "io-threads-do-reads" bool io_threads_do_reads; IMMUTABLE, Stored, "Use I/O threads for reads too."),
    // ---------------------------------------------------------------- kernel
    d!(Kernel "oom-score-adj" enum oom_score_adj: OomScoreAdj; NONE, Stored, "Set the process's OOM score."),
    d!(Kernel "oom-score-adj-values" special special::OOM_SCORE_ADJ_VALUES; NONE, Stored,
        "OOM score of master, replica and background child."),
    d!(Kernel "disable-thp" bool disable_thp; IMMUTABLE, Stored, "Turn off transparent huge pages for the process."),
    d!(Kernel "server_cpulist" nstr server_cpulist; IMMUTABLE, Stored, "CPU affinity of the main threads."),
    d!(Kernel "bio_cpulist" nstr bio_cpulist; IMMUTABLE, Stored, "CPU affinity of background I/O threads."),
    d!(Kernel "aof_rewrite_cpulist" nstr aof_rewrite_cpulist; IMMUTABLE, Stored, "CPU affinity of AOF rewrite."),
    d!(Kernel "bgsave_cpulist" nstr bgsave_cpulist; IMMUTABLE, Stored, "CPU affinity of background saves."),
    d!(Kernel "ignore-warnings" str ignore_warnings; NONE, Stored, "Start-up warnings to silence."),
    // ---------------------------------------------------------------- append only file
    d!(AppendOnly "appendonly" bool appendonly; NONE, Live, "Log every write to the append only file."),
    d!(AppendOnly "appendfilename" str appendfilename, check special::check_appendfilename; IMMUTABLE, Startup,
        "Base name of the AOF files."),
    d!(AppendOnly "appenddirname" str appenddirname, check special::check_appenddirname; IMMUTABLE, Startup,
        "Directory of the AOF files (inside `dir`)."),
    d!(AppendOnly "appendfsync" enum appendfsync: AppendFsync; NONE, Live, "When to fsync the AOF."),
    d!(AppendOnly "no-appendfsync-on-rewrite" bool no_appendfsync_on_rewrite; NONE, Stored,
        "Skip fsync while a rewrite or save runs."),
    d!(AppendOnly "auto-aof-rewrite-percentage" int auto_aof_rewrite_percentage: u32, Plain 0, INT_MAX; NONE, Live,
        "Rewrite the AOF when it grew by this percentage (0: never)."),
    d!(AppendOnly "auto-aof-rewrite-min-size" int auto_aof_rewrite_min_size: u64, Memory 0, LLONG_MAX; NONE, Live,
        "Minimum AOF size for an automatic rewrite."),
    d!(AppendOnly "aof-load-truncated" bool aof_load_truncated; NONE, Live, "Load a truncated AOF instead of failing."),
    d!(AppendOnly "aof-use-rdb-preamble" bool aof_use_rdb_preamble; NONE, Live, "Rewrite the AOF base as RDB."),
    d!(AppendOnly "aof-timestamp-enabled" bool aof_timestamp_enabled; NONE, Live, "Write timestamp annotations into the AOF."),
    d!(AppendOnly "aof-disable-auto-gc" bool aof_disable_auto_gc; NONE, Live, "Keep history AOF files."),
    d!(AppendOnly "aof-rewrite-incremental-fsync" bool aof_rewrite_incremental_fsync; NONE, Stored,
        "fsync every 4 MB while rewriting the AOF."),
    d!(AppendOnly "rdb-save-incremental-fsync" bool rdb_save_incremental_fsync; NONE, Stored,
        "fsync every 4 MB while saving an RDB."),
    // ---------------------------------------------------------------- shutdown
    d!(Shutdown "shutdown-timeout" int shutdown_timeout: u32, Plain 0, INT_MAX; NONE, Stored,
        "Seconds to wait for replicas to catch up at shutdown."),
    d!(Shutdown "shutdown-on-sigint" flags shutdown_on_sigint: shutdown_flags::NAMES; NONE, Live,
        "SHUTDOWN flags applied on SIGINT: `default` (save if save points are set), `save`, `nosave`, `now`, `force` (exit even if the save fails; without it the server keeps running). `now` changes nothing: Vireo does not wait for replicas at shutdown."),
    d!(Shutdown "shutdown-on-sigterm" flags shutdown_on_sigterm: shutdown_flags::NAMES; NONE, Live,
        "SHUTDOWN flags applied on SIGTERM (see shutdown-on-sigint)."),
    // ---------------------------------------------------------------- scripting
    d!(Scripting "busy-reply-threshold" / "lua-time-limit" int busy_reply_threshold: u64, Plain 0, LONG_MAX; NONE, Live,
        "Milliseconds a script may run before other clients get BUSY."),
    // ---------------------------------------------------------------- cluster
    d!(Cluster "cluster-enabled" bool cluster_enabled; IMMUTABLE, Stored,
        "Run as a cluster node. Vireo has no cluster mode yet: with `yes` it warns at start-up and runs standalone (database 0 only), its CLUSTER commands answering that they are not implemented."),
    d!(Cluster "cluster-config-file" str cluster_config_file; IMMUTABLE, Stored, "Cluster state file."),
    d!(Cluster "cluster-node-timeout" int cluster_node_timeout: u64, Plain 0, LLONG_MAX; NONE, Stored,
        "Milliseconds before a node is considered failing."),
    d!(Cluster "cluster-port" int cluster_port: u16, Plain 0, 65535; IMMUTABLE, Stored,
        "Cluster bus port (0: port + 10000)."),
    d!(Cluster "cluster-replica-validity-factor" / "cluster-slave-validity-factor" int cluster_replica_validity_factor: u32, Plain 0, INT_MAX; NONE, Stored,
        "How stale a replica may be to fail over."),
    d!(Cluster "cluster-migration-barrier" int cluster_migration_barrier: u32, Plain 0, INT_MAX; NONE, Stored,
        "Replicas a master keeps before one migrates."),
    d!(Cluster "cluster-allow-replica-migration" bool cluster_allow_replica_migration; NONE, Stored,
        "Allow replicas to migrate to orphaned masters."),
    d!(Cluster "cluster-require-full-coverage" bool cluster_require_full_coverage; NONE, Stored,
        "Stop serving when some slot is uncovered."),
    d!(Cluster "cluster-replica-no-failover" / "cluster-slave-no-failover" bool cluster_replica_no_failover; NONE, Stored,
        "Never fail over automatically."),
    d!(Cluster "cluster-allow-reads-when-down" bool cluster_allow_reads_when_down; NONE, Stored,
        "Serve reads while the cluster is down."),
    d!(Cluster "cluster-allow-pubsubshard-when-down" bool cluster_allow_pubsubshard_when_down; NONE, Stored,
        "Serve sharded Pub/Sub while the cluster is down."),
    d!(Cluster "cluster-link-sendbuf-limit" int cluster_link_sendbuf_limit: u64, Memory 0, ULLONG_MAX; NONE, Stored,
        "Send buffer limit of a cluster bus link (0: none)."),
    d!(Cluster "cluster-announce-hostname" nstr cluster_announce_hostname, check special::check_hostname; NONE, Stored,
        "Host name announced to the cluster."),
    d!(Cluster "cluster-preferred-endpoint-type" enum cluster_preferred_endpoint_type: ClusterEndpointType; NONE, Stored,
        "Endpoint type given in redirections."),
    d!(Cluster "cluster-announce-ip" nstr cluster_announce_ip; NONE, Stored, "Address announced to the cluster."),
    d!(Cluster "cluster-announce-port" int cluster_announce_port: u16, Plain 0, 65535; NONE, Stored,
        "Client port announced to the cluster."),
    d!(Cluster "cluster-announce-tls-port" int cluster_announce_tls_port: u16, Plain 0, 65535; NONE, Stored,
        "TLS port announced to the cluster."),
    d!(Cluster "cluster-announce-bus-port" int cluster_announce_bus_port: u16, Plain 0, 65535; NONE, Stored,
        "Bus port announced to the cluster."),
    // ---------------------------------------------------------------- slow log, latency
    d!(Latency "slowlog-log-slower-than" int slowlog_log_slower_than: i64, Plain -1, LLONG_MAX; NONE, Live,
        "Log commands slower than this many microseconds (-1: off, 0: all)."),
    d!(Latency "slowlog-max-len" int slowlog_max_len: usize, Plain 0, LONG_MAX; NONE, Live,
        "Entries kept in the slow log."),
    d!(Latency "latency-monitor-threshold" int latency_monitor_threshold: u64, Plain 0, LLONG_MAX; NONE, Live,
        "Record events slower than this many milliseconds (0: off)."),
    d!(Latency "latency-tracking" bool latency_tracking; NONE, Live, "Per-command latency histograms."),
    d!(Latency "latency-tracking-info-percentiles" special special::LATENCY_PERCENTILES; NONE, Live,
        "Percentiles shown by INFO latencystats."),
    // ---------------------------------------------------------------- events
    d!(Events "notify-keyspace-events" special special::NOTIFY_KEYSPACE_EVENTS; NONE, Live,
        "Keyspace notification classes (`KEA`, ...; empty: off): `K` keyspace and `E` keyevent channels; `g` generic, `$` string, `l` list, `s` set, `h` hash, `z` sorted set, `t` stream, `x` expired, `e` evicted, `n` new key, `A` all of `g$lshzxetd`. `m` (key miss) and `d` (module) are accepted; Vireo emits no such events yet."),
    // ---------------------------------------------------------------- advanced
    d!(Advanced "hash-max-listpack-entries" / "hash-max-ziplist-entries" int hash_max_listpack_entries: usize, Plain 0, LONG_MAX; NONE, Live,
        "Largest hash (fields) kept compact."),
    d!(Advanced "hash-max-listpack-value" / "hash-max-ziplist-value" int hash_max_listpack_value: usize, Memory 0, LONG_MAX; NONE, Live,
        "Longest hash field or value kept compact."),
    d!(Advanced "list-max-listpack-size" / "list-max-ziplist-size" int list_max_listpack_size: i32, Plain INT_MIN, INT_MAX; NONE, Live,
        "List node size: entries (positive) or -1..-5 for 4..64 KB."),
    d!(Advanced "list-compress-depth" int list_compress_depth: u32, Plain 0, INT_MAX; NONE, Stored,
        "List nodes left uncompressed at each end (0: no compression)."),
    d!(Advanced "set-max-intset-entries" int set_max_intset_entries: usize, Plain 0, LONG_MAX; NONE, Live,
        "Largest all-integer set kept compact."),
    d!(Advanced "zset-max-listpack-entries" / "zset-max-ziplist-entries" int zset_max_listpack_entries: usize, Plain 0, LONG_MAX; NONE, Live,
        "Largest sorted set kept compact."),
    d!(Advanced "zset-max-listpack-value" / "zset-max-ziplist-value" int zset_max_listpack_value: usize, Memory 0, LONG_MAX; NONE, Live,
        "Longest sorted set member kept compact."),
    d!(Advanced "hll-sparse-max-bytes" int hll_sparse_max_bytes: usize, Memory 0, LONG_MAX; NONE, Live,
        "Largest sparse HyperLogLog."),
    d!(Advanced "stream-node-max-bytes" int stream_node_max_bytes: usize, Memory 0, LONG_MAX; NONE, Live,
        "Largest stream node, bytes."),
    d!(Advanced "stream-node-max-entries" int stream_node_max_entries: u64, Plain 0, LLONG_MAX; NONE, Live,
        "Largest stream node, entries."),
    d!(Advanced "activerehashing" bool activerehashing; NONE, Stored, "Rehash the main tables in the cron."),
    d!(Advanced "client-output-buffer-limit" special special::CLIENT_OUTPUT_BUFFER_LIMIT; NONE, Live,
        "Output buffer limits per client class: `<class> <hard> <soft> <soft-seconds>`."),
    d!(Advanced "client-query-buffer-limit" int client_query_buffer_limit: u64, Memory MB, LONG_MAX; NONE, Live,
        "Largest query buffer of one client."),
    d!(Advanced "proto-max-bulk-len" int proto_max_bulk_len: i64, Memory MB, LONG_MAX; NONE, Live,
        "Largest bulk string in a request."),
    DIRECTIVE_HZ,
    d!(Advanced "dynamic-hz" bool dynamic_hz; NONE, Stored, "Raise `hz` with many clients."),
    d!(Advanced "lfu-log-factor" int lfu_log_factor: u32, Plain 0, INT_MAX; NONE, Live, "LFU counter logarithm factor."),
    d!(Advanced "lfu-decay-time" int lfu_decay_time: u32, Plain 0, INT_MAX; NONE, Live, "LFU counter decay, minutes."),
    d!(Advanced "active-expire-effort" int active_expire_effort: u32, Plain 1, 10; NONE, Live,
        "Effort of the active expire cycle."),
    d!(Advanced "jemalloc-bg-thread" bool jemalloc_bg_thread; NONE, Stored, "jemalloc background purging thread."),
    // ---------------------------------------------------------------- defrag
    d!(Defrag "activedefrag" bool activedefrag; NONE, Stored, "Active defragmentation."),
    d!(Defrag "active-defrag-ignore-bytes" int active_defrag_ignore_bytes: u64, Memory 1, LLONG_MAX; NONE, Stored,
        "Fragmentation waste below which nothing is done."),
    d!(Defrag "active-defrag-threshold-lower" int active_defrag_threshold_lower: u32, Plain 0, 1000; NONE, Stored,
        "Fragmentation percentage to start at."),
    d!(Defrag "active-defrag-threshold-upper" int active_defrag_threshold_upper: u32, Plain 0, 1000; NONE, Stored,
        "Fragmentation percentage for maximum effort."),
    d!(Defrag "active-defrag-cycle-min" int active_defrag_cycle_min: u32, Plain 1, 99; NONE, Stored,
        "Minimum CPU percentage for defragmentation."),
    d!(Defrag "active-defrag-cycle-max" int active_defrag_cycle_max: u32, Plain 1, 99; NONE, Stored,
        "Maximum CPU percentage for defragmentation."),
    d!(Defrag "active-defrag-max-scan-fields" int active_defrag_max_scan_fields: u64, Plain 1, LONG_MAX; NONE, Stored,
        "Collections larger than this are defragmented separately."),
    // ---------------------------------------------------------------- hidden
    d!(Hidden "key-load-delay" int key_load_delay: i32, Plain INT_MIN, INT_MAX; HIDDEN, Startup,
        "Testing: microseconds to sleep per key (RDB) or command (AOF) loaded at start-up; `-n`: 1 µs every `n`."),
    d!(Hidden "rdb-key-save-delay" int rdb_key_save_delay: i32, Plain INT_MIN, INT_MAX; HIDDEN, Live,
        "Testing: delay per key while saving."),
    d!(Hidden "loading-process-events-interval-bytes" int loading_process_events_interval_bytes: u64, Plain 1024, INT_MAX; HIDDEN,
        Effect::Partial("accepted; not needed: Vireo answers clients all the time while it loads"),
        "Serve events every this many bytes while loading."),
    d!(Hidden "watchdog-period" int watchdog_period: u32, Plain 0, INT_MAX; HIDDEN, Stored,
        "Debugging: software watchdog period, ms."),
    // Redis 7.2's (its stock redis.conf sets them): hidden, so that CONFIG GET patterns list
    // Redis 7.0's directives only.
    d!(Hidden "set-max-listpack-entries" int set_max_listpack_entries: usize, Plain 0, LONG_MAX; HIDDEN, Stored,
        "Redis 7.2+: largest set of strings kept as a listpack. Accepted so that a Redis 7.2+ redis.conf loads; Vireo's sets have Redis 7.0's encodings (intset, hashtable)."),
    d!(Hidden "set-max-listpack-value" int set_max_listpack_value: usize, Memory 0, LONG_MAX; HIDDEN, Stored,
        "Redis 7.2+: longest member of a set kept as a listpack (see set-max-listpack-entries)."),
    d!(Hidden "locale-collate" str locale_collate, check crate::util::collate::check; HIDDEN | VIREO_IMMUTABLE, Startup,
        "Redis 7.2+: the locale whose collation SORT ... ALPHA and Lua's string comparisons use (\"\": the environment's, as Redis 7.0 always does). Set at start-up only."),
];

/// `loglevel` keeps its `String` field (several places read it as text).
const DIRECTIVE_LOGLEVEL: Directive = Directive {
    name: "loglevel",
    alias: None,
    group: Group::General,
    kind: Kind::Enum {
        names: LOGLEVEL_NAMES,
        multi: false,
        get: |c| {
            LOGLEVEL_NAMES.iter().find(|(n, _)| *n == c.loglevel).map(|(_, v)| *v).unwrap_or(2)
        },
        set: |c, v| {
            c.loglevel = LOGLEVEL_NAMES
                .iter()
                .find(|(_, x)| *x == v)
                .map(|(n, _)| *n)
                .unwrap_or("notice")
                .into()
        },
    },
    flags: NONE,
    effect: Live,
    doc: "Log verbosity: debug, verbose, notice or warning.",
};

/// `hz` accepts any non-negative int but keeps it within 1..500, as Redis does (CONFIG GET shows
/// the clamped value).
const DIRECTIVE_HZ: Directive = Directive {
    name: "hz",
    alias: None,
    group: Group::Advanced,
    kind: Kind::Int {
        min: 0,
        max: INT_MAX,
        unit: Unit::Plain,
        get: |c| c.hz as i128,
        set: |c, v| c.hz = v.clamp(1, 500) as u32,
    },
    flags: NONE,
    effect: Live,
    doc: "Background task frequency per second (kept within 1..500).",
};

impl Directive {
    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Refused by CONFIG SET with "can't set immutable config".
    pub fn immutable(&self) -> bool {
        self.is(IMMUTABLE) || self.is(VIREO_IMMUTABLE)
    }

    /// Takes several arguments (`save 900 1`): CONFIG SET splits its value at spaces.
    pub fn multi_arg(&self) -> bool {
        match &self.kind {
            Kind::Enum { multi, .. } => *multi,
            Kind::Special(s) => s.multi,
            _ => false,
        }
    }

    /// The value as CONFIG GET prints it.
    pub fn get(&self, cfg: &Config) -> Vec<u8> {
        match &self.kind {
            Kind::Bool { get, .. } => {
                if get(cfg) {
                    b"yes".to_vec()
                } else {
                    b"no".to_vec()
                }
            }
            Kind::Int { unit, get, .. } => {
                let v = get(cfg);
                match unit {
                    Unit::Octal => format!("{v:o}").into_bytes(),
                    Unit::MemoryPercent if v < 0 => format!("{}%", -v).into_bytes(),
                    _ => v.to_string().into_bytes(),
                }
            }
            Kind::Enum { names, multi, get, .. } => enum_name(names, get(cfg), *multi).into_bytes(),
            Kind::Str { get, .. } => get(cfg).map(<[u8]>::to_vec).unwrap_or_default(),
            Kind::Special(s) => (s.get)(cfg),
        }
    }

    /// Sets the directive from its arguments (already split for multi-argument directives).
    /// Single-argument directives get exactly one.
    pub fn set(&self, cfg: &mut Config, args: &[Vec<u8>], ctx: &mut SetCtx) -> SetResult {
        match &self.kind {
            Kind::Bool { set, .. } => {
                set(cfg, parse_bool(&args[0])?);
                Ok(())
            }
            Kind::Int { min, max, unit, set, .. } => {
                let v = parse_int(&args[0], *unit)?;
                check_bounds(v, *min, *max, *unit)?;
                set(cfg, v);
                Ok(())
            }
            Kind::Enum { names, multi, set, .. } => {
                set(cfg, parse_enum(names, args, *multi)?);
                Ok(())
            }
            Kind::Str { null_if_empty, check, set, .. } => {
                let v = &args[0];
                if let Some(check) = check {
                    check(v).map_err(Cow::Borrowed)?;
                }
                if *null_if_empty && v.is_empty() {
                    set(cfg, None);
                } else {
                    set(cfg, Some(v.clone()));
                }
                Ok(())
            }
            Kind::Special(s) => (s.set)(cfg, args, ctx),
        }
    }

    /// The lines CONFIG REWRITE writes for this directive, each with whether it must be
    /// written even where the file does not have it yet (the value differs from the default).
    /// No lines: the directive is absent from a rewritten file.
    pub fn rewrite_lines(&self, cfg: &Config, defaults: &Config) -> Vec<(String, bool)> {
        let name = self.name;
        match &self.kind {
            Kind::Bool { get, .. } => {
                let v = get(cfg);
                vec![(format!("{name} {}", if v { "yes" } else { "no" }), v != get(defaults))]
            }
            Kind::Int { unit, get, .. } => {
                let v = get(cfg);
                let text = match unit {
                    Unit::Plain => v.to_string(),
                    Unit::Octal => format!("{v:o}"),
                    Unit::MemoryPercent if v < 0 => format!("{}%", -v),
                    Unit::Memory | Unit::MemoryPercent => format_memory(v),
                };
                vec![(format!("{name} {text}"), v != get(defaults))]
            }
            Kind::Enum { names, multi, get, .. } => {
                let v = get(cfg);
                vec![(format!("{name} {}", enum_name(names, v, *multi)), v != get(defaults))]
            }
            Kind::Str { get, .. } => match get(cfg) {
                None => Vec::new(),
                Some(v) => {
                    let force = get(defaults) != Some(v);
                    vec![(format!("{name} {}", crate::util::repr::quote(v)), force)]
                }
            },
            Kind::Special(s) => (s.rewrite)(cfg, defaults),
        }
    }

    /// Type shown in the docs.
    pub fn type_doc(&self) -> String {
        match &self.kind {
            Kind::Bool { .. } => "yes/no".into(),
            Kind::Int { min, max, unit, .. } => {
                let bound = |v: i128| match v {
                    INT_MAX => "2^31-1".to_string(),
                    INT_MIN => "-2^31".to_string(),
                    UINT_MAX => "2^32-1".to_string(),
                    LLONG_MAX => "2^63-1".to_string(),
                    ULLONG_MAX => "2^64-1".to_string(),
                    v if *unit == Unit::Octal => format!("{v:o}"),
                    v if v >= MB && v % MB == 0 => format!("{}mb", v / MB),
                    v => v.to_string(),
                };
                let what = match unit {
                    Unit::Plain => "integer",
                    Unit::Memory => "bytes",
                    Unit::MemoryPercent => "bytes or %",
                    Unit::Octal => "octal",
                };
                if *unit == Unit::MemoryPercent {
                    format!("{what}, up to 100%")
                } else {
                    format!("{what} {}..{}", bound(*min), bound(*max))
                }
            }
            Kind::Enum { names, multi, .. } => {
                let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                if *multi {
                    format!("any of {}", list.join(", "))
                } else {
                    list.join(" / ")
                }
            }
            Kind::Str { .. } => "string".into(),
            Kind::Special(s) => s.type_doc.into(),
        }
    }
}

/// Parses an integer argument as Redis does for the unit, with Redis's error texts.
pub fn parse_int(v: &[u8], unit: Unit) -> Result<i128, Cow<'static, str>> {
    match unit {
        Unit::Plain => crate::util::num::parse_i64(v)
            .map(|n| n as i128)
            .ok_or(Cow::Borrowed("argument couldn't be parsed into an integer")),
        Unit::Octal => parse::strtoll(v, 8)
            .map(|n| n as i128)
            .ok_or(Cow::Borrowed("argument couldn't be parsed as an octal number")),
        Unit::Memory => parse::memtoull(v)
            .map(|n| n as i128)
            .ok_or(Cow::Borrowed("argument must be a memory value")),
        Unit::MemoryPercent => {
            if let Some(n) = parse::memtoull(v) {
                return Ok(n as i128);
            }
            if v.len() > 1 && v.ends_with(b"%") {
                if let Some(p) = crate::util::num::parse_i64(&v[..v.len() - 1]) {
                    if p >= 0 {
                        return Ok(-(p as i128));
                    }
                }
            }
            Err("argument must be a memory or percent value".into())
        }
    }
}

/// `yes` or `no`, in any case.
pub fn parse_bool(v: &[u8]) -> Result<bool, Cow<'static, str>> {
    if v.eq_ignore_ascii_case(b"yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case(b"no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// [`enum_value`], with Redis's error listing the names.
pub fn parse_enum(
    names: &[(&str, i32)],
    args: &[Vec<u8>],
    multi: bool,
) -> Result<i32, Cow<'static, str>> {
    enum_value(names, args, multi).ok_or_else(|| {
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!("argument(s) must be one of the following: {}", list.join(", ")).into()
    })
}

/// Redis's range check of an integer directive.
pub fn check_bounds(v: i128, min: i128, max: i128, unit: Unit) -> SetResult {
    if unit == Unit::MemoryPercent && v < 0 {
        if v < min {
            return Err(format!("percentage argument must be less or equal to {}", -min).into());
        }
        return Ok(());
    }
    if v < min || v > max {
        return Err(if unit == Unit::Octal {
            format!("argument must be between {min:o} and {max:o} inclusive")
        } else {
            format!("argument must be between {min} and {max} inclusive")
        }
        .into());
    }
    Ok(())
}

/// Redis's memory formatting for CONFIG REWRITE: the largest exact unit among gb, mb, kb.
pub fn format_memory(v: i128) -> String {
    const KB: i128 = 1024;
    const GB: i128 = 1024 * 1024 * 1024;
    if v != 0 && v % GB == 0 {
        format!("{}gb", v / GB)
    } else if v != 0 && v % MB == 0 {
        format!("{}mb", v / MB)
    } else if v != 0 && v % KB == 0 {
        format!("{}kb", v / KB)
    } else {
        v.to_string()
    }
}

/// The value of enum arguments; flags are OR-ed when `multi`. `None` if a name is unknown.
pub fn enum_value(names: &[(&str, i32)], args: &[Vec<u8>], multi: bool) -> Option<i32> {
    if args.is_empty() || (!multi && args.len() != 1) {
        return None;
    }
    let mut value = 0;
    for a in args {
        let (_, v) = names.iter().find(|(n, _)| a.eq_ignore_ascii_case(n.as_bytes()))?;
        value |= v;
    }
    Some(value)
}

/// The name(s) of an enum value; for flags, the names of the bits from the largest entry down.
pub fn enum_name(names: &[(&str, i32)], value: i32, multi: bool) -> String {
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == value) {
        return (*n).to_string();
    }
    if multi {
        let mut out: Vec<&str> = Vec::new();
        let mut unmatched = value;
        for (n, v) in names {
            if *v != 0 && unmatched & v == *v {
                out.push(n);
                unmatched &= !v;
            }
        }
        if unmatched == 0 && !out.is_empty() {
            return out.join(" ");
        }
    }
    "unknown".into()
}
