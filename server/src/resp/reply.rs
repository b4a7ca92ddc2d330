//! Reply writer: appends RESP2 or RESP3 replies straight into a connection's output buffer.
//!
//! Handlers call these methods instead of building reply trees, so a reply costs no allocation
//! beyond the output buffer itself. RESP3-only types are downgraded on RESP2 as Redis does.

use crate::util::num::fmt_double_resp;

pub struct Reply<'a> {
    pub buf: &'a mut Vec<u8>,
    pub resp3: bool,
}

#[inline]
fn push_num(buf: &mut Vec<u8>, prefix: u8, n: i64) {
    let mut b = itoa::Buffer::new();
    buf.push(prefix);
    buf.extend_from_slice(b.format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut Vec<u8>, resp3: bool) -> Self {
        Reply { buf, resp3 }
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply; `s` must not contain CR or LF.
    #[inline]
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the full text, e.g. `ERR syntax error` or `WRONGTYPE ...`.
    /// CR/LF inside are replaced with spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for &b in msg.as_bytes() {
            self.buf.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        push_num(self.buf, b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, s: &[u8]) {
        push_num(self.buf, b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n` (GET of an integer-encoded value).
    #[inline]
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        push_num(self.buf, b'*', n as i64);
    }

    /// A map of `n` pairs; on RESP2 a flat array of `2n` elements.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            push_num(self.buf, b'%', n as i64);
        } else {
            push_num(self.buf, b'*', 2 * n as i64);
        }
    }

    /// A set; on RESP2 an array.
    pub fn set(&mut self, n: usize) {
        push_num(self.buf, if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push message header (RESP3); on RESP2 an array, as pub/sub messages are.
    pub fn push(&mut self, n: usize) {
        push_num(self.buf, if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// An attribute header (RESP3 only); on RESP2 nothing is written and the caller must not
    /// write the attribute's pairs either (see [`Reply::is_resp3`]).
    pub fn attribute(&mut self, n: usize) {
        if self.resp3 {
            push_num(self.buf, b'|', n as i64);
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// A double: `,` on RESP3, a bulk string on RESP2, formatted as Redis formats doubles.
    pub fn double(&mut self, d: f64) {
        let s = fmt_double_resp(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(&s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(&s);
        }
    }

    /// A boolean: `#t`/`#f` on RESP3, `:1`/`:0` on RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A big number: `(` on RESP3, a bulk string on RESP2.
    pub fn big_number(&mut self, digits: &str) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits.as_bytes());
        }
    }

    /// A verbatim string with a three-letter format (`txt`, `mkd`); a bulk string on RESP2.
    pub fn verbatim(&mut self, format: &str, s: &[u8]) {
        if self.resp3 {
            push_num(self.buf, b'=', (s.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// An array of bulk strings.
    pub fn bulks<I, T>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.array(items.len());
        for i in items {
            self.bulk(i.as_ref());
        }
    }

    /// Appends bytes that are already a complete RESP reply.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(resp3: bool, f: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut Reply::new(&mut v, resp3));
        v
    }

    #[test]
    fn resp2_downgrades() {
        assert_eq!(w(false, |r| r.map(2)), b"*4\r\n");
        assert_eq!(w(false, |r| r.set(2)), b"*2\r\n");
        assert_eq!(w(false, |r| r.boolean(true)), b":1\r\n");
        assert_eq!(w(false, |r| r.null()), b"$-1\r\n");
        assert_eq!(w(false, |r| r.null_array()), b"*-1\r\n");
        assert_eq!(w(false, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(w(false, |r| r.verbatim("txt", b"hi")), b"$2\r\nhi\r\n");
        assert_eq!(w(false, |r| r.attribute(1)), b"");
    }

    #[test]
    fn resp3_types() {
        assert_eq!(w(true, |r| r.map(2)), b"%2\r\n");
        assert_eq!(w(true, |r| r.set(1)), b"~1\r\n");
        assert_eq!(w(true, |r| r.boolean(false)), b"#f\r\n");
        assert_eq!(w(true, |r| r.null()), b"_\r\n");
        assert_eq!(w(true, |r| r.double(1.5)), b",1.5\r\n");
        assert_eq!(w(true, |r| r.big_number("123")), b"(123\r\n");
        assert_eq!(w(true, |r| r.verbatim("txt", b"hi")), b"=6\r\ntxt:hi\r\n");
        assert_eq!(w(true, |r| r.push(3)), b">3\r\n");
        assert_eq!(w(true, |r| r.attribute(1)), b"|1\r\n");
    }

    #[test]
    fn errors_lose_newlines() {
        assert_eq!(w(false, |r| r.error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }
}
