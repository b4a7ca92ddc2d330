//! The append only file, as Redis 7.0's multi-part AOF.
//!
//! Files live in `appenddirname` (relative to `dir`): a base file (the dataset at the last
//! rewrite), incremental files (every write since, as commands), and the manifest
//! `<appendfilename>.manifest` naming them (see [`manifest`]). The manifest is replaced
//! atomically: written to a temp file, fsynced, renamed over the old one, the directory fsynced.
//!
//! Writing: the propagation stream (`crate::propagate`) feeds [`AofSink`], which appends to an
//! in-memory buffer while the core lock is held. After each batch of commands, before the
//! batch's replies go out, the connection task waits on the [`Barrier`] the batch returned:
//! with `appendfsync always` a commit thread writes and fsyncs the buffer (group commit: one
//! fsync covers every batch appended before it began, while other connections keep running
//! theirs); with `everysec` and `no` the task writes it (so a killed
//! process loses nothing the OS has) and a background thread fsyncs once a second (`everysec`)
//! without blocking command execution. The same thread writes what was propagated outside any
//! batch (the active expire cycle).
//!
//! Rewriting (BGREWRITEAOF, the auto-rewrite, `CONFIG SET appendonly yes`) is synchronous under
//! the core lock for now: [`rewrite::write_dataset`] drives [`rewrite::rewrite_entry`] per key.
//! The base format is chosen in [`base_bytes`] alone.

pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::{AppendFsync, Config};
use crate::server::{Core, Server};
use manifest::{FileInfo, Kind, Manifest};

const POLICY_EVERYSEC: u8 = 0;
const POLICY_ALWAYS: u8 = 1;
const POLICY_NO: u8 = 2;

fn policy_of(p: AppendFsync) -> u8 {
    match p {
        AppendFsync::Everysec => POLICY_EVERYSEC,
        AppendFsync::Always => POLICY_ALWAYS,
        AppendFsync::No => POLICY_NO,
    }
}

/// What the propagation sink appended and nobody wrote yet.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Bytes ever appended (a stream offset that survives file switches).
    end: u64,
    timestamps: bool,
    /// The second of the last `#TS:` annotation.
    last_ts: i64,
}

/// The open incremental file.
#[derive(Default)]
struct Writer {
    file: Option<Arc<File>>,
    last_fsync: Option<Instant>,
}

/// The part of the AOF that connection tasks and the fsync thread reach without the core lock.
/// Lock order: core, then `writer`, then `pending`.
pub struct Shared {
    pending: Mutex<Pending>,
    writer: Mutex<Writer>,
    policy: AtomicU8,
    on: AtomicBool,
    /// Stream offsets written to the file and fsynced.
    written: AtomicU64,
    synced: AtomicU64,
    /// The errno of the last failed write (0: the last write succeeded), as Redis's
    /// `aof_last_write_status`/`aof_last_write_errno`: while set, writes are refused with
    /// MISCONF (see [`disk_error`]) and the fsync thread retries the write.
    write_errno: AtomicI32,
    /// The errno of the last failed background fsync (0: the last one succeeded), as Redis's
    /// `aof_bio_fsync_status`.
    fsync_errno: AtomicI32,
    /// When a write error was last logged (Redis logs them at most every 30 s).
    last_error_log: Mutex<Option<Instant>>,
    /// `appendfsync always`: the highest offset a connection waits to see fsynced, for the
    /// group-commit thread (see [`Barrier::wait`]); `synced_cv` wakes that thread.
    sync_wanted: Mutex<u64>,
    sync_cv: parking_lot::Condvar,
    /// Told after each group commit; the waiting connection tasks check `synced` again.
    synced_notify: tokio::sync::Notify,
    syncer_started: AtomicBool,
    /// aof_current_size.
    size: AtomicU64,
    thread_started: AtomicBool,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            pending: Mutex::new(Pending::default()),
            writer: Mutex::new(Writer::default()),
            policy: AtomicU8::new(POLICY_EVERYSEC),
            on: AtomicBool::new(false),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            write_errno: AtomicI32::new(0),
            fsync_errno: AtomicI32::new(0),
            last_error_log: Mutex::new(None),
            sync_wanted: Mutex::new(0),
            sync_cv: parking_lot::Condvar::new(),
            synced_notify: tokio::sync::Notify::new(),
            syncer_started: AtomicBool::new(false),
            size: AtomicU64::new(0),
            thread_started: AtomicBool::new(false),
        }
    }

    /// Writes what is pending (and fsyncs it when `sync`), unless another caller already did up
    /// to `target`.
    fn flush(&self, target: u64, sync: bool) {
        let w = self.writer.lock();
        let done = if sync { &self.synced } else { &self.written };
        if done.load(Ordering::Acquire) >= target {
            return;
        }
        let (buf, end) = {
            let mut p = self.pending.lock();
            (std::mem::take(&mut p.buf), p.end)
        };
        let Some(file) = w.file.clone() else { return };
        if !buf.is_empty() {
            if let Err((e, done)) = write_fully(&file, &buf) {
                self.write_failed(&file, e, done, buf);
                return;
            }
            self.size.fetch_add(buf.len() as u64, Ordering::Relaxed);
            if self.write_errno.swap(0, Ordering::Relaxed) != 0 {
                tracing::warn!("AOF write error looks solved, Redis can write again.");
            }
        }
        self.written.store(end, Ordering::Release);
        if sync {
            if let Err(e) = file.sync_data() {
                tracing::warn!("Fsync of the AOF failed: {e}");
                if self.policy.load(Ordering::Relaxed) == POLICY_ALWAYS {
                    tracing::warn!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is \
                         'always': {}. Exiting...",
                        strerror(&e)
                    );
                    std::process::exit(1);
                }
                return;
            }
            self.synced.store(end, Ordering::Release);
        }
        drop(w);
    }

    /// A write of `buf` failed with `e` after `done` bytes, as Redis 7.0 handles it: a short
    /// write is cut off the file again (or, if that fails, kept and dropped from the buffer) and
    /// reported as ENOSPC; with `appendfsync always` the server exits; otherwise writes are
    /// refused until a write succeeds, and the bytes stay pending for the next attempt.
    fn write_failed(&self, file: &File, e: std::io::Error, done: usize, mut buf: Vec<u8>) {
        let log = {
            let mut last = self.last_error_log.lock();
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(30));
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        let errno = if done == 0 {
            if log {
                tracing::warn!("Error writing to the AOF file: {}", strerror(&e));
            }
            e.raw_os_error().unwrap_or(libc::EIO)
        } else {
            if log {
                tracing::warn!(
                    "Short write while writing to the AOF file: (nwritten={done}, expected={})",
                    buf.len()
                );
            }
            let cut =
                file.metadata().and_then(|m| file.set_len(m.len().saturating_sub(done as u64)));
            match cut {
                Ok(()) => {}
                Err(e) => {
                    if log {
                        tracing::warn!(
                            "Could not remove short write from the append-only file.  Redis may \
                             refuse to load the AOF the next time it starts.  ftruncate: {}",
                            strerror(&e)
                        );
                    }
                    // What reached the file stays there: only the rest is written again.
                    self.size.fetch_add(done as u64, Ordering::Relaxed);
                    buf.drain(..done);
                }
            }
            libc::ENOSPC
        };
        if self.policy.load(Ordering::Relaxed) == POLICY_ALWAYS {
            tracing::warn!(
                "Can't recover from AOF write error when the AOF fsync policy is 'always'. \
                 Exiting..."
            );
            std::process::exit(1);
        }
        self.write_errno.store(errno, Ordering::Relaxed);
        // Keep the bytes: they go out with the next write.
        let mut p = self.pending.lock();
        buf.extend_from_slice(&p.buf);
        p.buf = buf;
    }

    /// The errno that makes writes refused now: the last write's, else the last background
    /// fsync's.
    fn failure(&self) -> Option<i32> {
        let w = self.write_errno.load(Ordering::Relaxed);
        let f = self.fsync_errno.load(Ordering::Relaxed);
        [w, f].into_iter().find(|&e| e != 0)
    }

    /// Writes and fsyncs everything appended so far.
    fn flush_all(&self) {
        let end = self.pending.lock().end;
        self.flush(end, true);
    }
}

