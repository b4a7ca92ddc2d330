//! The keyspace's hash table: chained buckets of [`Entry`] records with incremental rehash.
//!
//! Layout: two bucket arrays of `Option<Entry<O>>` (8 bytes per bucket, power-of-two sizes)
//! and a rehash index, like Redis's dict. The chain link lives inside each record (see
//! `record.rs`), so the table adds nothing per key beyond its bucket: with a load factor
//! between 0.5 and 1 that is 8-16 bytes per key (~8.4 at one million keys, 2^20 buckets).
//! Together with a 48-byte record for a 10-byte key and 10-byte value that is ~56 bytes per key,
//! with or without a TTL (Redis: ~88).
//!
//! Resizing never stops the world: the table grows (to the next power of two above `len`)
//! when `len >= buckets`, and shrinks when `len < buckets / 10`, by allocating the second array
//! and moving buckets a few at a time: two per mutating operation (`insert`, `remove`,
//! `get_mut`), plus whatever the server's cron asks for with [`Table::rehash_step`]. During a
//! rehash, lookups look in both arrays and inserts go to the new one. Two buckets per
//! operation means a growth rehash is finished within half the inserts that the next growth
//! needs, so a table being filled seldom holds two arrays.
//!
//! Hashing is foldhash seeded randomly per table (keys come from clients: no fixed seed).
//!
//! [`Table::scan`] uses the reverse-binary cursor, so a full scan returns every key present
//! for its whole duration at least once, whatever resizes happen between calls.
//!
//! **Snapshots without copying** ([`Table::begin_snapshot`]): a point-in-time image of the
//! table is taken while clients go on writing, with no fork and no copy of the data. Each
//! record carries a one-bit mark; the table remembers which mark value means "already in the
//! snapshot". Starting a snapshot flips that value, so every record becomes "not yet written"
//! in O(1). A walker ([`Table::snapshot_step`]) then visits the buckets with the SCAN cursor
//! (which sees every record present throughout, whatever rehashes happen) and hands each
//! unwritten record to the snapshot's sink. Every path that can change or drop a record first
//! hands it to the sink if it is still unwritten (`get_mut`, `probe_mut`, `insert` over an
//! existing key, `remove`, `scan_remove`, `take`/`clear`); a new key gets the written mark,
//! since it was not there at the snapshot's instant. So the sink sees each record exactly once,
//! as it was when the snapshot began, and memory grows only by what the sink buffers.

use std::hash::{BuildHasher, Hasher};
use std::mem;

use rand::Rng;

use super::record::Entry;

type Bucket<O> = Option<Entry<O>>;

/// Receives each record of a snapshot once, as it was when the snapshot began.
pub type SnapshotSink<O> = Box<dyn FnMut(&Entry<O>) + Send>;

/// A snapshot in progress over one table.
struct Snapshot<O> {
    sink: SnapshotSink<O>,
    /// The walker's SCAN cursor; `None` before the first step.
    cursor: Option<u64>,
    /// Set when the snapshot is dropped before its walk completed (the table was dropped or
    /// replaced), so that whoever drives it knows the image is incomplete.
    aborted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    complete: bool,
}

