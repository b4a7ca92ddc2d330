//! The set type, with Redis 7.0's two encodings.
//!
//! * `intset`: while every member is a canonical decimal integer and there are at most
//!   `set-max-intset-entries` members, the set is a sorted array of integers of the smallest
//!   width that holds every member, as Redis's intset, plus a 1-byte width Redis lacks (its
//!   smallest is 2): members in -128..=127 take one byte each. It is one exact-sized
//!   allocation behind a thin pointer ([`ThinBytes`]: a 4-byte length, then a width byte and
//!   the little-endian integers): 20 members under 128 take 4 + 21 bytes, a 32-byte class,
//!   where Redis's 8-byte header + 40 take 48; 20 members under 32768 take 4 + 41 bytes, the
//!   same 48-byte class as Redis. The width only grows.
//! * `hashtable`: members are kept in a dense `Vec<Box<[u8]>>` (16 bytes a member plus the
//!   member's own exact-sized allocation) indexed by an open-addressing table of `u32` positions
//!   (linear probing, backward-shift deletion, load at most 3/4). A random member is a random
//!   index into the dense vector (uniform, O(1)), and SSCAN walks *home buckets* with Redis's
//!   reverse-binary cursor, so it keeps SCAN's guarantee across resizes: an element's home
//!   bucket depends only on its hash and the table size, exactly as a chained bucket does.
//!
//! Redis 7.0 never converts a hashtable set back to an intset.

use rand::Rng;

use super::member_hash as hash;
use super::thin::{Mut, Ref, Small, Tagged, ThinBytes};
use crate::info::jemalloc_size_class;
use crate::util::num::parse_i64;

/// A member as stored: an integer of an intset, or bytes of a hashtable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes; an integer is formatted into `buf`.
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match *self {
            Member::Int(n) => buf.format(n).as_bytes(),
            Member::Str(s) => s,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }
}

/// A set: an intset or a hashtable behind one word (so that `Object` is 16 bytes).
#[derive(Debug, Clone)]
pub struct Set(Tagged<IntSet, HashSet>);

impl Default for Set {
    fn default() -> Self {
        Set(Tagged::small(IntSet::default()))
    }
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.0.is_big() {
            "hashtable"
        } else {
            "intset"
        }
    }

    /// The intset, while the set is one.
    pub fn as_intset(&self) -> Option<&IntSet> {
        match self.0.get() {
            Ref::Small(s) => Some(s),
            Ref::Big(_) => None,
        }
    }

    /// Bytes held by the set, including the `Object` box the key record points at.
    pub fn mem_usage(&self) -> usize {
        let boxed = jemalloc_size_class(std::mem::size_of::<super::Object>());
        boxed
            + match self.0.get() {
                Ref::Small(s) => s.mem_usage(),
                Ref::Big(h) => jemalloc_size_class(std::mem::size_of::<HashSet>()) + h.mem_usage(),
            }
    }

    pub fn len(&self) -> usize {
        match self.0.get() {
            Ref::Small(s) => s.len(),
            Ref::Big(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `m`; false if it was there. Converts to a hashtable when `m` is not an integer or
    /// the intset grows past `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self.0.get_mut() {
            Mut::Small(s) => match parse_i64(m) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert();
                    }
                    true
                }
                None => {
                    self.convert();
                    self.add(m, max_intset)
                }
            },
            Mut::Big(h) => h.insert(m),
        }
    }

    /// Adds a member taken from another set (SINTERSTORE and friends).
    pub fn add_member(&mut self, m: Member, max_intset: usize) -> bool {
        match (self.0.get_mut(), m) {
            (Mut::Small(s), Member::Int(n)) => {
                if !s.insert(n) {
                    return false;
                }
                if s.len() > max_intset {
                    self.convert();
                }
                true
            }
            _ => self.add(m.bytes(&mut itoa::Buffer::new()), max_intset),
        }
    }

    fn convert(&mut self) {
        if let Ref::Small(s) = self.0.get() {
            let mut h = HashSet::with_capacity(s.len());
            let mut buf = itoa::Buffer::new();
            for n in s.iter() {
                h.insert(buf.format(n).as_bytes());
            }
            self.0 = Tagged::big(Box::new(h));
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.0.get_mut() {
            Mut::Small(s) => parse_i64(m).is_some_and(|n| s.remove(n)),
            Mut::Big(h) => h.remove(m),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self.0.get() {
            Ref::Small(s) => parse_i64(m).is_some_and(|n| s.contains(n)),
            Ref::Big(h) => h.contains(m),
        }
    }

    /// Whether the member of another set is in this one.
    pub fn contains_member(&self, m: Member) -> bool {
        match (self.0.get(), m) {
            (Ref::Small(s), Member::Int(n)) => s.contains(n),
            (_, m) => self.contains(m.bytes(&mut itoa::Buffer::new())),
        }
    }

    /// The member at position `i` (`i < len`): sorted order for an intset.
    pub fn get(&self, i: usize) -> Member<'_> {
        match self.0.get() {
            Ref::Small(s) => Member::Int(s.get(i)),
            Ref::Big(h) => Member::Str(&h.members[i]),
        }
    }

    /// A uniformly random member, or None when empty.
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Member<'_>> {
        if self.is_empty() {
            return None;
        }
        Some(self.get(rng.gen_range(0..self.len())))
    }

    /// Removes and returns a random member.
    pub fn pop<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// One SSCAN step: calls `f` with members and returns the next cursor (0 when done).
    /// An intset is returned whole in one call, as Redis does for compact encodings.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member)) -> u64 {
        match self.0.get() {
            Ref::Small(_) => {
                self.iter().for_each(f);
                0
            }
            Ref::Big(h) => {
                let mut cursor = cursor;
                let mut budget = count.saturating_mul(10).max(1);
                let mut n = 0;
                loop {
                    cursor = h.scan_bucket(cursor, |m| {
                        n += 1;
                        f(Member::Str(m))
                    });
                    budget -= 1;
                    if cursor == 0 || budget == 0 || n >= count {
                        return cursor;
                    }
                }
            }
        }
    }
}

