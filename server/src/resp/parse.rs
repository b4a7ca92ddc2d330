//! Request parsing: RESP multibulk frames and inline commands, as Redis reads them.
//!
//! The parser works on the connection's read buffer and never copies argument bytes: it records
//! where each argument lies, and the caller slices them out of the frozen buffer.

use std::ops::Range;

/// Longest inline request, and longest `*<n>` / `$<n>` header line, Redis accepts before giving up
/// waiting for the end of line.
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits that depend on configuration and on whether the client has authenticated.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet for a whole command.
    Incomplete,
    /// A command of `argc` arguments whose ranges were pushed, occupying `consumed` bytes.
    Command { consumed: usize, argc: usize },
    /// An empty inline line or `*0`/`*-1`: consumed but nothing to run.
    Empty { consumed: usize },
}

/// The protocol error message sent (after `-ERR Protocol error: `) before closing the connection.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(s: impl Into<String>) -> Self {
        ProtocolError(s.into())
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    // Redis looks for '\r' and then expects '\n'; a bare '\r' followed by data is taken the same way.
    memchr_cr(&buf[from..]).map(|i| from + i)
}

#[inline]
fn memchr_cr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\r')
}

/// Parses a decimal length the way Redis's string2ll does for protocol headers.
fn parse_len(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as i64)?;
    }
    if neg {
        if v == 0 {
            return None;
        }
        v = -v;
    }
    Some(v)
}

/// Parses one command from `buf`, pushing argument ranges into `args`.
pub fn parse_command(
    buf: &[u8],
    limits: Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Parsed, ProtocolError> {
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, args)
    } else {
        parse_inline(buf, args)
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Parsed, ProtocolError> {
    let Some(cr) = find_crlf(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big mbulk count string"));
        }
        return Ok(Parsed::Incomplete);
    };
    if cr > INLINE_MAX {
        return Err(ProtocolError::new("too big mbulk count string"));
    }
    if cr + 1 >= buf.len() {
        return Ok(Parsed::Incomplete);
    }
    let count = parse_len(&buf[1..cr]);
    let max_count = if limits.authenticated { i32::MAX as i64 } else { 10 };
    let count = match count {
        Some(c) if c <= max_count => c,
        _ => return Err(ProtocolError::new("invalid multibulk length")),
    };
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Parsed::Empty { consumed: pos });
    }
    let start_len = args.len();
    let max_bulk = if limits.authenticated { limits.max_bulk_len } else { 16384 };
    for _ in 0..count {
        if pos >= buf.len() {
            args.truncate(start_len);
            return Ok(Parsed::Incomplete);
        }
        if buf[pos] != b'$' {
            args.truncate(start_len);
            return Err(ProtocolError(format!("expected '$', got '{}'", buf[pos] as char)));
        }
        let Some(cr) = find_crlf(buf, pos + 1) else {
            args.truncate(start_len);
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            return Ok(Parsed::Incomplete);
        };
        if cr - pos > INLINE_MAX {
            args.truncate(start_len);
            return Err(ProtocolError::new("too big bulk count string"));
        }
        let len = match parse_len(&buf[pos + 1..cr]) {
            Some(l) if l >= 0 && l <= max_bulk => l as usize,
            _ => {
                args.truncate(start_len);
                return Err(ProtocolError::new("invalid bulk length"));
            }
        };
        let data = cr + 2;
        let end = data + len;
        if end + 2 > buf.len() {
            args.truncate(start_len);
            return Ok(Parsed::Incomplete);
        }
        args.push(data..end);
        // Redis does not check the two bytes after the payload; it skips them.
        pos = end + 2;
    }
    Ok(Parsed::Command { consumed: pos, argc: count as usize })
}

fn parse_inline(buf: &[u8], args: &mut Vec<Range<usize>>) -> Result<Parsed, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(Parsed::Incomplete);
    };
    if nl > INLINE_MAX {
        return Err(ProtocolError::new("too big inline request"));
    }
    let consumed = nl + 1;
    let mut line_end = nl;
    if line_end > 0 && buf[line_end - 1] == b'\r' {
        line_end -= 1;
    }
    let start_len = args.len();
    if !split_inline(&buf[..line_end], args) {
        args.truncate(start_len);
        return Err(ProtocolError::new("unbalanced quotes in request"));
    }
    let argc = args.len() - start_len;
    if argc == 0 {
        return Ok(Parsed::Empty { consumed });
    }
    Ok(Parsed::Command { consumed, argc })
}

