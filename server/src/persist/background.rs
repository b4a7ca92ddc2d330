//! Fork-free point-in-time dumps of the whole keyspace (BGSAVE, BGREWRITEAOF).
//!
//! Redis forks and lets the child write the image from copy-on-write pages: under a write load
//! that touches most pages, memory can double. Here the dump runs on a thread of its own over
//! the live keyspace instead, using the tables' snapshot marks (see `keyspace/table.rs`):
//!
//! 1. Under the core lock, every database's table starts a snapshot at the same instant: that
//!    instant is the image's point in time. Each table's sink encodes the records it is handed
//!    into one shared buffer, preceded by a "select database" record whenever the database
//!    changes.
//! 2. The dump thread then alternates: take the lock, walk a slice of the tables (512
//!    records, about 2 ms of encoding for 1 KB values), release it, write what was encoded to
//!    the file, and yield so that waiting clients get the lock before it does again (on one
//!    core it would otherwise win it back at once: clients saw pauses of a second). Meanwhile a client that modifies a record the walk has not reached encodes it first,
//!    as it was (that is the only work a write does for the dump).
//! 3. When every table's walk is complete, the footer is written and the file is fsynced.
//!
//! Memory grows only by the encoded bytes waiting to be written; no value is copied. A client
//! waits at most one slice, or the encoding of the one record it modifies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::keyspace::Entry;
use crate::server::{Core, Server};

/// Records a slice of the walk looks at before the dump thread lets clients in again (small:
/// encoding compresses values, and a slice of 4096 1 KB values held the lock for ~15 ms).
const SLICE: usize = 512;

/// How records become bytes: RDB for BGSAVE, RDB or commands for an AOF rewrite.
pub trait Encoder: Send + 'static {
    /// The records that follow belong to database `db`.
    fn select_db(&mut self, out: &mut Vec<u8>, db: usize);
    /// One record, as it was at the snapshot's instant.
    fn entry(&mut self, out: &mut Vec<u8>, e: &Entry);
}

/// What the sinks of all tables share: the encoder and the bytes not yet written.
struct Pending<E> {
    enc: E,
    buf: Vec<u8>,
    db: Option<usize>,
}

/// A dump being written.
pub struct Dump<E: Encoder> {
    pending: Arc<Mutex<Pending<E>>>,
    aborted: Arc<AtomicBool>,
}

impl<E: Encoder> Dump<E> {
    /// Starts the snapshot of every database in `core` (the caller holds the core lock: this
    /// is the image's instant). Returns None if a snapshot is already running.
    pub fn begin(core: &mut Core, enc: E) -> Option<Self> {
        if core.dbs.iter().any(|db| db.table.snapshot_active()) {
            return None;
        }
        let pending = Arc::new(Mutex::new(Pending { enc, buf: Vec::new(), db: None }));
        let aborted = Arc::new(AtomicBool::new(false));
        for (i, db) in core.dbs.iter_mut().enumerate() {
            let p = pending.clone();
            let sink = Box::new(move |e: &Entry| {
                let mut p = p.lock();
                let Pending { enc, buf, db } = &mut *p;
                if *db != Some(i) {
                    enc.select_db(buf, i);
                    *db = Some(i);
                }
                enc.entry(buf, e);
            });
            let started = db.table.begin_snapshot(sink, aborted.clone());
            debug_assert!(started, "checked above that no snapshot runs");
        }
        Some(Dump { pending, aborted })
    }

