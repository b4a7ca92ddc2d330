//! Arbitrary bytes fed to the request parser, as a connection would: the parser must never
//! panic, never claim more bytes than it was given, and return argument ranges inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vireo_server::resp::{parse_command, Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    let mut ranges = Vec::new();
    let mut pos = 0;
    for authenticated in [true, false] {
        let limits = Limits { max_bulk_len: 1 << 20, authenticated };
        pos = 0;
        while pos < data.len() {
            ranges.clear();
            match parse_command(&data[pos..], limits, &mut ranges) {
                Ok(Parsed::Command { consumed, argc }) => {
                    assert!(consumed > 0 && pos + consumed <= data.len());
                    assert_eq!(argc, ranges.len());
                    for r in &ranges {
                        assert!(r.start <= r.end && r.end <= consumed);
                        let _ = vireo_server::resp::parse::unquote_inline(&data[pos..][r.clone()]);
                    }
                    pos += consumed;
                }
                Ok(Parsed::Empty { consumed }) => {
                    assert!(consumed > 0);
                    pos += consumed;
                }
                Ok(Parsed::Incomplete) | Err(_) => break,
            }
        }
    }
    let _ = pos;
});
