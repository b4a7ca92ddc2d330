//! Decoders for the encodings older RDB files hold: the ziplist (lists, hashes and sorted sets
//! of Redis before 7.0, and quicklist nodes of RDB type 14) and the zipmap (hashes of Redis
//! before 2.6). Vireo never writes them.
//!
//! Ziplist: total bytes (u32 LE), offset of the last element (u32 LE), count (u16 LE), the
//! elements, 0xFF. An element is the previous element's length (1 byte, or 0xFE and a u32 LE),
//! an encoding, and the data:
//!
//! | encoding               | element                                   |
//! |------------------------|-------------------------------------------|
//! | `00pppppp`             | string of up to 63 bytes                  |
//! | `01pppppp qqqqqqqq`    | string, 14-bit length (big-endian)        |
//! | `10000000` + u32 BE    | string, 32-bit length                     |
//! | `0xC0`/`0xD0`/`0xE0`   | i16 / i32 / i64 (LE)                      |
//! | `0xF0`                 | 24-bit signed integer (LE)                |
//! | `0xFE`                 | i8                                        |
//! | `0xF1..=0xFD`          | the integer 0..=12 in the low 4 bits, less 1 |
//!
//! Zipmap: a count byte, then `len key len free value <free bytes>` per pair, then 0xFF; a
//! length is one byte below 254, or 254 and a u32 LE.

use super::{Elem, RdbError};

fn bad(what: &str) -> RdbError {
    RdbError::Corrupt(format!("bad ziplist: {what}"))
}

