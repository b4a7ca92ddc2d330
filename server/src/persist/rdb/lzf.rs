//! LZF, the compression RDB files use for strings (`rdbcompression`).
//!
//! The stream is a series of chunks, each led by a control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes follows;
//! - otherwise a back reference: length code `c >> 5` (7 means "7 plus the next byte"),
//!   then the low 8 bits of the offset; the match is `length code + 2` bytes long and starts
//!   `((c & 31) << 8 | low) + 1` bytes before the current output position (it may overlap it).

/// Longest back reference (length code 7 + 255, plus 2).
const MAX_REF: usize = 264;
/// Farthest back reference (13 bits of offset, plus 1).
const MAX_OFF: usize = 1 << 13;
const HLOG: u32 = 14;

fn hash3(a: u8, b: u8, c: u8) -> usize {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
}

/// The match table of [`compress`], kept per thread: each entry holds the call's generation in
/// its high half, so a new call starts from an empty table without zeroing 64 KB (which cost
/// more than compressing the small values an RDB file is full of).
struct MatchTable {
    gen: u32,
    slots: Vec<u64>,
}

impl MatchTable {
    fn get(&self, h: usize) -> u32 {
        let e = self.slots[h];
        if (e >> 32) as u32 == self.gen {
            e as u32
        } else {
            0
        }
    }

    fn set(&mut self, h: usize, v: u32) {
        self.slots[h] = (u64::from(self.gen) << 32) | u64::from(v);
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<MatchTable> =
        std::cell::RefCell::new(MatchTable { gen: 0, slots: vec![0; 1 << HLOG] });
}

/// Compresses `input`; None when the result would not be shorter than `max_out` bytes.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() || max_out == 0 {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.gen = t.gen.wrapping_add(1);
        if t.gen == 0 {
            t.slots.iter_mut().for_each(|s| *s = 0);
            t.gen = 1;
        }
        compress_with(input, max_out, &mut t)
    })
}

fn compress_with(input: &[u8], max_out: usize, table: &mut MatchTable) -> Option<Vec<u8>> {
    let len = input.len();
    let mut out = Vec::with_capacity(max_out.min(len + len / 32 + 2));
    let mut lit_pos = 0;
    out.push(0);
    let mut lit = 0usize;
    let mut ip = 0;
    while ip < len {
        if ip + 2 < len {
            let h = hash3(input[ip], input[ip + 1], input[ip + 2]);
            let r = table.get(h) as usize;
            table.set(h, (ip + 1) as u32);
            if r != 0 {
                let r = r - 1;
                let off = ip - r - 1;
                if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let max = (len - ip).min(MAX_REF);
                    let mut l = 3;
                    while l < max && input[r + l] == input[ip + l] {
                        l += 1;
                    }
                    if lit == 0 {
                        out.pop();
                    } else {
                        out[lit_pos] = (lit - 1) as u8;
                    }
                    let code = l - 2;
                    if code < 7 {
                        out.push(((code << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((code - 7) as u8);
                    }
                    out.push(off as u8);
                    for p in ip + 1..(ip + l).min(len.saturating_sub(2)) {
                        table.set(hash3(input[p], input[p + 1], input[p + 2]), (p + 1) as u32);
                    }
                    ip += l;
                    lit_pos = out.len();
                    out.push(0);
                    lit = 0;
                    if out.len() >= max_out {
                        return None;
                    }
                    continue;
                }
            }
        }
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == 32 {
            out[lit_pos] = 31;
            lit_pos = out.len();
            out.push(0);
            lit = 0;
        }
        if out.len() > max_out {
            return None;
        }
    }
    if lit == 0 {
        out.pop();
    } else {
        out[lit_pos] = (lit - 1) as u8;
    }
    (out.len() < max_out).then_some(out)
}

/// Decompresses `input` into exactly `out_len` bytes; None for a malformed stream or one that
/// does not produce `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // A back reference of 2 or 3 input bytes yields at most 264 output bytes: anything claiming
    // more is corrupt, and refusing it early caps the allocation by the input size.
    if out_len > input.len().saturating_mul(MAX_REF / 2) + 64 {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let c = input[ip] as usize;
        ip += 1;
        if c < 32 {
            let run = c + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut l = c >> 5;
            if l == 7 {
                l += *input.get(ip)? as usize;
                ip += 1;
            }
            let low = *input.get(ip)? as usize;
            ip += 1;
            let back = ((c & 31) << 8) + low + 1;
            let l = l + 2;
            if back > out.len() || out.len() + l > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..l {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) {
        if let Some(c) = compress(data, data.len()) {
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, data.len()).as_deref(), Some(data));
        }
    }

    #[test]
    fn compresses_repetitive_data() {
        let data = vec![b'a'; 1000];
        let c = compress(&data, data.len()).unwrap();
        assert!(c.len() < 30, "{}", c.len());
        assert_eq!(decompress(&c, 1000).unwrap(), data);
        let text = b"hello world hello world hello world, the quick brown fox".repeat(20);
        roundtrip(&text);
    }

    #[test]
    fn random_data_roundtrips_or_is_refused() {
        let mut x: u32 = 12345;
        for n in [1usize, 2, 3, 4, 31, 32, 33, 100, 5000, 70000] {
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if i % 3 == 0 {
                        b'x'
                    } else {
                        (x >> 24) as u8 & 0x0f
                    }
                })
                .collect();
            roundtrip(&data);
            // With room to spare, everything compresses and decompresses.
            let c = compress(&data, n * 2 + 16).unwrap();
            assert_eq!(decompress(&c, n).unwrap(), data);
        }
    }

    #[test]
    fn known_stream_decodes() {
        // Literal "abc", then a back reference of 6 bytes at distance 3: "abcabcabc".
        let s = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&s, 9).unwrap(), b"abcabcabc");
    }

    #[test]
    fn malformed_streams_are_refused() {
        assert_eq!(decompress(&[5, b'a'], 6), None); // short literal
        assert_eq!(decompress(&[0, b'a', 0x20, 5], 4), None); // reference before the start
        assert_eq!(decompress(&[0, b'a'], 2), None); // wrong length
        assert_eq!(decompress(&[0, b'a'], 1 << 40), None); // absurd length
        assert_eq!(decompress(&[0xe0], 10), None); // truncated reference
    }
}
