//! INFO: the server's report on itself, in Redis 7.0's sections, field names and order.
//!
//! The text is built under the core lock from `Core` (counters, keyspace, config) and `Server`
//! (start time, run id, port), plus what the process and the allocator say about themselves
//! (`getrusage`, `/proc/self/statm`, jemalloc's statistics). Fields for features Vireo does not
//! have yet (replication links, AOF, forks, Lua, defrag, tracking) carry the value an idle Redis
//! reports for them, so that dashboards and client libraries parse the same shape.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::server::{Core, Server};

/// The sections of INFO, in output order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Section {
    Server = 1 << 0,
    Clients = 1 << 1,
    Memory = 1 << 2,
    Persistence = 1 << 3,
    Stats = 1 << 4,
    Replication = 1 << 5,
    Cpu = 1 << 6,
    ModuleList = 1 << 7,
    Commandstats = 1 << 8,
    Errorstats = 1 << 9,
    Latencystats = 1 << 10,
    Cluster = 1 << 11,
    Keyspace = 1 << 12,
    /// Sections modules add (`INFO everything`, `INFO modules`, or a module's own name).
    ModuleGenerated = 1 << 13,
}

/// A set of sections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sections(u16);

impl Sections {
    pub const DEFAULT: Sections = Sections(
        Section::Server as u16
            | Section::Clients as u16
            | Section::Memory as u16
            | Section::Persistence as u16
            | Section::Stats as u16
            | Section::Replication as u16
            | Section::Cpu as u16
            | Section::ModuleList as u16
            | Section::Errorstats as u16
            | Section::Cluster as u16
            | Section::Keyspace as u16,
    );
    /// `INFO all`: every built-in section, not the module-generated ones.
    pub const ALL: Sections =
        Sections(Self::DEFAULT.0 | Section::Commandstats as u16 | Section::Latencystats as u16);
    pub const EVERYTHING: Sections = Sections(Self::ALL.0 | Section::ModuleGenerated as u16);

    pub fn has(self, s: Section) -> bool {
        self.0 & s as u16 != 0
    }

    pub fn add(&mut self, s: Section) {
        self.0 |= s as u16;
    }

    /// The sections INFO's arguments name: none means the default set; names are
    /// case-insensitive; unknown names select nothing (INFO then answers an empty string).
    pub fn from_args(args: &[Bytes]) -> Sections {
        if args.is_empty() {
            return Self::DEFAULT;
        }
        let mut s = Sections::default();
        for a in args {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            let add = match name.as_str() {
                "default" => Self::DEFAULT,
                "all" => Self::ALL,
                "everything" => Self::EVERYTHING,
                "server" => Sections(Section::Server as u16),
                "clients" => Sections(Section::Clients as u16),
                "memory" => Sections(Section::Memory as u16),
                "persistence" => Sections(Section::Persistence as u16),
                "stats" => Sections(Section::Stats as u16),
                "replication" => Sections(Section::Replication as u16),
                "cpu" => Sections(Section::Cpu as u16),
                "module_list" => Sections(Section::ModuleList as u16),
                "modules" => Sections(Section::ModuleList as u16 | Section::ModuleGenerated as u16),
                "commandstats" => Sections(Section::Commandstats as u16),
                "errorstats" => Sections(Section::Errorstats as u16),
                "latencystats" => Sections(Section::Latencystats as u16),
                "cluster" => Sections(Section::Cluster as u16),
                "keyspace" => Sections(Section::Keyspace as u16),
                _ => Sections::default(),
            };
            s.0 |= add.0;
        }
        s
    }
}

/// Appends `name:value\r\n`.
macro_rules! field {
    ($s:expr, $name:literal, $($arg:tt)*) => {{
        $s.push_str($name);
        $s.push(':');
        let _ = write!($s, $($arg)*);
        $s.push_str("\r\n");
    }};
}

