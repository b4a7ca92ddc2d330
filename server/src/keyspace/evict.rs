//! `maxmemory`: the used-memory meter and key eviction (what Redis's `performEvictions` does).
//!
//! Before every command the dispatcher calls [`perform`] when `maxmemory` is set. Under the
//! limit it costs one meter reading. Over it, keys are evicted per `maxmemory-policy` until the
//! memory measured as freed covers the excess, or `maxmemory-eviction-tenacity`'s time limit
//! runs out (then a background task goes on evicting, yielding between rounds, and commands are
//! not refused meanwhile). If nothing could be evicted (or the policy is `noeviction`) the result
//! is [`Outcome::Fail`], and the dispatcher refuses `denyoom` commands with [`OOM_ERROR`].
//!
//! The LRU, LFU and TTL policies are approximated as Redis does: each round samples
//! `maxmemory-samples` keys per database into a pool of the 16 best candidates seen so far (the
//! pool persists across rounds), then evicts the best candidate that still exists. The score is
//! the idle time from the 24-bit LRU clock (LRU), 255 minus the decayed LFU counter (LFU), or
//! how soon the key expires (TTL). `volatile-*` policies only consider keys with an expiry.
//! Vireo keeps expiries inside the records rather than in a second table, so volatile sampling
//! samples the main table and keeps the keys with a TTL, falling back to a cursor walk when few
//! keys have one.
//!
//! CLIENT NO-EVICT plays no part here: in Redis it only exempts a client from *client* eviction
//! (`maxmemory-clients`); its commands still evict keys and still get OOM (checked against
//! Redis 7.0).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::config::MaxmemoryPolicy;
use crate::server::{Core, Server};

/// The reply to a `denyoom` command that cannot run for lack of memory.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

// ------------------------------------------------------------------------------------------------
// The meter
//
// jemalloc's `stats.allocated` is exact but needs an `epoch` advance, which merges every arena's
// statistics (tens of microseconds): far too slow before each command. Instead:
//
// - jemalloc keeps, per thread, the bytes that thread ever allocated and deallocated
//   (`thread.allocatedp` / `thread.deallocatedp` return pointers to them; reading is one load).
//   Each thread publishes its net change (allocated - deallocated) into one global atomic
//   `NET` whenever it reads the meter, and a connection's thread publishes at the end of each
//   batch, before releasing the core lock: the rebases below run under that lock, so every
//   keyspace change is published before one (a change left unpublished across a rebase would
//   be counted twice when its thread published it).
// - Whenever `stats.allocated` is read anyway (the cron's 100 ms sample, INFO, MEMORY), the
//   reading becomes the new `BASE` and the `NET` at that instant is remembered.
// - used memory = BASE + (NET now - NET at BASE).
//
// So the reading tracks every allocation of the threads that run commands exactly, and anything
// else (a thread that never reads the meter, a command's tail that its thread has not published
// yet) is corrected at the next rebase, at most 100 ms later. A reading costs two thread-local
// loads and one uncontended atomic add: about 5 ns (`meter_cost` below measures it; an epoch
// advance plus a `stats.allocated` read costs about 100 times that).

static NET: AtomicI64 = AtomicI64::new(0);
/// When [`perform`] last checked the meter against jemalloc's own figure.
static LAST_RESYNC: parking_lot::Mutex<Option<Instant>> = parking_lot::Mutex::new(None);
static BASE: AtomicU64 = AtomicU64::new(0);
static NET_AT_BASE: AtomicI64 = AtomicI64::new(0);

struct ThreadCounters {
    alloc: tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
    dealloc: tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
}

thread_local! {
    static COUNTERS: Option<ThreadCounters> = {
        use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp};
        match (allocatedp::read(), deallocatedp::read()) {
            (Ok(alloc), Ok(dealloc)) => Some(ThreadCounters { alloc, dealloc }),
            _ => None,
        }
    };
    /// This thread's net allocation when it last published.
    static PUBLISHED: Cell<i64> = const { Cell::new(0) };
}

/// Publishes this thread's allocations since its last call; returns the new global net.
/// A thread done with the keyspace for now calls it before releasing the core lock: whatever
/// it leaves unpublished when a rebase happens elsewhere is counted twice once it publishes.
pub fn publish() -> i64 {
    let cur = COUNTERS
        .try_with(|c| c.as_ref().map(|c| c.alloc.get().wrapping_sub(c.dealloc.get()) as i64))
        .ok()
        .flatten();
    match cur {
        Some(cur) => {
            let d = cur.wrapping_sub(PUBLISHED.with(|p| p.replace(cur)));
            NET.fetch_add(d, Ordering::Relaxed).wrapping_add(d)
        }
        None => NET.load(Ordering::Relaxed),
    }
}