/// Writes all of `buf` (retrying short writes, as Redis's aofWrite); on an error, the error and
/// how many bytes reached the file.
fn write_fully(mut file: &File, buf: &[u8]) -> Result<(), (std::io::Error, usize)> {
    let mut done = 0;
    while done < buf.len() {
        match file.write(&buf[done..]) {
            Ok(0) => return Err((std::io::Error::from_raw_os_error(libc::ENOSPC), done)),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((e, done)),
        }
    }
    Ok(())
}

/// C's strerror text of an error (Rust's adds ` (os error N)`).
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => s[..i].to_string(),
        _ => s,
    }
}

/// The MISCONF error that refuses writes (and PING) after the AOF failed to be written or
/// fsynced, as Redis 7.0 (`-MISCONF Errors writing to the AOF file: <strerror>`), until a
/// write (or fsync) succeeds again.
pub fn disk_error(core: &Core) -> Option<String> {
    if !core.aof.is_on() {
        return None;
    }
    let errno = core.aof.shared.failure()?;
    let e = std::io::Error::from_raw_os_error(errno);
    Some(format!("MISCONF Errors writing to the AOF file: {}", strerror(&e)))
}

/// Whether the AOF is failing now (cheap: for the dispatcher's fast path).
#[inline]
pub fn failing(core: &Core) -> bool {
    let s = &core.aof.shared;
    s.write_errno.load(Ordering::Relaxed) != 0 || s.fsync_errno.load(Ordering::Relaxed) != 0
}

/// What a batch of commands must wait for before its replies go out.
pub struct Barrier {
    shared: Arc<Shared>,
    target: u64,
    sync: bool,
}

impl Barrier {
    /// Whether completing it fsyncs (and so should run where blocking is allowed).
    pub fn syncs(&self) -> bool {
        self.sync
    }

    /// Waits until the batch's AOF bytes are written (with `appendfsync always`, fsynced).
    ///
    /// A write is done here (a syscall into the page cache). An fsync is left to the group
    /// commit thread and awaited, so that other connections go on running their batches
    /// meanwhile and one fsync covers every batch appended before it started, as Redis's
    /// once-per-event-loop fsync does; on a single-threaded runtime blocking here would fsync
    /// once per batch.
    pub async fn wait(self) {
        let s = &self.shared;
        if !self.sync {
            s.flush(self.target, false);
            return;
        }
        start_syncer(s);
        loop {
            // Created before the check, so that a commit finishing in between still wakes us.
            let committed = s.synced_notify.notified();
            let gone = !s.on.load(Ordering::Acquire) || s.write_errno.load(Ordering::Relaxed) != 0;
            if gone || s.synced.load(Ordering::Acquire) >= self.target {
                return;
            }
            {
                let mut wanted = s.sync_wanted.lock();
                if *wanted < self.target {
                    *wanted = self.target;
                    s.sync_cv.notify_one();
                }
            }
            committed.await;
        }
    }
}

