//! The `FUNCTION DUMP` / `FUNCTION RESTORE` payload: RDB records, one per library (opcode 245
//! then the library's code as an RDB string), then the RDB version (2 bytes, little-endian)
//! and the CRC-64 of everything before, as a key's DUMP payload ends (see `persist::rdb`).

use crate::persist::rdb::{self, crc64, load};

const CHECKSUM_ERROR: &str = "ERR DUMP payload version or checksum are wrong";

/// The payload for the libraries' `codes`.
pub fn dump<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(rdb::OP_FUNCTION2);
        rdb::save::write_string(&mut out, code, false);
    }
    out.extend_from_slice(&rdb::WRITE_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a payload, or Redis's error (Redis 7.0 takes no payload newer than the
/// RDB version it writes).
pub fn parse(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let n = payload.len();
    if !load::verify_payload(payload, true)
        || u16::from_le_bytes([payload[n - 10], payload[n - 9]]) > rdb::WRITE_VERSION
    {
        return Err(CHECKSUM_ERROR.into());
    }
    let data = &payload[..n - 10];
    let mut r = load::Reader::new(data);
    let mut codes = Vec::new();
    while r.pos() < data.len() {
        match r.byte().map_err(|e| e.to_string())? {
            rdb::OP_FUNCTION2 => {
                let code = r.string().map_err(|_| "ERR Failed loading library payload")?;
                codes.push(code.into_owned());
            }
            rdb::OP_FUNCTION_PRE_GA => {
                return Err("ERR Pre-GA function format not supported".into())
            }
            _ => return Err("ERR given type is not a function".into()),
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
