//! Number parsing and formatting that matches Redis 7.0 byte for byte.
//!
//! | Redis (7.0)                      | here                                  |
//! |----------------------------------|---------------------------------------|
//! | `string2ll` (INCR, EXPIRE, ...)  | [`parse_i64`]                         |
//! | strict unsigned analogue         | [`parse_u64`]                         |
//! | `string2ull` (stream IDs)        | [`parse_u64_lenient`]                 |
//! | `string2d` (ZADD scores, GEO...) | [`parse_f64`]                         |
//! | `strtod` in `zslParseRange`      | [`parse_f64_lenient`]                 |
//! | `strtod` + `ERANGE` check (SORT) | [`parse_f64_strtod`]                  |
//! | `string2ld` (INCRBYFLOAT, ...)   | [`parse_long_double`]                 |
//! | `addReplyDouble` (`%.17g`)       | [`fmt_double_resp`]                   |
//! | `ld2string(.., LD_STR_HUMAN)`    | [`fmt_double_human`], [`LongDouble::to_human`] |
//! | INCRBYFLOAT arithmetic           | [`incr_by_float`]                     |
//!
//! Redis does float increments in C `long double`, which on x86-64 is the x87
//! 80-bit format (64-bit mantissa, 15-bit exponent). [`LongDouble`] is a
//! software implementation of exactly that format, with correctly rounded
//! decimal/hex parsing (like glibc `strtold`), round-to-nearest-even
//! arithmetic, and exact `%.17Lf` printing.

use std::cmp::Ordering;

// ---------------------------------------------------------------------------
// Integers
// ---------------------------------------------------------------------------

/// Longest accepted integer text (Redis `LONG_STR_SIZE - 1`).
const MAX_INT_LEN: usize = 20;

/// Parses a signed 64-bit integer exactly like Redis' `string2ll`: optional
/// `-`, no `+`, no spaces, no leading zeros (`0` alone is fine, `-0` is not),
/// at most 20 bytes, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if s.len() > MAX_INT_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let v = parse_canonical_digits(digits)?;
    if neg {
        if v > 1u64 << 63 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned 64-bit integer with the same strict rules as
/// [`parse_i64`] (no sign at all, no leading zeros, at most 20 bytes).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.len() > MAX_INT_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    parse_canonical_digits(s)
}

/// Non-empty digits without a leading zero, as u64.
fn parse_canonical_digits(d: &[u8]) -> Option<u64> {
    match d.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Parses an unsigned integer like Redis' `string2ull` (used for stream
/// IDs): a canonical non-negative [`parse_i64`] value, or else whatever C
/// `strtoull(s, &end, 10)` fully consumes: leading whitespace, `+`, leading
/// zeros are accepted, and a `-` sign negates modulo 2^64 (`"-01"` gives
/// `u64::MAX`; but `"-1"` is rejected because `string2ll` accepts it first and
/// it is negative). Overflow is rejected. Like the C function it treats the
/// input as a C string: it ends at the first NUL byte.
pub fn parse_u64_lenient(s: &[u8]) -> Option<u64> {
    let s = until_nul(s);
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Appends the decimal form of `v` to `out`.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends the decimal form of `v` to `out`.
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(u64_digits(v, &mut buf));
}

/// Decimal form of `v` as bytes.
pub fn fmt_i64(v: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    write_i64(&mut out, v);
    out
}

/// Decimal form of `v` as bytes.
pub fn fmt_u64(v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    write_u64(&mut out, v);
    out
}

fn u64_digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

fn u128_digits(v: u128, buf: &mut [u8; 40]) -> &[u8] {
    const P19: u128 = 10_000_000_000_000_000_000;
    if v <= u128::from(u64::MAX) {
        let mut b20 = [0u8; 20];
        let d = u64_digits(v as u64, &mut b20);
        let start = buf.len() - d.len();
        buf[start..].copy_from_slice(d);
        return &buf[start..];
    }
    // Low 19 digits with u64 arithmetic, the rest recursively (< 2^65).
    let (hi, mut lo) = (v / P19, (v % P19) as u64);
    for i in (21..40).rev() {
        buf[i] = b'0' + (lo % 10) as u8;
        lo /= 10;
    }
    let mut b20 = [0u8; 20];
    let h = u128_digits_small(hi, &mut b20);
    let start = 21 - h.len();
    buf[start..21].copy_from_slice(h);
    &buf[start..]
}

fn u128_digits_small(mut v: u128, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn until_nul(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

// ---------------------------------------------------------------------------
// strtod-style scanning
// ---------------------------------------------------------------------------

/// What a `strtod` subject sequence denotes.
enum Literal<'a> {
    /// `int.frac e exp`; digits are ASCII decimal. `text` is the whole
    /// unsigned subject sequence.
    Decimal {
        text: &'a [u8],
        int: &'a [u8],
        frac: &'a [u8],
        exp: i64,
    },
    /// `0x int.frac p exp`; digits are ASCII hex, `exp` is binary.
    Hex {
        int: &'a [u8],
        frac: &'a [u8],
        exp: i64,
    },
    Inf,
    Nan,
}

struct Scanned<'a> {
    neg: bool,
    lit: Literal<'a>,
    /// Bytes consumed, as `endptr - s`.
    len: usize,
}

/// Exponents beyond this magnitude are clamped; they over/underflow anyway.
const EXP_CLAMP: i64 = 1 << 40;

fn scan_exp(s: &[u8], i: usize, marker: u8) -> (i64, usize) {
    if i < s.len() && s[i].to_ascii_lowercase() == marker {
        let mut j = i + 1;
        let mut neg = false;
        if j < s.len() && (s[j] == b'+' || s[j] == b'-') {
            neg = s[j] == b'-';
            j += 1;
        }
        let start = j;
        let mut e: i64 = 0;
        while j < s.len() && s[j].is_ascii_digit() {
            e = (e * 10 + i64::from(s[j] - b'0')).min(EXP_CLAMP);
            j += 1;
        }
        if j > start {
            return (if neg { -e } else { e }, j);
        }
    }
    (0, i)
}

fn take_while(s: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < s.len() && f(s[i]) {
        i += 1;
    }
    i
}

/// Scans the longest prefix of `s` that C `strtod`/`strtold` would convert
/// (C locale, no leading-whitespace skipping). `None` means no conversion.
fn scan(s: &[u8]) -> Option<Scanned<'_>> {
    let mut i = 0;
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let rest = &s[i..];
    let starts_ci = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts_ci(b"inf") {
        let n = if starts_ci(b"infinity") { 8 } else { 3 };
        return Some(Scanned { neg, lit: Literal::Inf, len: i + n });
    }
    if starts_ci(b"nan") {
        // Any NaN is rejected by every caller, so the exact extent of a
        // `nan(chars)` suffix does not matter.
        return Some(Scanned { neg, lit: Literal::Nan, len: i + 3 });
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        let a = i + 2;
        let b = take_while(s, a, |c| c.is_ascii_hexdigit());
        let (fa, fb) = if b < s.len() && s[b] == b'.' {
            (b + 1, take_while(s, b + 1, |c| c.is_ascii_hexdigit()))
        } else {
            (b, b)
        };
        if b > a || fb > fa {
            let (exp, end) = scan_exp(s, fb, b'p');
            return Some(Scanned {
                neg,
                lit: Literal::Hex { int: &s[a..b], frac: &s[fa..fb], exp },
                len: end,
            });
        }
        // "0x" without hex digits: only the "0" is converted.
        return Some(Scanned {
            neg,
            lit: Literal::Decimal { text: &s[i..i + 1], int: &s[i..i + 1], frac: &[], exp: 0 },
            len: i + 1,
        });
    }
    let a = i;
    let b = take_while(s, a, |c| c.is_ascii_digit());
    let (fa, fb) = if b < s.len() && s[b] == b'.' {
        (b + 1, take_while(s, b + 1, |c| c.is_ascii_digit()))
    } else {
        (b, b)
    };
    if b == a && fb == fa {
        return None;
    }
    let (exp, end) = scan_exp(s, fb, b'e');
    Some(Scanned {
        neg,
        lit: Literal::Decimal { text: &s[a..end], int: &s[a..b], frac: &s[fa..fb], exp },
        len: end,
    })
}

// ---------------------------------------------------------------------------
// Binary floating point rounding (shared by f64 and x87 extended)
// ---------------------------------------------------------------------------

/// A binary floating-point format with round-to-nearest-even.
struct BinFmt {
    /// Mantissa bits (including the integer bit).
    prec: u32,
    /// Exponent of the least significant bit of the smallest subnormal.
    min_lsb: i64,
    /// Exponent of the most significant bit of the largest finite value.
    max_msb: i64,
    /// A decimal `d1d2...dn x 10^e` with `n + e <= zero_dec` rounds to zero.
    zero_dec: i64,
    /// A decimal `d1d2...dn x 10^e` with `n + e - 1 > max_dec` overflows.
    max_dec: i64,
}

const F64_FMT: BinFmt =
    BinFmt { prec: 53, min_lsb: -1074, max_msb: 1023, zero_dec: -324, max_dec: 308 };

const X87_FMT: BinFmt =
    BinFmt { prec: 64, min_lsb: -16445, max_msb: 16383, zero_dec: -4951, max_dec: 4932 };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounded {
    Zero,
    /// `m * 2^e`, `m` < 2^prec; normalized unless subnormal (`e == min_lsb`).
    Finite(u64, i32),
    Overflow,
}

/// Rounds `q * 2^e2` (plus a fraction of one unit of `q` when `sticky`) to
/// `fmt`. When `sticky` is set, `q` must carry at least two bits more than
/// the format's precision (which the callers guarantee).
fn round_bin(q: u128, e2: i64, sticky: bool, fmt: &BinFmt) -> Rounded {
    if q == 0 {
        return Rounded::Zero;
    }
    let bl = 128 - i64::from(q.leading_zeros());
    let msb = e2 + bl - 1;
    if msb > fmt.max_msb + 1 {
        return Rounded::Overflow;
    }
    let mut lsb = (msb - (i64::from(fmt.prec) - 1)).max(fmt.min_lsb);
    let shift = lsb - e2;
    let mut m: u128 = if shift <= 0 {
        debug_assert!(!sticky, "sticky bit without guard bits");
        q << (-shift)
    } else if shift > 128 {
        0
    } else {
        let (m, rem) = if shift == 128 { (0, q) } else { (q >> shift, q & ((1u128 << shift) - 1)) };
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && (sticky || m & 1 == 1));
        m + u128::from(up)
    };
    if m == 0 {
        return Rounded::Zero;
    }
    if m == 1u128 << fmt.prec {
        m >>= 1;
        lsb += 1;
    }
    let top = lsb + 127 - i64::from(m.leading_zeros());
    if top > fmt.max_msb {
        return Rounded::Overflow;
    }
    Rounded::Finite(m as u64, lsb as i32)
}