impl<O> Drop for Snapshot<O> {
    fn drop(&mut self) {
        if !self.complete {
            self.aborted.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// How many cursor steps ahead a snapshot walk prefetches buckets.
const PREFETCH_AHEAD: usize = 8;

/// A cache prefetch hint for `p`.
fn prefetch_addr(p: *const u8) {
    // SAFETY: a prefetch is only a hint: it reads nothing architecturally and never faults,
    // whatever the address; SSE, which it needs, is part of x86_64.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hands `e` to the snapshot if it is still unwritten (the one check every mutating path
/// makes; without a snapshot it is a single branch).
#[inline]
fn preserve<O>(snap: &mut Option<Box<Snapshot<O>>>, written: bool, e: &mut Entry<O>) {
    if let Some(s) = snap {
        if e.snap_mark() != written {
            (s.sink)(e);
            e.set_snap_mark(written);
        }
    }
}

/// Smallest non-empty bucket array.
const MIN_BUCKETS: usize = 4;
/// Shrink when fewer than 1/SHRINK_RATIO of the buckets are used.
const SHRINK_RATIO: usize = 10;
/// Buckets moved per mutating operation while rehashing.
const STEP_PER_OP: usize = 2;
/// A rehash step looks at no more than this many empty buckets per bucket it may move.
const EMPTY_VISITS_PER_BUCKET: usize = 10;

/// A chained hash table of records keyed by their key bytes.
pub struct Table<O> {
    /// ht[0] is the table; while rehashing, entries move from ht[0] to ht[1], and when done
    /// ht[1] becomes ht[0]. Outside a rehash, ht[1] is empty.
    ht: [Box<[Bucket<O>]>; 2],
    /// Next ht[0] bucket to move, while rehashing.
    rehash_idx: Option<usize>,
    len: usize,
    hasher: foldhash::fast::RandomState,
    /// The mark value that means "in the current (or last) snapshot"; new records get it.
    written: bool,
    snap: Option<Box<Snapshot<O>>>,
}

impl<O> Default for Table<O> {
    fn default() -> Self {
        Self::new()
    }
}

fn empty_buckets<O>(n: usize) -> Box<[Bucket<O>]> {
    std::iter::repeat_with(|| None).take(n).collect()
}

/// What [`Table::probe_mut`] found.
pub enum Probe<'a, O> {
    Missing,
    Live(&'a mut Entry<O>),
    /// The entry was there and `remove_if` accepted it: it is out of the table now.
    Removed(Entry<O>),
}

/// Finds the slot in a chain that holds `key`, or the empty slot at the chain's end.
fn chain_find<'a, O>(mut slot: &'a mut Bucket<O>, key: &[u8]) -> &'a mut Bucket<O> {
    loop {
        if slot.as_ref().is_none_or(|e| e.key() == key) {
            return slot;
        }
        slot = slot.as_mut().unwrap().next_slot();
    }
}

/// Removes from a chain every entry `pred` accepts, handing each to `removed`.
fn chain_retain<O>(
    mut slot: &mut Bucket<O>,
    pred: &mut impl FnMut(&Entry<O>) -> bool,
    removed: &mut impl FnMut(Entry<O>),
) -> usize {
    let mut n = 0;
    loop {
        let hit = match slot.as_ref() {
            None => return n,
            Some(e) => pred(e),
        };
        if hit {
            let mut e = slot.take().unwrap();
            *slot = e.take_next();
            n += 1;
            removed(e);
        } else {
            slot = slot.as_mut().unwrap().next_slot();
        }
    }
}

/// The scan masks of a pair of bucket arrays: (index of the smaller array, its mask, the larger
/// one's mask while rehashing), or None when the table is empty.
fn scan_masks_of<O>(ht: &[Box<[Bucket<O>]>; 2]) -> Option<(usize, u64, Option<u64>)> {
    let (a, b) = (ht[0].len(), ht[1].len());
    if a == 0 {
        return None;
    }
    if b == 0 {
        return Some((0, a as u64 - 1, None));
    }
    let small = if a <= b { 0 } else { 1 };
    let (s, l) = (ht[small].len(), ht[1 - small].len());
    Some((small, s as u64 - 1, Some(l as u64 - 1)))
}

/// Which of the two tables a scan visits: the smaller or the larger.
#[derive(Clone, Copy)]
enum Side {
    Small,
    Large,
}

/// Advances a reverse-binary cursor past the bits of `mask`.
pub(crate) fn next_cursor(v: u64, mask: u64) -> u64 {
    // Set the bits above the mask so the increment carries into the reversed high bits.
    ((v | !mask).reverse_bits().wrapping_add(1)).reverse_bits()
}

/// One SCAN step over bucket indices: calls `visit` for every bucket the cursor `v` covers and
/// returns the next cursor (0 when done). With two tables, a bucket of the small one is
/// visited together with all the buckets of the large one that it expands into.
fn scan_step(
    v: u64,
    small_mask: u64,
    large_mask: Option<u64>,
    mut visit: impl FnMut(Side, usize),
) -> u64 {
    visit(Side::Small, (v & small_mask) as usize);
    match large_mask {
        None => next_cursor(v, small_mask),
        Some(m1) => {
            let mut v = v;
            loop {
                visit(Side::Large, (v & m1) as usize);
                v = next_cursor(v, m1);
                if v & (small_mask ^ m1) == 0 {
                    return v;
                }
            }
        }
    }
}

impl<O> Table<O> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Table {
            ht: [empty_buckets(0), empty_buckets(0)],
            rehash_idx: None,
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
            written: false,
            snap: None,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total buckets in both arrays.
    pub fn buckets(&self) -> usize {
        self.ht[0].len() + self.ht[1].len()
    }

    /// Bytes held by the bucket arrays (for memory accounting).
    pub fn bucket_bytes(&self) -> usize {
        self.buckets() * mem::size_of::<Bucket<O>>()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish()
    }

    fn tables(&self) -> usize {
        if self.is_rehashing() {
            2
        } else {
            1
        }
    }

    /// Index of `h` in table `t` (which must be non-empty).
    fn index(&self, t: usize, h: u64) -> usize {
        (h as usize) & (self.ht[t].len() - 1)
    }

    /// Asks the CPU to start fetching the bucket an insert of `key` would go to. The RDB loader
    /// calls it once it has read a key, and [`Table::prefetch_chain`] once it has decoded the
    /// value, and inserts one key late: the cache misses of an insert then overlap the decoding
    /// of the next values instead of stalling the load.
    pub fn prefetch(&self, key: &[u8]) {
        if let Some(slot) = self.insert_slot(key) {
            prefetch_addr((slot as *const Option<Entry<O>>).cast());
        }
    }

    /// Asks the CPU to start fetching the first record of the chain `key` would join (its key
    /// is what an insert compares first).
    pub fn prefetch_chain(&self, key: &[u8]) {
        if let Some(Some(e)) = self.insert_slot(key) {
            prefetch_addr(e.addr());
        }
    }

    fn insert_slot(&self, key: &[u8]) -> Option<&Option<Entry<O>>> {
        let t = self.tables() - 1;
        if self.ht[t].is_empty() {
            return None;
        }
        Some(&self.ht[t][self.index(t, self.hash(key))])
    }

    /// Looks up a key.
    pub fn get(&self, key: &[u8]) -> Option<&Entry<O>> {
        if self.len == 0 {
            return None;
        }
        let h = self.hash(key);
        for t in 0..self.tables() {
            let mut cur = self.ht[t][self.index(t, h)].as_ref();
            while let Some(e) = cur {
                if e.key() == key {
                    return Some(e);
                }
                cur = e.next();
            }
        }
        None
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Finds the slot holding `key` as (table, bucket), without moving anything.
    fn locate(&self, key: &[u8], h: u64) -> Option<usize> {
        for t in 0..self.tables() {
            let mut cur = self.ht[t][self.index(t, h)].as_ref();
            while let Some(e) = cur {
                if e.key() == key {
                    return Some(t);
                }
                cur = e.next();
            }
        }
        None
    }

    /// Looks up a key for modification (helps an ongoing rehash along).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry<O>> {
        if self.len == 0 {
            return None;
        }
        self.rehash_tick();
        let h = self.hash(key);
        // Outside a rehash there is one table: walk its chain once.
        let t = if self.is_rehashing() { self.locate(key, h)? } else { 0 };
        let i = self.index(t, h);
        let e = chain_find(&mut self.ht[t][i], key).as_mut()?;
        preserve(&mut self.snap, self.written, e);
        Some(e)
    }

    /// Looks up a key for modification, removing it instead when `remove_if` says so (lazy
    /// expiry): one walk of one chain either way.
    pub fn probe_mut(
        &mut self,
        key: &[u8],
        remove_if: impl FnOnce(&Entry<O>) -> bool,
    ) -> Probe<'_, O> {
        if self.len == 0 {
            return Probe::Missing;
        }
        self.rehash_tick();
        let h = self.hash(key);
        let t = if self.is_rehashing() {
            match self.locate(key, h) {
                Some(t) => t,
                None => return Probe::Missing,
            }
        } else {
            0
        };
        let i = self.index(t, h);
        // Borrow the bucket arrays and the length separately, so the removal branch can update
        // the length while the other branch returns a borrow of the chain.
        let Table { ht, len, snap, written, .. } = self;
        let slot = chain_find(&mut ht[t][i], key);
        if let Some(e) = slot.as_mut() {
            preserve(snap, *written, e);
        }
        match slot.as_ref().map(remove_if) {
            None => Probe::Missing,
            Some(false) => Probe::Live(slot.as_mut().expect("slot is occupied")),
            Some(true) => {
                let mut e = slot.take().expect("slot is occupied");
                *slot = e.take_next();
                *len -= 1;
                Probe::Removed(e)
            }
        }
    }

    /// Inserts an entry; if one with the same key exists it is replaced (in place in its
    /// chain) and returned.
    pub fn insert(&mut self, mut entry: Entry<O>) -> Option<Entry<O>> {
        self.rehash_tick();
        self.grow_if_needed();
        entry.set_snap_mark(self.written);
        let h = self.hash(entry.key());
        if let Some(t) = self.locate(entry.key(), h) {
            let i = self.index(t, h);
            let slot = chain_find(&mut self.ht[t][i], entry.key());
            let mut old = slot.take().unwrap();
            preserve(&mut self.snap, self.written, &mut old);
            entry.set_next(old.take_next());
            *slot = Some(entry);
            return Some(old);
        }
        let t = self.tables() - 1;
        let i = self.index(t, h);
        let bucket = &mut self.ht[t][i];
        entry.set_next(bucket.take());
        *bucket = Some(entry);
        self.len += 1;
        None
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry<O>> {
        if self.len == 0 {
            return None;
        }
        self.rehash_tick();
        let h = self.hash(key);
        let t = self.locate(key, h)?;
        let i = self.index(t, h);
        let slot = chain_find(&mut self.ht[t][i], key);
        let mut e = slot.take().unwrap();
        *slot = e.take_next();
        self.len -= 1;
        self.shrink_if_needed();
        preserve(&mut self.snap, self.written, &mut e);
        Some(e)
    }

    /// Drops every entry and frees the bucket arrays.
    pub fn clear(&mut self) {
        drop(self.take());
    }

    /// Takes every entry out as a table of its own, leaving this one empty (FLUSHALL ASYNC
    /// drops the returned table on another thread). A snapshot in progress first gets every
    /// record it has not had yet, and is then complete for this table.
    pub fn take(&mut self) -> Table<O> {
        while self.snap.is_some() {
            self.snapshot_step(usize::MAX);
        }
        let written = self.written;
        let t = mem::take(self);
        self.written = written;
        t
    }

    /// Starts a point-in-time snapshot of this table (see the module doc): from now on every
    /// record present is handed to `sink` exactly once, as it is now, either by
    /// [`snapshot_step`](Self::snapshot_step) or just before something changes it. `aborted`
    /// is set if the table is dropped before the snapshot completes. Returns false (and does
    /// nothing) while another snapshot is in progress: one at a time, as the marks allow.
    pub fn begin_snapshot(
        &mut self,
        sink: SnapshotSink<O>,
        aborted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> bool {
        if self.snap.is_some() {
            return false;
        }
        self.written = !self.written;
        self.snap = Some(Box::new(Snapshot { sink, cursor: None, aborted, complete: false }));
        true
    }

    /// Stops handing records to the snapshot's sink (which is dropped now) and flags it
    /// aborted. The walk itself must still finish, through
    /// [`snapshot_step`](Self::snapshot_step), to leave every record's mark right for the next
    /// snapshot; it is cheap without a sink.
    pub fn discard_snapshot(&mut self) {
        if let Some(s) = &mut self.snap {
            s.sink = Box::new(|_| {});
            s.aborted.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Whether a snapshot of this table is in progress.
    pub fn snapshot_active(&self) -> bool {
        self.snap.is_some()
    }

    /// Hands unwritten records to the snapshot's sink, looking at about `max_entries` records
    /// (whole buckets at a time). Returns true while the snapshot is still in progress; when
    /// the walk is complete the sink is dropped.
    pub fn snapshot_step(&mut self, max_entries: usize) -> bool {
        let Table { ht, snap, written, .. } = self;
        let Some(s) = snap.as_mut() else { return false };
        let (small, m0, m1) = match scan_masks_of(ht) {
            Some(m) => m,
            None => {
                // Empty table: nothing to write.
                s.complete = true;
                *snap = None;
                return false;
            }
        };
        let mut seen = 0usize;
        let mut cursor = s.cursor.unwrap_or(0);
        // The cursor order jumps around the bucket array, which defeats the hardware
        // prefetcher: outside a rehash, fetch the buckets a few steps ahead, and the first
        // record of the chains half as far ahead (their buckets arrived meanwhile).
        let lookahead = m1.is_none();
        let (mut far, mut near) = (cursor, cursor);
        if lookahead {
            for step in 0..PREFETCH_AHEAD {
                far = next_cursor(far, m0);
                if step < PREFETCH_AHEAD / 2 {
                    near = far;
                }
            }
        }
        loop {
            if lookahead {
                if far != 0 {
                    prefetch_addr((&ht[small][(far & m0) as usize] as *const Bucket<O>).cast());
                    far = next_cursor(far, m0);
                }
                if near != 0 {
                    if let Some(e) = &ht[small][(near & m0) as usize] {
                        prefetch_addr(e.addr());
                    }
                    near = next_cursor(near, m0);
                }
            }
            cursor = scan_step(cursor, m0, m1, |side, i| {
                let t = match side {
                    Side::Small => small,
                    Side::Large => 1 - small,
                };
                let mut cur = ht[t][i].as_mut();
                while let Some(e) = cur {
                    seen += 1;
                    if e.snap_mark() != *written {
                        (s.sink)(e);
                        e.set_snap_mark(*written);
                    }
                    cur = e.next_slot().as_mut();
                }
            });
            if cursor == 0 {
                s.complete = true;
                *snap = None;
                return false;
            }
            if seen >= max_entries {
                s.cursor = Some(cursor);
                return true;
            }
        }
    }

    /// Sizes an empty table for `n` entries at once (a loader that knows the key count skips
    /// the rehashes growing one insert at a time would do). No effect on a non-empty table.
    pub fn reserve(&mut self, n: usize) {
        if self.len == 0 && self.rehash_idx.is_none() && n > self.ht[0].len() {
            self.ht[0] = empty_buckets(n.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    fn rehash_tick(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash_step(STEP_PER_OP);
        }
    }

    /// Starts a rehash into a table of `size` buckets (or sets up the first table).
    fn resize_to(&mut self, size: usize) {
        debug_assert!(self.rehash_idx.is_none() && size.is_power_of_two());
        if self.ht[0].is_empty() {
            self.ht[0] = empty_buckets(size);
        } else if self.ht[0].len() != size {
            self.ht[1] = empty_buckets(size);
            self.rehash_idx = Some(0);
        }
    }

    fn grow_if_needed(&mut self) {
        if self.rehash_idx.is_none() && self.len >= self.ht[0].len() {
            self.resize_to((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    fn shrink_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        if self.len == 0 {
            // Nothing to move: just free the array.
            self.ht[0] = empty_buckets(0);
        } else if self.ht[0].len() > MIN_BUCKETS && self.len * SHRINK_RATIO < self.ht[0].len() {
            self.resize_to(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Moves up to `max_buckets` non-empty buckets (looking at no more than ten times as many
    /// empty ones) from the old array to the new. Returns whether a rehash is still under way.
    /// Also starts a pending shrink, so the server's cron can call it on idle tables.
    pub fn rehash_step(&mut self, max_buckets: usize) -> bool {
        let Some(mut i) = self.rehash_idx else {
            self.shrink_if_needed();
            return self.rehash_idx.is_some();
        };
        let mut empty_visits = max_buckets.saturating_mul(EMPTY_VISITS_PER_BUCKET).max(1);
        let mut moved = 0;
        let [old, new] = &mut self.ht;
        let mask = new.len() - 1;
        while moved < max_buckets && i < old.len() {
            let Some(mut cur) = old[i].take() else {
                i += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    break;
                }
                continue;
            };
            loop {
                let rest = cur.take_next();
                let mut h = self.hasher.build_hasher();
                h.write(cur.key());
                let j = (h.finish() as usize) & mask;
                cur.set_next(new[j].take());
                new[j] = Some(cur);
                match rest {
                    Some(r) => cur = r,
                    None => break,
                }
            }
            i += 1;
            moved += 1;
        }
        if i >= old.len() {
            self.ht[0] = mem::replace(&mut self.ht[1], empty_buckets(0));
            self.rehash_idx = None;
            false
        } else {
            self.rehash_idx = Some(i);
            true
        }
    }

    /// Iterates over all entries (unspecified order).
    pub fn iter(&self) -> Iter<'_, O> {
        Iter { table: self, t: 0, idx: 0, cur: None, left: self.len }
    }

    fn scan_masks(&self) -> Option<(usize, u64, Option<u64>)> {
        scan_masks_of(&self.ht)
    }

    /// One SCAN call: calls `f` for the entries in the buckets under `cursor` and returns the
    /// next cursor (0 when the scan is complete). Start with 0. Every entry present for the
    /// whole scan is reported at least once; some may be reported more than once.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry<O>)) -> u64 {
        let Some((small, m0, m1)) = self.scan_masks() else {
            return 0;
        };
        scan_step(cursor, m0, m1, |side, i| {
            let t = match side {
                Side::Small => small,
                Side::Large => 1 - small,
            };
            let mut cur = self.ht[t][i].as_ref();
            while let Some(e) = cur {
                f(e);
                cur = e.next();
            }
        })
    }

    /// Like [`scan`](Self::scan), but removes the entries `pred` accepts, passing each to
    /// `removed` (the active expire cycle). Same cursor and guarantee as `scan`.
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        mut pred: impl FnMut(&Entry<O>) -> bool,
        mut removed: impl FnMut(Entry<O>),
    ) -> u64 {
        let Some((small, m0, m1)) = self.scan_masks() else {
            return 0;
        };
        let mut n = 0;
        let Table { ht, snap, written, .. } = self;
        let mut removed = |mut e: Entry<O>| {
            preserve(snap, *written, &mut e);
            removed(e)
        };
        let next = scan_step(cursor, m0, m1, |side, i| {
            let t = match side {
                Side::Small => small,
                Side::Large => 1 - small,
            };
            n += chain_retain(&mut ht[t][i], &mut pred, &mut removed);
        });
        self.len -= n;
        if n > 0 {
            self.shrink_if_needed();
        }
        next
    }

    /// Calls `f` for up to `count` entries sampled from a random spot of the table (Redis's
    /// "get some keys", used for eviction and by [`random`](Self::random)). Entries come from
    /// consecutive buckets, so they are not independent, and after a jump past a run of empty
    /// buckets an entry may be reported twice. Returns how many were reported (can be fewer
    /// than `count` on a sparse table).
    pub fn sample<'a, R: Rng + ?Sized>(
        &'a self,
        count: usize,
        rng: &mut R,
        mut f: impl FnMut(&'a Entry<O>),
    ) -> usize {
        let count = count.min(self.len);
        if count == 0 {
            return 0;
        }
        let tables = self.tables();
        let rehash_idx = self.rehash_idx.unwrap_or(0);
        let mask = self.ht[0].len().max(self.ht[1].len()) - 1;
        let mut i = rng.gen::<usize>() & mask;
        let mut empty_run = 0;
        let mut stored = 0;
        let mut steps = count * 10;
        while stored < count && steps > 0 {
            steps -= 1;
            for t in 0..tables {
                // ht[0] buckets below the rehash index are empty: skip to where entries are.
                if tables == 2 && t == 0 && i < rehash_idx {
                    if i >= self.ht[1].len() {
                        i = rehash_idx;
                    } else {
                        continue;
                    }
                }
                if i >= self.ht[t].len() {
                    continue;
                }
                let mut cur = self.ht[t][i].as_ref();
                if cur.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = rng.gen::<usize>() & mask;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                while let Some(e) = cur {
                    f(e);
                    stored += 1;
                    if stored == count {
                        return stored;
                    }
                    cur = e.next();
                }
            }
            i = (i + 1) & mask;
        }
        stored
    }

    /// A random entry, reasonably fair: samples a few buckets' worth of entries and picks one
    /// of them uniformly, falling back to a random non-empty bucket.
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&Entry<O>> {
        const N: usize = 15;
        if self.len == 0 {
            return None;
        }
        let mut got: [Option<&Entry<O>>; N] = [None; N];
        let mut n = 0;
        self.sample(N, rng, |e| {
            got[n] = Some(e);
            n += 1;
        });
        if n > 0 {
            return got[rng.gen_range(0..n)];
        }
        // Pick a random non-empty bucket, then a random member of its chain.
        let head = loop {
            let b = match self.rehash_idx {
                Some(r) => {
                    let (s0, s1) = (self.ht[0].len(), self.ht[1].len());
                    let k = r + rng.gen_range(0..s0 + s1 - r);
                    if k >= s0 {
                        &self.ht[1][k - s0]
                    } else {
                        &self.ht[0][k]
                    }
                }
                None => &self.ht[0][rng.gen::<usize>() & (self.ht[0].len() - 1)],
            };
            if let Some(e) = b {
                break e;
            }
        };
        let mut len = 0;
        let mut cur = Some(head);
        while let Some(e) = cur {
            len += 1;
            cur = e.next();
        }
        let mut e = head;
        for _ in 0..rng.gen_range(0..len) {
            e = e.next().unwrap();
        }
        Some(e)
    }
}

/// Iterator over a table's entries.
pub struct Iter<'a, O> {
    table: &'a Table<O>,
    t: usize,
    idx: usize,
    cur: Option<&'a Entry<O>>,
    left: usize,
}

impl<'a, O> Iterator for Iter<'a, O> {
    type Item = &'a Entry<O>;

    fn next(&mut self) -> Option<&'a Entry<O>> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.next();
                self.left -= 1;
                return Some(e);
            }
            if self.left == 0 {
                return None;
            }
            let ht = &self.table.ht[self.t];
            if self.idx >= ht.len() {
                self.t += 1;
                self.idx = 0;
                if self.t == 2 {
                    return None;
                }
                continue;
            }
            self.cur = ht[self.idx].as_ref();
            self.idx += 1;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, O> IntoIterator for &'a Table<O> {
    type Item = &'a Entry<O>;
    type IntoIter = Iter<'a, O>;
    fn into_iter(self) -> Iter<'a, O> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{Value, ValueRef};
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::borrow::Cow;
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Tracked(Arc<AtomicUsize>);
    impl Tracked {
        fn new(live: &Arc<AtomicUsize>) -> Box<Self> {
            live.fetch_add(1, Ordering::SeqCst);
            Box::new(Tracked(live.clone()))
        }
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    fn ent<O>(i: usize) -> Entry<O> {
        Entry::new(&key(i), Value::Int(i as i64), None)
    }

    fn int_of<O>(e: &Entry<O>) -> i64 {
        match e.value() {
            ValueRef::Int(n) => n,
            _ => panic!(),
        }
    }

    fn big() -> usize {
        if cfg!(miri) {
            300
        } else {
            50_000
        }
    }

    #[test]
    fn basic_ops_and_growth() {
        let mut t: Table<()> = Table::new();
        assert_eq!(t.bucket_bytes(), 0);
        assert!(t.get(b"x").is_none());
        let n = big();
        for i in 0..n {
            assert!(t.insert(ent(i)).is_none());
            assert_eq!(t.len(), i + 1);
        }
        for i in 0..n {
            assert_eq!(int_of(t.get(&key(i)).unwrap()), i as i64);
        }
        assert!(!t.contains(b"nope"));
        let old = t.insert(Entry::new(&key(3), Value::Int(-3), None)).unwrap();
        assert_eq!(int_of(&old), 3);
        assert_eq!(int_of(t.get(&key(3)).unwrap()), -3);
        assert_eq!(t.len(), n);
        t.get_mut(&key(4)).unwrap().set_value(Value::Int(-4));
        assert_eq!(int_of(t.get(&key(4)).unwrap()), -4);
        assert_eq!(t.iter().count(), n);
        let keys: HashSet<Vec<u8>> = t.iter().map(|e| e.key().to_vec()).collect();
        assert_eq!(keys.len(), n);
        while t.rehash_step(100) {}
        assert!(t.buckets().is_power_of_two() && t.buckets() >= n && t.buckets() < 2 * n + 8);
        for i in 0..n {
            assert_eq!(
                int_of(&t.remove(&key(i)).unwrap()),
                if i == 3 || i == 4 { -(i as i64) } else { i as i64 }
            );
            assert!(t.remove(&key(i)).is_none());
        }
        assert_eq!(t.len(), 0);
        while t.rehash_step(100) {}
        assert_eq!(t.bucket_bytes(), 0);
    }

    #[test]
    fn shrinks_incrementally() {
        let mut t: Table<()> = Table::new();
        let n = if cfg!(miri) { 256 } else { 4096 };
        for i in 0..n {
            t.insert(ent(i));
        }
        while t.rehash_step(1000) {}
        let full = t.buckets();
        assert_eq!(full, n);
        for i in 0..n - 10 {
            t.remove(&key(i));
        }
        while t.rehash_step(1000) {}
        // shrunk until the 10% fill rule holds again
        assert!(t.buckets() <= 10 * SHRINK_RATIO, "{}", t.buckets());
        for i in n - 10..n {
            assert!(t.contains(&key(i)));
        }
        assert_eq!(t.iter().count(), 10);
    }

    #[test]
    fn rehash_progress_and_cron_step() {
        let mut t: Table<()> = Table::new();
        for i in 0..1024 {
            t.insert(ent(i));
        }
        while t.rehash_step(1) {}
        // the 1024th insert made 2048 buckets; the next growth is at 2048
        for i in 1024..2048 {
            t.insert(ent(i));
        }
        assert!(!t.is_rehashing());
        t.insert(ent(2048));
        assert!(t.is_rehashing());
        assert_eq!(t.buckets(), 2048 + 4096);
        // lookups during the rehash see everything
        for i in 0..=2048 {
            assert!(t.contains(&key(i)));
        }
        let mut steps = 0;
        while t.rehash_step(10) {
            steps += 1;
            assert_eq!(t.iter().count(), 2049);
        }
        assert!(steps > 50 && steps <= 205, "{steps}");
        assert_eq!(t.buckets(), 4096);
        // each mutating op moves buckets too
        let mut t: Table<()> = Table::new();
        for i in 0..=2048 {
            t.insert(ent(i));
        }
        assert!(t.is_rehashing());
        let mut ops = 0;
        while t.is_rehashing() {
            t.get_mut(&key(ops));
            ops += 1;
        }
        assert!(ops <= 2048 / STEP_PER_OP, "{ops}");
    }

    #[test]
    fn no_leaks_and_take() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut t: Table<Tracked> = Table::new();
        let n = big() / 5;
        for i in 0..n {
            t.insert(Entry::new(&key(i), Value::Obj(Tracked::new(&live)), None));
        }
        for i in 0..n / 2 {
            drop(t.insert(Entry::new(&key(i), Value::Obj(Tracked::new(&live)), None)));
        }
        assert_eq!(live.load(Ordering::SeqCst), n);
        for i in 0..n / 4 {
            drop(t.remove(&key(i)));
        }
        assert_eq!(live.load(Ordering::SeqCst), n - n / 4);
        let taken = t.take();
        assert_eq!(t.len(), 0);
        assert_eq!(taken.len(), n - n / 4);
        t.insert(Entry::new(b"x", Value::Obj(Tracked::new(&live)), None));
        std::thread::spawn(move || drop(taken)).join().unwrap();
        assert_eq!(live.load(Ordering::SeqCst), 1);
        t.clear();
        assert_eq!(live.load(Ordering::SeqCst), 0);
        assert_eq!(t.bucket_bytes(), 0);
        // dropping mid-rehash
        for i in 0..=(if cfg!(miri) { 64 } else { 4096 }) {
            t.insert(Entry::new(&key(i), Value::Obj(Tracked::new(&live)), None));
        }
        assert!(t.is_rehashing());
        drop(t);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    /// Runs a full scan while `mutate` changes the table between rounds (a round, like a SCAN
    /// call with COUNT 10, runs cursor steps until it has seen 10 entries); checks that every
    /// key present for the whole scan was returned.
    /// Returns how many rounds started mid-rehash and how many distinct array sizes were seen.
    fn scan_with(
        t: &mut Table<()>,
        mut mutate: impl FnMut(&mut Table<()>, usize),
    ) -> (usize, usize) {
        let mut sizes = HashSet::new();
        let mut rehashing_rounds = 0;
        let before: HashSet<Vec<u8>> = t.iter().map(|e| e.key().to_vec()).collect();
        let mut removed_during = HashSet::new();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut rounds = 0;
        loop {
            let mut got = 0;
            sizes.insert(t.ht[0].len());
            sizes.insert(t.ht[1].len());
            rehashing_rounds += t.is_rehashing() as usize;
            loop {
                cursor = t.scan(cursor, |e| {
                    seen.insert(e.key().to_vec());
                    got += 1;
                });
                if cursor == 0 || got >= 10 {
                    break;
                }
            }
            rounds += 1;
            if cursor == 0 {
                break;
            }
            let keys_before: Vec<Vec<u8>> = t.iter().map(|e| e.key().to_vec()).collect();
            mutate(t, rounds);
            for k in keys_before {
                if !t.contains(&k) {
                    removed_during.insert(k);
                }
            }
            assert!(rounds < 100_000);
        }
        for k in before.difference(&removed_during) {
            assert!(seen.contains(k), "key {:?} missed", String::from_utf8_lossy(k));
        }
        sizes.remove(&0);
        (rehashing_rounds, sizes.len())
    }

    #[test]
    fn scan_guarantee_stable_table() {
        let mut t: Table<()> = Table::new();
        assert_eq!(t.scan(0, |_| panic!()), 0);
        for i in 0..1000 {
            t.insert(ent(i));
        }
        let mut seen = Vec::new();
        let mut c = 0;
        loop {
            c = t.scan(c, |e| seen.push(e.key().to_vec()));
            if c == 0 {
                break;
            }
        }
        // No rehash in progress and no changes: each key exactly once.
        while t.rehash_step(100) {}
        seen.clear();
        loop {
            c = t.scan(c, |e| seen.push(e.key().to_vec()));
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1000);
    }

    #[test]
    fn scan_guarantee_with_growth() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut t: Table<()> = Table::new();
        for i in 0..30 {
            t.insert(ent(i));
        }
        let mut next = 1000;
        let (rr, sizes) = scan_with(&mut t, |t, round| {
            // bursts of growth early on, then a trickle so the scan can finish
            let burst = if round < 10 { 80 } else { 4 };
            for _ in 0..rng.gen_range(0..burst) {
                t.insert(ent(next));
                next += 1;
            }
            if rng.gen_bool(0.3) {
                t.rehash_step(rng.gen_range(1..50));
            }
        });
        assert!(rr > 0 && sizes >= 3, "{rr} {sizes}");
        // grew at least three times (32 -> 256) during the scan
        assert!(t.buckets() >= 256, "{} {}", t.len(), t.buckets());
    }

    #[test]
    fn scan_guarantee_with_shrink() {
        // The table's hash seed is random, so whether a shrink overlaps the scan varies from run
        // to run: every run must keep the guarantee (checked inside scan_with), and at least one
        // of several must have scanned across a shrink.
        let mut exercised = false;
        for seed in 0..8 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let n = if cfg!(miri) { 600 } else { 5000 };
            let mut t: Table<()> = Table::new();
            for i in 0..n {
                t.insert(ent(i));
            }
            while t.rehash_step(1000) {}
            // keys 0..50 stay; the rest go away while scanning
            let mut victims: Vec<usize> = (50..n).collect();
            let (rr, sizes) = scan_with(&mut t, |t, _| {
                for _ in 0..rng.gen_range(0..100) {
                    if let Some(v) = victims.pop() {
                        t.remove(&key(v));
                    }
                }
                if rng.gen_bool(0.3) {
                    t.rehash_step(rng.gen_range(1..20));
                }
            });
            exercised |= rr > 0 && sizes >= 2;
            for v in victims {
                t.remove(&key(v));
            }
            assert_eq!(t.len(), 50);
            if exercised && !cfg!(miri) {
                break;
            }
        }
        assert!(exercised, "no run scanned across a shrink");
    }

    #[test]
    fn scan_guarantee_grow_and_shrink_mixed() {
        for seed in 0..(if cfg!(miri) { 2 } else { 30 }) {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut t: Table<()> = Table::new();
            let n0 = rng.gen_range(1..if cfg!(miri) { 300 } else { 3000 });
            for i in 0..n0 {
                t.insert(ent(i));
            }
            let mut next = 100_000;
            let _ = scan_with(&mut t, |t, _| {
                let grow = rng.gen_bool(0.5);
                for _ in 0..rng.gen_range(0..if grow { 10 } else { 40 }) {
                    if grow {
                        t.insert(ent(next));
                        next += 1;
                    } else {
                        // remove only keys added during the scan, or random ones
                        let k = if next > 100_000 && rng.gen_bool(0.5) {
                            next -= 1;
                            next
                        } else {
                            rng.gen_range(0..n0)
                        };
                        t.remove(&key(k));
                    }
                }
                if rng.gen_bool(0.2) {
                    t.rehash_step(rng.gen_range(1..100));
                }
            });
        }
    }

    #[test]
    fn scan_remove_expires() {
        let mut t: Table<()> = Table::new();
        let n = if cfg!(miri) { 500 } else { 20_000 };
        for i in 0..n {
            let exp = (i % 3 == 0).then_some(i as i64);
            t.insert(Entry::new(&key(i), Value::Int(i as i64), exp));
        }
        let mut removed = Vec::new();
        let mut seen = HashSet::new();
        let mut c = 0;
        loop {
            c = t.scan_remove(
                c,
                |e| {
                    seen.insert(e.key().to_vec());
                    e.expire_at().is_some()
                },
                |e| removed.push(e),
            );
            // mutations between calls
            t.insert(Entry::new(format!("new:{c}").as_bytes(), Value::Int(0), Some(0)));
            if c == 0 {
                break;
            }
        }
        assert!(removed.iter().all(|e| e.expire_at().is_some()));
        let removed_keys: HashSet<_> = removed.iter().map(|e| e.key().to_vec()).collect();
        for i in (0..n).step_by(3) {
            assert!(removed_keys.contains(&key(i)));
        }
        for i in 0..n {
            assert!(seen.contains(&key(i)));
            assert_eq!(t.contains(&key(i)), i % 3 != 0);
        }
        assert_eq!(t.len(), t.iter().count());
        assert_eq!(
            t.len() + removed.len(),
            n + t.iter().filter(|e| e.key().starts_with(b"new:")).count()
                + removed_keys.iter().filter(|k| k.starts_with(b"new:")).count()
        );
    }

    #[test]
    fn sample_and_random() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut t: Table<()> = Table::new();
        assert!(t.random(&mut rng).is_none());
        assert_eq!(t.sample(5, &mut rng, |_| panic!()), 0);
        t.insert(ent(1));
        assert_eq!(int_of(t.random(&mut rng).unwrap()), 1);
        let n = 100;
        for i in 0..n {
            t.insert(ent(i));
        }
        let mut got = Vec::new();
        assert_eq!(t.sample(10, &mut rng, |e| got.push(e.key().to_vec())), 10);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 10);
        // fairness: every key shows up, no key is hugely over-represented. (Like Redis's, a
        // draw picks a bucket, then a key of its chain, and the hash seed differs per run: a
        // key alone in its bucket comes up several times as often as one in a long chain.)
        let draws = if cfg!(miri) { 500 } else { 100_000 };
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for _ in 0..draws {
            *counts.entry(int_of(t.random(&mut rng).unwrap())).or_default() += 1;
        }
        if !cfg!(miri) {
            assert_eq!(counts.len(), n);
            let max = *counts.values().max().unwrap();
            let min = *counts.values().min().unwrap();
            assert!(max < draws / n * 6 && min > 0, "{min} {max}");
        }
        // during a rehash, and on a sparse table
        let mut t: Table<()> = Table::new();
        for i in 0..=1024 {
            t.insert(ent(i));
        }
        assert!(t.is_rehashing());
        for _ in 0..100 {
            assert!(t.random(&mut rng).is_some());
        }
        let mut s = 0;
        assert!(
            t.sample(2000, &mut rng, |e| {
                assert!(int_of(e) <= 1024);
                s += 1;
            }) <= 1025
        );
        assert!(s <= 1025);
        for i in 0..1020 {
            t.remove(&key(i));
        }
        for _ in 0..100 {
            let k = int_of(t.random(&mut rng).unwrap());
            assert!(k >= 1020);
        }
    }

    #[derive(Debug, PartialEq)]
    enum M {
        Int(i64),
        Str(Vec<u8>),
    }

    #[test]
    fn random_ops_against_model() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut rng = SmallRng::seed_from_u64(99);
        let mut t: Table<Tracked> = Table::new();
        let mut m: HashMap<Vec<u8>, (Option<M>, Option<i64>)> = HashMap::new();
        let steps = if cfg!(miri) { 3_000 } else { 300_000 };
        let mut keyspace = 50usize;
        for step in 0..steps {
            if step % 20_000 == 0 {
                // vary the population so the table grows and shrinks
                keyspace = [10, 100, 5000, 20_000, 300][rng.gen_range(0..5)];
                if cfg!(miri) {
                    keyspace = keyspace.min(300);
                }
            }
            let k = key(rng.gen_range(0..keyspace));
            match rng.gen_range(0..10) {
                0..=3 => {
                    let exp = rng.gen_bool(0.3).then(|| rng.gen());
                    let (v, mv) = match rng.gen_range(0..3) {
                        0 => {
                            let n = rng.gen();
                            (Value::Int(n), Some(M::Int(n)))
                        }
                        1 => {
                            let s = format!("v{}", rng.gen::<u32>()).into_bytes();
                            (Value::Str(Cow::Owned(s.clone())), Some(M::Str(s)))
                        }
                        _ => (Value::Obj(Tracked::new(&live)), None),
                    };
                    let old = t.insert(Entry::new(&k, v, exp));
                    assert_eq!(old.is_some(), m.insert(k, (mv, exp)).is_some());
                }
                4..=5 => {
                    let r = t.remove(&k);
                    assert_eq!(r.is_some(), m.remove(&k).is_some());
                }
                6 => {
                    if let Some(e) = t.get_mut(&k) {
                        let exp = rng.gen_bool(0.5).then(|| rng.gen());
                        e.set_expire(exp);
                        m.get_mut(&k).unwrap().1 = exp;
                    } else {
                        assert!(!m.contains_key(&k));
                    }
                }
                7 => {
                    t.rehash_step(rng.gen_range(0..5));
                }
                8 if rng.gen_bool(0.01) => {
                    // expire cycle: full scan_remove of everything with an expiry < 0
                    let mut c = 0;
                    loop {
                        c = t.scan_remove(c, |e| e.expire_at().is_some_and(|x| x < 0), drop);
                        if c == 0 {
                            break;
                        }
                    }
                    m.retain(|_, v| v.1.is_none_or(|x| x >= 0));
                }
                _ => {
                    let got = t.get(&k);
                    let want = m.get(&k);
                    assert_eq!(got.is_some(), want.is_some());
                    if let (Some(e), Some(w)) = (got, want) {
                        assert_eq!(e.expire_at(), w.1);
                        match (e.value(), &w.0) {
                            (ValueRef::Int(a), Some(M::Int(b))) => assert_eq!(a, *b),
                            (ValueRef::Str(a), Some(M::Str(b))) => assert_eq!(a, &b[..]),
                            (ValueRef::Obj(_), None) => {}
                            _ => panic!("value mismatch"),
                        }
                    }
                }
            }
            assert_eq!(t.len(), m.len());
            if step % 5000 == 0 {
                assert_eq!(t.iter().count(), m.len());
                let buckets = if t.is_rehashing() { 0 } else { t.buckets() };
                if buckets > MIN_BUCKETS && !m.is_empty() {
                    assert!(m.len() * SHRINK_RATIO >= buckets || t.is_rehashing());
                }
            }
        }
        for e in t.iter() {
            assert!(m.contains_key(e.key()));
        }
        let objs = m.values().filter(|v| v.0.is_none()).count();
        assert_eq!(live.load(Ordering::SeqCst), objs);
        drop(t);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
    /// A snapshot taken while the table is being changed sees exactly the records present at
    /// its start, each once, with its value of that instant, whatever inserts, updates,
    /// removals and rehashes happen during the walk.
    #[test]
    fn snapshot_is_point_in_time_under_writes() {
        use std::collections::HashMap;
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let mut rng = SmallRng::seed_from_u64(7);
        for round in 0..20 {
            let mut t: Table<()> = Table::new();
            let n = 50 + round * 97;
            for i in 0..n {
                t.insert(Entry::new(format!("k{i}").as_bytes(), Value::Int(i as i64), None));
            }
            let want: HashMap<Vec<u8>, i64> =
                (0..n).map(|i| (format!("k{i}").into_bytes(), i as i64)).collect();
            let got = Arc::new(Mutex::new(Vec::new()));
            let sink_got = got.clone();
            let aborted = Arc::new(AtomicBool::new(false));
            let sink: SnapshotSink<()> = Box::new(move |e| {
                let ValueRef::Int(v) = e.value() else { panic!("not an int") };
                sink_got.lock().unwrap().push((e.key().to_vec(), v));
            });
            assert!(t.begin_snapshot(sink, aborted.clone()));
            assert!(!t.begin_snapshot(Box::new(|_| {}), aborted.clone()), "one at a time");
            let mut next = n;
            while t.snapshot_step(rng.gen_range(1..20)) {
                for _ in 0..rng.gen_range(0..6) {
                    let k = format!("k{}", rng.gen_range(0..next + 10)).into_bytes();
                    match rng.gen_range(0..5) {
                        0 => {
                            t.remove(&k);
                        }
                        1 => {
                            if let Some(e) = t.get_mut(&k) {
                                e.set_value(Value::Int(-1));
                            }
                        }
                        2 => {
                            t.insert(Entry::new(&k, Value::Int(-2), None));
                        }
                        3 => {
                            next += 1;
                            t.insert(Entry::new(
                                format!("k{next}").as_bytes(),
                                Value::Int(-3),
                                None,
                            ));
                        }
                        _ => {
                            t.scan_remove(rng.gen(), |e| e.key().ends_with(b"7"), drop);
                        }
                    }
                }
            }
            assert!(!aborted.load(std::sync::atomic::Ordering::SeqCst));
            let got = std::mem::take(&mut *got.lock().unwrap());
            assert_eq!(got.len(), want.len(), "each record once");
            let got: HashMap<Vec<u8>, i64> = got.into_iter().collect();
            assert_eq!(got, want);

            // The next snapshot starts from the marks this one left: it sees the table as it
            // is now, each record once.
            let now: HashMap<Vec<u8>, i64> = t
                .iter()
                .map(|e| {
                    let ValueRef::Int(v) = e.value() else { panic!() };
                    (e.key().to_vec(), v)
                })
                .collect();
            let again = Arc::new(Mutex::new(Vec::new()));
            let sink_again = again.clone();
            assert!(t.begin_snapshot(
                Box::new(move |e| {
                    let ValueRef::Int(v) = e.value() else { panic!() };
                    sink_again.lock().unwrap().push((e.key().to_vec(), v));
                }),
                aborted.clone()
            ));
            let taken = t.take();
            assert_eq!(taken.len(), now.len());
            let again = std::mem::take(&mut *again.lock().unwrap());
            assert_eq!(again.len(), now.len());
            assert_eq!(again.into_iter().collect::<HashMap<_, _>>(), now);
        }
    }

    #[test]
    fn snapshot_dropped_unfinished_reports_abort() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let aborted = std::sync::Arc::new(AtomicBool::new(false));
        let mut t: Table<()> = Table::new();
        for i in 0..100 {
            t.insert(Entry::new(format!("k{i}").as_bytes(), Value::Int(i), None));
        }
        assert!(t.begin_snapshot(Box::new(|_| {}), aborted.clone()));
        assert!(t.snapshot_step(10));
        drop(t);
        assert!(aborted.load(Ordering::SeqCst));
    }
}