/// Starts the group commit thread of `appendfsync always` (once): it waits for a connection to
/// want an offset fsynced, writes and fsyncs everything appended so far in one go, and tells
/// the waiting connections.
fn start_syncer(shared: &Arc<Shared>) {
    if shared.syncer_started.swap(true, Ordering::SeqCst) {
        return;
    }
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("aof-commit".into()).spawn(move || loop {
        let target = {
            let mut wanted = s.sync_wanted.lock();
            while *wanted <= s.synced.load(Ordering::Acquire) {
                s.sync_cv.wait(&mut wanted);
            }
            *wanted
        };
        // Woken by the first connection of a pass, on its core: let the others of the pass
        // append before the fsync, so that one fsync covers them all (a no-op on an idle core).
        std::thread::yield_now();
        let end = s.pending.lock().end;
        s.flush(end.max(target), true);
        if s.synced.load(Ordering::Acquire) < target {
            // No progress (the AOF was turned off, or a write failed): drop the wish, the
            // waiters see why and give up, or ask again; do not spin meanwhile.
            *s.sync_wanted.lock() = s.synced.load(Ordering::Acquire);
            std::thread::sleep(Duration::from_millis(10));
        }
        s.synced_notify.notify_waiters();
    });
    if let Err(e) = spawned {
        tracing::warn!("Can't start the AOF commit thread: {e}");
        shared.syncer_started.store(false, Ordering::SeqCst);
    }
}

/// The propagation sink: appends to the pending buffer (under the core lock).
struct AofSink(Arc<Shared>);

impl crate::propagate::Sink for AofSink {
    fn write(&mut self, bytes: &[u8]) {
        let mut p = self.0.pending.lock();
        if p.timestamps {
            let now = crate::clock::unix_secs();
            if now > p.last_ts {
                p.last_ts = now;
                let ts = format!("#TS:{now}\r\n");
                p.buf.extend_from_slice(ts.as_bytes());
                p.end += ts.len() as u64;
            }
        }
        p.buf.extend_from_slice(bytes);
        p.end += bytes.len() as u64;
    }

    fn name(&self) -> &'static str {
        SINK_NAME
    }
}

const SINK_NAME: &str = "aof";

/// AOF state, in the `Core`.
pub struct Aof {
    pub shared: Arc<Shared>,
    pub manifest: Manifest,
    /// The directory, as configured when AOF was turned on (relative to the working directory).
    dir: PathBuf,
    filename: String,
    pub rewrites: u64,
    pub rewrite_failures: u64,
    pub last_rewrite_ok: bool,
    pub last_rewrite_time_sec: i64,
    pub rewrite_scheduled: bool,
    /// The background rewrite running: when it started (unix ms).
    pub rewriting: Option<i64>,
    /// Size of the base file.
    pub base_size: u64,
    /// AOF size after the last rewrite or load: auto-aof-rewrite-percentage grows from it.
    pub rewrite_base_size: u64,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            shared: Arc::new(Shared::new()),
            manifest: Manifest::default(),
            dir: PathBuf::new(),
            filename: String::new(),
            rewrites: 0,
            rewrite_failures: 0,
            last_rewrite_ok: true,
            last_rewrite_time_sec: -1,
            rewrite_scheduled: false,
            rewriting: None,
            base_size: 0,
            rewrite_base_size: 0,
        }
    }
}

impl Aof {
    /// INFO's rewrite counters and status after a rewrite ended with `r`.
    fn record_rewrite(&mut self, r: &Result<(), String>) {
        match r {
            Ok(()) => {
                self.rewrites += 1;
                self.rewrite_failures = 0;
                self.last_rewrite_ok = true;
                tracing::info!("Background AOF rewrite finished successfully");
            }
            Err(e) => {
                self.rewrite_failures += 1;
                self.last_rewrite_ok = false;
                tracing::warn!("Background AOF rewrite failed: {e}");
            }
        }
    }

    pub fn is_on(&self) -> bool {
        self.shared.on.load(Ordering::Relaxed)
    }