// ----- intset -----

/// Sorted integers in one allocation: `[width, v0, v1, ...]`, each value `width` bytes LE.
/// Empty means no allocation at all.
#[derive(Debug, Clone, Default)]
#[repr(transparent)]
pub struct IntSet {
    data: ThinBytes,
}

// SAFETY: IntSet is repr(transparent) over its one field, a ThinBytes.
unsafe impl Small for IntSet {}

fn width_for(n: i64) -> usize {
    if i8::try_from(n).is_ok() {
        1
    } else if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    /// Bytes per member (1, 2, 4 or 8).
    pub fn width(&self) -> usize {
        self.data.first().map_or(1, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        if self.data.is_empty() {
            0
        } else {
            (self.data.len() - 1) / self.width()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn mem_usage(&self) -> usize {
        self.data.alloc_size()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = 1 + i * w;
        let b = &self.data[at..at + w];
        match w {
            1 => i64::from(b[0] as i8),
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes(b.try_into().unwrap()),
        }
    }

    fn put(buf: &mut [u8], w: usize, i: usize, n: i64) {
        let at = 1 + i * w;
        buf[at..at + w].copy_from_slice(&n.to_le_bytes()[..w]);
    }

    /// Ok(position) if present, Err(insertion point) otherwise.
    fn search(&self, n: i64) -> Result<usize, usize> {
        let len = self.len();
        if len == 0 {
            return Err(0);
        }
        // Values wider than the encoding are outside the range: first or last.
        if width_for(n) > self.width() {
            return Err(if n < 0 { 0 } else { len });
        }
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let v = self.get(mid);
            match v.cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    pub fn insert(&mut self, n: i64) -> bool {
        let pos = match self.search(n) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let len = self.len();
        let old_w = self.width();
        let w = old_w.max(width_for(n));
        if w != old_w || self.data.is_empty() {
            // Upgrade (or first member): rebuild at the new width.
            let mut nv = vec![0u8; 1 + (len + 1) * w];
            nv[0] = w as u8;
            let mut j = 0;
            for i in 0..=len {
                let x = if i == pos { n } else { self.get(j) };
                if i != pos {
                    j += 1;
                }
                Self::put(&mut nv, w, i, x);
            }
            self.data = ThinBytes::from(nv);
        } else {
            let at = 1 + pos * w;
            self.data.splice(at..at, &n.to_le_bytes()[..w]);
        }
        true
    }

    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(pos) = self.search(n) else { return false };
        let w = self.width();
        if self.len() == 1 {
            self.data = ThinBytes::new();
            return true;
        }
        let at = 1 + pos * w;
        self.data.splice(at..at + w, &[]);
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

// ----- hashtable -----

const EMPTY: u32 = u32::MAX;

/// Members in a dense vector, indexed by an open-addressing table of positions.
#[derive(Debug, Clone, Default)]
pub struct HashSet {
    members: Vec<Box<[u8]>>,
    /// Positions into `members`, `EMPTY` for a free slot; the length is 0 or a power of two.
    slots: Box<[u32]>,
    /// Sum of the members' allocation sizes (MEMORY USAGE without a walk).
    member_bytes: usize,
}

impl HashSet {
    pub fn with_capacity(n: usize) -> Self {
        let mut h = HashSet { members: Vec::with_capacity(n), ..Default::default() };
        h.resize(Self::slots_for(n));
        h
    }

    fn slots_for(n: usize) -> usize {
        (n * 4 / 3 + 1).next_power_of_two().max(8)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn mem_usage(&self) -> usize {
        let cls = |n: usize| if n == 0 { 0 } else { jemalloc_size_class(n) };
        cls(self.members.capacity() * 16) + cls(self.slots.len() * 4) + self.member_bytes
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `m`, if present.
    fn find(&self, m: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash(m) as usize & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if *self.members[s as usize] == *m {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.find(m).is_some()
    }

    fn place(&mut self, h: u64, pos: u32) {
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = pos;
    }

    fn resize(&mut self, n: usize) {
        self.slots = vec![EMPTY; n].into_boxed_slice();
        for p in 0..self.members.len() {
            let h = hash(&self.members[p]);
            self.place(h, p as u32);
        }
    }

    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.find(m).is_some() {
            return false;
        }
        if (self.members.len() + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(8));
        }
        let pos = self.members.len() as u32;
        self.member_bytes += jemalloc_size_class(m.len().max(1));
        self.members.push(m.into());
        self.place(hash(m), pos);
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        let Some(slot) = self.find(m) else { return false };
        let pos = self.slots[slot] as usize;
        self.delete_slot(slot);
        let last = self.members.len() - 1;
        if pos != last {
            // The last member moves to `pos`: repoint its slot.
            let mask = self.mask();
            let mut i = hash(&self.members[last]) as usize & mask;
            while self.slots[i] as usize != last {
                i = (i + 1) & mask;
            }
            self.slots[i] = pos as u32;
        }
        let gone = self.members.swap_remove(pos);
        self.member_bytes -= jemalloc_size_class(gone.len().max(1));
        let len = self.members.len();
        if len * 10 < self.slots.len() && self.slots.len() > 8 {
            self.resize(Self::slots_for(len));
        }
        if len * 4 < self.members.capacity() && self.members.capacity() > 8 {
            self.members.shrink_to(len * 2);
        }
        true
    }

    /// Frees a slot, shifting later members of its cluster back (no tombstones).
    fn delete_slot(&mut self, hole: usize) {
        let mask = self.mask();
        let mut i = hole;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == EMPTY {
                break;
            }
            let k = hash(&self.members[s as usize]) as usize & mask;
            // The entry at j may move to i unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < k && k <= j } else { i < k || k <= j };
            if !stays {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i] = EMPTY;
    }

    /// Visits the members whose home bucket is `cursor`'s, returns the next cursor
    /// (Redis's reverse-binary increment, 0 when the walk is over).
    pub fn scan_bucket(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let b = (cursor & mask) as usize;
        let mut i = b;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                break;
            }
            let m = &self.members[s as usize];
            if hash(m) as usize & mask as usize == b {
                f(m);
            }
            i = (i + 1) & mask as usize;
        }
        crate::keyspace::table::next_cursor(cursor, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::collections::HashSet as StdSet;

    fn members(s: &Set) -> StdSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = IntSet::default();
        assert_eq!(s.len(), 0);
        for n in [5, -3, 100, 0] {
            assert!(s.insert(n));
        }
        assert!(!s.insert(5));
        assert_eq!(s.width(), 1);
        assert_eq!(s.mem_usage(), 16); // 4 + 1 + 4 * 1 = 9 bytes
        assert!(s.insert(-129));
        assert_eq!(s.width(), 2);
        assert!(s.remove(-129));
        assert!(s.insert(70000));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width(), 8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 0, 5, 100, 70000]);
        assert!(s.contains(70000) && !s.contains(i64::MAX) && !s.contains(1));
        assert!(s.remove(i64::MIN));
        // The width never shrinks, as in Redis.
        assert_eq!(s.width(), 8);
        assert!(!s.remove(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert_eq!(s.get(s.len() - 1), i64::MAX);
        for n in s.iter().collect::<Vec<_>>() {
            assert!(s.remove(n));
        }
        assert!(s.is_empty());
        assert_eq!(s.mem_usage(), 0);
    }

    #[test]
    fn twenty_small_ints_fit_redis_size_classes() {
        let mut s = Set::new();
        for n in 0..20 {
            s.add(itoa::Buffer::new().format(n * 50).as_bytes(), 512);
        }
        assert_eq!(s.as_intset().expect("an intset").mem_usage(), 48);
        let mut s = Set::new();
        for n in 0..20 {
            s.add(itoa::Buffer::new().format(n * 6 - 60).as_bytes(), 512);
        }
        let i = s.as_intset().expect("an intset");
        assert_eq!((i.width(), i.mem_usage()), (1, 32));
        assert_eq!(std::mem::size_of::<Set>(), 8);
    }

    #[test]
    fn conversion() {
        let mut s = Set::new();
        for n in 0..512 {
            assert!(s.add(n.to_string().as_bytes(), 512));
        }
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add(b"512", 512));
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 513);
        assert!(s.contains(b"77") && !s.contains(b"077"));
        let mut s = Set::new();
        s.add(b"1", 512);
        assert!(!s.contains(b"01"));
        s.add(b"01", 512);
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 2);
        assert!(s.contains(b"1") && s.contains(b"01"));
        // Never back to an intset.
        s.remove(b"01");
        assert_eq!(s.encoding_name(), "hashtable");
    }

    #[test]
    fn model_random_ops() {
        let mut rng = SmallRng::seed_from_u64(7);
        for round in 0..20 {
            let max_intset = [0, 4, 64, 512][round % 4];
            let mut s = Set::new();
            let mut model: StdSet<Vec<u8>> = StdSet::new();
            for _ in 0..3000 {
                let m: Vec<u8> = match rng.gen_range(0..4) {
                    0 => format!("m{}", rng.gen_range(0..300)).into_bytes(),
                    1 => rng.gen_range(-200i64..200).to_string().into_bytes(),
                    2 => rng.gen_range(-100000i64..100000).to_string().into_bytes(),
                    _ => (rng.gen::<i64>() % 50).to_string().into_bytes(),
                };
                let only_ints = round % 2 == 0;
                if only_ints && m[0] == b'm' {
                    continue;
                }
                match rng.gen_range(0..5) {
                    0..=2 => assert_eq!(s.add(&m, max_intset), model.insert(m.clone())),
                    3 => assert_eq!(s.remove(&m), model.remove(&m)),
                    _ => {
                        if let Some(p) = s.pop(&mut rng) {
                            assert!(model.remove(&p));
                        } else {
                            assert!(model.is_empty());
                        }
                    }
                }
                assert_eq!(s.contains(&m), model.contains(&m));
                assert_eq!(s.len(), model.len());
            }
            assert_eq!(members(&s), model);
            // A full SSCAN sees every member.
            let mut seen = StdSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 5, |m| {
                    seen.insert(m.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, model);
            if let Some(i) = s.as_intset() {
                let v: Vec<i64> = i.iter().collect();
                assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }

    #[test]
    fn scan_survives_growth() {
        let mut s = Set::new();
        for i in 0..1000 {
            s.add(format!("k{i}").as_bytes(), 512);
        }
        let mut seen = StdSet::new();
        let mut cursor = s.scan(0, 10, |m| {
            seen.insert(m.to_vec());
        });
        for i in 1000..5000 {
            s.add(format!("k{i}").as_bytes(), 512);
        }
        while cursor != 0 {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("k{i}").as_bytes()));
        }
    }
}
