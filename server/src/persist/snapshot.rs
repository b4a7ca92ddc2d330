//! The server's side of RDB files: saving the whole keyspace (SAVE, SHUTDOWN, FLUSHALL, DEBUG
//! RELOAD), loading `dir`/`dbfilename` at start-up, and the options both take from the
//! configuration. The encoders themselves are in [`super::rdb`].

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Instant;

use super::rdb::{self, load::LoadOpts, save::FileWriter, save::KeyAge, save::SaveOpts, RdbError};
use crate::config::{Config, MaxmemoryPolicy};
use crate::keyspace::{self, Access, Lru};
use crate::module_host::events;
use crate::server::{Core, Server};
use std::sync::Arc;

/// RDB bookkeeping kept in the core (INFO persistence, function libraries).
#[derive(Debug, Default)]
pub struct RdbState {
    /// Successful saves since start-up (`rdb_saves`).
    pub saves: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// The BGSAVE running: when it started (unix ms) and the dirty count it covers.
    pub bgsave: Option<(i64, u64)>,
    /// Whether the last BGSAVE failed (`rdb_last_bgsave_status:err`; with
    /// `stop-writes-on-bgsave-error` writes are refused until one succeeds).
    pub last_bgsave_failed: bool,
    /// When the last BGSAVE failed (unix ms): the save schedule retries only after 5 s.
    pub last_bgsave_try: i64,
    /// BGSAVE SCHEDULE came while an AOF rewrite ran: the cron starts it after.
    pub bgsave_scheduled: bool,
    /// Seconds the last BGSAVE took (-1: none yet).
    pub last_bgsave_secs: i64,
}

impl RdbState {
    pub fn new() -> Self {
        RdbState { last_bgsave_secs: -1, ..Default::default() }
    }
}

/// The encoder of a background save (and of an RDB AOF base): RDB entries and SELECTDB
/// opcodes.
pub(crate) struct RdbEncoder(pub SaveOpts);

impl super::background::Encoder for RdbEncoder {
    fn select_db(&mut self, out: &mut Vec<u8>, db: usize) {
        rdb::save::write_select_db(out, db);
    }
    fn entry(&mut self, out: &mut Vec<u8>, e: &crate::keyspace::Entry) {
        rdb::save::write_entry(out, e, &self.0);
    }
}

/// A point-in-time RDB image being taken without a fork (see `persist::background`): what
/// its writer needs, gathered under the core lock at the image's instant. BGSAVE writes it to
/// a file, a replica's full synchronization to the replica's socket.
pub(crate) struct RdbDump {
    dump: super::background::Dump<RdbEncoder>,
    opts: SaveOpts,
    checksum: bool,
    functions: Vec<Vec<u8>>,
    aux: Vec<(&'static str, rdb::save::Aux)>,
    module_aux: (Vec<u8>, Vec<u8>),
    delay_us: u64,
}

impl RdbDump {
    /// Takes the image now. None when a snapshot (BGSAVE, AOF rewrite, a replica's sync) is
    /// already running: there is one at a time.
    pub fn begin(core: &mut Core) -> Option<RdbDump> {
        let opts = save_opts(&core.cfg, core.lru_clock);
        let dump = super::background::Dump::begin(core, RdbEncoder(opts))?;
        Some(RdbDump {
            dump,
            opts,
            checksum: core.cfg.rdbchecksum,
            functions: crate::cmd::function::library_codes(core),
            aux: rdb::save::standard_aux(crate::info::used_memory(), false),
            module_aux: module_aux(core, opts.compress),
            delay_us: core.cfg.rdb_key_save_delay.max(0) as u64,
        })
    }

    /// Makes it a replica's payload (see [`rdb::save::add_repl_aux`]).
    pub fn for_replica(&mut self, stream_db: usize, replid: &str, offset: u64) {
        rdb::save::add_repl_aux(&mut self.aux, stream_db, replid, offset);
    }

    /// Writes the whole RDB to `w` (on the caller's thread, taking the core lock a slice at a
    /// time). On an error the walk is still brought to its end.
    pub fn write<W: io::Write>(self, server: &Server, w: W) -> io::Result<W> {
        let RdbDump { dump, opts, checksum, functions, aux, module_aux, delay_us } = self;
        let mut fw = FileWriter::new(w, opts, checksum);
        if let Err(e) = fw.header(&aux, &functions).and_then(|()| fw.raw_entry(&module_aux.0)) {
            dump.cancel(server);
            return Err(e);
        }
        dump.run(server, |b| fw.raw_entry(b), delay_us)?;
        fw.raw_entry(&module_aux.1)?;
        fw.footer()
    }

