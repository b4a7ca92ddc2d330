//! The list type: a quicklist of packed nodes, as Redis 7.0 keeps lists.
//!
//! A node ([`Pack`]) is one exact-sized allocation: a 4-byte element count, then the elements,
//! each written as `varint(len) data reverse-varint(len)` so the node can be walked from either
//! end (the same idea as Redis's listpack backlen; a short element costs 2 bytes of overhead, as
//! in a listpack). A list that fits one node keeps that node inline in the [`List`] (16 bytes,
//! no node array); a longer one is a deque of nodes with a running length.
//!
//! Node size follows `list-max-listpack-size` (`fill`): a negative fill caps a node's bytes at
//! 4, 8, 16, 32 or 64 KiB (-1..-5), a positive fill caps its element count (and its bytes at
//! 8 KiB, Redis's safety limit). An element too big for any node gets a node of its own.
//!
//! `list-compress-depth` (LZF compression of interior nodes) is not implemented: the setting is
//! stored and accepted, and every node stays uncompressed.
//!
//! OBJECT ENCODING says `quicklist` for every list, as Redis 7.0 does (7.2 added `listpack`).
//!
//! The blocking pops (BLPOP and friends) need only [`List::len`], [`List::pop_front`] and
//! [`List::pop_back`], all O(1) in the number of nodes.

use std::collections::VecDeque;

use super::thin::{Mut, Ref, Small, Tagged, ThinBytes};

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// Redis's safety limit for nodes with a positive (count) fill.
const SIZE_SAFETY_LIMIT: usize = 8192;
const HDR: usize = 4;

/// Largest number of bytes a node may hold under `fill`.
fn max_bytes(fill: i32) -> usize {
    match fill {
        f if f >= 0 => SIZE_SAFETY_LIMIT,
        -1 => 4096,
        -2 => 8192,
        -3 => 16384,
        -4 => 32768,
        _ => 65536,
    }
}