/// Decodes and validates a whole ziplist.
pub fn decode(zl: &[u8]) -> Result<Vec<Elem<'_>>, RdbError> {
    if zl.len() < 11 {
        return Err(bad("too short"));
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(bad("header size mismatch"));
    }
    let hdr_count = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    let mut out = Vec::with_capacity(hdr_count.min(zl.len() / 2));
    let mut p = 10;
    let mut prev_len = 0usize;
    let get = |p: usize, n: usize| -> Result<&[u8], RdbError> {
        zl.get(p..p.checked_add(n).ok_or_else(|| bad("length overflow"))?)
            .ok_or_else(|| bad("element past the end"))
    };
    loop {
        let b = *zl.get(p).ok_or_else(|| bad("missing terminator"))?;
        if b == 0xff {
            if p != zl.len() - 1 {
                return Err(bad("data after the terminator"));
            }
            break;
        }
        let start = p;
        let prev = if b == 0xfe {
            let d = get(p + 1, 4)?;
            p += 5;
            u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize
        } else {
            p += 1;
            b as usize
        };
        if prev != prev_len {
            return Err(bad("previous-length mismatch"));
        }
        let e = get(p, 1)?[0];
        let elem = match e >> 6 {
            0 => {
                let l = (e & 0x3f) as usize;
                let s = get(p + 1, l)?;
                p += 1 + l;
                Elem::Str(s)
            }
            1 => {
                let d = get(p + 1, 1)?;
                let l = (((e & 0x3f) as usize) << 8) | d[0] as usize;
                let s = get(p + 2, l)?;
                p += 2 + l;
                Elem::Str(s)
            }
            2 => {
                if e != 0x80 {
                    return Err(bad("unknown string encoding"));
                }
                let d = get(p + 1, 4)?;
                let l = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
                let s = get(p + 5, l)?;
                p += 5 + l;
                Elem::Str(s)
            }
            _ => {
                let (n, v) = match e {
                    0xc0 => {
                        let d = get(p + 1, 2)?;
                        (2, i64::from(i16::from_le_bytes([d[0], d[1]])))
                    }
                    0xd0 => {
                        let d = get(p + 1, 4)?;
                        (4, i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]])))
                    }
                    0xe0 => {
                        let d = get(p + 1, 8)?;
                        (8, i64::from_le_bytes(d.try_into().expect("8 bytes")))
                    }
                    0xf0 => {
                        let d = get(p + 1, 3)?;
                        (3, i64::from(i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8))
                    }
                    0xfe => {
                        let d = get(p + 1, 1)?;
                        (1, i64::from(d[0] as i8))
                    }
                    0xf1..=0xfd => (0, i64::from(e & 0x0f) - 1),
                    _ => return Err(bad("unknown integer encoding")),
                };
                p += 1 + n;
                Elem::Int(v)
            }
        };
        prev_len = p - start;
        out.push(elem);
    }
    if hdr_count != 65535 && hdr_count != out.len() {
        return Err(bad("element count mismatch"));
    }
    Ok(out)
}

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes a zipmap into its (field, value) pairs.
pub fn decode_zipmap(zm: &[u8]) -> Result<Vec<Pair<'_>>, RdbError> {
    let bad = |w: &str| RdbError::Corrupt(format!("bad zipmap: {w}"));
    let get = |p: usize, n: usize| -> Result<&[u8], RdbError> {
        zm.get(p..p.checked_add(n).ok_or_else(|| bad("length overflow"))?)
            .ok_or_else(|| bad("past the end"))
    };
    let len_at = |p: &mut usize| -> Result<Option<usize>, RdbError> {
        let b = get(*p, 1)?[0];
        match b {
            0xff => Ok(None),
            254 => {
                let d = get(*p + 1, 4)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize))
            }
            253 => Err(bad("bad length byte")),
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    let mut p = 1;
    let mut out = Vec::new();
    loop {
        let Some(kl) = len_at(&mut p)? else {
            if p != zm.len() - 1 {
                return Err(bad("data after the terminator"));
            }
            break;
        };
        let k = get(p, kl)?;
        p += kl;
        let vl = len_at(&mut p)?.ok_or_else(|| bad("field without a value"))?;
        let free = get(p, 1)?[0] as usize;
        p += 1;
        let v = get(p, vl)?;
        p += vl + free;
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ziplist of the given raw elements (encoding + data, as written by Redis).
    fn ziplist(elems: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for e in elems {
            tail = 10 + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = 10 + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(elems.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        zl
    }

    #[test]
    fn decodes_every_encoding() {
        let long = [&[0x40u8, 100][..], &[b'q'; 100][..]].concat();
        let big = [&[0x80u8, 0, 0, 1, 44][..], &[b'r'; 300][..]].concat();
        let zl = ziplist(&[
            b"\x03abc",
            &long,
            &big,
            &[0xc0, 0x39, 0x30],
            &[0xd0, 0xff, 0xff, 0xff, 0xff],
            &[0xe0, 0, 0, 0, 0, 0, 0, 0, 0x80],
            &[0xf0, 0xff, 0xff, 0x7f],
            &[0xfe, 0x80],
            &[0xf1],
            &[0xfd],
        ]);
        let d = decode(&zl).unwrap();
        assert_eq!(d[0], Elem::Str(b"abc"));
        assert_eq!(d[1], Elem::Str(&[b'q'; 100]));
        assert_eq!(d[2], Elem::Str(&[b'r'; 300]));
        let ints: Vec<Elem> =
            [12345, -1, i64::MIN, 8_388_607, -128, 0, 12].into_iter().map(Elem::Int).collect();
        assert_eq!(&d[3..], &ints[..]);
        for cut in 0..zl.len() {
            assert!(decode(&zl[..cut]).is_err());
        }
    }

    #[test]
    fn zipmap_pairs() {
        let zm = [2, 1, b'a', 2, 1, b'x', b'y', 0, 3, b'b', b'c', b'd', 0, 0, 0xff];
        assert_eq!(
            decode_zipmap(&zm).unwrap(),
            vec![(&b"a"[..], &b"xy"[..]), (&b"bcd"[..], &b""[..])]
        );
        assert!(decode_zipmap(&zm[..zm.len() - 1]).is_err());
    }
}
