//! The sorted set type: members ordered by (score, member bytes), as in Redis.
//!
//! Two encodings, named as Redis 7.0 names them for OBJECT ENCODING:
//!
//! - `listpack`: one byte buffer behind a thin pointer ([`ThinBytes`]) holding a 4-byte count,
//!   then every (member, score) pair in order, each as a LEB128
//!   member length, the member bytes, then the score in 1 to 9 bytes (small integers in one
//!   byte, 16/32-bit integers in 3/5, anything else as the f64's 8 bytes after a tag byte; -0
//!   is stored as 0, as Redis 7.0's listpack stores it). Operations scan it, as
//!   Redis does its listpack; it holds at most `zset-max-listpack-entries` members of at most
//!   `zset-max-listpack-value` bytes.
//! - `skiplist`: each member is one heap allocation holding its length, its score and its bytes
//!   ([`Member`], a [`ThinBytes`] thin pointer), owned by the order. A hash table of aliases of
//!   them ([`MemberTable`]: open
//!   addressing, linear probing, one tag byte per slot) answers member -> score and gives ZSCAN
//!   a cursor over home buckets that keeps SCAN's guarantee, as Redis's dict does; the order
//!   is a list of sorted chunks of at most [`CHUNK`] pointers with a Fenwick tree over the chunk
//!   lengths, which gives rank, select and insert in O(log n) (plus a memmove of at most one
//!   chunk). Member bytes are stored once, and the per-member cost is one small allocation plus
//!   two pointers, well below a skiplist node plus a dict entry.

use std::cmp::Ordering;
use std::fmt;
use std::mem::ManuallyDrop;

use super::thin::{Mut, Ref, Small, Tagged, ThinBytes};

/// Most pointers in one chunk of the skiplist encoding's order.
const CHUNK: usize = 128;

/// Compares two (score, member) pairs in sorted-set order. Scores are never NaN; -0 and 0 are
/// equal as scores (then the member decides), as with Redis's `<` comparisons.
#[inline]
pub fn cmp_pair(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

// ------------------------------------------------------------------------------------------------
// Member allocations

/// One member of the skiplist encoding, in one exact-sized allocation behind a thin pointer: a
/// [`ThinBytes`] holding the score (8 bytes LE) then the member bytes. The order
/// (`Big::chunks`) owns it; the member table holds an alias of it (see [`Member::alias`]).
struct Member(ThinBytes);

/// Bytes before the member's own bytes.
const SCORE_LEN: usize = 8;

impl Member {
    fn new(member: &[u8], score: f64) -> Member {
        let mut t = ThinBytes::new();
        t.resize(SCORE_LEN + member.len());
        t[..SCORE_LEN].copy_from_slice(&score.to_le_bytes());
        t[SCORE_LEN..].copy_from_slice(member);
        Member(t)
    }

    /// The member table's placeholder for a free slot (no allocation; never read as a member).
    const fn placeholder() -> Member {
        Member(ThinBytes::new())
    }

    #[inline]
    fn score(&self) -> f64 {
        let b: [u8; SCORE_LEN] = self.0[..SCORE_LEN].try_into().expect("score bytes");
        f64::from_le_bytes(b)
    }

    #[inline]
    fn set_score(&mut self, s: f64) {
        self.0[..SCORE_LEN].copy_from_slice(&s.to_le_bytes());
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.0[SCORE_LEN..]
    }

    fn alloc_size(&self) -> usize {
        self.0.alloc_size()
    }

    /// A second handle on the same allocation, for the member table. `ManuallyDrop`: it never
    /// frees the allocation; the owner in the order does.
    ///
    /// # Safety
    /// The alias reads the owner's allocation, so it must not be used once the owner is
    /// dropped, nor while the owner is being written to. [`Big`] upholds this (see its
    /// invariant): every alias stays in its member table, which hands out only `&Member`
    /// borrowed from the table (so from `&Big`, while no `&mut` to an owner can exist), and an
    /// owner's alias is taken out of the table before the owner is dropped. The owner never
    /// reallocates (no `Member` method resizes its `ThinBytes`), so the alias's pointer is the
    /// allocation's for as long as the owner lives.
    unsafe fn alias(&self) -> ManuallyDrop<Member> {
        // SAFETY: a bitwise copy of the ThinBytes (one pointer), wrapped in ManuallyDrop so
        // that it never runs ThinBytes's Drop: the allocation keeps exactly one owner and is
        // freed exactly once, by the owner. Reads through the copy are valid while the owner is
        // alive and not being written to, which is this function's contract with its caller.
        ManuallyDrop::new(Member(unsafe { std::ptr::read(&self.0) }))
    }
}

// ------------------------------------------------------------------------------------------------
// listpack encoding

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[inline]
fn get_varint(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (v, pos);
        }
        shift += 7;
    }
}

const SMALL_BIAS: i64 = 112;
const TAG_I16: u8 = 0xf0;
const TAG_I32: u8 = 0xf1;
const TAG_F64: u8 = 0xf2;

fn put_score(out: &mut Vec<u8>, s: f64) {
    let i = s as i64;
    // -0 becomes 0, as in Redis's listpack (it stores the score's integer form).
    if i as f64 == s && (-(1 << 31)..(1 << 31)).contains(&i) {
        if (-SMALL_BIAS..240 - SMALL_BIAS).contains(&i) {
            out.push((i + SMALL_BIAS) as u8);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&i) {
            out.push(TAG_I16);
            out.extend_from_slice(&(i as i16).to_le_bytes());
        } else {
            out.push(TAG_I32);
            out.extend_from_slice(&(i as i32).to_le_bytes());
        }
    } else {
        out.push(TAG_F64);
        out.extend_from_slice(&s.to_le_bytes());
    }
}