fn varint_len(n: usize) -> usize {
    let mut n = n >> 7;
    let mut k = 1;
    while n != 0 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Bytes an element of `len` bytes takes in a node.
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

fn put_entry(v: &mut Vec<u8>, e: &[u8]) {
    let mut tmp = [0u8; 10];
    let mut n = e.len();
    let mut k = 0;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        tmp[k] = if n != 0 { b | 0x80 } else { b };
        k += 1;
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(&tmp[..k]);
    v.extend_from_slice(e);
    v.extend(tmp[..k].iter().rev());
}

/// One node: count header then entries, in an exact-sized allocation behind a thin pointer.
#[derive(Clone, PartialEq, Eq)]
#[repr(transparent)]
pub struct Pack(ThinBytes);

// SAFETY: Pack is repr(transparent) over its one field, a ThinBytes.
unsafe impl Small for Pack {}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

impl Default for Pack {
    fn default() -> Self {
        Pack(ThinBytes::from_slice(&[0; HDR]))
    }
}

impl Pack {
    pub fn count(&self) -> usize {
        u32::from_le_bytes(self.0[..HDR].try_into().unwrap()) as usize
    }

    fn set_count(v: &mut [u8], n: usize) {
        v[..HDR].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Bytes of the node's contents (header and entries).
    pub fn bytes(&self) -> usize {
        self.0.len()
    }

    /// Bytes of the node's allocation, by jemalloc size class.
    pub fn alloc_size(&self) -> usize {
        self.0.alloc_size()
    }

    /// The element starting at `off`: (data start, data len, next entry offset).
    fn entry_at(&self, off: usize) -> (usize, usize, usize) {
        let b = &self.0;
        let (mut n, mut shift, mut i) = (0usize, 0, off);
        loop {
            let x = b[i];
            n |= ((x & 0x7f) as usize) << shift;
            i += 1;
            if x & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let k = i - off;
        (i, n, i + n + k)
    }

    /// The element ending at `end`: (entry start, data start, data len).
    fn entry_before(&self, end: usize) -> (usize, usize, usize) {
        let b = &self.0;
        let (mut n, mut shift, mut i) = (0usize, 0, end);
        loop {
            i -= 1;
            let x = b[i];
            n |= ((x & 0x7f) as usize) << shift;
            if x & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let k = end - i;
        let data = i - n;
        (data - k, data, n)
    }

    pub fn iter(&self) -> PackIter<'_> {
        PackIter { p: self, front: HDR, back: self.0.len(), left: self.count() }
    }

    /// Byte offset of element `idx` (or the end offset when `idx == count`).
    fn offset_of(&self, idx: usize) -> usize {
        let count = self.count();
        if idx <= count / 2 {
            let mut off = HDR;
            for _ in 0..idx {
                off = self.entry_at(off).2;
            }
            off
        } else {
            let mut off = self.0.len();
            for _ in idx..count {
                off = self.entry_before(off).0;
            }
            off
        }
    }

    pub fn get(&self, idx: usize) -> &[u8] {
        let (d, n, _) = self.entry_at(self.offset_of(idx));
        &self.0[d..d + n]
    }

    /// Replaces bytes `from..to` with the entries `elems` and adjusts the count by
    /// `elems.len() - removed`. The allocation stays exact-sized.
    fn splice(&mut self, from: usize, to: usize, elems: &[&[u8]], removed: usize) {
        let add: usize = elems.iter().map(|e| entry_size(e.len())).sum();
        let mut ins = Vec::with_capacity(add);
        for e in elems {
            put_entry(&mut ins, e);
        }
        let count = self.count();
        self.0.splice(from..to, &ins);
        Self::set_count(&mut self.0, count + elems.len() - removed);
    }

    pub fn insert(&mut self, idx: usize, e: &[u8]) {
        let off = self.offset_of(idx);
        self.splice(off, off, &[e], 0);
    }

    pub fn push(&mut self, end: End, e: &[u8]) {
        let off = match end {
            End::Head => HDR,
            End::Tail => self.0.len(),
        };
        self.splice(off, off, &[e], 0);
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        if self.count() == 0 {
            return None;
        }
        let (from, to, d, n) = match end {
            End::Head => {
                let (d, n, next) = self.entry_at(HDR);
                (HDR, next, d, n)
            }
            End::Tail => {
                let (start, d, n) = self.entry_before(self.0.len());
                (start, self.0.len(), d, n)
            }
        };
        let v = self.0[d..d + n].to_vec();
        self.splice(from, to, &[], 1);
        Some(v)
    }

    pub fn set(&mut self, idx: usize, e: &[u8]) {
        let off = self.offset_of(idx);
        let next = self.entry_at(off).2;
        self.splice(off, next, &[e], 1);
    }

    /// Removes `n` elements from one end.
    pub fn drain(&mut self, end: End, n: usize) {
        let n = n.min(self.count());
        match end {
            End::Head => {
                let off = self.offset_of(n);
                self.splice(HDR, off, &[], n);
            }
            End::Tail => {
                let off = self.offset_of(self.count() - n);
                let len = self.0.len();
                self.splice(off, len, &[], n);
            }
        }
    }

    /// Removes up to `limit` elements equal to `e`, the first ones from the head or the tail.
    pub fn remove_eq(&mut self, e: &[u8], limit: usize, from: End) -> usize {
        let mut drop = Vec::new();
        let mut it = self.iter_offsets();
        while drop.len() < limit {
            let next = match from {
                End::Head => it.next(),
                End::Tail => it.next_back(),
            };
            match next {
                Some((start, end, d, n)) if &self.0[d..d + n] == e => drop.push((start, end)),
                Some(_) => {}
                None => break,
            }
        }
        if drop.is_empty() {
            return 0;
        }
        drop.sort_unstable();
        let removed: usize = drop.iter().map(|(s, e)| e - s).sum();
        let mut v = Vec::with_capacity(self.0.len() - removed);
        let mut at = 0;
        for (s, e) in &drop {
            v.extend_from_slice(&self.0[at..*s]);
            at = *e;
        }
        v.extend_from_slice(&self.0[at..]);
        let count = self.count() - drop.len();
        Self::set_count(&mut v, count);
        self.0 = ThinBytes::from(v);
        drop.len()
    }

    /// Splits off the elements from `idx` on into a new node.
    fn split_off(&mut self, idx: usize) -> Pack {
        let off = self.offset_of(idx);
        let count = self.count();
        let mut tail = Vec::with_capacity(HDR + self.0.len() - off);
        tail.extend_from_slice(&[0; HDR]);
        tail.extend_from_slice(&self.0[off..]);
        Self::set_count(&mut tail, count - idx);
        let len = self.0.len();
        self.0.splice(off..len, &[]);
        Self::set_count(&mut self.0, idx);
        Pack(ThinBytes::from(tail))
    }

    /// Entries as (entry start, entry end, data start, data len), from either end.
    fn iter_offsets(&self) -> OffsetIter<'_> {
        OffsetIter { p: self, front: HDR, back: self.0.len(), left: self.count() }
    }

    fn allows_insert(&self, len: usize, fill: i32) -> bool {
        let count = self.count();
        if count == 0 {
            return true;
        }
        let new = self.0.len() + entry_size(len);
        if new > max_bytes(fill) {
            return false;
        }
        fill < 0 || count < fill as usize
    }

    fn too_big(&self, fill: i32) -> bool {
        let count = self.count();
        count > 1 && (self.0.len() > max_bytes(fill) || (fill > 0 && count > fill as usize))
    }
}

struct OffsetIter<'a> {
    p: &'a Pack,
    front: usize,
    back: usize,
    left: usize,
}

impl Iterator for OffsetIter<'_> {
    type Item = (usize, usize, usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.front;
        let (d, n, next) = self.p.entry_at(start);
        self.front = next;
        Some((start, next, d, n))
    }
}

