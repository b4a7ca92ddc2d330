//! HyperLogLog in Redis's own string representation, so that a value moves between Redis and
//! Vireo byte for byte (GET/SET, DUMP/RESTORE, RDB).
//!
//! Layout (as Redis documents it): a 16-byte header — `HYLL`, the encoding byte (0 dense,
//! 1 sparse), three unused bytes, and the cached cardinality as 8 little-endian bytes whose top
//! bit set means "stale" — followed by the registers. 16384 registers (P = 14) of 6 bits:
//!
//! - dense: 12288 bytes, register `i` in bits `6i..6i+6` counted from the least significant bit
//!   of each byte;
//! - sparse: opcodes `ZERO` (`00xxxxxx`, 1..64 zero registers), `XZERO` (`01xxxxxx yyyyyyyy`,
//!   1..16384 zero registers) and `VAL` (`1vvvvvxx`, 1..4 registers of value 1..32).
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19); the low 14 bits pick the
//! register, the position of the first set bit in the rest is the value. The estimate is Otmar
//! Ertl's improved raw estimator over the register histogram, as Redis computes it.

/// Register index bits.
pub const P: u32 = 14;
/// Hash bits left for the run of zeros.
pub const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * 6).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The value is corrupted (a sparse run past the registers, a bad length...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), little-endian reads.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls into and the value it proposes (1..=Q+1).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & P_MASK) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Whether `v` is a string Redis accepts as an HLL (magic, known encoding, dense length).
pub fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR_SIZE
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

/// A new, empty HLL: sparse, all registers in XZERO opcodes, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR_SIZE];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

fn val_op(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len as u8 - 1) | 0x80
}

/// The cached cardinality, if it is valid.
pub fn cached(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().unwrap()))
}

