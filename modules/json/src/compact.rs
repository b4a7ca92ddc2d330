//! The compact parts of the document model: strings that keep up to 22 bytes inline, arrays
//! and objects as exact-size boxed slices (no spare capacity, no hash table), so that a
//! [`Value`](crate::value::Value) is 24 bytes and a document takes about what RedisJSON's does
//! or less. Objects look their keys up by a linear scan, as small JSON objects are; a removal
//! moves the last member into the hole, as RedisJSON's objects do.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;

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

/// The bytes a heap block of `n` bytes takes (the system allocator: 16-byte granules, 8
/// bytes of header, 32 bytes at least).
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
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

/// An array's elements, exactly as many slots as elements.
pub type Arr = Box<[Value]>;

/// Applies `f` to the elements as a `Vec` (for the commands that grow or shrink an array),
/// then stores them back at their exact size.
pub fn with_vec<R>(a: &mut Arr, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
    let mut v = std::mem::take(a).into_vec();
    let r = f(&mut v);
    *a = v.into_boxed_slice();
    r
}

/// An object: members in order, exactly as many slots as members.
#[derive(Clone, Default)]
pub struct Map(Box<[(Str, Value)]>);

/// Objects with more members than this are parsed with a temporary index for duplicate keys.
const SCAN: usize = 16;

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    /// Builds an object from members in input order; a repeated key keeps its first place and
    /// its last value (as serde_json's maps do).
    pub fn from_members(members: Vec<(Str, Value)>) -> Map {
        let mut out: Vec<(Str, Value)> = Vec::with_capacity(members.len());
        if members.len() <= SCAN {
            for (k, v) in members {
                match out.iter_mut().find(|(x, _)| *x == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
        } else {
            let mut at: std::collections::HashMap<String, usize> =
                std::collections::HashMap::with_capacity(members.len());
            for (k, v) in members {
                match at.get(k.as_str()) {
                    Some(&i) => out[i].1 = v,
                    None => {
                        at.insert(k.to_string(), out.len());
                        out.push((k, v));
                    }
                }
            }
        }
        Map(out.into_boxed_slice())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn position(&self, k: &str) -> Option<usize> {
        self.0.iter().position(|(x, _)| x.as_bytes() == k.as_bytes())
    }
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(x, _)| x.as_bytes() == k.as_bytes()).map(|(_, v)| v)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(x, _)| x.as_bytes() == k.as_bytes()).map(|(_, v)| v)
    }
    pub fn contains_key(&self, k: &str) -> bool {
        self.position(k).is_some()
    }
    /// Sets `k` to `v`: in place when it exists, else at the end.
    pub fn insert(&mut self, k: impl Into<Str>, v: Value) {
        let k = k.into();
        match self.position(&k) {
            Some(i) => self.0[i].1 = v,
            None => {
                let mut e = std::mem::take(&mut self.0).into_vec();
                e.push((k, v));
                self.0 = e.into_boxed_slice();
            }
        }
    }
    /// Removes `k`, moving the last member into its place.
    pub fn swap_remove(&mut self, k: &str) -> Option<Value> {
        let i = self.position(k)?;
        let mut e = std::mem::take(&mut self.0).into_vec();
        let (_, v) = e.swap_remove(i);
        self.0 = e.into_boxed_slice();
        Some(v)
    }
    pub fn clear(&mut self) {
        self.0 = Box::default();
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Str, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Str> {
        self.0.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }
    /// The slots' bytes (not what the members own).
    pub fn slots_bytes(&self) -> usize {
        alloc_size(std::mem::size_of_val(&*self.0))
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Str, Value)>,
        fn(&'a (Str, Value)) -> (&'a Str, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
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

    #[test]
    fn maps_keep_order_and_move_the_last_into_a_hole() {
        let n = |i| Value::Num(crate::value::Num::I(i));
        let mut m =
            Map::from_members(vec![("a".into(), n(1)), ("b".into(), n(2)), ("a".into(), n(3))]);
        assert_eq!(m.keys().map(|k| k.to_string()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(matches!(m.get("a"), Some(Value::Num(crate::value::Num::I(3)))));
        m.insert("c", n(4));
        assert!(m.swap_remove("a").is_some());
        assert_eq!(m.keys().map(|k| k.to_string()).collect::<Vec<_>>(), ["c", "b"]);
        let many: Vec<_> = (0..40).map(|i| (Str::from(format!("k{}", i % 30)), n(i))).collect();
        let m = Map::from_members(many);
        assert_eq!(m.len(), 30);
        assert!(matches!(m.get("k5"), Some(Value::Num(crate::value::Num::I(35)))));
    }
}