    /// Called at the end of each batch, under the core lock: what the batch's replies must wait
    /// for, if anything.
    #[inline]
    pub fn barrier(&self) -> Option<Barrier> {
        if !self.is_on() {
            return None;
        }
        let s = &self.shared;
        let sync = s.policy.load(Ordering::Relaxed) == POLICY_ALWAYS;
        let target = s.pending.lock().end;
        let done = if sync { &s.synced } else { &s.written };
        (done.load(Ordering::Acquire) < target).then(|| Barrier { shared: s.clone(), target, sync })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Sizes of the files of the manifest (base, incremental).
    fn sizes(&self) -> (u64, u64) {
        let size =
            |f: &FileInfo| std::fs::metadata(self.path(&f.name)).map(|m| m.len()).unwrap_or(0);
        let base = self.manifest.base.as_ref().map(size).unwrap_or(0);
        (base, self.manifest.incr.iter().map(size).sum())
    }
}

/// fsyncs a directory, so that a rename in it is durable.
fn fsync_dir(dir: &Path) {
    let d = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(f) = File::open(d) {
        let _ = f.sync_all();
    }
}

/// Writes `bytes` to `dir/name` atomically: a temp file, fsync, rename, directory fsync.
fn write_atomic(dir: &Path, temp: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(temp);
    let r = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    fsync_dir(dir);
    r
}

fn persist_manifest(aof: &Aof) -> Result<(), String> {
    let name = format!("{}.manifest", aof.filename);
    let temp = format!("temp-{name}");
    write_atomic(&aof.dir, &temp, &name, aof.manifest.to_text().as_bytes())
        .map_err(|e| format!("Can't persist the AOF manifest {name}: {e}"))
}

/// The content of a new base file and whether it is RDB. The one place the format is chosen:
/// `aof-use-rdb-preamble yes` (Redis's default) writes an RDB image, else commands.
pub fn base_bytes(core: &Core) -> (Vec<u8>, bool) {
    if core.cfg.aof_use_rdb_preamble {
        let out = crate::persist::snapshot::write_core(core, Vec::new(), true)
            .expect("writing to memory does not fail");
        return (out, true);
    }
    let mut out = Vec::new();
    if core.cfg.aof_timestamp_enabled {
        out.extend_from_slice(format!("#TS:{}\r\n", crate::clock::unix_secs()).as_bytes());
    }
    for code in crate::cmd::function::library_codes(core) {
        crate::propagate::encode(&mut out, &[b"FUNCTION".as_slice(), b"LOAD", &code]);
    }
    rewrite::write_dataset(&mut out, &core.dbs, crate::clock::mstime());
    (out, false)
}

/// Writes a new base file from the current data and names it in `aof.manifest` (the old base
/// becomes history). Not persisted: the caller writes the manifest.
fn write_base(core: &mut Core) -> Result<(), String> {
    let (bytes, rdb) = base_bytes(core);
    let aof = &mut core.aof;
    let name = aof.manifest.new_base(&aof.filename, rdb);
    let temp = format!("temp-rewriteaof-{}.aof", std::process::id());
    write_atomic(&aof.dir, &temp, &name, &bytes)
        .map_err(|e| format!("Error writing the AOF base file {name}: {e}"))?;
    aof.base_size = bytes.len() as u64;
    tracing::info!("Creating AOF base file {name}");
    Ok(())
}

/// Opens the last incremental file for appending and makes it the sink's target.
fn open_incr(aof: &mut Aof) -> Result<(), String> {
    let Some(last) = aof.manifest.incr.last() else { return Ok(()) };
    let path = aof.path(&last.name);
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))?;
    fsync_dir(&aof.dir);
    let mut w = aof.shared.writer.lock();
    w.file = Some(Arc::new(f));
    w.last_fsync = Some(Instant::now());
    drop(w);
    // The next command of the new file names its database, and (with timestamps) its time.
    aof.shared.pending.lock().last_ts = 0;
    Ok(())
}