/// Builds the INFO text for `sections`.
pub fn generate(server: &Server, core: &mut Core, sections: Sections) -> String {
    let mut out = String::with_capacity(4096);
    let section = |out: &mut String, s: Section, title: &str| -> bool {
        if !sections.has(s) {
            return false;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
        true
    };
    if section(&mut out, Section::Server, "Server") {
        server_section(&mut out, server, core);
    }
    if section(&mut out, Section::Clients, "Clients") {
        clients_section(&mut out, server, core);
    }
    if section(&mut out, Section::Memory, "Memory") {
        memory_section(&mut out, core);
    }
    if section(&mut out, Section::Persistence, "Persistence") {
        persistence_section(&mut out, server, core);
    }
    if section(&mut out, Section::Stats, "Stats") {
        stats_section(&mut out, core);
    }
    if section(&mut out, Section::Replication, "Replication") {
        replication_section(&mut out, core);
    }
    if section(&mut out, Section::Cpu, "CPU") {
        cpu_section(&mut out);
    }
    if section(&mut out, Section::ModuleList, "Modules") {
        // As Redis 7.0 (`api` is the module API's major version).
        for m in &core.modules.loaded {
            let _ = write!(
                out,
                "module:name={},ver={},api={},filters=0,usedby=[{}],using=[{}],options=[]\r\n",
                m.name,
                m.version,
                vireo_module_api::API_MAJOR,
                core.modules.ext.used_by(&m.name).join("|"),
                core.modules.ext.using(&m.name).join("|"),
            );
        }
    }
    if section(&mut out, Section::Commandstats, "Commandstats") {
        commandstats_section(&mut out, server, core);
    }
    if section(&mut out, Section::Errorstats, "Errorstats") {
        let mut codes: Vec<(&String, &u64)> = core.errorstats.iter().collect();
        codes.sort();
        for (code, n) in codes {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }
    if section(&mut out, Section::Latencystats, "Latencystats") {
        latencystats_section(&mut out, server, core);
    }
    if section(&mut out, Section::Cluster, "Cluster") {
        field!(out, "cluster_enabled", "0");
    }
    if section(&mut out, Section::Keyspace, "Keyspace") {
        for (i, db) in core.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            let avg_ttl = core.stats.avg_ttl.get(i).copied().unwrap_or(0);
            let _ =
                write!(out, "db{i}:keys={},expires={},avg_ttl={avg_ttl}\r\n", db.len(), db.expires);
        }
    }
    out
}

fn server_section(out: &mut String, server: &Server, core: &Core) {
    let now_us = crate::clock::ustime();
    let uptime = (crate::clock::mstime() - server.start_ms) / 1000;
    let port = server.tcp_port.load(std::sync::atomic::Ordering::Relaxed);
    field!(out, "redis_version", "{}", crate::REDIS_VERSION);
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", "0");
    field!(out, "redis_build_id", "{}", build_id());
    field!(out, "redis_mode", "standalone");
    field!(out, "os", "{}", os_name());
    field!(out, "arch_bits", "{}", usize::BITS);
    field!(out, "monotonic_clock", "POSIX clock_gettime");
    field!(out, "multiplexing_api", "{}", multiplexing_api());
    field!(out, "atomicvar_api", "c11-builtin");
    field!(out, "gcc_version", "0.0.0");
    field!(out, "process_id", "{}", std::process::id());
    field!(out, "process_supervised", "no");
    field!(out, "run_id", "{}", server.run_id);
    field!(out, "tcp_port", "{port}");
    field!(out, "server_time_usec", "{now_us}");
    field!(out, "uptime_in_seconds", "{uptime}");
    field!(out, "uptime_in_days", "{}", uptime / 86400);
    field!(out, "hz", "{}", core.cfg.hz);
    field!(out, "configured_hz", "{}", core.cfg.hz);
    field!(out, "lru_clock", "{}", core.lru_clock);
    field!(out, "executable", "{}", server.executable);
    let config_file = server
        .config_file
        .as_ref()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string())
        .unwrap_or_default();
    field!(out, "config_file", "{config_file}");
    field!(out, "io_threads_active", "0");
}

/// A stable identifier of this build (Redis prints a hash of its build environment).
fn build_id() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in concat!(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:x}", h >> 4)
}

/// `uname -s -r -m`, as Redis prints it.
fn os_name() -> String {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    format!("{} {} {}", s(u.sysname()), s(u.release()), s(u.machine()))
}

fn multiplexing_api() -> &'static str {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        "epoll"
    } else if cfg!(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    )) {
        "kqueue"
    } else {
        "poll"
    }
}

