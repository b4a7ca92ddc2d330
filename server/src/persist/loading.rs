//! The loading state at start-up, as Redis 7.0's: the server listens while it loads its RDB
//! file or its AOF; commands without the `loading` flag are refused with [`LOADING_ERROR`];
//! `INFO persistence` shows `loading:1` and the progress fields; the log shows the progress
//! every [`LOG_EVERY`]. The loaders report through a [`Tracker`] and never hold the core lock
//! for long (the RDB parses into fresh databases without it; the AOF replays in short slices).
//!
//! `key-load-delay` (microseconds per key or AOF command; a negative `-n` sleeps 1 µs every
//! `n` keys) slows loading down deterministically, for tests.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Redis's reply to a command refused while the data set loads.
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// How often the log shows the progress.
pub const LOG_EVERY: Duration = Duration::from_secs(2);

/// The size of the files start-up has to load (the AOF's manifest and files, or a Redis 6
/// single file, when `appendonly` is on, else the RDB file); None when there are none, and the
/// server starts without a loading state.
pub fn files_to_load(cfg: &crate::config::Config) -> Option<u64> {
    use std::path::Path;
    if cfg.appendonly {
        let manifest = format!("{}.manifest", cfg.appendfilename);
        let any = Path::new(&cfg.appenddirname).join(manifest).exists()
            || Path::new(&cfg.appendfilename).is_file();
        any.then(|| crate::persist::aof::startup_bytes(cfg))
    } else {
        std::fs::metadata(&cfg.dbfilename).ok().map(|m| m.len())
    }
}

/// What INFO and the dispatcher see of a load in progress (in `Server`, read without the core
/// lock).
#[derive(Default)]
pub struct Loading {
    active: AtomicBool,
    /// Unix seconds when loading started (`loading_start_time`).
    start_time: AtomicI64,
    total_bytes: AtomicU64,
    loaded_bytes: AtomicU64,
    /// The `used-mem` aux field of the RDB being loaded.
    rdb_used_mem: AtomicU64,
    /// Keys of the RDB image being parsed (INFO's `rdb_last_load_keys_loaded` moves while it
    /// loads, as Redis's does); `rdb_parsing` says whether one is.
    rdb_keys: AtomicU64,
    rdb_expired: AtomicU64,
    rdb_parsing: AtomicBool,
}

impl Loading {
    /// Whether the server is loading its data now.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Enters the loading state of `total_bytes` to load (before the server accepts
    /// connections, so that no command ever sees the data set before it loaded).
    pub fn start(&self, total_bytes: u64) {
        self.start_time.store(crate::clock::unix_secs(), Relaxed);
        self.total_bytes.store(total_bytes, Relaxed);
        self.loaded_bytes.store(0, Relaxed);
        self.rdb_used_mem.store(0, Relaxed);
        self.active.store(true, Relaxed);
        crate::keyspace::set_loading(true);
    }

    /// The size of the files to load, once known.
    pub fn set_total(&self, total_bytes: u64) {
        self.total_bytes.store(total_bytes, Relaxed);
    }

    /// Leaves the loading state.
    pub fn stop(&self) {
        self.rdb_parsing.store(false, Relaxed);
        self.active.store(false, Relaxed);
        crate::keyspace::set_loading(false);
    }

    /// The live counts of the RDB image being parsed, if one is (keys loaded, keys expired).
    pub fn rdb_keys(&self) -> Option<(u64, u64)> {
        self.rdb_parsing
            .load(Relaxed)
            .then(|| (self.rdb_keys.load(Relaxed), self.rdb_expired.load(Relaxed)))
    }