    /// Walks the tables to the end, passing the encoded records to `out` between slices.
    /// After each slice it sleeps `delay_us` per record looked at (`rdb-key-save-delay`, which
    /// tests use to slow the dump down). Returns the encoder, to write the footer with. An error (from `out`, or a table dropped before its walk completed, as a
    /// database replaced by a load is) abandons the dump.
    pub fn run(
        self,
        server: &Server,
        mut out: impl FnMut(&[u8]) -> std::io::Result<()>,
        delay_us: u64,
    ) -> std::io::Result<E> {
        let mut chunk = Vec::new();
        loop {
            let more = {
                let mut core = server.core.lock();
                let more = core.dbs.iter_mut().any(|db| db.table.snapshot_step(SLICE));
                std::mem::swap(&mut chunk, &mut self.pending.lock().buf);
                more
            };
            if self.aborted.load(Ordering::SeqCst) {
                self.abandon(server);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "the dump was abandoned (FLUSHALL, a reload, or a database dropped)",
                ));
            }
            if let Err(e) = out(&chunk) {
                self.abandon(server);
                return Err(e);
            }
            chunk.clear();
            if !more {
                break;
            }
            if delay_us > 0 {
                std::thread::sleep(Duration::from_micros(delay_us.saturating_mul(SLICE as u64)));
            }
            // Let the clients waiting for the lock in: on a machine (or taskset) with one core
            // this thread would otherwise take it back before they run.
            std::thread::yield_now();
        }
        let Dump { pending, .. } = self;
        let pending = Arc::try_unwrap(pending)
            .map_err(|_| std::io::Error::other("snapshot sink still referenced"))?
            .into_inner();
        out(&pending.buf)?;
        Ok(pending.enc)
    }

    /// Gives the dump up without running it (its file could not be opened): the walk still
    /// has to finish, for the marks.
    pub fn cancel(self, server: &Server) {
        self.abandon(server);
    }

    /// Stops encoding and lets the walk finish without writing anything (the marks must be
    /// left consistent for the next snapshot).
    fn abandon(&self, server: &Server) {
        let mut core = server.core.lock();
        for db in core.dbs.iter_mut() {
            db.table.discard_snapshot();
        }
        drop(core);
        loop {
            let mut core = server.core.lock();
            if !core.dbs.iter_mut().any(|db| db.table.snapshot_step(SLICE * 4)) {
                break;
            }
            drop(core);
            std::thread::yield_now();
        }
    }
}

/// Abandons the dump in progress, if any (FLUSHALL, as Redis kills its BGSAVE child): its
/// driver stops writing and reports it interrupted.
pub fn abandon_all(core: &mut Core) {
    for db in core.dbs.iter_mut() {
        db.table.discard_snapshot();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keyspace::record::{Value, ValueRef};
    use std::collections::BTreeMap;

    /// A text encoder: `db key value` lines.
    struct Lines;
    impl Encoder for Lines {
        fn select_db(&mut self, out: &mut Vec<u8>, db: usize) {
            out.extend_from_slice(format!("select {db}\n").as_bytes());
        }
        fn entry(&mut self, out: &mut Vec<u8>, e: &Entry) {
            let ValueRef::Int(v) = e.value() else { panic!("ints only") };
            out.extend_from_slice(e.key());
            out.extend_from_slice(format!(" {v}\n").as_bytes());
        }
    }

    fn parse(bytes: &[u8]) -> BTreeMap<(usize, String), i64> {
        let mut db = usize::MAX;
        let mut m = BTreeMap::new();
        for l in std::str::from_utf8(bytes).unwrap().lines() {
            let (a, b) = l.split_once(' ').unwrap();
            if a == "select" {
                db = b.parse().unwrap();
            } else {
                assert!(m.insert((db, a.to_string()), b.parse().unwrap()).is_none(), "twice: {l}");
            }
        }
        m
    }

    /// The dump written while another thread rewrites, deletes and adds keys in every database
    /// (and swaps two of them) holds exactly the data of the instant it began.
    #[test]
    fn dump_under_concurrent_writes_is_the_starting_image() {
        let server = Server::new(Config::default(), None);
        let mut want = BTreeMap::new();
        {
            let mut core = server.core.lock();
            for d in 0..3 {
                for i in 0..30_000i64 {
                    let k = format!("k{i}");
                    core.dbs[d].table.insert(Entry::new(
                        k.as_bytes(),
                        Value::Int(i + d as i64),
                        None,
                    ));
                    want.insert((d, k), i + d as i64);
                }
            }
        }
        let dump = Dump::begin(&mut server.core.lock(), Lines).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    let mut core = server.core.lock();
                    for d in 0..3 {
                        let t = &mut core.dbs[d].table;
                        let k = format!("k{}", (n * 7919) % 40_000);
                        match n % 4 {
                            0 => drop(t.remove(k.as_bytes())),
                            1 => drop(t.insert(Entry::new(k.as_bytes(), Value::Int(-1), None))),
                            2 => {
                                if let Some(e) = t.get_mut(k.as_bytes()) {
                                    e.set_value(Value::Int(-2));
                                }
                            }
                            _ => {
                                let k = format!("new{n}");
                                drop(t.insert(Entry::new(k.as_bytes(), Value::Int(-3), None)));
                            }
                        }
                    }
                    if n % 5000 == 0 {
                        let (a, b) = core.dbs.split_at_mut(1);
                        std::mem::swap(&mut a[0].table, &mut b[0].table);
                    }
                    n += 1;
                }
            })
        };
        let mut out = Vec::new();
        let write = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        dump.run(&server, write, 1).unwrap();
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        assert_eq!(parse(&out), want);
    }
}