fn clients_section(out: &mut String, server: &Server, core: &Core) {
    let (mut max_in, mut max_out) = (0usize, 0usize);
    for c in core.clients.values() {
        let m = c.meta.lock();
        max_in = max_in.max(m.qbuf);
        max_out = max_out.max(c.out.pending_bytes());
    }
    field!(
        out,
        "connected_clients",
        "{}",
        server.connected.load(std::sync::atomic::Ordering::Relaxed)
    );
    field!(out, "cluster_connections", "0");
    field!(out, "maxclients", "{}", core.cfg.maxclients);
    field!(out, "client_recent_max_input_buffer", "{max_in}");
    field!(out, "client_recent_max_output_buffer", "{max_out}");
    field!(out, "blocked_clients", "{}", core.blocking.len());
    field!(out, "tracking_clients", "{}", core.tracking.clients());
    field!(out, "clients_in_timeout_table", "{}", core.blocking.with_timeout());
}

fn memory_section(out: &mut String, core: &mut Core) {
    let m = MemoryReport::collect(core);
    let maxmemory = core.cfg.maxmemory;
    field!(out, "used_memory", "{}", m.used);
    field!(out, "used_memory_human", "{}", bytes_to_human(m.used));
    field!(out, "used_memory_rss", "{}", m.rss);
    field!(out, "used_memory_rss_human", "{}", bytes_to_human(m.rss));
    field!(out, "used_memory_peak", "{}", m.peak);
    field!(out, "used_memory_peak_human", "{}", bytes_to_human(m.peak));
    field!(out, "used_memory_peak_perc", "{:.2}%", m.peak_perc());
    field!(out, "used_memory_overhead", "{}", m.overhead);
    field!(out, "used_memory_startup", "{}", m.startup);
    field!(out, "used_memory_dataset", "{}", m.dataset());
    field!(out, "used_memory_dataset_perc", "{:.2}%", m.dataset_perc());
    field!(out, "allocator_allocated", "{}", m.alloc.allocated);
    field!(out, "allocator_active", "{}", m.alloc.active);
    field!(out, "allocator_resident", "{}", m.alloc.resident);
    let total = total_system_memory();
    field!(out, "total_system_memory", "{total}");
    field!(out, "total_system_memory_human", "{}", bytes_to_human(total));
    // The Lua VMs exist once a script ran / a library was loaded.
    let (lua, scripts, bodies) =
        core.scripts.as_ref().map_or((0, 0, 0), |e| (e.memory(), e.len(), e.bodies_len()));
    let (fvm, nfuncs, nlibs, fcode) = core.functions.as_ref().map_or((0, 0, 0, 0), |f| {
        (f.memory(), f.functions_count(), f.libraries_count(), f.codes_len())
    });
    field!(out, "used_memory_lua", "{lua}");
    field!(out, "used_memory_vm_eval", "{lua}");
    field!(out, "used_memory_lua_human", "{}", bytes_to_human(lua as u64));
    field!(out, "used_memory_scripts_eval", "{bodies}");
    field!(out, "number_of_cached_scripts", "{scripts}");
    field!(out, "number_of_functions", "{nfuncs}");
    field!(out, "number_of_libraries", "{nlibs}");
    field!(out, "used_memory_vm_functions", "{fvm}");
    field!(out, "used_memory_vm_total", "{}", lua + fvm);
    field!(out, "used_memory_vm_total_human", "{}", bytes_to_human((lua + fvm) as u64));
    field!(out, "used_memory_functions", "{fcode}");
    let bodies = bodies + fcode;
    field!(out, "used_memory_scripts", "{bodies}");
    field!(out, "used_memory_scripts_human", "{}", bytes_to_human(bodies as u64));
    field!(out, "maxmemory", "{maxmemory}");
    field!(out, "maxmemory_human", "{}", bytes_to_human(maxmemory));
    field!(out, "maxmemory_policy", "{}", core.cfg.maxmemory_policy.as_str());
    field!(out, "allocator_frag_ratio", "{:.2}", m.allocator_frag_ratio());
    field!(out, "allocator_frag_bytes", "{}", m.allocator_frag_bytes());
    field!(out, "allocator_rss_ratio", "{:.2}", m.allocator_rss_ratio());
    field!(out, "allocator_rss_bytes", "{}", m.allocator_rss_bytes());
    field!(out, "rss_overhead_ratio", "{:.2}", m.rss_overhead_ratio());
    field!(out, "rss_overhead_bytes", "{}", m.rss_overhead_bytes());
    field!(out, "mem_fragmentation_ratio", "{:.2}", m.fragmentation_ratio());
    field!(out, "mem_fragmentation_bytes", "{}", m.fragmentation_bytes());
    field!(out, "mem_not_counted_for_evict", "0");
    field!(out, "mem_replication_backlog", "0");
    field!(out, "mem_total_replication_buffers", "0");
    field!(out, "mem_clients_slaves", "0");
    field!(out, "mem_clients_normal", "{}", m.clients_normal);
    field!(out, "mem_cluster_links", "0");
    field!(out, "mem_aof_buffer", "0");
    field!(out, "mem_allocator", "{}", mem_allocator());
    field!(out, "active_defrag_running", "0");
    field!(out, "lazyfree_pending_objects", "0");
    field!(out, "lazyfreed_objects", "0");
}