#[inline]
fn get_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let t = buf[pos];
    match t {
        TAG_I16 => (i16::from_le_bytes([buf[pos + 1], buf[pos + 2]]) as f64, pos + 3),
        TAG_I32 => {
            let b: [u8; 4] = buf[pos + 1..pos + 5].try_into().expect("4 bytes");
            (i32::from_le_bytes(b) as f64, pos + 5)
        }
        TAG_F64 => {
            let b: [u8; 8] = buf[pos + 1..pos + 9].try_into().expect("8 bytes");
            (f64::from_le_bytes(b), pos + 9)
        }
        _ => ((t as i64 - SMALL_BIAS) as f64, pos + 1),
    }
}

/// One decoded listpack entry: its byte span, member and score.
#[derive(Clone, Copy)]
struct LpEntry<'a> {
    start: usize,
    end: usize,
    member: &'a [u8],
    score: f64,
}

#[inline]
fn lp_decode(buf: &[u8], start: usize) -> LpEntry<'_> {
    let (len, p) = get_varint(buf, start);
    let member = &buf[p..p + len];
    let (score, end) = get_score(buf, p + len);
    LpEntry { start, end, member, score }
}

/// Bytes of the listpack's count header.
const LP_HDR: usize = 4;

/// `[count u32 LE][entries]`, exact-sized; no allocation at all when empty.
#[derive(Clone, Default)]
#[repr(transparent)]
struct Listpack(ThinBytes);

// SAFETY: Listpack is repr(transparent) over its one field, a ThinBytes.
unsafe impl Small for Listpack {}

impl Listpack {
    /// A listpack of `n` entries from `buf`, which holds LP_HDR bytes of room then the entries.
    fn from_vec(mut buf: Vec<u8>, n: usize) -> Listpack {
        if n == 0 {
            return Listpack::default();
        }
        buf[..LP_HDR].copy_from_slice(&(n as u32).to_le_bytes());
        Listpack(ThinBytes::from(buf))
    }

    /// Number of entries.
    fn n(&self) -> usize {
        match self.0.get(..LP_HDR) {
            Some(h) => u32::from_le_bytes(h.try_into().expect("4 bytes")) as usize,
            None => 0,
        }
    }

    fn set_n(&mut self, n: usize) {
        if n == 0 {
            self.0 = ThinBytes::new();
        } else {
            self.0[..LP_HDR].copy_from_slice(&(n as u32).to_le_bytes());
        }
    }

    fn iter(&self) -> impl Iterator<Item = LpEntry<'_>> + '_ {
        let buf: &[u8] = &self.0;
        let mut pos = LP_HDR;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let e = lp_decode(buf, pos);
            pos = e.end;
            Some(e)
        })
    }

    fn find(&self, member: &[u8]) -> Option<LpEntry<'_>> {
        self.iter().find(|e| e.member == member)
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        let n = self.n();
        if n == 0 {
            self.0 = ThinBytes::from_slice(&[0; LP_HDR]);
        }
        let at = self
            .iter()
            .find(|e| cmp_pair(e.score, e.member, score, member) == Ordering::Greater)
            .map_or(self.0.len(), |e| e.start);
        let mut enc = Vec::with_capacity(member.len() + 12);
        put_varint(&mut enc, member.len());
        enc.extend_from_slice(member);
        put_score(&mut enc, score);
        self.0.splice(at..at, &enc);
        self.set_n(n + 1);
    }

    fn remove_span(&mut self, start: usize, end: usize, count: usize) {
        let n = self.n();
        self.0.splice(start..end, &[]);
        self.set_n(n - count);
    }
}

// ------------------------------------------------------------------------------------------------
// skiplist encoding: member table

/// The tag byte of a used slot: 7 bits of the hash (independent of the low bits that pick the
/// home bucket) with the top bit set, so that 0 means a free slot.
#[inline]
fn tag_of(h: u64) -> u8 {
    (h >> 57) as u8 | 0x80
}

/// member -> [`Member`]: open addressing with linear probing and backward-shift deletion (no
/// tombstones), load at most 3/4. A probe reads the slot's tag byte and looks at the member
/// only when the tag matches (1 in 128 otherwise). The table holds aliases ([`Member::alias`]):
/// the order owns the member allocations, and the table never frees one nor gives an alias
/// out by value, only `&Member` borrowed from itself.
///
/// ZSCAN walks *home buckets* (hash & mask) with Redis's reverse-binary cursor: a member's home
/// bucket depends only on its hash and the table size, as a chained bucket does, and with linear
/// probing every member whose home is `b` sits in the run of used slots that starts at `b`. So a
/// member present for a whole scan is returned at least once however the table grows or
/// shrinks in between, exactly as Redis's dictScan guarantees.
#[derive(Default)]
struct MemberTable {
    /// Length 0 or a power of two; a free slot holds [`Member::placeholder`].
    slots: Box<[ManuallyDrop<Member>]>,
    /// One tag per slot (see [`tag_of`]), 0 for a free slot.
    tags: Box<[u8]>,
    len: usize,
}

impl MemberTable {
    fn slots_for(n: usize) -> usize {
        (n * 4 / 3 + 1).next_power_of_two().max(8)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `m` (whose hash is `h`).
    fn find(&self, m: &[u8], h: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let (mask, tag) = (self.mask(), tag_of(h));
        let mut i = h as usize & mask;
        loop {
            match self.tags[i] {
                0 => return None,
                t if t == tag && self.slots[i].bytes() == m => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn get(&self, m: &[u8]) -> Option<&Member> {
        let i = self.find(m, super::member_hash(m))?;
        Some(&self.slots[i])
    }

    fn place(&mut self, h: u64, r: ManuallyDrop<Member>) {
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.tags[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = r;
        self.tags[i] = tag_of(h);
    }

    fn free_slots(n: usize) -> Box<[ManuallyDrop<Member>]> {
        (0..n).map(|_| ManuallyDrop::new(Member::placeholder())).collect()
    }

    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.slots, Self::free_slots(n));
        let old_tags = std::mem::replace(&mut self.tags, vec![0; n].into_boxed_slice());
        for (r, t) in old.into_vec().into_iter().zip(old_tags.iter()) {
            if *t != 0 {
                self.place(super::member_hash(r.bytes()), r);
            }
        }
    }

    /// Adds the alias `r`, whose member must not be in the table.
    fn insert(&mut self, r: ManuallyDrop<Member>) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(8));
        }
        self.place(super::member_hash(r.bytes()), r);
        self.len += 1;
    }