// ---------------------------------------------------------------------------
// Minimal binary bignum (little-endian u32 limbs) for exact conversions
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl Big {
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn mul_add_small(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in self.0.iter_mut() {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut b = Big(Vec::with_capacity(digits.len() / 9 + 1));
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &c in chunk {
                v = v * 10 + u32::from(c - b'0');
            }
            b.mul_add_small(10u32.pow(chunk.len() as u32), v);
        }
        b.trim();
        b
    }

    fn pow10(k: u64) -> Big {
        let mut b = Big(vec![1]);
        let mut k = k;
        while k >= 9 {
            b.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        b.mul_add_small(10u32.pow(k as u32), 0);
        b
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn shl(&mut self, bits: u64) {
        if self.is_zero() {
            return;
        }
        let limbs = (bits / 32) as usize;
        let rem = (bits % 32) as u32;
        if rem != 0 {
            let mut carry = 0u32;
            for limb in self.0.iter_mut() {
                let v = *limb;
                *limb = (v << rem) | carry;
                carry = v >> (32 - rem);
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs != 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.0.iter_mut().rev() {
            let v = *limb;
            *limb = (v >> 1) | carry;
            carry = v << 31;
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`; requires `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let o = other.0.get(i).copied().unwrap_or(0);
            let v = i64::from(*limb) - i64::from(o) - borrow;
            if v < 0 {
                *limb = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                *limb = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }

    /// The top `min(128, bit_len)` bits, the exponent of their lowest bit,
    /// and whether any lower bit is set.
    fn top_bits(&self) -> (u128, i64, bool) {
        let bl = self.bit_len();
        let take = bl.min(128);
        let low = bl - take;
        let mut q = 0u128;
        for bit in (low..bl).rev() {
            q = (q << 1) | u128::from(self.bit(bit));
        }
        let sticky = (0..low).any(|bit| self.bit(bit));
        (q, low as i64, sticky)
    }

    fn bit(&self, bit: u64) -> bool {
        (self.0[(bit / 32) as usize] >> (bit % 32)) & 1 == 1
    }
}

/// Correctly rounds the decimal `int.frac x 10^exp` to `fmt`.
fn decimal_to_bin(int: &[u8], frac: &[u8], exp: i64, fmt: &BinFmt) -> Rounded {
    // Significant digits, without leading and trailing zeros.
    let mut digits: Vec<u8> = Vec::with_capacity(int.len() + frac.len());
    digits.extend_from_slice(int);
    digits.extend_from_slice(frac);
    let mut e10 = exp - frac.len() as i64;
    let lead = digits.iter().take_while(|&&c| c == b'0').count();
    let trail = digits[lead..].iter().rev().take_while(|&&c| c == b'0').count();
    let sig = &digits[lead..digits.len() - trail];
    if sig.is_empty() {
        return Rounded::Zero;
    }
    e10 += trail as i64;
    let nd = sig.len() as i64;
    if nd + e10 <= fmt.zero_dec {
        return Rounded::Zero;
    }
    if nd + e10 - 1 > fmt.max_dec {
        return Rounded::Overflow;
    }
    if sig.len() <= 19 && (-18..=19).contains(&e10) {
        // Fast path: everything fits in u128 with enough guard bits.
        let d = sig.iter().fold(0u128, |acc, &c| acc * 10 + u128::from(c - b'0'));
        let p10 = 10u128.pow(e10.unsigned_abs() as u32);
        if e10 >= 0 {
            return round_bin(d * p10, 0, false, fmt);
        }
        // d < 10^19 < 2^64 and p10 <= 10^18 < 2^60: the quotient of the
        // normalized numerator keeps at least 66 bits.
        let s = d.leading_zeros() - 1;
        let n = d << s;
        return round_bin(n / p10, -i64::from(s), n % p10 != 0, fmt);
    }
    let mut num = Big::from_decimal(sig);
    if e10 >= 0 {
        let p = Big::pow10(e10 as u64);
        // num * p
        let mut prod = Big(vec![0; num.0.len() + p.0.len()]);
        for (i, &a) in num.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in p.0.iter().enumerate() {
                let v = u64::from(a) * u64::from(b) + u64::from(prod.0[i + j]) + carry;
                prod.0[i + j] = v as u32;
                carry = v >> 32;
            }
            prod.0[i + p.0.len()] = carry as u32;
        }
        prod.trim();
        let (q, e2, sticky) = prod.top_bits();
        return round_bin(q, e2, sticky, fmt);
    }
    // num / 10^-e10, with p+3 quotient bits (the top one set) plus sticky.
    let mut den = Big::pow10((-e10) as u64);
    let want = u64::from(fmt.prec) + 3;
    let (nb, db) = (num.bit_len(), den.bit_len());
    let mut e2: i64 = 0;
    if nb < db + want {
        let s = db + want - nb;
        num.shl(s);
        e2 -= s as i64;
    } else {
        let s = nb - db - want;
        den.shl(s);
        e2 += s as i64;
    }
    let qbits = want + 1;
    den.shl(qbits - 1);
    let mut q = 0u128;
    for i in (0..qbits).rev() {
        if num.cmp(&den) != Ordering::Less {
            num.sub_assign(&den);
            q |= 1u128 << i;
        }
        den.shr1();
    }
    let sticky = !num.is_zero();
    // glibc quirk (reproduced because Redis inherits it): a value just below
    // the smallest normal number (one subnormal shift) whose exact binary
    // form has precisely one bit more than the format loses that bit before
    // rounding, so it rounds as a tie (to even) instead of up.
    let bl = 128 - i64::from(q.leading_zeros());
    let min_normal = fmt.min_lsb + i64::from(fmt.prec) - 1;
    if !sticky
        && e2 + bl - 1 == min_normal - 1
        && i64::from(q.trailing_zeros()) == bl - 1 - i64::from(fmt.prec)
    {
        q &= q - 1;
    }
    round_bin(q, e2, sticky, fmt)
}

/// Correctly rounds the hex value `int.frac x 2^exp` to `fmt`.
fn hex_to_bin(int: &[u8], frac: &[u8], exp: i64, fmt: &BinFmt) -> Rounded {
    let mut q = 0u128;
    let mut used = 0usize; // significant hex digits stored in q
    let mut dropped = 0i64; // significant digits dropped into sticky
    let mut sticky = false;
    let mut frac_used = 0i64;
    let mut seen_nonzero = false;
    for (idx, &c) in int.iter().chain(frac.iter()).enumerate() {
        let d = (c as char).to_digit(16).unwrap_or(0);
        let in_frac = idx >= int.len();
        seen_nonzero |= d != 0;
        if !seen_nonzero {
            if in_frac {
                frac_used += 1;
            }
            continue;
        }
        if used < 30 {
            q = (q << 4) | u128::from(d);
            used += 1;
            if in_frac {
                frac_used += 1;
            }
        } else {
            sticky |= d != 0;
            if !in_frac {
                dropped += 1;
            }
        }
    }
    if q == 0 {
        return Rounded::Zero;
    }
    let e2 = (exp + 4 * dropped - 4 * frac_used).clamp(-(1 << 42), 1 << 42);
    // glibc quirk (reproduced because Redis inherits it): when a hex float is
    // below the smallest normal number, the bit just below the format's
    // precision is ignored when rounding to a subnormal. E.g. strtod gives 0
    // for "0x1.00000000000008p-1075" (correct would be 2^-1074), so Redis
    // rejects it as out of range.
    let bl = 128 - i64::from(q.leading_zeros());
    let min_normal = fmt.min_lsb + i64::from(fmt.prec) - 1;
    let pos = bl - 1 - i64::from(fmt.prec);
    if e2 + bl - 1 < min_normal && pos >= 0 {
        q &= !(1u128 << pos);
    }
    round_bin(q, e2, sticky, fmt)
}

/// Result of a `strtod`-like conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conv {
    Value(Rounded),
    Inf,
    Nan,
}

impl Conv {
    /// `errno == ERANGE` and the result is zero or infinite: Redis rejects it.
    fn out_of_range(self) -> bool {
        matches!(self, Conv::Value(Rounded::Zero | Rounded::Overflow))
    }
}

/// Converts a scanned literal; `Conv::Value(Rounded::Zero)` is only returned
/// for a nonzero literal that underflowed (an exact zero is `Finite(0, 0)`).
fn convert(lit: &Literal<'_>, fmt: &BinFmt) -> Conv {
    let all_zero = |a: &[u8], b: &[u8]| a.iter().chain(b).all(|&c| c == b'0');
    match *lit {
        Literal::Inf => Conv::Inf,
        Literal::Nan => Conv::Nan,
        Literal::Decimal { int, frac, exp, .. } => {
            if all_zero(int, frac) {
                Conv::Value(Rounded::Finite(0, 0))
            } else {
                Conv::Value(decimal_to_bin(int, frac, exp, fmt))
            }
        }
        Literal::Hex { int, frac, exp } => {
            if all_zero(int, frac) {
                Conv::Value(Rounded::Finite(0, 0))
            } else {
                Conv::Value(hex_to_bin(int, frac, exp, fmt))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// f64 parsing
// ---------------------------------------------------------------------------

fn f64_from_rounded(neg: bool, r: Rounded) -> f64 {
    let mag = match r {
        Rounded::Zero => 0.0,
        Rounded::Overflow => f64::INFINITY,
        Rounded::Finite(m, e) => {
            if m == 0 {
                0.0
            } else if m < 1 << 52 {
                f64::from_bits(m) // subnormal, e == -1074
            } else {
                let biased = (i64::from(e) + 52 + 1023) as u64;
                f64::from_bits((biased << 52) | (m & ((1 << 52) - 1)))
            }
        }
    };
    if neg {
        -mag
    } else {
        mag
    }
}

/// Converts a scanned literal to f64 like `strtod`.
fn scanned_to_f64(sc: &Scanned<'_>) -> Conv {
    match sc.lit {
        // The standard library's parser is correctly rounded and fast; it
        // accepts every decimal subject sequence `scan` produces.
        Literal::Decimal { text, int, frac, exp } => {
            if int.iter().chain(frac).all(|&c| c == b'0') {
                return Conv::Value(Rounded::Finite(0, 0));
            }
            // `text` is ASCII and in the grammar Rust's parser accepts.
            let text = std::str::from_utf8(text).unwrap_or("nan");
            let Ok(v) = text.parse::<f64>() else {
                return Conv::Nan; // unreachable: `scan` only yields valid text
            };
            if v.is_infinite() {
                Conv::Value(Rounded::Overflow)
            } else if v == 0.0 {
                Conv::Value(Rounded::Zero)
            } else if v <= f64::MIN_POSITIVE && int.len() + frac.len() <= 2000 {
                // Tiny results go through the exact path, which reproduces a
                // glibc rounding quirk; exact dyadic subnormals have at most
                // 1076 fraction digits, so longer inputs cannot trigger it.
                Conv::Value(decimal_to_bin(int, frac, exp, &F64_FMT))
            } else {
                let bits = v.to_bits();
                let (m, e) = if bits >> 52 == 0 {
                    (bits, -1074)
                } else {
                    ((bits & ((1 << 52) - 1)) | (1 << 52), ((bits >> 52) as i32) - 1075)
                };
                Conv::Value(Rounded::Finite(m, e))
            }
        }
        _ => convert(&sc.lit, &F64_FMT),
    }
}

fn conv_to_f64(neg: bool, c: Conv) -> f64 {
    match c {
        Conv::Value(r) => f64_from_rounded(neg, r),
        Conv::Inf => f64_from_rounded(neg, Rounded::Overflow),
        Conv::Nan => f64::NAN,
    }
}

/// Parses a float argument like Redis' `string2d` (ZADD scores, GEOADD, ...):
/// the whole input must be what C `strtod` accepts (decimal, hex such as
/// `0x1p-2`, `inf`/`infinity` in any case with optional sign), with no
/// leading whitespace; NaN, overflow (`1e400`) and underflow to zero
/// (`1e-400`) are rejected, subnormal results are accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let sc = scan(s)?;
    if sc.len != s.len() {
        return None;
    }
    let c = scanned_to_f64(&sc);
    if c == Conv::Nan || c.out_of_range() {
        return None;
    }
    Some(conv_to_f64(sc.neg, c))
}

/// Parses like the bare `strtod` check in Redis' `zslParseRange` (score
/// bounds of ZRANGEBYSCORE, ZCOUNT, ...; strip a leading `(` first): the input
/// ends at its first NUL byte, leading whitespace is skipped, an empty input
/// is 0, overflow gives +-inf and underflow gives 0; only NaN and trailing
/// garbage are rejected.
pub fn parse_f64_lenient(s: &[u8]) -> Option<f64> {
    let s = until_nul(s);
    if s.is_empty() {
        return Some(0.0);
    }
    let start = take_while(s, 0, is_c_space);
    let sc = scan(&s[start..])?;
    if start + sc.len != s.len() {
        return None;
    }
    match scanned_to_f64(&sc) {
        Conv::Nan => None,
        c => Some(conv_to_f64(sc.neg, c)),
    }
}

/// Parses like the `strtod` check of SORT's scores (`eptr[0] != '\0' || errno == ERANGE ||
/// isnan`): the input ends at its first NUL byte, leading whitespace is skipped and an empty
/// input is 0, as in [`parse_f64_lenient`]; but NaN, overflow and underflow are rejected, where
/// glibc's underflow is a result that is zero or subnormal and inexact (`0x1p-1074` is fine,
/// `5e-324` is not). Infinity literals are accepted.
pub fn parse_f64_strtod(s: &[u8]) -> Option<f64> {
    let s = until_nul(s);
    if s.is_empty() {
        return Some(0.0);
    }
    let start = take_while(s, 0, is_c_space);
    let sc = scan(&s[start..])?;
    if start + sc.len != s.len() {
        return None;
    }
    match scanned_to_f64(&sc) {
        Conv::Nan => None,
        c if c.out_of_range() => None,
        Conv::Value(Rounded::Finite(m, e)) if m != 0 && m < 1 << 52 && !is_exact(&sc.lit, m, e) => {
            None
        }
        c => Some(conv_to_f64(sc.neg, c)),
    }
}

/// Whether the literal `lit` is exactly `m * 2^e` (for a finite nonzero result).
fn is_exact(lit: &Literal<'_>, m: u64, e: i32) -> bool {
    match *lit {
        Literal::Inf | Literal::Nan => true,
        Literal::Decimal { int, frac, exp, .. } => {
            // Both sides as (significant digits without leading/trailing zeros, power of 10).
            let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
            let lead = digits.iter().take_while(|&&c| c == b'0').count();
            let trail = digits[lead..].iter().rev().take_while(|&&c| c == b'0').count();
            let sig = &digits[lead..digits.len() - trail];
            let e10 = exp - frac.len() as i64 + trail as i64;
            let (exact, point) = exact_digits(m, e);
            let etrail = exact.iter().rev().take_while(|&&c| c == b'0').count();
            let esig = &exact[..exact.len() - etrail];
            sig == esig && e10 == point - esig.len() as i64
        }
        Literal::Hex { int, frac, exp } => {
            // The lowest set bit of the literal must be representable.
            let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
            let Some(last) = digits.iter().rposition(|&c| c != b'0') else { return true };
            let d = (digits[last] as char).to_digit(16).unwrap_or(1);
            let zeros = (digits.len() - 1 - last) as i64;
            let low = exp - 4 * frac.len() as i64 + 4 * zeros + i64::from(d.trailing_zeros());
            low >= i64::from(e)
        }
    }
}

// ---------------------------------------------------------------------------
// x87 extended precision ("long double")
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Finite,
    Inf,
    Nan,
}

/// A C `long double` as on x86-64 Linux: the x87 80-bit extended format
/// (64-bit mantissa with explicit integer bit, exponents down to subnormal
/// 2^-16445, largest finite about 1.19e4932), with round-to-nearest-even
/// arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    kind: Kind,
    /// Finite value is `m * 2^e`: `m` has bit 63 set, or `e == -16445`
    /// (subnormal or zero).
    m: u64,
    e: i32,
}

/// Redis' `MAX_LONG_DOUBLE_CHARS`: `string2ld` rejects inputs this long.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble { neg: false, kind: Kind::Finite, m: 0, e: -16445 };

    fn from_rounded(neg: bool, r: Rounded) -> LongDouble {
        match r {
            Rounded::Zero => LongDouble { neg, ..Self::ZERO },
            Rounded::Overflow => Self::infinity(neg),
            Rounded::Finite(0, _) => LongDouble { neg, ..Self::ZERO },
            Rounded::Finite(m, e) => LongDouble { neg, kind: Kind::Finite, m, e },
        }
    }

    fn from_conv(neg: bool, c: Conv) -> LongDouble {
        match c {
            Conv::Value(r) => Self::from_rounded(neg, r),
            Conv::Inf => Self::infinity(neg),
            Conv::Nan => Self::nan(),
        }
    }

    pub fn infinity(neg: bool) -> LongDouble {
        LongDouble { neg, kind: Kind::Inf, m: 1 << 63, e: 0 }
    }

    pub fn nan() -> LongDouble {
        LongDouble { neg: false, kind: Kind::Nan, m: 3 << 62, e: 0 }
    }

    /// Exact conversion.
    pub fn from_i64(v: i64) -> LongDouble {
        let r = round_bin(u128::from(v.unsigned_abs()), 0, false, &X87_FMT);
        Self::from_rounded(v < 0, r)
    }

    /// Exact conversion.
    pub fn from_f64(v: f64) -> LongDouble {
        let neg = v.is_sign_negative();
        if v.is_nan() {
            return Self::nan();
        }
        if v.is_infinite() {
            return Self::infinity(neg);
        }
        let bits = v.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (m, e) = if exp == 0 { (frac, -1074) } else { (frac | (1 << 52), exp - 1075) };
        Self::from_rounded(neg, round_bin(u128::from(m), e, false, &X87_FMT))
    }

    /// Rounds to the nearest f64 (ties to even), like a C cast.
    pub fn to_f64(&self) -> f64 {
        match self.kind {
            Kind::Nan => f64::NAN,
            Kind::Inf => f64_from_rounded(self.neg, Rounded::Overflow),
            Kind::Finite => f64_from_rounded(
                self.neg,
                round_bin(u128::from(self.m), i64::from(self.e), false, &F64_FMT),
            ),
        }
    }

    pub fn is_nan(&self) -> bool {
        self.kind == Kind::Nan
    }

    pub fn is_infinite(&self) -> bool {
        self.kind == Kind::Inf
    }

    pub fn is_finite(&self) -> bool {
        self.kind == Kind::Finite
    }

    pub fn is_zero(&self) -> bool {
        self.kind == Kind::Finite && self.m == 0
    }

    pub fn is_sign_negative(&self) -> bool {
        self.neg
    }

    /// The 80-bit memory image as (sign and 15-bit biased exponent, 64-bit
    /// mantissa with explicit integer bit).
    pub fn to_x87_parts(&self) -> (u16, u64) {
        let sign = if self.neg { 0x8000 } else { 0 };
        match self.kind {
            Kind::Nan => (0x7fff, self.m),
            Kind::Inf => (sign | 0x7fff, 1 << 63),
            Kind::Finite if self.m >> 63 == 0 => (sign, self.m),
            Kind::Finite => (sign | (self.e + 63 + 16383) as u16, self.m),
        }
    }

    /// `self + other`, rounded to nearest even (x87 extended precision).
    pub fn add(&self, other: &LongDouble) -> LongDouble {
        let (a, b) = (self, other);
        match (a.kind, b.kind) {
            (Kind::Nan, _) | (_, Kind::Nan) => return Self::nan(),
            (Kind::Inf, Kind::Inf) if a.neg != b.neg => return Self::nan(),
            (Kind::Inf, _) => return *a,
            (_, Kind::Inf) => return *b,
            _ => {}
        }
        if a.m == 0 && b.m == 0 {
            return LongDouble { neg: a.neg && b.neg, ..Self::ZERO };
        }
        if a.m == 0 {
            return *b;
        }
        if b.m == 0 {
            return *a;
        }
        // Order by magnitude: canonical forms make (e, m) order-preserving.
        let (big, small) = if (a.e, a.m) >= (b.e, b.m) { (a, b) } else { (b, a) };
        let d = i64::from(big.e) - i64::from(small.e);
        let x = u128::from(big.m) << 62;
        let y_full = u128::from(small.m) << 62;
        let (y, sticky) =
            if d >= 128 { (0, true) } else { (y_full >> d, y_full & ((1u128 << d) - 1) != 0) };
        let e2 = i64::from(big.e) - 62;
        if big.neg == small.neg {
            Self::from_rounded(big.neg, round_bin(x + y, e2, sticky, &X87_FMT))
        } else {
            let diff = x - y - u128::from(sticky);
            if diff == 0 {
                return Self::ZERO;
            }
            Self::from_rounded(big.neg, round_bin(diff, e2, sticky, &X87_FMT))
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &LongDouble) -> LongDouble {
        self.add(&other.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> LongDouble {
        if self.kind == Kind::Nan {
            return *self;
        }
        LongDouble { neg: !self.neg, ..*self }
    }

    /// `self * other`, rounded to nearest even.
    pub fn mul(&self, other: &LongDouble) -> LongDouble {
        let neg = self.neg != other.neg;
        match (self.kind, other.kind) {
            (Kind::Nan, _) | (_, Kind::Nan) => Self::nan(),
            (Kind::Inf, _) | (_, Kind::Inf) => {
                if self.is_zero() || other.is_zero() {
                    Self::nan()
                } else {
                    Self::infinity(neg)
                }
            }
            _ => {
                let q = u128::from(self.m) * u128::from(other.m);
                let e = i64::from(self.e) + i64::from(other.e);
                Self::from_rounded(neg, round_bin(q, e, false, &X87_FMT))
            }
        }
    }

    /// C's `(long long) ceill(x)` on x86-64: out-of-range values, infinities
    /// and NaN give `i64::MIN` (the x87 "integer indefinite"). Redis 7.0
    /// computes blocking timeouts as `ceill(seconds * 1000)` this way, which is
    /// why e.g. `BLPOP k inf` reports "timeout is negative".
    pub fn ceil_to_i64(&self) -> i64 {
        if self.kind != Kind::Finite {
            return i64::MIN;
        }
        if self.m == 0 {
            return 0;
        }
        let (int, has_frac) = if self.e >= 0 {
            if self.e > 63 {
                return i64::MIN;
            }
            let v = u128::from(self.m) << self.e;
            (v, false)
        } else if self.e <= -64 {
            (0u128, true)
        } else {
            let sh = (-self.e) as u32;
            (u128::from(self.m >> sh), self.m & ((1u64 << sh) - 1) != 0)
        };
        let mag = if has_frac && !self.neg { int + 1 } else { int };
        if self.neg {
            if mag > 1u128 << 63 {
                i64::MIN
            } else {
                (mag as i64).wrapping_neg()
            }
        } else {
            i64::try_from(mag).unwrap_or(i64::MIN)
        }
    }

    /// Formats like Redis' `ld2string(.., LD_STR_HUMAN)`: `"%.17Lf"`, then
    /// trailing zeros and a trailing `.` removed, `-0` turned into `0`,
    /// infinities as `inf`/`-inf`.
    pub fn write_human(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::Inf => {
                out.extend_from_slice(if self.neg { b"-inf" } else { b"inf" });
                return;
            }
            Kind::Nan => {
                out.extend_from_slice(if self.neg { b"-nan" } else { b"nan" });
                return;
            }
            Kind::Finite => {}
        }
        if self.m == 0 {
            out.push(b'0');
            return;
        }
        if self.e >= 0 {
            if self.neg {
                out.push(b'-');
            }
            write_big_decimal(out, self.m, self.e as u32);
            return;
        }
        // Fixed point with 17 decimals: round(m * 10^17 / 2^k), ties to even.
        let k = (-self.e) as u32;
        let n = u128::from(self.m) * 100_000_000_000_000_000u128;
        let q = if k >= 128 {
            0
        } else {
            let q = n >> k;
            let rem = n & ((1u128 << k) - 1);
            let half = 1u128 << (k - 1);
            q + u128::from(rem > half || (rem == half && q & 1 == 1))
        };
        let mut buf = [0u8; 40];
        let digits = u128_digits(q, &mut buf);
        let mut padded = [b'0'; 40];
        let len = digits.len().max(18);
        padded[len - digits.len()..len].copy_from_slice(digits);
        let (int, frac) = padded[..len].split_at(len - 17);
        let frac_len = frac.len() - frac.iter().rev().take_while(|&&c| c == b'0').count();
        if int == b"0" && frac_len == 0 {
            out.push(b'0'); // "-0" becomes "0"
            return;
        }
        if self.neg {
            out.push(b'-');
        }
        out.extend_from_slice(int);
        if frac_len > 0 {
            out.push(b'.');
            out.extend_from_slice(&frac[..frac_len]);
        }
    }

    /// See [`LongDouble::write_human`].
    pub fn to_human(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_human(&mut out);
        out
    }
}

/// Parses like Redis' `string2ld` (INCRBYFLOAT/HINCRBYFLOAT operands, and the
/// current value they update, blocking timeouts): non-empty, shorter than
/// [`MAX_LONG_DOUBLE_CHARS`], no leading whitespace, fully consumed by C
/// `strtold` (so hex floats and `inf`/`infinity` are accepted), not NaN,
/// no overflow and no underflow to zero. Parsing is correctly rounded to
/// x87 extended precision, as glibc does.
pub fn parse_long_double(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS || is_c_space(s[0]) {
        return None;
    }
    let sc = scan(s)?;
    if sc.len != s.len() {
        return None;
    }
    let c = convert(&sc.lit, &X87_FMT);
    if c == Conv::Nan || c.out_of_range() {
        return None;
    }
    Some(LongDouble::from_conv(sc.neg, c))
}

// ---------------------------------------------------------------------------
// Float formatting
// ---------------------------------------------------------------------------

/// Unsigned decimal bignum: base-10^9 limbs, little endian.
struct Dec(Vec<u32>);

impl Dec {
    fn from_u64(v: u64) -> Dec {
        let mut d = Dec(Vec::with_capacity(4));
        let mut v = v;
        while v > 0 {
            d.0.push((v % 1_000_000_000) as u32);
            v /= 1_000_000_000;
        }
        d
    }

    fn mul_small(&mut self, mul: u64) {
        let mut carry = 0u64;
        for limb in self.0.iter_mut() {
            let v = u64::from(*limb) * mul + carry;
            *limb = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            self.0.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let Some((top, rest)) = self.0.split_last() else {
            out.push(b'0');
            return;
        };
        let mut buf = [0u8; 20];
        out.extend_from_slice(u64_digits(u64::from(*top), &mut buf));
        for limb in rest.iter().rev() {
            let s = u64_digits(u64::from(*limb), &mut buf);
            out.extend(std::iter::repeat_n(b'0', 9 - s.len()));
            out.extend_from_slice(s);
        }
    }
}

/// Appends the decimal integer `m * 2^shl`.
fn write_big_decimal(out: &mut Vec<u8>, m: u64, shl: u32) {
    let mut d = Dec::from_u64(m);
    let mut s = shl;
    while s >= 32 {
        d.mul_small(1 << 32);
        s -= 32;
    }
    d.mul_small(1 << s);
    d.write(out);
}

/// Exact decimal digits of `m * 2^e` (m > 0): returns the digits (no leading
/// zeros) and the position of the decimal point relative to their start.
fn exact_digits(m: u64, e: i32) -> (Vec<u8>, i64) {
    let mut out = Vec::new();
    if e >= 0 {
        write_big_decimal(&mut out, m, e as u32);
        let p = out.len() as i64;
        (out, p)
    } else {
        let mut d = Dec::from_u64(m);
        let mut k = (-e) as u32;
        while k >= 13 {
            d.mul_small(1_220_703_125); // 5^13
            k -= 13;
        }
        d.mul_small(5u64.pow(k));
        d.write(&mut out);
        let p = out.len() as i64 + i64::from(e);
        (out, p)
    }
}

#[cfg(test)]
/// Rounds `digits` to `n` significant digits (ties to even), returning
/// exactly `n` digits and whether the decimal exponent increased by one.
fn round_digits(digits: &[u8], n: usize) -> (Vec<u8>, bool) {
    if digits.len() <= n {
        let mut v = digits.to_vec();
        v.resize(n, b'0');
        return (v, false);
    }
    let mut v = digits[..n].to_vec();
    let next = digits[n];
    let rest_nonzero = digits[n + 1..].iter().any(|&c| c != b'0');
    let up = next > b'5' || (next == b'5' && (rest_nonzero || (v[n - 1] - b'0') % 2 == 1));
    if !up {
        return (v, false);
    }
    for c in v.iter_mut().rev() {
        if *c == b'9' {
            *c = b'0';
        } else {
            *c += 1;
            return (v, false);
        }
    }
    v.insert(0, b'1');
    v.truncate(n);
    (v, true)
}

/// Appends `v` formatted as C `printf("%.17g", v)` (glibc), which is how
/// Redis 7.0 replies with doubles (ZSCORE, ZINCRBY, ZRANGE WITHSCORES, ...;
/// also the text of a RESP3 `,` double). Infinities are `inf`/`-inf`.
pub fn write_double_resp(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(if v.is_sign_negative() { b"-nan" } else { b"nan" });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    let a = v.abs();
    if a == 0.0 {
        out.push(b'0');
        return;
    }
    if a < 1e17 && a.fract() == 0.0 {
        write_u64(out, a as u64);
        return;
    }
    let (digits, x) = digits17(a);
    layout_g17(out, &digits, x);
}

/// A `fmt::Write` sink over a small stack buffer.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The 17 significant digits of finite `a > 0`, correctly rounded (ties to
/// even, like glibc), and the decimal exponent of the first one. Uses the
/// standard library's exact formatting; `digits17_exact` is the bignum
/// reference the tests compare it with.
fn digits17(a: f64) -> ([u8; 17], i64) {
    use std::fmt::Write;
    let mut sb = StackBuf { buf: [0; 40], len: 0 };
    // "d.dddddddddddddddde<exp>"
    write!(sb, "{a:.16e}").expect("fits");
    let text = &sb.buf[..sb.len];
    let mut digits = [b'0'; 17];
    digits[0] = text[0];
    digits[1..].copy_from_slice(&text[2..18]);
    let exp_text = &text[19..];
    let (neg, mag) = match exp_text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp_text),
    };
    let x = mag.iter().fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'));
    (digits, if neg { -x } else { x })
}

/// Lays out 17 significant digits with decimal exponent `x` as `%.17g`
/// does: fixed notation for -4 <= x < 17, else `d.ddde+XX`, trailing zeros
/// removed.
fn layout_g17(out: &mut Vec<u8>, digits: &[u8; 17], x: i64) {
    let mut r: &[u8] = digits;
    while r.len() > 1 && r.last() == Some(&b'0') {
        r = &r[..r.len() - 1];
    }
    if (-4..17).contains(&x) {
        if x >= 0 {
            let int_len = x as usize + 1;
            if r.len() <= int_len {
                out.extend_from_slice(r);
                out.extend(std::iter::repeat_n(b'0', int_len - r.len()));
            } else {
                out.extend_from_slice(&r[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&r[int_len..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-x - 1) as usize));
            out.extend_from_slice(r);
        }
    } else {
        out.push(r[0]);
        if r.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&r[1..]);
        }
        out.push(b'e');
        out.push(if x < 0 { b'-' } else { b'+' });
        if x.abs() < 10 {
            out.push(b'0');
        }
        write_u64(out, x.unsigned_abs());
    }
}

/// Bignum reference for [`digits17`].
#[cfg(test)]
fn digits17_exact(a: f64) -> ([u8; 17], i64) {
    let bits = a.to_bits();
    let exp = (bits >> 52) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (m, e) = if exp == 0 { (frac, -1074) } else { (frac | (1 << 52), exp - 1075) };
    let (digits, point) = exact_digits(m, e);
    let (r, carried) = round_digits(&digits, 17);
    let mut out = [b'0'; 17];
    out.copy_from_slice(&r);
    (out, point - 1 + i64::from(carried))
}

/// [`write_double_resp`] into a new buffer.
pub fn fmt_double_resp(v: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    write_double_resp(&mut out, v);
    out
}

/// Appends `v` in Redis' "human" long double format (`"%.17Lf"` with
/// trailing zeros and `.` stripped, `-0` as `0`), as used by GEOPOS
/// coordinates; see [`LongDouble::write_human`].
pub fn write_double_human(out: &mut Vec<u8>, v: f64) {
    LongDouble::from_f64(v).write_human(out);
}

/// [`write_double_human`] into a new buffer.
pub fn fmt_double_human(v: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    write_double_human(&mut out, v);
    out
}

// ---------------------------------------------------------------------------
// INCRBYFLOAT
// ---------------------------------------------------------------------------

/// Why [`incr_by_float`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value does not parse ([`parse_long_double`]). INCRBYFLOAT
    /// replies "ERR value is not a valid float"; HINCRBYFLOAT replies "ERR
    /// hash value is not a float".
    InvalidCurrent,
    /// The increment does not parse: "ERR value is not a valid float".
    InvalidIncrement,
    /// The sum is infinite or NaN (including an `inf` operand):
    /// "ERR increment would produce NaN or Infinity".
    NanOrInfinity,
}

impl IncrFloatError {
    /// The error reply INCRBYFLOAT sends, without the leading `-`.
    pub fn message(self) -> &'static str {
        match self {
            IncrFloatError::InvalidCurrent | IncrFloatError::InvalidIncrement => {
                "ERR value is not a valid float"
            }
            IncrFloatError::NanOrInfinity => "ERR increment would produce NaN or Infinity",
        }
    }
}

/// INCRBYFLOAT: parses both operands as `long double`, adds them with x87
/// extended precision and formats the result in the human format. Pass
/// `b"0"` as `current` for a missing key. Returns the new value, which is
/// also the reply. The current value is checked first.
///
/// HINCRBYFLOAT uses the same arithmetic, but Redis 7.0 checks the increment
/// first and replies "ERR value is NaN or Infinity" for an `inf` increment.
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let a = parse_long_double(current).ok_or(IncrFloatError::InvalidCurrent)?;
    let b = parse_long_double(incr).ok_or(IncrFloatError::InvalidIncrement)?;
    let r = a.add(&b);
    if !r.is_finite() {
        return Err(IncrFloatError::NanOrInfinity);
    }
    Ok(r.to_human())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> String {
        String::from_utf8_lossy(v).into_owned()
    }

    fn incr_reply(cur: &[u8], inc: &[u8]) -> Vec<u8> {
        match incr_by_float(cur, inc) {
            Ok(v) => v,
            Err(e) => format!("-{}", e.message()).into_bytes(),
        }
    }

    fn zscore_reply(score: &[u8]) -> Vec<u8> {
        match parse_f64(score) {
            Some(v) => fmt_double_resp(v),
            None => b"-ERR value is not a valid float".to_vec(),
        }
    }

    // The tables below are replies recorded from Redis 7.0.15 (x86-64):
    // `SET k <current>` + `INCRBYFLOAT k <incr>`, `ZADD z <score> m` +
    // `ZSCORE z m` (skiplist encoding for negative zero), `SET i <v>` +
    // `INCRBY i 0`.

    #[rustfmt::skip]
    const INCR_TABLE: &[(&[u8], &[u8], &[u8])] = &[
        (b"0.1", b"0.2", b"0.3"),
        (b"10.5", b"0.1", b"10.6"),
        (b"5.0e3", b"2.0e2", b"5200"),
        (b"1e20", b"0.1", b"100000000000000000000"),
        (b"3.0", b"-3.0", b"0"),
        (b"0.000003814697265625", b"0", b"0.00000381469726562"),
        (b"0.0000038146972656250", b"0.000000000000000005", b"0.00000381469726563"),
        (b"-4258.49999919999999998", b"6.85824", b"-4251.64175920000000009"),
        (b"12253935161.18201999925076962", b"0.5983891860", b"12253935161.7804091852158308"),
        (b"708600001000000702644224", b"-86052.e-15", b"708600001000000702644224"),
        (b"691237", b"-215198565.9", b"-214507328.89999999999417923"),
        (b"-863624.53595419936004873", b"239.54041", b"-863384.99554419936004024"),
        (b"265864.39400000000000546", b"1.910586822", b"265866.30458682200000453"),
        (b"128.67", b"695", b"823.66999999999999998"),
        (b"-168927509673347189", b"288454300.377", b"-168927509384892888.625"),
        (b"2000038019607499.33837890625", b"34.85", b"2000038019607534.1883544921875"),
        (b"99192642315000000004391789096075264", b"2.", b"99192642315000000004391789096075264"),
        (b"859E+29", b"570E+71", b"57000000000000000002683895572730040056923756152618192428417305455313813504"),
        (b"991857000000000000325058560", b"-649.3252103", b"991857000000000000325058560"),
        (b"703363916.20162822003476322", b"80.3e-9", b"703363916.20162830036133528"),
        (b"47370000000005796967657504768", b"-20494.723", b"47370000000005796967657504768"),
        (b"620446574601000264828715008", b"0.89552748", b"620446574601000264828715008"),
        (b"182714000000999960891883520", b"0.8", b"182714000000999960891883520"),
        (b"-4175240402514.56288337707519531", b"1.98", b"-4175240402512.58288335800170898"),
        (b"2149116390210.4802175760269165", b"13.4544", b"2149116390223.93461751937866211"),
        (b"-0691849664958547667115180", b"+0xD9dA720F1Cc88C5Abf0P-61", b"-691849664958547667124224"),
        (b"1999988498669213.9351806640625", b"-66344.5838871", b"1999988498602869.351318359375"),
        (b"1000004401692671.0999755859375", b"75.11668605", b"1000004401692746.2166748046875"),
        (b"633020228400000074672466261180416", b"-5.", b"633020228400000074672466261180416"),
        (b"84678059e-14", b"+606772.394612356866", b"606772.39461320364659969"),
        (b"+0X88a46d.P-16377", b"-0.1", b"-0.1"),
        (b"-14578321.93398908795825264", b"851689.", b"-13726632.93398908795825264"),
        (b"-90810957344.95243474841117859", b"1412492.", b"-90809544852.95243474841117859"),
        (b"-64196944243.96552571281790733", b"7e9", b"-57196944243.96552571281790733"),
        (b"583e+25", b"1", b"5829999999999999999899336704"),
        (b"732340394045852.44879150390625", b"-375.7e16", b"-3756267659605954147.5"),
        (b"8.26", b"78012080091776560320", b"78012080091776560328"),
        (b"438938111502000020067975168", b"0.462783641", b"438938111502000020067975168"),
        (b"7010000000000521109504", b"697571.420e-10", b"7010000000000521109504"),
        (b"999995742764665.049072265625", b"1e-17", b"999995742764665.049072265625"),
        (b"-0XE8eD3866dc2ebc076dC", b"3", b"-68747810409314617683968"),
        (b"1999477485758352.3232421875", b"-9.5121", b"1999477485758342.8111572265625"),
        (b"7969503601100957576331264", b"739264821.09", b"7969503601100958315577344"),
        (b"597215951144.34041249752044678", b"5.72265036731e3", b"597215956866.9907798171043396"),
        (b"84545494162700000077480460288", b"-9.8557450255", b"84545494162700000077480460288"),
        (b"1.5", b"-0x0.p1060", b"1.5"),
        (b"1000444008506630.7874755859375", b"280.83131430", b"1000444008506911.6187744140625"),
        (b"-0x9aFp-16437", b"1682267994174673284", b"1682267994174673284"),
        (b"999999659328422.91937255859375", b"0.01", b"999999659328422.92938232421875"),
        (b"-4438526489002730240508010E-321", b"1", b"1"),
        (b"-197999988428122029.109375", b"-38", b"-197999988428122067.109375"),
        (b"758027121.68047549994662404", b"75327292950", b"76085320071.68047550320625305"),
        (b"2142746722.63995905045885593", b"-0.3", b"2142746722.3399590504122898"),
        (b"914354999113084575104", b"0.01", b"914354999113084575104"),
        (b"0.1", b"+.85e-179", b"0.1"),
        (b"535803792521132.615938e-330", b"-0.1", b"-0.1"),
        (b"-0.0", b"1e-20", b"0"),
        (b"-579450203176966681.625", b"13.0850461", b"-579450203176966668.5625"),
        (b"6453094069.78358649834990501", b"-0.8008", b"6453094068.98278649849817157"),
        (b"4600999999999255830", b"2247.928", b"4600999999999258078"),
        (b"0XD3e0C10Cb8CB42eA9", b"-0.1", b"244278639954721255088"),
        (b"438938111502000027684831232", b"-31.", b"438938111502000027684831232"),
        (b"-5936.5017148229495E-2", b"2622612553680477015991360e43", b"26226125536804770160245497408255154345564620926092736191613701718016"),
        (b"-0xBB51a0E1E.5e1fAFep-16439", b"+17", b"17"),
        (b"69261745699163791607484907520", b"0.1", b"69261745699163791607484907520"),
        (b"-540.482035016", b"0e99999999999999999999", b"-540.48203501599999998"),
        (b"12254300773.73497618548572063", b"3.7817", b"12254300777.51667618565261364"),
        (b"-534308942385027649312", b"-6.", b"-534308942385027649312"),
        (b"-763616253962E+27", b"3", b"-763616253961999999997498485560481677312"),
        (b"-4212709225280552.261962890625", b"1e-17", b"-4212709225280552.261962890625"),
        (b"2836693234056262774", b"1e-17", b"2836693234056262774"),
        (b"-62611.32805210000000073", b"0.1", b"-62611.22805209999999931"),
        (b"0.2", b"651554451345E-397", b"0.2"),
        (b"1000039805129373.224365234375", b"1e-17", b"1000039805129373.224365234375"),
        (b"429226.56983883736000962", b"-6455", b"422771.56983883736000962"),
        (b"167.30226382000000926", b"1e15", b"1000000000000167.30224609375"),
        (b"-4040.5417592", b"2487603217", b"2487599176.45824080007150769"),
        (b"733354014.25767606894E-205", b"1e20", b"100000000000000000000"),
        (b"264664403099917503781333368832", b"70664.58", b"264664403099917503781333368832"),
        (b"-389434890999999999002451248152576", b"-14228.7453365", b"-389434890999999999002451248152576"),
        (b"-134537265670740.65E-15", b"0.1", b"-0.03453726567074065"),
        (b"0x1p-16445", b"1e20", b"100000000000000000000"),
        (b"84", b"1", b"85"),
        (b"1294025681436912.10400390625", b"91.7", b"1294025681437003.803955078125"),
        (b"1.5", b"0.1", b"1.6"),
        (b"3.0", b"0x3.FD46C507C40fCCE89C", b"6.98936110915752735"),
        (b"6e-219", b"31.203573", b"31.203573"),
        (b"+0x8040C9ec2p26", b"-0187893300044173194", b"2122508812793475190"),
        (b"526209207.6848967999976594", b"0.1", b"526209207.78489680000348017"),
        (b"1994464337935546.231201171875", b"944636972.8", b"1994465282572519.03125"),
        (b"533327058792.45000001788139343", b"-6.e-2", b"533327058792.39000001549720764"),
        (b"-7E-2508", b"3.0", b"3"),
        (b"41689879581410583707648", b"3.", b"41689879581410583707648"),
        (b"-36547909999999998999689131196416", b"23.e15", b"-36547909999999976000104901378048"),
        (b"0.41230000000000001", b"4412e6", b"4412000000.41229999996721745"),
        (b"5618058.71199280800010456", b"23721493748.4", b"23727111807.11199280805885792"),
        (b"-3.0", b"665058986994260840097E6", b"665058986994260840089124864"),
        (b"-0.842", b"0.01", b"-0.832"),
        (b"0.68", b"5e-18", b"0.68"),
        (b"34652885704447771.07e-4100", b"591596.42", b"591596.42000000000001592"),
        (b"900.16637629165000001", b"1e-17", b"900.16637629165000001"),
        (b"1000149687602408.97076416015625", b"1.3", b"1000149687602410.270751953125"),
        (b"95028e-178", b"14318101733210.751418590545654296875", b"14318101733210.7514190673828125"),
        (b"-0.1", b"2536177668.077035780414007604122161865234375", b"2536177667.97703578043729067"),
        (b"-3160076071100394057728", b"-0.92", b"-3160076071100394057728"),
        (b"-96099998999735123107840", b"6205426746e17", b"620446574601000264828715008"),
        (b"999398121530025.027587890625", b"0.01", b"999398121530025.03759765625"),
        (b"8045520663.11666068993508816", b"73024.e-17", b"8045520663.11666068993508816"),
        (b"999999605228888.92864990234375", b"90", b"999999605228978.92864990234375"),
        (b"1000008353260748.4422607421875", b"-150429", b"1000008353110319.4422607421875"),
        (b"1000007052240997.06512451171875", b"5e-18", b"1000007052240997.06512451171875"),
        (b"-1221134999999998999451146387456", b"34772", b"-1221134999999998999451146387456"),
        (b"1000000000811257.5", b"0.01", b"1000000000811257.510009765625"),
        (b"394825422.559055443522E-327", b"-0.1", b"-0.1"),
        (b"905483200001000000406421504", b"962.3983838", b"905483200001000000406421504"),
        (b"82581223778288715.84E-13", b"72644323160792643522E-22", b"8258.12964226118766309"),
        (b"1000000008633152.74859619140625", b"-0.3", b"1000000008633152.4486083984375"),
        (b"790390840.70000000001164153", b"-19.3", b"790390821.40000000002328306"),
        (b"999972771142794.2265625", b"-198.6569", b"999972771142595.56964111328125"),
        (b"-863623.935954199360026", b"-0.6", b"-863624.53595419936004873"),
        (b"9923534645.11197415553033352", b"0.10", b"9923534645.21197415515780449"),
        (b"556960200000415633899520", b"-842826.8751", b"556960200000415633047552"),
        (b"806258932.7099999999627471", b"0.1", b"806258932.80999999993946403"),
        (b"7768240131147371393096926", b"-5936.5017148229495E-2", b"7768240131147371393318912"),
        (b"524052000000546890973184", b"-1867385", b"524052000000546889105408"),
        (b"2000253046343228.6055908203125", b"965.", b"2000253046344193.6055908203125"),
        (b"999996005422130.25201416015625", b"0.1171", b"999996005422130.369140625"),
        (b"99192642315000000004391789096075264", b"0.890901", b"99192642315000000004391789096075264"),
        (b"2000000000000000529399808", b"-559742.7", b"2000000000000000528875520"),
        (b"7893497244459999916086788096", b"205.838805", b"7893497244459999916086788096"),
        (b"5.0e3", b"-0.1", b"4999.89999999999999991"),
        (b"7893497244460000000375521280", b"97132", b"7893497244460000000375521280"),
        (b"5796890045998342.294921875", b"7.7", b"5796890045998349.9951171875"),
        (b"999949566527516.67767333984375", b"7.038e17", b"704799949566527516.6875"),
        (b"99.", b"0.1", b"99.1"),
        (b"2142746721.78062203084118664", b"0.85933701967", b"2142746722.63995905045885593"),
        (b"73677585703999999987188498432", b"9839226290.", b"73677585703999999995778433024"),
        (b"-5011980854.7884079716168344", b"423.39730", b"-5011980431.39110797178000212"),
        (b"-0.3", b"-919827.6", b"-919827.90000000000003411"),
        (b"976.E-5", b"-43160E+29", b"-4315999999999999999972172906889216"),
        (b"36012894800435074512896", b"0.716188427", b"36012894800435074512896"),
        (b"4208412080000000000926941184", b"2519163475e21", b"2523371887080000000010894704640"),
        (b"-69026990725.38160578161478043", b"55632.655e7", b"487299559274.61839422583580017"),
        (b"0.01", b"6.7e9", b"6700000000.00999999977648258"),
        (b"2.0e2", b"-6324264.80217", b"-6324064.80216999999993277"),
        (b"-6654999997508972.111328125", b"0.1", b"-6654999997508972.01123046875"),
        (b"277520789355083603.765625", b"-90715.5", b"277520789354992888.265625"),
        (b"914208772.35523566917981952", b"-6107896630", b"-5193687857.64476433070376515"),
        (b"1000000001737719.6259765625", b"-7.819", b"1000000001737711.8070068359375"),
        (b"277520848328153080.1875", b"7846973928.e-17", b"277520848328153080.1875"),
        (b"999999605228978.92864990234375", b"0.0", b"999999605228978.92864990234375"),
        (b"1088423562755.95724529027938843", b"3.8404", b"1088423562759.79764527082443237"),
        (b"-0.51777120000001174", b"548.04e-4", b"-0.46296720000001174"),
        (b"3", b".5", b"3.5"),
        (b"136883821.66798499999276828", b"-75.7", b"136883745.96798499999567866"),
        (b"1000053925573999.73089599609375", b"-0.3", b"1000053925573999.430908203125"),
        (b"17866", b"2172336.9982", b"2190202.99819999999999709"),
        (b"5579770000397116190208", b"1e15", b"5579771000397116190208"),
        (b"0", b"875.10678", b"875.10677999999999999"),
        (b"613", b"976976723275e-9", b"1589.976723275"),
        (b"7068746616319559652081664", b"-5.4", b"7068746616319559652081664"),
        (b"1294025681368033.10400390625", b"68879", b"1294025681436912.10400390625"),
        (b"1000000000000008.737060546875", b"5182.6670643e-22", b"1000000000000008.737060546875"),
        (b"9365146000000000999899088814080", b"24012.0841", b"9365146000000000999899088814080"),
        (b"68427.4727804819615170E+11", b"-1e20", b"-99993157252721951800"),
        (b"590426643550.e-9", b"0.2", b"590.62664354999999999"),
        (b"-157846312250.64952372014522552", b"-9011902", b"-157855324152.64952372014522552"),
        (b"78.2273632", b"0.01", b"78.2373632"),
        (b"0.1", b"+.81942E18", b"819420000000000000.125"),
        (b"432179116853805.088592529296875", b"-838.37", b"432179116852966.718597412109375"),
        (b"-0.29", b"370698984", b"370698983.70999999999185093"),
        (b"-96586999999997000003277029376", b"6.588714091", b"-96586999999997000003277029376"),
        (b"-7729508739520121790", b"530234473786", b"-7729508209285648004"),
        (b"900000", b"0.9", b"900000.89999999999997726"),
        (b"999999979431233.3084716796875", b"1.0e-20", b"999999979431233.3084716796875"),
        (b"83498402439600839499776", b"-0.8", b"83498402439600839499776"),
        (b"1590.976723275", b"465699.8128", b"467290.78952327500002184"),
        (b"+9693940467377724740481650013254881448877e+643", b" 951", b"-ERR value is not a valid float"),
        (b"-30", b"I9-fbXFe", b"-ERR value is not a valid float"),
        (b"-9.E+15", b"n47", b"-ERR value is not a valid float"),
        (b"77368.817E-179", b"51P+", b"-ERR value is not a valid float"),
        (b"-0Xf8c.3A23P-16469", b"488177738637059981510366980502192128", b"-ERR value is not a valid float"),
        (b"1e+", b"-0xe80bAE", b"-ERR value is not a valid float"),
        (b"2119285168308866408E4944", b"-7.E+306", b"-ERR value is not a valid float"),
        (b"2.0e2", b"Npa", b"-ERR value is not a valid float"),
        (b"61E1288", b"+0xFEc26AaeEfp-16590", b"-ERR value is not a valid float"),
        (b"0x0.8B19c0aa9C1p-16450", b"805913634.990077276626834645867347717285156249999", b"-ERR value is not a valid float"),
        (b"0X3d8ff6eE1ab.86E08dB9fE5826p16379", b"0.1", b"-ERR value is not a valid float"),
        (b"a3\x090I", b"-5886949040036812056114723646252957310239E227", b"-ERR value is not a valid float"),
        (b"bia", b"10.5e4947", b"-ERR value is not a valid float"),
        (b"9npIn ", b"783551408471.", b"-ERR value is not a valid float"),
        (b"A6", b"3", b"-ERR value is not a valid float"),
        (b"0x1.0000000000000001p-16446", b"-0.1", b"-ERR value is not a valid float"),
        (b"-976261243456920485.14E+12", b"9 1a7b0i", b"-ERR value is not a valid float"),
        (b"IN2-b57", b".41602146e-22", b"-ERR value is not a valid float"),
        (b"10.5", b"\x096", b"-ERR value is not a valid float"),
        (b"p.i-1I", b"0.2", b"-ERR value is not a valid float"),
        (b"53.5515752774E4938", b"-0x04A.CCbfBC41", b"-ERR value is not a valid float"),
        (b"-", b"-5119622294.20E-10", b"-ERR value is not a valid float"),
        (b"nF4AX", b"-0XAe01e.1c95B49bCeFEP1000", b"-ERR value is not a valid float"),
        (b"1.7976931348623157e308", b"-9.8420E-4961", b"-ERR value is not a valid float"),
        (b"91Nx", b"+28341E-499", b"-ERR value is not a valid float"),
        (b"829.72293617249989303E-2", b"10e4934", b"-ERR value is not a valid float"),
        (b"", b"3.0", b"-ERR value is not a valid float"),
        (b"54226308343358830261e-14", b"bb-p0En0", b"-ERR value is not a valid float"),
        (b"7\x093pP", b"EFF", b"-ERR value is not a valid float"),
        (b"", b"0.1", b"-ERR value is not a valid float"),
    ];

    #[test]
    fn incr_by_float_matches_redis() {
        for &(cur, inc, want) in INCR_TABLE {
            assert_eq!(s(&incr_reply(cur, inc)), s(want), "{:?} + {:?}", s(cur), s(inc));
        }
    }

    #[rustfmt::skip]
    const ZSCORE_TABLE: &[(&[u8], &[u8])] = &[
        (b"98E+2153", b"-ERR value is not a valid float"),
        (b"0.1", b"0.10000000000000001"),
        (b"0.000003814697265625", b"3.814697265625e-06"),
        (b"0911666858722.287490736379E+10", b"9.1166685872228747e+21"),
        (b"6558102675003.2190139293670654296875", b"6558102675003.2188"),
        (b"-0x42A8bAB1.bE4366P16383", b"-ERR value is not a valid float"),
        (b"9157384919317383122918681865856357278792e+16", b"9.1573849193173831e+55"),
        (b"-i\x098", b"-ERR value is not a valid float"),
        (b"-0.1", b"-0.10000000000000001"),
        (b"1.5", b"1.5"),
        (b"654293135581e+367", b"-ERR value is not a valid float"),
        (b"1e4932", b"-ERR value is not a valid float"),
        (b"+7441903856325290335E-27", b"7.4419038563252902e-09"),
        (b"820907253.134E1", b"8209072531.3400002"),
        (b"3.0", b"3"),
        (b"2", b"2"),
        (b"4E-192", b"4.0000000000000004e-192"),
        (b"1e-20", b"9.9999999999999995e-21"),
        (b"\x001E6Ip", b"-ERR value is not a valid float"),
        (b"+E87XIF-", b"-ERR value is not a valid float"),
        (b"0x1p16384", b"-ERR value is not a valid float"),
        (b"4861290626013.913241614151209962423795979e-315", b"4.8612906260139135e-303"),
        (b"+68822e3527", b"-ERR value is not a valid float"),
        (b".9", b"0.90000000000000002"),
        (b"", b"-ERR value is not a valid float"),
        (b"5.0e3", b"5000"),
        (b"+0X7e.fD894Ep16300", b"-ERR value is not a valid float"),
        (b"37889477267889926034081956272532.46795321E+9", b"3.7889477267889928e+40"),
        (b"+1025447894928071978438215527583936287462e-6", b"1.025447894928072e+33"),
        (b"43988837280928006254E-11", b"439888372.80928004"),
        (b"0Xb0P-1012", b"4.0101171107560186e-303"),
        (b"12.", b"12"),
        (b"+45.e-188", b"4.4999999999999998e-187"),
        (b"+0Xdf6d3B16Ac94F07P-1071", b"3.9771269707768237e-305"),
        (b"-0xaceDE", b"-708318"),
        (b"1e20", b"1e+20"),
        (b"82285651370995143E1141", b"-ERR value is not a valid float"),
        (b"43.", b"43"),
        (b"1050483624681843211900463214300987097198e4890", b"-ERR value is not a valid float"),
        (b"P", b"-ERR value is not a valid float"),
        (b"-0X8a06F29eb3ebdd6AFDDEBE", b"-1.6686457285352511e+26"),
        (b"+49", b"49"),
        (b"-0x5bE84dFa.Ap-16562", b"-ERR value is not a valid float"),
        (b"1e+", b"-ERR value is not a valid float"),
        (b"1429983178.5071141", b"1429983178.5071142"),
        (b"-0XaP16387", b"-ERR value is not a valid float"),
        (b"9.99e4931", b"-ERR value is not a valid float"),
        (b"A 5", b"-ERR value is not a valid float"),
        (b"\x091", b"-ERR value is not a valid float"),
        (b"+0198164760294427225727303E-237", b"1.9816476029442724e-214"),
        (b"e", b"-ERR value is not a valid float"),
        (b"0x9.FAp16346", b"-ERR value is not a valid float"),
        (b"0.55174931563826422164", b"0.55174931563826424"),
        (b"-1e4932", b"-ERR value is not a valid float"),
        (b".0", b"0"),
        (b"6e-306", b"6.0000000000000005e-306"),
        (b"851810.37736975085e4717", b"-ERR value is not a valid float"),
        (b"17503462.E-234", b"1.7503462e-227"),
        (b"-7E-321", b"-7.0009102015704635e-321"),
        (b"\x00-", b"-ERR value is not a valid float"),
        (b"531.377269911e306", b"-ERR value is not a valid float"),
        (b"-10344353E+90", b"-1.0344353000000001e+97"),
        (b"9015462381236654123515904", b"9.0154623812366537e+24"),
        (b"+0XaAb3caD1DF72P-59", b"0.00032558882433850536"),
        (b"4.6610e1", b"46.609999999999999"),
        (b"10.5", b"10.5"),
        (b"88.2e-4936", b"-ERR value is not a valid float"),
        (b"8121019225874885756941466293004244952939e22", b"8.1210192258748857e+61"),
        (b"+87.", b"87"),
        (b"+.4072836988764659787041551E+344", b"-ERR value is not a valid float"),
        (b"+0X5c69ad.4P16312", b"-ERR value is not a valid float"),
        (b"40.700952514346081e316", b"-ERR value is not a valid float"),
        (b"-283991320741893780685", b"-2.8399132074189377e+20"),
        (b"-58.808E+4945", b"-ERR value is not a valid float"),
        (b"2.0e2", b"200"),
        (b"+50.437E-101", b"5.0437000000000001e-100"),
        (b"68117409714920703708E4936", b"-ERR value is not a valid float"),
        (b"N2+1n\x00", b"-ERR value is not a valid float"),
        (b"-0Xe19D7B022749.d0db0F", b"-248066489853769.81"),
        (b"0.2", b"0.20000000000000001"),
        (b"955488.050067299639E-250", b"9.5548805006729961e-245"),
        (b"14541384e+9", b"14541384000000000"),
        (b"+967794844899E-28", b"9.6779484489900005e-17"),
        (b"61669.E14", b"6.1669e+18"),
    ];

    #[test]
    fn zadd_zscore_match_redis() {
        for &(score, want) in ZSCORE_TABLE {
            assert_eq!(s(&zscore_reply(score)), s(want), "{:?}", s(score));
        }
    }

    #[rustfmt::skip]
    const INT_TABLE: &[(&[u8], Option<i64>)] = &[
        (b"-0", None),
        (b"+1", None),
        (b"01", None),
        (b"0", Some(0)),
        (b"-", None),
        (b"", None),
        (b" 1", None),
        (b"9223372036854775807", Some(9223372036854775807)),
        (b"-9223372036854775808", Some(-9223372036854775808)),
        (b"9223372036854775808", None),
        (b"18446744073709551615", None),
        (b"12345678901234567890", None),
        (b"-12345678901234567890", None),
        (b"00000000000000000001", None),
        (b"+ 1", None),
        (b"8++3", None),
        (b"-27717529896845438902", None),
        (b"+2+9", None),
        (b"-57530671457117340", Some(-57530671457117340)),
        (b"4 3", None),
        (b"267 ", None),
        (b"-82625887477021", Some(-82625887477021)),
        (b"8755", Some(8755)),
        (b"-73", Some(-73)),
        (b"1925", Some(1925)),
        (b"+ 0", None),
        (b"06+9", None),
        (b"39", Some(39)),
        (b"-321312682021387110", Some(-321312682021387110)),
        (b"843 0", None),
        (b"2 4-", None),
        (b"987021850", Some(987021850)),
        (b"", None),
        (b"824740780", Some(824740780)),
        (b"8", Some(8)),
        (b"333661947308", Some(333661947308)),
        (b"03+", None),
        (b"62398", Some(62398)),
        (b"5", Some(5)),
        (b"+0", None),
        (b"135 +", None),
        (b"-5402161339", Some(-5402161339)),
        (b"-160016791", Some(-160016791)),
        (b"0", Some(0)),
    ];

    #[test]
    fn parse_i64_matches_redis() {
        for &(v, want) in INT_TABLE {
            assert_eq!(parse_i64(v), want, "{:?}", s(v));
        }
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b"00",
            b" 1",
            b"1 ",
            b"1\x00",
            b"1.0",
            b"1e3",
            b"0x10",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", s(bad));
        }
    }

    #[test]
    fn parse_u64_strict() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        for bad in [&b""[..], b"-0", b"-1", b"+1", b"01", b" 1", b"18446744073709551616"] {
            assert_eq!(parse_u64(bad), None, "{:?}", s(bad));
        }
    }

    #[test]
    fn parse_u64_lenient_like_string2ull() {
        // Checked with XADD stream IDs on Redis 7.0.
        assert_eq!(parse_u64_lenient(b"5"), Some(5));
        assert_eq!(parse_u64_lenient(b" 5"), Some(5));
        assert_eq!(parse_u64_lenient(b"\t9"), Some(9));
        assert_eq!(parse_u64_lenient(b"+5"), Some(5));
        assert_eq!(parse_u64_lenient(b"05"), Some(5));
        assert_eq!(parse_u64_lenient(b"00000000000000000000000007"), Some(7));
        assert_eq!(parse_u64_lenient(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_lenient(b"-01"), Some(u64::MAX));
        assert_eq!(parse_u64_lenient(b" -1"), Some(u64::MAX));
        assert_eq!(parse_u64_lenient(b"-18446744073709551615"), Some(1));
        for bad in [
            &b""[..],
            b"-1",
            b"+",
            b" ",
            b"10 ",
            b"1e3",
            b"0x10",
            b"18446744073709551616",
            b"-18446744073709551616",
        ] {
            assert_eq!(parse_u64_lenient(bad), None, "{:?}", s(bad));
        }
    }

    #[test]
    fn integer_formatting() {
        assert_eq!(fmt_i64(0), b"0");
        assert_eq!(fmt_i64(-1), b"-1");
        assert_eq!(fmt_i64(i64::MIN), b"-9223372036854775808");
        assert_eq!(fmt_i64(i64::MAX), b"9223372036854775807");
        assert_eq!(fmt_u64(u64::MAX), b"18446744073709551615");
        let mut out = b"x".to_vec();
        write_i64(&mut out, -42);
        assert_eq!(out, b"x-42");
    }

    #[test]
    fn parse_f64_like_string2d() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0X1P-2"), Some(0.25));
        assert_eq!(parse_f64(b"0x.8"), Some(0.5));
        assert_eq!(parse_f64(b"+.5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-INF"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"4e-320"), Some(4e-320));
        assert_eq!(parse_f64(b"5e-324"), Some(5e-324));
        assert!(parse_f64(b"-0").unwrap().is_sign_negative());
        assert_eq!(parse_f64(b"0e99999999999999999999"), Some(0.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"\t1",
            b"1\x00",
            b"\x00",
            b"nan",
            b"-nan",
            b"NaN(1)",
            b"infinit",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"2.4703282292062327e-324",
            b".",
            b"-",
            b"1e",
            b"1e+",
            b"0x",
            b"0x1p",
            b"1_0",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", s(bad));
        }
        // glibc's hex-float rounding quirk below the normal range.
        assert_eq!(parse_f64(b"0x1.00000000000008p-1075"), None);
        assert_eq!(parse_f64(b"0x1.00000000000004p-1075"), Some(5e-324));
    }

    #[test]
    fn parse_f64_decimal_subnormal_quirk() {
        // m * 2^-1076 with a 54-bit odd m: correct rounding goes up, glibc
        // (and so Redis) rounds as a tie.
        let m: u64 = (0xa_4e52_a9f5_aa5a << 2) | 3;
        let (digits, point) = exact_digits(m, -1076);
        let mut text = b"0.".to_vec();
        text.extend(std::iter::repeat_n(b'0', (-point) as usize));
        text.extend_from_slice(&digits);
        assert_eq!(parse_f64(&text).map(f64::to_bits), Some(0xa_4e52_a9f5_aa5a));
    }

    #[test]
    fn parse_f64_lenient_like_zrangebyscore() {
        assert_eq!(parse_f64_lenient(b""), Some(0.0));
        assert_eq!(parse_f64_lenient(b"\x00"), Some(0.0));
        assert_eq!(parse_f64_lenient(b" 1"), Some(1.0));
        assert_eq!(parse_f64_lenient(b"1\x00x"), Some(1.0));
        assert_eq!(parse_f64_lenient(b"0x1"), Some(1.0));
        assert_eq!(parse_f64_lenient(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_f64_lenient(b"-1e400"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_lenient(b"1e-400"), Some(0.0));
        assert_eq!(parse_f64_lenient(b"+inf"), Some(f64::INFINITY));
        for bad in [&b"1 "[..], b" ", b"-", b"nan", b"x"] {
            assert_eq!(parse_f64_lenient(bad), None, "{:?}", s(bad));
        }
    }

    #[test]
    fn parse_f64_strtod_like_sort() {
        // Checked against Redis 7.0 (SORT of a one-element list).
        for (text, v) in [
            (&b""[..], 0.0),
            (b"\x00", 0.0),
            (b"12\x00ab", 12.0),
            (b" \t\n\x0b\x0c\r3", 3.0),
            (b"+5", 5.0),
            (b".5", 0.5),
            (b"5.", 5.0),
            (b"00012", 12.0),
            (b"0x10", 16.0),
            (b"1e2", 100.0),
            (b"-0", -0.0),
            (b"0e-400", 0.0),
            (b"0x0p-2000", 0.0),
            (b"1.7976931348623157e308", f64::MAX),
            (b"2.2250738585072014e-308", f64::MIN_POSITIVE),
            (b"0x1p-1022", f64::MIN_POSITIVE),
            (b"0x1p-1074", 5e-324),
            (b"0x1P-1074", 5e-324),
            (b"0x0.0000000000001p-1022", 5e-324),
            (b"0x1.8p-1073", 3.0 * 5e-324),
            (b"inf", f64::INFINITY),
            (b"-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(parse_f64_strtod(text), Some(v), "{:?}", s(text));
        }
        // An exact subnormal written in decimal: 2^-1074 has 751 significant digits.
        let (digits, point) = exact_digits(1, -1074);
        let mut text = b"0.".to_vec();
        text.extend(std::iter::repeat_n(b'0', (-point) as usize));
        text.extend_from_slice(&digits);
        assert_eq!(parse_f64_strtod(&text), Some(5e-324));
        text.push(b'1');
        assert_eq!(parse_f64_strtod(&text), None);
        for bad in [
            &b"5 "[..],
            b" ",
            b"-",
            b"x",
            b"1e",
            b"1e+",
            b"0x",
            b"0x1p",
            b"1,5",
            b"nan",
            b"nan(123)",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"-1e-400",
            b"1.7976931348623159e308",
            b"0x1.fffffffffffff8p1023",
            b"4.9406564584124654e-324",
            b"2.2250738585072011e-308",
            b"0x1p-1075",
            b"0x1.8p-1074",
            b"1e-4000000000000",
            b"1e99999999999999999999",
        ] {
            assert_eq!(parse_f64_strtod(bad), None, "{:?}", s(bad));
        }
    }

    #[test]
    fn parse_long_double_like_string2ld() {
        let ok = |v: &[u8]| parse_long_double(v).is_some();
        assert!(ok(b"0x10"));
        assert!(ok(b"inf"));
        assert!(ok(b"-Infinity"));
        assert!(ok(b"1e-4950"));
        assert!(ok(b"4e-4940"));
        assert!(ok(b"0x1p-16445"));
        assert!(ok(b"0x1.8p-16446"));
        assert!(ok(b"1.8225997659412373013e-4951"));
        assert!(ok(b"1.18973149535723176502e4932"));
        assert!(ok(b"0e99999999999999999999"));
        let mut long = vec![b'0'; 5118];
        long.push(b'1');
        assert!(ok(&long));
        long.insert(0, b'0');
        assert!(!ok(&long), "5120 bytes is too long");
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"\t1",
            b"\x00",
            b"1\x00abc",
            b"nan",
            b"-nan",
            b"infinit",
            b"0x",
            b"1e5000",
            b"1e-5000",
            b"1e-4951",
            b"1.8225997659412373012e-4951",
            b"1.18973149535723176508e+4932",
            b"0x1p-16446",
            b".",
            b"1e",
            // glibc's hex-float quirk: the 65th bit is ignored here.
            b"0x1.0000000000000001p-16446",
        ] {
            assert!(!ok(bad), "{:?}", s(bad));
        }
    }

    #[test]
    fn long_double_bits() {
        // Memory images produced by glibc strtold and x87 addition.
        let bits = |v: &[u8]| parse_long_double(v).unwrap().to_x87_parts();
        assert_eq!(bits(b"0.1"), (0x3ffb, 0xcccc_cccc_cccc_cccd));
        assert_eq!(bits(b"1"), (0x3fff, 1 << 63));
        assert_eq!(bits(b"-2"), (0xc000, 1 << 63));
        assert_eq!(bits(b"0x1p-16445"), (0, 1));
        let sum = parse_long_double(b"0.1").unwrap().add(&parse_long_double(b"0.2").unwrap());
        assert_eq!(sum.to_x87_parts(), (0x3ffd, 0x9999_9999_9999_999a));
        assert_eq!(LongDouble::from_f64(0.1).to_x87_parts(), (0x3ffb, 0xcccc_cccc_cccc_d000));
        assert_eq!(LongDouble::from_i64(i64::MIN).to_x87_parts(), (0xc03e, 1 << 63));
        assert_eq!(parse_long_double(b"0.1").unwrap().to_f64(), 0.1);
    }

    #[test]
    fn long_double_arithmetic_edges() {
        let ld = |v: &[u8]| parse_long_double(v).unwrap();
        let zero = ld(b"3").add(&ld(b"-3"));
        assert!(zero.is_zero() && !zero.is_sign_negative());
        assert!(ld(b"-0").add(&ld(b"-0")).is_sign_negative());
        assert!(ld(b"inf").add(&ld(b"-inf")).is_nan());
        assert!(ld(b"1e4932").add(&ld(b"1e4932")).is_infinite());
        assert_eq!(ld(b"1e19").add(&ld(b"0.5")).to_human(), b"10000000000000000000");
        assert_eq!(ld(b"2.5").mul(&LongDouble::from_i64(1000)).to_human(), b"2500");
        assert_eq!(ld(b"0.0001").mul(&LongDouble::from_i64(1000)).ceil_to_i64(), 1);
        assert_eq!(ld(b"-0.0001").mul(&LongDouble::from_i64(1000)).ceil_to_i64(), 0);
        assert_eq!(ld(b"-2.5").ceil_to_i64(), -2);
        assert_eq!(ld(b"2.5").ceil_to_i64(), 3);
        assert_eq!(ld(b"1e20").ceil_to_i64(), i64::MIN);
        assert_eq!(ld(b"inf").ceil_to_i64(), i64::MIN);
        assert_eq!(ld(b"9223372036854775807").ceil_to_i64(), i64::MAX);
        assert_eq!(ld(b"1e-4940").sub(&ld(b"1e-4940")).to_human(), b"0");
    }

    #[test]
    fn incr_by_float_examples() {
        assert_eq!(incr_reply(b"10.5", b"0.1"), b"10.6");
        assert_eq!(incr_reply(b"0", b"0.1"), b"0.1");
        assert_eq!(incr_reply(b"-1e-30", b"0"), b"0");
        assert_eq!(incr_reply(b"1e-4940", b"0"), b"0");
        assert_eq!(incr_reply(b"1.5e25", b"0"), b"15000000000000000000000000");
        assert_eq!(incr_reply(b"123456789012345678", b"0.5"), b"123456789012345678.5");
        assert_eq!(incr_reply(b"0x10", b"0"), b"16");
        assert_eq!(incr_by_float(b"abc", b"1"), Err(IncrFloatError::InvalidCurrent));
        assert_eq!(incr_by_float(b"1", b"abc"), Err(IncrFloatError::InvalidIncrement));
        for (a, b) in [
            (&b"1"[..], &b"inf"[..]),
            (b"inf", b"0"),
            (b"inf", b"-inf"),
            (b"1e4932", b"1e4932"),
            (b"-1e4932", b"-1e4932"),
        ] {
            assert_eq!(incr_by_float(a, b), Err(IncrFloatError::NanOrInfinity));
        }
        assert_eq!(
            IncrFloatError::NanOrInfinity.message(),
            "ERR increment would produce NaN or Infinity"
        );
    }

    #[test]
    fn incr_by_float_huge_results() {
        // (current, length, prefix, suffix) recorded from Redis 7.0.
        type Case<'a> = (&'a [u8], usize, &'a [u8], &'a [u8]);
        let cases: [Case; 4] = [
            (b"1e4932", 4933, b"1000000000000000000006018949387963891323", b"38418113791886622720"),
            (
                b"1.18973149535723176502e4932",
                4933,
                b"1189731495357231765021263853030970205169",
                b"19552086811989770240",
            ),
            (
                b"0x1p16383",
                4932,
                b"5948657476786158825428796633140035653817",
                b"23513645334982033408",
            ),
            (b"1e300", 301, b"1000000000000000000008997324079559193870", b"90089424915104006144"),
        ];
        for (cur, len, prefix, suffix) in cases {
            let inc: &[u8] = if cur == b"1e300" { b"1" } else { b"0" };
            let v = incr_by_float(cur, inc).unwrap();
            assert_eq!(v.len(), len, "{}", s(cur));
            assert!(v.starts_with(prefix) && v.ends_with(suffix), "{}", s(cur));
        }
    }

    #[test]
    fn double_resp_format() {
        let f = |v: f64| s(&fmt_double_resp(v));
        assert_eq!(f(0.1), "0.10000000000000001");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-1.5), "-1.5");
        assert_eq!(f(1e15), "1000000000000000");
        assert_eq!(f(1e16), "10000000000000000");
        assert_eq!(f(1e17), "1e+17");
        assert_eq!(f(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(f(1e-4), "0.0001");
        assert_eq!(f(1.5e-5), "1.5e-05");
        assert_eq!(f(1e-5), "1.0000000000000001e-05");
        assert_eq!(f(1e300), "1.0000000000000001e+300");
        assert_eq!(f(5e-324), "4.9406564584124654e-324");
        assert_eq!(f(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(f(2f64.powi(-25)), "2.9802322387695312e-08"); // exact tie
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(f(f64::NAN), "nan");
        assert_eq!(f(0.3), "0.29999999999999999");
        assert_eq!(f(100.0 / 3.0), "33.333333333333336");
    }

    #[test]
    fn digits17_matches_exact_reference() {
        let mut st: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        };
        let mut vals: Vec<f64> = (0..20_000).map(|_| f64::from_bits(next() >> 1)).collect();
        // Exact ties at the 17th digit (2^-25 = 2.98023223876953125e-8, ...).
        vals.extend((1..1075).map(|k| 2f64.powi(-k)));
        vals.extend((1..1075).map(|k| 3.0 * 2f64.powi(-k)));
        vals.extend((0..5000).map(|i| f64::from(i) / 1000.0 + 0.001));
        for v in vals {
            if v.is_finite() && v > 0.0 {
                assert_eq!(digits17(v), digits17_exact(v), "{v:e}");
            }
        }
    }

    #[test]
    fn double_human_format() {
        let h = |v: f64| s(&fmt_double_human(v));
        assert_eq!(h(0.1), "0.10000000000000001");
        assert_eq!(h(1.5), "1.5");
        assert_eq!(h(-0.0), "0");
        assert_eq!(h(-1e-20), "0");
        assert_eq!(h(1e20), "100000000000000000000");
        assert_eq!(h(f64::INFINITY), "inf");
        assert_eq!(h(-2.25), "-2.25");
        assert_eq!(h(13.361389338970184), "13.36138933897018433");
    }
}