/// Makes `allocated` (a fresh `stats.allocated` reading) the meter's base.
pub fn rebase(allocated: u64) {
    let net = publish();
    BASE.store(allocated, Ordering::Relaxed);
    NET_AT_BASE.store(net, Ordering::Relaxed);
}

/// Bytes in use now, cheaply (see the meter's description above).
pub fn used_memory() -> u64 {
    let net = publish();
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        return crate::info::used_memory();
    }
    let v = base as i64 + net.wrapping_sub(NET_AT_BASE.load(Ordering::Relaxed));
    if v <= 0 {
        // Frees published before the allocations they undo (another thread's, not published
        // yet) drove the meter below zero: it says nothing, read jemalloc's figure.
        return crate::info::used_memory();
    }
    v as u64
}

// ------------------------------------------------------------------------------------------------
// Eviction

/// What [`perform`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or eviction does not apply now).
    Ok,
    /// Still over, but the time limit ran out and a background task goes on evicting.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Fail,
}

const POOL_SIZE: usize = 16;

struct Candidate {
    score: u64,
    db: usize,
    key: Box<[u8]>,
}

struct State {
    /// Best candidates seen, ascending by score: the last one is evicted first.
    pool: Vec<Candidate>,
    /// Round-robin database of the random policies.
    next_db: usize,
    /// Per database: cursor of the walk that finds keys with a TTL when sampling finds none.
    cursors: Vec<u64>,
    rng: Option<SmallRng>,
}

static STATE: Mutex<State> = parking_lot::const_mutex(State {
    pool: Vec::new(),
    next_db: 0,
    cursors: Vec::new(),
    rng: None,
});
static PROC_RUNNING: AtomicBool = AtomicBool::new(false);

/// Time one eviction call may take, from `maxmemory-eviction-tenacity` (0..=100): 50 us per
/// step up to 10, then 15% more per step, unlimited at 100 (as Redis documents).
fn time_limit_us(tenacity: u32) -> u64 {
    match tenacity {
        0..=10 => 50 * tenacity as u64,
        11..=99 => (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        _ => u64::MAX,
    }
}

/// Frees memory per `maxmemory-policy` while used memory is over `maxmemory` (which must be
/// non-zero). The caller holds the core lock.
pub fn perform(server: &Arc<Server>, core: &mut Core) -> Outcome {
    // Nothing is evicted while the data set loads, as in Redis.
    if server.loading.active() {
        return Outcome::Ok;
    }
    // A replica leaves eviction to its master, whose deletions it receives: evicting on its own
    // would make it differ from the master (`replica-ignore-maxmemory`, on by default, as Redis).
    if core.repl.is_replica() && core.cfg.replica_ignore_maxmemory {
        return Outcome::Ok;
    }
    // While clients are paused the dataset stays still: no eviction, and no OOM either.
    if let Some(p) = core.pause {
        if p.until_ms > crate::clock::mstime() {
            return Outcome::Ok;
        }
    }
    let max = core.cfg.maxmemory;
    let mut used = used_memory();
    if max != 0 && used > max && LAST_RESYNC.lock().is_none_or(|t| t.elapsed().as_millis() >= 1) {
        // Threads publish their counters lazily, so the cheap meter can drift above the truth
        // and evict far too much. Before evicting, re-read jemalloc's own figure (which rebases
        // the meter); at most once a millisecond, as it costs microseconds.
        *LAST_RESYNC.lock() = Some(Instant::now());
        used = crate::info::used_memory();
    }
    let result = if max == 0 || used <= max {
        Outcome::Ok
    } else if core.cfg.maxmemory_policy == MaxmemoryPolicy::NoEviction {
        Outcome::Fail
    } else {
        evict(server, core, used - max)
    };
    let st = &mut core.stats;
    match result {
        Outcome::Ok => {
            if let Some(since) = st.eviction_exceeded_since.take() {
                st.eviction_exceeded_us += since.elapsed().as_micros() as u64;
            }
        }
        _ => {
            st.eviction_exceeded_since.get_or_insert_with(Instant::now);
        }
    }
    result
}

fn evict(server: &Arc<Server>, core: &mut Core, to_free: u64) -> Outcome {
    let limit_us = time_limit_us(core.cfg.maxmemory_eviction_tenacity);
    let start = Instant::now();
    let mut st = STATE.lock();
    let st = &mut *st;
    if st.rng.is_none() {
        st.rng = Some(SmallRng::from_entropy());
    }
    let mut freed: i64 = 0;
    let mut keys_freed = 0u64;
    let del: &'static [u8] = if core.cfg.lazyfree_lazy_eviction { b"UNLINK" } else { b"DEL" };
    let latency_threshold = core.cfg.latency_monitor_threshold;
    let mut result = Outcome::Ok;
    while freed < to_free as i64 {
        let Some((dbi, key)) = pick(st, core) else {
            result = Outcome::Fail;
            break;
        };
        let before = used_memory();
        let del_start = Instant::now();
        drop(core.dbs[dbi].remove(&key));
        let del_ms = del_start.elapsed().as_millis() as u64;
        if latency_threshold > 0 && del_ms >= latency_threshold {
            core.latency.add("eviction-del", del_ms);
        }
        freed += before as i64 - used_memory() as i64;
        core.stats.evicted_keys += 1;
        let evicted = crate::config::notify::EVICTED;
        super::notify::notify(core, evicted, "evicted", &key, dbi, None);
        crate::cmd::signal_modified(core, dbi, &key);
        core.prop.feed(dbi, &[Bytes::from_static(del), Bytes::from(key.into_vec())]);
        keys_freed += 1;
        if keys_freed.is_multiple_of(16) && start.elapsed().as_micros() as u64 > limit_us {
            start_background(server);
            result = Outcome::Running;
            break;
        }
    }
    let ms = start.elapsed().as_millis() as u64;
    if latency_threshold > 0 && ms >= latency_threshold {
        core.latency.add("eviction-cycle", ms);
    }
    result
}

/// Goes on evicting outside the command path (Redis's eviction time proc), one bounded round
/// at a time with the lock released in between, until under the limit or stuck.
fn start_background(server: &Arc<Server>) {
    if PROC_RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        PROC_RUNNING.store(false, Ordering::Release);
        return;
    };
    let server = Arc::clone(server);
    handle.spawn(async move {
        loop {
            tokio::task::yield_now().await;
            if server.is_shutting_down() {
                break;
            }
            let mut core = server.lock_core().await;
            if core.cfg.maxmemory == 0 || perform(&server, &mut core) != Outcome::Running {
                break;
            }
        }
        PROC_RUNNING.store(false, Ordering::Release);
    });
}