    /// The `loading_*` fields of `INFO persistence`, while loading (Redis's format and
    /// arithmetic: the percentage and the estimate divide by one more byte than they have).
    pub fn info_fields(&self, out: &mut String) {
        use std::fmt::Write as _;
        if !self.active() {
            return;
        }
        let start = self.start_time.load(Relaxed);
        let total = self.total_bytes.load(Relaxed);
        let loaded = self.loaded_bytes.load(Relaxed);
        let elapsed = (crate::clock::unix_secs() - start).max(0) as u64;
        let perc = loaded as f64 / (total as f64 + 1.0) * 100.0;
        let remaining = total.saturating_sub(loaded);
        let eta = if elapsed == 0 {
            1
        } else {
            (u128::from(elapsed) * u128::from(remaining) / (u128::from(loaded) + 1)) as u64
        };
        let _ = write!(
            out,
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\n\
             loading_rdb_used_mem:{}\r\nloading_loaded_bytes:{loaded}\r\n\
             loading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
            self.rdb_used_mem.load(Relaxed)
        );
    }
}

/// Sleeps `key-load-delay` per key, a few keys at a time (outside any lock).
struct Pacer {
    delay: i32,
    pending: u64,
}

impl Pacer {
    /// Counts one key; true when a sleep is due.
    #[inline]
    fn tick(&mut self) -> bool {
        if self.delay == 0 {
            return false;
        }
        self.pending += 1;
        if self.delay > 0 {
            // Sleep every few keys: a sleep costs tens of microseconds on its own.
            self.pending * self.delay as u64 >= 500
        } else {
            self.pending >= u64::from(self.delay.unsigned_abs())
        }
    }

    fn sleep(&mut self) {
        let us = if self.delay == 0 {
            0
        } else if self.delay > 0 {
            self.pending * self.delay as u64
        } else {
            self.pending / u64::from(self.delay.unsigned_abs())
        };
        self.pending = 0;
        if us > 0 {
            std::thread::sleep(Duration::from_micros(us));
        }
    }
}

/// The loading thread's side: publishes the progress, logs it, and paces the load.
pub struct Tracker<'a> {
    loading: &'a Loading,
    pacer: Pacer,
    /// Bytes of the files loaded before the current one.
    base: u64,
    /// Keys (RDB) or commands (AOF) loaded, in all files.
    items: u64,
    /// Items of the current RDB image at its start.
    rdb_items_start: u64,
    last_log: Instant,
    last_log_items: u64,
    /// Checks of the clock are made every few items.
    since_check: u32,
}

impl<'a> Tracker<'a> {
    pub fn new(loading: &'a Loading, key_load_delay: i32) -> Self {
        Tracker {
            loading,
            pacer: Pacer { delay: key_load_delay, pending: 0 },
            base: 0,
            items: 0,
            rdb_items_start: 0,
            last_log: Instant::now(),
            last_log_items: 0,
            since_check: 0,
        }
    }

    /// The next file starts after `done` bytes of the ones before.
    pub fn file_done(&mut self, file_len: u64) {
        self.base += file_len;
        self.loading.loaded_bytes.store(self.base, Relaxed);
    }

    /// An RDB image starts (a dump file, or an AOF base / preamble).
    pub fn rdb_start(&mut self) {
        self.rdb_items_start = self.items;
        self.loading.rdb_keys.store(0, Relaxed);
        self.loading.rdb_expired.store(0, Relaxed);
        self.loading.rdb_parsing.store(true, Relaxed);
    }

    /// The RDB image ended (loaded or not).
    pub fn rdb_end(&mut self) {
        self.loading.rdb_parsing.store(false, Relaxed);
    }

    /// One more key or command, the current file read up to `pos`. True when the caller should
    /// let go of any lock and call [`Tracker::pause`] (a `key-load-delay` sleep is due, or
    /// the slice has run long enough for others to get a turn).
    #[inline]
    pub fn item(&mut self, pos: usize) -> bool {
        self.items += 1;
        let sleep = self.pacer.tick();
        self.since_check += 1;
        if !sleep && self.since_check < 1024 {
            return false;
        }
        self.since_check = 0;
        self.loading.loaded_bytes.store(self.base + pos as u64, Relaxed);
        if self.last_log.elapsed() >= LOG_EVERY {
            self.log();
        }
        true
    }

