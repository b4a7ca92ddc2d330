//! Arbitrary bytes fed to the RDB loader, as a `dump.rdb` (with a valid header prepended too,
//! so the fuzzer reaches the opcodes at once) and as a RESTORE payload: the loader must never
//! panic and never allocate without bound; anything malformed is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vireo_server::keyspace::Access;
use vireo_server::persist::rdb::load::{load, payload_value, verify_payload, LoadOpts};
use vireo_server::types::{hash, zset};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOpts {
        hash: hash::Limits { max_entries: 128, max_value: 64 },
        zset: zset::Limits { entries: 128, value: 64 },
        set_max_intset: 512,
        list_fill: -2,
        access: Access::lru(0),
        drop_expired_before: None,
        verify_checksum: false,
    };
    let _ = load(data, 16, &opts);
    let mut file = b"REDIS0011".to_vec();
    file.extend_from_slice(data);
    if let Ok(l) = load(&file, 16, &opts) {
        assert!(l.consumed <= file.len());
    }
    // As a payload: the footer check is skipped so the body decoder is exercised.
    if verify_payload(data, false) {
        let _ = payload_value(data, &opts);
    }
});
