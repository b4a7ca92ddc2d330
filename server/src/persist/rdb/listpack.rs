//! Redis's listpack: the byte format of small hashes, sets, sorted sets, list nodes and stream
//! blocks in RDB files (Redis 7.0 and later).
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 when it does not fit), the
//! elements, and an 0xFF terminator. An element is an encoding byte (with, for short forms, part
//! of the length or value), its data, and a back-length: the size of encoding + data in 1 to 5
//! bytes of 7 bits each, read from the right (every byte but the leftmost has bit 7 set).
//!
//! | first byte  | element                                   |
//! |-------------|-------------------------------------------|
//! | `0xxxxxxx`  | integer 0..=127                           |
//! | `10xxxxxx`  | string of up to 63 bytes                  |
//! | `110xxxxx`  | 13-bit signed integer (and one more byte) |
//! | `1110xxxx`  | string of up to 4095 bytes (12-bit length)|
//! | `0xF0`      | string, 32-bit length (LE)                |
//! | `0xF1..F4`  | 16, 24, 32, 64-bit signed integer (LE)    |

use super::{Elem, RdbError};
use crate::keyspace::record::parse_canonical_i64;

const HDR: usize = 6;
const END: u8 = 0xff;

/// Bytes of the back-length of an element of `l` bytes.
fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { b } else { b | 128 });
    }
}

/// Builds a listpack.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: vec![0; HDR], count: 0 }
    }

    /// Elements written so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes written so far (without the terminator).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a string; one that is a canonical integer is stored as an integer, as Redis does.
    pub fn push(&mut self, s: &[u8]) {
        if let Some(n) = parse_canonical_i64(s) {
            return self.push_int(n);
        }
        let start = self.buf.len();
        let l = s.len();
        if l < 64 {
            self.buf.push(0x80 | l as u8);
        } else if l < 4096 {
            self.buf.push(0xe0 | (l >> 8) as u8);
            self.buf.push(l as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(l as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let size = self.buf.len() - start;
        put_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let size = self.buf.len() - start;
        put_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub fn push_elem(&mut self, e: Elem) {
        match e {
            Elem::Int(n) => self.push_int(n),
            Elem::Str(s) => self.push(s),
        }
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn bad(what: &str) -> RdbError {
    RdbError::Corrupt(format!("bad listpack: {what}"))
}

/// Decodes and validates a whole listpack.
pub fn decode(lp: &[u8]) -> Result<Vec<Elem<'_>>, RdbError> {
    if lp.len() < HDR + 1 {
        return Err(bad("too short"));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(bad("header size mismatch"));
    }
    let hdr_count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let mut out = Vec::with_capacity(hdr_count.min(lp.len() / 2));
    let mut p = HDR;
    loop {
        let b = *lp.get(p).ok_or_else(|| bad("missing terminator"))?;
        if b == END {
            if p != lp.len() - 1 {
                return Err(bad("data after the terminator"));
            }
            break;
        }
        let start = p;
        let need = |p: usize, n: usize| -> Result<&[u8], RdbError> {
            lp.get(p..p.checked_add(n).ok_or_else(|| bad("length overflow"))?)
                .ok_or_else(|| bad("element past the end"))
        };
        let elem = if b & 0x80 == 0 {
            p += 1;
            Elem::Int(i64::from(b))
        } else if b & 0xc0 == 0x80 {
            let l = (b & 0x3f) as usize;
            let s = need(p + 1, l)?;
            p += 1 + l;
            Elem::Str(s)
        } else if b & 0xe0 == 0xc0 {
            let d = need(p + 1, 1)?;
            let u = (((b & 0x1f) as i64) << 8) | i64::from(d[0]);
            p += 2;
            Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u })
        } else if b & 0xf0 == 0xe0 {
            let d = need(p + 1, 1)?;
            let l = (((b & 0x0f) as usize) << 8) | d[0] as usize;
            let s = need(p + 2, l)?;
            p += 2 + l;
            Elem::Str(s)
        } else {
            match b {
                0xf0 => {
                    let d = need(p + 1, 4)?;
                    let l = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize;
                    let s = need(p + 5, l)?;
                    p += 5 + l;
                    Elem::Str(s)
                }
                0xf1 => {
                    let d = need(p + 1, 2)?;
                    p += 3;
                    Elem::Int(i64::from(i16::from_le_bytes([d[0], d[1]])))
                }
                0xf2 => {
                    let d = need(p + 1, 3)?;
                    p += 4;
                    let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
                    Elem::Int(i64::from(v))
                }
                0xf3 => {
                    let d = need(p + 1, 4)?;
                    p += 5;
                    Elem::Int(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]])))
                }
                0xf4 => {
                    let d = need(p + 1, 8)?;
                    p += 9;
                    Elem::Int(i64::from_le_bytes(d.try_into().expect("8 bytes")))
                }
                _ => return Err(bad("unknown encoding")),
            }
        };
        // The back-length must say how long the element was.
        let size = p - start;
        let bl = backlen_size(size);
        let blb = need(p, bl)?;
        let mut v = 0usize;
        for (i, &x) in blb.iter().rev().enumerate() {
            v |= ((x & 127) as usize) << (7 * i);
        }
        if v != size {
            return Err(bad("back-length mismatch"));
        }
        p += bl;
        out.push(elem);
    }
    if hdr_count != 65535 && hdr_count != out.len() {
        return Err(bad("element count mismatch"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_encoding() {
        let strs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 20000],
            b"007".to_vec(),
            b"-0".to_vec(),
        ];
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ];
        let mut w = Writer::new();
        for s in &strs {
            w.push(s);
        }
        for &n in &ints {
            w.push(n.to_string().as_bytes());
        }
        let lp = w.finish();
        let d = decode(&lp).unwrap();
        assert_eq!(d.len(), strs.len() + ints.len());
        for (i, s) in strs.iter().enumerate() {
            assert_eq!(d[i], Elem::Str(s), "string {i}");
        }
        for (i, &n) in ints.iter().enumerate() {
            assert_eq!(d[strs.len() + i], Elem::Int(n), "int {n}");
        }
    }

    #[test]
    fn known_bytes() {
        // Redis's listpack for ["a", 1]: 12 bytes, 2 elements.
        let mut w = Writer::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(w.finish(), [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff]);
    }

    #[test]
    fn corrupt_listpacks_are_refused() {
        let mut w = Writer::new();
        w.push(b"hello");
        w.push_int(1000);
        let lp = w.finish();
        assert!(decode(&lp).is_ok());
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_count = lp.clone();
        bad_count[4] = 3;
        assert!(decode(&bad_count).is_err());
        let mut bad_backlen = lp.clone();
        bad_backlen[12] = 9;
        assert!(decode(&bad_backlen).is_err());
        let mut bad_len = lp.clone();
        bad_len[6] = 0x80 | 40;
        assert!(decode(&bad_len).is_err());
    }
}