fn persistence_section(out: &mut String, server: &Server, core: &Core) {
    field!(out, "loading", "{}", u8::from(server.loading.active()));
    field!(out, "async_loading", "0");
    field!(out, "current_cow_peak", "0");
    field!(out, "current_cow_size", "0");
    field!(out, "current_cow_size_age", "0");
    field!(out, "current_fork_perc", "0.00");
    field!(out, "current_save_keys_processed", "0");
    field!(out, "current_save_keys_total", "0");
    field!(out, "rdb_changes_since_last_save", "{}", core.dirty);
    field!(out, "rdb_bgsave_in_progress", "{}", u8::from(core.rdb.bgsave.is_some()));
    field!(out, "rdb_last_save_time", "{}", core.lastsave);
    field!(
        out,
        "rdb_last_bgsave_status",
        "{}",
        if core.rdb.last_bgsave_failed { "err" } else { "ok" }
    );
    field!(out, "rdb_last_bgsave_time_sec", "{}", core.rdb.last_bgsave_secs);
    let current = core.rdb.bgsave.map_or(-1, |(start, _)| (crate::clock::mstime() - start) / 1000);
    field!(out, "rdb_current_bgsave_time_sec", "{}", current);
    field!(out, "rdb_saves", "{}", core.rdb.saves);
    field!(out, "rdb_last_cow_size", "0");
    // While an RDB image loads, its counts so far (as Redis's move).
    let (loaded, expired) = server
        .loading
        .rdb_keys()
        .unwrap_or((core.rdb.last_load_keys_loaded, core.rdb.last_load_keys_expired));
    field!(out, "rdb_last_load_keys_expired", "{}", expired);
    field!(out, "rdb_last_load_keys_loaded", "{}", loaded);
    crate::persist::aof::info_fields(out, core);
    server.loading.info_fields(out);
}