    /// Gives the image up unwritten.
    pub fn cancel(self, server: &Server) {
        self.dump.cancel(server);
    }
}

/// BGSAVE: starts writing `dbfilename` from a point-in-time image of the data set taken now,
/// on a thread of its own, while clients go on (see `persist::background`: no fork, no copy).
/// Returns Redis's error when one is already running.
pub fn bgsave(server: &Arc<Server>, core: &mut Core) -> Result<(), &'static str> {
    if core.rdb.bgsave.is_some() {
        return Err("ERR Background save already in progress");
    }
    let Some(dump) = RdbDump::begin(core) else {
        return Err("ERR Background save already in progress");
    };
    let now = crate::clock::mstime();
    core.rdb.bgsave = Some((now, core.dirty));
    let path = std::path::PathBuf::from(&core.cfg.dbfilename);
    let persistence = vireo_module_api::abi::server_event::PERSISTENCE;
    let rdb_start = vireo_module_api::abi::server_event::RDB_START;
    crate::module_host::events::fire(server, core, events::data(persistence, rdb_start, 0));
    let server = server.clone();
    tracing::info!("Background saving started");
    std::thread::spawn(move || {
        let tmp = format!("temp-bg-{}.rdb", std::process::id());
        let mut dump = Some(dump);
        let res =
            write_file_atomic_as(&path, &tmp, |f| dump.take().expect("run once").write(&server, f));
        // The file could not even be opened: the walk must still end.
        if let Some(d) = dump {
            d.cancel(&server);
        }
        let mut core = server.core.lock();
        let end = match &res {
            Ok(()) => vireo_module_api::abi::server_event::END,
            Err(_) => vireo_module_api::abi::server_event::FAILED,
        };
        let (started, dirty_then) = core.rdb.bgsave.take().unwrap_or((now, 0));
        core.rdb.last_bgsave_secs = (crate::clock::mstime() - started) / 1000;
        match res {
            Ok(()) => {
                tracing::info!("Background saving terminated with success");
                core.dirty = core.dirty.saturating_sub(dirty_then);
                core.lastsave = crate::clock::unix_secs();
                core.rdb.saves += 1;
                core.rdb.last_bgsave_failed = false;
            }
            // Abandoned on purpose (FLUSHALL): not a failure, as a killed child is not.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                tracing::warn!("Background saving terminated: {e}");
            }
            Err(e) => {
                tracing::warn!("Background saving error: {e}");
                core.rdb.last_bgsave_failed = true;
                core.rdb.last_bgsave_try = crate::clock::mstime();
            }
        }
        crate::module_host::events::fire(&server, &mut core, events::data(persistence, end, 0));
    });
    Ok(())
}

/// The save schedule (`save <seconds> <changes>`), from the cron: a BGSAVE when a save point
/// is reached, as Redis (after a failed one, not before 5 seconds).
pub fn cron(server: &Arc<Server>, core: &mut Core) {
    if core.rdb.bgsave.is_some() || core.aof.rewriting.is_some() {
        return;
    }
    if core.rdb.bgsave_scheduled {
        core.rdb.bgsave_scheduled = false;
        let _ = bgsave(server, core);
        return;
    }
    if core.cfg.save.is_empty() {
        return;
    }
    let now = crate::clock::mstime();
    let since = (crate::clock::unix_secs() - core.lastsave).max(0) as u64;
    let due = core.cfg.save.iter().any(|p| core.dirty >= p.changes && since >= p.seconds);
    let may_retry = !core.rdb.last_bgsave_failed || now - core.rdb.last_bgsave_try > 5000;
    if due && may_retry {
        tracing::info!("{} changes in {} seconds. Saving...", core.dirty, since);
        let _ = bgsave(server, core);
    }
}

/// Redis's refusal of writes after a failed BGSAVE (`stop-writes-on-bgsave-error`).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Whether writes are refused with [`MISCONF`] now.
pub fn writes_refused(core: &Core) -> bool {
    core.cfg.stop_writes_on_bgsave_error && core.rdb.last_bgsave_failed && !core.cfg.save.is_empty()
}

