//! Server configuration: redis.conf syntax, directives and defaults as Redis 7.0.
//!
//! One table of typed, bounded directives ([`table::DIRECTIVES`]) drives everything: the config
//! file and `--directive value` arguments ([`load_from_args`]), CONFIG GET/SET/REWRITE
//! (`cmd/config.rs`, [`rewrite`]) and `docs/configuration.md` ([`doc`]). Each directive names the
//! [`Config`] field it reads and writes; the field's value in `Config::default()` is the
//! directive's default, so defaults are written once.
//!
//! Many directives are accepted and stored with Redis's defaults before Vireo acts on them, so a
//! stock `redis.conf` loads and CONFIG GET answers as Redis does; the table records which ones
//! take effect (see the docs).

pub mod doc;
pub mod parse;
pub mod process;
pub mod rewrite;
pub mod special;
pub mod table;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use parse::load_from_args;
pub use table::{Directive, Effect, Kind, DIRECTIVES};

/// Generates a C-like enum for an enumerated directive, with the names Redis accepts for it
/// (several names may map to one value; CONFIG GET prints the first).
macro_rules! config_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($var:ident),* $(,)? }
     names = [$($s:literal => $v:ident),* $(,)?]) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name { $($var),* }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$var),*];
            /// Accepted names and their values, in Redis's order.
            pub const NAMES: &'static [(&'static str, i32)] = &[$(($s, $name::$v as i32)),*];

            /// The variant with discriminant `v` (a value taken from [`Self::NAMES`]).
            pub fn from_i32(v: i32) -> Self {
                Self::ALL[v as usize]
            }

            /// The name CONFIG GET prints.
            pub fn as_str(self) -> &'static str {
                Self::NAMES.iter().find(|(_, v)| *v == self as i32).map(|(n, _)| *n).unwrap_or("unknown")
            }
        }
    };
}

config_enum! {
    /// `maxmemory-policy`.
    pub enum MaxmemoryPolicy { VolatileLru, VolatileLfu, VolatileRandom, VolatileTtl, AllkeysLru, AllkeysLfu, AllkeysRandom, NoEviction }
    names = ["volatile-lru" => VolatileLru, "volatile-lfu" => VolatileLfu, "volatile-random" => VolatileRandom,
             "volatile-ttl" => VolatileTtl, "allkeys-lru" => AllkeysLru, "allkeys-lfu" => AllkeysLfu,
             "allkeys-random" => AllkeysRandom, "noeviction" => NoEviction]
}

config_enum! {
    /// `appendfsync`.
    pub enum AppendFsync { Everysec, Always, No }
    names = ["everysec" => Everysec, "always" => Always, "no" => No]
}

config_enum! {
    /// `repl-diskless-load`.
    pub enum ReplDisklessLoad { Disabled, OnEmptyDb, Swapdb }
    names = ["disabled" => Disabled, "on-empty-db" => OnEmptyDb, "swapdb" => Swapdb]
}

config_enum! {
    /// `supervised`.
    pub enum Supervised { Upstart, Systemd, Auto, No }
    names = ["upstart" => Upstart, "systemd" => Systemd, "auto" => Auto, "no" => No]
}

config_enum! {
    /// `syslog-facility`.
    pub enum SyslogFacility { User, Local0, Local1, Local2, Local3, Local4, Local5, Local6, Local7 }
    names = ["user" => User, "local0" => Local0, "local1" => Local1, "local2" => Local2, "local3" => Local3,
             "local4" => Local4, "local5" => Local5, "local6" => Local6, "local7" => Local7]
}

config_enum! {
    /// `oom-score-adj` (`yes` is `relative`).
    pub enum OomScoreAdj { No, Relative, Absolute }
    names = ["no" => No, "yes" => Relative, "relative" => Relative, "absolute" => Absolute]
}

config_enum! {
    /// `sanitize-dump-payload`.
    pub enum SanitizeDumpPayload { No, Yes, Clients }
    names = ["no" => No, "yes" => Yes, "clients" => Clients]
}

config_enum! {
    /// `propagation-error-behavior`.
    pub enum PropagationErrorBehavior { Ignore, Panic, PanicOnReplicas }
    names = ["ignore" => Ignore, "panic" => Panic, "panic-on-replicas" => PanicOnReplicas]
}