    /// Takes `m`'s alias out of the table (dropping an alias frees nothing).
    fn take(&mut self, m: &[u8]) -> bool {
        let Some(hole) = self.find(m, super::member_hash(m)) else { return false };
        self.slots[hole] = ManuallyDrop::new(Member::placeholder());
        self.len -= 1;
        // Backward shift: pull later members of the run into the hole unless their home lies
        // cyclically in (hole, j], so that every member stays reachable from its home.
        let mask = self.mask();
        let (mut i, mut j) = (hole, hole);
        loop {
            j = (j + 1) & mask;
            if self.tags[j] == 0 {
                break;
            }
            let k = super::member_hash(self.slots[j].bytes()) as usize & mask;
            let stays = if i <= j { i < k && k <= j } else { i < k || k <= j };
            if !stays {
                self.slots.swap(i, j);
                self.tags[i] = self.tags[j];
                i = j;
            }
        }
        self.tags[i] = 0;
        if self.len * 8 < self.slots.len() && self.slots.len() > 8 {
            self.resize(Self::slots_for(self.len));
        }
        true
    }

    fn iter(&self) -> impl Iterator<Item = &Member> + '_ {
        self.slots.iter().zip(self.tags.iter()).filter(|(_, t)| **t != 0).map(|(r, _)| &**r)
    }

    /// Bytes of the slot and tag arrays (jemalloc size classes).
    fn mem_usage(&self) -> usize {
        use crate::info::jemalloc_size_class as sc;
        match self.slots.len() {
            0 => 0,
            n => sc(n * std::mem::size_of::<ManuallyDrop<Member>>()) + sc(n),
        }
    }

    /// Calls `f` for the members whose home bucket is `cursor`'s and returns the next cursor
    /// (Redis's reverse-binary increment; 0 when the walk is over).
    fn scan_bucket(&self, cursor: u64, mut f: impl FnMut(&Member)) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.mask();
        let b = cursor as usize & mask;
        let mut i = b;
        while self.tags[i] != 0 {
            let r = &self.slots[i];
            if super::member_hash(r.bytes()) as usize & mask == b {
                f(r);
            }
            i = (i + 1) & mask;
        }
        crate::keyspace::table::next_cursor(cursor, mask as u64)
    }
}

// ------------------------------------------------------------------------------------------------
// skiplist encoding: the order

/// The skiplist encoding.
///
/// Invariant (what makes [`Member::alias`] sound): every `Member` in `chunks` has exactly one
/// alias in `set` and `set` holds no other; an alias never leaves `set` by value; a `Member` is
/// dropped only after its alias was taken out of `set` (`remove`, `remove_rank`), or together
/// with the whole `Big`, when the table is dropped without reading its aliases. Members are
/// written to (`set_score`) only through `&mut Big`, when no `&Member` from the table is alive.
#[derive(Default)]
struct Big {
    set: MemberTable,
    chunks: Vec<Vec<Member>>,
    /// Fenwick tree over the chunk lengths (1-based; `fen.len() == chunks.len() + 1`).
    fen: Vec<usize>,
    len: usize,
    /// Bytes held by member allocations (jemalloc size classes).
    heap: usize,
}

impl Big {
    fn rebuild(&mut self) {
        let m = self.chunks.len();
        self.fen.clear();
        self.fen.resize(m + 1, 0);
        for i in 1..=m {
            self.fen[i] += self.chunks[i - 1].len();
            let j = i + (i & i.wrapping_neg());
            if j <= m {
                self.fen[j] += self.fen[i];
            }
        }
    }