fn stats_section(out: &mut String, core: &Core) {
    let s = &core.stats;
    field!(out, "total_connections_received", "{}", s.total_connections_received);
    field!(out, "total_commands_processed", "{}", s.total_commands_processed);
    field!(out, "instantaneous_ops_per_sec", "{}", s.inst_ops.rate() as i64);
    field!(out, "total_net_input_bytes", "{}", s.net_input_bytes());
    field!(out, "total_net_output_bytes", "{}", s.net_output_bytes());
    field!(out, "total_net_repl_input_bytes", "{}", s.net_repl_input_bytes());
    field!(out, "total_net_repl_output_bytes", "{}", s.net_repl_output_bytes());
    field!(out, "instantaneous_input_kbps", "{:.2}", s.inst_net_in.rate() / 1024.0);
    field!(out, "instantaneous_output_kbps", "{:.2}", s.inst_net_out.rate() / 1024.0);
    field!(out, "instantaneous_input_repl_kbps", "{:.2}", s.inst_net_repl_in.rate() / 1024.0);
    field!(out, "instantaneous_output_repl_kbps", "{:.2}", s.inst_net_repl_out.rate() / 1024.0);
    field!(out, "rejected_connections", "{}", s.rejected_connections);
    field!(out, "sync_full", "{}", core.repl.sync_full);
    field!(out, "sync_partial_ok", "{}", core.repl.sync_partial_ok);
    field!(out, "sync_partial_err", "{}", core.repl.sync_partial_err);
    field!(out, "expired_keys", "{}", s.expired_keys);
    field!(out, "expired_stale_perc", "{:.2}", s.expired_stale_perc * 100.0);
    field!(out, "expired_time_cap_reached_count", "{}", s.expired_time_cap_reached_count);
    field!(out, "expire_cycle_cpu_milliseconds", "{}", s.expire_cycle_cpu_milliseconds);
    field!(out, "evicted_keys", "{}", s.evicted_keys);
    field!(out, "evicted_clients", "0");
    let current_us = s.eviction_exceeded_since.map_or(0, |t| t.elapsed().as_micros() as u64);
    field!(out, "total_eviction_exceeded_time", "{}", (s.eviction_exceeded_us + current_us) / 1000);
    field!(out, "current_eviction_exceeded_time", "{}", current_us / 1000);
    field!(out, "keyspace_hits", "{}", s.keyspace_hits);
    field!(out, "keyspace_misses", "{}", s.keyspace_misses);
    field!(out, "pubsub_channels", "{}", core.pubsub.len(crate::pubsub::Kind::Channel));
    field!(out, "pubsub_patterns", "{}", core.pubsub.len(crate::pubsub::Kind::Pattern));
    field!(out, "pubsubshard_channels", "{}", core.pubsub.len(crate::pubsub::Kind::Shard));
    field!(out, "latest_fork_usec", "0");
    field!(out, "total_forks", "0");
    field!(out, "migrate_cached_sockets", "{}", core.migrate.len());
    field!(out, "slave_expires_tracked_keys", "0");
    field!(out, "active_defrag_hits", "0");
    field!(out, "active_defrag_misses", "0");
    field!(out, "active_defrag_key_hits", "0");
    field!(out, "active_defrag_key_misses", "0");
    field!(out, "total_active_defrag_time", "0");
    field!(out, "current_active_defrag_time", "0");
    let (keys, items, prefixes) = core.tracking.totals();
    field!(out, "tracking_total_keys", "{keys}");
    field!(out, "tracking_total_items", "{items}");
    field!(out, "tracking_total_prefixes", "{prefixes}");
    field!(out, "unexpected_error_replies", "{}", s.unexpected_error_replies);
    field!(out, "total_error_replies", "{}", s.total_error_replies);
    field!(out, "dump_payload_sanitizations", "{}", s.dump_payload_sanitizations);
    field!(out, "total_reads_processed", "{}", s.total_reads_processed);
    field!(out, "total_writes_processed", "{}", s.writes_processed());
    field!(out, "io_threaded_reads_processed", "{}", s.io_threaded_reads_processed);
    field!(out, "io_threaded_writes_processed", "0");
    field!(out, "reply_buffer_shrinks", "0");
    field!(out, "reply_buffer_expands", "0");
}

fn replication_section(out: &mut String, core: &Core) {
    crate::repl::info(core, out);
}

/// CPU time of a process (or thread) and of its waited-for children, in seconds, as
/// [sys, user, children sys, children user], from a /proc `stat` file (clock-tick resolution).
fn cpu_times(stat_path: &str) -> [f64; 4] {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its ')' are space-separated,
    // starting at field 3: utime is field 14, stime 15, cutime 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let tick = rustix::param::clock_ticks_per_second() as f64;
    let get = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / tick;
    [get(15), get(14), get(17), get(16)]
}

fn cpu_section(out: &mut String) {
    let [sys, user, csys, cuser] = cpu_times("/proc/self/stat");
    field!(out, "used_cpu_sys", "{sys:.6}");
    field!(out, "used_cpu_user", "{user:.6}");
    field!(out, "used_cpu_sys_children", "{csys:.6}");
    field!(out, "used_cpu_user_children", "{cuser:.6}");
    // Redis's "main thread" is the one that runs commands: here, the thread running this one.
    let [tsys, tuser, _, _] = cpu_times("/proc/thread-self/stat");
    field!(out, "used_cpu_sys_main_thread", "{tsys:.6}");
    field!(out, "used_cpu_user_main_thread", "{tuser:.6}");
}

/// Calls `f` with every command and subcommand that has a stats slot, in table order.
fn for_each_command(server: &Server, core: &Core, mut f: impl FnMut(&'static str, usize)) {
    for (id, name) in server.commands.names.iter().enumerate() {
        f(name, id);
    }
    let mut modules: Vec<_> = core.modules.commands().map(|c| (c.id, c.fullname)).collect();
    modules.sort_unstable();
    for (id, name) in modules {
        f(name, id);
    }
}

/// Redis's `getSafeInfoString`: the characters that would break INFO's format become `_`.
fn safe_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains([':', '\r', '\n']) {
        name.replace([':', '\r', '\n'], "_").into()
    } else {
        name.into()
    }
}

