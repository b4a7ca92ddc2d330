//! The pure parts of SORT: BY/GET patterns, the LIMIT window and the order of elements.
//!
//! Redis reads patterns as C strings where it searches them (`#`, `*`, `->`) but copies their
//! bytes by length, and compares ALPHA keys with `strcoll` (see util::collate), which stops at
//! the first NUL byte. Both quirks are reproduced here.

use std::cmp::Ordering;

/// `s` up to its first NUL byte, as C string functions see it.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// Whether a BY pattern sorts at all: one without `*` (before any NUL byte) means "do not sort".
pub fn by_sorts(pattern: &[u8]) -> bool {
    c_str(pattern).contains(&b'*')
}

/// A BY or GET pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern<'a> {
    /// `#`: the element itself.
    Element,
    /// No `*`: the pattern names no key, so it finds nothing.
    Constant,
    /// `prefix*postfix`, the string at that key, or with `->field` that field of the hash there.
    Key { prefix: &'a [u8], postfix: &'a [u8], field: Option<&'a [u8]> },
}

impl<'a> Pattern<'a> {
    /// Only the first `*` is replaced by the element; the field follows the first `->` after it,
    /// if something follows that `->`.
    pub fn parse(p: &'a [u8]) -> Pattern<'a> {
        let c = c_str(p);
        if c == b"#" {
            return Pattern::Element;
        }
        let Some(star) = c.iter().position(|&b| b == b'*') else {
            return Pattern::Constant;
        };
        let arrow = c[star + 1..].windows(2).position(|w| w == b"->").map(|i| star + 1 + i);
        match arrow {
            Some(f) if f + 2 < c.len() => Pattern::Key {
                prefix: &p[..star],
                postfix: &p[star + 1..f],
                field: Some(&p[f + 2..]),
            },
            _ => Pattern::Key { prefix: &p[..star], postfix: &p[star + 1..], field: None },
        }
    }

    /// The key the pattern names for `elem` (None for `#` and constant patterns).
    pub fn key(&self, elem: &[u8]) -> Option<Vec<u8>> {
        let Pattern::Key { prefix, postfix, .. } = *self else { return None };
        let mut k = Vec::with_capacity(prefix.len() + elem.len() + postfix.len());
        k.extend_from_slice(prefix);
        k.extend_from_slice(elem);
        k.extend_from_slice(postfix);
        Some(k)
    }

    pub fn field(&self) -> Option<&'a [u8]> {
        match *self {
            Pattern::Key { field, .. } => field,
            _ => None,
        }
    }
}

/// The window `LIMIT offset count` selects from `len` elements, as SORT computes it: a negative
/// offset is 0, a negative count means "to the end", and everything is clamped to the elements.
/// Returns the first index and the number of elements.
pub fn window(len: usize, offset: i64, count: i64) -> (usize, usize) {
    let len = len as i128;
    let mut start = i128::from(offset.max(0));
    let mut end = if count < 0 { len - 1 } else { start + i128::from(count) - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if len == 0 {
        return (0, 0);
    }
    (start as usize, (end - start + 1) as usize)
}

/// C `strcoll` (`strcmp` in the C locale): each string ends at its first NUL byte.
pub fn cmp_c_str(a: &[u8], b: &[u8]) -> Ordering {
    crate::util::collate::cmp(c_str(a), c_str(b))
}

/// How elements are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By score; equal scores by the elements' bytes.
    Numeric,
    /// By the BY values, or the elements themselves without BY. Elements whose BY key is missing
    /// come first and are equal to each other. `binary` (with STORE) compares whole byte strings
    /// instead of C strings.
    Alpha { by: bool, binary: bool },
}

/// One element to sort, with what it sorts by.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub elem: Vec<u8>,
    /// Numeric order: the element's (or its BY value's) score; 0 when the BY key is missing.
    pub score: f64,
    /// Alpha order with BY: the BY value, None when missing.
    pub by: Option<Vec<u8>>,
}

impl Item {
    pub fn new(elem: Vec<u8>) -> Item {
        Item { elem, score: 0.0, by: None }
    }
}

fn cmp_items(a: &Item, b: &Item, order: Order) -> Ordering {
    let text = |x: &[u8], y: &[u8], binary: bool| if binary { x.cmp(y) } else { cmp_c_str(x, y) };
    match order {
        Order::Numeric => match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.elem.cmp(&b.elem),
            Some(o) => o,
        },
        Order::Alpha { by: true, binary } => match (&a.by, &b.by) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => text(x, y, binary),
        },
        Order::Alpha { by: false, binary } => text(&a.elem, &b.elem, binary),
    }
}

