//! Replies as values: what `redis.call` gets back from the server and what a script returns.

/// A RESP reply as a value (RESP2 and RESP3 types).
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Status(Vec<u8>),
    /// The error line without its leading `-` (`ERR ...`, `WRONGTYPE ...`).
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// Null bulk string (RESP2 `$-1`, RESP3 `_`).
    Null,
    /// Null array (RESP2 `*-1`).
    NullArray,
    Array(Vec<Reply>),
    Double(f64),
    Bool(bool),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    BigNumber(Vec<u8>),
}

impl Reply {
    pub fn error(msg: impl Into<Vec<u8>>) -> Reply {
        Reply::Error(msg.into())
    }

    /// Appends the reply in RESP2 (`resp3` false) or RESP3. Status and error lines have their
    /// CR and LF replaced by spaces, as Redis does for scripts' replies.
    pub fn encode(&self, out: &mut Vec<u8>, resp3: bool) {
        fn line(out: &mut Vec<u8>, prefix: u8, s: &[u8]) {
            out.push(prefix);
            out.extend(s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
            out.extend_from_slice(b"\r\n");
        }
        fn head(out: &mut Vec<u8>, prefix: u8, n: usize) {
            out.push(prefix);
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match self {
            Reply::Status(s) => line(out, b'+', s),
            Reply::Error(s) => line(out, b'-', s),
            Reply::Int(n) => head_i(out, *n),
            Reply::Bulk(b) => {
                head(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                head(out, b'*', items.len());
                for i in items {
                    i.encode(out, resp3);
                }
            }
            Reply::Set(items) => {
                head(out, if resp3 { b'~' } else { b'*' }, items.len());
                for i in items {
                    i.encode(out, resp3);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    head(out, b'%', pairs.len());
                } else {
                    head(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(out, resp3);
                    v.encode(out, resp3);
                }
            }
            Reply::Double(d) => {
                let s = format_double(*d);
                if resp3 {
                    line(out, b',', s.as_bytes());
                } else {
                    Reply::Bulk(s.into_bytes()).encode(out, resp3);
                }
            }
            Reply::Bool(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(b) => head_i(out, i64::from(*b)),
            Reply::BigNumber(s) if resp3 => line(out, b'(', s),
            Reply::BigNumber(s) => Reply::Bulk(s.clone()).encode(out, resp3),
        }
    }
}

fn head_i(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A double as Redis replies it (`%.17g`, `inf`, `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format_g17(d)
    }
}

/// C's `%.17g`: the shortest of fixed or exponent notation with 17 significant digits,
/// trailing zeros removed.
pub fn format_g17(d: f64) -> String {
    format_g(d, 17)
}

/// C's `%.<prec>g`.
pub fn format_g(d: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !d.is_finite() {
        return format_double(d);
    }
    let e = format!("{d:.*e}", prec - 1);
    let (mant, exp) = e.split_once('e').expect("exponent notation");
    let exp: i32 = exp.parse().expect("exponent");
    if (-4..prec as i32).contains(&exp) {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let s = format!("{d:.decimals$}");
        strip_zeros(&s).to_string()
    } else {
        let m = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Parses one RESP2/RESP3 reply from the start of `buf`; returns it and the bytes it used, or
/// `None` if `buf` does not hold one whole well-formed reply.
pub fn parse(buf: &[u8]) -> Option<(Reply, usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[1..end];
    let next = end + 2;
    let text = || std::str::from_utf8(line).ok();
    let int = || text()?.parse::<i64>().ok();
    let items = |n: usize, mut at: usize| -> Option<(Vec<Reply>, usize)> {
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let (r, used) = parse(&buf[at..])?;
            v.push(r);
            at += used;
        }
        Some((v, at))
    };
    Some(match *buf.first()? {
        b'+' => (Reply::Status(line.to_vec()), next),
        b'-' => (Reply::Error(line.to_vec()), next),
        b':' => (Reply::Int(int()?), next),
        b'(' => (Reply::BigNumber(line.to_vec()), next),
        b',' => {
            let d = match text()? {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                t => t.parse().ok()?,
            };
            (Reply::Double(d), next)
        }
        b'#' => (Reply::Bool(line == b"t"), next),
        b'_' => (Reply::Null, next),
        b'$' | b'=' | b'!' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::Null, next));
            }
            let n = n as usize;
            let body = buf.get(next..next + n)?;
            if buf.get(next + n..next + n + 2)? != b"\r\n" {
                return None;
            }
            let body = if buf[0] == b'=' { body.get(4..)?.to_vec() } else { body.to_vec() };
            if buf[0] == b'!' {
                (Reply::Error(body), next + n + 2)
            } else {
                (Reply::Bulk(body), next + n + 2)
            }
        }
        b'*' | b'~' | b'>' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::NullArray, next));
            }
            let (v, at) = items(n as usize, next)?;
            (if buf[0] == b'~' { Reply::Set(v) } else { Reply::Array(v) }, at)
        }
        b'%' => {
            let n = usize::try_from(int()?).ok()?;
            let (v, at) = items(n * 2, next)?;
            let mut it = v.into_iter();
            let mut pairs = Vec::with_capacity(n);
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            (Reply::Map(pairs), at)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_c() {
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(12345678901234.0), "12345678901234");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(-2.5e-7), "-2.4999999999999999e-07");
        assert_eq!(format_g17(0.0001), "0.0001");
    }

    #[test]
    fn parse_round_trips() {
        let cases = vec![
            Reply::Status(b"OK".to_vec()),
            Reply::Error(b"ERR x".to_vec()),
            Reply::Int(-5),
            Reply::Bulk(b"a\r\nb".to_vec()),
            Reply::Null,
            Reply::NullArray,
            Reply::Array(vec![Reply::Int(1), Reply::Array(vec![Reply::Bulk(b"x".to_vec())])]),
        ];
        for c in cases {
            let mut out = Vec::new();
            c.encode(&mut out, false);
            let (r, used) = parse(&out).expect("parses");
            assert_eq!(used, out.len());
            assert_eq!(r, c);
        }
        assert!(parse(b"$5\r\nab\r\n").is_none());
        assert!(parse(b"*2\r\n:1\r\n").is_none());
    }

    #[test]
    fn resp3_values_parse() {
        let (r, _) = parse(b"%1\r\n+a\r\n,1.5\r\n").unwrap();
        assert_eq!(r, Reply::Map(vec![(Reply::Status(b"a".to_vec()), Reply::Double(1.5))]));
        let (r, _) = parse(b"~1\r\n#t\r\n").unwrap();
        assert_eq!(r, Reply::Set(vec![Reply::Bool(true)]));
    }

    #[test]
    fn errors_lose_newlines() {
        let mut out = Vec::new();
        Reply::Error(b"a\nb".to_vec()).encode(&mut out, false);
        assert_eq!(out, b"-a b\r\n");
    }
}