    fn fen_add(&mut self, ci: usize, delta: isize) {
        let m = self.chunks.len();
        let mut i = ci + 1;
        while i <= m {
            self.fen[i] = self.fen[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Elements in chunks `0..ci`.
    fn prefix(&self, ci: usize) -> usize {
        let (mut i, mut s) = (ci, 0);
        while i > 0 {
            s += self.fen[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// The chunk and offset of the element at `rank` (< len).
    fn find(&self, rank: usize) -> (usize, usize) {
        let m = self.chunks.len();
        let (mut pos, mut rem) = (0, rank);
        let mut step = if m == 0 { 0 } else { 1 << (usize::BITS - 1 - m.leading_zeros()) };
        while step > 0 {
            if pos + step <= m && self.fen[pos + step] <= rem {
                pos += step;
                rem -= self.fen[pos];
            }
            step >>= 1;
        }
        (pos, rem)
    }

    fn at(&self, rank: usize) -> &Member {
        let (c, o) = self.find(rank);
        &self.chunks[c][o]
    }

    /// First position where `pred` is false, `pred` being true then false along the order.
    fn partition(&self, pred: impl Fn(&[u8], f64) -> bool) -> (usize, usize) {
        let ci = self.chunks.partition_point(|c| {
            let last = c.last().expect("no empty chunks");
            pred(last.bytes(), last.score())
        });
        if ci == self.chunks.len() {
            return (ci, 0);
        }
        let off = self.chunks[ci].partition_point(|m| pred(m.bytes(), m.score()));
        (ci, off)
    }

    fn rank_of(&self, ci: usize, off: usize) -> usize {
        self.prefix(ci) + off
    }

    fn position(&self, member: &[u8], score: f64) -> (usize, usize) {
        self.partition(|m, s| cmp_pair(s, m, score, member) == Ordering::Less)
    }

    fn insert_ref(&mut self, r: Member) {
        let (ci, off) = self.position(r.bytes(), r.score());
        self.len += 1;
        if self.chunks.is_empty() {
            let mut c = Vec::with_capacity(CHUNK);
            c.push(r);
            self.chunks.push(c);
            self.rebuild();
            return;
        }
        // Past the last chunk: append to it.
        let (ci, off) =
            if ci == self.chunks.len() { (ci - 1, self.chunks[ci - 1].len()) } else { (ci, off) };
        let c = &mut self.chunks[ci];
        if c.len() < CHUNK {
            c.insert(off, r);
            self.fen_add(ci, 1);
            return;
        }
        if off == c.len() {
            // Appending in order (the usual load): start a new chunk rather than split.
            let mut n = Vec::with_capacity(CHUNK);
            n.push(r);
            self.chunks.insert(ci + 1, n);
        } else if off == 0 {
            let mut n = Vec::with_capacity(CHUNK);
            n.push(r);
            self.chunks.insert(ci, n);
        } else {
            let mut right = Vec::with_capacity(CHUNK);
            right.extend(c.drain(CHUNK / 2..));
            if off <= CHUNK / 2 {
                c.insert(off, r);
            } else {
                right.insert(off - CHUNK / 2, r);
            }
            self.chunks.insert(ci + 1, right);
        }
        self.rebuild();
    }

    /// Takes the pointer at (ci, off) out of the order (not out of the set).
    fn take_at(&mut self, ci: usize, off: usize) -> Member {
        let r = self.chunks[ci].remove(off);
        self.len -= 1;
        let clen = self.chunks[ci].len();
        if clen == 0 {
            self.chunks.remove(ci);
            self.rebuild();
        } else if clen < CHUNK / 4
            && ci + 1 < self.chunks.len()
            && clen + self.chunks[ci + 1].len() <= CHUNK * 3 / 4
        {
            let next = self.chunks.remove(ci + 1);
            self.chunks[ci].extend(next);
            self.rebuild();
        } else {
            self.fen_add(ci, -1);
        }
        r
    }

    fn locate(&self, r: &Member) -> (usize, usize) {
        let (ci, off) = self.position(r.bytes(), r.score());
        debug_assert!(self.chunks[ci][off].bytes() == r.bytes());
        (ci, off)
    }

    /// Adds `member`, which must not be in the set.
    fn add(&mut self, member: &[u8], score: f64) {
        let m = Member::new(member, score);
        self.heap += m.alloc_size();
        // SAFETY: the alias goes into the table and the owner into the order, together, as
        // Big's invariant wants; the owner is not written to while the alias is created.
        self.set.insert(unsafe { m.alias() });
        self.insert_ref(m);
    }

    fn update(&mut self, member: &[u8], score: f64) {
        let (ci, off) = self.locate(self.set.get(member).expect("member present"));
        let c = &self.chunks[ci];
        // Stays in place when it still sorts between its neighbours.
        let after_prev = match off.checked_sub(1).map(|o| &c[o]) {
            Some(p) => cmp_pair(p.score(), p.bytes(), score, member) == Ordering::Less,
            None => {
                ci == 0 || {
                    let p = self.chunks[ci - 1].last().expect("no empty chunks");
                    cmp_pair(p.score(), p.bytes(), score, member) == Ordering::Less
                }
            }
        };
        let before_next = match c.get(off + 1) {
            Some(n) => cmp_pair(score, member, n.score(), n.bytes()) == Ordering::Less,
            None => self.chunks.get(ci + 1).is_none_or(|nc| {
                let n = &nc[0];
                cmp_pair(score, member, n.score(), n.bytes()) == Ordering::Less
            }),
        };
        if after_prev && before_next {
            self.chunks[ci][off].set_score(score);
            return;
        }
        let mut m = self.take_at(ci, off);
        m.set_score(score);
        self.insert_ref(m);
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (ci, off) = self.locate(self.set.get(member)?);
        self.set.take(member);
        // The alias is gone: the owner may go (dropped at the end of this function).
        let m = self.take_at(ci, off);
        self.heap -= m.alloc_size();
        Some(m.score())
    }

    fn remove_rank(&mut self, rank: usize) {
        let (ci, off) = self.find(rank);
        let m = self.take_at(ci, off);
        self.set.take(m.bytes());
        self.heap -= m.alloc_size();
    }
}

// ------------------------------------------------------------------------------------------------
// The sorted set

/// A sorted set: a listpack or a boxed skiplist encoding, in one word (so that `Object` is 16
/// bytes).
#[derive(Clone)]
pub struct ZSet {
    enc: Tagged<Listpack, Big>,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { enc: Tagged::small(Listpack::default()) }
    }
}

impl Clone for Big {
    fn clone(&self) -> Self {
        let mut b = Big::default();
        for c in &self.chunks {
            for m in c {
                b.add(m.bytes(), m.score());
            }
        }
        b
    }
}

impl fmt::Debug for ZSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        self.for_range(0, self.len(), false, |m, s| {
            l.entry(&(String::from_utf8_lossy(m), s));
        });
        l.finish()
    }
}

/// The `zset-max-listpack-*` limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// A lexicographic range bound (`-`, `+`, `[x`, `(x`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lex {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl Lex {
    /// Parses a ZRANGEBYLEX bound; None for anything else.
    pub fn parse(s: &[u8]) -> Option<Lex> {
        match s.first() {
            Some(b'-') if s.len() == 1 => Some(Lex::NegInf),
            Some(b'+') if s.len() == 1 => Some(Lex::PosInf),
            Some(b'[') => Some(Lex::Incl(s[1..].to_vec())),
            Some(b'(') => Some(Lex::Excl(s[1..].to_vec())),
            _ => None,
        }
    }

    /// Whether no member can be within `min..max` (min above max, or equal with one side
    /// exclusive).
    fn empty_range(min: &Lex, max: &Lex) -> bool {
        fn key(b: &Lex) -> (u8, &[u8]) {
            match b {
                Lex::NegInf => (0, &[]),
                Lex::Incl(x) | Lex::Excl(x) => (1, x),
                Lex::PosInf => (2, &[]),
            }
        }
        let excl = matches!(min, Lex::Excl(_)) || matches!(max, Lex::Excl(_));
        match key(min).cmp(&key(max)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => excl,
            std::cmp::Ordering::Less => false,
        }
    }

    /// Whether `m` is below this bound taken as a minimum (so outside the range).
    fn below_min(&self, m: &[u8]) -> bool {
        match self {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(x) => m < &x[..],
            Lex::Excl(x) => m <= &x[..],
        }
    }

    /// Whether `m` is within this bound taken as a maximum.
    fn within_max(&self, m: &[u8]) -> bool {
        match self {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(x) => m <= &x[..],
            Lex::Excl(x) => m < &x[..],
        }
    }
}

/// A score range bound: the value and whether it is exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub excl: bool,
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// An empty set in the encoding Redis 7.0 gives a new key whose first member is
    /// `first_len` bytes long.
    pub fn for_first(first_len: usize, lim: Limits) -> ZSet {
        if lim.entries == 0 || first_len > lim.value {
            ZSet { enc: Tagged::big(Box::default()) }
        } else {
            ZSet::default()
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.enc.is_big() {
            "skiplist"
        } else {
            "listpack"
        }
    }

    pub fn is_listpack(&self) -> bool {
        !self.enc.is_big()
    }

    /// Bytes held by the set beyond its record.
    pub fn mem_usage(&self) -> usize {
        use crate::info::jemalloc_size_class as sc;
        let own = sc(std::mem::size_of::<crate::types::Object>());
        match self.enc.get() {
            Ref::Small(lp) => own + lp.0.alloc_size(),
            Ref::Big(b) => {
                let set = b.set.mem_usage();
                let chunks = b.chunks.len() * (sc(CHUNK * 8) + 24);
                own + sc(std::mem::size_of::<Big>()) + set + chunks + b.heap + sc(b.fen.len() * 8)
            }
        }
    }

    pub fn len(&self) -> usize {
        match self.enc.get() {
            Ref::Small(lp) => lp.n(),
            Ref::Big(b) => b.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self.enc.get() {
            Ref::Small(lp) => lp.find(member).map(|e| e.score),
            Ref::Big(b) => b.set.get(member).map(|r| r.score()),
        }
    }

    /// Converts to the skiplist encoding.
    pub fn convert_to_skiplist(&mut self) {
        if let Ref::Small(lp) = self.enc.get() {
            let mut b = Big::default();
            for e in lp.iter() {
                b.add(e.member, e.score);
            }
            self.enc = Tagged::big(Box::new(b));
        }
    }

    /// Converts to a listpack if the set fits the limits (as Redis's store commands do).
    pub fn shrink_if_fits(&mut self, lim: Limits) {
        if let Ref::Big(b) = self.enc.get() {
            if b.len <= lim.entries && b.set.iter().all(|m| m.bytes().len() <= lim.value) {
                let mut buf = vec![0; LP_HDR];
                for c in &b.chunks {
                    for m in c {
                        put_varint(&mut buf, m.bytes().len());
                        buf.extend_from_slice(m.bytes());
                        put_score(&mut buf, m.score());
                    }
                }
                self.enc = Tagged::small(Listpack::from_vec(buf, b.len));
            }
        }
    }

    /// Sets the score of `member`, adding it if needed. Returns its previous score.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        let old = self.score(member);
        if let Ref::Small(lp) = self.enc.get() {
            if old.is_none() && (lp.n() + 1 > lim.entries || member.len() > lim.value) {
                self.convert_to_skiplist();
            }
        }
        match self.enc.get_mut() {
            Mut::Small(lp) => {
                if let Some(o) = old {
                    if o == score {
                        return old;
                    }
                    let e = lp.find(member).expect("present");
                    let (s, en) = (e.start, e.end);
                    lp.remove_span(s, en, 1);
                }
                lp.insert(member, score);
            }
            Mut::Big(b) => match old {
                Some(o) if o == score => {}
                Some(_) => b.update(member, score),
                None => b.add(member, score),
            },
        }
        old
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self.enc.get_mut() {
            Mut::Small(lp) => {
                let e = lp.find(member)?;
                let (s, en, score) = (e.start, e.end, e.score);
                lp.remove_span(s, en, 1);
                Some(score)
            }
            Mut::Big(b) => b.remove(member),
        }
    }

    /// The 0-based ascending rank of `member`, and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self.enc.get() {
            Ref::Small(lp) => lp.iter().position(|e| e.member == member).map(|i| {
                let s = lp.iter().nth(i).expect("found").score;
                (i, s)
            }),
            Ref::Big(b) => {
                let r = b.set.get(member)?;
                let (ci, off) = b.locate(r);
                Some((b.rank_of(ci, off), r.score()))
            }
        }
    }