impl DoubleEndedIterator for OffsetIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let end = self.back;
        let (start, d, n) = self.p.entry_before(end);
        self.back = start;
        Some((start, end, d, n))
    }
}

/// Elements of one node, from either end.
pub struct PackIter<'a> {
    p: &'a Pack,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (d, n, next) = self.p.entry_at(self.front);
        self.front = next;
        Some(&self.p.0[d..d + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for PackIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (start, d, n) = self.p.entry_before(self.back);
        self.back = start;
        Some(&self.p.0[d..d + n])
    }
}

impl ExactSizeIterator for PackIter<'_> {}

#[derive(Debug, Clone)]
struct Many {
    nodes: VecDeque<Pack>,
    len: usize,
}

/// A list: one node, or a boxed array of nodes, in one word (so that `Object` is 16 bytes).
#[derive(Debug, Clone)]
pub struct List {
    repr: Tagged<Pack, Many>,
}

impl Default for List {
    fn default() -> Self {
        List { repr: Tagged::small(Pack::default()) }
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Bytes held by the list, by jemalloc size class: the boxed object the key points to, its
    /// nodes and, for a many-node list, the node array.
    pub fn mem_usage(&self) -> usize {
        use crate::info::jemalloc_size_class as class;
        class(std::mem::size_of::<crate::types::Object>())
            + match self.repr.get() {
                Ref::Small(p) => p.alloc_size(),
                Ref::Big(m) => {
                    class(std::mem::size_of::<Many>())
                        + class(m.nodes.capacity() * std::mem::size_of::<Pack>())
                        + m.nodes.iter().map(Pack::alloc_size).sum::<usize>()
                }
            }
    }

    pub fn len(&self) -> usize {
        match self.repr.get() {
            Ref::Small(p) => p.count(),
            Ref::Big(m) => m.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of nodes (DEBUG OBJECT's `ql_nodes`).
    pub fn node_count(&self) -> usize {
        match self.repr.get() {
            Ref::Small(_) => 1,
            Ref::Big(m) => m.nodes.len(),
        }
    }

    /// The nodes, head first (the RDB writer saves one listpack per node).
    pub fn nodes(&self) -> impl Iterator<Item = &Pack> + '_ {
        (0..self.node_count()).map(move |i| self.node(i))
    }

    /// Appends a node holding `elems` at the tail (the RDB loader keeps the file's node
    /// boundaries, as Redis does). Nothing happens for an empty `elems`.
    pub fn append_node<'a>(&mut self, elems: impl IntoIterator<Item = &'a [u8]>) {
        let elems: Vec<&[u8]> = elems.into_iter().collect();
        if elems.is_empty() {
            return;
        }
        // One splice, so one allocation for the node.
        let mut p = Pack::default();
        p.splice(HDR, HDR, &elems, 0);
        if self.is_empty() {
            self.repr = Tagged::small(p);
        } else {
            let n = self.node_count();
            self.insert_node(n, p);
        }
    }

    fn node(&self, i: usize) -> &Pack {
        match self.repr.get() {
            Ref::Small(p) => p,
            Ref::Big(m) => &m.nodes[i],
        }
    }

    fn node_mut(&mut self, i: usize) -> &mut Pack {
        match self.repr.get_mut() {
            Mut::Small(p) => p,
            Mut::Big(m) => &mut m.nodes[i],
        }
    }

    /// Adds `d` to the length of a many-node list (a one-node list counts its node).
    fn add_len(&mut self, d: isize) {
        if let Mut::Big(m) = self.repr.get_mut() {
            m.len = (m.len as isize + d) as usize;
        }
    }

    /// Inserts node `p` at position `i`.
    fn insert_node(&mut self, i: usize, p: Pack) {
        if let Mut::Small(first) = self.repr.get_mut() {
            let first = std::mem::take(first);
            let len = first.count();
            let mut nodes = VecDeque::with_capacity(2);
            nodes.push_back(first);
            self.repr = Tagged::big(Box::new(Many { nodes, len }));
        }
        let Mut::Big(m) = self.repr.get_mut() else { unreachable!() };
        m.len += p.count();
        m.nodes.insert(i, p);
    }

    /// Removes node `i` (there must be at least two).
    fn remove_node(&mut self, i: usize) {
        let Mut::Big(m) = self.repr.get_mut() else { unreachable!("one node is never removed") };
        let p = m.nodes.remove(i).expect("node index");
        m.len -= p.count();
        if m.nodes.len() == 1 {
            let last = m.nodes.pop_front().unwrap();
            self.repr = Tagged::small(last);
        } else if m.nodes.capacity() > 4 * m.nodes.len() {
            m.nodes.shrink_to(2 * m.nodes.len());
        }
    }

    /// Drops node `i` if it became empty and is not the only one.
    fn drop_if_empty(&mut self, i: usize) {
        if self.node_count() > 1 && self.node(i).count() == 0 {
            self.remove_node(i);
        }
    }

    pub fn push(&mut self, end: End, e: &[u8], fill: i32) {
        let n = self.node_count();
        let i = match end {
            End::Head => 0,
            End::Tail => n - 1,
        };
        if self.node(i).allows_insert(e.len(), fill) {
            self.node_mut(i).push(end, e);
            self.add_len(1);
        } else {
            let mut p = Pack::default();
            p.push(End::Tail, e);
            self.insert_node(if end == End::Head { 0 } else { n }, p);
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let i = match end {
            End::Head => 0,
            End::Tail => self.node_count() - 1,
        };
        let v = self.node_mut(i).pop(end)?;
        self.add_len(-1);
        self.drop_if_empty(i);
        Some(v)
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Head)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Tail)
    }

    /// The node holding element `idx` (< len) and the element's index in it.
    fn locate(&self, idx: usize) -> (usize, usize) {
        let n = self.node_count();
        if idx < self.len() / 2 {
            let mut left = idx;
            for i in 0..n {
                let c = self.node(i).count();
                if left < c {
                    return (i, left);
                }
                left -= c;
            }
        } else {
            let mut from_end = self.len() - idx;
            for i in (0..n).rev() {
                let c = self.node(i).count();
                if from_end <= c {
                    return (i, c - from_end);
                }
                from_end -= c;
            }
        }
        unreachable!("index {idx} beyond the list")
    }

    /// Resolves a Redis index (negative counts from the tail) to a position, if in range.
    pub fn index(&self, idx: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if idx < 0 { len + idx } else { idx };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, idx: usize) -> Option<&[u8]> {
        if idx >= self.len() {
            return None;
        }
        let (n, i) = self.locate(idx);
        Some(self.node(n).get(i))
    }

    /// Replaces element `idx` (< len).
    pub fn set(&mut self, idx: usize, e: &[u8], fill: i32) {
        let (n, i) = self.locate(idx);
        self.node_mut(n).set(i, e);
        self.split_if_big(n, fill);
    }

    /// Inserts `e` so that it becomes element `idx` (<= len).
    pub fn insert(&mut self, idx: usize, e: &[u8], fill: i32) {
        if idx == 0 {
            return self.push(End::Head, e, fill);
        }
        if idx == self.len() {
            return self.push(End::Tail, e, fill);
        }
        let (n, i) = self.locate(idx);
        self.node_mut(n).insert(i, e);
        self.add_len(1);
        self.split_if_big(n, fill);
    }

    /// Splits node `n` in halves while it exceeds the fill.
    fn split_if_big(&mut self, n: usize, fill: i32) {
        if !self.node(n).too_big(fill) {
            return;
        }
        let c = self.node(n).count();
        let tail = self.node_mut(n).split_off(c / 2);
        // Moving elements between nodes keeps the total; insert_node adds the tail's count.
        self.add_len(-(tail.count() as isize));
        self.insert_node(n + 1, tail);
        self.split_if_big(n + 1, fill);
        self.split_if_big(n, fill);
    }

    /// Elements from the head (or, reversed, from the tail).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        (0..self.node_count()).flat_map(move |i| self.node(i).iter())
    }