pub fn set_cached(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// Dense register `i` of the register bytes `r`.
pub fn dense_get(r: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(r[byte]);
    let b1 = u16::from(r.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

pub fn dense_set(r: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(val);
    r[byte] &= !((63u16 << fb) as u8);
    r[byte] |= (v << fb) as u8;
    if let Some(b) = r.get_mut(byte + 1) {
        let fb8 = 8 - fb;
        *b &= !((63u16 >> fb8) as u8);
        *b |= (v >> fb8) as u8;
    }
}

/// Sparse opcode at `p`: (run length, value, opcode length).
fn sparse_op(s: &[u8], p: usize) -> (usize, u8, usize) {
    let b = s[p];
    if b & 0xc0 == 0 {
        ((b & 0x3f) as usize + 1, 0, 1)
    } else if b & 0xc0 == 0x40 {
        let next = s.get(p + 1).copied().unwrap_or(0);
        ((((b & 0x3f) as usize) << 8 | next as usize) + 1, 0, 2)
    } else {
        ((b & 3) as usize + 1, ((b >> 2) & 0x1f) + 1, 1)
    }
}

/// Converts a sparse HLL to dense (the header, cache included, is kept).
pub fn to_dense(v: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR_SIZE].copy_from_slice(&v[..HDR_SIZE]);
    d[4] = DENSE;
    let mut idx = 0;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (run, val, oplen) = sparse_op(v, p);
        if val == 0 {
            idx += run;
        } else {
            if run + idx > REGISTERS {
                break;
            }
            for _ in 0..run {
                dense_set(&mut d[HDR_SIZE..], idx, val);
                idx += 1;
            }
        }
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(d)
}

/// Raises register `index` to `count` in an HLL of either encoding; a sparse value may be
/// promoted to dense (when the value is too big for VAL, or the sparse form would pass
/// `sparse_max` bytes). Returns whether a register changed.
pub fn set(v: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        let r = &mut v[HDR_SIZE..];
        if count > dense_get(r, index) {
            dense_set(r, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = v.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0;
    while p < end {
        let (run, _, oplen) = sparse_op(v, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let (runlen, curval, oldlen) = sparse_op(v, p);
    // An XZERO cut off by the end of the value: Redis reads past the end; Vireo refuses.
    if p + oldlen > end {
        return Err(Corrupt);
    }
    let is_val = curval != 0;
    let mut updated_in_place = false;
    if is_val {
        if curval >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            updated_in_place = true;
        }
    } else if oldlen == 1 && runlen == 1 {
        v[p] = val_op(count, 1);
        updated_in_place = true;
    }
    if !updated_in_place {
        // Step 2: split the opcode into up to three.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let zero_run = |seq: &mut Vec<u8>, len: usize| {
            if len > ZERO_MAX_LEN {
                push_xzero(seq, len);
            } else {
                seq.push((len - 1) as u8);
            }
        };
        if !is_val {
            if index != first {
                zero_run(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                zero_run(&mut seq, last - index);
            }
        } else {
            if index != first {
                seq.push(val_op(curval, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(curval, last - index));
            }
        }
        // Step 3: put it in place of the old opcode.
        let delta = seq.len() as isize - oldlen as isize;
        if delta > 0 && (v.len() as isize + delta) as usize > sparse_max {
            return promote(v, index, count);
        }
        v.splice(p..p + oldlen, seq);
        end = v.len();
    }
    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from the
    // one before the change.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < end && scan > 0 {
        scan -= 1;
        let b = v[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        } else if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < end && v[p + 1] & 0x80 != 0 {
            let (l1, v1, _) = sparse_op(v, p);
            let (l2, v2, _) = sparse_op(v, p + 1);
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                v[p + 1] = val_op(v1, l1 + l2);
                v.remove(p);
                end -= 1;
                continue;
            }
        }
        p += 1;
    }
    invalidate(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    *v = to_dense(v)?;
    let r = &mut v[HDR_SIZE..];
    if count > dense_get(r, index) {
        dense_set(r, index, count);
    }
    Ok(true)
}

/// Adds an element (PFADD): whether a register changed.
pub fn add(v: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    set(v, index, count, sparse_max)
}

/// Raises `max[i]` to every register of the HLL `v` (PFMERGE, multi-key PFCOUNT).
pub fn merge_into(max: &mut [u8], v: &[u8]) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        let r = &v[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            *m = (*m).max(dense_get(r, i));
        }
        return Ok(());
    }
    let mut i = 0;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (run, val, oplen) = sparse_op(v, p);
        if val == 0 {
            i += run;
        } else {
            // Past the last register: corrupt, as Redis finds it (not a stop at the end).
            if run + i > REGISTERS {
                return Err(Corrupt);
            }
            for m in &mut max[i..i + run] {
                *m = (*m).max(val);
            }
            i += run;
        }
        p += oplen;
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// The register histogram of an HLL of either encoding (a sparse one is checked).
fn histogram(v: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if v[4] == DENSE {
        let r = &v[HDR_SIZE..];
        for i in 0..REGISTERS {
            h[dense_get(r, i) as usize] += 1;
        }
        return Ok(h);
    }
    let mut idx = 0;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (run, val, oplen) = sparse_op(v, p);
        idx += run;
        h[val as usize] += run as u32;
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// The histogram of raw registers (one byte each).
pub fn raw_histogram(regs: &[u8]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram.
pub fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(h[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The cardinality estimate of an HLL value (not using the cache).
pub fn count(v: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(v)?))
}

/// PFDEBUG DECODE's text for a sparse HLL.
pub fn decode(v: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (run, val, oplen) = sparse_op(v, p);
        if val != 0 {
            out.push_str(&format!("v:{val},{run} "));
        } else if oplen == 2 {
            out.push_str(&format!("Z:{run} "));
        } else {
            out.push_str(&format!("z:{run} "));
        }
        p += oplen;
    }
    out.trim_matches(' ').to_string()
}

/// All registers of an HLL, as bytes.
pub fn registers(v: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut max = vec![0u8; REGISTERS];
    merge_into(&mut max, v)?;
    Ok(max)
}

/// PFSELFTEST: dense registers read back what was written, and sparse and dense HLLs fed the
/// same elements agree with each other and stay within the expected error.
pub fn self_test() -> Result<(), String> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut r = vec![0u8; DENSE_SIZE - HDR_SIZE];
    for _ in 0..10 {
        let vals: Vec<u8> = (0..REGISTERS).map(|_| (rnd() & 63) as u8).collect();
        for (i, &v) in vals.iter().enumerate() {
            dense_set(&mut r, i, v);
        }
        for (i, &v) in vals.iter().enumerate() {
            if dense_get(&r, i) != v {
                return Err(format!("Register error at {i}"));
            }
        }
    }
    let mut sparse = new_sparse();
    let mut dense = to_dense(&sparse).map_err(|_| "conversion failed".to_string())?;
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    for j in 1..=100_000u64 {
        let ele = rnd().to_le_bytes();
        add(&mut sparse, &ele, 3000).map_err(|_| "corrupted sparse HLL".to_string())?;
        add(&mut dense, &ele, 3000).map_err(|_| "corrupted dense HLL".to_string())?;
        if j == checkpoint {
            let a = count(&sparse).map_err(|_| "corrupted sparse HLL".to_string())?;
            let b = count(&dense).map_err(|_| "corrupted dense HLL".to_string())?;
            if a != b {
                return Err(format!("Sparse and dense HLLs disagree at {j}: {a} vs {b}"));
            }
            let maxerr = (relerr * 6.0 * j as f64).ceil().max(1.0);
            let err = (a as f64 - j as f64).abs();
            if err > maxerr {
                return Err(format!("Too big error. card:{j} abserr:{err} maxerr:{maxerr}"));
            }
            checkpoint *= 10;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty() {
        let v = new_sparse();
        assert_eq!(v.len(), 18);
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[16..], b"\x7f\xff");
        assert_eq!(count(&v), Ok(0));
        assert_eq!(cached(&v), Some(0));
        assert!(is_valid(&v));
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn murmur() {
        // Stable values: the hash must never change, or stored HLLs would be misread.
        assert_eq!(murmur64a(b"", 0), 0);
        let (i, c) = pat_len(b"a");
        assert!(i < REGISTERS && (1..=51).contains(&c));
    }

    #[test]
    fn dense_registers() {
        let mut r = vec![0u8; DENSE_SIZE - HDR_SIZE];
        for i in 0..REGISTERS {
            dense_set(&mut r, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&r, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_matches_dense() {
        let mut s = new_sparse();
        let mut d = to_dense(&s).unwrap();
        for i in 0..2000u32 {
            let e = i.to_string();
            let a = add(&mut s, e.as_bytes(), 1 << 20).unwrap();
            let b = add(&mut d, e.as_bytes(), 1 << 20).unwrap();
            assert_eq!(a, b);
        }
        assert_eq!(s[4], SPARSE);
        assert_eq!(registers(&s).unwrap(), registers(&d).unwrap());
        let n = count(&s).unwrap();
        assert_eq!(n, count(&d).unwrap());
        assert!((1900..2100).contains(&n), "{n}");
        let mut t = s.clone();
        let _ = add(&mut t, b"x", 0);
        assert_eq!(t[4], DENSE);
        assert_eq!(t.len(), DENSE_SIZE);
    }

    #[test]
    fn selftest() {
        assert_eq!(self_test(), Ok(()));
    }

    #[test]
    fn corrupt() {
        let mut v = new_sparse();
        v.truncate(17);
        assert_eq!(count(&v), Err(Corrupt));
        assert!(to_dense(&v).is_err());
    }
}
