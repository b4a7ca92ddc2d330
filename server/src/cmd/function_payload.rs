//! The `FUNCTION DUMP` / `FUNCTION RESTORE` payload: RDB records, one per library (opcode 245
//! then the library's code as an RDB string), then the RDB version (2 bytes, little-endian)
//! and the CRC-64 (Jones, reflected, as Redis's `crc64`) of everything before, little-endian.
//!
//! LOCAL STAND-IN FOR THE SHARED RDB HELPERS: the length encoding, the string reader (with
//! LZF) and the CRC-64 below are the minimum FUNCTION DUMP/RESTORE needs, written before
//! `persist::rdb` existed. When it lands, swap them for its helpers and delete this file's
//! copies (only `dump` and `parse` are used outside).

/// RDB_OPCODE_FUNCTION2: a library record (its code).
const OPCODE_FUNCTION2: u8 = 245;
/// RDB_OPCODE_FUNCTION: the format of the 7.0 release candidates.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// The RDB version Redis 7.0 writes.
const RDB_VERSION: u16 = 10;

const CHECKSUM_ERROR: &str = "ERR DUMP payload version or checksum are wrong";

/// The payload for the libraries' `codes`.
pub fn dump<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        write_len(&mut out, code.len() as u64);
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a payload, or Redis's error.
pub fn parse(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let n = payload.len();
    if n < 10 {
        return Err(CHECKSUM_ERROR.into());
    }
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    let crc = u64::from_le_bytes(payload[n - 8..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64(0, &payload[..n - 8]) != crc {
        return Err(CHECKSUM_ERROR.into());
    }
    let data = &payload[..n - 10];
    let mut pos = 0;
    let mut codes = Vec::new();
    while pos < data.len() {
        let op = data[pos];
        pos += 1;
        match op {
            OPCODE_FUNCTION2 => {
                let code = read_string(data, &mut pos)
                    .ok_or_else(|| "ERR Failed loading library payload".to_string())?;
                codes.push(code);
            }
            OPCODE_FUNCTION_PRE_GA => return Err("ERR Pre-GA function format not supported".into()),
            _ => return Err("ERR given type is not a function".into()),
        }
    }
    Ok(codes)
}

/// RDB length encoding: 6 bits, 14 bits, or a 32/64-bit big-endian length.
fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A length, or (`true`, the encoding) for the special string encodings.
fn read_len(data: &[u8], pos: &mut usize) -> Option<(bool, u64)> {
    let b = *data.get(*pos)?;
    *pos += 1;
    Some(match b >> 6 {
        0 => (false, u64::from(b & 0x3f)),
        1 => {
            let b2 = *data.get(*pos)?;
            *pos += 1;
            (false, (u64::from(b & 0x3f) << 8) | u64::from(b2))
        }
        2 => {
            let width = match b {
                0x80 => 4,
                0x81 => 8,
                _ => return None,
            };
            let bytes = data.get(*pos..*pos + width)?;
            *pos += width;
            (false, bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        }
        _ => (true, u64::from(b & 0x3f)),
    })
}

/// An RDB string: raw, an integer (8/16/32-bit little-endian) or LZF-compressed.
fn read_string(data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let (special, n) = read_len(data, pos)?;
    if !special {
        let n = usize::try_from(n).ok()?;
        let s = data.get(*pos..pos.checked_add(n)?)?.to_vec();
        *pos += n;
        return Some(s);
    }
    let int = |width: usize, pos: &mut usize| -> Option<Vec<u8>> {
        let b = data.get(*pos..*pos + width)?;
        *pos += width;
        let v = match width {
            1 => i64::from(b[0] as i8),
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            _ => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        };
        Some(v.to_string().into_bytes())
    };
    match n {
        0 => int(1, pos),
        1 => int(2, pos),
        2 => int(4, pos),
        3 => {
            let (_, clen) = read_len(data, pos)?;
            let (_, len) = read_len(data, pos)?;
            let clen = usize::try_from(clen).ok()?;
            let src = data.get(*pos..pos.checked_add(clen)?)?;
            *pos += clen;
            lzf_decompress(src, usize::try_from(len).ok()?)
        }
        _ => None,
    }
}

/// LZF decompression (liblzf's format): a control byte below 32 starts a run of that many
/// plus one literal bytes; otherwise its top 3 bits (7: plus the next byte) give a length
/// minus 2 and the low 5 bits with the next byte a distance minus 1 back into the output.
fn lzf_decompress(src: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len.min(1 << 26));
    let mut i = 0;
    while i < src.len() {
        let ctrl = src[i] as usize;
        i += 1;
        if ctrl < 32 {
            let lit = src.get(i..i + ctrl + 1)?;
            out.extend_from_slice(lit);
            i += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *src.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *src.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// CRC-64/Jones as Redis computes it (reflected polynomial 0xad93d23594c935a9, no final xor).
fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 bit-reversed
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    for &b in data {
        crc = table[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn round_trip_and_errors() {
        let codes: Vec<&[u8]> = vec![b"#!lua name=a\nx", &[b'y'; 20000]];
        let p = dump(codes.iter().copied());
        assert_eq!(parse(&p).unwrap(), codes.iter().map(|c| c.to_vec()).collect::<Vec<_>>());
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(parse(&bad).unwrap_err(), CHECKSUM_ERROR);
        assert_eq!(parse(&p[..9]).unwrap_err(), CHECKSUM_ERROR);
        assert!(parse(&dump([])).unwrap().is_empty());
    }

    #[test]
    fn redis_payload_with_lzf() {
        // FUNCTION DUMP of Redis 7.0.15 (rdbcompression yes): one LZF-compressed library.
        let p: &[u8] = b"\xf5\xc3@\x87@\x91\x1f#!lua name=lib\nredis.register_fu\x06nction{\xc0\x08\x00_`)\r'f', callback=\xc0\x1b\x1f() return 1 end, flags={'no-writ\x01es 5\x00' 5\x12ow-stale'}, descrip@d\x05='dd'}\xf5@F#!lua name=lib3\nredis.register_function('f3', function() return 1 end)\n\x00\x99H\xe7N\x1fe\xa2;";
        let codes = parse(p).unwrap();
        assert_eq!(
            codes[0],
            b"#!lua name=lib\nredis.register_function{function_name='f', callback=function() \
              return 1 end, flags={'no-writes', 'allow-stale'}, description='dd'}"
        );
        assert_eq!(
            codes[1],
            b"#!lua name=lib3\nredis.register_function('f3', function() return 1 end)"
        );
    }
}