config_enum! {
    /// `cluster-preferred-endpoint-type`.
    pub enum ClusterEndpointType { Ip, Hostname, UnknownEndpoint }
    names = ["ip" => Ip, "hostname" => Hostname, "unknown-endpoint" => UnknownEndpoint]
}

config_enum! {
    /// `acl-pubsub-default`.
    pub enum AclPubsubDefault { AllChannels, ResetChannels }
    names = ["allchannels" => AllChannels, "resetchannels" => ResetChannels]
}

config_enum! {
    /// `enable-protected-configs`, `enable-debug-command`, `enable-module-command`: who may use
    /// the protected thing (`local`: connections from loopback or the unix socket).
    pub enum ProtectedAccess { No, Yes, Local }
    names = ["no" => No, "yes" => Yes, "local" => Local]
}

config_enum! {
    /// `tls-auth-clients`.
    pub enum TlsAuthClients { No, Yes, Optional }
    names = ["no" => No, "yes" => Yes, "optional" => Optional]
}

impl ProtectedAccess {
    /// Whether a client (local = loopback address or unix socket) may use the protected feature.
    pub fn allows(self, client_is_local: bool) -> bool {
        match self {
            ProtectedAccess::No => false,
            ProtectedAccess::Yes => true,
            ProtectedAccess::Local => client_is_local,
        }
    }
}

/// `loglevel` names, as Redis 7.0 accepts them.
pub const LOGLEVEL_NAMES: &[(&str, i32)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];

