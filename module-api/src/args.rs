//! A command's arguments, with Redis's number parsing and error strings.

use abi_stable::std_types::RSlice;

use crate::Error;

/// A command's arguments, the command name first (as Redis gives modules `argv`).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    raw: &'a [RSlice<'a, u8>],
}

impl<'a> Args<'a> {
    pub fn new(raw: &'a [RSlice<'a, u8>]) -> Self {
        Args { raw }
    }

    /// How many arguments, the command name included.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The command name as the client sent it.
    pub fn name(&self) -> &'a [u8] {
        self.get(0).unwrap_or_default()
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.raw.get(i).map(|s| s.as_slice())
    }

    /// Argument `i`; a syntax error when there is none.
    pub fn bytes(&self, i: usize) -> Result<&'a [u8], Error> {
        self.get(i).ok_or(Error::SYNTAX)
    }

    /// Argument `i` as UTF-8 text.
    pub fn str(&self, i: usize) -> Result<&'a str, Error> {
        std::str::from_utf8(self.bytes(i)?).map_err(|_| Error::err("invalid UTF-8 argument"))
    }

    /// Argument `i` as a 64-bit integer, parsed as Redis parses integers (no sign but `-`, no
    /// leading zeros, no spaces); otherwise `ERR value is not an integer or out of range`.
    pub fn i64(&self, i: usize) -> Result<i64, Error> {
        parse_i64(self.bytes(i)?).ok_or(Error::NOT_INT)
    }

    /// Argument `i` as a double, parsed as Redis parses doubles (`inf` and `-inf` allowed, no
    /// NaN, no leading space, nothing after the number, no overflow); otherwise `ERR value is
    /// not a valid float`.
    pub fn f64(&self, i: usize) -> Result<f64, Error> {
        parse_f64(self.bytes(i)?).ok_or(Error::NOT_FLOAT)
    }

    /// Whether argument `i` is `keyword`, ASCII case-insensitively.
    pub fn is(&self, i: usize, keyword: &str) -> bool {
        self.get(i).is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes()))
    }

    /// Every argument, the command name first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        self.raw.iter().map(|s| s.as_slice())
    }

    /// A cursor over the arguments after the command name.
    pub fn parser(&self) -> ArgParser<'a> {
        ArgParser { args: *self, pos: 1 }
    }
}

/// Reads arguments one after another: `let key = p.next_bytes()?; let n = p.next_i64()?;`.
pub struct ArgParser<'a> {
    args: Args<'a>,
    pos: usize,
}

impl<'a> ArgParser<'a> {
    /// The next argument; a syntax error when there is none.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], Error> {
        let a = self.args.bytes(self.pos)?;
        self.pos += 1;
        Ok(a)
    }

    pub fn next_str(&mut self) -> Result<&'a str, Error> {
        let a = self.args.str(self.pos)?;
        self.pos += 1;
        Ok(a)
    }

    pub fn next_i64(&mut self) -> Result<i64, Error> {
        let a = self.args.i64(self.pos)?;
        self.pos += 1;
        Ok(a)
    }

    pub fn next_f64(&mut self) -> Result<f64, Error> {
        let a = self.args.f64(self.pos)?;
        self.pos += 1;
        Ok(a)
    }

    /// Takes the next argument if it is `keyword` (case-insensitive).
    pub fn eat(&mut self, keyword: &str) -> bool {
        let yes = self.args.is(self.pos, keyword);
        self.pos += usize::from(yes);
        yes
    }

    /// The next argument without taking it.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.args.get(self.pos)
    }

    /// The arguments not taken yet.
    pub fn rest(&mut self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let from = self.pos;
        self.pos = self.args.len();
        self.args.iter().skip(from)
    }

    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.pos)
    }

    /// Ok when every argument was taken; a syntax error otherwise.
    pub fn done(&self) -> Result<(), Error> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::SYNTAX)
        }
    }
}

/// Parses a 64-bit integer as Redis's `string2ll`: an optional `-`, digits with no leading zero
/// (`0` itself aside), no other characters, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a double as Redis's `string2d`: no leading space, nothing after the number, no NaN,
/// no overflow to infinity (the literals `inf`, `+inf`, `-inf`, `infinity` are fine).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let first = *s.first()?;
    if first.is_ascii_whitespace() || first == 0x0b {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        let lit = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lit != "inf" && lit != "infinity" {
            return None;
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in
            [&b""[..], b"9223372036854775808", b"+1", b"01", b"-0", b" 1", b"1 ", b"1.0", b"-"]
        {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn doubles_as_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        for bad in [&b""[..], b"nan", b" 1", b"1 ", b"1e999", b"abc", b"1.5x"] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn parser_walks_arguments() {
        let raw: Vec<RSlice<u8>> = [&b"cmd"[..], b"key", b"12", b"2.5", b"WITHX", b"a", b"b"]
            .iter()
            .map(|s| RSlice::from_slice(s))
            .collect();
        let args = Args::new(&raw);
        let mut p = args.parser();
        assert_eq!(p.next_bytes().unwrap(), b"key");
        assert_eq!(p.next_i64().unwrap(), 12);
        assert_eq!(p.next_f64().unwrap(), 2.5);
        assert!(!p.eat("withy"));
        assert!(p.eat("withx"));
        assert_eq!(p.remaining(), 2);
        assert_eq!(p.done(), Err(Error::SYNTAX));
        assert_eq!(p.rest().collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        assert_eq!(p.done(), Ok(()));
        assert_eq!(p.next_bytes(), Err(Error::SYNTAX));
        assert_eq!(args.i64(1), Err(Error::NOT_INT));
        assert_eq!(args.f64(1), Err(Error::NOT_FLOAT));
    }
}