    /// Elements `start..start + count` (clamped to the list), from the head.
    pub fn range(&self, start: usize, count: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (n, i) = if start < self.len() { self.locate(start) } else { (self.node_count(), 0) };
        (n..self.node_count()).flat_map(move |j| self.node(j).iter()).skip(i).take(count)
    }

    /// Position of the first element equal to `pivot`, from the head.
    pub fn position(&self, pivot: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == pivot)
    }

    /// Removes up to `limit` elements equal to `e` (0: all), from the head or the tail.
    pub fn remove(&mut self, e: &[u8], limit: usize, from: End) -> usize {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let n = self.node_count();
        let order: Box<dyn Iterator<Item = usize>> = match from {
            End::Head => Box::new(0..n),
            End::Tail => Box::new((0..n).rev()),
        };
        let mut emptied = Vec::new();
        for i in order {
            if removed >= limit {
                break;
            }
            let r = self.node_mut(i).remove_eq(e, limit - removed, from);
            removed += r;
            if r > 0 && self.node(i).count() == 0 {
                emptied.push(i);
            }
        }
        self.add_len(-(removed as isize));
        emptied.sort_unstable();
        for i in emptied.into_iter().rev() {
            self.drop_if_empty(i);
        }
        removed
    }

    /// Removes `n` elements from one end.
    pub fn drain(&mut self, end: End, mut n: usize) {
        while n > 0 && !self.is_empty() {
            let i = if end == End::Head { 0 } else { self.node_count() - 1 };
            let c = self.node(i).count();
            if c <= n && self.node_count() > 1 {
                self.remove_node(i);
                n -= c;
            } else {
                let k = n.min(c);
                self.node_mut(i).drain(end, k);
                self.add_len(-(k as isize));
                n -= k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let got: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = m.iter().map(|v| &v[..]).collect();
        assert_eq!(got, want);
        let rev: Vec<&[u8]> = l.iter().rev().collect();
        let want_rev: Vec<&[u8]> = m.iter().rev().map(|v| &v[..]).collect();
        assert_eq!(rev, want_rev);
        let total: usize = (0..l.node_count()).map(|i| l.node(i).count()).sum();
        assert_eq!(total, m.len());
        if l.node_count() > 1 {
            assert!((0..l.node_count()).all(|i| l.node(i).count() > 0));
        }
    }

    fn elem(rng: &mut SmallRng) -> Vec<u8> {
        let len = match rng.gen_range(0..10) {
            0 => rng.gen_range(100..400),
            1 => 0,
            _ => rng.gen_range(1..8),
        };
        (0..len).map(|_| b'a' + rng.gen_range(0..4u8)).collect()
    }

    #[test]
    fn model_random_ops() {
        for (seed, fill) in [(1, -2), (2, 4), (3, -1), (4, 1), (5, 128)] {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for _ in 0..4000 {
                match rng.gen_range(0..12) {
                    0..=2 => {
                        let e = elem(&mut rng);
                        l.push(End::Tail, &e, fill);
                        m.push_back(e);
                    }
                    3..=4 => {
                        let e = elem(&mut rng);
                        l.push(End::Head, &e, fill);
                        m.push_front(e);
                    }
                    5 => assert_eq!(l.pop(End::Head), m.pop_front()),
                    6 => assert_eq!(l.pop(End::Tail), m.pop_back()),
                    7 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        let e = elem(&mut rng);
                        l.set(i, &e, fill);
                        m[i] = e;
                    }
                    8 => {
                        let i = rng.gen_range(0..=m.len());
                        let e = elem(&mut rng);
                        l.insert(i, &e, fill);
                        m.insert(i, e);
                    }
                    9 => {
                        let e = elem(&mut rng);
                        let limit = rng.gen_range(0..3);
                        let from = if rng.gen() { End::Head } else { End::Tail };
                        let mut removed = 0;
                        let lim = if limit == 0 { usize::MAX } else { limit };
                        let mut i = 0;
                        let idxs: Vec<usize> = match from {
                            End::Head => (0..m.len()).collect(),
                            End::Tail => (0..m.len()).rev().collect(),
                        };
                        let mut del = Vec::new();
                        for j in idxs {
                            if removed < lim && m[j] == e {
                                del.push(j);
                                removed += 1;
                            }
                        }
                        del.sort_unstable();
                        for j in del.into_iter().rev() {
                            m.remove(j);
                            i += 1;
                        }
                        assert_eq!(l.remove(&e, limit, from), i);
                    }
                    10 => {
                        let k = rng.gen_range(0..5);
                        let end = if rng.gen() { End::Head } else { End::Tail };
                        l.drain(end, k);
                        for _ in 0..k {
                            match end {
                                End::Head => m.pop_front(),
                                End::Tail => m.pop_back(),
                            };
                        }
                    }
                    _ if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        assert_eq!(l.get(i), Some(&m[i][..]));
                        let c = rng.gen_range(0..50);
                        let got: Vec<&[u8]> = l.range(i, c).collect();
                        let want: Vec<&[u8]> = m.iter().skip(i).take(c).map(|v| &v[..]).collect();
                        assert_eq!(got, want);
                    }
                    _ => {}
                }
                check(&l, &m);
            }
        }
    }

    #[test]
    fn nodes_follow_fill() {
        let mut l = List::new();
        for i in 0..100 {
            l.push(End::Tail, format!("{i}").as_bytes(), 10);
        }
        assert_eq!(l.node_count(), 10);
        let mut l = List::new();
        for _ in 0..1000 {
            l.push(End::Tail, &[b'x'; 100], -2);
        }
        // 102 bytes per entry, 8 KiB nodes.
        assert_eq!(l.node_count(), 13);
        assert!(l.mem_usage() > 100_000);
        l.drain(End::Head, 990);
        assert_eq!(l.len(), 10);
        assert_eq!(l.node_count(), 1);
    }

    #[test]
    fn small_list_is_one_allocation() {
        assert_eq!(std::mem::size_of::<List>(), 8);
        let mut l = List::new();
        for i in 0..20 {
            l.push(End::Tail, format!("e:{i:04}").as_bytes(), -2);
        }
        // 4-byte count + 20 * (1 + 6 + 1), plus the 4-byte length of the thin pointer.
        assert_eq!(l.node(0).bytes(), 164);
        let boxed = crate::info::jemalloc_size_class(std::mem::size_of::<crate::types::Object>());
        assert_eq!(l.mem_usage(), boxed + 192);
    }
}
