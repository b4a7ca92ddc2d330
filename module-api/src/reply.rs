//! [`Reply`]: a reply as a value, for building one to send ([`crate::Context::reply`]) and for
//! what [`crate::Context::call`] returns.

use abi_stable::std_types::{RString, RVec, Tuple2};

use crate::abi::CallReply;

/// A RESP3 reply as a value. Sent to a RESP2 client, it is downgraded as Redis does (a map
/// becomes a flat array, a set an array, a double and a big number bulk strings, a boolean the
/// integer 1 or 0, a verbatim string a bulk string).
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A status line: `+OK`.
    Simple(String),
    /// An error line, its code first: `ERR syntax error`.
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// The null reply: `$-1` on RESP2, `_` on RESP3.
    Null,
    /// The null array: `*-1` on RESP2, `_` on RESP3.
    NullArray,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Double(f64),
    Bool(bool),
    BigNumber(String),
    /// A verbatim string with its three-letter format (`txt`, `mkd`).
    Verbatim(String, Vec<u8>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    pub fn simple(s: impl Into<String>) -> Reply {
        Reply::Simple(s.into())
    }

    pub fn error(s: impl Into<String>) -> Reply {
        Reply::Error(s.into())
    }

    pub fn bulk(b: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(b.as_ref().to_vec())
    }

    pub fn array(items: impl IntoIterator<Item = Reply>) -> Reply {
        Reply::Array(items.into_iter().collect())
    }

    pub fn map(pairs: impl IntoIterator<Item = (Reply, Reply)>) -> Reply {
        Reply::Map(pairs.into_iter().collect())
    }

    pub fn set(items: impl IntoIterator<Item = Reply>) -> Reply {
        Reply::Set(items.into_iter().collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The bytes of a bulk, simple, verbatim or big-number reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(b),
            Reply::Simple(s) | Reply::BigNumber(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array or set reply.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(v) | Reply::Set(v) => Some(v),
            _ => None,
        }
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Reply {
        Reply::Int(n)
    }
}

impl From<f64> for Reply {
    fn from(d: f64) -> Reply {
        Reply::Double(d)
    }
}

impl From<bool> for Reply {
    fn from(b: bool) -> Reply {
        Reply::Bool(b)
    }
}

impl From<&str> for Reply {
    fn from(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }
}

impl From<String> for Reply {
    fn from(s: String) -> Reply {
        Reply::Bulk(s.into_bytes())
    }
}

impl From<&[u8]> for Reply {
    fn from(b: &[u8]) -> Reply {
        Reply::Bulk(b.to_vec())
    }
}

impl From<Vec<u8>> for Reply {
    fn from(b: Vec<u8>) -> Reply {
        Reply::Bulk(b)
    }
}

impl<T: Into<Reply>> From<Option<T>> for Reply {
    fn from(o: Option<T>) -> Reply {
        o.map_or(Reply::Null, Into::into)
    }
}

impl<T: Into<Reply>> From<Vec<T>> for Reply {
    fn from(v: Vec<T>) -> Reply {
        Reply::Array(v.into_iter().map(Into::into).collect())
    }
}

impl From<CallReply> for Reply {
    fn from(r: CallReply) -> Reply {
        fn list(v: RVec<CallReply>) -> Vec<Reply> {
            v.into_iter().map(Reply::from).collect()
        }
        match r {
            CallReply::Simple(s) => Reply::Simple(s.into_string()),
            CallReply::Error(s) => Reply::Error(s.into_string()),
            CallReply::Int(n) => Reply::Int(n),
            CallReply::Bulk(b) => Reply::Bulk(b.into_vec()),
            CallReply::Null => Reply::Null,
            CallReply::Array(v) => Reply::Array(list(v)),
            CallReply::Map(v) => Reply::Map(
                v.into_iter().map(|Tuple2(k, v)| (Reply::from(k), Reply::from(v))).collect(),
            ),
            CallReply::Set(v) => Reply::Set(list(v)),
            CallReply::Double(d) => Reply::Double(d),
            CallReply::Bool(b) => Reply::Bool(b),
            CallReply::BigNumber(s) => Reply::BigNumber(s.into_string()),
            CallReply::Verbatim { format, text } => {
                Reply::Verbatim(format.into_string(), text.into_vec())
            }
        }
    }
}

impl From<&Reply> for CallReply {
    fn from(r: &Reply) -> CallReply {
        fn list(v: &[Reply]) -> RVec<CallReply> {
            v.iter().map(CallReply::from).collect()
        }
        match r {
            Reply::Simple(s) => CallReply::Simple(RString::from(s.as_str())),
            Reply::Error(s) => CallReply::Error(RString::from(s.as_str())),
            Reply::Int(n) => CallReply::Int(*n),
            Reply::Bulk(b) => CallReply::Bulk(RVec::from_slice(b)),
            Reply::Null | Reply::NullArray => CallReply::Null,
            Reply::Array(v) => CallReply::Array(list(v)),
            Reply::Map(v) => CallReply::Map(
                v.iter().map(|(k, v)| Tuple2(CallReply::from(k), CallReply::from(v))).collect(),
            ),
            Reply::Set(v) => CallReply::Set(list(v)),
            Reply::Double(d) => CallReply::Double(*d),
            Reply::Bool(b) => CallReply::Bool(*b),
            Reply::BigNumber(s) => CallReply::BigNumber(RString::from(s.as_str())),
            Reply::Verbatim(f, t) => {
                CallReply::Verbatim { format: RString::from(f.as_str()), text: RVec::from_slice(t) }
            }
        }
    }
}