fn commandstats_section(out: &mut String, server: &Server, core: &Core) {
    let stats = &core.stats.cmd;
    for_each_command(server, core, |name, id| {
        let Some(st) = stats.get(id) else { return };
        if st.calls == 0 && st.failed_calls == 0 && st.rejected_calls == 0 {
            return;
        }
        let per_call = if st.calls == 0 { 0.0 } else { st.usec as f64 / st.calls as f64 };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            safe_name(name),
            st.calls,
            st.usec,
            per_call,
            st.rejected_calls,
            st.failed_calls
        );
    });
}

/// A percentile as Redis prints it in a field name: `50`, `99.9` (`%f` with the trailing zeros
/// trimmed).
fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

fn latencystats_section(out: &mut String, server: &Server, core: &Core) {
    let percentiles = &core.cfg.latency_tracking_info_percentiles;
    let stats = &core.stats.cmd;
    for_each_command(server, core, |name, id| {
        let Some(st) = stats.get(id) else { return };
        if st.latency.count() == 0 {
            return;
        }
        let _ = write!(out, "latency_percentiles_usec_{}:", safe_name(name));
        for (i, p) in percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let v = st.latency.value_at_percentile(*p) as f64 / 1000.0;
            let _ = write!(out, "p{}={v:.3}", fmt_percentile(*p));
        }
        out.push_str("\r\n");
    });
}

// ------------------------------------------------------------------------------------------------
// Memory

/// What jemalloc says it holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllocStats {
    /// Bytes in allocations as jemalloc's arenas see them (`allocator.allocated`): the
    /// application's plus the free objects cached in threads' tcaches.
    pub allocated: u64,
    /// Bytes the application holds (`used_memory`, what Redis's own counter says):
    /// `allocated` less the tcaches' cached objects. This is what the maxmemory meter tracks
    /// (see `keyspace::evict`): counting the tcaches would make freed memory reappear.
    pub used: u64,
    /// Bytes in active pages (allocations plus their pages' free space).
    pub active: u64,
    /// Bytes in physically resident pages the allocator maps.
    pub resident: u64,
}

/// Refreshes and reads jemalloc's statistics.
pub fn alloc_stats() -> AllocStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    // SAFETY: the name is a NUL-terminated mallctl name whose value is a size_t (4096 is
    // MALLCTL_ARENAS_ALL, the sum over arenas).
    let tcache: usize =
        unsafe { tikv_jemalloc_ctl::raw::read(b"stats.arenas.4096.tcache_bytes\0") }.unwrap_or(0);
    let s = AllocStats {
        allocated,
        used: allocated.saturating_sub(tcache as u64),
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
    };
    // Every fresh reading recalibrates the cheap meter the maxmemory check uses.
    crate::keyspace::evict::rebase(s.used);
    s
}

/// `used_memory`: bytes the application holds.
pub fn used_memory() -> u64 {
    alloc_stats().used
}

/// The process's resident set size, from `/proc/self/statm`.
pub fn rss() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

pub fn total_system_memory() -> u64 {
    let i = rustix::system::sysinfo();
    i.totalram as u64 * i.mem_unit as u64
}

/// Memory the system can still give (`MemAvailable` of `/proc/meminfo`: free memory and what
/// caches would give back), if it says.
pub fn available_system_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// `jemalloc-5.3.0`, as Redis names its allocator.
pub fn mem_allocator() -> String {
    match tikv_jemalloc_ctl::version::read() {
        Ok(v) => format!("jemalloc-{}", v.split('-').next().unwrap_or(v)),
        Err(_) => "jemalloc".to_string(),
    }
}

/// Records the memory in use at start-up and the peak; called by the cron and by every
/// report. Returns the current `used_memory`.
pub fn track_memory(core: &mut Core, used: u64) -> u64 {
    let st = &mut core.stats;
    if st.mem_startup == 0 {
        st.mem_startup = used;
    }
    if used > st.mem_peak {
        st.mem_peak = used;
    }
    used
}

/// The size class jemalloc rounds a request of `n` bytes up to (4 classes per doubling past
/// 128 bytes, 16-byte steps below, 8 bytes minimum).
pub fn jemalloc_size_class(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        (n + 15) & !15
    } else {
        let lg = usize::BITS - 1 - (n - 1).leading_zeros();
        let spacing = 1usize << (lg - 2);
        (n + spacing - 1) & !(spacing - 1)
    }
}