fn is_volatile(p: MaxmemoryPolicy) -> bool {
    use MaxmemoryPolicy::*;
    matches!(p, VolatileLru | VolatileLfu | VolatileRandom | VolatileTtl)
}

/// The next key to evict: (database, key).
fn pick(st: &mut State, core: &Core) -> Option<(usize, Box<[u8]>)> {
    let policy = core.cfg.maxmemory_policy;
    let volatile = is_volatile(policy);
    let ndbs = core.dbs.len();
    if st.cursors.len() < ndbs {
        st.cursors.resize(ndbs, 0);
    }
    let State { pool, next_db, cursors, rng } = st;
    let rng = rng.as_mut().expect("rng");
    if matches!(policy, MaxmemoryPolicy::AllkeysRandom | MaxmemoryPolicy::VolatileRandom) {
        for _ in 0..ndbs {
            *next_db = (*next_db + 1) % ndbs;
            let db = &core.dbs[*next_db];
            if db.is_empty() || (volatile && db.expires == 0) {
                continue;
            }
            let key = if volatile {
                random_volatile(db, rng, &mut cursors[*next_db])
            } else {
                db.table.random(rng).map(|e| e.key().into())
            };
            if let Some(key) = key {
                return Some((*next_db, key));
            }
        }
        return None;
    }
    let samples = core.cfg.maxmemory_samples.max(1) as usize;
    let clock = core.lru_clock;
    let minutes = super::lfu_minutes_now();
    let decay = core.cfg.lfu_decay_time;
    let score = |e: &super::Entry| -> u64 {
        match policy {
            MaxmemoryPolicy::VolatileTtl => u64::MAX - e.expire_at().unwrap_or(0).max(0) as u64,
            MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu => {
                255 - u64::from(super::lfu_decr(e.lru(), minutes, decay))
            }
            _ => super::idle_ms(e.lru(), clock),
        }
    };
    // A few rounds at most: a round only comes back empty-handed when every pooled key has
    // gone since it was pooled.
    for _ in 0..16 {
        let mut total = 0usize;
        for (dbi, db) in core.dbs.iter().enumerate() {
            let size = if volatile { db.expires } else { db.len() };
            if size == 0 {
                continue;
            }
            total += size;
            let mut offer = |e: &super::Entry| pool_insert(pool, score(e), dbi, e.key());
            if volatile {
                sample_volatile(db, samples, rng, &mut cursors[dbi], &mut offer);
            } else {
                db.table.sample(samples, rng, &mut offer);
            }
        }
        if total == 0 {
            return None;
        }
        while let Some(c) = pool.pop() {
            let live = match core.dbs.get(c.db).and_then(|db| db.table.get(&c.key)) {
                Some(e) => !volatile || e.expire_at().is_some(),
                None => false,
            };
            if live {
                return Some((c.db, c.key));
            }
        }
    }
    None
}

