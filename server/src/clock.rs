//! Wall-clock helpers. Expiry times are absolute unix milliseconds, as Redis stores them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the unix epoch.
pub fn mstime() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Microseconds since the unix epoch.
pub fn ustime() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

pub fn unix_secs() -> i64 {
    mstime() / 1000
}
