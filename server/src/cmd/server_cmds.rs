//! Server commands: INFO TIME LASTSAVE SHUTDOWN DEBUG MEMORY.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vireo_module_api::abi::server_event as SE;

use super::command::reply_help;
use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::info::{self, MemoryReport, Sections};
use crate::keyspace::{self, Value, ValueRef};
use crate::server::{Core, Server};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("info", info_cmd),
    ("time", time),
    ("lastsave", lastsave),
    ("shutdown", shutdown),
    ("debug", debug),
    ("memory|usage", memory_usage),
    ("memory|stats", memory_stats),
    ("memory|doctor", memory_doctor),
    ("memory|malloc-stats", memory_malloc_stats),
    ("memory|purge", memory_purge),
    ("memory|help", memory_help),
];

/// INFO [section [section ...]]
fn info_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sections = Sections::from_args(&argv[1..]);
    let mut text = info::generate(ctx.server, ctx.core, sections);
    // Modules' own sections: all for `everything` / `modules`, else those named.
    let all = sections.has(info::Section::ModuleGenerated);
    let names: Vec<String> = argv[1..]
        .iter()
        .filter(|a| Sections::from_args(std::slice::from_ref(*a)) == Sections::default())
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    crate::module_host::modconf::info_sections(&ctx.core.modules.ext, all, &names, &mut text);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// TIME
fn time(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let us = crate::clock::ustime();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.core.lastsave);
    Ok(())
}

/// What a shutdown asks for: SHUTDOWN's arguments, or `shutdown-on-sigterm/sigint`'s flags.
#[derive(Clone, Copy, Debug)]
pub struct ShutdownMode {
    pub save: bool,
    pub nosave: bool,
    pub force: bool,
}

impl ShutdownMode {
    /// From `shutdown-on-sigint` / `shutdown-on-sigterm` flags (`default` is none of them).
    pub fn from_flags(flags: u32) -> ShutdownMode {
        use crate::config::shutdown_flags::{FORCE, NOSAVE, SAVE};
        ShutdownMode {
            save: flags & SAVE != 0,
            nosave: flags & NOSAVE != 0,
            force: flags & FORCE != 0,
        }
    }
}

