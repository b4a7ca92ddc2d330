//! The RESP2/RESP3 wire protocol: request parsing and reply writing.

pub mod parse;
pub mod reply;

pub use parse::{parse_command, Limits, Parsed, ProtocolError};
pub use reply::Reply;