/// `shutdown-on-sigint` / `shutdown-on-sigterm` flags (several may be combined).
pub mod shutdown_flags {
    pub const SAVE: u32 = 1;
    pub const NOSAVE: u32 = 2;
    pub const NOW: u32 = 4;
    pub const FORCE: u32 = 8;
    pub const NAMES: &[(&str, i32)] =
        &[("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8)];
}

/// `notify-keyspace-events` classes, with Redis's bit values. The event classes are the module
/// API's (modules subscribe with the same bits); the delivery flags and `LOADED` are the
/// server's own.
pub mod notify {
    pub use vireo_module_api::abi::notify_class::{
        ALL, EVICTED, EXPIRED, GENERIC, HASH, KEY_MISS, LIST, MODULE, NEW, SET, STREAM, STRING,
        ZSET,
    };
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const LOADED: u32 = 1 << 12;

    /// Parses a class string such as `KEA`; `None` on an unknown character.
    pub fn parse(s: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for &c in s {
            flags |= match c {
                b'A' => ALL,
                b'g' => GENERIC,
                b'$' => STRING,
                b'l' => LIST,
                b's' => SET,
                b'h' => HASH,
                b'z' => ZSET,
                b'x' => EXPIRED,
                b'e' => EVICTED,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b't' => STREAM,
                b'm' => KEY_MISS,
                b'd' => MODULE,
                b'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// The canonical class string of `flags`, as CONFIG GET prints it.
    pub fn format(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for (bit, c) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
                (NEW, 'n'),
            ] {
                if flags & bit != 0 {
                    s.push(c);
                }
            }
        }
        for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// One `client-output-buffer-limit` class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientBufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Index into [`Config::client_output_buffer_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

/// One `save <seconds> <changes>` point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavePoint {
    pub seconds: u64,
    pub changes: u64,
}

#[derive(Clone, Debug)]
pub struct Config {
    // ---- network
    pub port: u16,
    /// `127.0.0.1 -::1`, the default of the redis.conf Redis ships (its compiled-in default,
    /// `* -::*`, would listen on every interface). The `-` prefix marks an address whose bind
    /// may fail (no IPv6).
    pub bind: Vec<String>,
    /// True when `bind` was set by the user (protected mode only guards the default bind).
    pub bind_explicit: bool,
    pub bind_source_addr: Option<String>,
    pub protected_mode: bool,
    pub tcp_backlog: u32,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub socket_mark_id: u32,
    // ---- tls
    pub tls_port: u16,
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
    pub tls_key_file_pass: Option<String>,
    pub tls_client_cert_file: Option<String>,
    pub tls_client_key_file: Option<String>,
    pub tls_client_key_file_pass: Option<String>,
    pub tls_dh_params_file: Option<String>,
    pub tls_ca_cert_file: Option<String>,
    pub tls_ca_cert_dir: Option<String>,
    pub tls_auth_clients: TlsAuthClients,
    pub tls_replication: bool,
    pub tls_cluster: bool,
    pub tls_protocols: Option<String>,
    pub tls_ciphers: Option<String>,
    pub tls_ciphersuites: Option<String>,
    pub tls_prefer_server_ciphers: bool,
    pub tls_session_caching: bool,
    pub tls_session_cache_size: u32,
    pub tls_session_cache_timeout: u32,
    // ---- general
    pub daemonize: bool,
    pub supervised: Supervised,
    /// Written at start-up, removed at exit (see `process::write_pidfile`).
    pub pidfile: Option<String>,
    pub loglevel: String,
    pub logfile: String,
    pub syslog_enabled: bool,
    pub syslog_ident: String,
    pub syslog_facility: SyslogFacility,
    pub crash_log_enabled: bool,
    pub crash_memcheck_enabled: bool,
    pub databases: usize,
    pub always_show_logo: bool,
    pub set_proc_title: bool,
    pub proc_title_template: String,
    // ---- snapshotting
    pub save: Vec<SavePoint>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub sanitize_dump_payload: SanitizeDumpPayload,
    pub dbfilename: String,
    pub rdb_del_sync_files: bool,
    /// The working directory: the process changes into it when the directive is read, so files
    /// named relative to it (dbfilename, appenddirname) are relative to the current directory.
    pub dir: String,
    // ---- replication
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<String>,
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: u32,
    pub repl_diskless_sync_max_replicas: u32,
    pub repl_diskless_load: ReplDisklessLoad,
    pub repl_ping_replica_period: u32,
    pub repl_timeout: u32,
    pub repl_disable_tcp_nodelay: bool,
    pub repl_backlog_size: u64,
    pub repl_backlog_ttl: u64,
    pub replica_priority: u32,
    pub propagation_error_behavior: PropagationErrorBehavior,
    pub replica_ignore_disk_write_errors: bool,
    pub replica_announced: bool,
    pub min_replicas_to_write: u32,
    pub min_replicas_max_lag: u32,
    pub replica_announce_ip: Option<String>,
    pub replica_announce_port: u16,
    pub replica_ignore_maxmemory: bool,
    pub replica_lazy_flush: bool,
    // ---- keys tracking
    pub tracking_table_max_keys: usize,
    // ---- security
    pub acllog_max_len: u64,
    pub aclfile: String,
    pub requirepass: Option<Vec<u8>>,
    pub acl_pubsub_default: AclPubsubDefault,
    pub enable_protected_configs: ProtectedAccess,
    pub enable_debug_command: ProtectedAccess,
    pub enable_module_command: ProtectedAccess,
    // ---- clients and memory
    pub maxclients: usize,
    pub maxmemory: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    pub maxmemory_samples: u32,
    pub maxmemory_eviction_tenacity: u32,
    /// Bytes, or `-N` for N% of `maxmemory`.
    pub maxmemory_clients: i64,
    // ---- lazy freeing
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    // ---- threads and kernel
    pub io_threads: u32,
    pub io_threads_do_reads: bool,
    pub oom_score_adj: OomScoreAdj,
    pub oom_score_adj_values: [i32; 3],
    pub disable_thp: bool,
    pub server_cpulist: Option<String>,
    pub bio_cpulist: Option<String>,
    pub aof_rewrite_cpulist: Option<String>,
    pub bgsave_cpulist: Option<String>,
    pub ignore_warnings: String,
    // ---- append only file
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: AppendFsync,
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: u32,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub aof_disable_auto_gc: bool,
    pub aof_rewrite_incremental_fsync: bool,
    pub rdb_save_incremental_fsync: bool,
    // ---- shutdown
    pub shutdown_timeout: u32,
    pub shutdown_on_sigint: u32,
    pub shutdown_on_sigterm: u32,
    // ---- scripting
    pub busy_reply_threshold: u64,
    // ---- cluster
    pub cluster_enabled: bool,
    pub cluster_config_file: String,
    pub cluster_node_timeout: u64,
    pub cluster_port: u16,
    pub cluster_replica_validity_factor: u32,
    pub cluster_migration_barrier: u32,
    pub cluster_allow_replica_migration: bool,
    pub cluster_require_full_coverage: bool,
    pub cluster_replica_no_failover: bool,
    pub cluster_allow_reads_when_down: bool,
    pub cluster_allow_pubsubshard_when_down: bool,
    pub cluster_link_sendbuf_limit: u64,
    pub cluster_announce_hostname: Option<String>,
    pub cluster_preferred_endpoint_type: ClusterEndpointType,
    pub cluster_announce_ip: Option<String>,
    pub cluster_announce_port: u16,
    pub cluster_announce_tls_port: u16,
    pub cluster_announce_bus_port: u16,
    // ---- slow log and latency
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    // ---- events
    /// [`notify`] flags.
    pub notify_keyspace_events: u32,
    // ---- advanced
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub list_max_listpack_size: i32,
    pub list_compress_depth: u32,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub hll_sparse_max_bytes: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: u64,
    pub activerehashing: bool,
    /// Indexed by [`ClientClass`].
    pub client_output_buffer_limit: [ClientBufferLimit; 3],
    pub client_query_buffer_limit: u64,
    pub proto_max_bulk_len: i64,
    pub hz: u32,
    pub dynamic_hz: bool,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    pub active_expire_effort: u32,
    pub jemalloc_bg_thread: bool,
    // ---- active defragmentation
    pub activedefrag: bool,
    pub active_defrag_ignore_bytes: u64,
    pub active_defrag_threshold_lower: u32,
    pub active_defrag_threshold_upper: u32,
    pub active_defrag_cycle_min: u32,
    pub active_defrag_cycle_max: u32,
    pub active_defrag_max_scan_fields: u64,
    // ---- hidden (testing / debugging in Redis)
    pub key_load_delay: i32,
    pub rdb_key_save_delay: i32,
    pub loading_process_events_interval_bytes: u64,
    pub watchdog_period: u32,
    pub locale_collate: String,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,

    // ---- lines that are not table directives, kept for the subsystems that own them
    /// `loadmodule <path> [args...]` lines, in order.
    pub loadmodule: Vec<Vec<Vec<u8>>>,
    /// `user <name> [rules...]` lines, in order (for the ACL subsystem).
    pub users: Vec<Vec<Vec<u8>>>,
    /// `rename-command <name> <new-name>` lines, in order, checked (an empty new name removes
    /// the command); applied to the command table when the server starts.
    pub rename_commands: Vec<(Vec<u8>, Vec<u8>)>,
    /// Module configuration directives (`module.name value...`), joined values.
    pub module_configs: Vec<(String, Vec<u8>)>,
}

impl Default for Config {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            bind_explicit: false,
            bind_source_addr: None,
            protected_mode: true,
            tcp_backlog: 511,
            unixsocket: None,
            unixsocketperm: 0,
            timeout: 0,
            tcp_keepalive: 300,
            socket_mark_id: 0,
            tls_port: 0,
            tls_cert_file: None,
            tls_key_file: None,
            tls_key_file_pass: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            tls_client_key_file_pass: None,
            tls_dh_params_file: None,
            tls_ca_cert_file: None,
            tls_ca_cert_dir: None,
            tls_auth_clients: TlsAuthClients::Yes,
            tls_replication: false,
            tls_cluster: false,
            tls_protocols: None,
            tls_ciphers: None,
            tls_ciphersuites: None,
            tls_prefer_server_ciphers: false,
            tls_session_caching: true,
            tls_session_cache_size: 20 * 1024,
            tls_session_cache_timeout: 300,
            daemonize: false,
            supervised: Supervised::No,
            pidfile: None,
            loglevel: "notice".into(),
            logfile: String::new(),
            syslog_enabled: false,
            syslog_ident: "redis".into(),
            syslog_facility: SyslogFacility::Local0,
            crash_log_enabled: true,
            crash_memcheck_enabled: true,
            databases: 16,
            always_show_logo: false,
            set_proc_title: true,
            proc_title_template: "{title} {listen-addr} {server-mode}".into(),
            save: vec![
                SavePoint { seconds: 3600, changes: 1 },
                SavePoint { seconds: 300, changes: 100 },
                SavePoint { seconds: 60, changes: 10000 },
            ],
            stop_writes_on_bgsave_error: true,
            rdbcompression: true,
            rdbchecksum: true,
            sanitize_dump_payload: SanitizeDumpPayload::No,
            dbfilename: "dump.rdb".into(),
            rdb_del_sync_files: false,
            dir: ".".into(),
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_serve_stale_data: true,
            replica_read_only: true,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: ReplDisklessLoad::Disabled,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            repl_disable_tcp_nodelay: false,
            repl_backlog_size: MB,
            repl_backlog_ttl: 3600,
            replica_priority: 100,
            propagation_error_behavior: PropagationErrorBehavior::Ignore,
            replica_ignore_disk_write_errors: false,
            replica_announced: true,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            replica_announce_ip: None,
            replica_announce_port: 0,
            replica_ignore_maxmemory: true,
            replica_lazy_flush: false,
            tracking_table_max_keys: 1_000_000,
            acllog_max_len: 128,
            aclfile: String::new(),
            requirepass: None,
            acl_pubsub_default: AclPubsubDefault::ResetChannels,
            enable_protected_configs: ProtectedAccess::No,
            enable_debug_command: ProtectedAccess::No,
            enable_module_command: ProtectedAccess::No,
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            maxmemory_clients: 0,
            lazyfree_lazy_eviction: false,
            lazyfree_lazy_expire: false,
            lazyfree_lazy_server_del: false,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            io_threads: 1,
            io_threads_do_reads: false,
            oom_score_adj: OomScoreAdj::No,
            oom_score_adj_values: [0, 200, 800],
            disable_thp: true,
            server_cpulist: None,
            bio_cpulist: None,
            aof_rewrite_cpulist: None,
            bgsave_cpulist: None,
            ignore_warnings: String::new(),
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: AppendFsync::Everysec,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * MB,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: false,
            aof_disable_auto_gc: false,
            aof_rewrite_incremental_fsync: true,
            rdb_save_incremental_fsync: true,
            shutdown_timeout: 10,
            shutdown_on_sigint: 0,
            shutdown_on_sigterm: 0,
            busy_reply_threshold: 5000,
            cluster_enabled: false,
            cluster_config_file: "nodes.conf".into(),
            cluster_node_timeout: 15000,
            cluster_port: 0,
            cluster_replica_validity_factor: 10,
            cluster_migration_barrier: 1,
            cluster_allow_replica_migration: true,
            cluster_require_full_coverage: true,
            cluster_replica_no_failover: false,
            cluster_allow_reads_when_down: false,
            cluster_allow_pubsubshard_when_down: true,
            cluster_link_sendbuf_limit: 0,
            cluster_announce_hostname: None,
            cluster_preferred_endpoint_type: ClusterEndpointType::Ip,
            cluster_announce_ip: None,
            cluster_announce_port: 0,
            cluster_announce_tls_port: 0,
            cluster_announce_bus_port: 0,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            notify_keyspace_events: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            activerehashing: true,
            client_output_buffer_limit: [
                ClientBufferLimit { hard: 0, soft: 0, soft_seconds: 0 },
                ClientBufferLimit { hard: 256 * MB, soft: 64 * MB, soft_seconds: 60 },
                ClientBufferLimit { hard: 32 * MB, soft: 8 * MB, soft_seconds: 60 },
            ],
            client_query_buffer_limit: 1024 * MB,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            dynamic_hz: true,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            active_expire_effort: 1,
            jemalloc_bg_thread: true,
            activedefrag: false,
            active_defrag_ignore_bytes: 100 * MB,
            active_defrag_threshold_lower: 10,
            active_defrag_threshold_upper: 100,
            active_defrag_cycle_min: 1,
            active_defrag_cycle_max: 25,
            active_defrag_max_scan_fields: 1000,
            key_load_delay: 0,
            rdb_key_save_delay: 0,
            loading_process_events_interval_bytes: 2 * MB,
            watchdog_period: 0,
            locale_collate: String::new(),
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            loadmodule: Vec::new(),
            users: Vec::new(),
            rename_commands: Vec::new(),
            module_configs: Vec::new(),
        }
    }
}

/// The default configuration, built once (rewrite and docs compare against it).
impl Config {
    /// Whether new ACL users (and `reset`) start with all channels (`acl-pubsub-default`).
    pub fn acl_pubsub_default_all(&self) -> bool {
        self.acl_pubsub_default == AclPubsubDefault::AllChannels
    }
}

pub fn defaults() -> &'static Config {
    static D: OnceLock<Config> = OnceLock::new();
    D.get_or_init(Config::default)
}

/// Looks a directive up by name or alias, case-insensitively. Returns it and the name it was
/// found under (the alias when the alias was used), lower-case.
pub fn lookup(name: &[u8]) -> Option<(&'static Directive, &'static str)> {
    for d in DIRECTIVES {
        if name.eq_ignore_ascii_case(d.name.as_bytes()) {
            return Some((d, d.name));
        }
        if let Some(a) = d.alias {
            if name.eq_ignore_ascii_case(a.as_bytes()) {
                return Some((d, a));
            }
        }
    }
    None
}

/// How a directive is being set.
#[derive(Debug, Default)]
pub struct SetCtx {
    /// Reading the config file / command line (as opposed to CONFIG SET): repeated `save` lines
    /// add up instead of replacing each other.
    pub loading: bool,
    /// Act on the process where the directive itself does (`dir` changes the working
    /// directory). Off in unit tests.
    pub live: bool,
    /// A `save` line was already read in this load (the first one clears the defaults).
    pub save_loaded: bool,
}

pub type SetResult = Result<(), Cow<'static, str>>;

/// The error text a failed `chdir`/`open` gives in Redis: strerror() without Rust's suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Absolute form of `p` against the current directory, without resolving links (as Redis's
/// getAbsolutePath).
pub fn absolute_path(p: &str) -> PathBuf {
    let path = std::path::Path::new(p);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => {
            let mut out = cwd;
            for comp in path.components() {
                match comp {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    c => out.push(c.as_os_str()),
                }
            }
            out
        }
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CONFIG GET *` of a Redis 7.0.15 started with no arguments (less `dir`, which is the
    /// working directory), recorded once: name, tab, value. One deliberate difference: `bind`
    /// defaults to the shipped redis.conf's `127.0.0.1 -::1`, not to every interface.
    const REDIS_7_0_DEFAULTS: &str = "\
acl-pubsub-default	resetchannels
aclfile	
acllog-max-len	128
active-defrag-cycle-max	25
active-defrag-cycle-min	1
active-defrag-ignore-bytes	104857600
active-defrag-max-scan-fields	1000
active-defrag-threshold-lower	10
active-defrag-threshold-upper	100
active-expire-effort	1
activedefrag	no
activerehashing	yes
always-show-logo	no
aof-disable-auto-gc	no
aof-load-truncated	yes
aof-rewrite-incremental-fsync	yes
aof-timestamp-enabled	no
aof-use-rdb-preamble	yes
aof_rewrite_cpulist	
appenddirname	appendonlydir
appendfilename	appendonly.aof
appendfsync	everysec
appendonly	no
auto-aof-rewrite-min-size	67108864
auto-aof-rewrite-percentage	100
bgsave_cpulist	
bind	127.0.0.1 -::1
bind-source-addr	
bio_cpulist	
busy-reply-threshold	5000
client-output-buffer-limit	normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60
client-query-buffer-limit	1073741824
cluster-allow-pubsubshard-when-down	yes
cluster-allow-reads-when-down	no
cluster-allow-replica-migration	yes
cluster-announce-bus-port	0
cluster-announce-hostname	
cluster-announce-ip	
cluster-announce-port	0
cluster-announce-tls-port	0
cluster-config-file	nodes.conf
cluster-enabled	no
cluster-link-sendbuf-limit	0
cluster-migration-barrier	1
cluster-node-timeout	15000
cluster-port	0
cluster-preferred-endpoint-type	ip
cluster-replica-no-failover	no
cluster-replica-validity-factor	10
cluster-require-full-coverage	yes
cluster-slave-no-failover	no
cluster-slave-validity-factor	10
crash-log-enabled	yes
crash-memcheck-enabled	yes
daemonize	no
databases	16
dbfilename	dump.rdb
disable-thp	yes
dynamic-hz	yes
enable-debug-command	no
enable-module-command	no
enable-protected-configs	no
hash-max-listpack-entries	512
hash-max-listpack-value	64
hash-max-ziplist-entries	512
hash-max-ziplist-value	64
hll-sparse-max-bytes	3000
hz	10
ignore-warnings	
io-threads	1
io-threads-do-reads	no
jemalloc-bg-thread	yes
latency-monitor-threshold	0
latency-tracking	yes
latency-tracking-info-percentiles	50 99 99.9
lazyfree-lazy-eviction	no
lazyfree-lazy-expire	no
lazyfree-lazy-server-del	no
lazyfree-lazy-user-del	no
lazyfree-lazy-user-flush	no
lfu-decay-time	1
lfu-log-factor	10
list-compress-depth	0
list-max-listpack-size	-2
list-max-ziplist-size	-2
logfile	
loglevel	notice
lua-time-limit	5000
masterauth	
masteruser	
maxclients	10000
maxmemory	0
maxmemory-clients	0
maxmemory-eviction-tenacity	10
maxmemory-policy	noeviction
maxmemory-samples	5
min-replicas-max-lag	10
min-replicas-to-write	0
min-slaves-max-lag	10
min-slaves-to-write	0
no-appendfsync-on-rewrite	no
notify-keyspace-events	
oom-score-adj	no
oom-score-adj-values	0 200 800
pidfile	
port	6379
proc-title-template	{title} {listen-addr} {server-mode}
propagation-error-behavior	ignore
protected-mode	yes
proto-max-bulk-len	536870912
rdb-del-sync-files	no
rdb-save-incremental-fsync	yes
rdbchecksum	yes
rdbcompression	yes
repl-backlog-size	1048576
repl-backlog-ttl	3600
repl-disable-tcp-nodelay	no
repl-diskless-load	disabled
repl-diskless-sync	yes
repl-diskless-sync-delay	5
repl-diskless-sync-max-replicas	0
repl-ping-replica-period	10
repl-ping-slave-period	10
repl-timeout	60
replica-announce-ip	
replica-announce-port	0
replica-announced	yes
replica-ignore-disk-write-errors	no
replica-ignore-maxmemory	yes
replica-lazy-flush	no
replica-priority	100
replica-read-only	yes
replica-serve-stale-data	yes
replicaof	
requirepass	
sanitize-dump-payload	no
save	3600 1 300 100 60 10000
server_cpulist	
set-max-intset-entries	512
set-proc-title	yes
shutdown-on-sigint	default
shutdown-on-sigterm	default
shutdown-timeout	10
slave-announce-ip	
slave-announce-port	0
slave-ignore-maxmemory	yes
slave-lazy-flush	no
slave-priority	100
slave-read-only	yes
slave-serve-stale-data	yes
slaveof	
slowlog-log-slower-than	10000
slowlog-max-len	128
socket-mark-id	0
stop-writes-on-bgsave-error	yes
stream-node-max-bytes	4096
stream-node-max-entries	100
supervised	no
syslog-enabled	no
syslog-facility	local0
syslog-ident	redis
tcp-backlog	511
tcp-keepalive	300
timeout	0
tls-auth-clients	yes
tls-ca-cert-dir	
tls-ca-cert-file	
tls-cert-file	
tls-ciphers	
tls-ciphersuites	
tls-client-cert-file	
tls-client-key-file	
tls-client-key-file-pass	
tls-cluster	no
tls-dh-params-file	
tls-key-file	
tls-key-file-pass	
tls-port	0
tls-prefer-server-ciphers	no
tls-protocols	
tls-replication	no
tls-session-cache-size	20480
tls-session-cache-timeout	300
tls-session-caching	yes
tracking-table-max-keys	1000000
unixsocket	
unixsocketperm	0
zset-max-listpack-entries	128
zset-max-listpack-value	64
zset-max-ziplist-entries	128
zset-max-ziplist-value	64
";

    #[test]
    fn defaults_match_redis_config_get() {
        let cfg = Config::default();
        let mut listed = 0;
        for d in DIRECTIVES.iter().filter(|d| !d.is(table::HIDDEN) && d.name != "dir") {
            for name in std::iter::once(d.name).chain(d.alias) {
                let want = REDIS_7_0_DEFAULTS
                    .lines()
                    .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('\t')))
                    .unwrap_or_else(|| panic!("{name} is not a Redis 7.0 directive"));
                assert_eq!(String::from_utf8(d.get(&cfg)).unwrap(), want, "default of {name}");
                listed += 1;
            }
        }
        // every directive Redis lists is in the table
        assert_eq!(listed, REDIS_7_0_DEFAULTS.lines().count());
    }

    #[test]
    fn every_value_round_trips_through_set() {
        let mut cfg = Config::default();
        let mut ctx = SetCtx::default();
        for d in DIRECTIVES.iter().filter(|d| d.name != "dir" && d.name != "replicaof") {
            let v = d.get(&cfg);
            let args = if d.multi_arg() { parse::split_args(&v).unwrap() } else { vec![v.clone()] };
            d.set(&mut cfg, &args, &mut ctx).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert_eq!(d.get(&cfg), v, "{}", d.name);
        }
    }

    #[test]
    fn lookup_by_name_and_alias() {
        let (d, m) = lookup(b"SLAVEOF").unwrap();
        assert_eq!((d.name, m), ("replicaof", "slaveof"));
        let (d, m) = lookup(b"hash-max-ziplist-entries").unwrap();
        assert_eq!((d.name, m), ("hash-max-listpack-entries", "hash-max-ziplist-entries"));
        assert_eq!(lookup(b"lua-time-limit").unwrap().0.name, "busy-reply-threshold");
        assert!(lookup(b"nosuch").is_none());
        // names are unique
        let mut names: Vec<&str> =
            DIRECTIVES.iter().flat_map(|d| std::iter::once(d.name).chain(d.alias)).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn enum_and_flag_values() {
        let mut cfg = Config::default();
        let mut ctx = SetCtx::default();
        let (d, _) = lookup(b"shutdown-on-sigint").unwrap();
        d.set(&mut cfg, &[b"now".to_vec(), b"SAVE".to_vec()], &mut ctx).unwrap();
        assert_eq!(d.get(&cfg), b"save now");
        assert_eq!(cfg.shutdown_on_sigint, shutdown_flags::SAVE | shutdown_flags::NOW);
        let e = d.set(&mut cfg, &[], &mut ctx).unwrap_err();
        assert_eq!(
            e,
            "argument(s) must be one of the following: default, save, nosave, now, force"
        );
        let (d, _) = lookup(b"oom-score-adj").unwrap();
        d.set(&mut cfg, &[b"relative".to_vec()], &mut ctx).unwrap();
        assert_eq!(d.get(&cfg), b"yes");
        let (d, _) = lookup(b"loglevel").unwrap();
        d.set(&mut cfg, &[b"WARNING".to_vec()], &mut ctx).unwrap();
        assert_eq!(cfg.loglevel, "warning");
        assert!(d.set(&mut cfg, &[b"nothing".to_vec()], &mut ctx).is_err());
    }

    #[test]
    fn notify_flags() {
        assert_eq!(notify::format(notify::parse(b"gmn").unwrap()), "gnm");
        assert_eq!(notify::format(notify::parse(b"Ag$").unwrap()), "A");
        assert_eq!(notify::format(notify::parse(b"KEA").unwrap()), "AKE");
        assert_eq!(notify::parse(b"q"), None);
        assert_eq!(notify::format(0), "");
    }

    #[test]
    fn percentiles_format_like_redis() {
        let mut cfg = Config::default();
        let (d, _) = lookup(b"latency-tracking-info-percentiles").unwrap();
        let args: Vec<Vec<u8>> =
            ["0.5", "99.99999", "100", "1e1"].iter().map(|s| s.as_bytes().to_vec()).collect();
        d.set(&mut cfg, &args, &mut SetCtx::default()).unwrap();
        assert_eq!(d.get(&cfg), b"0.5 99.99999 100 10");
        assert_eq!(
            d.set(&mut cfg, &[b"x".to_vec()], &mut SetCtx::default()).unwrap_err(),
            "Invalid latency-tracking-info-percentiles parameters"
        );
    }
}
