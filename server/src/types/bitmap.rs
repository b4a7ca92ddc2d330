//! Bitmaps are strings: pure bit operations over byte slices (SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD). Bit 0 is the most significant bit of byte 0, as in Redis. No replies, no
//! clients.

/// The bit at `offset` (bits past the end are 0).
pub fn get_bit(s: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    byte < s.len() && s[byte] & (0x80 >> (offset & 7)) != 0
}

/// Sets the bit at `offset` (which must be inside `s`) and returns its old value.
pub fn set_bit(s: &mut [u8], offset: u64, on: bool) -> bool {
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let old = s[byte] & mask != 0;
    if on {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    old
}

/// A BITCOUNT / BITPOS range after Redis's index arithmetic: inclusive byte indexes, with masks
/// of the bits of the first and last byte that lie outside a BIT range.
struct Range {
    start: i64,
    end: i64,
    first_neg: u8,
    last_neg: u8,
}

/// Converts `start`/`end` (bytes, or bits when `bit`) over a string of `len` bytes.
fn range(len: usize, mut start: i64, mut end: i64, bit: bool) -> Range {
    let mut total = len as i64;
    if bit {
        total <<= 3;
    }
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_neg, mut last_neg) = (0, 0);
    if bit && start <= end {
        first_neg = !((1u32 << (8 - (start & 7))) - 1) as u8;
        last_neg = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range { start, end, first_neg, last_neg }
}

/// BITCOUNT: set bits of `s`, or of the range `(start, end, is_bit)`.
pub fn count(s: &[u8], range_arg: Option<(i64, i64, bool)>) -> i64 {
    let r = match range_arg {
        None => Range { start: 0, end: s.len() as i64 - 1, first_neg: 0, last_neg: 0 },
        Some((start, end, bit)) => {
            if start < 0 && end < 0 && start > end {
                return 0;
            }
            range(s.len(), start, end, bit)
        }
    };
    if r.start > r.end {
        return 0;
    }
    let bytes = &s[r.start as usize..=r.end as usize];
    let mut n: i64 = bytes.iter().map(|b| i64::from(b.count_ones())).sum();
    n -= i64::from((bytes[0] & r.first_neg).count_ones());
    n -= i64::from((bytes[bytes.len() - 1] & r.last_neg).count_ones());
    n
}

/// BITPOS: the first bit equal to `bit` in `s`, or in the range from `start` to `end`
/// (bytes, or bits when `is_bit`). Without an explicit end, clear bits past the end of the
/// string count as found (the string is zero-padded on the right); with one they do not.
pub fn pos(s: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, is_bit: bool) -> i64 {
    let len = s.len() as i64;
    let r = match start {
        None => Range { start: 0, end: len - 1, first_neg: 0, last_neg: 0 },
        Some(st) => {
            let e = end.unwrap_or(if is_bit { (len << 3) + 7 } else { len - 1 });
            range(s.len(), st, e, is_bit)
        }
    };
    if r.start > r.end {
        return -1;
    }
    let (first_bit, last_bit) = if is_bit && start.is_some() {
        (
            r.start * 8 + i64::from(r.first_neg.count_ones()),
            r.end * 8 + 7 - i64::from(r.last_neg.count_ones()),
        )
    } else {
        (r.start * 8, r.end * 8 + 7)
    };
    let want = if bit { 0u8 } else { 0xff };
    let mut i = first_bit;
    while i <= last_bit {
        let byte = s[(i >> 3) as usize];
        if i & 7 == 0 && byte == want && i + 7 <= last_bit {
            i += 8;
            continue;
        }
        if get_bit(s, i as u64) == bit {
            return i;
        }
        i += 1;
    }
    if !bit && end.is_none() {
        return (r.end + 1) * 8;
    }
    -1
}

/// A BITOP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP over `srcs` (a missing key is an empty string): the result is as long as the longest
/// source, shorter sources are zero-padded.
pub fn bitop(op: Op, srcs: &[&[u8]]) -> Vec<u8> {
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let at = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(maxlen);
    for j in 0..maxlen {
        let mut v = at(srcs[0], j);
        if op == Op::Not {
            v = !v;
        }
        for s in &srcs[1..] {
            let b = at(s, j);
            match op {
                Op::And => v &= b,
                Op::Or => v |= b,
                Op::Xor => v ^= b,
                Op::Not => {}
            }
        }
        out.push(v);
    }
    out
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

impl FieldType {
    /// Parses `i16`, `u8`... (lower-case prefix only, as Redis).
    pub fn parse(s: &[u8]) -> Option<FieldType> {
        let signed = match s.first() {
            Some(b'i') => true,
            Some(b'u') => false,
            _ => return None,
        };
        // Redis reads the argument as a C string: it stops at a NUL byte.
        let rest = &s[1..];
        let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
        let bits = crate::util::num::parse_i64(rest)?;
        if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
            return None;
        }
        Some(FieldType { signed, bits: bits as u32 })
    }
}

/// The unsigned value of `bits` bits at bit `offset` (bits past the end read as 0).
pub fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..u64::from(bits) {
        v = (v << 1) | u64::from(get_bit(s, offset + j));
    }
    v
}

/// The signed value of `bits` bits at bit `offset`.
pub fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    sign_extend(get_unsigned(s, offset, bits), bits)
}

