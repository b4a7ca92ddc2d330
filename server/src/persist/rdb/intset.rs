//! Redis's intset: the byte format of small all-integer sets in RDB files.
//!
//! Layout: element width in bytes (u32 LE: 2, 4 or 8), count (u32 LE), then the elements as
//! little-endian signed integers of that width, sorted ascending, no duplicates.

use super::RdbError;

fn bad(what: &str) -> RdbError {
    RdbError::Corrupt(format!("bad intset: {what}"))
}

/// Decodes and validates an intset.
pub fn decode(b: &[u8]) -> Result<Vec<i64>, RdbError> {
    if b.len() < 8 {
        return Err(bad("too short"));
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(bad("unknown width"));
    }
    if count.checked_mul(width) != Some(b.len() - 8) {
        return Err(bad("size mismatch"));
    }
    let mut out = Vec::with_capacity(count);
    for c in b[8..].chunks_exact(width) {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes(c.try_into().expect("8 bytes")),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return Err(bad("not sorted"));
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes sorted distinct integers, in the narrowest width that holds them all.
pub fn encode(sorted: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| sorted.iter().all(|&v| (lo..=hi).contains(&v));
    let width = if fits(i16::MIN.into(), i16::MAX.into()) {
        2
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_widths() {
        for set in [vec![-3, 0, 7], vec![-70000, 1, 70000], vec![i64::MIN, 0, i64::MAX], vec![]] {
            assert_eq!(decode(&encode(&set)).unwrap(), set);
        }
        assert_eq!(encode(&[1, 2]), [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
        assert_eq!(encode(&[1, 70000])[0], 4);
    }

    #[test]
    fn corrupt_intsets_are_refused() {
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err()); // unsorted
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err()); // width
        assert!(decode(&[2, 0, 0, 0, 9, 0, 0, 0, 1, 0]).is_err()); // count
        assert!(decode(&[2, 0, 0]).is_err());
    }
}
