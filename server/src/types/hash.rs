//! The hash type: a compact "pack" encoding for small hashes, a chained hash table past the
//! thresholds.
//!
//! Pack (OBJECT ENCODING `listpack`): one exact-sized heap buffer behind a thin pointer
//! ([`ThinBytes`], which adds a 4-byte length) holding a 4-byte field count followed by the
//! entries `field, value, field, value, ...`, each entry a LEB128 length (one
//! byte below 128) and the bytes. Redis's listpack spends a header byte, the bytes and a
//! back-length byte per entry; without the back-length (a hash is never walked backwards) the
//! pack is one byte per entry smaller. Insertion order is kept, as in Redis, so small hashes
//! reply in the same order.
//!
//! A hash stays a pack while it has at most `hash-max-listpack-entries` fields and no field or
//! value is longer than `hash-max-listpack-value` bytes; a write that breaks either rule
//! converts it to a table (`hashtable`), and it never goes back, as in Redis.
//!
//! Table: the keyspace's own chained table (`keyspace::table`) of records whose key is the
//! field and whose value is the value: one allocation per field, and the reverse-binary SCAN
//! cursor that HSCAN needs.

use std::borrow::Cow;

use rand::seq::SliceRandom;
use rand::Rng;

use super::thin::{Mut, Ref, Tagged, ThinBytes};
use crate::keyspace::record::{Entry, Value, ValueRef};
use crate::keyspace::table::Table;

type FieldTable = Table<()>;

/// A hash value: a pack or a boxed table, in one word (so that `Object` is 16 bytes).
pub struct Hash(Tagged<ThinBytes, FieldTable>);

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self.0.get() {
            Ref::Small(p) => Hash(Tagged::small(p.clone())),
            Ref::Big(t) => {
                let mut n = FieldTable::new();
                for e in t.iter() {
                    n.insert(Entry::new(e.key(), Value::Str(Cow::Borrowed(entry_val(e))), None));
                }
                Hash(Tagged::big(Box::new(n)))
            }
        }
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encoding_name())?;
        f.debug_map()
            .entries(
                self.iter().map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

const COUNT_LEN: usize = 4;

fn entry_val(e: &Entry<()>) -> &[u8] {
    match e.value() {
        ValueRef::Str(s) => s,
        // Values are always stored as bytes (see `Hash::set`).
        _ => unreachable!("hash values are stored as strings"),
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one entry at `pos`: returns its bytes and the position after it.
fn read_entry(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + len], pos + len)
}

fn pack_count(p: &[u8]) -> usize {
    u32::from_le_bytes(p[..COUNT_LEN].try_into().unwrap()) as usize
}

/// Iterator over a pack's (field, value) pairs, in insertion order.
pub struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, p) = read_entry(self.buf, self.pos);
        let (v, p) = read_entry(self.buf, p);
        self.pos = p;
        Some((f, v))
    }
}

fn pack_iter(p: &[u8]) -> PackIter<'_> {
    PackIter { buf: p, pos: COUNT_LEN }
}

/// Finds `field` in a pack: (start of its entry, start of the value entry, end of the pair).
fn pack_find(p: &[u8], field: &[u8]) -> Option<(usize, usize, usize)> {
    let mut pos = COUNT_LEN;
    while pos < p.len() {
        let (f, vpos) = read_entry(p, pos);
        let (_, end) = read_entry(p, vpos);
        if f == field {
            return Some((pos, vpos, end));
        }
        pos = end;
    }
    None
}

fn empty_pack() -> ThinBytes {
    ThinBytes::from_slice(&[0u8; COUNT_LEN])
}

fn set_pack_count(p: &mut [u8], n: usize) {
    p[..COUNT_LEN].copy_from_slice(&(n as u32).to_le_bytes());
}

/// Iterator over a hash's (field, value) pairs.
pub enum Iter<'a> {
    Pack(PackIter<'a>),
    Table(crate::keyspace::table::Iter<'a, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(p) => p.next(),
            Iter::Table(t) => t.next().map(|e| (e.key(), entry_val(e))),
        }
    }
}