/// A field's `bits` bits, as read by [`get_unsigned`], taken as a two's-complement number.
pub fn sign_extend(mut v: u64, bits: u32) -> i64 {
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` bits of `value` at bit `offset` (inside `s`).
pub fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let on = value & (1u64 << (bits - 1 - j)) != 0;
        set_bit(s, offset + u64::from(j), on);
    }
}

/// BITFIELD's overflow behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// Adds `incr` to the unsigned `value` of `bits` bits: `Ok(new)` when it fits, else
/// `Err(Some(limited))` (wrapped or saturated) or `Err(None)` under FAIL. SET checks its value
/// with `incr` 0 (a negative value is a huge unsigned one, as in Redis).
pub fn add_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> Result<u64, Option<u64>> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let over = value > max || (incr > 0 && incr > maxincr);
    let under = !over && incr < 0 && incr < minincr;
    if !over && !under {
        return Ok(value.wrapping_add(incr as u64));
    }
    Err(match ow {
        Overflow::Wrap => {
            let mask = u64::MAX.checked_shl(bits).unwrap_or(0);
            Some(value.wrapping_add(incr as u64) & !mask)
        }
        Overflow::Sat => Some(if over { max } else { 0 }),
        Overflow::Fail => None,
    })
}

/// Signed counterpart of [`add_unsigned`].
pub fn add_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> Result<i64, Option<i64>> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let over =
        value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
    let under = !over
        && (value < min
            || (bits != 64 && incr < minincr)
            || (value < 0 && incr < 0 && incr < minincr));
    if !over && !under {
        return Ok(value.wrapping_add(incr));
    }
    Err(match ow {
        Overflow::Wrap => {
            let mut c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1u64 << (bits - 1)) != 0 {
                    c |= mask;
                } else {
                    c &= !mask;
                }
            }
            Some(c as i64)
        }
        Overflow::Sat => Some(if over { max } else { min }),
        Overflow::Fail => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits() {
        let mut s = vec![0u8; 2];
        assert!(!set_bit(&mut s, 1, true));
        assert!(set_bit(&mut s, 1, true));
        assert_eq!(s, [0x40, 0]);
        assert!(get_bit(&s, 1));
        assert!(!get_bit(&s, 100));
    }

    #[test]
    fn bitcount() {
        let s = b"foobar";
        assert_eq!(count(s, None), 26);
        assert_eq!(count(s, Some((0, 0, false))), 4);
        assert_eq!(count(s, Some((1, 1, false))), 6);
        assert_eq!(count(s, Some((5, 30, true))), 17);
        assert_eq!(count(s, Some((-1, -2, false))), 0);
        assert_eq!(count(b"", None), 0);
    }

    #[test]
    fn bitpos() {
        assert_eq!(pos(b"\xff\xf0\x00", false, None, None, false), 12);
        assert_eq!(pos(b"\x00\xff\xf0", true, Some(0), None, false), 8);
        assert_eq!(pos(b"\x00\xff\xf0", true, Some(2), Some(-1), false), 16);
        assert_eq!(pos(b"\x00\xff\xf0", true, Some(7), Some(15), true), 8);
        assert_eq!(pos(b"\xff\xff", false, None, None, false), 16);
        assert_eq!(pos(b"\xff\xff", false, Some(0), Some(-1), false), -1);
        assert_eq!(pos(b"\xff\xff", false, Some(3), None, true), 16);
        assert_eq!(pos(b"\x00", true, None, None, false), -1);
        assert_eq!(pos(b"", false, None, None, false), -1);
    }

    #[test]
    fn ops() {
        assert_eq!(bitop(Op::And, &[b"\xff\x0f", b"\x0f"]), b"\x0f\x00");
        assert_eq!(bitop(Op::Or, &[b"\xf0", b"\x0f\x01"]), b"\xff\x01");
        assert_eq!(bitop(Op::Xor, &[b"\xff", b"\x0f"]), b"\xf0");
        assert_eq!(bitop(Op::Not, &[b"\x0f"]), b"\xf0");
        assert!(bitop(Op::Or, &[b"", b""]).is_empty());
    }

    #[test]
    fn fields() {
        let mut s = vec![0u8; 2];
        set_field(&mut s, 4, 8, 0xab);
        assert_eq!(s, [0x0a, 0xb0]);
        assert_eq!(get_unsigned(&s, 4, 8), 0xab);
        assert_eq!(get_signed(&s, 4, 8), 0xab - 256);
        assert_eq!(FieldType::parse(b"i64"), Some(FieldType { signed: true, bits: 64 }));
        assert_eq!(FieldType::parse(b"u64"), None);
        assert_eq!(FieldType::parse(b"I8"), None);
        assert_eq!(FieldType::parse(b"u0"), None);
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Wrap), Err(Some(4)));
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Sat), Err(Some(255)));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Sat), Err(Some(0)));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Fail), Err(None));
        assert_eq!(add_unsigned(u64::MAX, 0, 8, Overflow::Wrap), Err(Some(255)));
        assert_eq!(add_signed(120, 10, 8, Overflow::Wrap), Err(Some(-126)));
        assert_eq!(add_signed(-120, -10, 8, Overflow::Sat), Err(Some(-128)));
        assert_eq!(add_signed(i64::MAX, 1, 64, Overflow::Wrap), Err(Some(i64::MIN)));
        assert_eq!(add_signed(3, 4, 8, Overflow::Fail), Ok(7));
    }
}