/// Sorts `items` (stably: elements that compare equal keep their order, in both directions, as
/// with glibc's merge-sorting `qsort`).
pub fn sort(items: &mut [Item], order: Order, desc: bool) {
    if desc {
        items.sort_by(|a, b| cmp_items(b, a, order));
    } else {
        items.sort_by(|a, b| cmp_items(a, b, order));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(Pattern::parse(b"#"), Pattern::Element);
        assert_eq!(Pattern::parse(b"#\0x"), Pattern::Element);
        assert_eq!(Pattern::parse(b"##"), Pattern::Constant);
        assert_eq!(Pattern::parse(b"nosort"), Pattern::Constant);
        assert_eq!(Pattern::parse(b""), Pattern::Constant);
        assert_eq!(Pattern::parse(b"a\0*"), Pattern::Constant);
        let p = Pattern::parse(b"w_*");
        assert_eq!(p.key(b"x"), Some(b"w_x".to_vec()));
        assert_eq!(p.field(), None);
        let p = Pattern::parse(b"p*q*r");
        assert_eq!(p.key(b"1"), Some(b"p1q*r".to_vec()));
        let p = Pattern::parse(b"h_*_x->f->g");
        assert_eq!(p.key(b"1"), Some(b"h_1_x".to_vec()));
        assert_eq!(p.field(), Some(&b"f->g"[..]));
        // `->` with nothing after it, or only after a NUL byte, is part of the key.
        let p = Pattern::parse(b"h_*->");
        assert_eq!((p.key(b"1"), p.field()), (Some(b"h_1->".to_vec()), None));
        let p = Pattern::parse(b"h_*->\0f");
        assert_eq!((p.key(b"1"), p.field()), (Some(b"h_1->\0f".to_vec()), None));
        // A field is taken whole, NUL bytes included; `->` before the `*` does not count.
        let p = Pattern::parse(b"a->*->f\0g");
        assert_eq!((p.key(b"1"), p.field()), (Some(b"a->1".to_vec()), Some(&b"f\0g"[..])));
        assert_eq!(Pattern::parse(b"#").key(b"1"), None);
        assert!(by_sorts(b"w_*"));
        assert!(!by_sorts(b"nosort"));
        assert!(!by_sorts(b"w_\0*"));
    }

    #[test]
    fn windows() {
        let w = |len, o, c| window(len, o, c);
        assert_eq!(w(4, 0, -1), (0, 4));
        assert_eq!(w(4, 1, 2), (1, 2));
        assert_eq!(w(4, -5, 2), (0, 2));
        assert_eq!(w(4, 2, -1), (2, 2));
        assert_eq!(w(4, 0, 0), (0, 0));
        assert_eq!(w(4, 10, 2), (3, 0));
        assert_eq!(w(4, 3, 1), (3, 1));
        assert_eq!(w(4, 2, i64::MAX), (2, 2));
        assert_eq!(w(4, i64::MAX, i64::MAX), (3, 0));
        assert_eq!(w(4, i64::MIN, i64::MIN), (0, 4));
        assert_eq!(w(0, 0, -1), (0, 0));
        assert_eq!(w(0, 5, 5), (0, 0));
    }

    fn items(v: &[&str]) -> Vec<Item> {
        v.iter().map(|s| Item::new(s.as_bytes().to_vec())).collect()
    }

    fn elems(v: &[Item]) -> Vec<String> {
        v.iter().map(|i| String::from_utf8_lossy(&i.elem).into_owned()).collect()
    }

    #[test]
    fn numeric_ties_by_element_bytes() {
        let mut v = items(&["b", "a", "c", "x"]);
        for (i, s) in [1.0, 1.0, 0.0, -0.0].into_iter().enumerate() {
            v[i].score = s;
        }
        sort(&mut v, Order::Numeric, false);
        assert_eq!(elems(&v), ["c", "x", "a", "b"]);
        sort(&mut v, Order::Numeric, true);
        assert_eq!(elems(&v), ["b", "a", "x", "c"]);
    }

    #[test]
    fn alpha_c_strings_and_binary() {
        let mut v = items(&["a\0c", "a\0b", "a", "b\0", "B"]);
        sort(&mut v, Order::Alpha { by: false, binary: false }, false);
        assert_eq!(elems(&v), ["B", "a\0c", "a\0b", "a", "b\0"]);
        sort(&mut v, Order::Alpha { by: false, binary: false }, true);
        assert_eq!(elems(&v), ["b\0", "a\0c", "a\0b", "a", "B"]);
        sort(&mut v, Order::Alpha { by: false, binary: true }, false);
        assert_eq!(elems(&v), ["B", "a", "a\0b", "a\0c", "b\0"]);
    }

    #[test]
    fn alpha_by_missing_first() {
        let mut v = items(&["1", "2", "3", "4"]);
        v[0].by = Some(b"z".to_vec());
        v[2].by = Some(b"a".to_vec());
        sort(&mut v, Order::Alpha { by: true, binary: false }, false);
        assert_eq!(elems(&v), ["2", "4", "3", "1"]);
        sort(&mut v, Order::Alpha { by: true, binary: false }, true);
        assert_eq!(elems(&v), ["1", "3", "2", "4"]);
    }
}