    /// Number of elements for which `pred(member, score)` holds, `pred` being true on a
    /// prefix of the order.
    pub fn count_prefix(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self.enc.get() {
            Ref::Small(lp) => lp.iter().take_while(|e| pred(e.member, e.score)).count(),
            Ref::Big(b) => {
                let (ci, off) = b.partition(pred);
                b.rank_of(ci, off)
            }
        }
    }

    /// The rank interval `[lo, hi)` of scores within `min..max`.
    pub fn score_range(&self, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
        let lo = self.count_prefix(|_, s| if min.excl { s <= min.value } else { s < min.value });
        let hi = self.count_prefix(|_, s| if max.excl { s < max.value } else { s <= max.value });
        (lo, hi.max(lo))
    }

    /// The rank interval `[lo, hi)` of members within `min..max`, for a walk forwards (or
    /// backwards with `rev`), past the first `skip` of them (LIMIT's offset). With all scores
    /// equal, as lex ranges expect, members are in order and `rev` changes nothing. With mixed
    /// scores the answer is unspecified, but a small set gives Redis's: from the first member
    /// at or above `min` (the last at or below `max` with `rev`), `skip` members on whatever
    /// they are, then the run of members in range, once the first member is at most `max` and
    /// the last at least `min` (a big one only that test: Redis's walk then depends on its
    /// skiplist's random levels).
    pub fn lex_range(&self, min: &Lex, max: &Lex, rev: bool, skip: usize) -> (usize, usize) {
        let len = self.len();
        if len == 0 || Lex::empty_range(min, max) {
            return (0, 0);
        }
        // Redis's first test, whatever the encoding: the first member is at most `max` and
        // the last at least `min`.
        let mut overlaps = true;
        self.for_range(0, 1, false, |m, _| overlaps &= max.within_max(m));
        self.for_range(len - 1, len, false, |m, _| overlaps &= !min.below_min(m));
        if !overlaps {
            return (0, 0);
        }
        let Ref::Small(lp) = self.enc.get() else {
            let (lo, hi) = self.walked_lex_range(min, max);
            let skip = skip.min(hi - lo);
            return if rev { (lo, hi - skip) } else { (lo + skip, hi) };
        };
        let members: Vec<&[u8]> = lp.iter().map(|e| e.member).collect();
        if rev {
            let Some(end) = members.iter().rposition(|m| max.within_max(m)) else { return (0, 0) };
            if min.below_min(members[end]) || skip > end {
                return (0, 0);
            }
            let end = end - skip;
            let run = members[..=end].iter().rev().take_while(|m| !min.below_min(m)).count();
            (end + 1 - run, end + 1)
        } else {
            let Some(lo) = members.iter().position(|m| !min.below_min(m)) else { return (0, 0) };
            if !max.within_max(members[lo]) || lo + skip >= members.len() {
                return (0, 0);
            }
            let lo = lo + skip;
            (lo, lo + members[lo..].iter().take_while(|m| max.within_max(m)).count())
        }
    }

