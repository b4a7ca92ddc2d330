//! [`Context`]: what a command handler replies, calls commands and logs through.

use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RSlice, RStr};

use crate::abi::{Aggregate, HostCtx_TO, LogLevel};
use crate::Reply;

/// A postponed aggregate, whose length is set with [`Context::set_len`] once its elements are
/// written. Postponed aggregates are closed innermost first.
#[must_use = "a postponed aggregate must be given its length with Context::set_len"]
#[derive(Debug)]
pub struct Postponed(u32);

/// What a command handler works with: the reply it writes, the commands it calls, the log.
///
/// A handler writes exactly one reply (which may be an aggregate of many), or returns an
/// error, which replaces whatever it wrote.
pub struct Context<'a, 'p> {
    pub(crate) host: HostCtx_TO<'a, RMut<'p, ()>>,
}

impl<'a, 'p> Context<'a, 'p> {
    pub fn new(host: HostCtx_TO<'a, RMut<'p, ()>>) -> Self {
        Context { host }
    }

    /// Whether the client speaks RESP3 (HELLO 3).
    pub fn is_resp3(&self) -> bool {
        self.host.resp() == 3
    }

    pub fn client_id(&self) -> u64 {
        self.host.client_id()
    }

    /// The client's selected database.
    pub fn db(&self) -> i64 {
        self.host.db()
    }

    /// `+OK`.
    pub fn reply_ok(&mut self) {
        self.host.reply_simple(RStr::from_str("OK"));
    }

    /// A status reply (CR and LF become spaces).
    pub fn reply_simple(&mut self, s: &str) {
        self.host.reply_simple(RStr::from_str(s));
    }

    /// An error reply inside an aggregate (a handler's own error is its `Err`). A message with
    /// no upper-case code first is given `ERR`.
    pub fn reply_error(&mut self, msg: &str) {
        let e = crate::Error::new(msg.to_string());
        self.host.reply_error(RStr::from_str(e.message()));
    }

    pub fn reply_int(&mut self, n: i64) {
        self.host.reply_int(n);
    }

    pub fn reply_bulk(&mut self, b: impl AsRef<[u8]>) {
        self.host.reply_bulk(RSlice::from_slice(b.as_ref()));
    }

    /// The null reply: `$-1` on RESP2, `_` on RESP3.
    pub fn reply_null(&mut self) {
        self.host.reply_null();
    }

    /// The null array: `*-1` on RESP2, `_` on RESP3.
    pub fn reply_null_array(&mut self) {
        self.host.reply_null_array();
    }

    /// A double (a bulk string on RESP2), formatted as Redis formats them.
    pub fn reply_double(&mut self, d: f64) {
        self.host.reply_double(d);
    }

    /// A boolean (the integer 1 or 0 on RESP2).
    pub fn reply_bool(&mut self, b: bool) {
        self.host.reply_bool(b);
    }

    /// A big number, given as its decimal digits (a bulk string on RESP2).
    pub fn reply_big_number(&mut self, digits: &str) {
        self.host.reply_big_number(RStr::from_str(digits));
    }

    /// A verbatim string with a three-letter format such as `txt` (a bulk string on RESP2).
    pub fn reply_verbatim(&mut self, format: &str, text: impl AsRef<[u8]>) {
        self.host.reply_verbatim(RStr::from_str(format), RSlice::from_slice(text.as_ref()));
    }

    /// An array of `len` elements: write them next.
    pub fn reply_array(&mut self, len: usize) {
        self.host.reply_aggregate(Aggregate::Array, len as u64);
    }

    /// A map of `len` pairs (a flat array of `2 * len` on RESP2): write key, value, key...
    pub fn reply_map(&mut self, len: usize) {
        self.host.reply_aggregate(Aggregate::Map, len as u64);
    }

    /// A set of `len` elements (an array on RESP2).
    pub fn reply_set(&mut self, len: usize) {
        self.host.reply_aggregate(Aggregate::Set, len as u64);
    }

    /// An attribute of `len` pairs, before the reply it describes. RESP3 only: on RESP2 it
    /// returns false and the caller must not write the pairs.
    pub fn reply_attribute(&mut self, len: usize) -> bool {
        self.host.reply_aggregate(Aggregate::Attribute, len as u64)
    }

    /// An array whose length is not known yet.
    pub fn reply_array_postponed(&mut self) -> Postponed {
        Postponed(self.host.reply_postponed(Aggregate::Array))
    }

    /// A map whose number of pairs is not known yet.
    pub fn reply_map_postponed(&mut self) -> Postponed {
        Postponed(self.host.reply_postponed(Aggregate::Map))
    }

    /// A set whose length is not known yet.
    pub fn reply_set_postponed(&mut self) -> Postponed {
        Postponed(self.host.reply_postponed(Aggregate::Set))
    }

    /// Gives a postponed aggregate its length (pairs for a map), after its elements.
    pub fn set_len(&mut self, p: Postponed, len: usize) {
        self.host.set_postponed_len(p.0, len as u64);
    }

    /// Writes a whole reply value.
    pub fn reply(&mut self, r: impl Into<Reply>) {
        self.reply_value(&r.into());
    }

    /// Writes a whole reply value (a reply [`Context::call`] returned, for one).
    pub fn reply_value(&mut self, r: &Reply) {
        match r {
            Reply::Simple(s) => self.reply_simple(s),
            Reply::Error(e) => self.host.reply_error(RStr::from_str(e)),
            Reply::Int(n) => self.reply_int(*n),
            Reply::Bulk(b) => self.reply_bulk(b),
            Reply::Null => self.reply_null(),
            Reply::NullArray => self.reply_null_array(),
            Reply::Array(v) => {
                self.reply_array(v.len());
                v.iter().for_each(|r| self.reply_value(r));
            }
            Reply::Set(v) => {
                self.reply_set(v.len());
                v.iter().for_each(|r| self.reply_value(r));
            }
            Reply::Map(v) => {
                self.reply_map(v.len());
                for (k, v) in v {
                    self.reply_value(k);
                    self.reply_value(v);
                }
            }
            Reply::Double(d) => self.reply_double(*d),
            Reply::Bool(b) => self.reply_bool(*b),
            Reply::BigNumber(s) => self.reply_big_number(s),
            Reply::Verbatim(f, t) => self.reply_verbatim(f, t),
        }
    }

    /// Runs a command as the calling client (`ctx.call(&["SET", "k", "v"])`) and returns its
    /// reply, typed as on RESP3 (an error is a [`Reply::Error`]).
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        let args: Vec<RSlice<'_, u8>> =
            argv.iter().map(|a| RSlice::from_slice(a.as_ref())).collect();
        self.host.call(RSlice::from_slice(&args)).into()
    }

    /// Logs through the server's log.
    pub fn log(&self, level: LogLevel, msg: &str) {
        self.host.log(level, RStr::from_str(msg));
    }

    /// The server's API minor version.
    pub fn server_api_minor(&self) -> u32 {
        self.host.api_minor()
    }
}
