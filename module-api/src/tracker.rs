//! [`ReplyTracker`]: counts the values a command writes, so that a host can tell a command that
//! wrote exactly one reply from one that wrote none, two, or an aggregate short of elements.
//! The server and the test harness both use it.

use crate::abi::Aggregate;

struct Frame {
    /// Elements still expected; `None` while the length is postponed.
    left: Option<u64>,
    /// Elements written so far into a postponed aggregate.
    written: u64,
    kind: Aggregate,
    /// Where the postponed aggregate's header goes in the output.
    at: usize,
}

#[derive(Default)]
pub struct ReplyTracker {
    open: Vec<Frame>,
    top: u32,
    broken: bool,
}

/// How many values an aggregate of `len` holds (pairs count twice).
pub fn elements(kind: Aggregate, len: u64) -> u64 {
    match kind {
        Aggregate::Map | Aggregate::Attribute => len.saturating_mul(2),
        _ => len,
    }
}

impl ReplyTracker {
    /// A complete value was written (a scalar, or an aggregate that is now full).
    #[inline]
    pub fn value(&mut self) {
        if self.open.is_empty() {
            self.top += 1;
        } else {
            self.nested_value();
        }
    }

    fn nested_value(&mut self) {
        while let Some(f) = self.open.last_mut() {
            match &mut f.left {
                None => {
                    f.written += 1;
                    return;
                }
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        return;
                    }
                    let attr = f.kind == Aggregate::Attribute;
                    self.open.pop();
                    if attr {
                        // An attribute describes the value that follows: it is not one itself.
                        return;
                    }
                }
            }
        }
        self.top += 1;
    }

    /// An aggregate header of `len` was written.
    pub fn aggregate(&mut self, kind: Aggregate, len: u64) {
        let n = elements(kind, len);
        if n == 0 {
            if kind != Aggregate::Attribute {
                self.value();
            }
        } else {
            self.open.push(Frame { left: Some(n), written: 0, kind, at: 0 });
        }
    }

    /// A postponed aggregate starts at output offset `at`; its handle.
    pub fn postpone(&mut self, kind: Aggregate, at: usize) -> u32 {
        self.open.push(Frame { left: None, written: 0, kind, at });
        self.open.len() as u32
    }

    /// Closes postponed aggregate `handle` with `len`: its kind and header offset when it is the
    /// innermost open aggregate and holds that many elements; otherwise the reply is broken.
    pub fn close(&mut self, handle: u32, len: u64) -> Option<(Aggregate, usize)> {
        let ok = self.open.len() as u32 == handle
            && self
                .open
                .last()
                .is_some_and(|f| f.left.is_none() && f.written == elements(f.kind, len));
        if !ok {
            self.broken = true;
            return None;
        }
        let f = self.open.pop()?;
        if f.kind != Aggregate::Attribute {
            self.value();
        }
        Some((f.kind, f.at))
    }

    /// Marks the reply as malformed.
    pub fn break_reply(&mut self) {
        self.broken = true;
    }

    /// Whether exactly one whole reply was written.
    pub fn complete(&self) -> bool {
        !self.broken && self.open.is_empty() && self.top == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_one_reply() {
        let mut t = ReplyTracker::default();
        assert!(!t.complete());
        t.value();
        assert!(t.complete());
        t.value();
        assert!(!t.complete());

        let mut t = ReplyTracker::default();
        t.aggregate(Aggregate::Map, 1);
        t.value();
        assert!(!t.complete());
        t.aggregate(Aggregate::Array, 0);
        assert!(t.complete());

        let mut t = ReplyTracker::default();
        t.aggregate(Aggregate::Attribute, 1);
        t.value();
        t.value();
        assert!(!t.complete());
        t.value();
        assert!(t.complete());
    }

    #[test]
    fn postponed_closes_innermost_first() {
        let mut t = ReplyTracker::default();
        let a = t.postpone(Aggregate::Array, 0);
        t.value();
        let b = t.postpone(Aggregate::Map, 5);
        t.value();
        t.value();
        assert_eq!(t.close(b, 1), Some((Aggregate::Map, 5)));
        assert_eq!(t.close(a, 2), Some((Aggregate::Array, 0)));
        assert!(t.complete());

        let mut t = ReplyTracker::default();
        let a = t.postpone(Aggregate::Array, 0);
        let _b = t.postpone(Aggregate::Array, 0);
        assert_eq!(t.close(a, 0), None);
        assert!(!t.complete());

        let mut t = ReplyTracker::default();
        let a = t.postpone(Aggregate::Array, 0);
        t.value();
        assert_eq!(t.close(a, 3), None, "a wrong length breaks the reply");
    }
}