/// The writer options of the current configuration.
pub fn save_opts(cfg: &Config, lru_clock: u32) -> SaveOpts {
    use MaxmemoryPolicy::*;
    let age = match cfg.maxmemory_policy {
        VolatileLru | AllkeysLru => KeyAge::Idle { clock: lru_clock },
        VolatileLfu | AllkeysLfu => {
            KeyAge::Freq { minutes: keyspace::lfu_minutes_now(), decay_time: cfg.lfu_decay_time }
        }
        _ => KeyAge::None,
    };
    SaveOpts { compress: cfg.rdbcompression, age }
}

/// The loader options of the current configuration.
pub fn load_opts(core: &Core) -> LoadOpts {
    let cfg = &core.cfg;
    let lru = if keyspace::is_lfu(cfg.maxmemory_policy) {
        Lru::Lfu {
            minutes: keyspace::lfu_minutes_now(),
            log_factor: cfg.lfu_log_factor,
            decay_time: cfg.lfu_decay_time,
        }
    } else {
        Lru::Clock(core.lru_clock)
    };
    LoadOpts {
        hash: crate::types::hash::Limits {
            max_entries: cfg.hash_max_listpack_entries,
            max_value: cfg.hash_max_listpack_value,
        },
        zset: crate::types::zset::Limits {
            entries: cfg.zset_max_listpack_entries,
            value: cfg.zset_max_listpack_value,
        },
        set_max_intset: cfg.set_max_intset_entries,
        list_fill: cfg.list_max_listpack_size,
        access: Access { lru, touch: true },
        drop_expired_before: Some(crate::clock::mstime()),
        verify_checksum: cfg.rdbchecksum,
        module_types: core.modules.types.clone(),
    }
}

/// The module aux records written before and after the keyspace (encoded when the image is
/// taken).
pub fn module_aux(core: &Core, compress: bool) -> (Vec<u8>, Vec<u8>) {
    use crate::module_host::types::aux_records;
    use vireo_module_api::abi::{AUX_AFTER_RDB, AUX_BEFORE_RDB};
    let reg = &core.modules.types;
    if reg.is_empty() {
        return (Vec::new(), Vec::new());
    }
    (aux_records(reg, AUX_BEFORE_RDB, compress), aux_records(reg, AUX_AFTER_RDB, compress))
}

/// Writes the whole keyspace as an RDB image to `w`.
/// `aof_base` marks it as an AOF base (the `aof-base` aux field).
pub fn write_core<W: io::Write>(core: &Core, w: W, aof_base: bool) -> io::Result<W> {
    write_image(core, w, aof_base, None, None)
}

/// [`write_core`], or with `only_functions` (`REPLCONF rdb-filter-only`, `redis-cli
/// --functions-rdb`) an image without keys or module data: `Some(true)` keeps the function
/// libraries, `Some(false)` leaves nothing. `replica`: a replica's payload, with the stream's
/// database, replication id and offset (see [`rdb::save::add_repl_aux`]).
pub fn write_image<W: io::Write>(
    core: &Core,
    w: W,
    aof_base: bool,
    only_functions: Option<bool>,
    replica: Option<(usize, &str, u64)>,
) -> io::Result<W> {
    let opts = save_opts(&core.cfg, core.lru_clock);
    let mut fw = FileWriter::new(w, opts, core.cfg.rdbchecksum);
    let mut aux = rdb::save::standard_aux(crate::info::used_memory(), aof_base);
    if let Some((db, replid, offset)) = replica {
        rdb::save::add_repl_aux(&mut aux, db, replid, offset);
    }
    let codes = match only_functions {
        Some(false) => Vec::new(),
        _ => crate::cmd::function::library_codes(core),
    };
    fw.header(&aux, &codes)?;
    if only_functions.is_some() {
        return fw.footer();
    }
    let (before, after) = module_aux(core, opts.compress);
    fw.raw_entry(&before)?;
    for db in &core.dbs {
        if db.is_empty() {
            continue;
        }
        fw.select_db(db.id, db.len() as u64, db.expires as u64)?;
        for e in db.table.iter() {
            fw.entry(e)?;
        }
    }
    fw.raw_entry(&after)?;
    fw.footer()
}

/// Writes `path` atomically: a temp file in the same directory, fsync, rename, fsync of the
/// directory.
pub fn write_file_atomic(
    path: &Path,
    fill: impl FnOnce(File) -> io::Result<File>,
) -> io::Result<()> {
    write_file_atomic_as(path, &format!("temp-{}.rdb", std::process::id()), fill)
}