/// Everything INFO memory and MEMORY STATS print, gathered once.
pub struct MemoryReport {
    pub used: u64,
    pub rss: u64,
    pub peak: u64,
    pub startup: u64,
    pub alloc: AllocStats,
    /// Per database: bytes of the table's bucket arrays (records are the dataset).
    pub db_overhead: Vec<(usize, u64)>,
    pub clients_normal: u64,
    /// Memory that is not the dataset: start-up memory, client buffers, tables.
    pub overhead: u64,
    pub keys: u64,
}

impl MemoryReport {
    pub fn collect(core: &mut Core) -> MemoryReport {
        let alloc = alloc_stats();
        let used = track_memory(core, alloc.used);
        let mut clients_normal = 0u64;
        for c in core.clients.values() {
            let m = c.meta.lock();
            clients_normal += (m.qbuf + m.qbuf_free + c.out.pending_bytes()) as u64;
        }
        let mut db_overhead = Vec::new();
        let mut keys = 0u64;
        for (i, db) in core.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            keys += db.len() as u64;
            db_overhead.push((i, db.table.bucket_bytes() as u64));
        }
        let startup = core.stats.mem_startup;
        let overhead = startup + clients_normal + db_overhead.iter().map(|(_, b)| b).sum::<u64>();
        MemoryReport {
            used,
            rss: rss(),
            peak: core.stats.mem_peak,
            startup,
            alloc,
            db_overhead,
            clients_normal,
            overhead,
            keys,
        }
    }

    pub fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead)
    }

    fn net(&self) -> u64 {
        self.used.saturating_sub(self.startup).max(1)
    }

    pub fn dataset_perc(&self) -> f64 {
        self.dataset() as f64 * 100.0 / self.net() as f64
    }

    pub fn peak_perc(&self) -> f64 {
        self.used as f64 * 100.0 / self.peak.max(1) as f64
    }

    pub fn bytes_per_key(&self) -> u64 {
        self.used.saturating_sub(self.startup).checked_div(self.keys).unwrap_or(0)
    }

    pub fn allocator_frag_ratio(&self) -> f64 {
        ratio(self.alloc.active, self.alloc.allocated)
    }

    pub fn allocator_frag_bytes(&self) -> i64 {
        self.alloc.active as i64 - self.alloc.allocated as i64
    }

    pub fn allocator_rss_ratio(&self) -> f64 {
        ratio(self.alloc.resident, self.alloc.active)
    }

    pub fn allocator_rss_bytes(&self) -> i64 {
        self.alloc.resident as i64 - self.alloc.active as i64
    }

    pub fn rss_overhead_ratio(&self) -> f64 {
        ratio(self.rss, self.alloc.resident)
    }

    pub fn rss_overhead_bytes(&self) -> i64 {
        self.rss as i64 - self.alloc.resident as i64
    }

    pub fn fragmentation_ratio(&self) -> f64 {
        ratio(self.rss, self.used)
    }

    pub fn fragmentation_bytes(&self) -> i64 {
        self.rss as i64 - self.used as i64
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Redis's `bytesToHuman`: `512B`, `1.02M`, `23.54G`.
pub fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else if d < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K))
    } else {
        format!("{n}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1064592), "1.02M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
        assert_eq!(bytes_to_human(32768), "32.00K");
    }

    #[test]
    fn size_classes() {
        let classes = [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384];
        let mut prev = 0;
        for c in classes {
            for n in prev + 1..=c {
                assert_eq!(jemalloc_size_class(n), c, "{n}");
            }
            prev = c;
        }
        assert_eq!(jemalloc_size_class(4097), 5120);
    }

    #[test]
    fn percentile_names() {
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_percentile(99.9), "99.9");
        assert_eq!(fmt_percentile(99.99), "99.99");
    }

    #[test]
    fn sections() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(Sections::from_args(&[]), Sections::DEFAULT);
        assert_eq!(Sections::from_args(&[b("ALL")]), Sections::ALL);
        let s = Sections::from_args(&[b("cpu"), b("Server"), b("nosuch")]);
        assert!(s.has(Section::Cpu) && s.has(Section::Server) && !s.has(Section::Memory));
        assert!(Sections::from_args(&[b("modules")]).has(Section::ModuleList));
        assert!(!Sections::DEFAULT.has(Section::Commandstats));
    }
}
