//! Redis's RDB format: the snapshot file (`dump.rdb`), DUMP/RESTORE payloads, and the RDB
//! preamble of AOF base files.
//!
//! A file is `REDIS` and a 4-digit version, then opcodes and keys, then `0xFF` and an 8-byte
//! CRC-64 (see [`crc64`]) of everything before it (0 when the writer skipped it). Vireo loads
//! versions 9 to 12 (Redis 6.2 to 7.4, see [`load`]) and writes version 10, as Redis 7.0 does
//! (see [`save`]).
//!
//! Lengths are 1, 2, 5 or 9 bytes: `00xxxxxx` (6 bits), `01xxxxxx xxxxxxxx` (14 bits, big
//! endian), `0x80` + u32 BE, `0x81` + u64 BE. `11xxxxxx` marks a specially encoded string
//! instead: an 8, 16 or 32-bit integer (LE) for 0, 1, 2, or LZF-compressed data for 3.

pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod load;
pub mod lzf;
pub mod save;
pub mod ziplist;

use std::fmt;

/// The version Vireo writes (Redis 7.0's).
pub const WRITE_VERSION: u16 = 10;
/// The newest version Vireo reads (Redis 7.4's).
pub const MAX_VERSION: u16 = 12;
/// The oldest version Vireo reads (Redis 6.2 writes 9).
pub const MIN_VERSION: u16 = 1;

// Opcodes.
pub const OP_SLOT_INFO: u8 = 244;
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

// Value types.
pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_MODULE_PRE_GA: u8 = 6;
pub const T_MODULE_2: u8 = 7;
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_STREAM_LISTPACKS: u8 = 15;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_STREAM_LISTPACKS_2: u8 = 19;
pub const T_SET_LISTPACK: u8 = 20;
pub const T_STREAM_LISTPACKS_3: u8 = 21;
pub const T_HASH_METADATA_PRE_GA: u8 = 22;
pub const T_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
pub const T_HASH_METADATA: u8 = 24;
pub const T_HASH_LISTPACK_EX: u8 = 25;

// Special string encodings (the low 6 bits of a `11xxxxxx` length byte).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

// Quicklist 2 node containers.
const QL_PLAIN: u64 = 1;
const QL_PACKED: u64 = 2;

/// Stream entry flags in a listpack.
const STREAM_DELETED: i64 = 1;
const STREAM_SAMEFIELDS: i64 = 2;

/// An element of a listpack, ziplist or intset: bytes or an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Elem<'a> {
    pub fn to_vec(self) -> Vec<u8> {
        self.bytes().into_owned()
    }

    /// The element's bytes, borrowed from the input unless it is an integer.
    pub fn bytes(self) -> std::borrow::Cow<'a, [u8]> {
        match self {
            Elem::Str(s) => std::borrow::Cow::Borrowed(s),
            Elem::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec().into(),
        }
    }

    /// The integer value: an integer, or a string holding a canonical one.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(n),
            Elem::Str(s) => crate::util::num::parse_i64(s),
        }
    }
}

/// Why a file or payload could not be loaded (or written).
#[derive(Debug)]
pub enum RdbError {
    Io(std::io::Error),
    /// The bytes are not a valid RDB.
    Corrupt(String),
    /// Valid, but holds something Vireo cannot load (a module type, a newer version...).
    Unsupported(String),
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbError::Io(e) => write!(f, "{e}"),
            RdbError::Corrupt(s) => write!(f, "corrupt RDB: {s}"),
            RdbError::Unsupported(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for RdbError {}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> Self {
        RdbError::Io(e)
    }
}

/// The 9-character name of a module type from its 64-bit id (the top 54 bits hold the name,
/// 6 bits per character; the low 10 bits the encoding version).
pub fn module_type_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..9).map(|j| CHARSET[((id >> (64 - 6 * (j + 1))) & 63) as usize] as char).collect()
}

/// The encoding version of a module type id.
pub fn module_type_version(id: u64) -> u64 {
    id & 1023
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        // "ReJSON-RL" version 3, as RedisJSON registers its type.
        let name = b"ReJSON-RL";
        const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for &c in name {
            id = (id << 6) | CHARSET.iter().position(|&x| x == c).unwrap() as u64;
        }
        id = (id << 10) | 3;
        assert_eq!(module_type_name(id), "ReJSON-RL");
        assert_eq!(module_type_version(id), 3);
    }
}