/// Splits an inline line into arguments. Quoted arguments (which may contain escapes) cannot be
/// expressed as ranges of the input, so inline commands with quotes are unquoted by
/// [`unquote_inline`]; here we only record spans. Returns false on unbalanced quotes.
fn split_inline(line: &[u8], args: &mut Vec<Range<usize>>) -> bool {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let start = i;
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    if i >= n {
                        return false;
                    }
                    if line[i] == b'\\' && i + 1 < n {
                        i += 2;
                        continue;
                    }
                    if line[i] == b'"' {
                        i += 1;
                        // closing quote must be followed by a space or nothing
                        if i < n && !line[i].is_ascii_whitespace() {
                            return false;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    if i >= n {
                        return false;
                    }
                    if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                        i += 2;
                        continue;
                    }
                    if line[i] == b'\'' {
                        i += 1;
                        if i < n && !line[i].is_ascii_whitespace() {
                            return false;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            _ => {
                while i < n && !line[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
        }
        args.push(start..i);
    }
}

/// Returns the argument bytes for an inline span: quoted spans are unquoted and unescaped the way
/// redis-cli and Redis's inline parser do (`\n \r \t \b \a \\ \" \xHH` in double quotes, `\'` in
/// single quotes). Returns `None` if the span is not quoted (use it as it is).
pub fn unquote_inline(span: &[u8]) -> Option<Vec<u8>> {
    if span.len() < 2 {
        return None;
    }
    match span.first() {
        Some(b'"') => {
            let inner = &span[1..span.len() - 1];
            let mut out = Vec::with_capacity(inner.len());
            let mut i = 0;
            while i < inner.len() {
                let c = inner[i];
                if c == b'\\' && i + 1 < inner.len() {
                    let e = inner[i + 1];
                    if e == b'x'
                        && i + 3 < inner.len()
                        && inner[i + 2].is_ascii_hexdigit()
                        && inner[i + 3].is_ascii_hexdigit()
                    {
                        let h = |b: u8| (b as char).to_digit(16).unwrap() as u8;
                        out.push(h(inner[i + 2]) * 16 + h(inner[i + 3]));
                        i += 4;
                        continue;
                    }
                    out.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else {
                    out.push(c);
                    i += 1;
                }
            }
            Some(out)
        }
        Some(b'\'') => {
            let inner = &span[1..span.len() - 1];
            let mut out = Vec::with_capacity(inner.len());
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == b'\\' && i + 1 < inner.len() && inner[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                } else {
                    out.push(inner[i]);
                    i += 1;
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut ranges = Vec::new();
        let p = parse_command(buf, Limits::default(), &mut ranges)?;
        let args = ranges
            .into_iter()
            .map(|r| {
                let s = &buf[r];
                unquote_inline(s).unwrap_or_else(|| s.to_vec())
            })
            .collect();
        Ok((p, args))
    }

    #[test]
    fn multibulk() {
        let (p, a) = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
        assert_eq!(p, Parsed::Command { consumed: 20, argc: 2 });
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
    }

    #[test]
    fn incomplete_at_every_cut() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            let (p, _) = parse(&full[..cut]).unwrap();
            assert_eq!(p, Parsed::Incomplete, "cut {cut}");
        }
        assert!(matches!(parse(full).unwrap().0, Parsed::Command { argc: 3, .. }));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(parse(b"*x\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(parse(b"*1\r\n+x\r\n").unwrap_err().0, "expected '$', got '+'");
        assert_eq!(parse(b"*1\r\n$-2\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(parse(b"*1\r\n$600000000\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(parse(b"*1\r\n$abc\r\n").unwrap_err().0, "invalid bulk length");
        let big = vec![b'a'; INLINE_MAX + 10];
        assert_eq!(parse(&big).unwrap_err().0, "too big inline request");
        assert_eq!(parse(b"set \"a b\n").unwrap_err().0, "unbalanced quotes in request");
    }

    #[test]
    fn unauthenticated_limits() {
        let mut r = Vec::new();
        let l = Limits { authenticated: false, ..Limits::default() };
        assert!(parse_command(b"*11\r\n", l, &mut r).is_err());
        assert!(parse_command(b"*1\r\n$16385\r\n", l, &mut r).is_err());
    }

    #[test]
    fn inline() {
        let (p, a) = parse(b"set  k \"a\\x41\\n\"\r\n").unwrap();
        assert_eq!(p, Parsed::Command { consumed: 18, argc: 3 });
        assert_eq!(a, vec![b"set".to_vec(), b"k".to_vec(), b"aA\n".to_vec()]);
        assert_eq!(parse(b"\r\n").unwrap().0, Parsed::Empty { consumed: 2 });
        let (_, a) = parse(b"echo 'it\\'s'\n").unwrap();
        assert_eq!(a[1], b"it's");
    }

    #[test]
    fn empty_multibulk() {
        assert_eq!(parse(b"*0\r\n").unwrap().0, Parsed::Empty { consumed: 4 });
        assert_eq!(parse(b"*-1\r\n").unwrap().0, Parsed::Empty { consumed: 5 });
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn encode(argv: &[Vec<u8>]) -> Vec<u8> {
            let mut out = format!("*{}\r\n", argv.len()).into_bytes();
            for a in argv {
                out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
            out
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
                let mut ranges = Vec::new();
                let mut pos = 0;
                while pos < data.len() {
                    ranges.clear();
                    match parse_command(&data[pos..], Limits::default(), &mut ranges) {
                        Ok(Parsed::Command { consumed, argc }) => {
                            prop_assert!(consumed > 0 && pos + consumed <= data.len());
                            prop_assert_eq!(argc, ranges.len());
                            for r in &ranges {
                                prop_assert!(r.end <= consumed);
                                let _ = unquote_inline(&data[pos..][r.clone()]);
                            }
                            pos += consumed;
                        }
                        Ok(Parsed::Empty { consumed }) => pos += consumed,
                        _ => break,
                    }
                }
            }

            #[test]
            fn frames_round_trip(
                cmds in proptest::collection::vec(
                    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
                    1..5,
                )
            ) {
                let mut wire = Vec::new();
                for c in &cmds {
                    wire.extend_from_slice(&encode(c));
                }
                let mut pos = 0;
                for c in &cmds {
                    let mut ranges = Vec::new();
                    let p = parse_command(&wire[pos..], Limits::default(), &mut ranges).unwrap();
                    let Parsed::Command { consumed, argc } = p else { panic!("{p:?}") };
                    prop_assert_eq!(argc, c.len());
                    let got: Vec<Vec<u8>> = ranges.iter().map(|r| wire[pos..][r.clone()].to_vec()).collect();
                    prop_assert_eq!(&got, c);
                    pos += consumed;
                }
                prop_assert_eq!(pos, wire.len());
            }
        }
    }
}
