//! Command errors, with Redis's exact messages.

use std::borrow::Cow;
use std::fmt;

/// An error reply. The text is the whole message after the `-`, e.g.
/// `WRONGTYPE Operation against a key holding the wrong kind of value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

pub type CmdResult = Result<(), Error>;

impl Error {
    pub const SYNTAX: Error = Error(Cow::Borrowed("ERR syntax error"));
    pub const NOT_INT: Error = Error(Cow::Borrowed("ERR value is not an integer or out of range"));
    pub const NOT_FLOAT: Error = Error(Cow::Borrowed("ERR value is not a valid float"));
    pub const WRONG_TYPE: Error =
        Error(Cow::Borrowed("WRONGTYPE Operation against a key holding the wrong kind of value"));
    pub const NO_SUCH_KEY: Error = Error(Cow::Borrowed("ERR no such key"));
    pub const OVERFLOW: Error = Error(Cow::Borrowed("ERR increment or decrement would overflow"));
    pub const DB_INDEX: Error = Error(Cow::Borrowed("ERR DB index is out of range"));
    pub const NOAUTH: Error = Error(Cow::Borrowed("NOAUTH Authentication required."));
    pub const STRING_TOO_LONG: Error =
        Error(Cow::Borrowed("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));

    pub fn msg(s: impl Into<Cow<'static, str>>) -> Error {
        Error(s.into())
    }

    /// `ERR <text>`.
    pub fn err(s: impl fmt::Display) -> Error {
        Error(Cow::Owned(format!("ERR {s}")))
    }

    pub fn arity(cmd: &str) -> Error {
        Error(Cow::Owned(format!("ERR wrong number of arguments for '{cmd}' command")))
    }

    pub fn invalid_expire(cmd: &str) -> Error {
        Error(Cow::Owned(format!("ERR invalid expire time in '{cmd}' command")))
    }

    /// The error's code, the first word (`ERR`, `WRONGTYPE`...), as INFO errorstats counts it.
    pub fn code(&self) -> &str {
        // As Redis's afterErrorReply: the code is what comes before a space within the first 32
        // bytes; an error without one counts as ERR.
        let s: &str = &self.0;
        match s.as_bytes().iter().take(32).position(|&c| c == b' ') {
            Some(i) => &s[..i],
            None => "ERR",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