    /// [`ZSet::lex_range`] for ZREMRANGEBYLEX: Redis removes from a big set (a skiplist) by
    /// walking to the first member at or above `min`, then on while members are at most `max`,
    /// without the test of the set's ends (mixed scores can tell the difference).
    pub fn lex_range_to_remove(&self, min: &Lex, max: &Lex) -> (usize, usize) {
        if matches!(self.enc.get(), Ref::Small(_)) {
            return self.lex_range(min, max, false, 0);
        }
        let (lo, hi) = self.walked_lex_range(min, max);
        // In order (equal scores) that is the run; otherwise the walk from `lo` decides, in
        // chunks, so that the usual case costs only the members removed.
        let mut end = lo;
        let mut step = (hi - lo).max(16);
        loop {
            let upto = (end + step + 1).min(self.len());
            let mut run = 0;
            let mut going = true;
            self.for_range(end, upto, false, |m, _| {
                going &= max.within_max(m);
                run += usize::from(going);
            });
            end += run;
            if !going || upto == self.len() {
                return (lo, end);
            }
            step *= 2;
        }
    }

    /// A big set's members from the first at or above `min` to the last at most `max`.
    fn walked_lex_range(&self, min: &Lex, max: &Lex) -> (usize, usize) {
        let lo = self.count_prefix(|m, _| min.below_min(m));
        (lo, self.count_prefix(|m, _| max.within_max(m)).max(lo))
    }

    /// Calls `f(member, score)` for ranks `lo..hi`, ascending, or descending with `rev`.
    pub fn for_range(&self, lo: usize, hi: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let hi = hi.min(self.len());
        if lo >= hi {
            return;
        }
        match self.enc.get() {
            Ref::Small(lp) => {
                if rev {
                    let v: Vec<LpEntry> = lp.iter().skip(lo).take(hi - lo).collect();
                    for e in v.iter().rev() {
                        f(e.member, e.score);
                    }
                } else {
                    for e in lp.iter().skip(lo).take(hi - lo) {
                        f(e.member, e.score);
                    }
                }
            }
            Ref::Big(b) => {
                if rev {
                    let (mut ci, mut off) = b.find(hi - 1);
                    for _ in lo..hi {
                        let m = &b.chunks[ci][off];
                        f(m.bytes(), m.score());
                        if off == 0 {
                            if ci == 0 {
                                break;
                            }
                            ci -= 1;
                            off = b.chunks[ci].len() - 1;
                        } else {
                            off -= 1;
                        }
                    }
                } else {
                    let (mut ci, mut off) = b.find(lo);
                    for _ in lo..hi {
                        let m = &b.chunks[ci][off];
                        f(m.bytes(), m.score());
                        off += 1;
                        if off == b.chunks[ci].len() {
                            ci += 1;
                            off = 0;
                        }
                    }
                }
            }
        }
    }

    /// One ZSCAN step: calls `f(member, score)` and returns the next cursor (0 when done). A
    /// listpack is returned whole in one call, as Redis does; the skiplist encoding walks the
    /// member table's home buckets (see [`MemberTable`]) until about `count` reply entries (a
    /// member and its score count two, as in Redis) or `10 * count` buckets.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self.enc.get() {
            Ref::Small(lp) => {
                lp.iter().for_each(|e| f(e.member, e.score));
                0
            }
            Ref::Big(b) => {
                let (mut cursor, mut n) = (cursor, 0usize);
                let mut budget = count.saturating_mul(10).max(1);
                loop {
                    cursor = b.set.scan_bucket(cursor, |r| {
                        n += 1;
                        f(r.bytes(), r.score())
                    });
                    budget -= 1;
                    if cursor == 0 || budget == 0 || n * 2 >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    /// The element at `rank`.
    pub fn at(&self, rank: usize) -> Option<(Vec<u8>, f64)> {
        if rank >= self.len() {
            return None;
        }
        match self.enc.get() {
            Ref::Small(lp) => lp.iter().nth(rank).map(|e| (e.member.to_vec(), e.score)),
            Ref::Big(b) => {
                let m = b.at(rank);
                Some((m.bytes().to_vec(), m.score()))
            }
        }
    }

    /// All elements in order.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_range(0, self.len(), false, |m, s| v.push((m.to_vec(), s)));
        v
    }

    /// Removes ranks `lo..hi`, returning the number removed.
    pub fn remove_range(&mut self, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.len());
        if lo >= hi {
            return 0;
        }
        match self.enc.get_mut() {
            Mut::Small(lp) => {
                let start = lp.iter().nth(lo).expect("in range").start;
                let end = lp.iter().nth(hi - 1).expect("in range").end;
                lp.remove_span(start, end, hi - lo);
            }
            Mut::Big(b) => {
                for r in (lo..hi).rev() {
                    b.remove_rank(r);
                }
            }
        }
        hi - lo
    }