fn pool_insert(pool: &mut Vec<Candidate>, score: u64, db: usize, key: &[u8]) {
    if let Some(i) = pool.iter().position(|c| c.db == db && &*c.key == key) {
        if pool[i].score == score {
            return;
        }
        pool.remove(i);
    }
    if pool.len() >= POOL_SIZE {
        if score <= pool[0].score {
            return;
        }
        pool.remove(0);
    }
    let at = pool.partition_point(|c| c.score <= score);
    pool.insert(at, Candidate { score, db, key: key.into() });
}

/// Offers up to `samples` keys with a TTL. Samples the table (keys with a TTL are a fraction
/// of it), then walks it with a cursor if sampling found none.
fn sample_volatile(
    db: &super::Db,
    samples: usize,
    rng: &mut SmallRng,
    cursor: &mut u64,
    offer: &mut impl FnMut(&super::Entry),
) {
    let share = db.expires as f64 / db.len().max(1) as f64;
    let want = ((samples as f64 / share.max(1e-9)).ceil() as usize).clamp(samples, 64 * samples);
    let mut found = 0;
    db.table.sample(want, rng, |e| {
        if found < samples && e.expire_at().is_some() {
            found += 1;
            offer(e);
        }
    });
    let mut steps = 0;
    while found == 0 && steps < 1024 {
        *cursor = db.table.scan(*cursor, |e| {
            if found < samples && e.expire_at().is_some() {
                found += 1;
                offer(e);
            }
        });
        steps += 1;
        if *cursor == 0 && steps > 1 && found == 0 {
            break;
        }
    }
}

fn random_volatile(db: &super::Db, rng: &mut SmallRng, cursor: &mut u64) -> Option<Box<[u8]>> {
    for _ in 0..32 {
        match db.table.random(rng) {
            Some(e) if e.expire_at().is_some() => return Some(e.key().into()),
            Some(_) => {}
            None => return None,
        }
    }
    let mut found: Option<Box<[u8]>> = None;
    for _ in 0..4096 {
        *cursor = db.table.scan(*cursor, |e| {
            if found.is_none() && e.expire_at().is_some() {
                found = Some(e.key().into());
            }
        });
        if found.is_some() || *cursor == 0 {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(11), 575);
        assert_eq!(time_limit_us(100), u64::MAX);
    }

    #[test]
    fn pool_keeps_the_best() {
        let mut pool = Vec::new();
        for i in 0..40u64 {
            pool_insert(&mut pool, (i * 7) % 40, 0, format!("k{i}").as_bytes());
        }
        assert_eq!(pool.len(), POOL_SIZE);
        let scores: Vec<u64> = pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, (24..40).collect::<Vec<_>>());
        // The same key again replaces its entry instead of taking a second slot.
        pool_insert(&mut pool, 100, 0, b"k0");
        pool_insert(&mut pool, 101, 0, b"k0");
        assert_eq!(pool.len(), POOL_SIZE);
        assert_eq!((pool.last().unwrap().score, &*pool.last().unwrap().key), (101, &b"k0"[..]));
    }

    /// Prints what a meter reading costs next to an epoch advance and `stats.allocated`
    /// (`cargo test -p vireo-server --lib meter_cost -- --nocapture`).
    #[test]
    fn meter_cost() {
        let n = 1_000_000;
        let t = Instant::now();
        let mut x = 0u64;
        for _ in 0..n {
            x = x.wrapping_add(used_memory());
        }
        let meter = t.elapsed().as_nanos() as f64 / n as f64;
        let n2 = 10_000;
        let t = Instant::now();
        for _ in 0..n2 {
            x = x.wrapping_add(crate::info::used_memory());
        }
        let epoch = t.elapsed().as_nanos() as f64 / n2 as f64;
        println!(
            "meter reading: {meter:.1} ns; epoch advance + stats.allocated: {epoch:.1} ns ({x})"
        );
    }
}
