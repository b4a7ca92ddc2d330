//! Command errors, with Redis's exact messages.

use std::borrow::Cow;
use std::fmt;

/// An error reply: the whole line after the `-`, its code first (`ERR syntax error`,
/// `WRONGTYPE Operation against a key holding the wrong kind of value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

/// What a command handler returns: its reply was written through the [`crate::Context`], or
/// this error is the reply.
pub type CommandResult = Result<(), Error>;

impl Error {
    pub const SYNTAX: Error = Error(Cow::Borrowed("ERR syntax error"));
    pub const NOT_INT: Error = Error(Cow::Borrowed("ERR value is not an integer or out of range"));
    pub const NOT_FLOAT: Error = Error(Cow::Borrowed("ERR value is not a valid float"));
    pub const WRONG_TYPE: Error =
        Error(Cow::Borrowed("WRONGTYPE Operation against a key holding the wrong kind of value"));

    /// An error with its own code: `Error::new("BUSYKEY Target key name already exists.")`.
    /// A message without a code is given `ERR`, as Redis does for modules.
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Error {
        let msg = msg.into();
        let has_code = msg.split(' ').next().is_some_and(|w| {
            !w.is_empty() && w.len() < msg.len() && w.bytes().all(|c| c.is_ascii_uppercase())
        });
        if has_code {
            Error(msg)
        } else {
            Error(Cow::Owned(format!("ERR {msg}")))
        }
    }

    /// `ERR <text>`.
    pub fn err(msg: impl fmt::Display) -> Error {
        Error(Cow::Owned(format!("ERR {msg}")))
    }

    /// `ERR wrong number of arguments for '<name>' command`, as Redis's `RM_WrongArity`.
    pub fn wrong_arity(name: &str) -> Error {
        Error(Cow::Owned(format!("ERR wrong number of arguments for '{name}' command")))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Error::new("BUSYKEY exists").message(), "BUSYKEY exists");
        assert_eq!(Error::new("bad thing").message(), "ERR bad thing");
        assert_eq!(Error::new("OK").message(), "ERR OK");
        assert_eq!(Error::err("x").message(), "ERR x");
        assert_eq!(
            Error::wrong_arity("hello.echo").message(),
            "ERR wrong number of arguments for 'hello.echo' command"
        );
    }
}