    /// Counts of the RDB image being parsed, for INFO.
    pub fn rdb_counts(&self, expired: u64) {
        let l = self.loading;
        let keys = (self.items - self.rdb_items_start).saturating_sub(expired);
        l.rdb_keys.store(keys, Relaxed);
        l.rdb_expired.store(expired, Relaxed);
    }

    /// The `used-mem` aux field of an RDB image.
    pub fn rdb_used_mem(&self, bytes: u64) {
        self.loading.rdb_used_mem.store(bytes, Relaxed);
    }

    /// Sleeps what `key-load-delay` asks for so far. Call without locks held.
    pub fn pause(&mut self) {
        self.pacer.sleep();
    }

    fn log(&mut self) {
        let l = self.loading;
        let secs = self.last_log.elapsed().as_secs_f64().max(0.001);
        let rate = (self.items - self.last_log_items) as f64 / secs;
        let total = l.total_bytes.load(Relaxed);
        let loaded = l.loaded_bytes.load(Relaxed);
        let what = if l.rdb_parsing.load(Relaxed) { "keys" } else { "commands" };
        tracing::info!(
            "Loading: {:.2}% ({loaded} of {total} bytes), {} {what} loaded, {rate:.0} {what} per \
             second",
            loaded as f64 / (total as f64 + 1.0) * 100.0,
            self.items,
        );
        self.last_log = Instant::now();
        self.last_log_items = self.items;
    }
}

/// The RDB loader's progress hook, through a [`Tracker`]: paces and publishes every key
/// (parsing holds no lock, so pauses happen right there).
impl super::rdb::load::Progress for Tracker<'_> {
    fn aux(&mut self, key: &[u8], value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        let num = text.parse::<i64>().ok();
        match (key, num) {
            (b"redis-ver", _) => tracing::info!("Loading RDB produced by version {text}"),
            (b"ctime", Some(t)) => {
                let age = (crate::clock::unix_secs() - t).max(0);
                tracing::info!("RDB age {age} seconds");
            }
            (b"used-mem", Some(n)) => {
                let n = n.max(0) as u64;
                self.rdb_used_mem(n);
                tracing::info!(
                    "RDB memory usage when created {:.2} Mb",
                    n as f64 / (1024.0 * 1024.0)
                );
            }
            _ => {}
        }
    }

    #[inline]
    fn key(&mut self, pos: usize, expired: u64) {
        if self.item(pos) {
            self.rdb_counts(expired);
            self.pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_follow_redis_arithmetic() {
        let l = Loading::default();
        let mut out = String::new();
        l.info_fields(&mut out);
        assert!(out.is_empty());
        l.active.store(true, Relaxed);
        l.total_bytes.store(4488988, Relaxed);
        l.loaded_bytes.store(2097148, Relaxed);
        l.start_time.store(crate::clock::unix_secs() - 12, Relaxed);
        l.rdb_used_mem.store(19035856, Relaxed);
        l.info_fields(&mut out);
        let start = l.start_time.load(Relaxed);
        assert_eq!(
            out,
            format!(
                "loading_start_time:{start}\r\nloading_total_bytes:4488988\r\n\
                 loading_rdb_used_mem:19035856\r\nloading_loaded_bytes:2097148\r\n\
                 loading_loaded_perc:46.72\r\nloading_eta_seconds:13\r\n"
            )
        );
    }

    #[test]
    fn pacer_sleeps_in_batches() {
        let mut p = Pacer { delay: 100, pending: 0 };
        assert!((0..4).all(|_| !p.tick()));
        assert!(p.tick());
        let mut p = Pacer { delay: -3, pending: 0 };
        assert!(!p.tick() && !p.tick() && p.tick());
        let mut p = Pacer { delay: 0, pending: 0 };
        assert!(!p.tick());
        p.sleep();
    }
}