/// What the server does before it exits (SHUTDOWN, or a signal): saves when asked to or when
/// save points are configured (not NOSAVE, nor while loading: the data set is not whole), then
/// tells the modules. A failed save stops the shutdown unless FORCE, as in Redis: false then,
/// and the server keeps running.
pub fn prepare_shutdown(server: &Arc<Server>, core: &mut Core, mode: ShutdownMode) -> bool {
    let wants_save = (mode.save || !core.cfg.save.is_empty()) && !mode.nosave;
    if wants_save && !server.loading.active() {
        tracing::warn!("Saving the final RDB snapshot before exiting.");
        if let Err(e) = crate::persist::snapshot::save(core) {
            tracing::warn!("Error trying to save the DB, can't exit: {e}");
            if !mode.force {
                return false;
            }
            tracing::warn!("FORCE: exiting without saving");
        }
    }
    let d = crate::module_host::events::data(vireo_module_api::abi::server_event::SHUTDOWN, 0, 0);
    crate::module_host::events::fire(server, core, d);
    core.shutting_down = true;
    true
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 6 {
        return Err(Error::SYNTAX);
    }
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for a in &argv[1..] {
        if Ctx::is(a, "nosave") {
            nosave = true;
        } else if Ctx::is(a, "save") {
            save = true;
        } else if Ctx::is(a, "now") {
            now = true;
        } else if Ctx::is(a, "force") {
            force = true;
        } else if Ctx::is(a, "abort") {
            abort = true;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return Err(Error::SYNTAX);
    }
    if abort {
        // Shutdown never waits for replicas here, so there is never one in progress to abort.
        return Err(Error::msg("ERR No shutdown in progress."));
    }
    // NOW and FORCE skip waiting for replicas to catch up; there are none to wait for yet.
    let _ = now;
    // Plain SHUTDOWN saves when save points are configured, as Redis does.
    if !prepare_shutdown(ctx.server, ctx.core, ShutdownMode { save, nosave, force }) {
        return Err(Error::msg("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    tracing::warn!("User requested shutdown...");
    ctx.client.close_after_reply = true;
    ctx.server.request_shutdown();
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// DEBUG

/// The leading decimal number of `s`, as C's strtod reads it (0 when there is none).
fn lenient_f64(s: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(s);
    let s = s.trim_start();
    let mut best = 0.0;
    for end in 1..=s.len() {
        if !s.is_char_boundary(end) {
            continue;
        }
        if let Ok(v) = s[..end].parse::<f64>() {
            best = v;
        }
    }
    best
}

/// C's atoi: the leading integer, 0 when there is none.
fn lenient_i64(s: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(s);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Bytes the value of `e` takes in an RDB file (DEBUG OBJECT's `serializedlength`): its
/// encoding by the RDB writer, without the type byte, compressed per `rdbcompression`.
fn serialized_len(e: &keyspace::Entry, compress: bool) -> usize {
    let mut out = Vec::new();
    let opts = crate::persist::rdb::save::SaveOpts { compress, ..Default::default() };
    crate::persist::rdb::save::write_value(&mut out, e, &opts);
    out.len() - 1
}

fn debug_help(ctx: &mut Ctx) {
    reply_help(
        &mut ctx.out,
        "DEBUG",
        &[
            "CHANGE-REPL-ID",
            "    Give this instance new replication IDs (for replication tests).",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Reply with <string> as an error reply.",
            "LOG <message>",
            "    Write <message> to the server log at warning level.",
            "OBJECT <key>",
            "    Low level details about the value of <key>.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys <prefix>:<n> (default prefix 'key') holding",
            "    'value:<n>', padded with zero bytes or cut to <size> bytes if given.",
            "    Existing keys are left alone; nothing is propagated.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Options:",
            "    * MERGE: Merge the content of the RDB file into the current dataset.",
            "    * NOFLUSH: Do not empty the dataset before loading the RDB file.",
            "    * NOSAVE: Do not save the dataset before loading the RDB file.",
            "PROTOCOL <type>",
            "    Reply with a sample value of one RESP type: string, integer, double, bignum,",
            "    null, array, set, map, attrib, push, verbatim, true, false.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    0 stops the background reclaiming of expired keys, 1 restarts it.",
            "SLEEP <seconds>",
            "    Block the whole server for <seconds> (decimals allowed).",
        ],
    );
}

/// Whether `enable-debug-command` lets this client run DEBUG (`local`: over the unix socket or
/// from a loopback address).
fn debug_allowed(ctx: &Ctx) -> bool {
    let local = ctx.client.flags.unix || is_loopback_addr(&ctx.client.shared.addr);
    ctx.core.cfg.enable_debug_command.allows(local)
}

/// Whether a peer address as CLIENT LIST shows it (`127.0.0.1:5000`, `[::1]:5000`) is loopback.
pub(crate) fn is_loopback_addr(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>().map(|a| a.ip().is_loopback()).unwrap_or(false)
}

/// DEBUG subcommand [arg ...]
fn debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(Error::msg(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let argc = argv.len();
    match (sub.as_str(), argc) {
        ("help", 2) => debug_help(ctx),
        ("sleep", 3) => {
            let secs = lenient_f64(&argv[2]);
            if secs.is_finite() && secs > 0.0 {
                // Holds the core lock on purpose: the whole server stops, as Redis does.
                std::thread::sleep(Duration::from_secs_f64(secs.min(1e9)));
            }
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            ctx.core.active_expire_enabled = lenient_i64(&argv[2]) != 0;
            ctx.out.ok();
        }
        ("object", 3) => debug_object(ctx, &argv[2])?,
        ("digest", 2) => {
            let d = crate::keyspace::digest::dataset_digest(&ctx.core.dbs);
            ctx.out.simple(&crate::util::repr::hex(&d));
        }
        ("digest-value", _) => debug_digest_value(ctx, &argv[2..]),
        ("change-repl-id", 2) => {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            ctx.core.replid = crate::server::random_hex40();
            ctx.core.replid2 = "0".repeat(40);
            ctx.out.ok();
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&argv[2]));
            ctx.out.ok();
        }
        ("error", 3) => {
            return Err(Error(String::from_utf8_lossy(&argv[2]).into_owned().into()));
        }
        ("protocol", 3) => debug_protocol(ctx, &argv[2])?,
        ("populate", 3..=5) => debug_populate(ctx, argv)?,
        ("reload", _) => debug_reload(ctx, &argv[2..])?,
        _ => {
            let name: String = String::from_utf8_lossy(&argv[1]).chars().take(128).collect();
            return Err(Error::err(format_args!(
                "unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP."
            )));
        }
    }
    Ok(())
}

/// DEBUG DIGEST-VALUE [key ...]: each key's value digest, all zeros for a missing key. Like
/// Redis, it reads a key whose TTL has passed but that is not yet reclaimed.
fn debug_digest_value(ctx: &mut Ctx, keys: &[Bytes]) {
    ctx.out.array(keys.len());
    for k in keys {
        let mut d = crate::keyspace::digest::Digest::default();
        if let Some(e) = ctx.db().table.get(k) {
            crate::keyspace::digest::value_digest(&mut d, e);
        }
        ctx.out.simple(&crate::util::repr::hex(&d));
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the dataset (unless NOSAVE), then loads it
/// back from the file, replacing the keyspace (MERGE: adding to it).
fn debug_reload(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let (mut merge, mut noflush, mut nosave) = (false, false, false);
    for o in opts {
        if Ctx::is(o, "merge") {
            merge = true;
        } else if Ctx::is(o, "noflush") {
            noflush = true;
        } else if Ctx::is(o, "nosave") {
            nosave = true;
        } else {
            return Err(Error::msg(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if !nosave && crate::persist::snapshot::save(ctx.core).is_err() {
        return Err(Error::msg("ERR"));
    }
    // Unless NOFLUSH, Redis empties the databases first, with what a FLUSHALL tells others;
    // Vireo loads the file before it replaces them, so that a file that fails to load loses
    // nothing.
    if !noflush {
        super::keys::signal_flush(ctx, None);
    }
    let res = if noflush && !merge {
        // Keys of the file must not exist already: load, then refuse on any clash.
        let opts = crate::persist::snapshot::load_opts(ctx.core);
        let n = ctx.core.dbs.len();
        std::fs::read(&ctx.core.cfg.dbfilename)
            .map_err(crate::persist::rdb::RdbError::Io)
            .and_then(|d| crate::persist::rdb::load::load(&d, n, &opts))
            .and_then(|l| {
                for (db, new) in ctx.core.dbs.iter().zip(&l.dbs) {
                    if new.table.iter().any(|e| db.table.contains(e.key())) {
                        return Err(crate::persist::rdb::RdbError::Corrupt("duplicate key".into()));
                    }
                }
                crate::persist::snapshot::install(ctx.core, l, true);
                Ok(true)
            })
    } else {
        crate::persist::snapshot::load_into(ctx.core, noflush)
    };
    if !noflush {
        crate::module_host::events::flush(ctx.server, ctx.core, SE::END, -1);
    }
    match res {
        Ok(false) => {
            // (NOSAVE and no file: Redis has emptied the dataset by now; Vireo keeps it.)
            tracing::warn!("DEBUG RELOAD: no RDB file at {}", ctx.core.cfg.dbfilename);
            Err(Error::msg("ERR Error trying to load the RDB dump"))
        }
        Ok(true) => {
            tracing::warn!("DB reloaded by DEBUG RELOAD");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Error trying to load the RDB dump: {e}");
            Err(Error::msg("ERR Error trying to load the RDB dump"))
        }
    }
}

/// DEBUG OBJECT key
fn debug_object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    let clock = ctx.core.lru_clock;
    let shared = keyspace::shares_integers(&ctx.core.cfg);
    let compress = ctx.core.cfg.rdbcompression;
    let db = &mut ctx.core.dbs[ctx.client.db];
    let Some(e) = db.peek(key, now) else {
        return Err(Error::NO_SUCH_KEY);
    };
    let addr = e.key().as_ptr() as usize;
    let serialized = serialized_len(e, compress);
    let line = format!(
        "Value at:{addr:#x} refcount:{} encoding:{} serializedlength:{serialized} lru:{} lru_seconds_idle:{}",
        keyspace::refcount(e, shared),
        keyspace::encoding_name(e),
        e.lru(),
        keyspace::idle_ms(e.lru(), clock) / 1000
    );
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG PROTOCOL type
fn debug_protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let out = &mut ctx.out;
    let kind = String::from_utf8_lossy(kind).to_ascii_lowercase();
    match kind.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => out.big_number("1234567999999999999999999999999999999"),
        "null" => out.null(),
        "array" => {
            out.array(3);
            (0..3).for_each(|j| out.int(j));
        }
        "set" => {
            out.set(3);
            (0..3).for_each(|j| out.int(j));
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if out.is_resp3() {
                out.attribute(1);
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.is_resp3() {
                return Err(Error::msg("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        _ => {
            return Err(Error::msg(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

/// A positive integer argument, with Redis's message for the rest.
fn positive(arg: &[u8]) -> Result<u64, Error> {
    let n = parse_i64(arg).ok_or(Error::NOT_INT)?;
    if n < 0 {
        return Err(Error::msg("ERR value is out of range, must be positive"));
    }
    Ok(n as u64)
}

/// DEBUG POPULATE count [prefix] [size]
fn debug_populate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = positive(&argv[2])?;
    let size = if argv.len() == 5 { Some(positive(&argv[4])? as usize) } else { None };
    let prefix: &[u8] = if argv.len() >= 4 { &argv[3] } else { b"key" };
    let now = ctx.now;
    let access = keyspace::Access::of(ctx.core, ctx.client);
    let tag = keyspace::new_value_tag(&ctx.core.cfg);
    let db = &mut ctx.core.dbs[ctx.client.db];
    let mut key = Vec::with_capacity(prefix.len() + 21);
    let mut val = Vec::new();
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        let _ = write!(VecWriter(&mut key), ":{j}");
        if db.exists(&key, now) {
            continue;
        }
        val.clear();
        let _ = write!(VecWriter(&mut val), "value:{j}");
        if let Some(size) = size {
            val.resize(size, 0);
        }
        db.add(&key, Value::string(&val), None, tag, access);
    }
    ctx.out.ok();
    Ok(())
}

/// `fmt::Write` into a byte vector.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// MEMORY

/// MEMORY USAGE key [SAMPLES count]
fn memory_usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut j = 3;
    while j < argv.len() {
        if Ctx::is(&argv[j], "samples") && j + 1 < argv.len() {
            let n = parse_i64(&argv[j + 1]).ok_or(Error::NOT_INT)?;
            if n < 0 {
                return Err(Error::SYNTAX);
            }
            // Collections report their exact size; the sample count has nothing to tune yet.
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let now = ctx.now;
    let db = &mut ctx.core.dbs[ctx.client.db];
    let keys = db.len().max(1);
    let bucket_share = db.table.bucket_bytes() / keys;
    let Some(e) = db.peek(&argv[2], now) else {
        ctx.out.null();
        return Ok(());
    };
    let mut usage = info::jemalloc_size_class(e.alloc_size()) + bucket_share;
    if let ValueRef::Obj(o) = e.value() {
        usage += o.mem_usage();
    }
    ctx.out.int(usage as i64);
    Ok(())
}

/// A ratio as Redis computes it (in single precision) and prints it.
fn float_ratio(v: f64) -> f64 {
    (v as f32) as f64
}

/// MEMORY STATS
fn memory_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let m = MemoryReport::collect(ctx.core);
    let out = &mut ctx.out;
    out.map(27 + m.db_overhead.len());
    let int = |out: &mut crate::resp::Reply, k: &str, v: i64| {
        out.bulk(k.as_bytes());
        out.int(v);
    };
    int(out, "peak.allocated", m.peak as i64);
    int(out, "total.allocated", m.used as i64);
    int(out, "startup.allocated", m.startup as i64);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients_normal as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for (db, bytes) in &m.db_overhead {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", *bytes as i64);
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.overhead as i64);
    int(out, "keys.count", m.keys as i64);
    int(out, "keys.bytes-per-key", m.bytes_per_key() as i64);
    int(out, "dataset.bytes", m.dataset() as i64);
    out.bulk(b"dataset.percentage");
    out.double(float_ratio(m.dataset_perc()));
    out.bulk(b"peak.percentage");
    out.double(float_ratio(m.peak_perc()));
    int(out, "allocator.allocated", m.alloc.allocated as i64);
    int(out, "allocator.active", m.alloc.active as i64);
    int(out, "allocator.resident", m.alloc.resident as i64);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(float_ratio(m.allocator_frag_ratio()));
    int(out, "allocator-fragmentation.bytes", m.allocator_frag_bytes());
    out.bulk(b"allocator-rss.ratio");
    out.double(float_ratio(m.allocator_rss_ratio()));
    int(out, "allocator-rss.bytes", m.allocator_rss_bytes());
    out.bulk(b"rss-overhead.ratio");
    out.double(float_ratio(m.rss_overhead_ratio()));
    int(out, "rss-overhead.bytes", m.rss_overhead_bytes());
    out.bulk(b"fragmentation");
    out.double(float_ratio(m.fragmentation_ratio()));
    int(out, "fragmentation.bytes", m.fragmentation_bytes());
    Ok(())
}

/// MEMORY DOCTOR
fn memory_doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let m = MemoryReport::collect(ctx.core);
    let mut report = String::new();
    if m.used < 5 * 1024 * 1024 {
        report.push_str(
            "This server holds very little data (under 5 MB), too little for a memory \
             diagnosis to mean anything. Ask again once it holds a real dataset.\n",
        );
    } else {
        let mut issues = Vec::new();
        if m.peak as f64 > m.used as f64 * 1.5 {
            issues.push(format!(
                " * Peak memory: the peak was {} while {} is in use now. The allocator keeps \
                 some of the freed memory, which can show as fragmentation (see below). If the \
                 peak was a one-off, MEMORY PURGE may give some of it back.",
                info::bytes_to_human(m.peak),
                info::bytes_to_human(m.used)
            ));
        }
        if m.fragmentation_ratio() > 1.4 && m.fragmentation_bytes() > 10 << 20 {
            issues.push(format!(
                " * High fragmentation: the process holds {:.2} times the memory its data \
                 uses ({} resident for {} used). Freed memory the allocator cannot return \
                 to the system shows up this way; MEMORY PURGE may help.",
                m.fragmentation_ratio(),
                info::bytes_to_human(m.rss),
                info::bytes_to_human(m.used)
            ));
        }
        if m.clients_normal > 200 << 20 {
            issues.push(format!(
                " * Client buffers: connected clients hold {} of input and output buffers. \
                 Look for slow readers or very large pipelines in CLIENT LIST.",
                info::bytes_to_human(m.clients_normal)
            ));
        }
        if issues.is_empty() {
            report.push_str("No memory problems found: this instance looks healthy.\n");
        } else {
            report.push_str("Memory report:\n\n");
            for i in issues {
                report.push_str(&i);
                report.push_str("\n\n");
            }
        }
    }
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS
fn memory_malloc_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let mut buf = Vec::new();
    let opts = tikv_jemalloc_ctl::stats_print::Options::default();
    if tikv_jemalloc_ctl::stats_print::stats_print(&mut buf, opts).is_err() {
        buf = b"Stats not supported for the current allocator".to_vec();
    }
    ctx.out.verbatim("txt", &buf);
    Ok(())
}

/// MEMORY PURGE: asks jemalloc to give the unused dirty pages of every arena back to the system.
fn memory_purge(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    jemalloc_purge();
    ctx.out.ok();
    Ok(())
}

fn jemalloc_purge() {
    // tikv-jemalloc-ctl cannot issue a mallctl that takes no value, so call jemalloc directly.
    // 4096 is MALLCTL_ARENAS_ALL.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name and no old or new value, as this mallctl expects.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// MEMORY HELP
fn memory_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(
        &mut ctx.out,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers() {
        assert_eq!(lenient_f64(b"0.5"), 0.5);
        assert_eq!(lenient_f64(b"abc"), 0.0);
        assert_eq!(lenient_f64(b"1.5x"), 1.5);
        assert_eq!(lenient_i64(b"1"), 1);
        assert_eq!(lenient_i64(b"0"), 0);
        assert_eq!(lenient_i64(b"x"), 0);
        assert_eq!(lenient_i64(b"12ab"), 12);
    }

    #[test]
    fn rdb_lengths() {
        let len =
            |v: &[u8]| serialized_len(&keyspace::Entry::new(b"k", Value::string(v), None), true);
        assert_eq!(len(b"12"), 2);
        assert_eq!(len(b"-5"), 2);
        assert_eq!(len(b"barx"), 5);
        assert_eq!(len(b"123456789012"), 13);
        assert_eq!(len(b"40000"), 5);
        assert!(len(&[b'a'; 100]) < 20);
    }
}
