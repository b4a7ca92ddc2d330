//! CLIENT subcommands.

use bytes::Bytes;

use super::Handler;
use crate::error::{CmdResult, Error};

pub const HANDLERS: &[(&str, Handler)] = &[];

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_name(name: &Bytes) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}