/// [`write_file_atomic`] through the temp file `tmp_name` (a BGSAVE's differs from SAVE's).
fn write_file_atomic_as(
    path: &Path,
    tmp_name: &str,
    fill: impl FnOnce(File) -> io::Result<File>,
) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(tmp_name);
    let res = (|| {
        let f = File::create(&tmp).map_err(|e| {
            let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
            io::Error::new(
                e.kind(),
                format!(
                    "Failed opening the temp RDB file {} (in server root dir {cwd}) for saving: {e}",
                    tmp.display()
                ),
            )
        })?;
        let f = fill(f)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// SAVE: writes the keyspace to `dbfilename` under the core lock; on success the dirty counter
/// is reset and LASTSAVE moves.
pub fn save(core: &mut Core) -> Result<(), String> {
    let path = std::path::PathBuf::from(&core.cfg.dbfilename);
    let res = write_file_atomic(&path, |f| write_core(core, f, false));
    match res {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            core.dirty = 0;
            core.lastsave = crate::clock::unix_secs();
            core.rdb.saves += 1;
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Write error saving DB on disk: {e}");
            Err(e.to_string())
        }
    }
}

/// Loads `dbfilename` into the core, replacing every database only once the whole file has
/// loaded. `Ok(false)` when there is no file. With `merge`, keys of the file are added to the
/// current ones (replacing those with the same name).
pub fn load_into(core: &mut Core, merge: bool) -> Result<bool, RdbError> {
    let path = std::path::PathBuf::from(&core.cfg.dbfilename);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(RdbError::Io(e)),
    };
    let opts = load_opts(core);
    let loaded = rdb::load::load(&data, core.dbs.len(), &opts)?;
    install(core, loaded, merge);
    Ok(true)
}

/// Swaps loaded databases into the core.
pub fn install(core: &mut Core, loaded: rdb::load::Loaded, merge: bool) {
    for (db, mut new) in core.dbs.iter_mut().zip(loaded.dbs) {
        if merge {
            let keys: Vec<Vec<u8>> = new.table.iter().map(|e| e.key().to_vec()).collect();
            for k in keys {
                if let Some(e) = new.table.remove(&k) {
                    db.remove(&k);
                    if e.expire_at().is_some() {
                        db.expires += 1;
                    }
                    db.table.insert(e);
                }
            }
        } else {
            let old = db.take_all();
            if !old.is_empty() {
                std::thread::spawn(move || drop(old));
            }
            let expires = new.expires;
            db.table = new.take_all();
            db.expires = expires;
        }
    }
    core.rdb.last_load_keys_loaded = loaded.keys_loaded;
    core.rdb.last_load_keys_expired = loaded.keys_expired;
    for code in &loaded.functions {
        // The library was valid where it was saved; one that no longer loads is reported and
        // skipped (the data is in place already).
        if let Err(e) = crate::cmd::function::load_library(core, code.as_bytes()) {
            tracing::warn!("Failed loading a function library from the RDB: {e}");
        }
    }
}

/// Start-up: loads the RDB file when there is one (the caller checks that the AOF is off),
/// logging as Redis does. The file parses into fresh databases without the core lock, so that
/// clients are answered meanwhile (`-LOADING`, INFO: see `persist::loading`); they are swapped
/// in at the end. An error is fatal to the caller.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let start = Instant::now();
    let (path, opts, ndbs, delay) = {
        let core = server.core.lock();
        let path = std::path::PathBuf::from(&core.cfg.dbfilename);
        (path, load_opts(&core), core.dbs.len(), core.cfg.key_load_delay)
    };
    let fatal =
        |e: RdbError| format!("Fatal error loading the DB ({}): {e}. Exiting.", path.display());
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fatal(RdbError::Io(e))),
    };
    server.loading.set_total(data.len() as u64);
    let mut tracker = super::loading::Tracker::new(&server.loading, delay);
    tracker.rdb_start();
    let loaded = rdb::load::load_with(&data, ndbs, &opts, &mut tracker);
    tracker.rdb_end();
    let loaded = loaded.map_err(fatal)?;
    tracker.file_done(data.len() as u64);
    let mut core = server.core.lock();
    install(&mut core, loaded, false);
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        core.rdb.last_load_keys_loaded,
        core.rdb.last_load_keys_expired
    );
    tracing::info!("DB loaded from disk: {:.3} seconds", start.elapsed().as_secs_f64());
    Ok(())
}