/// Deletes the history files (unless `aof-disable-auto-gc`) and drops them from the manifest.
fn delete_history(core: &mut Core) {
    if core.cfg.aof_disable_auto_gc || core.aof.manifest.history.is_empty() {
        return;
    }
    let aof = &mut core.aof;
    for f in &aof.manifest.history {
        match std::fs::remove_file(aof.path(&f.name)) {
            Ok(()) => tracing::info!("Removing the history file {} in the background", f.name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("Can't remove the AOF history file {}: {e}", f.name),
        }
    }
    aof.manifest.history.clear();
    if let Err(e) = persist_manifest(aof) {
        tracing::warn!("{e}");
    }
}

fn read_manifest(dir: &Path, filename: &str) -> Result<Option<Manifest>, String> {
    let path = dir.join(format!("{filename}.manifest"));
    match std::fs::read(&path) {
        Ok(text) => Manifest::parse(&text)
            .map(Some)
            .map_err(|e| format!("{e} (reading the AOF manifest {})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("Can't open the AOF manifest {}: {e}", path.display())),
    }
}

fn start_thread(shared: &Arc<Shared>) {
    if shared.thread_started.swap(true, Ordering::SeqCst) {
        return;
    }
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("aof-fsync".into()).spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        if !s.on.load(Ordering::Relaxed) {
            continue;
        }
        // What was propagated outside a batch (the expire cycle) is written here.
        let end = s.pending.lock().end;
        s.flush(end, false);
        let policy = s.policy.load(Ordering::Relaxed);
        let written = s.written.load(Ordering::Acquire);
        if policy == POLICY_NO || s.synced.load(Ordering::Acquire) >= written {
            continue;
        }
        let file = {
            let mut w = s.writer.lock();
            let due = w.last_fsync.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if policy == POLICY_EVERYSEC && !due {
                continue;
            }
            w.last_fsync = Some(Instant::now());
            w.file.clone()
        };
        // The fsync runs without the writer lock: writes go on meanwhile.
        if let Some(f) = file {
            match f.sync_data() {
                Ok(()) => {
                    s.synced.fetch_max(written, Ordering::AcqRel);
                    s.fsync_errno.store(0, Ordering::Relaxed);
                }
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    if s.fsync_errno.swap(errno, Ordering::Relaxed) == 0 {
                        tracing::warn!("Fail to fsync the AOF file: {}", strerror(&e));
                    }
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("Can't start the AOF fsync thread: {e}");
        shared.thread_started.store(false, Ordering::SeqCst);
    }
}

/// Reads the settings the writer keeps outside the core (fsync policy, timestamps).
pub fn sync_config(core: &mut Core) {
    let s = &core.aof.shared;
    s.policy.store(policy_of(core.cfg.appendfsync), Ordering::Relaxed);
    s.pending.lock().timestamps = core.cfg.aof_timestamp_enabled;
}

/// Turns writing on: registers the sink on the propagation stream.
fn go_live(core: &mut Core) {
    sync_config(core);
    let shared = core.aof.shared.clone();
    {
        let end = shared.pending.lock().end;
        shared.written.store(end, Ordering::Release);
        shared.synced.store(end, Ordering::Release);
    }
    let (base, incr) = core.aof.sizes();
    shared.size.store(base + incr, Ordering::Relaxed);
    core.aof.base_size = base;
    core.aof.rewrite_base_size = base + incr;
    shared.on.store(true, Ordering::SeqCst);
    core.prop.remove_sinks(SINK_NAME);
    core.prop.add_sink(Box::new(AofSink(shared.clone())));
    start_thread(&shared);
}

/// The bytes start-up will load with `appendonly yes`: the files the manifest names, or a
/// Redis 6 single file (0 when unreadable: loading then reports the error).
pub fn startup_bytes(cfg: &Config) -> u64 {
    let dir = Path::new(&cfg.appenddirname);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    match read_manifest(dir, &cfg.appendfilename) {
        Ok(Some(m)) => m.base.iter().chain(&m.incr).map(|f| size(&dir.join(&f.name))).sum(),
        _ => size(Path::new(&cfg.appendfilename)),
    }
}

fn set_paths(core: &mut Core) {
    core.aof.dir = PathBuf::from(&core.cfg.appenddirname);
    core.aof.filename = core.cfg.appendfilename.clone();
}

/// Start-up with `appendonly yes`: loads the files the manifest names (migrating a Redis 6
/// single `appendonly.aof` first), then opens the last incremental file for appending (creating
/// a base and an incremental file when there are none, as Redis 7.0). The files load in short
/// slices under the core lock, so that clients are answered meanwhile (see `persist::loading`).
/// An error means the server must not start.
pub fn load_at_startup(server: &Arc<Server>) -> Result<(), String> {
    let mut guard = server.core.lock();
    let core = &mut *guard;
    if !core.cfg.appendonly {
        return Ok(());
    }
    set_paths(core);
    let dir = core.aof.dir.clone();
    let filename = core.aof.filename.clone();
    let mut manifest = read_manifest(&dir, &filename)?;
    if manifest.is_none() && Path::new(&filename).is_file() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        std::fs::rename(&filename, dir.join(&filename))
            .map_err(|e| format!("Can't move {filename} into {}: {e}", dir.display()))?;
        let m = Manifest {
            base_seq: 1,
            base: Some(FileInfo { name: filename.clone(), seq: 1, kind: Kind::Base }),
            ..Default::default()
        };
        core.aof.manifest = m.clone();
        persist_manifest(&core.aof)?;
        tracing::info!(
            "Successfully migrated an old-style AOF file ({filename}) into the AOF directory ({}).",
            dir.display()
        );
        manifest = Some(m);
    }
    if let Some(m) = manifest {
        core.aof.manifest = m;
        let files: Vec<FileInfo> =
            core.aof.manifest.base.iter().chain(&core.aof.manifest.incr).cloned().collect();
        let opts = LoadSettings {
            truncated_ok: core.cfg.aof_load_truncated,
            delay: core.cfg.key_load_delay,
            rdb: crate::persist::snapshot::load_opts(core),
            ndbs: core.dbs.len(),
        };
        drop(guard);
        let start = Instant::now();
        load_files(server, &dir, &files, &opts)?;
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
        guard = server.core.lock();
    }
    let core = &mut *guard;
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    if core.aof.manifest.base.is_none() && core.aof.manifest.incr.is_empty() {
        write_base(core)?;
        tracing::info!("Created the AOF base file on server start");
    }
    if core.aof.manifest.incr.is_empty() {
        let name = core.aof.manifest.new_incr(&filename);
        tracing::info!("Creating AOF incr file {name} on server start");
    }
    open_incr(&mut core.aof)?;
    persist_manifest(&core.aof)?;
    delete_history(core);
    go_live(core);
    Ok(())
}

/// What loading the files takes from the configuration.
struct LoadSettings {
    truncated_ok: bool,
    delay: i32,
    rdb: crate::persist::rdb::load::LoadOpts,
    ndbs: usize,
}

/// Loads `files` (the manifest's base and incremental files) from `dir`, in order.
fn load_files(
    server: &Arc<Server>,
    dir: &Path,
    files: &[FileInfo],
    opts: &LoadSettings,
) -> Result<(), String> {
    // Loading reports progress over the files' total size, as Redis 7.0.
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(&f.name)).ok())
        .map(|m| m.len())
        .sum();
    server.loading.set_total(total);
    let mut tracker = crate::persist::loading::Tracker::new(&server.loading, opts.delay);
    let n = files.len();
    let r = (|| {
        for (i, f) in files.iter().enumerate() {
            load_file(server, &mut tracker, dir, f, i + 1 == n, opts)?;
        }
        Ok(())
    })();
    // Loading is not traffic: the counters start from zero. The replayed changes stay dirty,
    // as in Redis 7.0 (with save points, the first snapshot follows soon after start-up).
    let mut core = server.core.lock();
    core.stats.reset_counters();
    core.errorstats.clear();
    r
}

fn load_file(
    server: &Arc<Server>,
    tracker: &mut crate::persist::loading::Tracker<'_>,
    dir: &Path,
    f: &FileInfo,
    last: bool,
    opts: &LoadSettings,
) -> Result<(), String> {
    let path = dir.join(&f.name);
    let data = match std::fs::read(&path) {
        Ok(d) => Bytes::from(d),
        // Redis tolerates a missing incremental file only if it is the last and empty...
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && f.kind == Kind::Incr && last => {
            tracing::warn!("The AOF file {} doesn't exist", f.name);
            return Ok(());
        }
        Err(e) => return Err(format!("Can't open the append-only file {}: {e}", f.name)),
    };
    if data.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    // A base written with aof-use-rdb-preamble yes is an RDB file; a Redis 4-6 single file
    // may be an RDB preamble followed by commands.
    let rdb_len = if data.starts_with(b"REDIS") {
        load_rdb_preamble(server, tracker, &data, &f.name, opts)?
    } else {
        0
    };
    let loaded = load::replay(server, tracker, &data, &f.name, rdb_len)?;
    tracker.file_done(data.len() as u64);
    if let Some(valid) = loaded.valid_up_to {
        tracing::warn!("!!! Warning: short read while loading the AOF file {}!!!", f.name);
        if !last {
            return Err(format!(
                "Fatal error: the truncated file {} is not the last file of the AOF",
                f.name
            ));
        }
        if !opts.truncated_ok {
            return Err(format!(
                "Unexpected end of file reading the append only file {} (valid up to offset \
                 {valid} of {}). You can: 1) Make a backup of your AOF file, then use \
                 ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the \
                 'aof-load-truncated' configuration option to yes and restart the server.",
                f.name,
                data.len()
            ));
        }
        tracing::warn!("!!! Truncating the AOF {} at offset {valid} !!!", f.name);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(valid as u64).and_then(|_| file.sync_all()));
        if let Err(e) = file {
            return Err(format!("Error truncating the AOF file {}: {e}", f.name));
        }
        tracing::warn!("AOF {} loaded anyway because aof-load-truncated is enabled", f.name);
    }
    tracing::info!(
        "DB loaded from {} file {}: {:.3} seconds",
        if f.kind == Kind::Base { "base" } else { "incr" },
        f.name,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads the RDB at the start of `data` (a base written with `aof-use-rdb-preamble yes`, or the
/// preamble of a Redis 4-6 single AOF file) and returns its length: commands may follow it.
/// It parses without the core lock.
fn load_rdb_preamble(
    server: &Server,
    tracker: &mut crate::persist::loading::Tracker<'_>,
    data: &[u8],
    name: &str,
    opts: &LoadSettings,
) -> Result<usize, String> {
    tracker.rdb_start();
    let loaded = crate::persist::rdb::load::load_with(data, opts.ndbs, &opts.rdb, tracker);
    tracker.rdb_end();
    let loaded = loaded.map_err(|e| format!("Bad RDB preamble in the AOF file {name}: {e}"))?;
    let consumed = loaded.consumed;
    // A preamble is always the first thing loaded, into empty databases.
    crate::persist::snapshot::install(&mut server.core.lock(), loaded, false);
    Ok(consumed)
}

/// BGREWRITEAOF with the AOF on: the rewrite runs in the background from a point-in-time image
/// (see `persist::background`), as Redis 7.0's forked one does. At its instant a new
/// incremental file starts taking the writes (and the manifest names it, so a crash meanwhile
/// loads the old base, the old increments and the new one); when the new base is written it
/// replaces the old base and increments in the manifest. While a BGSAVE runs the rewrite is
/// scheduled for after it (`Ok(false)`); `Ok(true)` when it started.
pub fn start_rewrite(server: &Arc<Server>, core: &mut Core) -> Result<bool, String> {
    if !core.aof.is_on() {
        return rewrite(core).map(|()| true);
    }
    if core.aof.rewriting.is_some() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if core.dbs.iter().any(|db| db.table.snapshot_active()) {
        core.aof.rewrite_scheduled = true;
        return Ok(false);
    }
    core.aof.rewrite_scheduled = false;
    let before = core.aof.manifest.clone();
    core.aof.shared.flush_all();
    let filename = core.aof.filename.clone();
    core.aof.manifest.new_incr(&filename);
    if let Err(e) = open_incr(&mut core.aof).and_then(|()| persist_manifest(&core.aof)) {
        core.aof.manifest = before;
        return Err(e);
    }
    core.prop.force_select();
    let rdb = core.cfg.aof_use_rdb_preamble;
    let now = crate::clock::mstime();
    let mut header = Vec::new();
    let functions = crate::cmd::function::library_codes(core);
    let checksum = core.cfg.rdbchecksum;
    let opts = crate::persist::snapshot::save_opts(&core.cfg, core.lru_clock);
    let dump = if rdb {
        let enc = crate::persist::snapshot::RdbEncoder(opts);
        crate::persist::background::Dump::begin(core, Either::Rdb(enc))
    } else {
        if core.cfg.aof_timestamp_enabled {
            header.extend_from_slice(format!("#TS:{}\r\n", crate::clock::unix_secs()).as_bytes());
        }
        for code in &functions {
            crate::propagate::encode(&mut header, &[b"FUNCTION".as_slice(), b"LOAD", code]);
        }
        crate::persist::background::Dump::begin(core, Either::Aof(rewrite::AofEncoder { now }))
    };
    let dump = dump.expect("no snapshot runs: checked above");
    core.aof.rewriting = Some(now);
    let delay_us = core.cfg.rdb_key_save_delay.max(0) as u64;
    let dir = core.aof.dir.clone();
    let server = server.clone();
    let aux = crate::persist::rdb::save::standard_aux(crate::info::used_memory(), true);
    let (aux_before, aux_after) = if rdb {
        crate::persist::snapshot::module_aux(core, opts.compress)
    } else {
        Default::default()
    };
    std::thread::spawn(move || {
        let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let written = (|| -> std::io::Result<u64> {
            let f = std::io::BufWriter::new(File::create(&temp)?);
            let mut fw = crate::persist::rdb::save::FileWriter::new(f, opts, checksum);
            if rdb {
                fw.header(&aux, &functions)?;
                fw.raw_entry(&aux_before)?;
            } else {
                fw.raw_entry(&header)?;
            }
            dump.run(&server, |b| fw.raw_entry(b), delay_us)?;
            fw.raw_entry(&aux_after)?;
            let size = fw.bytes_written() + if rdb { 9 } else { 0 };
            let f = if rdb { fw.footer()? } else { fw.into_inner()? };
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            Ok(size)
        })();
        let mut core = server.core.lock();
        finish_rewrite(&mut core, &temp, rdb, now, written);
    });
    Ok(true)
}

/// The two formats a base can take, as one encoder.
enum Either {
    Rdb(crate::persist::snapshot::RdbEncoder),
    Aof(rewrite::AofEncoder),
}

impl crate::persist::background::Encoder for Either {
    fn select_db(&mut self, out: &mut Vec<u8>, db: usize) {
        match self {
            Either::Rdb(e) => e.select_db(out, db),
            Either::Aof(e) => e.select_db(out, db),
        }
    }
    fn entry(&mut self, out: &mut Vec<u8>, entry: &crate::keyspace::Entry) {
        match self {
            Either::Rdb(e) => e.entry(out, entry),
            Either::Aof(e) => e.entry(out, entry),
        }
    }
}

/// The end of a background rewrite, under the core lock: the new base takes the old one's
/// place in the manifest with the increments written since its instant.
fn finish_rewrite(
    core: &mut Core,
    temp: &Path,
    rdb: bool,
    started: i64,
    written: std::io::Result<u64>,
) {
    core.aof.rewriting = None;
    core.aof.last_rewrite_time_sec = (crate::clock::mstime() - started) / 1000;
    let r = match written {
        // AOF turned off meanwhile: the new base is for nothing.
        Ok(_) if !core.aof.is_on() => Err("the AOF was turned off during the rewrite".into()),
        Ok(size) => {
            let before = core.aof.manifest.clone();
            let filename = core.aof.filename.clone();
            let name = core.aof.manifest.new_base(&filename, rdb);
            let aof = &mut core.aof;
            let r = std::fs::rename(temp, aof.dir.join(&name))
                .map_err(|e| format!("Error moving the new AOF base into place: {e}"))
                .and_then(|()| {
                    fsync_dir(&aof.dir);
                    aof.manifest.incr_to_history_but_last();
                    persist_manifest(aof)
                });
            if r.is_err() {
                core.aof.manifest = before;
            } else {
                core.aof.base_size = size;
                let (base, incr) = core.aof.sizes();
                core.aof.rewrite_base_size = base + incr;
                delete_history(core);
            }
            r
        }
        // Abandoned (FLUSHALL): the increments hold everything; a new rewrite starts later.
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            let _ = std::fs::remove_file(temp);
            core.aof.rewrite_scheduled = true;
            tracing::warn!("Background AOF rewrite abandoned: {e}");
            return;
        }
        Err(e) => Err(format!("Error writing the AOF base: {e}")),
    };
    let _ = std::fs::remove_file(temp);
    core.aof.record_rewrite(&r);
}

/// Rewrites the AOF: a new base from the current data, a new incremental file for what comes
/// next, the manifest replaced, the old files deleted. With AOF off, only the base is written.
pub fn rewrite(core: &mut Core) -> Result<(), String> {
    let start = Instant::now();
    let r = rewrite_inner(core);
    let aof = &mut core.aof;
    aof.rewrite_scheduled = false;
    aof.last_rewrite_time_sec = start.elapsed().as_secs() as i64;
    aof.record_rewrite(&r);
    r
}

fn rewrite_inner(core: &mut Core) -> Result<(), String> {
    let on = core.aof.is_on();
    if !on {
        set_paths(core);
        if let Some(m) = read_manifest(&core.aof.dir, &core.aof.filename)? {
            core.aof.manifest = m;
        }
    }
    std::fs::create_dir_all(&core.aof.dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", core.aof.dir.display()))?;
    let before = core.aof.manifest.clone();
    if on {
        // Everything so far goes to the current file; what follows, to a new one.
        core.aof.shared.flush_all();
        let filename = core.aof.filename.clone();
        core.aof.manifest.new_incr(&filename);
    }
    if let Err(e) = write_base(core) {
        core.aof.manifest = before;
        return Err(e);
    }
    let aof = &mut core.aof;
    if on {
        aof.manifest.incr_to_history_but_last();
    } else {
        let old: Vec<FileInfo> = aof.manifest.incr.drain(..).collect();
        aof.manifest.history.extend(old.into_iter().map(|f| FileInfo { kind: Kind::History, ..f }));
    }
    if on {
        if let Err(e) = open_incr(aof) {
            aof.manifest = before;
            return Err(e);
        }
    }
    // On failure the new incremental file is already being written: it stays named in memory,
    // so the next manifest written includes it.
    persist_manifest(aof)?;
    if on {
        core.prop.force_select();
        let (base, incr) = core.aof.sizes();
        core.aof.shared.size.store(base + incr, Ordering::Relaxed);
        core.aof.rewrite_base_size = base + incr;
    }
    delete_history(core);
    Ok(())
}

/// `CONFIG SET` changed AOF settings (`old` is the configuration before): turns AOF on (writing
/// a base from the current data first, as Redis does) or off.
pub fn config_changed(core: &mut Core, old: &Config) -> Result<(), String> {
    sync_config(core);
    if old.appendonly == core.cfg.appendonly {
        return Ok(());
    }
    if core.cfg.appendonly {
        start(core).map_err(|e| {
            tracing::warn!("{e}");
            "Unable to turn on AOF. Check server logs.".to_string()
        })
    } else {
        stop(core);
        Ok(())
    }
}

fn start(core: &mut Core) -> Result<(), String> {
    set_paths(core);
    if let Some(m) = read_manifest(&core.aof.dir, &core.aof.filename)? {
        core.aof.manifest = m;
    }
    std::fs::create_dir_all(&core.aof.dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", core.aof.dir.display()))?;
    let before = core.aof.manifest.clone();
    let filename = core.aof.filename.clone();
    core.aof.manifest.new_incr(&filename);
    if let Err(e) = write_base(core) {
        core.aof.manifest = before;
        return Err(e);
    }
    core.aof.manifest.incr_to_history_but_last();
    open_incr(&mut core.aof)?;
    persist_manifest(&core.aof)?;
    core.aof.rewrites += 1;
    go_live(core);
    delete_history(core);
    tracing::info!("AOF enabled: base written, appending");
    Ok(())
}

/// Turns AOF off: what is pending is written and fsynced, the file closed.
pub fn stop(core: &mut Core) {
    let s = core.aof.shared.clone();
    if !s.on.load(Ordering::SeqCst) {
        return;
    }
    s.flush_all();
    core.prop.remove_sinks(SINK_NAME);
    s.on.store(false, Ordering::SeqCst);
    s.writer.lock().file = None;
    s.pending.lock().buf.clear();
    tracing::info!("AOF disabled");
}

/// At shutdown: everything written and fsynced.
pub fn shutdown(core: &mut Core) {
    if core.aof.is_on() {
        tracing::info!("Calling fsync() on the AOF file.");
        core.aof.shared.flush_all();
    }
}

/// The cron's part: a scheduled rewrite, or an automatic one when the AOF grew past
/// `auto-aof-rewrite-percentage` of its size after the last rewrite (and is at least
/// `auto-aof-rewrite-min-size`).
pub fn cron(server: &Arc<Server>, core: &mut Core) {
    if core.aof.rewriting.is_some() {
        return;
    }
    if core.aof.rewrite_scheduled {
        let _ = start_rewrite(server, core);
        return;
    }
    if !core.aof.is_on() || core.cfg.auto_aof_rewrite_percentage == 0 {
        return;
    }
    let size = core.aof.shared.size.load(Ordering::Relaxed);
    if size < core.cfg.auto_aof_rewrite_min_size {
        return;
    }
    let base = core.aof.rewrite_base_size.max(1);
    let growth = (size * 100 / base).saturating_sub(100);
    if growth >= u64::from(core.cfg.auto_aof_rewrite_percentage) {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start_rewrite(server, core);
    }
}

/// The AOF fields of `INFO persistence`, in Redis 7.0's order.
pub fn info_fields(out: &mut String, core: &Core) {
    use std::fmt::Write as _;
    let a = &core.aof;
    let s = &a.shared;
    let on = a.is_on();
    let mut f = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    f("aof_enabled", &(on as u8));
    f("aof_rewrite_in_progress", &u8::from(a.rewriting.is_some()));
    f("aof_rewrite_scheduled", &(a.rewrite_scheduled as u8));
    f("aof_last_rewrite_time_sec", &a.last_rewrite_time_sec);
    let current = a.rewriting.map_or(-1, |t| (crate::clock::mstime() - t) / 1000);
    f("aof_current_rewrite_time_sec", &current);
    f("aof_last_bgrewrite_status", &if a.last_rewrite_ok { "ok" } else { "err" });
    f("aof_rewrites", &a.rewrites);
    f("aof_rewrites_consecutive_failures", &a.rewrite_failures);
    f("aof_last_write_status", &if s.failure().is_none() { "ok" } else { "err" });
    f("aof_last_cow_size", &0);
    f("module_fork_in_progress", &0);
    f("module_fork_last_cow_size", &0);
    // As Redis 7.0, by the configuration: while the AOF loads it is not on yet
    // (`aof_enabled:0`) and these show zeros.
    if core.cfg.appendonly {
        let pending = s.pending.lock().buf.len();
        let unsynced = s.synced.load(Ordering::Relaxed) < s.written.load(Ordering::Relaxed);
        f("aof_current_size", &s.size.load(Ordering::Relaxed));
        f("aof_base_size", &a.base_size);
        f("aof_pending_rewrite", &0);
        f("aof_buffer_length", &pending);
        f("aof_pending_bio_fsync", &(unsynced as u8));
        f("aof_delayed_fsync", &0);
    }
}
