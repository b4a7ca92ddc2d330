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
use crate::server::Core;

/// RDB bookkeeping kept in the core (INFO persistence, function libraries).
#[derive(Debug, Default)]
pub struct RdbState {
    /// Successful saves since start-up (`rdb_saves`).
    pub saves: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
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
    }
}

/// Writes the whole keyspace as an RDB image to `w`.
/// `aof_base` marks it as an AOF base (the `aof-base` aux field).
pub fn write_core<W: io::Write>(core: &Core, w: W, aof_base: bool) -> io::Result<W> {
    let opts = save_opts(&core.cfg, core.lru_clock);
    let mut fw = FileWriter::new(w, opts, core.cfg.rdbchecksum);
    fw.header(&rdb::save::standard_aux(crate::info::used_memory(), aof_base))?;
    for code in crate::cmd::function::library_codes(core) {
        fw.function(&code)?;
    }
    for db in &core.dbs {
        if db.is_empty() {
            continue;
        }
        fw.select_db(db.id, db.len() as u64, db.expires as u64)?;
        for e in db.table.iter() {
            fw.entry(e)?;
        }
    }
    fw.footer()
}

/// Writes `path` atomically: a temp file in the same directory, fsync, rename, fsync of the
/// directory.
pub fn write_file_atomic(
    path: &Path,
    fill: impl FnOnce(File) -> io::Result<File>,
) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
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

/// Start-up: loads the RDB file when there is one (and the AOF is off), logging as Redis
/// does. An error is fatal to the caller.
pub fn load_at_startup(core: &mut Core) -> Result<(), String> {
    let start = Instant::now();
    match load_into(core, false) {
        Ok(false) => Ok(()),
        Ok(true) => {
            tracing::info!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                core.rdb.last_load_keys_loaded,
                core.rdb.last_load_keys_expired
            );
            tracing::info!("DB loaded from disk: {:.3} seconds", start.elapsed().as_secs_f64());
            Ok(())
        }
        Err(e) => Err(format!(
            "Fatal error loading the DB ({}): {e}. Exiting.",
            std::path::Path::new(&core.cfg.dbfilename).display()
        )),
    }
}