    /// Builds a set from pairs with distinct members (any order), in the encoding Redis's
    /// store commands give their result.
    pub fn from_pairs(mut pairs: Vec<(Vec<u8>, f64)>, lim: Limits) -> ZSet {
        pairs.sort_by(|a, b| cmp_pair(a.1, &a.0, b.1, &b.0));
        let fits = pairs.len() <= lim.entries && pairs.iter().all(|p| p.0.len() <= lim.value);
        if fits {
            let mut buf = vec![0; LP_HDR];
            for (m, s) in &pairs {
                put_varint(&mut buf, m.len());
                buf.extend_from_slice(m);
                put_score(&mut buf, *s);
            }
            ZSet { enc: Tagged::small(Listpack::from_vec(buf, pairs.len())) }
        } else {
            let mut b = Big::default();
            for (m, s) in &pairs {
                b.add(m, *s);
            }
            ZSet { enc: Tagged::big(Box::new(b)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    const LIM: Limits = Limits { entries: 128, value: 64 };

    /// Miri runs these tests (the member aliases are `unsafe`) at a tenth of the size.
    const SCALE: usize = if cfg!(miri) { 10 } else { 1 };

    fn model_sorted(m: &HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<_> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| cmp_pair(a.1, &a.0, b.1, &b.0));
        v
    }

    fn check(z: &ZSet, m: &HashMap<Vec<u8>, f64>) {
        let want = model_sorted(m);
        assert_eq!(z.len(), want.len());
        assert_eq!(z.to_vec(), want);
        for (m, s) in &want {
            assert_eq!(z.score(m), Some(*s));
        }
        if let Ref::Big(b) = z.enc.get() {
            assert_eq!(b.set.len(), b.len);
            assert_eq!(b.set.tags.iter().filter(|&&t| t != 0).count(), b.len);
            assert!(b.chunks.iter().all(|c| !c.is_empty()));
            for (i, c) in b.chunks.iter().enumerate() {
                assert_eq!(b.prefix(i + 1) - b.prefix(i), c.len());
            }
        }
    }

    fn run_model(seed: u64, lim: Limits, ops: usize, universe: u32) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut z = ZSet::new();
        let mut m: HashMap<Vec<u8>, f64> = HashMap::new();
        for i in 0..ops {
            let member = format!("m{}", rng.gen_range(0..universe)).into_bytes();
            match rng.gen_range(0..10) {
                0..=5 => {
                    let s = match rng.gen_range(0..4) {
                        0 => rng.gen_range(-5..5) as f64,
                        1 => rng.gen::<f64>() * 1e6,
                        2 => -0.0,
                        _ => rng.gen_range(-100000..100000) as f64,
                    };
                    let old = z.insert(&member, s, lim);
                    let prev = m.get(&member).copied();
                    if prev != Some(s) {
                        m.insert(member.clone(), s);
                    }
                    assert_eq!(old, prev);
                }
                6 | 7 => assert_eq!(z.remove(&member), m.remove(&member)),
                8 => {
                    let want = model_sorted(&m);
                    let r = want.iter().position(|p| p.0 == member);
                    assert_eq!(z.rank(&member).map(|x| x.0), r);
                    let lo = rng.gen_range(0..=want.len());
                    let hi = rng.gen_range(lo..=want.len());
                    let mut got = Vec::new();
                    z.for_range(lo, hi, true, |mm, s| got.push((mm.to_vec(), s)));
                    let mut exp = want[lo..hi].to_vec();
                    exp.reverse();
                    assert_eq!(got, exp);
                    let min = ScoreBound { value: rng.gen_range(-10..10) as f64, excl: rng.gen() };
                    let max = ScoreBound { value: rng.gen_range(-10..100) as f64, excl: rng.gen() };
                    let (a, b) = z.score_range(min, max);
                    let cnt = want
                        .iter()
                        .filter(|p| {
                            (if min.excl { p.1 > min.value } else { p.1 >= min.value })
                                && (if max.excl { p.1 < max.value } else { p.1 <= max.value })
                        })
                        .count();
                    assert_eq!(b - a, cnt);
                }
                _ => {
                    if i % 50 == 0 && !m.is_empty() {
                        let want = model_sorted(&m);
                        let lo = rng.gen_range(0..want.len());
                        let hi = (lo + rng.gen_range(0..5)).min(want.len());
                        assert_eq!(z.remove_range(lo, hi), hi - lo);
                        for p in &want[lo..hi] {
                            m.remove(&p.0);
                        }
                    }
                }
            }
            if i % 97 == 0 {
                check(&z, &m);
            }
        }
        check(&z, &m);
        let c = z.clone();
        check(&c, &m);
    }

    #[test]
    fn model_listpack() {
        run_model(1, Limits { entries: 1000, value: 64 }, 3000 / SCALE, 60);
    }

    #[test]
    fn model_skiplist() {
        run_model(2, Limits { entries: 0, value: 64 }, 20000 / SCALE, 3000 / SCALE as u32);
        run_model(3, Limits { entries: 16, value: 64 }, 5000 / SCALE, 300);
    }

    #[test]
    fn conversion_and_encodings() {
        let mut z = ZSet::new();
        for i in 0..128 {
            z.insert(format!("{i}").as_bytes(), i as f64, LIM);
        }
        assert_eq!(z.encoding_name(), "listpack");
        z.insert(b"x", 1.0, LIM);
        assert_eq!(z.encoding_name(), "skiplist");
        let mut y = ZSet::new();
        y.insert(&[b'a'; 65], 1.0, LIM);
        assert_eq!(y.encoding_name(), "skiplist");
        y.remove(&[b'a'; 65]);
        y.insert(b"a", 1.0, LIM);
        y.shrink_if_fits(LIM);
        assert_eq!(y.encoding_name(), "listpack");
        assert_eq!(y.score(b"a"), Some(1.0));
    }

    #[test]
    fn scores_round_trip() {
        let mut z = ZSet::new();
        let scores = [0.0, -0.0, 1.5, -112.0, 127.0, 128.0, -40000.0, 3e9, f64::INFINITY, 1e300];
        for (i, s) in scores.iter().enumerate() {
            z.insert(format!("m{i}").as_bytes(), *s, LIM);
        }
        for (i, s) in scores.iter().enumerate() {
            let got = z.score(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(got, *s);
            assert!(!got.is_sign_negative() || *s != 0.0, "listpack stores -0 as 0");
        }
    }

    #[test]
    fn scan_keeps_members_present_throughout() {
        let lim = Limits { entries: 0, value: 64 };
        let mut rng = SmallRng::seed_from_u64(9);
        let mut z = ZSet::new();
        let mut model = HashMap::new();
        // Stable members, churn per call, calls that add (the rest remove): the table grows
        // to several times its size, then shrinks.
        let (stable, per_call, grow_calls) =
            if cfg!(miri) { (200, 100, 15) } else { (3000, 100, 150) };
        for i in 0..stable {
            z.insert(format!("s{i}").as_bytes(), i as f64, lim);
            model.insert(format!("s{i}").into_bytes(), i as f64);
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut calls, mut next) = (0, 0, 0);
        let mut churn: Vec<Vec<u8>> = Vec::new();
        loop {
            cursor = z.scan(cursor, 10, |m, s| {
                seen.insert(m.to_vec());
                if m[0] == b's' {
                    assert_eq!(model[m], s);
                }
            });
            calls += 1;
            if cursor == 0 {
                break;
            }
            // Grow the table well past its size, then empty it again (it shrinks).
            for _ in 0..per_call {
                if calls < grow_calls {
                    let m = format!("c{next}").into_bytes();
                    next += 1;
                    z.insert(&m, rng.gen_range(-10.0..3000.0), lim);
                    churn.push(m);
                } else if let Some(m) = churn.pop() {
                    assert!(z.remove(&m).is_some());
                }
            }
        }
        assert!(calls > 2 * grow_calls, "{calls}");
        for m in model.keys() {
            assert!(seen.contains(m), "{}", String::from_utf8_lossy(m));
        }
        check(&z, &model);
    }

    /// Prints the cost of the skiplist encoding's operations (a rough check when changing the
    /// member representation): `cargo test --release -p vireo-server --lib skiplist_op_cost --
    /// --ignored --nocapture`.
    #[test]
    #[ignore]
    fn skiplist_op_cost() {
        use std::time::Instant;
        let lim = Limits { entries: 0, value: 64 };
        let n = 300_000 / SCALE;
        let mut rng = SmallRng::seed_from_u64(5);
        let members: Vec<Vec<u8>> = (0..n).map(|i| format!("member:{i:07}").into_bytes()).collect();
        let scores: Vec<f64> = (0..n).map(|_| rng.gen_range(0.0..1e6)).collect();
        let mut z = ZSet::new();
        let mut x = 0.0;
        let per = |t: Instant| t.elapsed().as_nanos() as f64 / n as f64;
        for round in 0..3 {
            let t = Instant::now();
            for (m, s) in members.iter().zip(&scores) {
                z.insert(m, *s, lim);
            }
            let add = per(t);
            let t = Instant::now();
            for m in &members {
                x += z.score(m).unwrap();
            }
            let score = per(t);
            let t = Instant::now();
            for m in &members {
                x += z.rank(m).unwrap().0 as f64;
            }
            let rank = per(t);
            let t = Instant::now();
            for (m, s) in members.iter().zip(&scores) {
                z.insert(m, s + 1000.0, lim);
            }
            let update = per(t);
            let t = Instant::now();
            for m in &members {
                z.remove(m);
            }
            let remove = per(t);
            println!(
                "round {round}: ns/op add {add:.0} score {score:.0} rank {rank:.0} \
                 update {update:.0} remove {remove:.0} ({x})"
            );
        }
    }

    #[test]
    fn lex_removal_walks_from_the_first_member_in_range() {
        let lim = Limits { entries: 0, value: 64 };
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("{i:04}").as_bytes(), 0.0, lim);
        }
        // Equal scores: the same members a range query finds.
        let (min, max) = (Lex::Incl(b"0100".to_vec()), Lex::Excl(b"0350".to_vec()));
        assert_eq!(z.lex_range_to_remove(&min, &max), (100, 350));
        assert_eq!(z.lex_range_to_remove(&min, &max), z.lex_range(&min, &max, false, 0));
        assert_eq!(z.lex_range_to_remove(&Lex::Incl(b"0990".to_vec()), &Lex::PosInf), (990, 1000));
        // A member out of lex order at the end: a range query sees no overlap, the removal
        // walk (as Redis's skiplist walk) takes everything from the first member on.
        z.insert(b"!", 100.0, lim);
        let (min, max) = (Lex::Incl(b"0".to_vec()), Lex::PosInf);
        assert_eq!(z.lex_range(&min, &max, false, 0), (0, 0));
        assert_eq!(z.lex_range_to_remove(&min, &max), (0, 1001));
    }

    #[test]
    fn sequential_big_rank() {
        let mut z = ZSet::new();
        let lim = Limits { entries: 0, value: 64 };
        for i in 0..10000 {
            z.insert(format!("{i:06}").as_bytes(), i as f64, lim);
        }
        assert_eq!(z.rank(b"005000"), Some((5000, 5000.0)));
        assert_eq!(z.at(9999).unwrap().0, b"009999");
        let (a, b) = z.score_range(
            ScoreBound { value: 10.0, excl: true },
            ScoreBound { value: 20.0, excl: false },
        );
        assert_eq!((a, b), (11, 21));
        let (a, b) =
            z.lex_range(&Lex::Incl(b"000100".to_vec()), &Lex::Excl(b"000200".to_vec()), false, 0);
        assert_eq!((a, b), (100, 200));
    }
}
