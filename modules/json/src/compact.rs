//! The compact parts of the document model: strings that keep up to 22 bytes inline, arrays
//! and objects as exact-size boxed slices (no spare capacity, no hash table), so that a
//! [`Value`](crate::value::Value) is 24 bytes and a document takes about what RedisJSON's does
//! or less. Objects look their keys up by a linear scan, as small JSON objects are; a removal
//! moves the last member into the hole, as RedisJSON's objects do.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::ops::Deref;
use std::sync::OnceLock;

use hashbrown::HashTable;
use thin_vec::ThinVec;

use crate::value::Value;

const INLINE: usize = 22;

/// A string: inline when short, else one exact-size heap allocation.
#[derive(Clone)]
pub enum Str {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl Str {
    pub fn as_str(&self) -> &str {
        match self {
            // Always valid: only `From<&str>` fills the buffer, with whole characters.
            Str::Inline { len, buf } => std::str::from_utf8(&buf[..*len as usize]).unwrap_or(""),
            Str::Heap(s) => s,
        }
    }

    /// The bytes, without the UTF-8 check `as_str` makes of an inline string (comparisons).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Str::Inline { len, buf } => &buf[..*len as usize],
            Str::Heap(s) => s.as_bytes(),
        }
    }

    /// Makes this string `s`, writing an inline one's bytes where it lies. Parsing builds
    /// strings this way in their slots: a string built on the stack and then moved was read
    /// back, 16 bytes at a time, from the narrower stores that had just copied its bytes, and
    /// each such load waits for the stores to drain (no store forwarding).
    pub fn set(&mut self, s: &str) {
        let b = s.as_bytes();
        if b.len() > INLINE {
            *self = Str::Heap(s.into());
            return;
        }
        if let Str::Heap(_) = self {
            *self = Str::default();
        }
        if let Str::Inline { len, buf } = self {
            buf[..b.len()].copy_from_slice(b);
            *len = b.len() as u8;
        }
    }

    pub fn push_str(&mut self, add: &str) {
        let mut s = String::with_capacity(self.len() + add.len());
        s.push_str(self);
        s.push_str(add);
        *self = Str::from(s);
    }

    /// Heap bytes (as the allocator rounds them).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Str::Inline { .. } => 0,
            Str::Heap(s) => alloc_size(s.len()),
        }
    }
}

