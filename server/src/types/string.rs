//! Pure string operations: GETRANGE's index arithmetic and LCS. No replies, no clients.

/// The bytes of `s` between `start` and `end` inclusive, with GETRANGE's rules: negative
/// indexes count from the end, out-of-range indexes are clamped, an empty range is empty.
pub fn range(s: &[u8], start: i64, end: i64) -> &[u8] {
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return &[];
    }
    &s[start as usize..=end as usize]
}

/// One run of matching bytes found by [`LcsTable::walk`], inclusive indexes in each string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub a_start: usize,
    pub a_end: usize,
    pub b_start: usize,
    pub b_end: usize,
}

impl Match {
    pub fn len(&self) -> usize {
        self.a_end - self.a_start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The dynamic-programming table of the longest common subsequence of two strings:
/// cell (i, j) holds the LCS length of `a[..i]` and `b[..j]`.
pub struct LcsTable {
    cells: Vec<u32>,
    width: usize,
    alen: usize,
    blen: usize,
}

impl LcsTable {
    /// Fills the table; None if the memory for it cannot be had. Both strings must be shorter
    /// than `u32::MAX`.
    pub fn new(a: &[u8], b: &[u8]) -> Option<LcsTable> {
        let width = b.len() + 1;
        let n = (a.len() + 1).checked_mul(width)?;
        let mut cells: Vec<u32> = Vec::new();
        cells.try_reserve_exact(n).ok()?;
        cells.resize(width, 0);
        for i in 1..=a.len() {
            let row = cells.len();
            cells.push(0);
            for j in 1..=b.len() {
                let v = if a[i - 1] == b[j - 1] {
                    cells[row - width + j - 1] + 1
                } else {
                    cells[row - width + j].max(cells[row + j - 1])
                };
                cells.push(v);
            }
        }
        Some(LcsTable { cells, width, alen: a.len(), blen: b.len() })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Length of the LCS.
    pub fn len(&self) -> usize {
        self.at(self.alen, self.blen) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Walks back from the end of both strings, as Redis does, and returns the LCS itself
    /// (when `want_string`) and the runs of consecutive matches, last run first.
    pub fn walk(&self, a: &[u8], b: &[u8], want_string: bool) -> (Vec<u8>, Vec<Match>) {
        let mut idx = self.len();
        let mut out = if want_string { vec![0u8; idx] } else { Vec::new() };
        let mut runs = Vec::new();
        let mut cur: Option<Match> = None;
        let (mut i, mut j) = (self.alen, self.blen);
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                if want_string {
                    out[idx - 1] = a[i - 1];
                }
                match &mut cur {
                    None => {
                        cur = Some(Match {
                            a_start: i - 1,
                            a_end: i - 1,
                            b_start: j - 1,
                            b_end: j - 1,
                        })
                    }
                    Some(m) if m.a_start == i && m.b_start == j => {
                        m.a_start -= 1;
                        m.b_start -= 1;
                    }
                    Some(_) => emit = true,
                }
                if let Some(m) = &cur {
                    if m.a_start == 0 || m.b_start == 0 {
                        emit = true;
                    }
                }
                idx -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = cur.is_some();
            }
            if emit {
                if let Some(m) = cur.take() {
                    runs.push(m);
                }
            }
        }
        (out, runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let s = b"Hello World";
        assert_eq!(range(s, 0, 3), b"Hell");
        assert_eq!(range(s, -3, -1), b"rld");
        assert_eq!(range(s, 5, 3), b"");
        assert_eq!(range(s, -1, -5), b"");
        assert_eq!(range(s, -100, 100), s);
        assert_eq!(range(s, 0, i64::MAX), s);
        assert_eq!(range(s, i64::MIN, -1), s);
        assert_eq!(range(b"", 0, -1), b"");
        assert_eq!(range(s, 20, 30), b"");
        assert_eq!(range(s, 10, 10), b"d");
    }

    fn lcs(a: &str, b: &str) -> (String, Vec<(usize, usize, usize, usize)>) {
        let t = LcsTable::new(a.as_bytes(), b.as_bytes()).unwrap();
        let (s, m) = t.walk(a.as_bytes(), b.as_bytes(), true);
        assert_eq!(s.len(), t.len());
        (
            String::from_utf8(s).unwrap(),
            m.iter().map(|m| (m.a_start, m.a_end, m.b_start, m.b_end)).collect(),
        )
    }

    #[test]
    fn lcs_as_redis() {
        // Replies recorded from Redis 7.0.
        assert_eq!(
            lcs("ohmytext", "mynewtext"),
            ("mytext".into(), vec![(4, 7, 5, 8), (2, 3, 0, 1)])
        );
        assert_eq!(lcs("12345", "2x4"), ("24".into(), vec![(3, 3, 2, 2), (1, 1, 0, 0)]));
        assert_eq!(lcs("", "abc"), ("".into(), vec![]));
        assert_eq!(lcs("abc", "abc"), ("abc".into(), vec![(0, 2, 0, 2)]));
    }
}