/// The conversion thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Hash {
    /// An empty hash in the compact encoding.
    pub fn new() -> Hash {
        Hash(Tagged::small(empty_pack()))
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.0.is_big() {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Heap bytes held by the hash (its buffer or table and records), in allocator size
    /// classes, plus the object box in the key's record.
    pub fn mem_usage(&self) -> usize {
        let class = crate::info::jemalloc_size_class;
        let boxed = class(std::mem::size_of::<super::Object>());
        boxed
            + match self.0.get() {
                Ref::Small(p) => p.alloc_size(),
                Ref::Big(t) => {
                    class(std::mem::size_of::<FieldTable>())
                        + class(t.bucket_bytes().max(1))
                        + t.iter().map(|e| class(e.alloc_size())).sum::<usize>()
                }
            }
    }

    pub fn len(&self) -> usize {
        match self.0.get() {
            Ref::Small(p) => pack_count(p),
            Ref::Big(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> Iter<'_> {
        match self.0.get() {
            Ref::Small(p) => Iter::Pack(pack_iter(p)),
            Ref::Big(t) => Iter::Table(t.iter()),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self.0.get() {
            Ref::Small(p) => pack_find(p, field).map(|(_, v, _)| read_entry(p, v).0),
            Ref::Big(t) => t.get(field).map(entry_val),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table encoding.
    fn convert(&mut self) {
        if let Ref::Small(p) = self.0.get() {
            let mut t = FieldTable::new();
            for (f, v) in pack_iter(p) {
                t.insert(Entry::new(f, Value::Str(Cow::Borrowed(v)), None));
            }
            self.0 = Tagged::big(Box::new(t));
        }
    }

    /// A hash of `pairs` built at once (the RDB loader: one allocation for a pack instead of
    /// one per field); None when a field repeats.
    pub fn from_pairs(pairs: &[(&[u8], &[u8])], lim: Limits) -> Option<Hash> {
        let fits = pairs.len() <= lim.max_entries
            && pairs.iter().all(|(f, v)| f.len() <= lim.max_value && v.len() <= lim.max_value);
        if !fits {
            let mut h = Hash::new();
            for (f, v) in pairs {
                if !h.set(f, v, lim) {
                    return None;
                }
            }
            return Some(h);
        }
        if pairs.is_empty() {
            return Some(Hash::new());
        }
        let size: usize = pairs
            .iter()
            .map(|(f, v)| varint_len(f.len()) + f.len() + varint_len(v.len()) + v.len())
            .sum();
        let mut p = Vec::with_capacity(COUNT_LEN + size);
        p.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for (i, (f, v)) in pairs.iter().enumerate() {
            // Packs are small (hash-max-listpack-entries): a scan of the earlier fields is
            // cheaper than building a set.
            if pairs[..i].iter().any(|(g, _)| g == f) {
                return None;
            }
            put_varint(&mut p, f.len());
            p.extend_from_slice(f);
            put_varint(&mut p, v.len());
            p.extend_from_slice(v);
        }
        Some(Hash(Tagged::small(ThinBytes::from_slice(&p))))
    }

    /// Sets `field` to `value`; returns true if the field is new. Converts to the table
    /// encoding when a field or value is longer than `lim.max_value`, or when the hash ends up
    /// with more than `lim.max_entries` fields.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: Limits) -> bool {
        if !self.0.is_big() && (field.len() > lim.max_value || value.len() > lim.max_value) {
            self.convert();
        }
        let created = match self.0.get_mut() {
            Mut::Small(p) => {
                let mut enc = Vec::with_capacity(
                    varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len(),
                );
                match pack_find(p, field) {
                    Some((_, vpos, end)) => {
                        put_varint(&mut enc, value.len());
                        enc.extend_from_slice(value);
                        p.splice(vpos..end, &enc);
                        false
                    }
                    None => {
                        let n = pack_count(p);
                        put_varint(&mut enc, field.len());
                        enc.extend_from_slice(field);
                        put_varint(&mut enc, value.len());
                        enc.extend_from_slice(value);
                        let end = p.len();
                        p.splice(end..end, &enc);
                        set_pack_count(p, n + 1);
                        true
                    }
                }
            }
            Mut::Big(t) => match t.get_mut(field) {
                Some(e) => {
                    e.set_value(Value::Str(Cow::Borrowed(value)));
                    false
                }
                None => {
                    t.insert(Entry::new(field, Value::Str(Cow::Borrowed(value)), None));
                    true
                }
            },
        };
        if created && self.len() > lim.max_entries {
            self.convert();
        }
        created
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.0.get_mut() {
            Mut::Small(p) => {
                let Some((start, _, end)) = pack_find(p, field) else { return false };
                let n = pack_count(p);
                p.splice(start..end, &[]);
                set_pack_count(p, n - 1);
                true
            }
            Mut::Big(t) => t.remove(field).is_some(),
        }
    }

    /// One HSCAN step: calls `f` for the pairs under `cursor`, returns the next cursor. A pack
    /// is returned whole with cursor 0, as Redis does for a listpack.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self.0.get() {
            Ref::Small(p) => {
                for (k, v) in pack_iter(p) {
                    f(k, v);
                }
                0
            }
            Ref::Big(t) => t.scan(cursor, |e| f(e.key(), entry_val(e))),
        }
    }

    /// One random pair (the hash must not be empty).
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match self.0.get() {
            Ref::Small(p) => {
                let n = pack_count(p);
                if n == 0 {
                    return None;
                }
                pack_iter(p).nth(rng.gen_range(0..n))
            }
            Ref::Big(t) => t.random(rng).map(|e| (e.key(), entry_val(e))),
        }
    }

    /// `count` random pairs, possibly repeated (HRANDFIELD with a negative count).
    pub fn random_with_repeats<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
        mut f: impl FnMut(&[u8], &[u8]),
    ) {
        match self.0.get() {
            Ref::Small(p) => {
                let all: Vec<_> = pack_iter(p).collect();
                if all.is_empty() {
                    return;
                }
                for _ in 0..count {
                    let (k, v) = all[rng.gen_range(0..all.len())];
                    f(k, v);
                }
            }
            Ref::Big(t) => {
                for _ in 0..count {
                    if let Some(e) = t.random(rng) {
                        f(e.key(), entry_val(e));
                    }
                }
            }
        }
    }

    /// `count` distinct random pairs (`count` below the length), in random order.
    pub fn random_distinct<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> Vec<(&[u8], &[u8])> {
        let mut all: Vec<_> = self.iter().collect();
        let (picked, _) = all.partial_shuffle(rng, count.min(self.len()));
        picked.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    const LIM: Limits = Limits { max_entries: 8, max_value: 10 };

    #[test]
    fn from_pairs_matches_field_by_field_building() {
        let long = [b'x'; 11];
        let cases: Vec<Vec<(&[u8], &[u8])>> = vec![
            vec![],
            vec![(b"b", b"1"), (b"a", b"2"), (b"c", b"")],
            // Past the entry limit, and a value past the length limit: tables.
            (0..9).map(|i| (&b"abcdefghi"[i..i + 1], &b"v"[..])).collect(),
            vec![(b"a", b"1"), (b"b", &long)],
        ];
        for pairs in cases {
            let mut want = Hash::new();
            for (f, v) in &pairs {
                want.set(f, v, LIM);
            }
            let got = Hash::from_pairs(&pairs, LIM).unwrap();
            assert_eq!(got.encoding_name(), want.encoding_name());
            // (A table's order depends on its hash seed: compare tables sorted.)
            fn sorted(h: &Hash) -> Vec<(&[u8], &[u8])> {
                let mut v: Vec<_> = h.iter().collect();
                if h.encoding_name() == "hashtable" {
                    v.sort();
                }
                v
            }
            assert_eq!(sorted(&got), sorted(&want));
        }
        // A repeated field is refused, in a pack and in a table.
        assert!(Hash::from_pairs(&[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")], LIM).is_none());
        assert!(Hash::from_pairs(&[(b"a", b"1"), (b"a", &long)], LIM).is_none());
    }

    #[test]
    fn pack_keeps_insertion_order_and_converts() {
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", LIM));
        assert!(h.set(b"a", b"2", LIM));
        assert!(!h.set(b"b", b"3", LIM));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]
        );
        assert_eq!(h.encoding_name(), "listpack");
        for i in 0..6 {
            h.set(format!("f{i}").as_bytes(), b"v", LIM);
        }
        assert_eq!((h.len(), h.encoding_name()), (8, "listpack"));
        h.set(b"x", b"v", LIM);
        assert_eq!((h.len(), h.encoding_name()), (9, "hashtable"));
        for i in 0..6 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert_eq!((h.len(), h.encoding_name()), (3, "hashtable"));

        let mut h = Hash::new();
        h.set(b"f", &[b'x'; 10], LIM);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"f", &[b'x'; 11], LIM);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&[b'x'; 11][..]));
        let mut h = Hash::new();
        h.set(&[b'k'; 11], b"", LIM);
        assert_eq!(h.encoding_name(), "hashtable");
    }

    #[test]
    fn long_entries_use_multi_byte_lengths() {
        let lim = Limits { max_entries: 512, max_value: 100_000 };
        let mut h = Hash::new();
        let big = vec![b'z'; 300];
        h.set(&big, &big, lim);
        h.set(b"s", b"", lim);
        assert_eq!(h.get(&big), Some(&big[..]));
        assert_eq!(h.get(b"s"), Some(&b""[..]));
        assert!(h.remove(&big));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn model_random_ops() {
        let mut rng = SmallRng::seed_from_u64(7);
        for round in 0..40 {
            let lim = Limits { max_entries: rng.gen_range(0..20), max_value: rng.gen_range(0..12) };
            let mut h = Hash::new();
            let mut m: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut was_table = false;
            for _ in 0..400 {
                let f = format!("f{}", rng.gen_range(0..30)).into_bytes();
                match rng.gen_range(0..10) {
                    0..=5 => {
                        let v = vec![b'v'; rng.gen_range(0..14)];
                        assert_eq!(h.set(&f, &v, lim), m.insert(f.clone(), v.clone()).is_none());
                        if !was_table && (f.len() > lim.max_value || v.len() > lim.max_value) {
                            assert_eq!(h.encoding_name(), "hashtable", "round {round}");
                        }
                    }
                    6..=8 => assert_eq!(h.remove(&f), m.remove(&f).is_some()),
                    _ => assert_eq!(h.get(&f), m.get(&f).map(|v| &v[..])),
                }
                if m.len() > lim.max_entries {
                    assert_eq!(h.encoding_name(), "hashtable");
                }
                if was_table {
                    assert_eq!(h.encoding_name(), "hashtable", "never converts back");
                }
                was_table = h.encoding_name() == "hashtable";
                assert_eq!(h.len(), m.len());
            }
            let mut got: Vec<_> = h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            let mut want: Vec<_> = m.clone().into_iter().collect();
            got.sort();
            want.sort();
            assert_eq!(got, want);
            // A full scan sees every field.
            let mut seen = std::collections::HashSet::new();
            let mut c = 0;
            loop {
                c = h.scan(c, |k, _| {
                    seen.insert(k.to_vec());
                });
                if c == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), m.len());
            let c = h.clone();
            assert_eq!(c.len(), h.len());
            if !m.is_empty() {
                let (k, v) = h.random(&mut rng).unwrap();
                assert_eq!(m.get(k).map(|x| &x[..]), Some(v));
                let d = h.random_distinct(m.len().saturating_sub(1), &mut rng);
                let ks: std::collections::HashSet<_> = d.iter().map(|p| p.0).collect();
                assert_eq!(ks.len(), m.len().saturating_sub(1));
            }
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Hash>(), 8);
        let mut h = Hash::new();
        for i in 0..10 {
            let lim = Limits { max_entries: 512, max_value: 64 };
            h.set(format!("field{i}").as_bytes(), format!("value{i}").as_bytes(), lim);
        }
        // 4 + 10 * (1 + 6 + 1 + 6)
        assert!(matches!(h.0.get(), Ref::Small(p) if p.len() == 144));
        assert!(h.mem_usage() >= 144 + 4);
    }
}