/// The bytes a heap block of `n` bytes takes: its jemalloc size class. The server's jemalloc
/// is the process's `malloc`, so the module's allocations (through the system allocator) land
/// there, in the server's `used_memory`. Classes are 8, then multiples of 16 up to 128, then
/// four per doubling (160, 192, 224, 256, 320, ...); jemalloc keeps no header per block.
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => (n + 15) & !15,
        _ => {
            // A quarter of the power of two below the class's upper bound.
            let bits = usize::BITS - (n - 1).leading_zeros();
            let step = 1usize << (bits - 3);
            (n + step - 1) & !(step - 1)
        }
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::Inline { len: 0, buf: [0; INLINE] }
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Str::Inline { len: s.len() as u8, buf }
        } else {
            Str::Heap(s.into())
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Str::from(s.as_str())
        } else {
            Str::Heap(s.into_boxed_str())
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str {
    fn eq(&self, o: &Str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}
impl Eq for Str {}
impl PartialOrd for Str {
    fn partial_cmp(&self, o: &Str) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Str {
    fn cmp(&self, o: &Str) -> Ordering {
        // UTF-8 orders as its bytes do.
        self.as_bytes().cmp(o.as_bytes())
    }
}
impl PartialEq<str> for Str {
    fn eq(&self, o: &str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An array's elements. A thin vector (one pointer; its length and capacity live in its heap
/// block): growing an array one element at a time is amortized O(1), as with a `Vec`, while a
/// parsed array is allocated at its exact size.
pub type Arr = ThinVec<Value>;

/// The heap block of a thin vector's slots (an array's, an object's members): its header
/// (length and capacity) and every slot, used or spare; none for an empty one that never had
/// slots.
pub fn thin_bytes<T>(v: &ThinVec<T>) -> usize {
    match v.capacity() {
        0 => 0,
        cap => alloc_size(2 * std::mem::size_of::<usize>() + cap * std::mem::size_of::<T>()),
    }
}

/// An object: members in order, in a thin vector as arrays are (a parsed object has exactly as
/// many slots as members; adding members grows it amortized). Past [`INDEXED`] members a hash
/// index of their positions finds a key in O(1) instead of a scan.
#[derive(Clone, Default)]
pub struct Map {
    members: ThinVec<(Str, Value)>,
    index: Option<Box<HashTable<u32>>>,
}

/// Objects with more members than this are indexed.
const INDEXED: usize = 32;

/// Keys hash with SipHash under a per-process random key, so that documents cannot be built to
/// make lookups collide.
fn hash(k: &[u8]) -> u64 {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    STATE.get_or_init(RandomState::new).hash_one(k)
}

/// The index an object of `members` (no key twice) carries: none up to [`INDEXED`] members.
fn index_of(members: &[(Str, Value)]) -> Option<Box<HashTable<u32>>> {
    if members.len() <= INDEXED {
        return None;
    }
    unique_index(members).map(Box::new)
}

/// Whether `members` has no key twice. A cheap signature of each key picks one of 64 bits; only
/// a key whose bit is already set is compared with the keys before it.
fn unique_small(members: &[(Str, Value)]) -> bool {
    let mut seen = 0u64;
    for (i, (k, _)) in members.iter().enumerate() {
        let k = k.as_bytes();
        let bit = 1u64 << (signature(k) & 63);
        if seen & bit != 0 && members[..i].iter().any(|(x, _)| x.as_bytes() == k) {
            return false;
        }
        seen |= bit;
    }
    true
}

/// A key's length and its first and last bytes, mixed into 6 bits (one multiply): keys that
/// differ mostly differ here.
fn signature(k: &[u8]) -> u32 {
    let (first, last) = match k {
        [] => (0, 0),
        [f, .., l] => (*f, *l),
        [f] => (*f, *f),
    };
    let x = (k.len() as u32) ^ (first as u32) << 8 ^ (last as u32) << 16;
    x.wrapping_mul(0x9e37_79b9) >> 26
}

/// The index of `members`' positions, or None when a key is there twice.
fn unique_index(members: &[(Str, Value)]) -> Option<HashTable<u32>> {
    let mut ix = HashTable::with_capacity(members.len());
    for (i, (k, _)) in members.iter().enumerate() {
        let k = k.as_bytes();
        let h = hash(k);
        if ix.find(h, |&j| members[j as usize].0.as_bytes() == k).is_some() {
            return None;
        }
        ix.insert_unique(h, i as u32, |&j| hash(members[j as usize].0.as_bytes()));
    }
    Some(ix)
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    /// The object whose members, in input order, are `from`'s past `base` (taken out of it),
    /// as parsing reads them: a repeated key keeps its first place and its last value, as
    /// inserting them one by one would leave it. The members go into one exact-size block; past
    /// [`INDEXED`] members the index is built, and repeats found, as they go in.
    pub fn from_parsed(from: &mut ThinVec<(Str, Value)>, base: usize) -> Map {
        let parsed = &from[base..];
        let index = if parsed.len() > INDEXED { unique_index(parsed).map(Box::new) } else { None };
        if index.is_none() && (parsed.len() > INDEXED || !unique_small(parsed)) {
            let mut m = Map::new();
            for (k, v) in from.drain(base..) {
                m.insert(k, v);
            }
            m.shrink_to_fit();
            return m;
        }
        Map { members: from.split_off(base), index }
    }

    /// Drops the spare member slots.
    pub fn shrink_to_fit(&mut self) {
        self.members.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    fn position(&self, k: &str) -> Option<usize> {
        self.position_of(k.as_bytes())
    }
    fn position_of(&self, k: &[u8]) -> Option<usize> {
        match &self.index {
            Some(ix) => ix
                .find(hash(k), |&j| self.members[j as usize].0.as_bytes() == k)
                .map(|&j| j as usize),
            None => self.members.iter().position(|(x, _)| x.as_bytes() == k),
        }
    }
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.position(k).map(|i| &self.members[i].1)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.position(k).map(|i| &mut self.members[i].1)
    }
    pub fn contains_key(&self, k: &str) -> bool {
        self.position(k).is_some()
    }
    /// Sets `k` to `v`: in place when it exists, else at the end.
    pub fn insert(&mut self, k: impl Into<Str>, v: Value) {
        let k = k.into();
        // By its bytes: `&k` as a `&str` would check inline bytes for UTF-8 again.
        if let Some(i) = self.position_of(k.as_bytes()) {
            self.members[i].1 = v;
            return;
        }
        let at = self.members.len();
        let h = self.index.is_some().then(|| hash(k.as_bytes()));
        self.members.push((k, v));
        let Map { members, index } = self;
        match (index, h) {
            (Some(ix), Some(h)) => {
                ix.insert_unique(h, at as u32, |&j| hash(members[j as usize].0.as_bytes()));
            }
            (index, _) => *index = index_of(members),
        }
    }
    /// Removes `k`, moving the last member into its place.
    pub fn swap_remove(&mut self, k: &str) -> Option<Value> {
        let i = self.position(k)?;
        let last = self.members.len() - 1;
        if let Some(ix) = &mut self.index {
            let found = ix.find_entry(hash(k.as_bytes()), |&j| j as usize == i);
            if let Ok(e) = found {
                e.remove();
            }
            if i != last {
                // The last member takes position `i`.
                let moved = hash(self.members[last].0.as_bytes());
                if let Some(j) = ix.find_mut(moved, |&j| j as usize == last) {
                    *j = i as u32;
                }
            }
        }
        Some(self.members.swap_remove(i).1)
    }
    pub fn clear(&mut self) {
        *self = Map::default();
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Str, &Value)> {
        self.members.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Str> {
        self.members.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.members.iter().map(|(_, v)| v)
    }
    /// The slots' bytes and the index's (not what the members own).
    pub fn slots_bytes(&self) -> usize {
        thin_bytes(&self.members)
            + self.index.as_ref().map_or(0, |ix| {
                alloc_size(std::mem::size_of::<HashTable<u32>>()) + ix.allocation_size()
            })
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Str, Value)>,
        fn(&'a (Str, Value)) -> (&'a Str, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.members.iter().map(|(k, v)| (k, v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block sizes are jemalloc's size classes (its documented table for 4 KiB pages).
    #[test]
    fn block_sizes_are_jemalloc_classes() {
        let classes = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (24, 32),
            (100, 112),
            (128, 128),
            (129, 160),
            (256, 256),
            (257, 320),
            (1025, 1280),
            (14_336, 14_336),
            (14_337, 16_384),
            (100_000, 114_688),
        ];
        for (n, want) in classes {
            assert_eq!(alloc_size(n), want, "{n} bytes");
        }
    }

    /// An object from members in input order, as parsing builds one: a repeated key keeps its
    /// first place and its last value (as serde_json's maps do).
    fn from_members(members: Vec<(Str, Value)>) -> Map {
        let mut m = Map::new();
        for (k, v) in members {
            m.insert(k, v);
        }
        m.shrink_to_fit();
        m
    }

    /// Parsing's build of an object leaves what inserting the members one by one does: order,
    /// values, slots and index, with and without repeated keys, small and indexed.
    #[test]
    fn parsed_objects_match_inserted_ones() {
        let n = |i| Value::Num(crate::value::Num::I(i));
        for len in [0usize, 1, 2, 5, 31, 32, 33, 40, 57, 100] {
            for repeat in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let mut members: Vec<(Str, Value)> =
                    (0..len).map(|i| (Str::from(format!("key{i}")), n(i as i64))).collect();
                if let Some(r) = repeat.filter(|_| len > 0) {
                    members.insert(len / 3, (Str::from(format!("key{r}")), n(-1)));
                    members.push((Str::from(format!("key{r}")), n(-2)));
                }
                let want = from_members(members.clone());
                let mut from = thin_vec::thin_vec![(Str::from("outer"), n(9))];
                from.extend(members);
                let got = Map::from_parsed(&mut from, 1);
                assert_eq!(from.len(), 1, "{len} {repeat:?}");
                let pairs = |m: &Map| m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                let (g, w): (Vec<(String, Value)>, Vec<_>) = (pairs(&got), pairs(&want));
                assert_eq!(g.len(), w.len());
                assert!(
                    g.iter().zip(&w).all(|(a, b)| a.0 == b.0 && a.1 == b.1),
                    "{len} {repeat:?}"
                );
                assert_eq!(got.slots_bytes(), want.slots_bytes(), "{len} {repeat:?}");
                assert_eq!(got.index.is_some(), want.index.is_some());
                for (pos, (k, _)) in got.members.iter().enumerate() {
                    assert_eq!(got.position(k), Some(pos));
                }
            }
        }
        // Keys whose signatures collide are still told apart by their bytes.
        let mut from: ThinVec<(Str, Value)> =
            (0..32).map(|i| (Str::from(format!("a{i:02}z")), n(i))).collect();
        assert_eq!(Map::from_parsed(&mut from, 0).len(), 32);
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn strings_inline_and_heap() {
        let short = Str::from("abc");
        assert!(matches!(short, Str::Inline { .. }) && &*short == "abc");
        let long = Str::from("x".repeat(23));
        assert!(matches!(long, Str::Heap(_)) && long.len() == 23);
        let mut s = Str::from("é".repeat(11));
        s.push_str("z");
        assert_eq!(&*s, format!("{}z", "é".repeat(11)));
        assert_eq!(s.heap_bytes(), 32);
    }

    /// Past INDEXED members the index must agree with the members through inserts, updates
    /// and swap-removes (checked against a scan of the members).
    #[test]
    fn indexed_maps_find_what_a_scan_finds() {
        let n = |i| Value::Num(crate::value::Num::I(i));
        let mut m = Map::new();
        for i in 0..200 {
            m.insert(format!("k{i}"), n(i));
        }
        assert!(m.index.is_some());
        for i in (0..200).step_by(3) {
            assert!(m.swap_remove(&format!("k{i}")).is_some());
        }
        m.insert("k1", n(-1));
        m.insert("new", n(7));
        for (pos, (k, _)) in m.members.iter().enumerate() {
            assert_eq!(m.position(k), Some(pos), "{k}");
        }
        for i in 0..200 {
            let want = m.members.iter().position(|(k, _)| k.as_str() == format!("k{i}"));
            assert_eq!(m.position(&format!("k{i}")), want);
        }
        assert!(matches!(m.get("k1"), Some(Value::Num(crate::value::Num::I(-1)))));
        assert_eq!(m.len(), 200 - 67 + 1);
        let from = from_members(m.members.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        assert_eq!(from.keys().collect::<Vec<_>>(), m.keys().collect::<Vec<_>>());
        assert!(from.index.is_some() && from.get("new").is_some());
    }

    #[test]
    fn maps_keep_order_and_move_the_last_into_a_hole() {
        let n = |i| Value::Num(crate::value::Num::I(i));
        let mut m = from_members(vec![("a".into(), n(1)), ("b".into(), n(2)), ("a".into(), n(3))]);
        assert_eq!(m.keys().map(|k| k.to_string()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(matches!(m.get("a"), Some(Value::Num(crate::value::Num::I(3)))));
        m.insert("c", n(4));
        assert!(m.swap_remove("a").is_some());
        assert_eq!(m.keys().map(|k| k.to_string()).collect::<Vec<_>>(), ["c", "b"]);
        let many: Vec<_> = (0..40).map(|i| (Str::from(format!("k{}", i % 30)), n(i))).collect();
        let m = from_members(many);
        assert_eq!(m.len(), 30);
        assert!(matches!(m.get("k5"), Some(Value::Num(crate::value::Num::I(35)))));
    }
}
